"""Local partials d(value)/d(value) (dz_2/ds_2, ds_3/dz_2, ds_2/dW_2, dh_2/dh_1, dp_j/ds_k), with or without
entries, in every form and format, their numbers against central differences of a hand-written forward pass
and against torch, graded by verify; and the exercise specs whose questions ask them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.api import EntryTarget, PartialTarget
from symbackprop.cli import main

HINGE = "specs/softmax_hinge_exercise.yaml"
EXERCISES = ("specs/relu_4321_exercise.yaml", "specs/square_221_exercise.yaml", HINGE)
SOFTMAX = """\
name: softmax demo
input: {name: x, size: 2}
target: {name: y, size: 3}
output: p
layers:
  - {name: out, units: 3, activation: softmax}
loss: {type: multiclass_hinge, margin: 1}
"""


# --- an independent forward pass ----------------------------------------------------------------------------


def _activate(layer: sbp.spec.model.Layer, s: np.ndarray) -> np.ndarray:
    act = layer.activation
    if act.kind == "relu":
        return np.maximum(s, 0)
    if act.kind == "tanh":
        return np.tanh(s)
    if act.kind == "sigmoid":
        return 1 / (1 + np.exp(-s))
    if act.kind == "identity":
        return s
    if act.kind == "expr" and act.source == "x**2":
        return s**2
    if act.kind == "softmax":
        e = np.exp(s - s.max(axis=0))
        return e / e.sum(axis=0)
    raise AssertionError(f"no hand-written {act.kind}")


def _forward(
    net: sbp.Network, values: dict[str, np.ndarray], put: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Every named value and the loss of a chain (samples in columns, W s = W x), each value replaced by
    `put`'s where it names it."""
    put = put or {}
    spec = net.spec
    out = {**values, **{k: v for k, v in put.items() if k in values}}
    h = out[spec.input.name]
    for index, layer in enumerate(spec.layers):
        s = out[layer.weight] @ h + (out[layer.bias] if layer.bias else 0)
        s = out[f"s_{layer.name}"] = put.get(f"s_{layer.name}", s)
        name = spec.output if index == len(spec.layers) - 1 else f"z_{layer.name}"
        h = out[name] = put.get(name, _activate(layer, s))
    y = out[spec.target.name]
    if spec.loss.kind == "half_squared_error":
        out["L"] = 0.5 * np.sum((h - y) ** 2)
    else:  # multiclass hinge, one-hot targets
        score = np.sum(h * y, axis=0, keepdims=True)
        out["L"] = np.sum((1 - y) * np.maximum(0, h - score + spec.loss.margin))
    return out


def _jacobian(net: sbp.Network, values: dict[str, np.ndarray], top: str, bottom: str, step: float = 1e-6) -> np.ndarray:
    """d top / d bottom for every entry of both (axes: top's, then bottom's), by central differences."""
    base = _forward(net, values)
    at = base[bottom]
    full = np.zeros(base[top].shape + at.shape)
    for index in np.ndindex(*at.shape):
        plus, minus = at.copy(), at.copy()
        plus[index] += step
        minus[index] -= step
        full[(..., *index)] = (
            _forward(net, values, {bottom: plus})[top] - _forward(net, values, {bottom: minus})[top]
        ) / (2 * step)
    return full


def _random_values(net: sbp.Network, samples: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = {}
    for node in net.graph.leaves:
        shape = tuple(samples if d == "N" else d for d in node.shape)
        values[node.name] = rng.normal(size=shape)
    if net.spec.loss.kind == "multiclass_hinge":
        target = np.zeros(values[net.spec.target.name].shape)
        target[rng.integers(0, target.shape[0], size=samples), np.arange(samples)] = 1
        values[net.spec.target.name] = target
    return values


# --- forms --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "form", "text"),
    [
        ("dz_2/ds_2", "matrix", "dz_2/ds_2 = diag(f_2'(s_2))   for each sample"),
        ("dz_2/ds_2", "simplified", "dz_2/ds_2 = diag([s_2 > 0])   for each sample"),
        ("ds_3/dz_2", "matrix", "ds_3/dz_2 = W_3   for each sample"),
        ("dz_2/dz_1", "matrix", "dz_2/dz_1 = diag(f_2'(s_2)) W_2   for each sample"),
        ("dz_2/dz_1", "chain", "dz_2/dz_1 = dz_2/ds_2 · ds_2/dz_1"),
        ("dz_2/dz_1", "index", "dz_2[j,n]/dz_1[i,n] = W_2[j,i]*f_2'(s_2[j,n])   for j = 1..2, n = 1..N, i = 1..3"),
        (
            "ds_2/dW_2",
            "index",
            "ds_2[j,n]/dW_2[j,i] = z_1[i,n]   for j = 1..2, n = 1..N, i = 1..3   (0 for W_2[k,i] with k != j)",
        ),
        ("dz_2[1,1]/dW_2[1,2]", "index", "dz_2[1,1]/dW_2[1,2] = z_1[2,1]*f_2'(s_2[1,1])"),
        ("dz_2[1,1]/dW_2[1,2]", "chain", "dz_2[1,1]/dW_2[1,2] = dz_2[1,1]/ds_2 · ds_2/dW_2[1,2]"),
        ("dz_2[1,1]/dW_2[2,j]", "index", "dz_2[1,1]/dW_2[2,j] = 0   for j = 1..3"),
        ("dh_3/dW_3[1,1]", "simplified", "dh_3[n]/dW_3[1,1] = z_2[1,n]   for n = 1..N"),
        (
            "ds_2/dz_1[2]",
            "index",
            "ds_2[j,n]/dz_1[2,n] = W_2[j,2]   for j = 1..2, n = 1..N",
        ),  # one sample n on both sides
    ],
)
def test_local_partials_in_each_form(target: str, form: str, text: str) -> None:
    found = sbp.load("specs/relu_4321.yaml").derive().target(target)
    assert isinstance(found, PartialTarget)
    assert found.text(form) == text


def test_a_form_that_does_not_apply_says_so() -> None:
    found = sbp.load("specs/relu_4321.yaml").derive().target("ds_2/dW_2")
    assert found.note("matrix").startswith("no matrix form: the derivative of s_2 by W_2 has an index for each")
    assert "(no matrix form" in found.text("matrix") and found.form("matrix") == found.form("index")
    assert found.note("chain") is None and "0 for W_2[k,i] with k != j" in found.note("index")


def test_the_course_notation_reads_and_writes_local_partials() -> None:
    der = sbp.load("specs/relu_4321_course.yaml").derive()
    found = der.target(r"\frac{\partial h^3}{\partial W^3_{1,1}}")
    assert found.name == "dh_3/dW_3[1,1]"
    assert (
        found.latex("simplified") == r"\frac{\partial h^{3}_{n}}{\partial W^{3}_{1,1}} = h^{2}_{1,n} \quad "
        r"(1 \le n \le N)"
    )
    assert (
        der.target(r"\partial h^2 / \partial h^1").latex()
        == r"\frac{\partial h^{2}}{\partial h^{1}} = \operatorname{diag}\left(f_{2}'\left(z^{2}\right)\right) W^{2}"
    )
    assert der.target("dh_2/dh_1") is der.target(r"\frac{\partial h^{2}}{\partial h^{1}}")


def test_the_softmax_jacobian_is_its_own_result() -> None:
    der = sbp.load(SOFTMAX).derive()
    entry = der.target("dp_j/ds_k")  # s_k: entry k of the softmax layer's pre-activation
    assert entry.text("index") == "dp[j,n]/ds_out[k,n] = ([j = k] - p[k,n])*p[j,n]   for j = 1..3, n = 1..N, k = 1..3"
    assert der.target("dp/ds_out").text() == "dp/ds_out = diag(p) - p p^T   for each sample"
    rows = sbp.load(SOFTMAX + "convention: {samples: rows, weights: in_out}\n").derive()
    assert rows.target("dp/ds_out").text() == "dp/ds_out = diag(p) - p^T p   for each sample"
    assert rows.target("dp/dx").text() == "dp/dx = diag(p) W_out^T - p^T p W_out^T   for each sample"


# --- the softmax Jacobian, read back and graded as a Jacobian ------------------------------------------------

SHEET = "tests/data/softmax_3.yaml"  # no data: compared at points of 3 samples, one Jacobian per sample


def test_every_form_of_the_softmax_partials_reads_back() -> None:
    """diag(p) - p p^T, diag(p) W_1 - p p^T W_1, the Kronecker bracket of the index forms and the constant 1 of
    ds_1/db_1: every form, text and LaTeX, read by verify and compared with the truth, on 3 samples."""
    net = sbp.load(SHEET)
    targets = [t for _, asked in net.questions() for t in asked] + [net.derive().target("ds_1/db_1")]
    result = net.reread(targets=targets)
    assert result.ok, "\n".join(map(str, result.misread))
    # a single partial's chain form is a note, not a formula (nothing to expand): every other form is re-read
    assert [target.bare_chain for target in targets] == [True, False, False, False, True]  # dp/ds_1, ds_1/db_1
    formulas = len(targets) * len(sbp.FORMS) - 2
    assert result.checked == 2 * (len(net.derive().forward()) + formulas)


@pytest.mark.parametrize(
    ("target", "answer", "verdict"),
    [
        ("dp/ds_1", "diag(p) - p p^T", "equivalent"),
        ("dp/ds_1", r"\operatorname{diag}\left(p\right) - p p^{\top}", "equivalent"),
        ("dp/ds_1", r"\operatorname{diag}(p) - p p^{T} \quad \text{for each sample}", "unreadable"),
        ("dp/ds_1", "diag(p) (I_3 - 1_3 p^T)", "equivalent"),
        ("dp/ds_1", "p p^T - diag(p)", "different"),  # the sign
        ("dp/ds_1", "diag(p)", "different"),
        ("dp/ds_1", "I_3 - p p^T", "different"),
        ("dp/ds_1", "diag(p) - p p^T + 0 I_3", "equivalent"),
        ("dp/ds_1", "I_99999", "unreadable"),  # no size the network does not have is allocated
        ("dp/ds_1", "I", "unreadable"),  # the identity's size is written
        ("dp/ds_1", "diag(p) - p ⊙ p", "different"),  # a vector, not a Jacobian
        ("dp/ds_1", "dp[j,n]/ds_1[i,n] = p[j,n]*([i = j] - p[i,n])", "equivalent"),
        ("dp/ds_1", "dp[j,n]/ds_1[i,n] = p[j,n]*([j = i] - p[i,n])", "equivalent"),
        ("dp/ds_1", "dp[j,n]/ds_1[i,n] = p[j,n]*([i != j] - p[i,n])", "different"),
        ("dp/ds_1", "dp[j,n]/ds_1[i,n] = p[j,n]*([i = 1] - p[i,n])", "different"),
        ("dp/ds_1", r"\frac{\partial p_{j,n}}{\partial s^{(1)}_{i,n}} = p_{j,n} ([i = j] - p_{i,n})", "equivalent"),
        ("dp/ds_1", r"\frac{\partial p_{j,n}}{\partial s^{(1)}_{i,n}} = p_{j,n} ([i = j] - p_{j,n})", "different"),
        ("dp/dx", "(diag(p) - p p^T) W_1", "equivalent"),
        ("dp/dx", "diag(p) W_1 - p p^T", "different"),
        ("ds_1/db_1", "ds_1[j,n]/db_1[j] = 1", "equivalent"),  # a constant partial, with no data to put in
        ("ds_1/db_1", "ds_1[j,n]/db_1[j] = 2", "different"),
        ("ds_1/db_1", "ds_1[j,n]/db_1[i] = [i = j]", "equivalent"),
    ],
)
def test_a_jacobian_answer_is_compared_as_a_jacobian(target: str, answer: str, verdict: str) -> None:
    """p is one sample's column in a per-sample Jacobian: p p^T is the outer product of that sample, not a sum over
    the samples, and diag(p) a 3x3 matrix."""
    result = sbp.load(SHEET).verify(target, answer)
    assert result.verdict == verdict, result.feedback


def test_a_transposed_jacobian_of_several_samples_is_told() -> None:
    result = sbp.load(SHEET).verify("dp/dx", "W_1^T (diag(p) - p p^T)")
    assert (
        result.feedback[0] == "the result is transposed: your answer is 2x3 for each sample, but dp/dx is 3x2 "
        "for each sample"
    )
    result = sbp.load(SHEET).verify("dp/ds_1", "diag(p) - p^T p")
    assert result.verdict == "different" and "p^T p is 1x1" in result.feedback[0]


def test_samples_in_rows_read_their_own_jacobian() -> None:
    net = sbp.load(Path(SHEET).read_text() + "convention: {samples: rows, weights: in_out}\n")
    assert net.verify("dp/ds_1", "diag(p) - p^T p").equivalent
    assert net.verify("dp/dx", "diag(p) W_1^T - p^T p W_1^T").equivalent
    assert not net.verify("dp/ds_1", "diag(p) - p p^T").equivalent


def test_a_printer_that_drops_a_bracket_of_a_partial_fails_the_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    from symbackprop import printing

    net = sbp.load(SHEET)
    target = net.derive().target("dp/ds_1")
    assert net.reread(forms=["index", "matrix"], targets=[target]).ok
    monkeypatch.setattr(printing.TextPrinter, "parenthesize", lambda self, item, level, strict=False: self._print(item))
    monkeypatch.setattr(printing.LatexPrinter, "_needs_mul_brackets", lambda self, expr, first=False, last=False: False)
    assert target.text("index").startswith("dp[j,n]/ds_1[i,n] = [i = j] - p[i,n]*p[j,n]")
    misread = net.reread(forms=["index", "matrix"], targets=[target]).misread
    assert {(m.form, m.format) for m in misread} == {("index", "text"), ("index", "latex")}
    monkeypatch.setattr(printing.TextPrinter, "_print_KroneckerDelta", lambda self, expr: "i = j")
    assert not net.verify("dp/ds_1", target.text("index")).equivalent


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("dz_1/dz_2", "z_1 does not depend on z_2"),
        ("dW_1/dx", "W_1 is not computed by the network"),
        ("dz_2/dz_2", "is the identity"),
        ("dz_2/dq_7", "'q_7' names no value"),
    ],
)
def test_partials_that_do_not_exist(target: str, message: str) -> None:
    with pytest.raises(sbp.api.UnknownTarget) as error:
        sbp.load("specs/relu_4321.yaml").derive().target(target)
    assert message in str(error.value)


# --- numbers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "dz_2/ds_2",
        "ds_3/dz_2",
        "ds_2/dW_2",
        "dz_2[1,1]/dW_2[1,2]",
        "dz_2/dz_1",
        "dh_3/dW_3[1,1]",
        "dz_2[1]/dW_2[1,j]",
        "dz_2[1,1]/dW_2",
        "dz_1/dx",
        "ds_2/db_2",
        "dz_2[2,3]/dz_1[j,3]",
        "dh_3/dz_1",
    ],
)
def test_values_agree_with_central_differences(target: str) -> None:
    net = sbp.load("specs/relu_4321.yaml")
    values = _random_values(net, 3, seed=11)  # three samples: a Jacobian per sample
    found = net.derive().target(target)
    fd = _jacobian(net, values, found.top.name, found.bottom.name)
    got = net.evaluate(found, values)
    np.testing.assert_allclose(got, found.arrange(fd), rtol=1e-6, atol=1e-8)
    if found.per_sample:  # independently laid out: one Jacobian (top units x bottom units) per sample
        np.testing.assert_allclose(got, np.stack([fd[:, n, :, n] for n in range(3)]), rtol=1e-6, atol=1e-8)


def test_one_samples_jacobian_is_a_matrix() -> None:
    net = sbp.load("specs/relu_4321.yaml")
    data = net.data()
    s2 = data["W_2"] @ np.maximum(data["W_1"] @ data["x"] + data["b_1"], 0) + data["b_2"]
    np.testing.assert_allclose(net.evaluate("dz_2/dz_1"), np.diag((s2[:, 0] > 0) * 1.0) @ data["W_2"])
    np.testing.assert_allclose(net.evaluate("ds_3/dz_2"), data["W_3"])
    assert net.evaluate("ds_2/dW_2").shape == (2, 2, 3)  # entry (j, k, i): s_2's unit by W_2's entry


def test_the_softmax_jacobian_agrees_with_torch() -> None:
    torch = pytest.importorskip("torch")
    net = sbp.load(SOFTMAX)
    values = _random_values(net, 4, seed=3)
    s = values["W_out"] @ values["x"] + values["b_out"]
    expected = np.stack(
        [
            torch.autograd.functional.jacobian(lambda v: torch.softmax(v, 0), torch.tensor(s[:, n])).numpy()
            for n in range(4)
        ]
    )
    np.testing.assert_allclose(net.evaluate("dp/ds_out", values), expected, rtol=1e-10, atol=1e-12)
    entry = net.evaluate("dp_j/ds_k", values)  # (j, n, k): every entry of every sample's Jacobian
    np.testing.assert_allclose(np.moveaxis(entry, 1, 0), expected, rtol=1e-10, atol=1e-12)
    x = torch.tensor(values["x"][:, 0])
    jac = torch.autograd.functional.jacobian(
        lambda v: torch.softmax(torch.tensor(values["W_out"]) @ v + torch.tensor(values["b_out"][:, 0]), 0), x
    )
    np.testing.assert_allclose(net.evaluate("dp/dx", values)[0], jac.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(
    units=st.lists(st.integers(1, 3), min_size=2, max_size=3),
    activations=st.lists(st.sampled_from(["relu", "tanh", "sigmoid", "identity"]), min_size=3, max_size=3),
    pair=st.data(),
)
def test_random_chains_agree_with_central_differences(
    units: list[int], activations: list[str], pair: st.DataObject
) -> None:
    """Any value of a random chain by any value or parameter before it, on two samples."""
    layers = "\n".join(
        f'  - {{name: "{k + 1}", units: {u}, activation: {activations[k]}}}' for k, u in enumerate(units)
    )
    net = sbp.load(
        f"name: random\ninput: {{name: x, size: 2}}\ntarget: {{name: y, size: {units[-1]}}}\n"
        f"layers:\n{layers}\nloss: half_squared_error\n"
    )
    computed = [node for node in net.graph.nodes if node.role in ("preactivation", "activation")]
    top = pair.draw(st.sampled_from(computed))
    below = [node for node in net.graph.nodes if node.name and node.id < top.id and node.role != "target"]
    bottom = pair.draw(st.sampled_from(below))
    values = _random_values(net, 2, seed=len(units))
    for name in list(values):  # away from relu's kink
        values[name] = values[name] + np.sign(values[name]) * 0.05
    found = net.derive().target(f"d{top.name}/d{bottom.name}")
    np.testing.assert_allclose(
        net.evaluate(found, values), found.arrange(_jacobian(net, values, top.name, bottom.name)), rtol=1e-5, atol=1e-7
    )
    for form in ("chain", "symbolic", "simplified", "matrix", "index"):
        assert found.text(form).startswith("d") and found.latex(form).startswith(r"\frac{\partial ")


# --- the command line ---------------------------------------------------------------------------------------


def test_derive_numeric_and_gradcheck_take_local_partials(capsys: pytest.CaptureFixture[str]) -> None:
    spec = "specs/relu_4321_course.yaml"
    assert main(["derive", spec, "--target", "dh_2/dh_1", "--form", "all"]) == 0
    out = capsys.readouterr().out
    assert "dh^2/dh^1 = diag([z^2 > 0]) W^2   for each sample" in out and "dh^2/dh^1 = dh^2/dz^2 · dz^2/dh^1" in out
    assert main(["derive", spec, "--target", "dh_2/dW_2", "--form", "matrix"]) == 0
    assert "(no matrix form: the derivative of h^2 by W^2 has an index for each" in capsys.readouterr().out
    assert (
        main(
            [
                "derive",
                spec,
                "--target",
                r"\frac{\partial h^3}{\partial W^3_{1,1}}",
                "--format",
                "json",
                "--form",
                "all",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["targets"][0]["kind"] == "partial" and set(doc["targets"][0]["forms"]) == {
        "chain",
        "symbolic",
        "simplified",
        "matrix",
        "index",
    }
    assert main(["numeric", spec, "--target", "dh_2/dh_1", "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert np.allclose(steps[0]["targets"]["dz_2/dz_1"], sbp.load(spec).evaluate("dh_2/dh_1"))
    assert main(["gradcheck", spec, "--target", "dh_2/dh_1"]) == 2
    assert "not a derivative of the loss" in capsys.readouterr().err


# --- grading ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "answer", "verdict"),
    [
        (r"\frac{\partial h^3}{\partial W^3_{1,1}}", "h^2_1", "equivalent"),
        (None, r"\frac{\partial h^3}{\partial W^3_{1,1}} = h^2_1", "equivalent"),
        (None, r"\frac{\partial h^3}{\partial W^3_{1,1}} = h^2_2", "different"),
        ("dh_2/dh_1", r"diag([z^2 > 0]) W^2", "equivalent"),
        ("dh_2/dh_1", "W^2", "different"),  # relu' dropped
        ("dh_2/dh_1", "(W^2)^T", "different"),
        ("dh_2/dz_2", "diag([z^2 > 0])", "equivalent"),
        ("dz_3/dh_2", "W^3", "equivalent"),
        ("dh_2/dW_2", r"\frac{\partial h^2_{j}}{\partial W^2_{j,i}} = [z^2_j > 0] h^1_{i}", "equivalent"),
        ("dh_2/dW_2", r"\frac{\partial h^2_{j}}{\partial W^2_{j,i}} = h^1_{i}", "different"),
        (r"\frac{\partial h^2_{1,1}}{\partial W^2_{1,2}}", "[z^2_1 > 0] h^1_2", "equivalent"),
        (r"\frac{\partial h^2_{1,1}}{\partial W^2_{1,2}}", "0.675", "equivalent"),  # on the spec's data
        (r"\frac{\partial h^2_{1,1}}{\partial W^2_{1,2}}", "0.6", "different"),
        ("dh_2[1]/dh_1[j]", r"[z^2_1 > 0] W^2_{1,j}", "equivalent"),
        ("dh_2/dh_1", r"diag(\sigma", "unreadable"),
    ],
)
def test_verify_grades_local_partials(target: str | None, answer: str, verdict: str) -> None:
    result = sbp.load("specs/relu_4321_course.yaml").verify(target, answer)
    assert result.verdict == verdict, result.feedback
    if verdict == "different":
        assert result.feedback and "the right answer is" in " ".join(result.feedback)


@pytest.mark.parametrize(
    ("spec", "target", "shown", "name"),
    [
        ("specs/relu_4321_exercise.yaml", "dh_2/dh_1", "dh^2/dh^1", "dz_2/dz_1"),
        (
            "specs/relu_4321_exercise.yaml",
            r"\frac{\partial h^2_{1,1}}{\partial W^2_{1,j}}",
            "dh^2[1,1]/dW^2[1,j]",
            "dz_2[1,1]/dW_2[1,j]",
        ),
        (
            "specs/square_221_exercise.yaml",
            r"\frac{\partial net^{(2)}}{\partial a^{(1)}}",
            "dnet^(2)/da^(1)",
            "ds_2/dz_1",
        ),
        (HINGE, "dp/ds_1", "dp/do_1", "dp/ds_1"),  # o the pre-activation; the engine's name still works as --target
        ("specs/relu_4321.yaml", "dz_2/ds_2", "dz_2/ds_2", None),  # the default notation spells it as the engine does
    ],
)
def test_a_local_partials_verdict_names_it_as_the_course_writes_it(
    spec: str, target: str, shown: str, name: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    """verify's `target` is the partial in the spec's notation; `name` (JSON: only where it differs) the engine's."""
    assert main(["verify", spec, "--target", target, "--answer", "x", "--json"]) in (1, 2)
    doc = json.loads(capsys.readouterr().out)
    assert doc["target"] == shown and doc.get("name") == name
    assert main(["verify", spec, "--target", target, "--answer", "x"]) in (1, 2)
    assert capsys.readouterr().out.startswith(f"{shown}: ")


@pytest.mark.parametrize(
    ("target", "answer"),
    [
        (r"\frac{\partial l}{\partial h^3}", r"\frac{\partial l}{\partial h^3}"),  # dL/d(output) as itself
        (r"\frac{\partial l}{\partial h^2}", r"\frac{\partial l}{\partial h^2}"),  # dL/d(value) as itself
        (
            r"\frac{\partial h^2}{\partial z^2}",
            r"\frac{\partial h^2}{\partial z^2} = \frac{\partial h^2}{\partial z^2}",
        ),
        (r"\frac{\partial h^2}{\partial h^1}", r"\frac{\partial h^2}{\partial h^1}"),
    ],
)
def test_an_answer_that_only_names_the_target_is_not_its_formula(target: str, answer: str) -> None:
    """A circular answer (the derivative asked, written as itself) gets no credit, whatever the target's kind."""
    net = sbp.load("specs/relu_4321_exercise.yaml")
    result = net.verify(target, answer)
    assert result.verdict == "different" and result.score == 0, (result.verdict, result.feedback)
    assert "formula" in result.feedback[0]
    # a restatement beside the formula stays right (a definition chain)
    right = net.derive().target(target).text("matrix").split(" = ", 1)[1].split("   ")[0]
    assert net.verify(target, f"{answer.split(' = ')[0]} = {right}").verdict == "equivalent"


def test_feedback_on_a_transposed_jacobian() -> None:
    result = sbp.load("specs/relu_4321_course.yaml").verify("dh_2/dh_1", "(W^2)^T")
    assert result.feedback[0].startswith("your answer is 3x2, but dh^2/dh^1 is 2x3")


# --- the exercises --------------------------------------------------------------------------------------------


def _truth(net: sbp.Network, target: sbp.api.Target, values: dict[str, np.ndarray]) -> np.ndarray:
    """A question's answer computed independently: central differences of the hand-written forward pass."""
    if isinstance(target, PartialTarget):
        return target.arrange(_jacobian(net, values, target.top.name, target.bottom.name))
    base = target.base if isinstance(target, EntryTarget) else target
    name = base.value if base.value in values or base.kind != "gradient" else base.key
    full = _jacobian(net, values, "L", name)
    if isinstance(target, EntryTarget):
        full = full[tuple(slice(None) if not i.is_Integer else slice(int(i), int(i) + 1) for i in target.entry)]
    return full


@pytest.mark.parametrize("spec", EXERCISES)
def test_every_question_is_answered_and_right(spec: str) -> None:
    net = sbp.load(spec)
    doc = net.render("md", sections=["questions"])
    values = net.data()
    named = net.named_values()
    for question, targets in net.questions():
        assert f"### {question.id.replace('.', chr(92) + '.')}" in doc, question.id
        for target in targets:
            assert target.lhs_latex("matrix") in doc, target.name
            got = net.value_at(target, dict(named))
            np.testing.assert_allclose(
                got,
                _truth(net, target, values).reshape(got.shape),
                rtol=1e-5,
                atol=1e-7,
                err_msg=f"{spec}: question {question.id}, {target.name}",
            )


def test_the_exercises_cover_the_homework_items() -> None:
    net = sbp.load("specs/relu_4321_exercise.yaml")
    kinds = [t.kind for _, targets in net.questions() for t in targets]
    assert len(net.questions()) == 16 and kinds.count("partial") == 9 and "adjoint" in kinds and "entry" in kinds
    assert Path("docs/gallery/relu_4321_exercise.md").exists()


def test_questions_mixing_partials_and_gradients_in_verify_and_the_batch(tmp_path: Path) -> None:
    net = sbp.load("specs/relu_4321_exercise.yaml")
    result = net.verify("1", r"\frac{\partial h^3}{\partial W^3_{1,1}} = h^2_1")  # the left side picks the partial
    assert (result.verdict, result.target, result.name) == ("equivalent", "dh^3/dW^3[1,1]", "dh_3/dW_3[1,1]")
    result = net.verify("1", r"\frac{\partial l}{\partial W^3_{1,1}} = \sigma^3 h^2_1")
    assert result.verdict == "equivalent" and result.target in ("dL/dW_3[1,1]", "dl/dW^3[1,1]")  # either spelling
    answers = tmp_path / "answers.csv"
    answers.write_text("id,target,answer\na,13,diag([z^2 > 0]) W^2\nb,dh_2/dh_1,W^2\nc,6,diag([z^2 > 0])\n")
    graded = tmp_path / "graded.csv"
    assert (
        main(["verify", "specs/relu_4321_exercise.yaml", "--batch", str(answers), "-o", str(graded), "--workers", "1"])
        == 0
    )
    verdicts = [line.split(",")[3] for line in graded.read_text().splitlines()[1:]]
    assert verdicts == ["equivalent", "different", "equivalent"]


@pytest.mark.parametrize(
    ("target", "form"),
    [
        ("dh_2/dh_1", "matrix"),
        ("dh_2/dh_1", "simplified"),
        ("dh_2/dh_1", "index"),
        ("dh_2/dz_2", "simplified"),
        ("dz_3/dh_2", "matrix"),
        ("dh_2/dW_2", "index"),
        (r"\frac{\partial h^3}{\partial W^3_{1,1}}", "simplified"),
        (r"\frac{\partial h^2_{1,1}}{\partial W^2_{1,j}}", "index"),
        ("dh_2[1]/dh_1[j]", "index"),
    ],
)
def test_printed_local_partials_read_back(target: str, form: str) -> None:
    """What derive prints for a local partial, given back to verify as the answer, is the same derivative."""
    net = sbp.load("specs/relu_4321_exercise.yaml")
    printed = net.derive().target(target).latex(form)
    answer = printed.split(r" \quad")[0]  # the formula, without its index ranges and notes
    result = net.verify(None, answer)  # its left side names the target
    assert result.verdict == "equivalent", (answer, result.feedback)


def test_a_value_with_more_than_two_indices_is_a_row_of_matrices() -> None:
    doc = sbp.load("specs/relu_4321_exercise.yaml").render("md", sections=["questions"])
    assert (
        r"= \begin{bmatrix} \begin{bmatrix} 0.475 & 0.675 & 0.2 \\ 0 & 0 & 0 \end{bmatrix} & "
        r"\begin{bmatrix} 0 & 0 & 0 \\ 0.475 & 0.675 & 0.2 \end{bmatrix} \end{bmatrix}" in doc
    )  # question 9, by j


@pytest.mark.parametrize("spec", EXERCISES)
def test_every_form_an_exercise_prints_reads_back(spec: str) -> None:
    """A sheet's checks read back what its questions print (LaTeX): every form of every question's target."""
    net = sbp.load(spec)
    for _, targets in net.questions():
        for target in targets:
            for form in ("chain", "matrix", "index", "simplified"):
                printed = target.latex(form)
                if form == "chain" and target.bare_chain:  # one partial: its left side alone, no formula to read
                    assert printed == target.lhs_latex("chain")
                    continue
                result = net.verify(target.name, printed)
                assert result.verdict == "equivalent", (target.name, form, printed, result.feedback)


# --- the softmax + multiclass hinge exercise ------------------------------------------------------------------


def test_the_softmax_hinge_exercise_agrees_with_torch_multimarginloss() -> None:
    """The exercise's loss, dL/dp, delta and gradients on its own data, against torch.nn.MultiMarginLoss (which
    divides each sample's sum by the number of classes; the spec's loss does not) through torch's softmax; the
    data sit away from the hinge's kinks (every margin term strictly active)."""
    torch = pytest.importorskip("torch")
    net = sbp.load(HINGE)
    data = net.data()
    w = torch.tensor(data["W_1"], requires_grad=True)
    b = torch.tensor(data["b_1"], requires_grad=True)
    s = w @ torch.tensor(data["x"]) + b
    s.retain_grad()
    p = torch.softmax(s, dim=0)
    p.retain_grad()
    classes = torch.tensor(data["y"].argmax(axis=0))
    loss = torch.nn.MultiMarginLoss(margin=1.0, reduction="sum")(p.T, classes) * p.shape[0]
    loss.backward()
    out = net.gradient_fn()(data)
    assert out["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(net.evaluate("dL/dp"), p.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(out["delta"]["delta_1"], s.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(out["grad"]["W_1"], w.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(out["grad"]["b_1"], b.grad.numpy(), rtol=1e-10, atol=1e-14)
    p_ = p.detach().numpy()
    margins = p_ - p_[classes.numpy(), np.arange(p_.shape[1])] + 1
    assert margins[data["y"] == 0].min() > 0.4  # away from every kink, as the spec's description says
    assert net.gradcheck().ok


def test_the_softmax_hinge_exercise_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", HINGE, "--questions"]) == 0
    out = capsys.readouterr().out
    assert "Question 2: The softmax Jacobian" in out
    assert "dp[j,n]/do_1[k,n] = ([j = k] - p[k,n])*p[j,n]   for j = 1..3, n = 1..N, k = 1..3" in out  # o: scores
    assert "dL/dW_1[2,1] = sum_{n=1}^{N}(delta_1[2,n]*x[1,n])" in out
    assert main(["numeric", HINGE, "--json", "--target", "dp_j/do_k", "--target", "dL/dp"]) == 0
    step = json.loads(capsys.readouterr().out)["steps"][0]
    assert step["targets"]["dL/dp"] == [[1, 1], [-2, 1], [1, -2]]  # 1 for every other unit, -2 for the class's
    jacobian = np.array(step["targets"]["dp[j,n]/ds_1[k,n]"])  # the engine's name; axes (j, n, k), one level each
    assert jacobian.shape == (3, 2, 3)
    np.testing.assert_allclose(np.moveaxis(jacobian, 1, 0), sbp.load(HINGE).evaluate("dp/ds_1"), rtol=1e-12)
    assert main(["numeric", HINGE, "--target", "dp/do_1"]) == 0
    text = capsys.readouterr().out
    assert "dp/do_1 [1,:,:] = [ " in text and "dp/do_1 [2,:,:] = [ " in text  # one Jacobian per sample
    assert main(["render", HINGE, "--format", "md", "--sections", "questions"]) == 0
    assert "### 6" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("target", "answer", "verdict"),
    [
        ("1", "1 - 3 y", "equivalent"),  # margin 1 after a softmax: every other unit's term is active
        ("1", "1 - y", "different"),
        ("3", r"p \odot ((1 - 3y) - \mathbf{1}_3 \mathbf{1}_3^T ((1 - 3y) \odot p))", "equivalent"),
        ("4", r"\delta_1 x^T", "equivalent"),
        ("4", r"x \delta_1^T", "different"),
        ("5", r"\delta_1 \mathbf{1}_N", "equivalent"),
        ("6", r"\sum_n \delta^{(1)}_{2,n} x_{1,n}", "equivalent"),
        ("6", r"\sum_n \delta^{(1)}_{1,n} x_{2,n}", "different"),
    ],
)
def test_the_softmax_hinge_exercise_grades_answers(target: str, answer: str, verdict: str) -> None:
    result = sbp.load(HINGE).verify(target, answer)
    assert result.verdict == verdict, result.feedback


@pytest.mark.parametrize(
    ("spec", "target", "written"),
    [
        ("specs/square_221_exercise.yaml", r"\frac{\partial y}{\partial net^{(2)}}", "dy/dnet^(2)"),
        ("specs/relu_4321_exercise.yaml", "dh_2/dz_2", "dh^2/dz^2"),
        (HINGE, "dp_j/do_k", "dp[j,n]/do_1[k,n]"),
        (HINGE, "dL/dp", "dL/dp"),  # the loss by the output: one step too
    ],
)
def test_a_single_partial_writes_its_chain_form_once(
    spec: str, target: str, written: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Between neighbours the chain has one factor, the partial itself: no `lhs = lhs` in text, LaTeX, JSON or
    a document; the text says why, a document leaves the form out and says so."""
    found = sbp.load(spec).derive().target(target)
    lhs = found.lhs_latex("chain")
    assert found.bare_chain and found.latex("chain") == lhs
    assert found.text("chain") == f"{written}   ({sbp.api.BARE_CHAIN})"
    assert main(["derive", spec, "--target", target, "--form", "chain"]) == 0
    assert capsys.readouterr().out == found.text("chain") + "\n"
    assert main(["derive", spec, "--target", target, "--form", "chain", "--format", "latex"]) == 0
    assert f"{lhs} &= " not in capsys.readouterr().out
    assert main(["derive", spec, "--target", target, "--form", "all", "--format", "json"]) == 0
    forms = json.loads(capsys.readouterr().out)["targets"][0]["forms"]
    assert forms["chain"]["latex"] == lhs and forms["matrix"]["latex"].startswith(f"{found.lhs_latex()} = ")
    doc = sbp.load(spec).render("md", sections=["questions"])
    assert f"{lhs} = {lhs}" not in doc and "A derivative between neighbours is a single partial, one step" in doc
    alone = sbp.load(spec).render("md", sections=["questions"], forms=["chain"])
    assert f"{lhs} = {lhs}" not in alone and "No chain rule for this target: it is a single partial (one step)" in alone
    assert not sbp.load("specs/relu_4321_exercise.yaml").derive().target("dh_2/dh_1").bare_chain  # two steps
