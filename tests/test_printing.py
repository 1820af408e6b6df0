"""Exact strings from the LaTeX and text printers, in the course's symbols."""

from __future__ import annotations

import pytest
from sympy import Lambda, MatrixSymbol, Symbol, Transpose, tanh

import symbackprop as sbp
from symbackprop.matexpr import Elementwise, Softmax
from symbackprop.printing import escape_latex, latex_name, to_latex, to_text

N = Symbol("N")


@pytest.mark.parametrize(
    ("name", "latex"),
    [
        ("y_out", "y_{out}"),
        ("delta_1", r"\delta_{1}"),
        ("W_1", "W_{1}"),
        ("x", "x"),
        ("w", "w"),
        ("s_rec_2", r"s_{\text{rec\_2}}"),
        ("delta_a%b", r"\delta_{\text{a\%b}}"),
        ("theta", r"\theta"),
    ],
)
def test_latex_names(name: str, latex: str) -> None:
    assert latex_name(name) == latex


def test_escape_latex_neutralises_specials() -> None:
    assert escape_latex(r"\input{/etc/passwd} 50% $x$ #1 a_b ~^&") == (
        r"\textbackslash{}input\{/etc/passwd\} 50\% \$x\$ \#1 a\_b \textasciitilde{}\textasciicircum{}\&"
    )


def test_matrix_notation() -> None:
    W, x, d = MatrixSymbol("W_1", 3, 2), MatrixSymbol("x", 2, N), MatrixSymbol("delta_1", 3, N)
    assert to_latex(d * x.T) == r"\delta_{1} x^{\top}"
    assert to_latex(d * x.T, transpose="T") == r"\delta_{1} x^{T}"
    assert to_text(W.T * d) == "W_1^T delta_1"
    f = Elementwise("f_1", 1, Lambda(Symbol("x"), 1 - tanh(Symbol("x")) ** 2), d)
    assert to_latex(f) == r"f_{1}'\left(\delta_{1}\right)"
    assert to_text(Softmax(d, 0)) == "softmax(delta_1)"
    assert to_latex(Transpose(W * x)) == r"\left(W_{1} x\right)^{\top}"


SPEC_TEXT = {
    "specs/mlp.yaml": [
        "delta_out = (y_out - y) ⊙ f_out'(s_out)",
        "dL/dw = z_1 delta_out^T",
        "delta_1 = (w delta_out) ⊙ f_1'(s_1)",
        "dL/dW = x delta_1^T",
    ],
    "specs/square_221.yaml": [
        "delta_2 = (y - t) ⊙ f_2'(s_2)",
        "dL/dw_2 = delta_2 z_1^T",
        "delta_1 = (w_2^T delta_2) ⊙ f_1'(s_1)",
        "dL/dW_1 = delta_1 x^T",
    ],
}


@pytest.mark.parametrize("path", sorted(SPEC_TEXT))
def test_matrix_form_text_of_specs(path: str) -> None:
    assert [t.text("matrix") for t in sbp.load(path).derive().targets] == SPEC_TEXT[path]


def test_latex_forms_of_mlp() -> None:
    der = sbp.load("specs/mlp.yaml").derive()
    assert der.forward_latex() == [
        r"s_{1} = W^{\top} x",
        r"z_{1} = f_{1}\left(s_{1}\right)",
        r"s_{out} = w^{\top} z_{1}",
        r"y_{out} = f_{out}\left(s_{out}\right)",
        r"\mathcal{L} = \sum \frac{\left(y_{out} - y\right)^{2}}{2}",
    ]
    assert der.grad("W").latex() == r"\frac{\partial \mathcal{L}}{\partial W} = x \delta_{1}^{\top}"
    assert der.grad("W").latex("symbolic") == (
        r"\frac{\partial \mathcal{L}}{\partial W} = x \left(\left(w \left(\left(y_{out} - y\right) \odot "
        r"f_{out}'\left(s_{out}\right)\right)\right) \odot f_{1}'\left(s_{1}\right)\right)^{\top}"
    )
    assert der.delta("1").latex() == r"\delta_{1} = \left(w \delta_{out}\right) \odot f_{1}'\left(s_{1}\right)"


def test_bias_and_mean_reduction_text() -> None:
    net = sbp.load(
        {
            "name": "b",
            "input": {"size": 2},
            "target": {"size": 2},
            "convention": {"samples": "rows"},
            "layers": [{"name": "1", "units": 2, "activation": "sigmoid"}],
            "loss": {"type": "squared_error", "reduction": "mean"},
        }
    )
    der = net.derive()
    assert der.forward_text()[0] == "s_1 = x W_1^T + 1_N b_1"
    assert der.forward_text()[-1] == "L = sum((y_out - y)**2)/N"
    assert der.delta("1").text() == "delta_1 = (2/N) (y_out - y) ⊙ f_1'(s_1)"
    assert der.delta("1").latex() == r"\delta_{1} = \frac{2}{N} \left(y_{out} - y\right) \odot f_{1}'\left(s_{1}\right)"
    assert der.grad("b_1").text() == "dL/db_1 = 1_N^T delta_1"


def test_escape_latex_needs_no_font_encoding_for_brackets_and_backticks() -> None:
    assert escape_latex("`a` <b> |c|") == (
        r"\textasciigrave{}a\textasciigrave{} \textless{}b\textgreater{} "
        r"\textbar{}c\textbar{}"
    )


@pytest.mark.parametrize(
    ("loss", "latex"),
    [
        ("cross_entropy", r"\mathcal{L} = \sum \left(- y \odot \log{\left(y_{out} \right)}\right)"),
        (
            {"expr": "(y_out - y)**4/4 + log(1 + exp(y_out))"},
            r"\mathcal{L} = \sum \left(\frac{\left(y_{out} - y\right)^{4}}{4} + \log{\left(e^{y_{out}} + 1 \right)}\right)",  # noqa: E501
        ),
        ("half_squared_error", r"\mathcal{L} = \sum \frac{\left(y_{out} - y\right)^{2}}{2}"),
    ],
)
def test_a_loss_sum_brackets_a_formula_of_several_terms(loss, latex: str) -> None:
    net = sbp.load(
        {
            "name": "c",
            "input": {"size": 2},
            "target": {"size": 2},
            "loss": loss,
            "layers": [{"name": "1", "units": 2, "activation": "softmax"}],
        }
    )
    assert net.derive().forward_latex()[-1] == latex
