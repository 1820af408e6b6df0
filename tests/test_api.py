"""The public Python API of interface.md section 3."""

from __future__ import annotations

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.api import normalize_target


def test_public_names_are_pinned() -> None:
    assert sorted(sbp.__all__) == sorted(
        ["FORMS", "Derivation", "Network", "SpecError", "Target", "UnknownTarget", "VerifyResult", "load"]
    )


def test_load_accepts_path_text_and_dict(tmp_path) -> None:
    text = open("specs/mlp.yaml").read()
    path = tmp_path / "net.yaml"
    path.write_text(text)
    from_path, from_text = sbp.load(path), sbp.load(text)
    assert from_path.spec.layers == from_text.spec.layers
    assert sbp.load(str(path)).name == "Two-layer ReLU/tanh network"
    with pytest.raises(sbp.SpecError):
        sbp.load({"name": "no layers"})


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("dL/dW_1", "dL/dW_1"),
        ("dL/d W_{1}", "dL/dW_1"),
        (r"\frac{\partial L}{\partial W_1}", "dL/dW_1"),
        (r"\frac{\partial \mathcal{L}}{\partial W_{1}}", "dL/dW_1"),
        (r"\partial L / \partial W_1", "dL/dW_1"),
        ("dE/dw", "dL/dw"),
        ("delta_1", "delta_1"),
        (r"\delta_{out}", "delta_out"),
        ("delta_{1}", "delta_1"),
    ],
)
def test_target_spellings(spelling: str, canonical: str) -> None:
    assert normalize_target(spelling) == canonical


def test_derivation_objects() -> None:
    net = sbp.load("specs/relu_4321.yaml")
    der = net.derive()
    assert der is net.derive()  # cached
    g = der.grad("W_1")
    assert g.kind == "gradient" and g.shape == (3, 4)
    assert str(g.matrix) == "delta_1*x.T"
    assert "delta" not in str(g.symbolic)
    assert der.delta("1").shape == (3, "N")
    assert g._repr_latex_().startswith("$\\displaystyle \\frac{\\partial \\mathcal{L}}{\\partial W_{1}}")
    assert "\\begin{aligned}" in der._repr_latex_()
    with pytest.raises(ValueError, match="unknown form"):
        g.form("pretty")
    with pytest.raises(sbp.UnknownTarget, match="known: delta_3"):
        der.target("dL/dW_9")


def test_shapes_of_every_named_value() -> None:
    shapes = sbp.load("specs/mlp.yaml").shapes()
    assert shapes == {
        "x": "2xN",
        "W": "2x3",
        "s_1": "3xN",
        "z_1": "3xN",
        "w": "3x1",
        "s_out": "1xN",
        "y_out": "1xN",
        "y": "1xN",
        "delta_1": "3xN",
        "delta_out": "1xN",
    }


def test_gradient_fn_checks_names_and_shapes_and_dtype() -> None:
    net = sbp.load("specs/mlp.yaml")
    fn = net.gradient_fn()
    data = net.data()
    with pytest.raises(ValueError, match="missing values for w"):
        fn({k: v for k, v in data.items() if k != "w"})
    with pytest.raises(ValueError, match=r"W has shape \(3, 2\), expected \(2, 3\)"):
        fn({**data, "W": data["W"].T})
    out = fn(data)
    assert out["grad"]["W"].dtype == np.float64 and out["grad"]["W"].shape == (2, 3)
    assert set(out["forward"]) == {"s_1", "z_1", "s_out", "z_out"}
    assert set(out["delta"]) == {"delta_1", "delta_out"}
    out32 = net.gradient_fn(dtype=np.float32)(data)
    assert out32["grad"]["W"].dtype == np.float32
    np.testing.assert_allclose(out32["grad"]["W"], out["grad"]["W"], rtol=1e-5)
