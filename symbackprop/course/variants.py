"""One exercise, a different instance per student: `symbackprop variants SPEC (--count N | --roster FILE)`.

Each student's variant is the spec with its own data and initial weights (draw.py: seeded by the
student's id and the seed, well conditioned, few digits), written as a spec of its own, with its
worked solution (render) and a key: every number of every training step and every target's
formula and value. index.csv lists the students and their files. The same spec, seed and ids
give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from symbackprop.api import Network, load
from symbackprop.course.draw import Drawer, DrawError
from symbackprop.numeric import NotComputable
from symbackprop.schema import versioned
from symbackprop.spec import SpecError
from symbackprop.spec.yamlsafe import load_yaml

#: A student id becomes a folder name: letters, digits and . _ @ + - only, at most MAX_ID characters.
ID = re.compile(r"[A-Za-z0-9_@+\-][A-Za-z0-9._@+\-]*\Z")
MAX_ID = 64
#: Most students in one run.
MAX_STUDENTS = 10_000
#: Marks a directory `variants` wrote, which a later run may replace.
INDEX = "index.csv"
DOCUMENT_FORMATS = ("tex", "md")


class VariantError(Exception):
    """Bad input for variants (a roster, an id, an output directory, a spec without numbers): exit 2."""


@dataclass(frozen=True)
class Student:
    id: str
    columns: dict[str, str] = field(default_factory=dict)  # the roster's other columns, carried to index.csv


@dataclass(frozen=True)
class Variant:
    """One student's instance: the spec with their numbers (as a dict and as YAML), and those numbers."""

    student: str
    seed: int
    doc: dict[str, Any]
    text: str
    values: dict[str, np.ndarray]

    def network(self) -> Network:
        """The variant's network, validated like any spec (from the dict: a 225-unit spec's YAML is slow
        to parse again)."""
        return load(self.doc)


def check_id(text: str, where: str) -> str:
    ident = text.strip()
    if not ident:
        raise VariantError(f"{where}: empty student id")
    if len(ident) > MAX_ID or not ID.fullmatch(ident):
        shown = ident if len(ident) <= 40 else ident[:40] + "..."
        raise VariantError(
            f"{where}: student id {shown!r} cannot name a folder (expected at most {MAX_ID} letters, "
            f"digits and . _ @ + -, not starting with .)"
        )
    return ident


def numbered(count: int) -> list[Student]:
    """Students 01, 02, ... (as many digits as the count needs)."""
    if not 1 <= count <= MAX_STUDENTS:
        raise VariantError(f"--count {count}: expected 1 to {MAX_STUDENTS}")
    width = max(2, len(str(count)))
    return [Student(f"{i:0{width}d}") for i in range(1, count + 1)]


def roster(path: str | Path, id_column: str = "id") -> list[Student]:
    """The students of a roster CSV (UTF-8, with a header holding `id_column`); other columns are kept."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise VariantError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise VariantError(f"{path}: not UTF-8 text (byte {error.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        if id_column not in header:
            raise VariantError(
                f"{path}: no column {id_column!r} (the header has {', '.join(header) or 'nothing'}; "
                f"name the id column with --id-column)"
            )
        students: list[Student] = []
        seen: dict[str, int] = {}
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(header)}
            ident = check_id(row[id_column], f"{path}:{reader.line_num}")
            if ident.lower() in seen:  # folders named by case only would collide on some file systems
                raise VariantError(
                    f"{path}:{reader.line_num}: student id {ident!r} is already on line {seen[ident.lower()]}"
                )
            seen[ident.lower()] = reader.line_num
            students.append(Student(ident, {k: v for k, v in row.items() if k != id_column}))
            if len(students) > MAX_STUDENTS:
                raise VariantError(f"{path}: more than {MAX_STUDENTS} students")
    except csv.Error as error:
        raise VariantError(f"{path}:{reader.line_num}: {error}") from None
    if not students:
        raise VariantError(f"{path}: no students (only a header)")
    return students


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]  # libyaml when there
    """Block style for the spec, flow style for each matrix ([[0.1, -0.4], [0.3, 0.2]])."""


def _matrix(dumper: yaml.SafeDumper, rows: list) -> yaml.Node:
    flow = all(isinstance(row, list) and all(isinstance(v, (int, float)) for v in row) for row in rows) or all(
        isinstance(v, (int, float)) for v in rows
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", rows, flow_style=flow or None)


_Dumper.add_representer(list, _matrix)


def _plain(values: np.ndarray) -> list[list[int | float]]:
    integers = bool(np.all(values == np.round(values)))
    return [[int(v) if integers else float(v) for v in row] for row in np.atleast_2d(values).tolist()]


class Variants:
    """The variants of one spec file."""

    def __init__(self, spec_path: str | Path, seed: int = 0) -> None:
        self.path = Path(spec_path)
        self.seed = seed
        try:
            self.source = self.path.read_text(encoding="utf-8")
        except OSError as error:
            raise VariantError(f"{spec_path}: cannot read ({error.strerror})") from None
        self.net = load(self.path)
        self.doc, _ = load_yaml(self.source, str(spec_path))
        try:
            self.drawer = Drawer(self.net)
        except NotComputable as error:
            raise VariantError(f"{spec_path}: variants need numbers, and {error}") from None

    def variant(self, student: str) -> Variant:
        """The student's variant (the same for the same spec, seed and id); raises VariantError."""
        try:
            values = self.drawer.variant(student, self.seed)
        except DrawError as error:
            raise VariantError(f"{self.path}: {error}") from None
        doc = dict(self.doc)
        doc["name"] = f"{self.net.spec.name} (variant {student})"
        drawn = {
            name: _plain(self._as_written(name, value))
            for name, value in values.items()
            if self.net.graph.named(name).role != "fixed"
        }
        given = self.doc.get("data") if isinstance(self.doc.get("data"), dict) else {}
        data = {name: value for name, value in given.items() if name not in drawn and name in self.net.spec.data}
        data.update(drawn)  # the fixed matrices the spec gives stay as it gives them
        doc["data"] = data
        header = (
            f"# Variant {student} of {self.path.name} (seed {self.seed}), drawn by `symbackprop variants`:\n"
            f"# the exercise with this student's own data and initial weights.\n"
        )
        text = header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
        return Variant(student, self.seed, doc, text, values)

    def _as_written(self, name: str, value: np.ndarray) -> np.ndarray:
        """A drawn leaf as the spec writes it: one-hot targets as class numbers from 1 under `labels: index`."""
        spec = self.net.spec
        if spec.loss.labels != "index" or spec.target_is_input or name != spec.target.name:
            return value
        columns = spec.convention.samples == "columns"
        classes = np.argmax(value, axis=0 if columns else 1) + 1
        return classes[None, :] if columns else classes[:, None]

    def key(self, variant: Variant, net: Network) -> dict[str, Any]:
        """Every number of every step and every target's formula (in the spec's notation) and value."""
        run = net.train()
        first = run.to_dict()["steps"][0]
        targets = []
        for target in net.derive().targets:
            value = first["delta"].get(target.symbol) if target.kind == "delta" else first["grad"].get(target.key)
            targets.append(
                {
                    "target": target.name,
                    "kind": target.kind,
                    "shape": list(target.shape),
                    "text": target.text("matrix"),
                    "latex": target.latex("matrix"),
                    "value": value,
                }
            )
        check = net.gradcheck()
        return versioned(
            {
                "student": variant.student,
                "seed": variant.seed,
                "exercise": self.net.spec.name,
                "source": self.path.name,
                "spec": "spec.yaml",
                "data": {
                    name: _plain(value)
                    for name, value in variant.values.items()
                    if net.graph.named(name).role != "fixed"
                },
                "targets": targets,
                "numeric": {key: value for key, value in run.to_dict().items() if key != "schema_version"},
                "gradcheck": {
                    "ok": check.ok,
                    "max_relative_error": max((p.error for p in check.parameters.values()), default=0.0),
                },
            }
        )


def to_json(value: Any, indent: int = 0) -> str:
    """JSON laid out for reading: objects one key a line, each matrix or vector on one line."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(key)}: {to_json(item, indent + 2)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    flat = isinstance(value, list) and all(
        not isinstance(v, (dict, list)) or (isinstance(v, list) and all(not isinstance(w, (dict, list)) for w in v))
        for v in value
    )
    if isinstance(value, list) and value and not flat:
        return "[\n" + ",\n".join(f"{inner}{to_json(item, indent + 2)}" for item in value) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _document(net: Network, fmt: str, pdf: bool) -> dict[str, bytes]:
    """The worked solution, and the files it refers to (a Markdown document's diagram, network.svg)."""
    from symbackprop.render import PdfError, render_document, render_pdf

    try:
        document = render_document(net, fmt)
        files = {f"solution.{fmt}": document.text.encode("utf-8"), **document.files}
        if pdf:
            files["solution.pdf"] = render_pdf(net).data
    except PdfError as error:
        raise VariantError(str(error)) from None
    return files


def write(
    spec_path: str | Path, students: Sequence[Student], seed: int, out: str | Path, fmt: str = "tex", pdf: bool = False
) -> list[dict[str, str]]:
    """Write every student's folder (spec.yaml, solution.<fmt>[, solution.pdf], key.json) and index.csv
    into `out`, all or nothing; returns the index rows. Raises VariantError."""
    if fmt not in DOCUMENT_FORMATS:
        raise VariantError(f"--format {fmt}: expected one of {', '.join(DOCUMENT_FORMATS)}")
    if pdf and fmt != "tex":
        raise VariantError("--pdf compiles LaTeX: use it with --format tex")
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise VariantError(f"-o {out}: is a file, not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / INDEX).is_file():
        raise VariantError(
            f"-o {out}: the directory is not empty and was not written by `symbackprop variants`; choose a new one"
        )
    variants = Variants(spec_path, seed)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    except OSError as error:
        raise VariantError(f"-o {out}: cannot write there ({error.strerror})") from None
    rows = []
    try:
        for student in students:
            variant = variants.variant(student.id)
            net = variant.network()
            folder = staging / student.id
            folder.mkdir()
            files = {
                "spec.yaml": variant.text.encode("utf-8"),
                **_document(net, fmt, pdf),
                "key.json": (to_json(variants.key(variant, net)) + "\n").encode("utf-8"),
            }
            for name, data in files.items():
                (folder / name).write_bytes(data)
            rows.append(
                {
                    "id": student.id,
                    "spec": f"{student.id}/spec.yaml",
                    "document": f"{student.id}/solution.{fmt}",
                    "key": f"{student.id}/key.json",
                    **({"pdf": f"{student.id}/solution.pdf"} if pdf else {}),
                    **student.columns,
                }
            )
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (staging / INDEX).write_text(buffer.getvalue(), encoding="utf-8")
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return rows


def _replace(staging: Path, target: Path) -> None:
    """Put the new directory in place of the old one (if any), removing the old one only after."""
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)


class VariantSource:
    """Each student's variant of one exercise, for grading: read from the directory `variants` wrote
    (its index.csv says which ids there are: any other is "no variant ID"), or, without one, drawn
    again from the spec and the seed. Networks are built once per id."""

    def __init__(self, spec_path: str | Path, seed: int = 0, directory: str | Path | None = None) -> None:
        self.spec_path = Path(spec_path)
        self.seed = seed
        self.directory = None if directory is None else Path(directory)
        self.exercise = load(self.spec_path).spec.name
        self.index = None if self.directory is None else read_index(self.directory)
        self._variants: Variants | None = None
        self._networks: dict[str, Network] = {}
        self._drawn_variants: dict[str, Variant] = {}

    def where(self) -> str:
        """Where the variants come from, for messages."""
        if self.directory is not None:
            return str(self.directory / INDEX)
        return f"{self.spec_path} drawn with seed {self.seed}"

    def find(self, ident: str, where: str = "--variant") -> str:
        """The id as the variants know it; raises VariantError for one they do not have."""
        if self.index is None:
            return check_id(ident, where)
        wanted = ident.strip()
        found = (
            wanted
            if wanted in self.index
            else next((known for known in self.index if known.lower() == wanted.lower()), None)
        )
        if found is None:
            assert self.directory is not None  # the index was read from it
            shown = wanted if len(wanted) <= 40 else wanted[:40] + "..."
            raise VariantError(
                f"{where}: no variant {shown!r} in {self.directory / INDEX} "
                f"({len(self.index)} variant(s), e.g. {next(iter(self.index))})"
            )
        return found

    def text(self, ident: str, where: str = "--variant") -> str:
        """The variant's spec as YAML text (what a Dask worker is sent); raises VariantError."""
        ident = self.find(ident, where)
        if self.index is None:
            return self._drawn(ident).text
        assert self.directory is not None
        path = (self.directory / self.index[ident]).resolve()
        if not path.is_relative_to(self.directory.resolve()):
            raise VariantError(
                f"{self.directory / INDEX}: the spec of variant {ident!r} ({self.index[ident]}) is "
                f"outside {self.directory}"
            )
        try:
            return path.read_text(encoding="utf-8")
        except OSError as error:
            raise VariantError(f"{path}: cannot read the spec of variant {ident!r} ({error.strerror})") from None
        except UnicodeDecodeError as error:
            raise VariantError(f"{path}: not UTF-8 text (byte {error.start})") from None

    def network(self, ident: str, where: str = "--variant") -> Network:
        """The variant's network; raises VariantError (also for a directory of another exercise's
        variants, or a spec that does not load)."""
        ident = self.find(ident, where)
        if ident not in self._networks:
            if self.index is None:
                net = self._drawn(ident).network()
            else:
                try:
                    net = load(self.text(ident, where))
                except SpecError as error:
                    raise VariantError(f"{self.directory}/{self.index[ident]}: {error}") from None
                expected = f"{self.exercise} (variant {ident})"
                if net.spec.name != expected:
                    raise VariantError(
                        f"{self.directory}/{self.index[ident]} is {net.spec.name!r}, not a variant "
                        f"of {self.spec_path} ({expected!r})"
                    )
            self._networks[ident] = net
        return self._networks[ident]

    def lookup(self, ident: str) -> tuple[Network, str]:
        """The variant's network and spec YAML, for a grader's row or file (verify's variant column,
        check --batch); raises LookupError saying why there is none."""
        try:
            return self.network(ident, "variant"), self.text(ident, "variant")
        except VariantError as error:
            raise LookupError(str(error)) from None

    def match(self, stem: str) -> str | None:
        """The variant a solution file's name (without its suffix) names: the id itself, or the id
        followed by `_`, `-`, `.` or a space and anything (`07_hw3`, `alice-final`); the longest
        such id, letter case aside. Needs the directory's index; None if no id fits."""
        if self.index is None:
            return None
        name = stem.lower()
        fits = [
            known
            for known in self.index
            if name == known.lower() or (name.startswith(known.lower()) and name[len(known)] in "_-. ")
        ]
        return max(fits, key=len) if fits else None

    def _drawn(self, ident: str) -> Variant:
        if self._variants is None:
            self._variants = Variants(self.spec_path, self.seed)
        if ident not in self._drawn_variants:
            self._drawn_variants[ident] = self._variants.variant(ident)
        return self._drawn_variants[ident]


def read_index(directory: Path) -> dict[str, str]:
    """The ids of a variants directory and their specs' paths (index.csv); raises VariantError."""
    path = directory / INDEX
    if not directory.is_dir():
        raise VariantError(f"--variants {directory}: not a directory")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError:
        raise VariantError(
            f"--variants {directory}: no {INDEX} (give the directory `symbackprop variants` wrote)"
        ) from None
    except UnicodeDecodeError as error:
        raise VariantError(f"{path}: not UTF-8 text (byte {error.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        if not reader.fieldnames or not {"id", "spec"} <= set(reader.fieldnames):
            raise VariantError(
                f"{path}: expected the columns id and spec (the header has "
                f"{', '.join(reader.fieldnames or []) or 'nothing'})"
            )
        index: dict[str, str] = {}
        for row in reader:
            if len(index) >= MAX_STUDENTS:
                raise VariantError(f"{path}: more than {MAX_STUDENTS} variants")
            index[check_id(row["id"] or "", f"{path}:{reader.line_num}")] = (row["spec"] or "").strip()
    except csv.Error as error:
        raise VariantError(f"{path}:{reader.line_num}: {error}") from None
    if not index:
        raise VariantError(f"{path}: no variants (only a header)")
    return index
