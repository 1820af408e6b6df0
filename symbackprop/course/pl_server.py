"""The server.py of a PrairieLearn question written by `symbackprop export SPEC --to prairielearn`.

PrairieLearn calls generate(data) for a new variant, parse(data) and grade(data) for a submission.
generate() draws the student's own numbers from PrairieLearn's variant seed (the same drawing as
`symbackprop variants`), parse() turns an unreadable formula into a format error (no attempt
spent), and grade() grades each formula with verify (partial credit and feedback, or hints) and the
worked numeric solution with check. The question's settings are in symbackprop.json beside this
file, the exercise in spec.yaml. Nothing a student submits is evaluated; every answer is bounded
in length, nesting and time as `symbackprop verify` bounds it, and any failure becomes a message.
"""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from typing import Any

CONFIG = "symbackprop.json"
#: Longest worked solution read, in characters.
MAX_WORKED = 200_000


def _folder(data: dict[str, Any]) -> str:
    options = data.get("options") or {}
    return options.get("question_path") or os.path.dirname(os.path.abspath(__file__))


def _importable(data: dict[str, Any]) -> None:
    """symbackprop from the image, else from the course's serverFilesCourse (a vendored copy)."""
    try:
        import symbackprop  # noqa: F401
    except ImportError:
        course = (data.get("options") or {}).get("server_files_course_path")
        if course and course not in sys.path:
            sys.path.insert(0, course)


@lru_cache(maxsize=8)
def _setup(folder: str) -> tuple[Any, dict[str, Any]]:
    from symbackprop.course.variants import Variants

    with open(os.path.join(folder, CONFIG), encoding="utf-8") as handle:
        config = json.load(handle)
    return Variants(os.path.join(folder, "spec.yaml"), config["seed"]), config


@lru_cache(maxsize=64)
def _network(folder: str, student: str) -> Any:
    variants, _ = _setup(folder)
    return variants.variant(student).network()


def _matrix_latex(rows: list[list[float]]) -> str:
    body = r" \\ ".join(" & ".join(f"{value:g}" for value in row) for row in rows)
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


def generate(data: dict[str, Any]) -> None:
    _importable(data)
    folder = _folder(data)
    _, config = _setup(folder)
    student = f"pl-{int(data.get('variant_seed') or 0)}"
    net = _network(folder, student)
    names = net.derive().names
    lines = [
        f"{names.latex(name)} = {_matrix_latex([list(row) for row in values])}"
        for name, values in net.spec.data.items()
        if net.graph.named(name).role != "fixed"
    ]
    data["params"]["student"] = student
    data["params"]["data_latex"] = r" \qquad ".join(lines)
    for field in config["fields"]:
        if field["kind"] == "formula":
            target = net.derive().target(field["target"])
            data["correct_answers"][field["name"]] = target.text("matrix").split(" = ", 1)[1]


def _answer(data: dict[str, Any], name: str) -> str:
    answer = (data.get("submitted_answers") or {}).get(name)
    return answer if isinstance(answer, str) else ""


def _verdict(data: dict[str, Any], target: str, answer: str, hint_level: int) -> Any:
    folder = _folder(data)
    return _network(folder, data["params"]["student"]).verify(target, answer, hint_level=hint_level)


def parse(data: dict[str, Any]) -> None:
    """An answer that cannot be read is a format error: the student fixes it without losing an attempt."""
    _importable(data)
    _, config = _setup(_folder(data))
    for field in config["fields"]:
        name = field["name"]
        if field["kind"] != "formula" or name in data["format_errors"]:
            continue
        answer = _answer(data, name)
        if not answer.strip():
            data["format_errors"][name] = "no answer was given"
            continue
        try:
            result = _verdict(data, field["target"], answer, 0)
        except Exception as error:  # noqa: BLE001 - a student's answer must never crash the question
            data["format_errors"][name] = f"this answer could not be read ({type(error).__name__})"
            continue
        if result.verdict == "unreadable":
            data["format_errors"][name] = result.feedback[0] if result.feedback else "this answer could not be read"


def _formula(data: dict[str, Any], field: dict[str, Any], hint_level: int) -> tuple[float, str]:
    answer = _answer(data, field["name"])
    if not answer.strip():
        return 0.0, "no answer was given"
    try:
        result = _verdict(data, field["target"], answer, hint_level)
    except Exception as error:  # noqa: BLE001 - a student's answer must never crash the question
        return 0.0, f"this answer could not be graded ({type(error).__name__}); please rewrite it"
    if result.equivalent:
        return 1.0, "correct"
    sentences = list(result.feedback) + [f"hint {hint.level}: {hint.text}" for hint in result.hints]
    return float(result.score), f"{result.verdict}: " + " ".join(sentences)


def _worked(data: dict[str, Any], field: dict[str, Any]) -> tuple[float, str]:
    answer = _answer(data, field["name"])
    if not answer.strip():
        return 0.0, "no worked solution was given"
    if len(answer) > MAX_WORKED:
        return 0.0, f"the worked solution is {len(answer):,} characters long; the limit is {MAX_WORKED:,}"
    try:
        result = _network(_folder(data), data["params"]["student"]).check(answer)
    except Exception as error:  # noqa: BLE001 - CheckError says why; anything else must not crash the question
        message = str(error) if type(error).__name__ == "CheckError" else type(error).__name__
        return 0.0, f"the worked solution could not be checked: {message}"
    return float(result.score), result.summary()


def grade(data: dict[str, Any]) -> None:
    """Each field's score (0 to 1) and feedback in partial_scores; the weighted total in score."""
    _importable(data)
    _, config = _setup(_folder(data))
    total = weights = 0.0
    for field in config["fields"]:
        name = field["name"]
        if name in data["format_errors"]:
            score, feedback = 0.0, data["format_errors"][name]
        elif field["kind"] == "formula":
            score, feedback = _formula(data, field, config["hint_level"])
        else:
            score, feedback = _worked(data, field)
        data["partial_scores"][name] = {"score": score, "weight": field["weight"], "feedback": feedback}
        data["feedback"][name] = feedback
        total += score * field["weight"]
        weights += field["weight"]
    data["score"] = total / weights if weights else 0.0
