"""Checking many solutions: every file of a directory, one report row each.

`check_file(checker, path)` is the unit of work (a file in, a row out, never an exception), and
`run_batch` maps it over the files with any `map` (the built-in one by default; another
executor can pass its own), so the rows come back in file order whatever runs them.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from symbackprop.check import Checker, CheckError, CheckResult
from symbackprop.check.limits import MAX_BYTES
from symbackprop.schema import versioned

#: What a solution file may be called.
SUFFIXES = (".md", ".markdown", ".tex", ".latex", ".txt")
#: Most files in one batch.
MAX_FILES = 10_000
#: The report's columns.
COLUMNS = ("file", "status", "numbers", "right", "wrong", "carried_forward", "mistakes", "score", "causes",
           "summary")


@dataclass(frozen=True)
class BatchRow:
    """One file's outcome: `checked` (with its result) or `unreadable` (with the reason)."""

    file: str
    status: str
    result: CheckResult | None = None
    message: str = ""

    def cells(self) -> dict[str, Any]:
        r = self.result
        if r is None:
            return {"file": self.file, "status": self.status, "numbers": "", "right": "", "wrong": "",
                    "carried_forward": "", "mistakes": "", "score": "", "causes": "", "summary": self.message}
        causes = Counter(f.cause for f in r.findings)
        return {"file": self.file, "status": self.status, "numbers": r.numbers, "right": r.right, "wrong": r.wrong,
                "carried_forward": r.carried_forward, "mistakes": r.mistakes, "score": f"{r.score:.4f}",
                "causes": "; ".join(f"{cause}: {count}" for cause, count in sorted(causes.items())),
                "summary": r.summary()}


def read_solution_file(path: Path) -> str:
    """The text of a solution file, bounded before it is read; raises CheckError."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CheckError(f"{path.name} is {size:,} bytes; the limit is {MAX_BYTES:,} bytes")
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise CheckError(f"{path}: cannot read it ({error.strerror})") from None
    if len(data) > MAX_BYTES:
        raise CheckError(f"{path.name} is over {MAX_BYTES:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CheckError(f"{path.name} is not UTF-8 text (byte {error.start})") from None


def check_file(checker: Checker, path: Path) -> BatchRow:
    """One file checked; whatever goes wrong with it is its row's message, not an exception."""
    try:
        return BatchRow(path.name, "checked", checker.check(read_solution_file(path), path.name))
    except CheckError as error:
        return BatchRow(path.name, "unreadable", message=str(error))


def solution_files(directory: Path) -> list[Path]:
    """The solution files of a directory, by name; raises CheckError if there are none."""
    if not directory.is_dir():
        raise CheckError(f"{directory}: not a directory (--batch checks every solution file in one)")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise CheckError(f"{directory}: no solution files ({', '.join(SUFFIXES)})")
    if len(files) > MAX_FILES:
        raise CheckError(f"{directory}: {len(files):,} solution files; the limit is {MAX_FILES:,}")
    return files


def run_batch(checker: Checker, files: Iterable[Path],
              map_fn: Callable[[Callable[[Path], BatchRow], Iterable[Path]], Iterator[BatchRow]] = map
              ) -> list[BatchRow]:
    """Every file checked, rows in file order; `map_fn` runs the work (any executor's map)."""
    return list(map_fn(partial(check_file, checker), files))


def to_csv(rows: list[BatchRow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.cells())
    return out.getvalue()


def to_json(rows: list[BatchRow]) -> str:
    doc = [versioned({"file": row.file, "status": row.status, **(row.result.to_dict() if row.result else
                                                                 {"message": row.message})}) for row in rows]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def summary(rows: list[BatchRow]) -> str:
    checked = [row for row in rows if row.result is not None]
    right = sum(row.result.ok for row in checked)
    return (f"checked {len(rows)} solution{'s' if len(rows) != 1 else ''}: {right} all right, "
            f"{len(checked) - right} with findings, {len(rows) - len(checked)} unreadable")
