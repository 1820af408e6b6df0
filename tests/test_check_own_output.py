"""What the tool itself prints checks clean: `numeric`'s text (a worked solution in plain text) and
the rendered documents (Markdown, and LaTeX with its \\fiteq command) of every spec with numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

import symbackprop as sbp

SPECS = Path(__file__).resolve().parent.parent / "specs"
WITH_NUMBERS = sorted(p.name for p in SPECS.glob("*.yaml") if "training:" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("spec", WITH_NUMBERS)
def test_numeric_text_checks_clean(spec: str) -> None:
    net = sbp.load(SPECS / spec)
    result = net.check(net.train().to_text(), "numeric.txt")
    assert result.ok, result.text()
    assert result.right == result.numbers > 20 and result.notes == []


@pytest.mark.parametrize("fmt", ["md", "tex"])
@pytest.mark.parametrize("spec", ["square_221.yaml", "relu_4321_course.yaml", "recurrent_autoencoder_small.yaml"])
def test_rendered_documents_check_clean(spec: str, fmt: str) -> None:
    net = sbp.load(SPECS / spec)
    result = net.check(net.render(fmt), f"solution.{fmt}")
    assert result.ok, result.text()
    assert result.right == result.numbers > 20
