"""The spec's `questions:` (derive --questions, render, question ids as verify targets) and its random
numbers (`data: {random: ...}`, `numeric --random --seed S`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.spec import SpecError

SPEC = """\
name: questions demo
input: {name: x, size: 2}
target: {name: y, size: 1}
layers:
  - {name: "1", units: 2, activation: relu}
  - {name: "2", units: 1, activation: identity}
loss: half_squared_error
questions:
  - {id: "1.1", ask: dL/dW_2, text: "The gradient of W_2."}
  - id: "1.2"
    ask: [dL/dz_1, "dL/dW_1[1,2]"]
    forms: [chain, index]
  - {id: 2, ask: delta_1}
data:
  random: {seed: 1, samples: 2}
training: {learning_rate: 0.1}
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "q.yaml"
    path.write_text(SPEC)
    return path


def test_questions_are_read_in_order() -> None:
    net = sbp.load(SPEC)
    questions = net.questions()
    assert [q.id for q, _ in questions] == ["1.1", "1.2", "2"]
    assert [[t.name for t in targets] for _, targets in questions] == [
        ["dL/dW_2"],
        ["dL/dz_1", "dL/dW_1[1,2]"],
        ["delta_1"],
    ]
    assert questions[1][0].forms == ("chain", "index") and questions[0][0].text == "The gradient of W_2."
    assert net.derive().target("1.1") is net.derive().grad("W_2")  # an id works wherever a target does


def test_derive_prints_the_questions_in_order(spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", str(spec_file), "--questions"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("questions demo\n\nQuestion 1.1: The gradient of W_2.\n  dL/dW_2 = delta_2 z_1^T\n")
    assert "  dL/dW_1[1,2] = sum_{n=1}^{N}(delta_1[1,n]*x[2,n])   (index form)\n" in text
    assert text.index("Question 1.2") < text.index("Question 2")
    assert main(["derive", str(spec_file), "--questions", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [q["id"] for q in doc["questions"]] == ["1.1", "1.2", "2"]
    assert set(doc["questions"][1]["targets"][0]["forms"]) == {"chain", "index"}
    assert main(["derive", str(spec_file), "--questions", "--format", "latex"]) == 0
    assert "% Question 1.1: The gradient of W\\_2.\n\\begin{align*}\n" in capsys.readouterr().out
    assert main(["derive", "specs/mlp.yaml", "--questions"]) == 2
    assert "has no questions" in capsys.readouterr().err


def test_render_answers_the_questions_in_order() -> None:
    doc = sbp.load(SPEC).render("md", sections=["questions"])
    assert doc.index("### 1\\.1") < doc.index("### 1\\.2") < doc.index("### 2")
    assert "The gradient of $W_{2}$." in doc  # a name in the question's text is set as math (docs/spec.md)
    assert "**On the spec's data**" in doc and r"\frac{\partial \mathcal{L}}{\partial W_{2}} = \begin{bmatrix}" in doc
    assert "questions" not in sbp.load("specs/mlp.yaml").render("md")  # no questions, no section


@pytest.mark.parametrize(
    ("target", "answer", "verdict"),
    [
        ("1.1", r"\delta_2 z_1^T", "equivalent"),
        ("1.1", r"\delta_2 z_1", "different"),
        ("2", r"(W_2^T \delta_2) \odot [s_1 > 0]", "equivalent"),
        ("1.2", r"\frac{\partial L}{\partial z_1} = W_2^T \delta_2", "equivalent"),
        ("1.2", r"\frac{\partial L}{\partial W_1} = \delta_1 x^T", "different"),  # not one of its targets
        ("1.2", r"W_2^T \delta_2", "unreadable"),  # which of its two targets?
    ],
)
def test_a_question_id_is_a_verify_target(target: str, answer: str, verdict: str) -> None:
    result = sbp.load(SPEC).verify(target, answer)
    assert result.verdict == verdict, result.feedback


def test_question_ids_in_the_batch_csv(spec_file: Path, tmp_path: Path) -> None:
    rows = [("a", "1.1", r"\delta_2 z_1^T"), ("b", "2", r"W_2^T \delta_2"), ("c", "1.2", r"dL/dz_1 = W_2^T \delta_2")]
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "target", "answer"])
        writer.writerows(rows)
    graded = tmp_path / "graded.csv"
    assert main(["verify", str(spec_file), "--batch", str(answers), "-o", str(graded), "--workers", "1"]) == 0
    with graded.open() as handle:
        verdicts = {row["id"]: row["verdict"] for row in csv.DictReader(handle)}
    assert verdicts == {"a": "equivalent", "b": "different", "c": "equivalent"}


@pytest.mark.parametrize(
    ("questions", "key", "line", "message"),
    [
        ("questions: dL/dW_1", "questions", 8, "expected a list of questions"),
        ("questions:\n  - {ask: dL/dW_1}", "questions[0].id", 9, "required key is missing"),
        ("questions:\n  - {id: a, ask: []}", "questions[0].ask", 9, "got an empty list"),
        (
            "questions:\n  - {id: a, ask: dL/dW_1}\n  - {id: a, ask: delta_1}",
            "questions[1].id",
            10,
            "duplicate question id 'a'",
        ),
        ("questions:\n  - {id: a, ask: dL/dW_1, forms: [matrix, fancy]}", "questions[0].forms", 9, "unknown form"),
        ("questions:\n  - {id: a, ask: dL/dW_1, colour: red}", "questions[0].colour", 9, "unknown key 'colour'"),
        (
            "questions:\n  - {id: a, ask: dL/dW_1}\n  - id: b\n    ask:\n      - delta_1\n      - dL/dq",
            "questions[1].ask[1]",
            13,
            "unknown target 'dL/dq'",
        ),
    ],
)
def test_bad_questions_name_the_key_and_line(questions: str, key: str, line: int, message: str) -> None:
    text = SPEC[: SPEC.index("questions:")] + questions + "\n"
    with pytest.raises(SpecError) as error:
        sbp.load(text)
    assert (error.value.key, error.value.line) == (key, line) and message in error.value.message, str(error.value)


def test_random_data_is_drawn_once_and_reproducibly(capsys: pytest.CaptureFixture[str], spec_file: Path) -> None:
    first, again = sbp.load(SPEC).data(), sbp.load(SPEC).data()
    assert set(first) == {"x", "y", "W_1", "b_1", "W_2", "b_2"} and first["x"].shape == (2, 2)
    assert all(np.array_equal(first[name], again[name]) for name in first)
    other = sbp.load(SPEC.replace("seed: 1", "seed: 2")).data()
    assert not np.array_equal(first["W_1"], other["W_1"])
    given = sbp.load(SPEC.replace("  random:", "  x: [[1, 2], [3, 4]]\n  random:")).data()
    assert given["x"].tolist() == [[1, 2], [3, 4]]  # what data gives is kept
    scaled = sbp.load(SPEC.replace("samples: 2}", "samples: 2, scale: 0.3}")).data()
    assert np.max(np.abs(scaled["W_1"])) <= 0.3
    assert main(["numeric", str(spec_file)]) == 0
    assert "W_1 = " in capsys.readouterr().out


def test_numeric_random_draws_everything_from_a_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["numeric", "specs/relu_4321.yaml", "--random", "--seed", "5", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["numeric", "specs/relu_4321.yaml", "--seed", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    spec_data = sbp.load("specs/relu_4321.yaml").data()
    assert first["steps"][0]["params"]["W_1"] != spec_data["W_1"].tolist()
    assert main(["numeric", "specs/relu_4321.yaml", "--random", "--seed", "5"]) == 0
    assert "Data and initial parameters: drawn at random, seed 5." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("random", "key", "message"),
    [
        ("{seed: -1}", "data.random.seed", "expected a whole number from 0"),
        ("{seed: 1, scale: 0}", "data.random.scale", "expected a positive number"),
        ("{seed: 1, colour: red}", "data.random.colour", "unknown key 'colour'"),
        ("7", "data.random", "expected a mapping like {seed: 1, scale: 1.0}"),
    ],
)
def test_bad_random_data(random: str, key: str, message: str) -> None:
    with pytest.raises(SpecError) as error:
        sbp.load(SPEC.replace("{seed: 1, samples: 2}", random))
    assert error.value.key == key and message in error.value.message, str(error.value)


def test_an_unquoted_id_is_read_as_written() -> None:
    text = SPEC.replace('id: "1.1"', "id: 1.10").replace('id: "1.2"', "id: 1.20")
    net = sbp.load(text)
    assert [q.id for q, _ in net.questions()] == ["1.10", "1.20", "2"]
    assert net.derive().target("1.10") is net.derive().grad("W_2")
    import yaml

    as_dict = yaml.safe_load(SPEC)
    as_dict["questions"][0]["id"] = 1.1  # a dict has lost what was written: told to write text
    with pytest.raises(SpecError) as error:
        sbp.load(as_dict)
    assert error.value.key == "questions[0].id" and "write the id as text" in error.value.message


@pytest.mark.parametrize(
    ("answer", "graded_as"),
    [
        (r"\frac{\partial L}{\partial z_1} = W_2^T \delta_2", "dL/dz_1"),  # the whole matrix: not its entry
        (r"\frac{\partial L}{\partial z_1[1,1]} = W_2[1,1] \delta_2[1,1]", "dL/dz_1[1,1]"),
        (r"\frac{\partial L}{\partial z_1} = W_2^T", None),  # the whole matrix, wrong
    ],
)
def test_a_left_side_naming_the_whole_matrix_picks_the_whole_target(answer: str, graded_as: str | None) -> None:
    text = SPEC.replace(
        "  - {id: 2, ask: delta_1}", '  - {id: 2, ask: delta_1}\n  - {id: "3", ask: ["dL/dz_1[1,1]", dL/dz_1]}'
    )
    result = sbp.load(text).verify("3", answer)
    if graded_as is None:
        assert result.verdict == "different" and "entry" not in " ".join(result.feedback), result.feedback
    else:
        assert result.verdict == "equivalent" and result.target == graded_as, result.feedback
