"""`symbackprop gradcheck` and Network.gradcheck: every spec agrees with finite differences, a
deliberately wrong rule is caught, and kinks are avoided or reported, never a false alarm."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop import rules
from symbackprop.cli import main
from symbackprop.gradcheck import MARGIN, STEP, check
from symbackprop.numeric import GradientFunction, NotComputable
from tests.reference import Chain

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.yaml"))


def generic(net: sbp.Network) -> bool:
    return any(layer.activation.kind == "function" for layer in net.spec.layers)


@pytest.mark.parametrize("random", [False, True], ids=["spec data", "random data"])
@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_spec_passes(path: Path, random: bool) -> None:
    net = sbp.load(path)
    if generic(net):  # a generic f_k has no numbers to check
        with pytest.raises(NotComputable):
            net.gradcheck(random=random)
        return
    result = net.gradcheck(random=random)
    assert result.ok, result.report()
    assert set(result.parameters) == {node.name for node in net.graph.parameters}
    assert all(p.error < 1e-6 for p in result.parameters.values())
    complete = all(name in net.data() for name in net.gradient_fn().arguments)
    assert result.data.startswith("random data" if random or not complete else "the spec's data")


def test_cli_several_specs(capsys: pytest.CaptureFixture[str]) -> None:
    paths = ["specs/mlp.yaml", "specs/square_221.yaml", "specs/relu_4321.yaml"]
    assert main(["gradcheck", *paths]) == 0
    out = capsys.readouterr().out
    for path in paths:
        assert f"{path}: " in out
    assert out.count("verdict: ok") == 3
    assert "  W_1              12/12" in out


def tanh_off_by(factor: float) -> rules.ActivationRule:
    right = rules.ACTIVATIONS["tanh"]
    return dataclasses.replace(right, through_output=lambda z: factor * (1 - z**2))


def test_a_wrong_activation_rule_is_caught(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """tanh' off by a factor 1.5 (used through z by the compiled code): mlp.yaml's tanh output
    layer makes both gradients wrong, and the CLI exits 1."""
    monkeypatch.setitem(rules.ACTIVATIONS, "tanh", tanh_off_by(1.5))
    result = sbp.load("specs/mlp.yaml").gradcheck()
    assert not result.ok
    assert all(not p.ok and p.error > 0.1 for p in result.parameters.values())
    worst = result.parameters["w"]
    assert worst.symbolic == pytest.approx(1.5 * worst.numeric, rel=1e-6)
    assert main(["gradcheck", "specs/square_221.yaml", "specs/mlp.yaml"]) == 1
    out = capsys.readouterr().out
    assert "verdict: mismatch in W, w" in out and "MISMATCH at" in out
    assert out.count("verdict: ok") == 1  # square_221 has no tanh


def test_a_wrong_derivative_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """sigmoid' = sigma (forgetting the 1 - sigma), with no through-output rule to hide behind."""
    wrong = rules.ActivationRule(
        function=rules.ACTIVATIONS["sigmoid"].function, derivative=lambda act: 1 / (1 + sp.exp(-rules.x))
    )
    monkeypatch.setitem(rules.ACTIVATIONS, "sigmoid", wrong)
    result = sbp.load(Chain([2, 3, 1], ["sigmoid", "identity"], "half_squared_error").spec()).gradcheck()
    assert not result.parameters["W_1"].ok and not result.parameters["b_1"].ok
    assert result.parameters["W_2"].ok and result.parameters["b_2"].ok  # the output layer is right


def test_a_wrong_op_rule_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """matmul's vector-Jacobian product for its left factor, doubled."""
    right = rules.OPS["matmul"]
    wrong = dataclasses.replace(right, vjps=(lambda attrs, g, out, A, B: 2 * (g * B.T), right.vjps[1]))
    monkeypatch.setitem(rules.OPS, "matmul", wrong)
    assert not sbp.load("specs/relu_4321.yaml").gradcheck().ok


def test_nan_gradients_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        rules.ACTIVATIONS, "tanh", dataclasses.replace(rules.ACTIVATIONS["tanh"], through_output=lambda z: sp.nan * z)
    )
    result = sbp.load("specs/mlp.yaml").gradcheck()
    assert not result.ok and result.parameters["w"].error == np.inf


KINKED = {
    "name": "relu on its kink",
    "input": {"size": 2},
    "target": {"size": 1},
    "loss": "half_squared_error",
    "layers": [{"name": "1", "units": 2, "activation": "relu"}, {"name": "2", "units": 1, "activation": "identity"}],
    # s_1 = W_1 x + b_1 = [[0, 3], [1.1, 0.6]]: unit 1 sits on relu's kink for sample 1
    "data": {
        "x": [[1.0, 2.0], [1.0, -1.0]],
        "y": [[1.0, -1.0]],
        "W_1": [[1.0, -1.0], [0.5, 0.5]],
        "b_1": [[0.0], [0.1]],
        "W_2": [[1.0, -2.0]],
        "b_2": [[0.5]],
    },
}


def test_a_kink_in_the_spec_data_is_reported_not_a_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = sbp.load(KINKED)
    result = net.gradcheck()
    assert result.ok
    kinks = {name: p.kinks for name, p in result.parameters.items()}
    assert kinks == {"W_1": ((0, 0), (0, 1)), "b_1": ((0, 0),), "W_2": (), "b_2": ()}
    assert result.parameters["W_1"].checked == 2 and result.parameters["W_1"].total == 4
    # the skipped entries would be a false alarm: relu'(0) = 0, while the difference quotient sees half a slope
    fn = net.gradient_fn()
    symbolic = fn(net.data())["grad"]["W_1"][0, 0]
    plus, minus = net.data(), net.data()
    plus["W_1"][0, 0] += STEP
    minus["W_1"][0, 0] -= STEP
    numeric = (fn(plus)["loss"] - fn(minus)["loss"]) / (2 * STEP)
    assert abs(numeric - symbolic) > 0.1
    path = tmp_path / "kink.yaml"
    path.write_text(json.dumps(KINKED))
    assert main(["gradcheck", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 at a kink, skipped: [0, 0], [0, 1]" in out and "skipped at a kink)" in out


def test_a_hinge_kink_is_reported() -> None:
    """1 - y * y_out = 0 for the first sample: the hinge loss's own kink."""
    spec = {
        "name": "hinge on its kink",
        "input": {"size": 1},
        "target": {"size": 1},
        "loss": {"type": "hinge", "margin": 1},
        "layers": [{"name": "1", "units": 1, "activation": "identity"}],
        "data": {"x": [[1.0, 3.0]], "y": [[1.0, -1.0]], "W_1": [[0.5]], "b_1": [[0.5]]},
    }
    result = sbp.load(spec).gradcheck()
    assert result.ok
    assert result.parameters["W_1"].kinks == ((0, 0),) and result.parameters["b_1"].kinks == ((0, 0),)


@pytest.mark.parametrize("seed", range(5))
def test_random_data_keeps_away_from_kinks(seed: int) -> None:
    chain = Chain([3, 6, 5, 2], ["relu", "leaky_relu", "tanh"], "hinge")
    net = sbp.load(chain.spec())
    result = net.gradcheck(seed=seed)
    assert result.ok and result.data.startswith(f"random data, seed {seed}")
    assert all(not p.kinks for p in result.parameters.values())
    out = GradientFunction(net.derive().backprop, backward=False, kinks=True)(result.values)
    assert min(float(np.min(np.abs(k))) for k in out["kinks"]) >= MARGIN * STEP


def test_partial_data_is_completed_at_random() -> None:
    spec = {**KINKED, "data": {"x": KINKED["data"]["x"], "y": KINKED["data"]["y"]}}
    result = sbp.load(spec).gradcheck(seed=4)
    assert result.ok
    assert result.data == "the spec's data, with random W_1, b_1, W_2, b_2 (seed 4); 2 samples"
    np.testing.assert_array_equal(result.values["x"], KINKED["data"]["x"])


def test_given_values_and_seeds() -> None:
    net = sbp.load("specs/mlp.yaml")
    first, again, other = (
        net.gradcheck(random=True, seed=1),
        net.gradcheck(random=True, seed=1),
        net.gradcheck(random=True, seed=2),
    )
    np.testing.assert_array_equal(first.values["W"], again.values["W"])
    assert not np.array_equal(first.values["W"], other.values["W"])
    given = net.gradcheck(values=first.values)
    assert given.ok and given.data.startswith("the given values")


def test_bad_and_generic_specs_exit_2_after_checking_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nlayers: 3\n")
    generic_spec = tmp_path / "generic.yaml"
    generic_spec.write_text(
        json.dumps(
            {
                "name": "g",
                "input": {"size": 1},
                "target": {"size": 1},
                "loss": "half_squared_error",
                "layers": [{"name": "1", "units": 1, "activation": {"function": "g"}}],
            }
        )
    )
    assert main(["gradcheck", str(bad), "specs/mlp.yaml", str(generic_spec)]) == 2
    captured = capsys.readouterr()
    assert "verdict: ok" in captured.out
    errors = [line for line in captured.err.splitlines() if line.startswith("symbackprop: error: ")]
    assert len(errors) == 2 and "bad.yaml" in errors[0] and "generic" in errors[1]


def test_a_random_check_of_a_large_layer_samples_its_entries() -> None:
    chain = Chain([40, 30, 2], ["tanh", "identity"], "half_squared_error")
    result = check(sbp.load(chain.spec()), max_entries=50)
    assert result.ok
    assert result.parameters["W_1"].checked == 50 and result.parameters["W_1"].total == 1200
    assert result.parameters["b_1"].checked == 30


def test_max_entries_bounds_the_entries_compared_from_the_cli() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["gradcheck", "specs/relu_4321.yaml", "--max-entries", "2"]) == 0
    assert "W_1               2/12" in out.getvalue()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["gradcheck", "specs/relu_4321.yaml", "--max-entries", "100"]) == 0
    net = sbp.load("specs/relu_4321.yaml")
    assert net.gradcheck(max_entries=100).parameters["W_1"].checked == 12
