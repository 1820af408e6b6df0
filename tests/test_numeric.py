"""The compiled NumPy code: its speed-minded shapes (broadcasting instead of ones matrices, f'
through the activation's output, shared subexpressions, slices for selections), its values
against an unoptimised evaluation of the same formulas, float32, argument checks once per shape
signature, gradients-only mode, BLAS threads, and the kink values gradcheck relies on."""

from __future__ import annotations

import ast
import itertools
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop import rules
from symbackprop.backends import runtime
from symbackprop.numeric import GradientFunction, blas_threads, evaluate
from symbackprop.program import kink_arguments
from tests.reference import Chain
from tests.test_derive import ACTIVATIONS, CONVENTIONS, LOSSES, output_activation


def backward_code(source: str) -> str:
    return source.split("# backward", 1)[1]


def test_bias_is_broadcast_and_its_gradient_is_a_sum_over_samples() -> None:
    source = sbp.load("specs/relu_4321.yaml").gradient_fn().source
    assert "numpy.ones" not in source
    assert "s_1 = b_1 + (W_1 @ x)" in source
    assert "grad_b_1 = delta_1.sum(axis=1, keepdims=True)" in source
    rows = Chain([3, 2, 2], ["tanh", "identity"], "half_squared_error", "in_out", "rows")
    source = sbp.load(rows.spec()).gradient_fn().source
    assert "numpy.ones" not in source
    assert "s_1 = b_1 + (x @ W_1)" in source
    assert "grad_b_1 = delta_1.sum(axis=0, keepdims=True)" in source


@pytest.mark.parametrize(
    ("activation", "function", "through"),
    [("tanh", "numpy.tanh(", "(1 - z_1**2)"), ("sigmoid", "numpy.exp(", "(1 - z_1)*z_1")],
)
def test_derivative_is_written_through_the_activation_output(activation: str, function: str, through: str) -> None:
    """f'(s_k) reuses z_k (tanh' = 1 - z^2) instead of computing f again from s_k."""
    chain = Chain([2, 3, 1], [activation, "identity"], "half_squared_error")
    source = sbp.load(chain.spec()).gradient_fn().source
    assert source.count(function) == 1  # the forward pass only
    assert through in backward_code(source)
    assert "s_1" not in backward_code(source).split("return", 1)[0]


@pytest.mark.parametrize("kind", [k for k, rule in rules.ACTIVATIONS.items() if rule.through_output])
def test_every_through_output_rule_agrees_with_the_derivative(kind: str) -> None:
    act = sbp.load(Chain([1, 1], [kind], "half_squared_error").spec()).spec.layers[0].activation
    f = rules.activation_function(act)(rules.x)
    through = rules.ACTIVATIONS[kind].through_output(f)
    assert sp.simplify(through - rules.activation_derivative(act)(rules.x)) == 0


def test_identity_derivative_and_relu_indicator_cost_nothing_extra() -> None:
    source = sbp.load("specs/relu_4321.yaml").gradient_fn().source
    assert "delta_3 = common_1" in source and "common_1 = h_3 - y" in source  # no "* 1"
    assert "delta_2 = (W_3.T @ delta_3)*(s_2 > 0)" in source  # a boolean mask, no numpy.where


def test_a_product_needed_twice_is_computed_once() -> None:
    """softmax's vector-Jacobian product uses W^T delta twice: one matmul, one shared name."""
    chain = Chain([3, 4, 2], ["softmax", "tanh"], "half_squared_error")
    source = sbp.load(chain.spec()).gradient_fn().source
    assert source.count("(W_2.T @ delta_2)") == 1
    shared = re.search(r"(common_\d) = \(W_2\.T @ delta_2\)", source).group(1)
    assert f"delta_1 = ({shared} - ({shared}*z_1).sum(axis=0, keepdims=True))*z_1" in source


def repeated_subexpressions(source: str) -> list[str]:
    """Every piece of computation (an operation, a call) that the generated function writes more
    than once, as source text."""
    function = next(node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef))
    counts: Counter[str] = Counter()
    for statement in function.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.AST):
            for node in ast.walk(statement.value):
                reads = any(isinstance(leaf, ast.Name) for leaf in ast.walk(node))  # not a constant like 1/3
                if isinstance(node, (ast.BinOp, ast.Call, ast.Compare, ast.Subscript)) and reads:
                    counts[ast.unparse(node)] += 1
    return [code for code, count in counts.items() if count > 1 and code not in ("n_samples", "dtype")]


SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_no_subexpression_is_computed_twice(path: Path) -> None:
    """y_out - y is written once, shared by the loss and the output delta; so is every other
    operation the forward pass, the loss, the deltas and the gradients need more than once."""
    assert repeated_subexpressions(sbp.load(path).gradient_fn().source) == []


@pytest.mark.parametrize(("activation", "loss"), list(itertools.product(ACTIVATIONS, LOSSES)))
def test_no_subexpression_is_computed_twice_for_any_activation_or_loss(activation: str, loss: str) -> None:
    chain = Chain(
        [3, 4, 2], [activation, output_activation(activation, loss)], loss, bias=[True, True], reduction="mean"
    )
    assert repeated_subexpressions(sbp.load(chain.spec()).gradient_fn().source) == []


def test_the_loss_and_the_output_delta_share_the_error() -> None:
    source = sbp.load("specs/mlp.yaml").gradient_fn().source
    assert source.count("y_out - y") == 1
    assert re.search(r"common_1 = y_out - y\n.*loss = float\(\(1/2\)\*\(common_1\*\*2\)\.sum\(\)\)", source, re.S)


CASES = list(itertools.product(["softmax", "sigmoid", "tanh", "relu"], CONVENTIONS))


@pytest.mark.parametrize(("activation", "convention"), CASES)
def test_optimised_code_equals_the_plain_formulas(activation: str, convention: tuple[str, str]) -> None:
    """gradient_fn (broadcasting, f' through z, shared subexpressions) against each delta and
    gradient evaluated term by term from the substituted formulas, with none of that."""
    chain = Chain(
        [3, 4, 2, 2],
        [activation, "sigmoid", "softmax"],
        "cross_entropy",
        *convention,
        bias=[True, False, True],
        reduction="mean",
    )
    net = sbp.load(chain.spec())
    values = chain.random_values(np.random.default_rng(7), n_samples=5)
    out = net.gradient_fn()(values)
    env = {
        **values,
        **{
            name: out["forward"][key]
            for name, key in [(n.name, n.key) for n in net.graph.nodes if n.role in ("preactivation", "activation")]
        },
    }
    deltas, gradients = net.derive().backprop.substituted()
    for layer, expr in deltas.items():
        np.testing.assert_allclose(out["delta"][f"delta_{layer}"], evaluate(expr, env, 5), rtol=1e-12, atol=1e-15)
    for name, expr in gradients.items():
        np.testing.assert_allclose(out["grad"][name], evaluate(expr, env, 5), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("activation", "loss"), list(itertools.product(ACTIVATIONS, LOSSES)))
def test_float32_in_float32_out(activation: str, loss: str) -> None:
    chain = Chain([2, 3, 2], [activation, output_activation(activation, loss)], loss, "in_out", "rows")
    net = sbp.load(chain.spec())
    values = chain.random_values(np.random.default_rng(1), n_samples=3)
    wide, narrow = net.gradient_fn()(values), net.gradient_fn(dtype=np.float32)(values)
    for part in ("forward", "delta", "grad"):
        for name, array in narrow[part].items():
            assert array.dtype == np.float32, (part, name)
            np.testing.assert_allclose(array, wide[part][name], rtol=2e-3, atol=2e-4, err_msg=name)
    assert narrow["loss"] == pytest.approx(wide["loss"], rel=1e-3, abs=1e-4)


def test_a_constant_derivative_keeps_its_shape() -> None:
    """dL/dy_out of the loss `y_out` is 1 everywhere: an N-column matrix of ones, not a scalar."""
    net = sbp.load(
        {
            "name": "sum",
            "input": {"size": 2},
            "target": {"size": 1},
            "loss": {"expr": "y_out"},
            "layers": [{"name": "1", "units": 1, "activation": "identity"}],
        }
    )
    x = np.arange(6.0).reshape(2, 3)
    out = net.gradient_fn()({"x": x, "y": np.zeros((1, 3)), "W_1": np.ones((1, 2)), "b_1": np.zeros((1, 1))})
    np.testing.assert_array_equal(out["delta"]["delta_1"], np.ones((1, 3)))
    np.testing.assert_array_equal(out["grad"]["W_1"], x.sum(axis=1, keepdims=True).T)


def test_names_that_clash_with_the_generated_code() -> None:
    """Spec symbols named like the code's own variables (n_samples, loss, common_1) get other names."""
    spec = {
        "name": "clash",
        "input": {"name": "n_samples", "size": 3},
        "target": {"name": "common_1", "size": 2},
        "loss": "cross_entropy",
        "layers": [
            {"name": "dtype", "units": 4, "activation": "softmax", "weight": "loss"},
            {"name": "2", "units": 2, "activation": "softmax"},
        ],
    }
    chain = Chain([3, 4, 2], ["softmax", "softmax"], "cross_entropy")
    values = chain.random_values(np.random.default_rng(3), n_samples=4)
    renamed = {
        "n_samples": values["x"],
        "common_1": values["y"],
        "loss": values["W_1"],
        "b_dtype": values["b_1"],
        "W_2": values["W_2"],
        "b_2": values["b_2"],
    }
    out = sbp.load(spec).gradient_fn()(renamed)
    expected = sbp.load(chain.spec()).gradient_fn()(values)
    np.testing.assert_allclose(out["grad"]["loss"], expected["grad"]["W_1"], rtol=1e-13)
    assert out["loss"] == pytest.approx(expected["loss"], rel=1e-13)


def test_kink_values_for_relu_and_hinge() -> None:
    """backward=False, kinks=True: the loss and forward values, plus the values whose sign picks a
    branch (s_1 for relu, 1 - y * y_out for the hinge); gradcheck watches them."""
    chain = Chain([2, 3, 1], ["relu", "tanh"], "hinge")
    net = sbp.load(chain.spec())
    fn = GradientFunction(net.derive().backprop, backward=False, kinks=True)
    assert fn.program.kinks == ("f_1(s_1)", "loss(y_out, y)")
    values = chain.random_values(np.random.default_rng(0), n_samples=4)
    out = fn(values)
    assert set(out) == {"loss", "forward", "kinks"}
    s_1, y_out = out["forward"]["s_1"], out["forward"]["z_2"]
    relu, hinge = out["kinks"]
    np.testing.assert_array_equal(np.abs(relu), np.abs(s_1))
    np.testing.assert_allclose(np.abs(hinge), np.abs(1 - values["y"] * y_out))


def test_kink_arguments_of_formulas() -> None:
    x, a, t = rules.x, rules.a, rules.t
    assert kink_arguments(sp.Max(0, x)) == [-x]
    assert kink_arguments(sp.Piecewise((x, x > 0), (x / 100, True))) == [x]
    assert kink_arguments(sp.Abs(x - 1) + x**2) == [x - 1]
    assert kink_arguments(sp.Max(0, 1 - t * a)) == [t * a - 1]
    assert kink_arguments(sp.tanh(x)) == []


def test_symbols_that_are_not_python_names() -> None:
    """A layer called a%b gives W_a%b in the spec and W_a_b in the code; a gradient_fn call still
    takes and returns the spec's names."""
    spec = {
        "name": "odd names",
        "input": {"size": 2},
        "target": {"size": 1},
        "loss": "half_squared_error",
        "layers": [
            {"name": "a%b", "units": 2, "activation": "tanh"},
            {"name": "lambda", "units": 1, "activation": "identity"},
        ],
    }
    fn = sbp.load(spec).gradient_fn()
    assert "def compute(x, W_a_b, b_a_b, W_lambda, b_lambda, y):" in fn.source
    assert fn.arguments == ("x", "W_a%b", "b_a%b", "W_lambda", "b_lambda", "y")
    chain = Chain([2, 2, 1], ["tanh", "identity"], "half_squared_error")
    values = chain.random_values(np.random.default_rng(2), n_samples=3)
    renamed = {
        "x": values["x"],
        "y": values["y"],
        "W_a%b": values["W_1"],
        "b_a%b": values["b_1"],
        "W_lambda": values["W_2"],
        "b_lambda": values["b_2"],
    }
    out = fn(renamed)
    expected = sbp.load(chain.spec()).gradient_fn()(values)
    np.testing.assert_allclose(out["grad"]["W_a%b"], expected["grad"]["W_1"], rtol=1e-14)
    assert set(out["delta"]) == {"delta_a%b", "delta_lambda"}


def test_arguments_are_checked_once_per_shape_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sbp.load("specs/mlp.yaml")
    fn = net.gradient_fn()
    checks = []
    original = runtime.check_shapes
    monkeypatch.setattr(runtime, "check_shapes", lambda *args: (checks.append(1), original(*args)))
    values = net.data()
    first = fn(values)
    for _ in range(3):
        fn(values)
    assert len(checks) == 1
    five = {**values, "x": np.ones((2, 5)), "y": np.ones((1, 5))}
    fn(five)
    fn(five)
    assert len(checks) == 2
    with pytest.raises(ValueError, match=r"W has shape \(3, 2\), expected \(2, 3\)"):
        fn({**values, "W": values["W"].T})
    with pytest.raises(ValueError, match="missing values for y"):
        fn({k: v for k, v in values.items() if k != "y"})
    np.testing.assert_array_equal(fn(values)["grad"]["W"], first["grad"]["W"])


def test_float32_throughout_from_float64_arrays() -> None:
    """A float32 function converts float64 arguments at the call and computes every value in
    float32: no float64 array appears, not even a constant one."""
    for spec in ("specs/skip_connection.yaml", "specs/recurrent_autoencoder_small.yaml", "specs/square_221.yaml"):
        net = sbp.load(spec)
        values = net.gradcheck().values
        assert all(v.dtype == np.float64 for v in values.values())
        out = net.gradient_fn(np.float32)(values)
        wide = net.gradient_fn()(values)
        for part in ("forward", "delta", "grad"):
            for name, array in out[part].items():
                assert array.dtype == np.float32, (spec, part, name)
                np.testing.assert_allclose(array, wide[part][name], rtol=2e-3, atol=2e-4)
    fn = sbp.load("specs/mlp.yaml").gradient_fn(np.float32)
    converted = fn.convert(sbp.load("specs/mlp.yaml").data())
    assert all(a.dtype == np.float32 for a in converted.values()) and list(converted) == list(fn.arguments)
    assert all(fn(converted)["grad"][name].dtype == np.float32 for name in ("W", "w"))
    with pytest.raises(ValueError, match="floating-point"):
        sbp.load("specs/mlp.yaml").gradient_fn(np.int64)
    with pytest.raises(ValueError, match="backend="):
        sbp.load("specs/mlp.yaml").gradient_fn("jax")


def test_a_fixed_selection_is_a_slice_and_another_matrix_is_still_honoured() -> None:
    net = sbp.load("specs/recurrent_autoencoder_small.yaml")
    fn = net.gradient_fn()
    assert "s_reduce = x[:, 0:4:3]" in fn.source and "K.T" not in fn.source
    values = net.gradcheck().values
    general = GradientFunction(net.derive().backprop)
    assert "(x @ K.T)" in general.source
    out, expected = fn(values), general(values)
    for part in ("forward", "delta", "grad"):
        for name in expected[part]:
            np.testing.assert_allclose(out[part][name], expected[part][name], rtol=1e-13, atol=1e-15)
    other = {**values, "K": np.array([[0.0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0.5, 0]])}
    np.testing.assert_allclose(fn(other)["grad"]["W_link"], general(other)["grad"]["W_link"], rtol=1e-13)
    assert not np.allclose(fn(other)["grad"]["W_link"], out["grad"]["W_link"])


@pytest.mark.parametrize(("weights", "samples"), CONVENTIONS)
def test_selections_in_every_convention_and_in_the_backward_pass(weights: str, samples: str) -> None:
    """A fixed selection after a trained layer: the forward product is a gather, and the delta
    that flows back through it a scatter; all four conventions, against plain matrix products."""
    spec = {
        "name": "pick",
        "convention": {"weights": weights, "samples": samples},
        "input": {"size": 3},
        "target": {"size": 2},
        "loss": "half_squared_error",
        "layers": [
            {"name": "1", "units": 7, "activation": "tanh"},
            {"name": "pick", "units": 3, "activation": "identity", "bias": False, "fixed": {"select_every": 2}},
            {"name": "out", "units": 2, "activation": "sigmoid"},
        ],
    }
    net = sbp.load(spec)
    fn = net.gradient_fn()
    assert "@ K" not in fn.source.replace("W_pick", "K") and "_put(" in fn.source
    general = GradientFunction(net.derive().backprop)
    values = net.gradcheck(random=True).values
    out, expected = fn(values), general(values)
    for part in ("forward", "delta", "grad"):
        for name in expected[part]:
            np.testing.assert_allclose(out[part][name], expected[part][name], rtol=1e-12, atol=1e-14)


def test_gradients_only_frees_what_it_no_longer_needs() -> None:
    spec = {
        "name": "deep",
        "input": {"size": 4},
        "target": {"size": 4},
        "loss": "half_squared_error",
        "layers": [{"name": str(k), "units": 4, "activation": "tanh"} for k in range(1, 6)],
    }
    net = sbp.load(spec)
    lean, full = net.gradient_fn(gradients_only=True), net.gradient_fn()
    values = net.gradcheck(random=True).values
    out, expected = lean(values), full(values)
    assert set(out) == {"loss", "grad"}
    assert out["loss"] == expected["loss"]
    for name in expected["grad"]:
        np.testing.assert_array_equal(out["grad"][name], expected["grad"][name])
    lines = lean.source.split("def compute", 1)[1].splitlines()
    deleted = {
        name: i
        for i, line in enumerate(lines)
        if line.strip().startswith("del ")
        for name in line.strip()[4:].split(", ")
    }
    assert {"z_1", "s_1", "delta_1", "delta_5", "common_1"} <= set(deleted)
    assert deleted["delta_5"] < next(i for i, line in enumerate(lines) if "delta_1 =" in line)  # freed at once


def test_threads_limit_blas_during_the_call_only() -> None:
    from threadpoolctl import threadpool_info

    def blas() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas()
    seen = []
    assert blas_threads(1)(lambda: seen.append(blas()), []) is None
    assert seen == [[1] * len(before)] and blas() == before
    net = sbp.load("specs/mlp.yaml")
    out = net.gradient_fn(threads=1)(net.data())
    np.testing.assert_array_equal(out["grad"]["W"], net.gradient_fn()(net.data())["grad"]["W"])
    assert blas() == before
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads"):
            net.gradient_fn(threads=bad)


def test_an_expression_nested_deeper_than_python_parses_is_computed_in_steps() -> None:
    """150 nested products and sums (300 levels; Python's parser stops at 200 parentheses), and all
    their prefixes at once: the parts they share are computed once, so the steps stay linear."""
    from symbackprop.numeric import MAX_NESTING, _in_steps, evaluate_all

    a, b, x = (sp.MatrixSymbol(name, 2, 2) for name in ("A", "B", "x"))
    rng = np.random.default_rng(0)
    values = {"A": rng.normal(size=(2, 2)) / 2, "B": rng.normal(size=(2, 2)), "x": rng.normal(size=(2, 2))}
    exprs, expected, e, v = [], [], x, values["x"]
    for _ in range(150):  # built unevaluated: `a * (e + b)` canonicalises the whole tree each time (35 s in all)
        e, v = sp.MatMul(a, sp.MatAdd(e, b)), values["A"] @ (v + values["B"])
        exprs.append(e)
        expected.append(v)
    np.testing.assert_allclose(evaluate(exprs[-1], values), expected[-1], rtol=1e-12)
    for got, want in zip(evaluate_all(exprs, values), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    alone, _, _ = _in_steps([exprs[-1]])
    together, lasts, read = _in_steps(exprs)
    assert len(together) <= len(alone) + len(exprs) and len(alone) >= 300 // MAX_NESTING - 1
    assert {m.name for m in read if isinstance(m, sp.MatrixSymbol)} == {"A", "B", "x"}
