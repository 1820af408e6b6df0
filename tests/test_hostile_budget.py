"""Budgets: work and memory a spec may ask for, each refusal one message naming the budget; and
the 10,000-unit layer that verify and gradcheck handle within 1 GB (symbackprop/budget.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop import budget
from tests.hostile import run

ROOT = Path(__file__).resolve().parent.parent
RELU = ROOT / "specs" / "relu_4321.yaml"


def chain(sizes: list[int], samples: int | None = None, steps: int | None = None) -> str:
    layers = "".join(f"  - {{name: '{k}', units: {n}, activation: tanh}}\n" for k, n in enumerate(sizes[1:-1], 1))
    text = (
        f"name: budget\ninput: {{name: x, size: {sizes[0]}}}\ntarget: {{name: y, size: {sizes[-1]}}}\nlayers:\n"
        f"{layers}  - {{name: out, units: {sizes[-1]}, activation: identity}}\nloss: half_squared_error\n"
    )

    def matrix(rows: int, cols: int) -> str:
        return "[" + ", ".join("[" + ", ".join(["0.5"] * cols) + "]" for _ in range(rows)) + "]"

    if samples is not None:
        names = [str(k) for k in range(1, len(sizes) - 1)] + ["out"]
        text += f"data:\n  x: {matrix(sizes[0], samples)}\n  y: {matrix(sizes[-1], samples)}\n"
        for name, rows, cols in zip(names, sizes[1:], sizes, strict=False):
            text += f"  W_{name}: {matrix(rows, cols)}\n  b_{name}: {matrix(rows, 1)}\n"
    if steps is not None:
        text += f"training: {{learning_rate: 0.01, steps: {steps}}}\n"
    return text


def test_a_training_run_that_would_keep_too_many_numbers_is_refused(tmp_path: Path) -> None:
    """Every number of every step is kept for the worked solution: 10,000 steps of a 100-100
    network would be 400 million numbers."""
    (tmp_path / "big.yaml").write_text(chain([100, 100, 1], samples=1, steps=10_000), encoding="utf-8")
    done = run("numeric", "big.yaml", cwd=tmp_path)
    done.failed_cleanly(2, "training steps keep", "more than the limit of 50,000,000", "steps of this network fit")
    done.within(cpu=60, mb=500)
    with pytest.raises(budget.BudgetError, match="training steps keep"):
        sbp.load(str(tmp_path / "big.yaml")).train()


def test_the_budget_message_says_how_many_steps_fit(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text(chain([100, 100, 1], samples=1, steps=10_000), encoding="utf-8")
    net = sbp.load(str(tmp_path / "big.yaml"))
    with pytest.raises(budget.BudgetError) as caught:
        net.train()
    fit = int(str(caught.value).split("at most ")[1].split()[0])
    budget.check_training(net, fit, 1)  # passes
    with pytest.raises(budget.BudgetError):
        budget.check_training(net, fit + 2, 1)
    assert len(net.train(steps=2).to_dict()["steps"]) == 2


@pytest.mark.slow
def test_learning_rate_1e308_for_10000_steps_ends_with_a_warning(tmp_path: Path) -> None:
    text = RELU.read_text(encoding="utf-8").replace(
        "training: {learning_rate: 0.1, steps: 2}", "training: {learning_rate: 1e308, steps: 10000}"
    )
    (tmp_path / "diverge.yaml").write_text(text, encoding="utf-8")
    done = run("numeric", "diverge.yaml", "-o", "out.json", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the loss is inf from step" in done.stderr
    done.within(cpu=120, mb=1024)


def test_a_gradient_check_too_big_for_its_budgets(tmp_path: Path) -> None:
    (tmp_path / "square.yaml").write_text(chain([10_000, 10_000, 1]), encoding="utf-8")
    done = run("gradcheck", "square.yaml", cwd=tmp_path)
    done.failed_cleanly(2, "W_1 is 10000x10000", "more than its memory budget of 2048 MB", "SYMBACKPROP_MEMORY_MB")
    done.within(cpu=60, mb=500)
    done = run("verify", "square.yaml", "--target", "delta_out", "--answer", "z_out - y", cwd=tmp_path)
    done.failed_cleanly(2, "verify holds about", "more than its memory budget")
    (tmp_path / "work.yaml").write_text(chain([2000, 2000, 1]), encoding="utf-8")
    done = run("gradcheck", "work.yaml", "--max-entries", "100000", cwd=tmp_path)
    done.failed_cleanly(2, "two forward passes each", "give --max-entries")


@pytest.mark.slow
def test_verify_and_gradcheck_on_a_10000_unit_layer_within_1_gb(tmp_path: Path) -> None:
    (tmp_path / "wide.yaml").write_text(chain([2, 10_000, 1]), encoding="utf-8")
    done = run("gradcheck", "wide.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done.within(cpu=300, mb=1024)
    done = run("verify", "wide.yaml", "--target", "dL/dW_1", "--answer", "2 delta_1 x^T", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    done.within(cpu=300, mb=1024)


def test_the_memory_watchdog_names_the_budget(tmp_path: Path) -> None:
    """With a 1 MB budget, loading SymPy alone exceeds it: one message, exit 2."""
    done = run("derive", str(RELU), "-o", "out.txt", cwd=tmp_path, env={"SYMBACKPROP_MEMORY_MB": "1"})
    done.failed_cleanly(2, "derive needs more memory than its budget of 1 MB allows", "SYMBACKPROP_MEMORY_MB")
    assert list(tmp_path.iterdir()) == []
    done = run("derive", str(RELU), cwd=tmp_path, env={"SYMBACKPROP_MEMORY_MB": "lots"})
    done.failed_cleanly(2, "SYMBACKPROP_MEMORY_MB='lots': expected a whole number of MB")
    done = run("derive", str(RELU), cwd=tmp_path, env={"SYMBACKPROP_MEMORY_MB": "0"})
    assert done.returncode == 0, done.stderr
