"""`export --to prairielearn`: the question's server.py driven with PrairieLearn-shaped `data` dicts
(no PrairieLearn needed): full credit for the key's formulas in LaTeX and plain text, partial credit
with feedback for a mutated answer, a clear message (never a crash) for hostile input."""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.course.variants import Variants

ROOT = Path(__file__).resolve().parent.parent
RELU = ROOT / "specs" / "relu_4321.yaml"
HOSTILE = [
    "x" * 1_000_000,
    "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))))))))))))))))))",
    "9^{9^{9^{9}}}",
    "__import__('os').system('touch PWNED')",
    r"\input{/etc/passwd}",
    "\x00\x01 delta_1",
    "<script>alert(1)</script>",
]


@pytest.fixture(scope="module")
def question(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pl") / "question"
    assert main(["export", str(RELU), "--to", "prairielearn", "-o", str(out), "--seed", "3"]) == 0
    return out


def server(folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"pl_server_{abs(hash(folder))}", folder / "server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fresh(folder: Path, seed: int = 4242) -> dict[str, Any]:
    """The data dict PrairieLearn hands to generate()."""
    return {
        "params": {},
        "correct_answers": {},
        "submitted_answers": {},
        "raw_submitted_answers": {},
        "format_errors": {},
        "partial_scores": {},
        "score": 0,
        "feedback": {},
        "variant_seed": seed,
        "options": {"question_path": str(folder)},
    }


def submit(folder: Path, generated: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    """What PrairieLearn does on a submission: parse(), then grade() if no format error."""
    module = server(folder)
    data = json.loads(json.dumps(generated))  # PrairieLearn stores data as JSON between calls
    data.update(
        submitted_answers=dict(answers),
        raw_submitted_answers=dict(answers),
        format_errors={},
        partial_scores={},
        feedback={},
        score=0,
    )
    module.parse(data)
    module.grade(data)
    return data


def generated(folder: Path, seed: int = 4242) -> dict[str, Any]:
    data = fresh(folder, seed)
    server(folder).generate(data)
    json.dumps(data)  # everything in data must be JSON
    return data


def config(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "symbackprop.json").read_text(encoding="utf-8"))


def test_the_files_prairielearn_reads(question: Path) -> None:
    assert sorted(p.name for p in question.iterdir()) == [
        "info.json",
        "question.html",
        "server.py",
        "spec.yaml",
        "symbackprop.json",
    ]
    info = json.loads((question / "info.json").read_text(encoding="utf-8"))
    assert set(info) <= {"uuid", "type", "title", "topic", "tags", "gradingMethod", "partialCredit", "singleVariant"}
    assert info["type"] == "v3" and info["title"] == "4-3-2-1 ReLU network" and uuid.UUID(info["uuid"]).version == 4
    html = (question / "question.html").read_text(encoding="utf-8")
    names = [f["name"] for f in config(question)["fields"]]
    assert names == [f"t{i}" for i in range(1, 10)] + ["worked"]
    assert re.findall(r'answers-name="(\w+)"', html) == names
    assert "{{{params.data_latex}}}" in html and "{{feedback.t1}}" in html
    assert (question / "spec.yaml").read_text(encoding="utf-8") == RELU.read_text(encoding="utf-8")


def test_generate_draws_the_students_variant(question: Path) -> None:
    data = generated(question, seed=4242)
    assert data["params"]["student"] == "pl-4242"
    variant = Variants(question / "spec.yaml", seed=3).variant("pl-4242")
    net = variant.network()
    assert data["correct_answers"]["t1"] == net.derive().targets[0].text("matrix").split(" = ", 1)[1]
    assert "W_{1} = \\begin{bmatrix}" in data["params"]["data_latex"]
    other = generated(question, seed=4243)
    assert other["params"]["data_latex"] != data["params"]["data_latex"]
    assert generated(question, seed=4242)["params"] == data["params"]  # the same seed, the same variant


def test_the_keys_formulas_in_latex_and_text_get_full_credit(question: Path) -> None:
    data = generated(question)
    net = Variants(question / "spec.yaml", seed=3).variant(data["params"]["student"]).network()
    fields = [f for f in config(question)["fields"] if f["kind"] == "formula"]
    targets = {f["name"]: net.derive().target(f["target"]) for f in fields}
    for render in (
        lambda t: t.latex("matrix").split(" = ", 1)[1],
        lambda t: t.text("matrix").split(" = ", 1)[1],
        lambda t: t.text("symbolic").split(" = ", 1)[1],
    ):
        graded = submit(question, data, {name: render(t) for name, t in targets.items()})
        assert graded["format_errors"] == {}
        assert all(graded["partial_scores"][name]["score"] == 1.0 for name in targets), graded["partial_scores"]
        assert graded["partial_scores"]["worked"]["score"] == 0.0  # left empty
        assert graded["score"] == pytest.approx(9 / 18)  # the worked solution weighs as much as the formulas


def test_a_mutated_answer_gets_partial_credit_and_feedback(question: Path) -> None:
    data = generated(question)
    fields = {f["target"]: f["name"] for f in config(question)["fields"] if f["kind"] == "formula"}
    graded = submit(
        question,
        data,
        {fields["delta_2"]: "W_3^T delta_3", fields["dL/dW_1"]: "-delta_1 x^T", fields["delta_3"]: "h_3 - y"},
    )
    assert graded["partial_scores"][fields["delta_3"]] == {"score": 1.0, "weight": 1, "feedback": "correct"}
    missing = graded["partial_scores"][fields["delta_2"]]
    assert missing["score"] == 0.5 and "f_2'(s_2) is missing" in missing["feedback"]
    sign = graded["partial_scores"][fields["dL/dW_1"]]
    assert sign["score"] == 0.75 and "sign" in sign["feedback"]
    assert graded["feedback"][fields["delta_2"]] == missing["feedback"]
    assert 0 < graded["score"] < 1


def test_hostile_input_gets_a_clear_message(question: Path) -> None:
    data = generated(question)
    for answer in HOSTILE:
        graded = submit(question, data, {"t1": answer, "worked": answer})
        message = graded["format_errors"].get("t1") or graded["partial_scores"]["t1"]["feedback"]
        assert message and "Traceback" not in message, answer[:40]
        assert graded["partial_scores"].get("t1", {"score": 0})["score"] == 0
        assert graded["partial_scores"]["worked"]["score"] == 0
    assert not Path("PWNED").exists()
    graded = submit(question, data, {"t1": 42, "t2": None})  # not even strings
    assert graded["format_errors"]["t1"] == graded["format_errors"]["t2"] == "no answer was given"


def test_a_worked_solution_is_checked(question: Path) -> None:
    data = generated(question)
    net = Variants(question / "spec.yaml", seed=3).variant(data["params"]["student"]).network()
    step = net.train().to_dict()["steps"][0]

    def matrix(rows: list[list[float]]) -> str:
        return r"\begin{bmatrix}" + r" \\ ".join(" & ".join(f"{v:.6f}" for v in row) for row in rows) + r"\end{bmatrix}"

    lines = [f"$$ {name} = {matrix(value)} $$" for name, value in step["forward"].items()]
    right = submit(question, data, {"worked": "\n\n".join(lines)})["partial_scores"]["worked"]
    assert right["score"] == 1.0, right
    first = step["forward"]["s_1"]
    wrong = [[-v for v in row] for row in first]
    lines[0] = f"$$ s_1 = {matrix(wrong)} $$"
    graded = submit(question, data, {"worked": "\n\n".join(lines)})["partial_scores"]["worked"]
    assert graded["score"] < 1.0 and graded["feedback"]


def test_hints_instead_of_the_answer(tmp_path: Path) -> None:
    out = tmp_path / "q"
    assert (
        main(
            [
                "export",
                str(RELU),
                "--to",
                "prairielearn",
                "-o",
                str(out),
                "--hint-level",
                "1",
                "--target",
                "delta_2",
                "--target",
                "dL/dW_2",
                "--no-worked",
            ]
        )
        == 0
    )
    assert [f["name"] for f in config(out)["fields"]] == ["t1", "t2"]
    graded = submit(out, generated(out), {"t1": "W_3^T delta_3", "t2": "delta_2 z_1^T"})
    feedback = graded["partial_scores"]["t1"]["feedback"]
    assert "hint 1: in delta_2: the activation's derivative f_2'(s_2) is missing" in feedback
    assert " = " not in feedback and graded["score"] == pytest.approx(0.75)


def test_user_text_is_escaped_and_exports_are_reproducible(tmp_path: Path) -> None:
    text = RELU.read_text(encoding="utf-8").replace(
        "name: 4-3-2-1 ReLU network", 'name: "<img src=x onerror=alert(1)> $\\\\input{x}$"'
    )
    (tmp_path / "evil.yaml").write_text(text, encoding="utf-8")
    for out in ("a", "b"):
        assert main(["export", str(tmp_path / "evil.yaml"), "--to", "prairielearn", "-o", str(tmp_path / out)]) == 0
    html = (tmp_path / "a" / "question.html").read_text(encoding="utf-8")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html and "mathjax_ignore" in html
    for name in ("info.json", "question.html", "server.py", "spec.yaml", "symbackprop.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_export_mistakes_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(RELU), "--to", "prairielearn", "-o", str(tmp_path / "q"), "--target", "dL/dW_9"]) == 2
    assert "unknown target 'dL/dW_9'" in capsys.readouterr().err and not (tmp_path / "q").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep", encoding="utf-8")
    assert main(["export", str(RELU), "--to", "prairielearn", "-o", str(tmp_path / "mine")]) == 2
    assert "not written by `symbackprop export`" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", str(RELU), "--to", "moodle", "-o", str(tmp_path / "q")])


def test_the_python_api_grades_like_the_server(question: Path) -> None:
    data = generated(question)
    net = Variants(question / "spec.yaml", seed=3).variant(data["params"]["student"]).network()
    graded = submit(question, data, {"t3": "W_3^T delta_3"})
    field = next(f for f in config(question)["fields"] if f["name"] == "t3")
    assert graded["partial_scores"]["t3"]["score"] == net.verify(field["target"], "W_3^T delta_3").score
    assert isinstance(sbp.load(question / "spec.yaml"), sbp.Network)
