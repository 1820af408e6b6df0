"""Gradescope's autograder results.json from graded rows: one test per row (docs/platforms.md).

Gradescope runs an autograder once per submission and reads /autograder/results/results.json:
a total `score`, and `tests`, each with `name`, `score`, `max_score`, `status` and `output`.
Every text field is declared plain text, so nothing a student typed is read as Markdown or HTML.
"""

from __future__ import annotations

from typing import Any

from symbackprop.schema import SCHEMA_VERSION


def output_of(target: str, result: dict[str, Any]) -> str:
    """What the student sees under a test: the verdict, each feedback sentence and each hint."""
    lines = [f"{target}: {result['verdict']}"]
    lines += [f"- {sentence}" for sentence in result["feedback"]]
    lines += [f"hint {hint['level']}: {hint['text']}" for hint in result.get("hints", ())]
    return "\n".join(lines)


def results_json(
    rows: list[tuple[str, str, str, float]],
    results: tuple[dict[str, Any], ...] | list[dict[str, Any]],
    seconds: float,
    summary: str,
) -> dict[str, Any]:
    """`rows` holds (id, target, answer, points) per graded row and `results` the verdict dicts, in order.
    A test is named by its target, or by `id: target` when the rows have several ids."""
    several = len({row[0] for row in rows}) > 1
    tests: list[dict[str, Any]] = []
    for number, ((ident, target, _answer, points), result) in enumerate(zip(rows, results, strict=True), start=1):
        tests.append(
            {
                "name": f"{ident}: {target}" if several else target,
                "number": str(number),
                "score": round(float(result["score"]) * points, 6),
                "max_score": points,
                "status": "passed" if result["verdict"] == "equivalent" else "failed",
                "output": output_of(result.get("target") or target, result),
                "extra_data": {"id": ident, "verdict": result["verdict"]},
            }
        )
    return {
        "score": round(sum(test["score"] for test in tests), 6),
        "execution_time": max(0, round(seconds)),
        "output": summary,
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "tests": tests,
        "extra_data": {"schema_version": SCHEMA_VERSION},
    }
