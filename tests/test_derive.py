"""The engine's deltas and gradients against independent references: SymPy's own diff of
the fully expanded scalar loss, and central finite differences of a hand-written NumPy
forward pass, for every activation, loss and convention; plus random chains (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.derive import backprop
from symbackprop.numeric import GradientFunction, NotComputable
from tests.reference import Chain

ACTIVATIONS = ["relu", "tanh", "sigmoid", "identity", "softmax", "leaky_relu", "cube"]
LOSSES = ["half_squared_error", "squared_error", "cross_entropy", "hinge", "quartic"]
CONVENTIONS = [("out_in", "columns"), ("in_out", "columns"), ("out_in", "rows"), ("in_out", "rows")]


def output_activation(activation: str, loss: str) -> str:
    """The output layer keeps the activation under test unless the loss needs another range."""
    return {"cross_entropy": "softmax", "hinge": "tanh"}.get(loss, activation)


def engine(chain: Chain, values: dict[str, np.ndarray]) -> dict:
    return sbp.load(chain.spec()).gradient_fn()(values)


def draw_values(chain: Chain, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        values = chain.random_values(rng)
        if not chain.near_kink(values):
            return values
    raise AssertionError("no point away from the kinks")


def assert_close(actual: dict, expected: dict, rtol: float, atol: float, where: str = "") -> None:
    """Entrywise closeness; the absolute slack grows with the array's largest entry, since a
    finite difference's error scales with the function's size, not with each entry's."""
    assert set(actual) == set(expected)
    for name in expected:
        scale = float(np.max(np.abs(expected[name]), initial=0.0))
        np.testing.assert_allclose(
            actual[name], expected[name], rtol=rtol, atol=atol + rtol * scale, err_msg=f"{name} {where}".strip()
        )


#: The default run's pairs: every activation and every loss at least once (each pair's SymPy reference costs
#: 0.5 to 6 s of CPU); the rest of the grid is in the slow set. test_matches_finite_differences covers the whole
#: grid, every convention, in the default run.
#: (Shifted by 3 so that softmax meets cross-entropy, its usual loss.)
SYMPY_PAIRS = {(activation, LOSSES[(k + 3) % len(LOSSES)]) for k, activation in enumerate(ACTIVATIONS)}


@pytest.mark.parametrize(
    ("activation", "loss"),
    [
        pytest.param(activation, loss, marks=() if (activation, loss) in SYMPY_PAIRS else pytest.mark.slow)
        for activation in ACTIVATIONS
        for loss in LOSSES
    ],
)
def test_matches_sympy_diff_of_expanded_loss(activation: str, loss: str) -> None:
    """Every convention against SymPy's diff of the expanded loss. The reference works on the canonical
    (out_in, columns) entries and each convention draws the same numbers transposed at the edges, so
    SymPy's diff (seconds per network) runs once and its result is transposed for each convention."""
    kinds = [activation, output_activation(activation, loss)]
    seed = len(activation) * 7 + len(loss)
    canonical = Chain([2, 3, 2], kinds, loss)
    point = draw_values(canonical, seed)
    grads, deltas = canonical.sympy_gradients(point)
    for weights, samples in CONVENTIONS:
        chain = Chain([2, 3, 2], kinds, loss, weights, samples)
        values = draw_values(chain, seed)
        assert all(np.array_equal(chain.to_canonical(name, value), point[name]) for name, value in values.items())
        out = engine(chain, values)
        where = f"({weights}, {samples})"
        assert_close(
            out["grad"],
            {name: chain.from_canonical(name, g) for name, g in grads.items()},
            rtol=1e-10,
            atol=1e-12,
            where=where,
        )
        assert_close(
            out["delta"],
            {name: chain.from_canonical("s", d) for name, d in deltas.items()},
            rtol=1e-10,
            atol=1e-12,
            where=where,
        )
        assert out["loss"] == pytest.approx(chain.np_forward(values)[0], rel=1e-12), where


@pytest.mark.parametrize(("weights", "samples"), CONVENTIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_matches_finite_differences(activation: str, loss: str, weights: str, samples: str) -> None:
    chain = Chain([2, 3, 2], [activation, output_activation(activation, loss)], loss, weights, samples)
    values = draw_values(chain, seed=3)
    out = engine(chain, values)
    assert_close(out["grad"], chain.finite_differences(values), rtol=1e-6, atol=1e-8)
    assert_close(out["delta"], chain.finite_difference_deltas(values), rtol=1e-6, atol=1e-8)


def test_every_convention_matches_sympy_on_a_deeper_mixed_chain() -> None:
    """One SymPy reference, transposed for each convention (as above)."""

    def chain(weights: str = "out_in", samples: str = "columns") -> Chain:
        return Chain(
            [3, 2, 3, 2],
            ["tanh", "relu", "sigmoid"],
            "half_squared_error",
            weights,
            samples,
            bias=[True, False, True],
            reduction="mean",
        )

    point = draw_values(chain(), seed=11)
    grads, deltas = chain().sympy_gradients(point)
    for weights, samples in CONVENTIONS:
        oriented = chain(weights, samples)
        values = draw_values(oriented, seed=11)
        assert all(np.array_equal(oriented.to_canonical(name, v), point[name]) for name, v in values.items())
        out = engine(oriented, values)
        where = f"({weights}, {samples})"
        assert_close(
            out["grad"],
            {name: oriented.from_canonical(name, g) for name, g in grads.items()},
            rtol=1e-10,
            atol=1e-12,
            where=where,
        )
        assert_close(
            out["delta"],
            {name: oriented.from_canonical("s", d) for name, d in deltas.items()},
            rtol=1e-10,
            atol=1e-12,
            where=where,
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    depth=st.integers(1, 4),
    data=st.data(),
    convention=st.sampled_from(CONVENTIONS),
    loss=st.sampled_from(LOSSES),
    reduction=st.sampled_from(["sum", "mean"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_chains_match_finite_differences(depth, data, convention, loss, reduction, seed) -> None:
    sizes = [data.draw(st.integers(1, 4)) for _ in range(depth + 1)]
    activations = [data.draw(st.sampled_from(ACTIVATIONS)) for _ in range(depth)]
    activations[-1] = {"cross_entropy": "softmax", "hinge": "tanh"}.get(loss, activations[-1])
    bias = [data.draw(st.booleans()) for _ in range(depth)]
    chain = Chain(sizes, activations, loss, *convention, bias=bias, reduction=reduction)
    values = chain.random_values(np.random.default_rng(seed), n_samples=data.draw(st.integers(1, 3)))
    assume(chain.tame(values) and not chain.near_kink(values, margin=1e-3))
    out = engine(chain, values)
    assert_close(out["grad"], chain.finite_differences(values), rtol=1e-5, atol=1e-7)
    assert_close(out["delta"], chain.finite_difference_deltas(values), rtol=1e-5, atol=1e-7)


def test_matrix_form_names_deltas_and_is_linear_in_depth() -> None:
    """Each delta is written through the next one, never expanded: its size does not grow."""
    layers = [{"name": str(k), "units": 2, "activation": "tanh"} for k in range(1, 31)]
    net = sbp.load(
        {"name": "deep", "input": {"size": 2}, "target": {"size": 2}, "layers": layers, "loss": "half_squared_error"}
    )
    der = net.derive()
    sizes = [sp.count_ops(der.delta(str(k)).matrix) for k in range(1, 30)]
    assert max(sizes) == min(sizes)
    assert str(der.delta("1").matrix).count("delta_2") == 1


def test_symbolic_form_substitutes_every_delta() -> None:
    net = sbp.load("specs/relu_4321.yaml")
    gradient = net.derive().grad("W_1").symbolic
    names = {str(s) for s in gradient.free_symbols}
    assert not any(name.startswith("delta") for name in names)
    assert {"W_2", "W_3", "s_1", "s_2", "s_3", "h_3", "y", "x"} <= names


def test_generic_activation_keeps_f_and_f_prime_and_equals_a_concrete_one() -> None:
    """{function: g} derivations hold g and g'; put sin in for g and the numbers match a sin network."""
    spec = {
        "name": "generic",
        "input": {"size": 2},
        "target": {"size": 1},
        "loss": "half_squared_error",
        "layers": [
            {"name": "1", "units": 2, "activation": {"function": "g"}},
            {"name": "2", "units": 1, "activation": "identity"},
        ],
    }
    net = sbp.load(spec)
    der = net.derive()
    assert der.delta("1").text() == "delta_1 = (W_2^T delta_2) ⊙ g'(s_1)"
    with pytest.raises(NotComputable, match="generic"):
        net.gradient_fn()
    g = sp.Function("g")

    def concrete(expr: sp.Expr) -> sp.Expr:
        return expr.replace(
            lambda e: isinstance(e, sp.Lambda), lambda e: sp.Lambda(e.variables, e.expr.replace(g, sp.sin).doit())
        )

    bp = der.backprop
    concrete_bp = type(bp)(
        bp.graph,
        bp.symbols,
        {k: concrete(v) for k, v in bp.definitions.items()},
        {k: concrete(v) for k, v in bp.deltas.items()},
        {k: concrete(v) for k, v in bp.gradients.items()},
    )
    sine = sbp.load(
        {**spec, "layers": [{"name": "1", "units": 2, "activation": {"expr": "sin(x)"}}, spec["layers"][1]]}
    )
    rng = np.random.default_rng(5)
    values = {
        "x": rng.normal(size=(2, 3)),
        "y": rng.normal(size=(1, 3)),
        "W_1": rng.normal(size=(2, 2)),
        "b_1": rng.normal(size=(2, 1)),
        "W_2": rng.normal(size=(1, 2)),
        "b_2": rng.normal(size=(1, 1)),
    }
    expected = sine.gradient_fn()(values)
    actual = GradientFunction(concrete_bp)(values)
    assert_close(actual["grad"], expected["grad"], rtol=1e-12, atol=1e-14)


def test_autoencoder_target_is_the_input() -> None:
    spec = {
        "name": "ae",
        "input": {"name": "x", "size": 3},
        "target": "input",
        "loss": "squared_error",
        "layers": [
            {"name": "1", "units": 2, "activation": "tanh"},
            {"name": "2", "units": 3, "activation": "identity"},
        ],
    }
    der = sbp.load(spec).derive()
    assert der.delta("2").text() == "delta_2 = 2 (y_out - x) ⊙ f_2'(s_2)"
    rng = np.random.default_rng(2)
    values = {
        "x": rng.normal(size=(3, 4)),
        "W_1": rng.normal(size=(2, 3)),
        "b_1": rng.normal(size=(2, 1)),
        "W_2": rng.normal(size=(3, 2)),
        "b_2": rng.normal(size=(3, 1)),
    }
    chain = Chain([3, 2, 3], ["tanh", "identity"], "squared_error")
    out = sbp.load(spec).gradient_fn()(values)
    assert_close(out["grad"], chain.finite_differences({**values, "y": values["x"]}), rtol=1e-6, atol=1e-8)


def test_backprop_touches_only_what_reaches_a_parameter() -> None:
    bp = backprop(sbp.load("specs/mlp.yaml").graph)
    assert set(bp.gradients) == {"W", "w"}
    assert list(bp.deltas) == ["out", "1"]
