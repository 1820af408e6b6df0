"""The five forms of a derivation: exact strings on the specs, and numeric cross-checks
(index form with its sums computed by NumPy = matrix form = finite differences;
simplified = symbolic) for every activation and convention."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.forms.index import EntryFunction
from symbackprop.numeric import evaluate
from tests.latex import compile_latex
from tests.profiles import examples
from tests.reference import Chain
from tests.test_derive import ACTIVATIONS, CONVENTIONS, draw_values, output_activation

GENERIC_CHAIN = {
    "name": "three generic layers",
    "input": {"name": "x", "size": 2},
    "target": {"name": "y", "size": 1},
    "loss": "half_squared_error",
    "layers": [
        {"name": "1", "units": 2, "activation": {"function": "f_1"}, "bias": False},
        {"name": "2", "units": 2, "activation": {"function": "f_2"}, "bias": False},
        {"name": "out", "units": 1, "activation": {"function": "f_3"}, "bias": False},
    ],
}


def test_scalar_chain_of_three_generic_activations() -> None:
    """Every factor of dL/dW_1 for the chain f_1, f_2, f_3, and its grouping into delta_1."""
    der = sbp.load(GENERIC_CHAIN).derive()
    assert der.grad("W_1").text("chain") == (
        "dL/dW_1 = [dL/dy_out · dy_out/ds_out · ds_out/dz_2 · dz_2/ds_2 · ds_2/dz_1 · dz_1/ds_1]_delta_1 · ds_1/dW_1"
    )
    assert der.grad("W_1").latex("chain") == (
        r"\frac{\partial \mathcal{L}}{\partial W_{1}} = \underbrace{\frac{\partial \mathcal{L}}{\partial y_{out}} "
        r"\cdot \frac{\partial y_{out}}{\partial s_{out}} \cdot \frac{\partial s_{out}}{\partial z_{2}} \cdot "
        r"\frac{\partial z_{2}}{\partial s_{2}} \cdot \frac{\partial s_{2}}{\partial z_{1}} \cdot "
        r"\frac{\partial z_{1}}{\partial s_{1}}}_{\delta_{1}} \cdot \frac{\partial s_{1}}{\partial W_{1}}"
    )
    assert der.delta("1").text("chain") == (
        "delta_1 = [dL/dy_out · dy_out/ds_out · ds_out/dz_2 · dz_2/ds_2]_delta_2 · ds_2/dz_1 · dz_1/ds_1"
    )
    assert der.grad("W_1").text("symbolic") == (
        "dL/dW_1 = ((W_2^T ((W_out^T ((y_out - y) ⊙ f_3'(s_out))) ⊙ f_2'(s_2))) ⊙ f_1'(s_1)) x^T"
    )
    assert der.delta("1").text("simplified") == "delta_1 = (W_2^T delta_2) ⊙ f_1'(s_1)"
    assert der.grad("W_1").text("index") == "dL/dW_1[j,i] = sum_{n=1}^{N}(delta_1[j,n]*x[i,n])   for j = 1..2, i = 1..2"
    assert der.delta("1").text("index") == (
        "delta_1[j,n] = sum_{k=1}^{2}(W_2[k,j]*delta_2[k,n])*f_1'(s_1[j,n])   for j = 1..2, n = 1..N"
    )
    assert der.delta("1").latex("index") == (
        r"\delta^{(1)}_{j,n} = \left(\sum_{k=1}^{2} W^{(2)}_{k,j} \delta^{(2)}_{k,n}\right) "
        r"f_{1}'\left(s^{(1)}_{j,n}\right) \quad (1 \le j \le 2,\ 1 \le n \le N)"
    )


def test_every_form_of_the_interface_example() -> None:
    der = sbp.load("specs/mlp.yaml").derive()
    w = der.grad("W")
    assert w.text("chain") == "dL/dW = [dL/dy_out · dy_out/ds_out · ds_out/dz_1 · dz_1/ds_1]_delta_1 · ds_1/dW"
    assert w.text("symbolic") == "dL/dW = x ((w ((y_out - y) ⊙ f_out'(s_out))) ⊙ f_1'(s_1))^T"
    assert w.text("simplified") == "dL/dW = x delta_1^T"
    assert w.text("matrix") == "dL/dW = x delta_1^T"
    assert w.text("index") == "dL/dW[i,j] = sum_{n=1}^{N}(delta_1[j,n]*x[i,n])   for i = 1..2, j = 1..3"
    assert w.latex("index") == (
        r"\frac{\partial \mathcal{L}}{\partial W_{i,j}} = \sum_{n=1}^{N} \delta^{(1)}_{j,n} "
        r"x_{i,n} \quad (1 \le i \le 2,\ 1 \le j \le 3)"
    )
    assert der.delta("out").text("simplified") == "delta_out = (y_out - y) ⊙ (1 - y_out ⊙ y_out)"
    assert der.delta("out").latex("simplified") == (
        r"\delta_{out} = \left(y_{out} - y\right) \odot \left(\mathbf{1} - y_{out}^{\circ 2}\right)"
    )
    assert der.delta("1").text("simplified") == "delta_1 = (w delta_out) ⊙ [s_1 > 0]"
    assert der.delta("1").text("index") == "delta_1[j,n] = delta_out[n]*w[j]*f_1'(s_1[j,n])   for j = 1..3, n = 1..N"
    assert der.delta("out").text("index") == "delta_out[n] = (y_out[n] - y[n])*f_out'(s_out[n])   for n = 1..N"


def test_square_activation_simplifies_to_2s() -> None:
    der = sbp.load("specs/square_221.yaml").derive()
    assert der.delta("1").text("simplified") == "delta_1 = (w_2^T delta_2) ⊙ 2*s_1"
    assert der.delta("1").latex("simplified") == r"\delta_{1} = \left(w_{2}^{\top} \delta_{2}\right) \odot 2 s_{1}"


def test_softmax_with_cross_entropy_simplifies_to_difference() -> None:
    spec = {
        "name": "classifier",
        "input": {"size": 3},
        "target": {"size": 2},
        "loss": "cross_entropy",
        "layers": [
            {"name": "1", "units": 2, "activation": "sigmoid"},
            {"name": "out", "units": 2, "activation": "softmax"},
        ],
    }
    der = sbp.load(spec).derive()
    assert der.delta("out").text("simplified") == "delta_out = y_out - y"
    assert der.delta("1").text("simplified") == "delta_1 = (W_out^T delta_out) ⊙ (z_1 ⊙ (1 - z_1))"
    mean = sbp.load({**spec, "loss": {"type": "cross_entropy", "reduction": "mean"}}).derive()
    assert mean.delta("out").text("simplified") == "delta_out = (1/N) (y_out - y)"


def test_leaky_relu_and_identity_closed_forms() -> None:
    spec = {
        "name": "leaky",
        "input": {"size": 2},
        "target": {"size": 1},
        "loss": "half_squared_error",
        "layers": [
            {"name": "1", "units": 2, "activation": {"type": "leaky_relu", "alpha": 0.1}},
            {"name": "2", "units": 1, "activation": "identity"},
        ],
    }
    der = sbp.load(spec).derive()
    assert der.delta("2").text("simplified") == "delta_2 = y_out - y"
    assert der.delta("1").text("simplified") == "delta_1 = (W_2^T delta_2) ⊙ ([s_1 > 0] + (1/10) [s_1 <= 0])"


# --- numeric cross-checks ---------------------------------------------------------------


def environment(net: sbp.Network, values: dict) -> tuple[dict, dict, int]:
    """Every named matrix's value (inputs, parameters, s_k, z_k, deltas) and the engine's output."""
    out = net.gradient_fn()(values)
    env = dict(values)
    env.update(out["forward"])
    env.update(out["delta"])
    last = net.spec.layers[-1].name
    env[net.spec.output] = out["forward"][f"z_{last}"]
    n_samples = values[net.spec.input.name].shape[1 if net.spec.convention.samples == "columns" else 0]
    return env, out, n_samples


def evaluate_index(target: sbp.Target, env: dict, n_samples: int) -> np.ndarray:
    """The index form, its sums computed by NumPy for every value of its free indices."""
    indexed = target.index_form()
    expr = indexed.expr.replace(lambda e: isinstance(e, EntryFunction), lambda e: e.doit())
    matrices = sorted(expr.atoms(sp.MatrixSymbol), key=str)
    batch = sp.Symbol("N", integer=True, positive=True)
    fn = sp.lambdify([*indexed.indices, batch, *matrices], expr, modules="numpy")
    shape = tuple(n_samples if d == "N" else d for d in target.shape)
    result = np.zeros(shape)
    arrays = [np.asarray(env[m.name]) for m in matrices]
    for position in np.ndindex(shape):
        free = [p for p, d in zip(position, target.shape, strict=True) if d != 1]
        result[position] = fn(*free, n_samples, *arrays)
    return result


FORM_CASES = [
    (activation, loss, *convention)
    for activation, convention in itertools.product(ACTIVATIONS, CONVENTIONS)
    for loss in (["cross_entropy"] if activation == "softmax" else ["half_squared_error"])
]


@pytest.mark.parametrize(("activation", "loss", "weights", "samples"), FORM_CASES)
def test_index_equals_matrix_equals_finite_differences(activation: str, loss: str, weights: str, samples: str) -> None:
    chain = Chain([2, 3, 2], [activation, output_activation(activation, loss)], loss, weights, samples)
    values = draw_values(chain, seed=17)
    net = sbp.load(chain.spec())
    env, out, n_samples = environment(net, values)
    differences = chain.finite_differences(values)
    for target in net.derive().targets:
        matrix = evaluate(target.matrix, env, n_samples)
        index = evaluate_index(target, env, n_samples)
        np.testing.assert_allclose(index, matrix, rtol=1e-10, atol=1e-12, err_msg=target.name)
        if target.kind == "gradient":
            np.testing.assert_allclose(matrix, differences[target.key], rtol=1e-6, atol=1e-8, err_msg=target.name)


@pytest.mark.parametrize(("activation", "loss", "weights", "samples"), FORM_CASES)
def test_simplified_equals_symbolic(activation: str, loss: str, weights: str, samples: str) -> None:
    chain = Chain([2, 3, 2], [activation, output_activation(activation, loss)], loss, weights, samples)
    values = draw_values(chain, seed=29)
    net = sbp.load(chain.spec())
    env, out, n_samples = environment(net, values)
    for target in net.derive().targets:
        symbolic = evaluate(target.symbolic, env, n_samples)
        simplified = evaluate(target.simplified, env, n_samples)
        np.testing.assert_allclose(simplified, symbolic, rtol=1e-10, atol=1e-12, err_msg=target.name)
        expected = out["grad"][target.key] if target.kind == "gradient" else out["delta"][target.name]
        np.testing.assert_allclose(symbolic, expected, rtol=1e-10, atol=1e-12, err_msg=target.name)


# --- LaTeX that compiles ----------------------------------------------------------------


SPECS = sorted(path.name for path in (Path(__file__).resolve().parent.parent / "specs").glob("*.yaml"))


@pytest.mark.parametrize("name", SPECS)
def test_latex_of_every_form_compiles(name: str, tmp_path: Path) -> None:
    net = sbp.load(f"specs/{name}")
    der = net.derive()
    lines = der.forward_latex() + [t.latex(form) for form in sbp.FORMS for t in der.targets]
    body = "\n".join(f"\\begin{{align*}}\n{line.replace(' = ', ' &= ', 1)}\n\\end{{align*}}" for line in lines)
    compile_latex(body, tmp_path)


@settings(max_examples=examples(20, 60), deadline=None, suppress_health_check=[HealthCheck.too_slow])  # 90 ms each
@given(
    depth=st.integers(1, 3),
    data=st.data(),
    convention=st.sampled_from(CONVENTIONS),
    loss=st.sampled_from(["half_squared_error", "squared_error", "cross_entropy"]),
    seed=st.integers(0, 2**16),
)
def test_every_form_agrees_on_random_chains(depth, data, convention, loss, seed) -> None:
    """On random chains, every form's value equals the matrix form's (the chain form aside, which
    is notation), and the index form's sums agree with it entry by entry."""
    sizes = [data.draw(st.integers(1, 3)) for _ in range(depth + 1)]
    activations = [data.draw(st.sampled_from(ACTIVATIONS)) for _ in range(depth)]
    activations[-1] = output_activation(activations[-1], loss)
    chain = Chain(sizes, activations, loss, *convention, bias=[data.draw(st.booleans()) for _ in range(depth)])
    values = chain.random_values(np.random.default_rng(seed), n_samples=data.draw(st.integers(1, 3)))
    assume(chain.tame(values) and not chain.near_kink(values, margin=1e-3))
    net = sbp.load(chain.spec())
    env, out, n_samples = environment(net, values)
    for target in net.derive().targets:
        matrix = evaluate(target.matrix, env, n_samples)
        for form in ("symbolic", "simplified"):
            np.testing.assert_allclose(
                evaluate(target.form(form), env, n_samples),
                matrix,
                rtol=1e-9,
                atol=1e-12,
                err_msg=f"{target.name} {form}",
            )
        np.testing.assert_allclose(
            evaluate_index(target, env, n_samples), matrix, rtol=1e-9, atol=1e-12, err_msg=f"{target.name} index"
        )


def test_the_chain_form_is_sized_before_it_is_built() -> None:
    """ChainBuilder.size counts the partials that the chain form will hold, on every spec and on layers
    that read the two before them (whose paths multiply)."""
    from symbackprop.forms.chain import Partial
    from tests.test_hostile_render import deep

    specs = Path(__file__).resolve().parent.parent / "specs"
    texts = [(specs / name).read_text(encoding="utf-8") for name in SPECS]
    for text in [*texts, deep(9, "tanh", reads_two=True)]:
        net = sbp.load(text)
        builder = net.derive().targets[0]._builder
        for target in net.derive().targets:
            start = net.graph.named(f"s_{target.key}" if target.kind == "delta" else target.key)
            chain = builder._chain.to_loss(start, group=True)  # as the chain form builds it, unbounded
            partials = sum(isinstance(e, Partial) for e in sp.preorder_traversal(chain))
            assert builder._chain.size(start) == partials, target.name


def test_forms_past_their_limits_stand_as_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Layers that read the two before them: the chain and symbolic forms of the first layer are refused
    before they are built (FormTooLarge, with their size), the matrix form is small, and reading the
    printed forms back skips what is not printed (here under limits of 16 partials and 300 nodes, so
    that the forms read back are small; test_forms_just_under_their_limits_read_back uses the real ones)."""
    from symbackprop import forms
    from symbackprop.forms import MAX_CHAIN, MAX_SYMBOLIC, FormTooLarge
    from tests.test_hostile_render import deep

    net = sbp.load(deep(18, "tanh", reads_two=True))
    first = net.derive().grad("W_h1")
    with pytest.raises(FormTooLarge, match="limit of 64") as chain:
        first.latex("chain")
    with pytest.raises(FormTooLarge, match="limit of 1,200") as symbolic:
        first.text("symbolic")
    assert chain.value.size > MAX_CHAIN and symbolic.value.size > MAX_SYMBOLIC
    assert len(first.text("matrix")) < 200
    last = net.derive().grad("W_out")
    assert last.latex("chain") and last.text("symbolic")
    monkeypatch.setattr(forms, "MAX_CHAIN", 16)
    monkeypatch.setattr(forms, "MAX_SYMBOLIC", 300)
    _printed_forms_read_back(sbp.load(deep(18, "tanh", reads_two=True)))


@pytest.mark.slow
def test_forms_just_under_their_limits_read_back() -> None:
    """The same at the real limits: forms of up to 64 partials and 1,200 nodes print and read back (8 s of
    CPU, most of it reading the largest back)."""
    from tests.test_hostile_render import deep

    _printed_forms_read_back(sbp.load(deep(18, "tanh", reads_two=True)))


def _printed_forms_read_back(net: sbp.Network) -> None:
    from symbackprop.forms import FormTooLarge
    from symbackprop.verify.roundtrip import reread

    printed = sum(
        1
        for target in net.derive().targets
        for form in ("chain", "symbolic")
        if not isinstance(_form_or_error(target, form), FormTooLarge)
    )
    assert 0 < printed < 2 * len(net.derive().targets)
    result = reread(net, forms=("chain", "symbolic"), formats=("text",), forward=False)
    assert result.ok and result.checked == printed


def _form_or_error(target: sbp.Target, form: str) -> object:
    from symbackprop.forms import FormTooLarge

    try:
        return target.form(form)
    except FormTooLarge as error:
        return error
