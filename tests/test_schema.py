"""Every JSON document a command writes starts with `schema_version` (docs/json.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from symbackprop.cli import main
from symbackprop.schema import SCHEMA_VERSION, versioned

ROOT = Path(__file__).resolve().parent.parent
MLP = str(ROOT / "specs" / "mlp.yaml")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    code = main(list(args))
    out = capsys.readouterr().out
    assert code in (0, 1), out
    return json.loads(out)


def test_versioned_puts_the_version_first_and_once() -> None:
    doc = versioned({"a": 1, "schema_version": 99, "b": 2})
    assert list(doc) == ["schema_version", "a", "b"] and doc["schema_version"] == SCHEMA_VERSION


def test_derive_json(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "derive", MLP, "--format", "json")
    assert list(doc)[0] == "schema_version" and doc["schema_version"] == SCHEMA_VERSION


def test_numeric_json(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "numeric", MLP, "--json")
    assert list(doc)[:2] == ["schema_version", "name"] and doc["schema_version"] == SCHEMA_VERSION


def test_verify_json(capsys: pytest.CaptureFixture[str]) -> None:
    for answer in ("x delta_1^T", "-x delta_1^T", "x )"):
        doc = (
            run_json(capsys, "verify", MLP, "--target", "dL/dW", "--answer", answer, "--json")
            if answer != "x )"
            else None
        )
        if doc is None:
            assert main(["verify", MLP, "--target", "dL/dW", "--answer", answer, "--json"]) == 2
            doc = json.loads(capsys.readouterr().out)
        assert doc["schema_version"] == SCHEMA_VERSION, answer


def test_verify_batch_json_every_row(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "answers.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("id", "target", "answer"), ("1", "dL/dW", "x delta_1^T"), ("2", "dL/dW_9", "x")])
    docs = run_json(capsys, "verify", MLP, "--batch", str(path), "--json", "--workers", "1")
    assert [doc["schema_version"] for doc in docs] == [SCHEMA_VERSION, SCHEMA_VERSION]
    assert [doc["verdict"] for doc in docs] == ["equivalent", "unreadable"]
