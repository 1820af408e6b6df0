"""Targets beyond every delta and every dL/dW: dL/d<any named value>, single entries and rows of a
target, read in every spelling, in every form and format, with numbers checked independently."""

from __future__ import annotations

import json

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.api import EntryTarget
from symbackprop.cli import main
from symbackprop.targetref import Spelling, TargetSyntaxError, parse_target

FORMS = ("chain", "symbolic", "simplified", "matrix", "index")


@pytest.mark.parametrize(
    ("text", "bottom", "top", "delta"),
    [
        ("dL/dz_2", Spelling("z_2"), None, False),
        ("dL/dW_3[1,1]", Spelling("W_3", ("1", "1")), None, False),
        ("delta_1[2,n]", Spelling("delta_1", ("2", "n")), None, True),
        (r"\frac{\partial l}{\partial W^{(3)}_{1,1}}", Spelling("W_3", ("1", "1")), None, False),
        (r"\frac{\partial \mathcal{L}}{\partial W^{3}_{1,2}}", Spelling("W_3", ("1", "2")), None, False),
        (r"\delta^{(1)}_{2,n}", Spelling("delta_1", ("2", "n")), None, True),
        (r"\partial E / \partial y_{out}", Spelling("y_out"), None, False),
        ("dz_2/ds_2", Spelling("s_2"), Spelling("z_2"), False),
        (r"\frac{\partial s^{(3)}}{\partial z^{(2)}}", Spelling("z_2"), Spelling("s_3"), False),
    ],
)
def test_target_spellings_are_read_before_any_network(
    text: str, bottom: Spelling, top: Spelling | None, delta: bool
) -> None:
    ref = parse_target(text)
    assert bottom in ref.bottom
    assert (ref.top is None) == (top is None) and (top is None or top in ref.top)
    assert ref.delta == delta


@pytest.mark.parametrize("text", ["", "dL/dW_1[1;2]", "x" * 400])
def test_what_is_no_target(text: str) -> None:
    with pytest.raises(TargetSyntaxError):
        parse_target(text)


def test_derivatives_by_any_named_value_are_written_through_deltas() -> None:
    der = sbp.load("specs/relu_4321.yaml").derive()
    z2 = der.target("dL/dz_2")
    assert (z2.kind, z2.shape, z2.value) == ("adjoint", (2, "N"), "z_2")
    assert z2.text() == "dL/dz_2 = W_3^T delta_3"
    assert z2.text("chain") == "dL/dz_2 = [dL/dh_3 · dh_3/ds_3]_delta_3 · ds_3/dz_2"
    assert z2.text("symbolic") == "dL/dz_2 = W_3^T ((h_3 - y) ⊙ f_3'(s_3))"
    assert z2.text("index") == "dL/dz_2[j,n] = W_3[j]*delta_3[n]   for j = 1..2, n = 1..N"
    assert z2.latex() == r"\frac{\partial \mathcal{L}}{\partial z_{2}} = W_{3}^{\top} \delta_{3}"
    assert der.target("dL/dx").text() == "dL/dx = W_1^T delta_1"
    assert der.target("dL/dh_3").text() == "dL/dh_3 = h_3 - y"
    assert der.target("dL/dz_3") is der.target("dL/dh_3")  # the output alias and its own name
    assert der.target("dL/ds_2") is der.delta("2")
    assert der.target(r"\frac{\partial E}{\partial z_{1}}").name == "dL/dz_1"


def test_one_entry_is_written_entry_by_entry() -> None:
    der = sbp.load("specs/relu_4321.yaml").derive()
    entry = der.target("dL/dW_3[1,2]")
    assert isinstance(entry, EntryTarget) and entry.name == "dL/dW_3[1,2]"  # a weight keeps both indices
    assert entry.text() == "dL/dW_3[1,2] = sum_{n=1}^{N}(delta_3[n]*z_2[2,n])"
    assert entry.text("chain") == "dL/dW_3[1,2] = [dL/dh_3 · dh_3/ds_3]_delta_3 · ds_3/dW_3[1,2]"
    assert entry.latex() == (
        r"\frac{\partial \mathcal{L}}{\partial W^{(3)}_{1,2}} = \sum_{n=1}^{N} "
        r"\delta^{(3)}_{n} z^{(2)}_{2,n}"
    )
    row = der.target("delta_1[2,n]")
    assert row.shape == (1, "N")
    assert row.text("simplified") == "delta_1[2,n] = [s_1[2,n] > 0]*sum_{k=1}^{2}(W_2[k,2]*delta_2[k,n])   for n = 1..N"
    assert der.target(r"\frac{\partial l}{\partial W^{(1)}_{2,3}}").name == "dL/dW_1[2,3]"
    assert der.target("dL/dz_2[1]").name == "dL/dz_2[1,n]"  # one index of a per-sample value: the unit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dL/dW_9", "unknown target 'dL/dW_9'"),
        ("dL/dy", "known: delta_3"),
        ("dL/dW_1[4,1]", "index 4 is out of range"),
        ("dL/dW_1[1]", "takes 2 index(es), not 1"),
        ("dL/dW_1[j,j]", "different index letters"),
    ],
)
def test_unknown_targets_say_what_is_known(text: str, message: str) -> None:
    with pytest.raises(sbp.UnknownTarget, match=message.replace("(", r"\(").replace(")", r"\)")):
        sbp.load("specs/relu_4321.yaml").derive().target(text)


def _relu_4321_loss(values: dict[str, np.ndarray], at: str | None = None, value: np.ndarray | None = None) -> float:
    """The exercise's forward pass by hand (out_in, columns); `at` replaces one named value by `value`."""

    def put(name: str, computed: np.ndarray) -> np.ndarray:
        return value if name == at else computed

    x = put("x", values["x"])
    z1 = put("z_1", np.maximum(put("s_1", values["W_1"] @ x + values["b_1"]), 0))
    z2 = put("z_2", np.maximum(put("s_2", values["W_2"] @ z1 + values["b_2"]), 0))
    out = put("h_3", put("s_3", values["W_3"] @ z2 + values["b_3"]))
    return float(0.5 * np.sum((out - values["y"]) ** 2))


def _forward_values(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    s1 = values["W_1"] @ values["x"] + values["b_1"]
    z1 = np.maximum(s1, 0)
    s2 = values["W_2"] @ z1 + values["b_2"]
    z2 = np.maximum(s2, 0)
    s3 = values["W_3"] @ z2 + values["b_3"]
    return {"s_1": s1, "z_1": z1, "s_2": s2, "z_2": z2, "s_3": s3, "h_3": s3}


def _difference(values: dict[str, np.ndarray], name: str, index: tuple[int, int], step: float = 1e-6) -> float:
    """dL/d(name)[index] by central differences of the hand-written forward pass."""
    base = values[name] if name in values else _forward_values(values)[name]
    plus, minus = base.copy(), base.copy()
    plus[index] += step
    minus[index] -= step
    leaf = name in values
    loss = (lambda v: _relu_4321_loss({**values, name: v})) if leaf else (lambda v: _relu_4321_loss(values, name, v))
    return (loss(plus) - loss(minus)) / (2 * step)


@pytest.mark.parametrize(
    "target",
    [
        "dL/dz_1",
        "dL/dz_2",
        "dL/dh_3",
        "dL/dx",
        "dL/ds_1",
        "dL/dW_3[1,1]",
        "dL/dW_3[1,2]",
        "dL/dW_2[2,j]",
        "delta_1[2,n]",
        "dL/dz_2[1]",
        "dL/db_1[3]",
    ],
)
def test_values_agree_with_finite_differences_of_a_hand_written_forward_pass(target: str) -> None:
    net = sbp.load("specs/relu_4321.yaml")
    rng = np.random.default_rng(5)
    values = {name: rng.normal(size=array.shape) for name, array in net.data().items()}
    values["x"] = rng.normal(size=(4, 3))  # three samples, so that the sample index matters
    values["y"] = rng.normal(size=(1, 3))
    found = net.derive().target(target)
    base = found.base if isinstance(found, EntryTarget) else found
    name = {"gradient": base.key, "delta": f"s_{base.key}"}.get(base.kind, base.key)
    full = net.evaluate(base, values)
    expected = np.array(
        [[_difference(values, name, (i, j)) for j in range(full.shape[1])] for i in range(full.shape[0])]
    )
    np.testing.assert_allclose(full, expected, rtol=1e-6, atol=1e-8)
    picked = net.evaluate(found, values)
    if isinstance(found, EntryTarget):
        rows, cols = (slice(None) if not str(i).isdigit() else slice(int(i), int(i) + 1) for i in found.entry)
        np.testing.assert_allclose(picked, expected[rows, cols], rtol=1e-6, atol=1e-8)


def test_dl_dx_of_an_autoencoder_counts_the_target_too() -> None:
    net = sbp.load("specs/recurrent_autoencoder_small.yaml")
    assert net.derive().target("dL/dx").text("simplified").endswith("+ 2 (x - y)")
    result = net.gradcheck(random=True, targets=["dL/dx", "dL/dz_rec^(1)", "delta_link", "dL/dW_rec[1,2]"])
    assert result.ok, result.report()
    assert set(result.parameters) == {"dL/dx", "dL/dz_rec^(1)", "delta_link", "dL/dW_rec[1,2]"}
    assert result.parameters["dL/dW_rec[1,2]"].checked == 1


def test_every_new_target_is_in_derive_in_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "derive",
                "specs/relu_4321.yaml",
                "--target",
                "dL/dz_2",
                "--target",
                "dL/dW_3[1,1]",
                "--form",
                "all",
                "--format",
                "json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert [(t["target"], t["kind"]) for t in doc["targets"]] == [("dL/dz_2", "adjoint"), ("dL/dW_3[1,1]", "entry")]
    assert set(doc["targets"][0]["forms"]) == set(FORMS)
    assert (
        main(["derive", "specs/relu_4321.yaml", "--target", r"\frac{\partial l}{\partial z_{1}}", "--format", "latex"])
        == 0
    )
    assert r"\frac{\partial \mathcal{L}}{\partial z_{1}} &= W_{2}^{\top} \delta_{2}" in capsys.readouterr().out
    assert main(["derive", "specs/relu_4321.yaml", "--target", "dL/dW_1[5,1]"]) == 2
    assert "index 5 is out of range" in capsys.readouterr().err


def test_numeric_shows_asked_targets_and_each_samples_loss(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["numeric", "specs/mlp.yaml", "--steps", "2", "--target", "dL/dz_1", "--target", "dL/dW[1,2]", "--json"])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    net = sbp.load("specs/mlp.yaml")
    first = doc["steps"][0]
    np.testing.assert_allclose(first["targets"]["dL/dz_1"], net.evaluate("dL/dz_1"))
    assert first["targets"]["dL/dW[1,2]"] == [[first["grad"]["W"][0][1]]]
    assert len(first["loss_per_sample"]) == 4 and sum(first["loss_per_sample"]) == pytest.approx(first["loss"])
    assert main(["numeric", "specs/mlp.yaml", "--target", "dL/dz_1"]) == 0
    text = capsys.readouterr().out
    assert "per sample: 0.4066, 0.4888, 0.5653, 0.5060 (L is their sum)" in text
    assert "Asked for\n    dL/dz_1 = [ -0.0179" in text
    assert main(["numeric", "specs/mlp.yaml", "--target", "dL/dq"]) == 2


def test_gradcheck_checks_the_asked_targets(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["gradcheck", "specs/mlp.yaml", "--target", "dL/dz_1", "--target", "delta_out[1,2]", "--target", "dL/dx"])
        == 0
    )
    report = capsys.readouterr().out
    assert "dL/dz_1" in report and "delta_out[2]" in report and "verdict: ok" in report


@pytest.mark.parametrize(
    ("target", "answer", "verdict"),
    [
        ("dL/dz_2", r"W_3^\top \delta_3", "equivalent"),
        ("dL/dz_2", r"\left(W_3^T \delta_3\right) \odot f_2'(s_2)", "different"),  # that is delta_2
        ("dL/dz_2", r"W_3 \delta_3", "different"),
        (None, r"\frac{\partial L}{\partial z_1} = W_2^T \delta_2", "equivalent"),
        ("dL/dx", r"W_1^T \delta_1", "equivalent"),
        ("dL/dh_3", "h_3 - y", "equivalent"),
        ("dL/dh_3", "y - h_3", "different"),
        ("dL/dW_3[1,1]", r"\delta_3 z^{(2)}_{1}", "equivalent"),
        ("dL/dW_3[1,1]", r"\delta_3 z^{(2)}_{2}", "different"),
        (None, r"\frac{\partial L}{\partial W^{(3)}_{1,1}} = \delta_3 z^{(2)}_1", "equivalent"),
        (None, r"\frac{\partial L}{\partial W^{(3)}_{1,1}} = \delta_3 s^{(2)}_1", "different"),
        ("dL/dz_2[1]", r"W^{(3)}_{1} \delta_3", "equivalent"),
        ("delta_1[2,n]", r"\sum_k W^{(2)}_{k,2} \delta^{(2)}_{k,n} [s^{(1)}_{2,n} > 0]", "equivalent"),
        ("delta_1[2,n]", r"\sum_k W^{(2)}_{k,2} \delta^{(2)}_{k,n}", "different"),  # relu' dropped
    ],
)
def test_verify_grades_answers_for_values_and_entries(target: str | None, answer: str, verdict: str) -> None:
    assert sbp.load("specs/relu_4321.yaml").verify(target, answer).verdict == verdict


def test_feedback_on_a_wrong_entry_names_the_entry_it_is() -> None:
    result = sbp.load("specs/relu_4321.yaml").verify("dL/dW_3[1,1]", r"\delta_3 z^{(2)}_{2}")
    assert result.feedback[0] == "this is entry (1, 2) of dL/dW_3, not entry (1, 1)"
    result = sbp.load("specs/relu_4321.yaml").verify("dL/dW_3[1,1]", r"dL/dW_3[1,2] = \delta_3 z^{(2)}_{2}")
    assert result.feedback == ("the left side is dL/dW_3 entry (1, 2), but the target is dL/dW_3[1,1]",)


@pytest.mark.parametrize("spec", ["specs/mlp.yaml", "specs/recurrent_autoencoder_small.yaml"])
def test_every_printed_form_of_the_new_targets_reads_back(spec: str) -> None:
    net = sbp.load(spec)
    der = net.derive()
    values = [node.name for node in net.graph.nodes if node.role in ("activation", "input")]
    last = der.targets[0]
    names = [f"dL/d{values[0]}", f"dL/d{values[-1]}", f"{last.name}[1,1]", f"{der.targets[-1].name}[1,1]"]
    for name in names:
        target = der.target(name)
        for form in FORMS:
            if form == "chain" and target.bare_chain:  # dL/d(output): one partial, printed once, not a formula
                assert target.latex(form) == target.lhs_latex(form) and " = " not in target.text(form)
                continue
            for line in (target.text(form), target.latex(form)):
                result = net.verify(target.name, line)
                assert result.verdict == "equivalent", (line, result.feedback)


def test_an_unknown_target_lists_at_most_ten_of_each_kind() -> None:
    layers = [{"name": str(k), "units": 2, "activation": "tanh"} for k in range(1, 15)]
    net = sbp.load(
        {
            "name": "deep",
            "input": {"name": "x", "size": 2},
            "target": {"name": "y", "size": 2},
            "layers": layers,
            "loss": "half_squared_error",
        }
    )
    with pytest.raises(sbp.UnknownTarget) as caught:
        net.derive().target("dL/dq")
    message = str(caught.value)
    assert (
        "known: delta_14, dL/dW_14, dL/db_14, delta_13, dL/dW_13, dL/db_13, delta_12, dL/dW_12, dL/db_12, "
        "delta_11, ... (42 in all); also dL/d<value> for x, z_1, z_2, z_3, z_4, z_5, z_6, z_7, z_8, z_9, ... "
        "(15 in all), and entries like dL/db_1[1,1]" in message
    )
    assert len(message) < 400
    short = sbp.load("specs/relu_4321.yaml")
    with pytest.raises(
        sbp.UnknownTarget,
        match=r"known: delta_3, dL/dW_3, dL/db_3, delta_2, dL/dW_2, dL/db_2, "
        r"delta_1, dL/dW_1, dL/db_1; also",
    ):
        short.derive().target("dL/dq")  # nine: all of them, no "..."
