"""Checking many solutions: every file of a directory, one report row each.

`check_file(checker, path)` is the unit of work (a file in, a row out, never an exception), and
`run_batch` maps it over the files with any `map` (the built-in one by default; another
executor can pass its own), so the rows come back in file order whatever runs them.
`run_by_variant` checks each file against the student's variant its name gives (a class graded
in one run): one Checker per variant, rows still in file order.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from symbackprop.api import Network
from symbackprop.check import Checker, CheckError, CheckResult
from symbackprop.check.limits import MAX_BYTES
from symbackprop.schema import versioned

#: What a solution file may be called.
SUFFIXES = (".md", ".markdown", ".tex", ".latex", ".txt")
#: Most files in one batch.
MAX_FILES = 10_000
#: The report's columns (with per-file variants, `variant` follows `file`).
COLUMNS = ("file", "status", "numbers", "right", "wrong", "carried_forward", "mistakes", "score", "causes", "summary")
#: A student's variant by id: its network and its spec's YAML; raises LookupError saying why there is none.
VariantLookup = Callable[[str], tuple[Network, str]]
#: Checks one variant's files: (its network, its spec's YAML, the files) -> their rows, in order.
GroupRunner = Callable[[Network, str, list[Path]], list["BatchRow"]]


@dataclass(frozen=True)
class BatchRow:
    """One file's outcome: `checked` (with its result) or `unreadable` (with the reason)."""

    file: str
    status: str
    result: CheckResult | None = None
    message: str = ""
    variant: str = ""  # the student's variant the file was checked against, if any

    def cells(self) -> dict[str, Any]:
        r = self.result
        if r is None:
            return {
                "file": self.file,
                "variant": self.variant,
                "status": self.status,
                "numbers": "",
                "right": "",
                "wrong": "",
                "carried_forward": "",
                "mistakes": "",
                "score": "",
                "causes": "",
                "summary": self.message,
            }
        causes = Counter(f.cause for f in r.findings)
        return {
            "file": self.file,
            "variant": self.variant,
            "status": self.status,
            "numbers": r.numbers,
            "right": r.right,
            "wrong": r.wrong,
            "carried_forward": r.carried_forward,
            "mistakes": r.mistakes,
            "score": f"{r.score:.4f}",
            "causes": "; ".join(f"{cause}: {count}" for cause, count in sorted(causes.items())),
            "summary": r.summary(),
        }


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


def run_batch(
    checker: Checker,
    files: Iterable[Path],
    map_fn: Callable[[Callable[[Path], BatchRow], Iterable[Path]], Iterator[BatchRow]] = map,
) -> list[BatchRow]:
    """Every file checked, rows in file order; `map_fn` runs the work (any executor's map)."""
    return list(map_fn(partial(check_file, checker), files))


def run_by_variant(
    files: list[Path],
    match: Callable[[str], str | None],
    lookup: VariantLookup,
    time_limit: float,
    where: str,
    run_group: GroupRunner | None = None,
) -> list[BatchRow]:
    """Each file checked against the variant its name gives (`match(stem)`: `07.md`, `07_hw3.md`), rows
    in file order. A file whose name gives no variant, or whose variant cannot be had, is an
    unreadable row saying why; `run_group` checks one variant's files (default: here, in order)."""
    rows: list[BatchRow | None] = [None] * len(files)
    groups: dict[str, list[int]] = {}
    for index, path in enumerate(files):
        ident = match(path.stem)
        if ident is None:
            rows[index] = BatchRow(
                path.name,
                "unreadable",
                message=f"no variant of {where} matches its name (name a "
                f"student's file <id>.md, or <id>_ or <id>- and anything)",
            )
        else:
            groups.setdefault(ident, []).append(index)
    for ident, indices in groups.items():
        paths = [files[i] for i in indices]
        try:
            net, spec_text = lookup(ident)
            group = (
                run_group(net, spec_text, paths)
                if run_group is not None
                else run_batch(Checker(net, time_limit), paths)
            )
        except (LookupError, CheckError) as error:
            group = [BatchRow(path.name, "unreadable", message=f"variant {ident}: {error}") for path in paths]
        for index, row in zip(indices, group, strict=True):
            rows[index] = replace(row, variant=ident)
    return [row for row in rows if row is not None]


def to_csv(rows: list[BatchRow]) -> str:
    out = io.StringIO()
    columns = (COLUMNS[0], "variant", *COLUMNS[1:]) if any(row.variant for row in rows) else COLUMNS
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.cells())
    return out.getvalue()


def to_json(rows: list[BatchRow]) -> str:
    doc = [
        versioned(
            {
                "file": row.file,
                **({"variant": row.variant} if row.variant else {}),
                "status": row.status,
                **(row.result.to_dict() if row.result else {"message": row.message}),
            }
        )
        for row in rows
    ]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def summary(rows: list[BatchRow]) -> str:
    checked = [row for row in rows if row.result is not None]
    right = sum(row.result.ok for row in checked if row.result is not None)
    return (
        f"checked {len(rows)} solution{'s' if len(rows) != 1 else ''}: {right} all right, "
        f"{len(checked) - right} with findings, {len(rows) - len(checked)} unreadable"
    )
