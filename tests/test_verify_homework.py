"""The formulas of the three homework solutions in ../shared/examples, graded against the specs of
those networks. Each is written in the homework's own notation (indices, superscript layers,
\\cdot and \\times, f'(a), \\frac{dE}{dw}) with the spec's symbols in place of the homework's
letters: square_221 says s_k and z_k for the homework's d/net and a, relu_4321 says s_k, z_k, h_3
for its z^k, h^k, and the autoencoder says s for its a. A right formula must be accepted; a wrong
one rejected with feedback that names its mistake.
"""

from __future__ import annotations

from functools import cache

import pytest

import symbackprop as sbp
from symbackprop.verify import Verifier


@cache
def verifier(spec: str) -> Verifier:
    return Verifier(sbp.load(spec))


SQUARE = "specs/square_221.yaml"  # exercise-square-activation.md
RELU = "specs/relu_4321.yaml"  # exercise-relu-4-3-2-1.md
AUTOENCODER = "specs/recurrent_autoencoder.yaml"  # exercise-recurrent-autoencoder.md, 225-75-225
SMALL = "specs/recurrent_autoencoder_small.yaml"

RIGHT = [
    # square activation: 1.3 c), the deltas and the gradient entries, with sigma'(x) = 2x
    (SQUARE, "delta_2", r"\delta^{(2)} = -(t - y) \cdot f_2'(s_2)"),
    (SQUARE, "delta_2", r"\delta_{1}^{(2)} = -(t_{1} - y_{1}) \cdot 2 s^{(2)}_1"),
    (SQUARE, "delta_1", r"\delta_{j}^{(1)} = \sum_{k=1}^{1} \delta_{k}^{(2)} \cdot w_{kj}^{(2)} \cdot 2 s^{(1)}_{j}"),
    (SQUARE, "delta_1", r"\delta_{1}^{(1)} = \delta_{1}^{(2)} \cdot w_{11}^{(2)} \cdot 2 s^{(1)}_{1}"),
    (SQUARE, "dL/dW_1", r"\frac{\partial L}{\partial W_{ji}^{(1)}} = \delta_j^{(1)} \cdot x_i"),
    (SQUARE, "dL/dw_2", r"\frac{\partial L}{\partial w_{11}^{(2)}} = \delta_1^{(2)} \cdot z_1^{(1)}"),
    (
        SQUARE,
        "dL/dw_2",
        r"\frac{\partial L}{\partial w_{12}^{(2)}} = \delta_1^{(2)} \cdot z_2^{(1)} = 4 \cdot 49 "
        r"= 196",
    ),
    (SQUARE, "dL/dW_1", r"\frac{\partial L}{\partial W_{11}^{(1)}} = \delta_1^{(1)} \cdot x_1 = -80 \cdot 2 = -160"),
    (SQUARE, "dL/dW_1", r"\frac{\partial L}{\partial W_{21}^{(1)}} = \delta_2^{(1)} \cdot x_1 = 56 \cdot 2 = 112"),
    # ReLU 4-3-2-1, questions 1, 2 and 10 (with the missing relu' put back)
    (RELU, "dL/dW_3", r"\frac{\partial l}{\partial W_{1,1}^3} = z_1^{(2)} \times \delta_3"),
    (
        RELU,
        "dL/dW_3",
        r"\frac{\partial l}{\partial W^3} = \begin{bmatrix} z_1^{(2)} \times \delta_3 & "
        r"z_2^{(2)} \times \delta_3 \end{bmatrix}",
    ),
    (RELU, "dL/dW_2", r"\frac{\partial l}{\partial W_{i,j}^{2}} = \delta_3 W_{1,i}^3 [s^{(2)}_{i} > 0] z^{(1)}_{j}"),
    (RELU, "delta_1", r"\delta_1 = (W_2^T \delta_2) \odot ReLU'(s_1)"),
    (
        RELU,
        "dL/dW_1",
        r"\frac{\partial l}{\partial W_1} = \left(\left(W_2^\top \left(W_3^\top \delta_3 \odot "
        r"[s_2 > 0]\right)\right) \odot [s_1 > 0]\right) x^\top",
    ),
    # recurrent autoencoder, 3.2.1-3.2.2, in matrix form (samples in rows, E = sum (x - y)^2)
    (AUTOENCODER, "delta_out", r"\delta_{out} = 2 (y - x) \odot f'(s_{out})"),
    (
        AUTOENCODER,
        "dL/dW_out",
        r"\frac{\mathrm{d}E}{\mathrm{d}W_{out}} = \delta_{out}^{\top} "
        r"(z_{rec}^{(2)} + z_{link})",
    ),
    (
        AUTOENCODER,
        "dL/db_out",
        r"\frac{\partial E}{\partial b^{(out)}_j} = 2 \sum_{n=1}^{N} (y_{n,j} - x_{n,j}) "
        r"f'(s^{(out)}_{n,j}) * 1",
    ),
    (AUTOENCODER, "delta_link", r"\delta_{link} = (\delta_{out} W_{out}) \odot f'(s_{link})"),
    (AUTOENCODER, "dL/dW_link", r"\frac{dE}{dW_{link}} = \delta_{link}^T z_{reduce}"),
    (AUTOENCODER, "delta_rec^(2)", r"\delta_{rec}^{(2)} = (\delta_{out} W_{out}) \odot f'(s_{rec}^{(2)})"),
    (
        AUTOENCODER,
        "dL/dW_rec",
        r"\frac{dE}{dW_{rec}} = {\delta_{rec}^{(2)}}^T (z_{in} + z_{rec}^{(1)}) + "
        r"{\delta_{rec}^{(1)}}^T z_{in}",
    ),
    (
        SMALL,
        "dL/dW_rec",
        r"\frac{\partial E}{\partial W_{rec}} = \frac{\partial E}{\partial s_{rec}^{(2)}} "
        r"\frac{\partial s_{rec}^{(2)}}{\partial W_{rec}} + \frac{\partial E}{\partial s_{rec}^{(1)}} "
        r"\frac{\partial s_{rec}^{(1)}}{\partial W_{rec}}",
    ),
    (SMALL, "delta_in", r"\delta_{in} = (\delta_{rec}^{(2)} W_{rec} + \delta_{rec}^{(1)} W_{rec}) \odot ReLU'(s_{in})"),
]

WRONG = [
    # square: the second entry of a row is written with the first entry's name (w_11 twice, w_21 twice)
    (
        SQUARE,
        "dL/dW_1",
        r"\frac{\partial L}{\partial W_{11}^{(1)}} = \delta_1^{(1)} \cdot x_2 = -80 \cdot 3 = -240",
        "this is entry (1, 2) of dL/dW_1, not entry (1, 1)",
    ),
    (
        SQUARE,
        "dL/dW_1",
        r"\frac{\partial L}{\partial W_{21}^{(1)}} = \delta_2^{(1)} \cdot x_2 = 56 \cdot 3 = 168",
        "this is entry (2, 2) of dL/dW_1, not entry (2, 1)",
    ),
    (SQUARE, "delta_2", r"\delta^{(2)} = (t - y) \cdot 2 s_2", "the sign is flipped"),
    # ReLU, question 10: the derivative of layer 2's relu is missing
    (
        RELU,
        "dL/dW_2",
        r"\frac{\partial l}{\partial W_{i,j}^{2}} = \delta_3 W_{1,i}^3 z^{(1)}_{j}",
        "the activation's derivative f_2'(s_2) is missing",
    ),
    # question 11, the same mistake written out as a matrix
    (
        RELU,
        "dL/dW_2",
        r"\frac{\partial l}{\partial W_2} = \begin{bmatrix} \delta_3 W_{(1,1)}^3 z_1^{(1)} & "
        r"\delta_3 W_{(1,1)}^3 z_2^{(1)} & \delta_3 W_{(1,1)}^3 z_3^{(1)} \\ \delta_3 W_{(1,2)}^3 "
        r"z_1^{(1)} & \delta_3 W_{(1,2)}^3 z_2^{(1)} & \delta_3 W_{(1,2)}^3 z_3^{(1)} \end{bmatrix}",
        "the activation's derivative f_2'(s_2) is missing",
    ),
    # question 15: the input and both relu' are missing
    (
        RELU,
        "dL/dW_1",
        r"\frac{\partial l}{\partial W^1_{(i,j)}} = \sum_{k=1}^{3} \left(\sum_{m=1}^{2} \delta_3 "
        r"W^3_{(1,m)} W^2_{(m,k)} \right)",
        "the index i, j of the left side does not appear on the right",
    ),
    # autoencoder: E = sum (x - y)^2 gives dE/dy = 2 (y - x), not 2 (x - y)
    (
        AUTOENCODER,
        "delta_out",
        r"\delta^{out} = 2 (x - y) \odot f'(s_{out})",
        "the sign is flipped: the output delta is delta_out = 2 (y - x) ⊙ f_out'(s_out)",
    ),
    (
        AUTOENCODER,
        "delta_link",
        r"\delta_{link} = \delta_{out} W_{out}",
        "the activation's derivative f_link'(s_link) is missing",
    ),
    (
        AUTOENCODER,
        "dL/dW_out",
        r"\frac{dE}{dW_{out}} = \delta_{out} (z_{rec}^{(2)} + z_{link})",
        "is Nx225 times Nx75: the sizes do not fit; did you mean delta_out^T (z_rec^(2) + z_link)?",
    ),
    # the shared weight: only the second cycle's term, as the homework has it
    (
        AUTOENCODER,
        "dL/dW_rec",
        r"\frac{dE}{dW_{rec}} = {\delta_{rec}^{(2)}}^T (z_{in} + z_{rec}^{(1)})",
        "a term is missing ((delta_rec^(1))^T z_in); a weight shared across cycles collects one term per cycle",
    ),
    (
        SMALL,
        "dL/dW_rec",
        r"\frac{\partial E}{\partial W_{rec}} = \frac{\partial E}{\partial s_{rec}^{(2)}} "
        r"\frac{\partial s_{rec}^{(2)}}{\partial W_{rec}}",
        "a path is missing: W_rec also reaches the loss through s_rec^(1)",
    ),
    (
        SMALL,
        "delta_in",
        r"\delta_{in} = (\delta_{rec}^{(2)} W_{rec}) \odot f'(s_{in})",
        "a term is missing (delta_rec^(1) W_rec)",
    ),
]


@pytest.mark.parametrize(("spec", "target", "answer"), RIGHT)
def test_right_formulas_are_accepted(spec: str, target: str, answer: str) -> None:
    result = verifier(spec).verify(target, answer)
    assert result.verdict == "equivalent", result.feedback
    assert result.feedback == () and result.score == 1.0


@pytest.mark.parametrize(("spec", "target", "answer", "mistake"), WRONG)
def test_wrong_formulas_are_rejected_with_their_mistake(spec: str, target: str, answer: str, mistake: str) -> None:
    result = verifier(spec).verify(target, answer)
    assert result.verdict == "different"
    assert any(mistake in sentence for sentence in result.feedback), result.feedback


def test_the_homework_letters_are_named_as_unknown() -> None:
    result = verifier(SQUARE).verify("delta_2", r"\delta^{(2)} = -(t - y) \cdot \sigma'(net^{(2)})")
    assert result.verdict == "unreadable"
    assert "unknown name 'net^{(2)}'" in result.feedback[0] and "s_2" in result.feedback[0]
