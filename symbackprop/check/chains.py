"""Equations out of math: rows, statements and the sides of each chain.

Layout environments (split, aligned, an array whose cells hold `=`, ...) are flattened into
rows; a row that starts with `=` continues the chain of the row before
(`s_1 &= W x \\\\ &= [..]`). A row is cut into statements at top-level separators (`,`, `;`,
`\\quad`, `\\text{and}`, `\\Rightarrow`) when what follows is an equation of its own, and a
statement into sides at `=`, `\\approx` and `:=`. Each side is then a name, a value (values.py)
or an expression; an expression is kept only to tell an update (`W - 0.1 \\cdot dW`) from a
restatement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from symbackprop.check.tokens import Env, Group, Item, Tok, text_of
from symbackprop.check.values import Value, value

#: Environments used for layout: their rows are equations, not a matrix.
LAYOUT_ENVIRONMENTS = frozenset(
    {
        "split",
        "aligned",
        "alignedat",
        "gathered",
        "multlined",
        "align",
        "align*",
        "eqnarray",
        "eqnarray*",
        "gather",
        "gather*",
        "flalign",
        "flalign*",
        "alignat",
        "alignat*",
        "equation",
        "equation*",
        "multline",
        "multline*",
        "subequations",
    }
)
#: Relations that join the sides of a chain.
EQUALS = frozenset({"=", "approx", "coloneqq", "simeq", "doteq", "equiv", "leftarrow", "gets", "Leftarrow"})
#: Tokens that end a statement.
SEPARATORS = frozenset(
    {
        ",",
        ";",
        "quad",
        "qquad",
        "Rightarrow",
        "implies",
        "Longrightarrow",
        "to",
        "rightarrow",
        "iff",
        "therefore",
        "Leftrightarrow",
        "longrightarrow",
        "mapsto",
        "and",
    }
)
_TEXT = frozenset({"text", "textrm", "mbox", "textit", "textbf", "mathrm", "intertext"})


@dataclass(frozen=True)
class Side:
    items: tuple[Item, ...]
    value: Value | None

    @property
    def text(self) -> str:
        return text_of(list(self.items))


@dataclass(frozen=True)
class Chain:
    """`a = b = c`: its sides in order, and the offset (in the math) where it starts."""

    sides: tuple[Side, ...]
    pos: int


def _is(item: Item, kind: str, *texts: str) -> TypeGuard[Tok]:
    return isinstance(item, Tok) and item.kind == kind and (not texts or item.text in texts)


def _is_equals(item: Item) -> bool:
    return _is(item, "op", "=") or _is(item, "cmd", *EQUALS - {"="})


def _is_layout(env: Env) -> bool:
    if env.name in LAYOUT_ENVIRONMENTS:
        return True
    if env.name in ("array", "tabular", "cases", "dcases"):
        return env.name.endswith("cases") is False and any(
            _is_equals(item) for row in env.rows for cell in row for item in cell
        )
    return False


def rows(items: list[Item]) -> list[list[Item]]:
    """The rows of a piece of math: split at top-level \\\\ and through layout environments."""
    out: list[list[Item]] = [[]]
    for item in items:
        if _is(item, "op", "\\\\"):
            out.append([])
        elif _is(item, "op", "&"):
            continue  # alignment of an align environment
        elif isinstance(item, Env) and _is_layout(item):
            for k, row in enumerate(item.rows):
                flat = [piece for cell in row for piece in (*cell, Tok("op", "&", item.pos))][:-1]
                flat = [piece for piece in flat if not _is(piece, "op", "&")]
                nested = rows(flat)
                if k == 0:
                    out[-1].extend(nested[0])
                    out.extend(nested[1:])
                else:
                    out.extend(nested)
        else:
            out[-1].append(item)
    return [row for row in out if row]


def _is_separator(item: Item) -> bool:
    if _is(item, "op", ",", ";") or _is(item, "cmd", *SEPARATORS) or _is(item, "word", "and", "so", "thus"):
        return True
    return False


def _text_separator(items: list[Item], index: int) -> bool:
    """\\text{ and } and the like: a command of text followed by words (not a function's name
    applied to something, `\\mathrm{ReLU}(Z)`)."""
    item = items[index]
    after = items[index + 2] if index + 2 < len(items) else None
    applied = isinstance(after, Group) and after.open == "("
    words = items[index + 1] if index + 1 < len(items) else None
    return (
        _is(item, "cmd", *_TEXT)
        and isinstance(words, Group)
        and any(_is(piece, "word") and len(piece.text) > 1 for piece in words.items)
        and not applied
    )


def statements(row: list[Item]) -> list[list[Item]]:
    """A row cut at separators that are followed by an equation of their own."""
    parts: list[list[Item]] = [[]]
    k = 0
    while k < len(row):
        item = row[k]
        if _text_separator(row, k):
            parts.append([])
            k += 2
            continue
        if _is_separator(item):
            parts.append([])
        else:
            parts[-1].append(item)
        k += 1
    merged: list[list[Item]] = []
    for part in parts:
        if merged and not any(_is_equals(item) for item in part):
            merged[-1] = merged[-1] + [Tok("op", ",", 0)] + part if part else merged[-1]
        else:
            merged.append(part)
    return [part for part in merged if part]


def sides(statement: list[Item]) -> list[list[Item]]:
    out: list[list[Item]] = [[]]
    for item in statement:
        if _is_equals(item):
            out.append([])
        elif _is(item, "op", ":") and out[-1] == []:
            continue
        else:
            out[-1].append(item)
    if len(out) > 1 and out[-1] and _is(out[-1][0], "op", ":"):
        out[-1] = out[-1][1:]
    return out


def chains(items: list[Item]) -> list[Chain]:
    """Every chain of equations in a piece of math, rows continuing with `=` joined to the one before."""
    found: list[Chain] = []
    for row in rows(items):
        for statement in statements(row):
            parts = sides(statement)
            if len(parts) < 2:
                continue
            pos = next((i.pos for i in statement if isinstance(i, (Tok, Group, Env))), 0)
            new = tuple(Side(tuple(part), value(part)) for part in parts if part)
            continues = not parts[0] and found
            if continues:
                found[-1] = Chain(found[-1].sides + new, found[-1].pos)
            elif parts[0]:
                found.append(Chain(new, pos))
    return found
