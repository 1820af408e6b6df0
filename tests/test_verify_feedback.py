"""The feedback catalogue: each kind of mistake, made on purpose, is named by its sentence, with
its partial credit; shapes are checked first; scalar chains, generic activations and softmax
are graded too."""

from __future__ import annotations

import json
from functools import cache

import pytest

import symbackprop as sbp
from symbackprop.verify import Verifier

SCALAR_CHAIN = {
    "name": "scalar chain",
    "input": {"name": "x", "size": 1},
    "target": {"name": "y", "size": 1},
    "layers": [
        {"name": "1", "units": 1, "activation": "sigmoid", "bias": False, "weight": "w_1"},
        {"name": "2", "units": 1, "activation": "tanh", "bias": False, "weight": "w_2"},
    ],
    "loss": "half_squared_error",
}
GENERIC = {
    "name": "generic",
    "input": {"name": "x", "size": 2},
    "target": {"name": "y", "size": 2},
    "convention": {"weights": "in_out", "samples": "rows"},
    "layers": [
        {"name": "1", "units": 3, "activation": {"function": "g"}},
        {"name": "2", "units": 2, "activation": {"function": "h"}},
    ],
    "loss": "half_squared_error",
}
SOFTMAX = {
    "name": "softmax",
    "input": {"name": "x", "size": 3},
    "target": {"name": "y", "size": 3},
    "layers": [{"name": "1", "units": 4, "activation": "tanh"}, {"name": "out", "units": 3, "activation": "softmax"}],
    "loss": "cross_entropy",
}
SPECS = {"scalar": SCALAR_CHAIN, "generic": GENERIC, "softmax": SOFTMAX}


@cache
def verifier(spec: str) -> Verifier:
    return Verifier(sbp.load(SPECS.get(spec, spec)))


CATALOGUE = [
    (
        "specs/mlp.yaml",
        "delta_out",
        "(y - y_out) ⊙ f_out'(s_out)",
        "sign",
        "the sign is flipped: the output delta is delta_out = (y_out - y) ⊙ f_out'(s_out), "
        "not (y - y_out) ⊙ f_out'(s_out)",
    ),
    (
        "specs/mlp.yaml",
        "delta_1",
        "w delta_out",
        "fprime_missing",
        "the activation's derivative f_1'(s_1) is missing: delta_1 = (w delta_out) ⊙ f_1'(s_1), not w delta_out",
    ),
    (
        "specs/mlp.yaml",
        "delta_1",
        "(w delta_out) ⊙ relu(s_1)",
        "f_for_fprime",
        "the activation f_1(s_1) where its derivative f_1'(s_1) belongs",
    ),
    (
        "specs/relu_4321.yaml",
        "dL/dW_2",
        "delta_2 s_1^T",
        "variable",
        "the pre-activation s_1 where the activation z_1 belongs: dL/dW_2 = delta_2 z_1^T, not delta_2 s_1^T",
    ),
    (
        "specs/mlp.yaml",
        "delta_out",
        "(y_out - y) ⊙ (1 - y ⊙ y)",
        "target_output",
        "the target y where the output y_out belongs",
    ),
    (
        "specs/skip_connection.yaml",
        "dL/dW_1",
        "delta_2 x^T",
        "layer_index",
        "a layer (or cycle) index is off by one: delta_2 where delta_1 belongs",
    ),
    (
        "specs/recurrent_autoencoder_small.yaml",
        "delta_rec^(1)",
        "(delta_rec^(2) W_rec^T) ⊙ [s_rec^(1) > 0]",
        "transpose",
        "a transposed factor: W_rec^T where W_rec belongs",
    ),
    (
        "specs/recurrent_autoencoder_small.yaml",
        "dL/dW_rec",
        "(delta_rec^(2))^T (z_in + z_rec^(2)) + (delta_rec^(1))^T z_in",
        "layer_index",
        "a layer (or cycle) index is off by one: z_rec^(2) where z_rec^(1) belongs",
    ),
    (
        "specs/recurrent_autoencoder_small.yaml",
        "dL/dW_link",
        "z_reduce^T delta_link",
        "transpose_result",
        "the result is transposed: dL/dW_link = delta_link^T z_reduce",
    ),
    (
        "specs/recurrent_autoencoder_small.yaml",
        "delta_out",
        "(y - x) ⊙ f_out'(s_out)",
        "factor",
        "the factor 2 is missing: the squared error sum (y - x)^2 has dL/dy = 2 (y - x)",
    ),
    ("specs/mlp.yaml", "dL/dW", "2 x delta_1^T", "factor", "an extra factor 2"),
    (
        "specs/skip_connection.yaml",
        "delta_out",
        "(y_out - y) ⊙ f_out'(s_out)",
        "factor",
        "the factor 1/N of the mean is missing",
    ),
    (
        "specs/recurrent_autoencoder_small.yaml",
        "dL/db_rec",
        "1_N^T delta_rec^(2)",
        "term_missing",
        "a term is missing (1_N^T delta_rec^(1))",
    ),
    (
        "scalar",
        "dL/dw_1",
        r"(y_{out} - y) (1 - y_{out}^2) \sigma'(s_1) x",
        "weight_missing",
        "the weight factor w_2^T is missing",
    ),
    ("scalar", "dL/dw_2", r"(y_{out} - y) (1 - y_{out}^2) z_1 w_1", "weight_extra", "an extra weight factor w_1"),
]


@pytest.mark.parametrize(("spec", "target", "answer", "kind", "sentence"), CATALOGUE)
def test_each_mistake_is_named(spec: str, target: str, answer: str, kind: str, sentence: str | None) -> None:
    result = verifier(spec).verify(target, answer)
    assert result.verdict == "different"
    assert kind in [c.mistake for c in result.partial_credit], result.partial_credit
    if sentence is not None:
        assert any(sentence in s for s in result.feedback), result.feedback
    assert 0 < result.score < 1


def test_two_mistakes_at_once() -> None:
    result = verifier("specs/mlp.yaml").verify("delta_1", "-w delta_out")
    assert result.partial_credit[0].mistake == "sign+fprime_missing"
    assert len(result.feedback) == 2 and result.feedback[0].startswith("the sign is flipped")
    assert result.score == pytest.approx(0.75 * 0.5)


def test_shapes_come_first() -> None:
    result = verifier("specs/mlp.yaml").verify("dL/dW", "z_1 delta_1")
    assert result.verdict == "different" and result.score == 0
    assert result.feedback == ("z_1 delta_1 is 3xN times 3xN: the sizes do not fit",)  # no repair is right
    assert verifier("specs/mlp.yaml").verify("dL/dW", "x delta_1").feedback == (
        "x delta_1 is 2xN times 3xN: the sizes do not fit; did you mean x delta_1^T?",
    )
    assert verifier("specs/mlp.yaml").verify("dL/dW", r"x^T \delta_1").feedback == (  # delta_1 x^T is 3x2: no
        "x^T \\delta_1 is Nx2 times 3xN: the sizes do not fit",
    )
    v = verifier("specs/relu_4321.yaml")
    assert v.verify("dL/dW_1", "delta_1 z_1^T").feedback == (
        "your answer is 3x3, but dL/dW_1 is 3x4 (the size of W_1)",
    )
    assert "3x1 times 3x1" in v.verify("dL/dW_1", "z_1 delta_1").feedback[0]  # one sample: N is 1
    assert "⊙ needs two matrices of one size" in v.verify("delta_2", "W_3^T delta_3 ⊙ f_1'(s_1)").feedback[0]
    assert "only matrices of one size add" in v.verify("delta_3", "h_3 - x").feedback[0]


def test_no_mutation_matches_then_say_what_differs() -> None:
    v = verifier("specs/mlp.yaml")
    result = v.verify("dL/dW", "x delta_1^T + x 1_N 1_3^T")
    assert result.verdict == "different" and result.partial_credit == () and result.score == 0
    assert result.feedback[-1].startswith("it differs from dL/dW at the test points")
    assert "dL/dW = x delta_1^T" in result.feedback[-1]
    assert v.verify("dL/dW", "3 x delta_1^T").feedback[0].startswith("your answer is 3 times dL/dW")
    assert "not finite" in v.verify("dL/dW", "x log(-1 - z_1 ⊙ z_1)^T").feedback[0]


def test_dependence_sentences_when_no_mutation_matches() -> None:
    v = verifier("specs/mlp.yaml")
    assert (
        v.verify("delta_out", "(y_out - 1) ⊙ (1 - y_out^2)").feedback[0]
        == "your answer does not depend on y, but delta_out does"
    )
    mixed = v.verify("delta_out", "(y_out - y) ⊙ (1 - y_out^2) + W[1,1]")
    assert mixed.verdict == "unreadable"
    assert mixed.feedback[0].startswith(
        "(y_out - y) ⊙ (1 - y_out^2) + W[1,1] mixes index notation with whole "
        "matrices ((y_out - y) ⊙ (1 - y_out^2) needs indices)"
    )


def test_a_named_activation_of_another_layer_is_pointed_out() -> None:
    result = verifier("specs/relu_4321.yaml").verify("delta_1", r"(W_2^T \delta_2) \odot \sigma'(s_1)")
    assert result.feedback[0] == "\\sigma' is the derivative of sigmoid, but layer 1's activation is relu: write f_1'"


def test_json_has_the_fields_of_the_interface() -> None:
    result = verifier("specs/mlp.yaml").verify("dL/dW", "-x delta_1^T")
    doc = json.loads(result.to_json())
    assert {"target", "equivalent", "expected", "answer", "feedback", "verdict", "partial_credit", "score"} <= set(doc)
    assert doc["expected"] == r"x \delta_{1}^{\top}" and doc["answer"] == r"- x \delta_{1}^{\top}"
    assert doc["partial_credit"][0] == {"mistake": "sign", "credit": 0.75, "feedback": doc["feedback"][0]}
    unreadable = json.loads(verifier("specs/mlp.yaml").verify("dL/dW", "x $ \\input{x} & }").to_json())
    assert unreadable["verdict"] == "unreadable" and unreadable["position"] == 4
    assert unreadable["answer"] == r"\text{x \$ \textbackslash{}input\{x\} \& \}}"


def test_scalar_chain_in_scalars() -> None:
    v = verifier("scalar")
    for answer in (
        r"(y_{out} - y) (1 - y_{out}^2) w_2 \sigma'(s_1) x",
        r"(y_out - y) \cdot (1 - y_out^2) \cdot w_2 \cdot z_1 (1 - z_1) \cdot x",
        r"\delta_1 x",
    ):
        assert v.verify("dL/dw_1", answer).equivalent, answer


def test_generic_activations_get_consistent_stand_ins() -> None:
    v = verifier("generic")
    assert v.verify("delta_1", "(delta_2 W_2^T) ⊙ g'(s_1)").equivalent
    assert v.verify("delta_1", "(delta_2 W_2^T) ⊙ f_1'(s_1)").equivalent
    assert v.verify("dL/dW_1", "x^T ((delta_2 W_2^T) ⊙ g'(s_1))").equivalent
    wrong = v.verify("delta_1", "(delta_2 W_2^T) ⊙ g(s_1)")
    assert wrong.partial_credit[0].mistake == "f_for_fprime"
    assert not v.verify("delta_1", "(delta_2 W_2^T) ⊙ h'(s_1)").equivalent


def test_softmax_with_cross_entropy() -> None:
    v = verifier("softmax")
    assert v.verify("delta_out", "y_out - y").equivalent
    assert v.verify("delta_out", "y - y_out").feedback[0] == (
        "the sign is flipped: the output delta is delta_out = y_out - y, not y - y_out"
    )
    assert v.verify("delta_1", r"(W_{out}^\top \delta_{out}) \odot (1 - z_1 \odot z_1)").equivalent


def test_index_notation_needs_to_say_which_entry() -> None:
    v = verifier("specs/mlp.yaml")
    assert v.verify("dL/dW", r"\sum_{n=1}^{N} \delta^{(1)}_{j,n} x_{i,n}").equivalent  # the index form's own names
    result = v.verify("dL/dW", r"\sum_{n=1}^{N} \delta^{(1)}_{a,n} x_{b,n}")
    assert result.verdict == "unreadable" and "which entry" in result.feedback[0]
    named = r"\frac{\partial L}{\partial W_{b,a}} = \sum_{n=1}^{N} \delta^{(1)}_{a,n} x_{b,n}"
    assert v.verify("dL/dW", named).equivalent
    assert "runs to 3" in v.verify("dL/dW", r"\sum_{n=1}^{3} \delta^{(1)}_{j,n} x_{i,n}").feedback[0]
