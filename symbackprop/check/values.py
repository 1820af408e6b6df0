"""Numbers and matrices as students write them, read from item trees (tokens.py).

A number keeps the text it was written with, so that it is checked to the digits written
(solution.py `tolerance`): `0.6013` is right for any truth within one unit of its last digit
(1e-4), `2` only for 2 itself, since a whole truth is not rounded. Scalars may carry a
sign, a decimal comma (`0{,}5`), a power of ten (`1.2e-3`, `1.2 \\times 10^{-3}`) and a
wrapper (`\\boxed{..}`, `\\mathbf{..}`). Matrices: the matrix environments (bmatrix, pmatrix,
matrix, Bmatrix, smallmatrix, an array of numbers, also in `\\left[ .. \\right]`), binomial
columns `{a \\choose b}` and `\\binom{a}{b}`, bracketed lists (`[0.5, 0.2]`, `(2, 3)`,
`[[1, 2], [3, 4]]`, `[1 2; 3 4]`) and rows one per bracket (`[ 1  2 ] [ 3  4 ]`); `^T`,
`^\\top` or `'` after one transposes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

from symbackprop.check.limits import MAX_CELLS, MAX_EXPONENT, CheckError
from symbackprop.check.tokens import Env, Group, Item, Tok, text_of

#: Environments that hold a matrix (an `array` too, when every cell is a number).
MATRIX_ENVIRONMENTS = frozenset(
    {
        "matrix",
        "pmatrix",
        "bmatrix",
        "Bmatrix",
        "smallmatrix",
        "psmallmatrix",
        "bsmallmatrix",
        "array",
        "matrix*",
        "pmatrix*",
        "bmatrix*",
        "subarray",
    }
)
#: Commands around a value that change nothing about it.
WRAPPERS = frozenset(
    {
        "boxed",
        "mathbf",
        "bm",
        "boldsymbol",
        "textbf",
        "mathrm",
        "underline",
        "fbox",
        "mathit",
        "mathsf",
        "text",
        "textnormal",
        "mbox",
        "displaystyle",
        "emph",
        "pmb",
        "mathnormal",
    }
)
#: Commands that leave no trace in the value (alignment helpers).
_INVISIBLE = frozenset({"phantom", "hphantom", "vphantom", "mathllap", "mathrlap", "llap", "rlap"})
#: Separators inside a bracketed list of numbers.
_LIST_SEPARATORS = frozenset({",", ";"})


@dataclass(frozen=True)
class Number:
    """A number as written: its value, its text and one unit in its last digit."""

    value: float
    text: str
    unit: float


@dataclass(frozen=True)
class Value:
    """A scalar (1x1) or a matrix, rows of Numbers in the layout written; `transposed` when a
    ^T follows it (the rows are then already transposed back)."""

    rows: tuple[tuple[Number, ...], ...]
    matrix: bool  # written as a matrix or list (a 1x1 matrix is still a matrix)
    transposed: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows[0])

    @property
    def numbers(self) -> list[Number]:
        return [number for row in self.rows for number in row]


def number(text: str, exponent: int = 0, negative: bool = False) -> Number:
    """A Number from the digits written, with a power of ten (`1.2` and -3 for 1.2e-3)."""
    parts = re.split("[eE]", text)
    mantissa = parts[0]
    if len(parts) == 2:
        exponent += int(parts[1])
    if abs(exponent) > MAX_EXPONENT:
        raise CheckError(f"a power of ten of {exponent}; the limit is {MAX_EXPONENT}")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    value = float(mantissa) * 10.0**exponent
    written = ("-" if negative else "") + text + (f"e{exponent}" if exponent and len(parts) == 1 else "")
    return Number(-value if negative else value, written, 10.0 ** (exponent - decimals))


def _is(item: Item, kind: str, *texts: str) -> TypeGuard[Tok]:
    return isinstance(item, Tok) and item.kind == kind and (not texts or item.text in texts)


def strip(items: list[Item]) -> list[Item]:
    """Items without wrappers, invisible helpers, spacing and trailing punctuation or remarks."""
    items = list(items)
    changed = True
    while changed and items:
        changed = False
        while items and (_is(items[-1], "op", ",", ".", ";", ":") or _is(items[-1], "cmd", "quad", "qquad")):
            items.pop()
            changed = True
        while items and (_is(items[0], "cmd", "quad", "qquad") or _is(items[0], "op", "&")):
            items.pop(0)
            changed = True
        if (
            len(items) >= 2
            and _is(items[-2], "cmd", "text", "textrm", "mbox", "textit")
            and isinstance(items[-1], Group)
            and re.search("[A-Za-z]", text_of(items[-1].items))
            and len(items) > 2
        ):
            del items[-2:]  # a remark after the value: 0.5 \text{(rounded)}
            changed = True
        for index, item in enumerate(items):
            if _is(item, "cmd", *_INVISIBLE) and index + 1 < len(items) and isinstance(items[index + 1], Group):
                del items[index : index + 2]
                changed = True
                break
        if (
            len(items) == 1
            and isinstance(items[0], Group)
            and items[0].open == "{"
            and not any(_is(item, "cmd", "choose", "atop") for item in items[0].items)
        ):
            items = list(items[0].items)
            changed = True
        elif (
            len(items) == 2 and _is(items[0], "cmd", *WRAPPERS) and isinstance(items[1], Group) and items[1].open == "{"
        ):
            items = list(items[1].items)
            changed = True
        elif len(items) >= 3 and _is(items[0], "cmd", "color", "textcolor") and isinstance(items[1], Group):
            items = items[2:]
            changed = True
    return items


def scalar(items: list[Item]) -> Number | None:
    """A signed number, possibly with a decimal comma or a power of ten; None if it is anything else."""
    items = strip(items)
    negative = False
    while items and _is(items[0], "op", "-", "+"):
        negative ^= items[0].text == "-"
        items = strip(items[1:])
    if len(items) == 1 and isinstance(items[0], Group) and items[0].open == "(":
        inner = scalar(items[0].items)
        return None if inner is None else (Number(-inner.value, "-" + inner.text, inner.unit) if negative else inner)
    if not items or not _is(items[0], "num"):
        return None
    text = items[0].text
    rest = items[1:]
    if (
        len(rest) >= 2
        and isinstance(rest[0], Group)
        and [t.text for t in rest[0].items if isinstance(t, Tok)] == [","]
        and _is(rest[1], "num")
        and "." not in text
        and "." not in rest[1].text
    ):
        text = f"{text}.{rest[1].text}"  # 0{,}5: a decimal comma
        rest = rest[2:]
    exponent = 0
    if rest:
        exponent_value = _power_of_ten(rest)
        if exponent_value is None:
            return None
        exponent = exponent_value
        if re.search("[eE]", text):
            return None
    return number(text, exponent, negative)


def _power_of_ten(items: list[Item]) -> int | None:
    """The k of `\\times 10^{k}` (or `\\cdot 10^k`, `* 10^k`); None if the items are not that."""
    if len(items) < 4 or not (_is(items[0], "cmd", "times", "cdot") or _is(items[0], "op", "*")):
        return None
    if not _is(items[1], "num", "10") or not _is(items[2], "op", "^"):
        return None
    power = items[3:]
    if len(power) == 1 and isinstance(power[0], Group):
        power = power[0].items
    sign = 1
    if power and _is(power[0], "op", "-", "+"):
        sign = -1 if power[0].text == "-" else 1
        power = power[1:]
    if len(power) != 1 or not _is(power[0], "num") or not power[0].text.isdigit():
        return None
    return sign * int(power[0].text)


def _transpose_suffix(items: list[Item]) -> tuple[list[Item], bool]:
    """The items without a trailing transpose mark, and whether there was one."""
    if items and _is(items[-1], "op", "'", "ᵀ"):
        return items[:-1], True
    if len(items) >= 2 and _is(items[-2], "op", "^"):
        mark = items[-1]
        inner = mark.items if isinstance(mark, Group) and mark.open == "{" else [mark]
        inner = strip(inner)
        if len(inner) == 1 and (_is(inner[0], "word", "T") or _is(inner[0], "cmd", "top", "intercal", "prime")):
            return items[:-2], True
    return items, False


def _cells(rows: list[list[list[Item]]]) -> tuple[tuple[Number, ...], ...] | None:
    out = []
    for row in rows:
        numbers = []
        for cell in row:
            found = scalar(cell)
            if found is None:
                return None
            numbers.append(found)
        out.append(tuple(numbers))
    widths = {len(row) for row in out}
    return tuple(out) if out and len(widths) == 1 else None


def _count(rows: list[list[list[Item]]]) -> None:
    cells = sum(len(row) for row in rows)
    if cells > MAX_CELLS:
        raise CheckError(f"a matrix of {cells:,} entries; the limit is {MAX_CELLS:,}")


def _list(items: list[Item]) -> tuple[tuple[Number, ...], ...] | None:
    """The rows of a bracketed list: `1, 2`, `1 2; 3 4`, or `[1, 2], [3, 4]` (nested lists)."""
    items = [item for item in items if not _is(item, "cmd", "quad", "qquad")]
    if items and all(isinstance(item, Group) and item.open == "[" or _is(item, "op", ",") for item in items):
        nested = [_list(item.items) for item in items if isinstance(item, Group)]
        if any(row is None or len(row) != 1 for row in nested) or not nested:
            return None
        flat = tuple(row[0] for row in nested if row is not None)
        return flat if len({len(row) for row in flat}) == 1 else None
    rows: list[list[Number]] = [[]]
    current: list[Item] = []

    def flush() -> bool:
        if not current:
            return True
        found = scalar(current)
        current.clear()
        if found is None:
            return False
        rows[-1].append(found)
        return True

    for item in items:
        if _is(item, "op", *_LIST_SEPARATORS):
            if not current:
                return None
            if not flush():
                return None
            if item.text == ";":
                rows.append([])
        elif (
            _is(item, "op", "-", "+")
            and current
            and not _is(current[-1], "op", "^", "-", "+")
            and not _is(current[-1], "cmd", "times", "cdot")
        ):
            if not flush():  # "2 -3": two numbers
                return None
            current.append(item)
        elif _is(item, "num") and current and _is(current[-1], "num"):
            if not flush():  # "2 3": two numbers
                return None
            current.append(item)
        else:
            current.append(item)
    if not flush():
        return None
    if not rows[-1] and len(rows) > 1:
        rows.pop()
    if not rows[0] or len({len(row) for row in rows}) != 1:
        return None
    if sum(len(row) for row in rows) > MAX_CELLS:
        raise CheckError(f"a list of more than {MAX_CELLS:,} numbers")
    return tuple(tuple(row) for row in rows)


def value(items: list[Item]) -> Value | None:
    """The number or matrix one side of an equation holds; None if it is anything else."""
    items = strip(items)
    if (
        len(items) > 1
        and isinstance(items[-1], Group)
        and items[-1].open == "("
        and re.fullmatch(r"[A-Za-z][A-Za-z ,.]+", text_of(items[-1].items))
    ):
        items = strip(items[:-1])  # a remark in plain text: 0.5 (rounded)
    items, transposed = _transpose_suffix(items)
    items = strip(items)
    if not items:
        return None
    if not transposed:
        found = scalar(items)
        if found is not None:
            return Value(((found,),), matrix=False)
    rows = _matrix(items)
    if rows is None:
        return None
    if transposed:
        rows = tuple(zip(*rows, strict=True))
    return Value(rows, matrix=True, transposed=transposed)


def _matrix(items: list[Item]) -> tuple[tuple[Number, ...], ...] | None:
    if len(items) == 1 and isinstance(items[0], Env) and items[0].name in MATRIX_ENVIRONMENTS:
        _count(items[0].rows)
        return _cells(items[0].rows)
    if (
        len(items) == 1
        and isinstance(items[0], Group)
        and items[0].open in ("[", "(", "{")
        or (len(items) == 1 and isinstance(items[0], Group) and items[0].open in ("|", "."))
    ):
        group = items[0]
        inner = strip(group.items)
        if len(inner) == 1 and isinstance(inner[0], Env) and inner[0].name in MATRIX_ENVIRONMENTS:
            _count(inner[0].rows)
            return _cells(inner[0].rows)
        choose = [k for k, item in enumerate(inner) if _is(item, "cmd", "choose", "atop")]
        if len(choose) == 1:  # {a \choose b}: a column of two
            top, bottom = scalar(inner[: choose[0]]), scalar(inner[choose[0] + 1 :])
            return ((top,), (bottom,)) if top is not None and bottom is not None else None
        if group.open in ("[", "("):
            return _list(inner)
        return None
    if len(items) == 3 and _is(items[0], "cmd", "binom", "dbinom", "tbinom"):
        top = scalar(items[1].items) if isinstance(items[1], Group) else None
        bottom = scalar(items[2].items) if isinstance(items[2], Group) else None
        return ((top,), (bottom,)) if top is not None and bottom is not None else None
    if len(items) > 1 and all(isinstance(item, Group) and item.open == "[" for item in items):
        rows = [_list(item.items) for item in items if isinstance(item, Group)]  # [ 1 2 ] [ 3 4 ]: one row each
        if any(row is None or len(row) != 1 for row in rows):
            return None
        flat = tuple(row[0] for row in rows if row is not None)
        return flat if len({len(row) for row in flat}) == 1 else None
    return None
