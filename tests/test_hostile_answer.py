"""Hostile answers to `symbackprop verify`: each is one message and exit 2 (or a verdict), within
bounded CPU time and memory. Numbers are bounded before SymPy computes them, arrays before NumPy
allocates them, and the sums of index notation before einsum runs them (symbackprop/verify/sizes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile import run

ROOT = Path(__file__).resolve().parent.parent
RELU = str(ROOT / "specs" / "relu_4321.yaml")
AUTOENCODER = str(ROOT / "specs" / "recurrent_autoencoder.yaml")

FIVE_SUMS = (
    "dL/dW_in[j,i] = sum_{n=1}^{N}(sum_{a=1}^{75}(sum_{b=1}^{225}(sum_{c=1}^{75}(sum_{d=1}^{225}("
    "W_in[a,b]*W_out[d,c]*W_in[c,d]*W_out[b,a]*x[n,i]*delta_in[n,j] + W_in[a,b]*W_in[c,d])))))"
)
PRODUCT_OF_SUMS = (
    "dL/dW_in[j,i] = sum_{n=1}^{N}(sum_{a=1}^{75}(sum_{b=1}^{225}(sum_{c=1}^{75}(sum_{d=1}^{225}("
    "W_in[a,b]*W_out[d,c]*W_in[c,d]*W_out[b,a]*x[n,i]*delta_in[n,j])))))"
)

HOSTILE = {  # name: (spec, target, answer, exit code, fragment of the message)
    "a tower": (RELU, "delta_3", "9^{9^{4096}}", 2, "an exponent must be a plain number"),
    "nested powers": (RELU, "delta_3", "((((9^{64})^{64})^{64})^{64})^{64}", 2, "beyond the limit of 10^300"),
    "a power of a power": (RELU, "delta_3", "2^{64}^{64}", 2, "beyond the limit of 10^300"),
    "powers of a product": (RELU, "delta_3", "((((10^{20} h_3)^{64})^{64})^{64})^{64}", 2, "beyond the limit"),
    "zero to a negative power": (RELU, "delta_3", "h_3 - y + 0^{-1}", 2, "0 to a negative power"),
    "log of zero": (RELU, "delta_3", r"h_3 - y + \log 0", 2, "undefined"),
    "root of minus one": (RELU, "delta_3", r"\sqrt{-1} (h_3 - y)", 2, "not a real number"),
    "cube root of a negative number": (RELU, "delta_3", "(-8)^{1/3}", 2, "not a real number"),
    "a huge number": (
        RELU,
        "delta_3",
        "10^{30} 10^{30} 10^{30} 10^{30} 10^{30} 10^{30} 10^{30} 10^{30} 10^{30} 10^{30} 10^{30}",
        2,
        "beyond the limit of 10^300",
    ),
    "five nested sums over 225 x 75": (AUTOENCODER, "dL/dW_in", FIVE_SUMS, 2, "more than the limit of"),
    "an outer product of a 10,000-wide input": ("WIDE", "dL/dW_1", "(x x^T W_1^T)^T", 2, "needs a 10000x10000 matrix"),
}
WIDE = (
    "name: wide input\ninput: {name: x, size: 10000}\ntarget: {name: y, size: 1}\nlayers:\n"
    "  - {name: '1', units: 3, activation: tanh}\n  - {name: '2', units: 1, activation: identity}\n"
    "loss: half_squared_error\n"
)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_answer_is_one_message_in_bounded_time_and_memory(name: str, tmp_path: Path) -> None:
    spec, target, answer, code, fragment = HOSTILE[name]
    if spec == "WIDE":
        spec = str(tmp_path / "wide.yaml")
        Path(spec).write_text(WIDE, encoding="utf-8")
    done = run("verify", spec, "--target", target, "--answer", answer, cwd=tmp_path)
    message = done.failed_cleanly(code, fragment, longest=600)
    assert "unreadable answer" in message
    done.within(cpu=60, mb=500)  # about 1 CPU second and 150 MB: SymPy, the network, the bound


def test_sums_of_a_product_are_contracted_without_the_whole_product(tmp_path: Path) -> None:
    """Five nested sums of a product over the autoencoder's sizes: 75 x 225 x 75 x 225 terms per
    entry of a 75 x 225 target, never held at once (einsum, pairwise): a verdict in little memory."""
    done = run("verify", AUTOENCODER, "--target", "dL/dW_in", "--answer", PRODUCT_OF_SUMS, cwd=tmp_path)
    assert done.returncode in (1, 2), done.stderr
    assert "Traceback" not in done.stderr
    assert "ArrayMemoryError" not in done.stdout + done.stderr
    done.within(cpu=120, mb=600)


def test_a_megabyte_answer_on_stdin(tmp_path: Path) -> None:
    done = run("verify", RELU, "--target", "delta_3", "--answer", "-", stdin="h_3 " * 250_000, cwd=tmp_path)
    done.failed_cleanly(2, "the limit is 4000")
    done.within(cpu=60, mb=500)


def test_a_network_dead_at_every_seeded_point_still_gets_verdicts(tmp_path: Path) -> None:
    """A 20-layer relu chain of 2 units has a dead layer at every one of the seeds tried: the points
    run out of seeds (a traceback before), and the right answer is still equivalent."""
    layers = "".join(f"  - {{name: '{k}', units: 2, activation: relu}}\n" for k in range(1, 20))
    (tmp_path / "deep.yaml").write_text(
        "name: deep relu\ninput: {name: x, size: 2}\ntarget: {name: y, size: 2}\n"
        f"layers:\n{layers}  - {{name: out, units: 2, activation: identity}}\n"
        "loss: half_squared_error\n",
        encoding="utf-8",
    )
    done = run("verify", "deep.yaml", "--target", "dL/dW_1", "--answer", "delta_1 x^T", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    done.within(cpu=120, mb=600)


def test_a_layer_named_like_a_weight_prefix(tmp_path: Path) -> None:
    (tmp_path / "h0.yaml").write_text(
        "name: h0\ninput: {name: x, size: 2}\ntarget: {name: y, size: 1}\nlayers:\n"
        "  - {name: h0, units: 2, activation: tanh}\n"
        "  - {name: out, units: 1, activation: identity}\nloss: half_squared_error\n",
        encoding="utf-8",
    )
    done = run("verify", "h0.yaml", "--target", "dL/dW_h0", "--answer", "delta_h0 x^T", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
