"""Names as students write them on the left of an equation, taken apart (no network needed yet).

A name is a base (a letter, a word or a Greek letter, in any font: `\\vec{a}`, `\\mathbf{W}`)
with sub- and superscripts, primes and, for a loss, arguments (`L(t;y)`). Around it, the
decorations of the issue:

- a gradient: `\\Delta W`, `\\partial W`, `dW`, `\\delta W`, `\\nabla_W L`, `\\nabla_{W} E`,
  `\\frac{\\partial L}{\\partial W}`, `\\frac{dL}{dW}`, `dL/dW`, `\\partial L / \\partial W`;
- an update: `W'`, `W^{t+1}`, `W^{(t+1)}`, `W_{new}`, `W^{new}`, `W^{+}`, `W_{t+1}`;
- the current value: `W^{(t)}`, `W_{old}`, `W^{old}`;
- a transpose: `W^T`, `W^\\top`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeGuard

from symbackprop.check.tokens import Group, Item, Tok, text_of
from symbackprop.check.values import strip

#: Fonts and accents around a name's base, read through.
_FONTS = frozenset(
    {
        "vec",
        "mathbf",
        "boldsymbol",
        "bm",
        "mathrm",
        "mathit",
        "mathsf",
        "mathnormal",
        "text",
        "textbf",
        "textrm",
        "operatorname",
        "underline",
        "overrightarrow",
        "pmb",
        "mathbb",
        "mathtt",
    }
)
#: Accents that make another name (\hat{y} is the prediction, not y).
_ACCENTS = {"hat": "hat", "widehat": "hat", "tilde": "tilde", "widetilde": "tilde", "bar": "bar", "overline": "bar"}
#: Loss spellings in a derivative's numerator or as a name.
LOSS_BASES = frozenset({"L", "E", "J", "l", "C", "mathcal{L}", "mathcal{E}", "mathcal{J}", "Loss", "loss", "err"})
#: Labels that mark an updated parameter, and the current one.
UPDATE_LABELS = frozenset({"new", "neu", "t+1", "(t+1)", "+", "next", "updated", "k+1", "(k+1)", "n+1", "(n+1)"})
CURRENT_LABELS = frozenset({"old", "t", "(t)", "alt", "current"})
_TRANSPOSE_LABELS = frozenset(
    {"T", "top", "\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}", "\\text{T}", "\\mathbf{T}", "\\textsf{T}"}
)
_PRIME_LABELS = frozenset({"\\prime", "'", "*"})


@dataclass(frozen=True)
class WrittenName:
    """A name taken apart. `form` is "plain", "grad" (a gradient of what the rest names),
    "update" (an updated parameter) or "current" (a parameter before the step)."""

    text: str
    base: str
    sub: str | None = None
    sup: str | None = None
    form: str = "plain"
    transposed: bool = False
    accent: str | None = None
    args: bool = False


def _is(item: Item, kind: str, *texts: str) -> TypeGuard[Tok]:
    return isinstance(item, Tok) and item.kind == kind and (not texts or item.text in texts)


def label(items: list[Item]) -> str:
    """A script's text, compact: {(2)} -> (2), {\\text{out}} -> out, { 1, 2 } -> 1,2."""
    parts: list[str] = []
    for item in items:
        if isinstance(item, Tok):
            parts.append(item.text if item.kind != "cmd" else "\\" + item.text)
        elif isinstance(item, Group) and item.open == "{" and parts and parts[-1].lstrip("\\") in _FONTS:
            parts[-1] = label(item.items)  # \text{out} -> out
        elif isinstance(item, Group):
            inner = label(item.items)
            parts.append(inner if item.open == "{" else f"{item.open}{inner}{item.close}")
        else:
            parts.append(text_of([item]))
    return "".join(parts)


def _script(items: list[Item], k: int) -> tuple[list[Item], int] | None:
    """The argument of a ^ or _ at items[k - 1]: a group's items or one token."""
    if k >= len(items):
        return None
    item = items[k]
    if isinstance(item, Group) and item.open == "{":
        return item.items, k + 1
    if isinstance(item, Group) and item.open == "(":
        return [item], k + 1  # w^(1), s^(rec,2): the plain-text layer style the tool prints
    if isinstance(item, Tok):
        if item.kind == "num" and len(item.text) > 1 and item.text.isdigit():
            return [Tok("num", item.text[0], item.pos)], k + 1  # x_12 is x_{1}2 in TeX: keep the 1 only
        if item.kind == "cmd" and k + 1 < len(items) and isinstance(items[k + 1], Group) and item.text in _FONTS:
            return [item, items[k + 1]], k + 2  # _\text{out}
        return [item], k + 1
    return None


def _base(items: list[Item]) -> tuple[str, str | None, list[Item]] | None:
    """The base name at the start, its accent, and the items after it."""
    if not items:
        return None
    first = items[0]
    if (
        isinstance(first, Tok)
        and first.kind == "cmd"
        and first.text in _FONTS | set(_ACCENTS)
        and len(items) > 1
        and isinstance(items[1], Group)
        and items[1].open == "{"
    ):
        inner = strip(items[1].items)
        found = _base(inner)
        if found is None:
            return None
        base, accent, rest = found
        accent = _ACCENTS.get(first.text, accent)
        return base, accent, rest + items[2:]  # \vec{a}^{(1)} and \vec{a^{(1)}} alike
    if (
        isinstance(first, Tok)
        and first.kind == "cmd"
        and first.text == "mathcal"
        and len(items) > 1
        and isinstance(items[1], Group)
    ):
        return f"mathcal{{{label(items[1].items)}}}", None, items[2:]
    if _is(first, "word"):
        return first.text, None, items[1:]
    if (
        _is(first, "cmd")
        and first.text.isalpha()
        and first.text not in ("frac", "dfrac", "tfrac", "partial", "nabla", "Delta", "sum", "prod")
    ):
        return first.text, None, items[1:]
    return None


def parse_name(items: list[Item]) -> WrittenName | None:
    """The name a side of an equation is, or None when the side is anything else (an expression,
    a number, a function applied to something)."""
    items = strip(items)
    if not items:
        return None
    text = text_of(items)
    gradient = _gradient(items)
    if gradient is not None:
        inner = parse_name(gradient)
        return None if inner is None or inner.form == "grad" else replace(inner, text=text, form="grad")
    while isinstance(items[0], Group) and items[0].open == "{" and len(items) > 1:
        items = strip(items[0].items) + items[1:]  # {w^{(1)}}': the braces keep the prime off the superscript
        if not items:
            return None
    found = _base(items)
    if found is None:
        return None
    base, accent, rest = found
    sub: str | None = None
    sup: str | None = None
    form, transposed, args = "plain", False, False
    k = 0
    while k < len(rest):
        item = rest[k]
        if _is(item, "op", "_", "^"):
            script = _script(rest, k + 1)
            if script is None:
                return None
            content, k = script
            written = label(content)
            head, comma, last = written.rpartition(",")
            if item.text == "^" and comma and head and (last in UPDATE_LABELS or last in CURRENT_LABELS):
                form = "update" if last in UPDATE_LABELS else "current"  # w^{(2),t+1}: layer 2, after the step
                written = head
            if item.text == "^" and written in _TRANSPOSE_LABELS:
                transposed = True
            elif item.text == "^" and written in _PRIME_LABELS:
                form = "update"
            elif written in UPDATE_LABELS:
                form = "update"
            elif written in CURRENT_LABELS:
                form = "current"
            elif item.text == "_":
                if sub is not None:
                    return None
                sub = written
            else:
                if sup is not None:
                    return None
                sup = written
            continue
        if _is(item, "op", "'"):
            form = "update"
            k += 1
            continue
        if (
            isinstance(item, Group)
            and item.open == "("
            and k == len(rest) - 1
            and (base in LOSS_BASES or base.lower() in ("loss", "error"))
        ):
            args = True  # L(t;y), E(w)
            k += 1
            continue
        return None
    if base[0].isdigit():
        return None
    return WrittenName(text, base, sub, sup, form, transposed, accent, args)


def _loss_numerator(items: list[Item]) -> bool:
    """`\\partial L`, `dL`, `d L`, `\\mathrm{d}E`, `\\partial L(t; y)`, `\\partial \\mathcal{L}`."""
    items = strip(items)
    if items and (_is(items[0], "cmd", "partial") or _is(items[0], "word", "d")):
        items = items[1:]
    elif (
        items
        and _is(items[0], "cmd", "mathrm", "operatorname", "text")
        and len(items) > 1
        and isinstance(items[1], Group)
        and label(items[1].items) == "d"
    ):
        items = items[2:]
    elif items and _is(items[0], "word") and items[0].text[0] == "d" and items[0].text[1:] in LOSS_BASES:
        items = [Tok("word", items[0].text[1:], items[0].pos)] + items[1:]
    else:
        return False
    name = parse_name(items)
    return name is not None and name.base in LOSS_BASES and name.sub in (None, "0") and name.sup is None


def _denominator(items: list[Item]) -> list[Item] | None:
    """X of `\\partial X`, `dX`, `d X`, `\\mathrm{d}X`."""
    items = strip(items)
    if items and (_is(items[0], "cmd", "partial") or _is(items[0], "word", "d")):
        return items[1:]
    if (
        items
        and _is(items[0], "cmd", "mathrm", "operatorname", "text")
        and len(items) > 1
        and isinstance(items[1], Group)
        and label(items[1].items) == "d"
    ):
        return items[2:]
    if items and _is(items[0], "word") and len(items[0].text) > 1 and items[0].text[0] == "d":
        return [Tok("word", items[0].text[1:], items[0].pos)] + items[1:]
    return None


def _gradient(items: list[Item]) -> list[Item] | None:
    """The items naming what a gradient is taken with respect to; None if `items` is no gradient."""
    first = items[0]
    if (
        _is(first, "cmd", "frac", "dfrac", "tfrac")
        and len(items) == 3
        and isinstance(items[1], Group)
        and isinstance(items[2], Group)
    ):
        if _loss_numerator(items[1].items):
            return _denominator(items[2].items)
        return None
    slashes = [k for k, item in enumerate(items) if _is(item, "op", "/")]
    if len(slashes) == 1 and _loss_numerator(items[: slashes[0]]):
        return _denominator(items[slashes[0] + 1 :])
    if _is(first, "cmd", "nabla") and len(items) >= 3 and _is(items[1], "op", "_"):
        script = _script(items, 2)
        if script is None:
            return None
        content, k = script
        rest = strip(items[k:])
        if rest:
            name = parse_name(rest)
            if name is None or name.base not in LOSS_BASES:
                return None
        return content
    if _is(first, "cmd", "Delta", "partial") and len(items) > 1:
        return items[1:]
    if _is(first, "cmd", "delta") and len(items) > 1 and not _is(items[1], "op", "_", "^", "'"):
        return items[1:]  # \delta W (the gradient); \delta_1 is a delta
    if (
        _is(first, "word")
        and len(first.text) > 1
        and first.text[0] == "d"
        and first.text != "delta"
        and first.text[1].isalpha()
        and first.text[1:] not in ("elta",)
    ):
        return [Tok("word", first.text[1:], first.pos)] + items[1:]  # dW, dW1, db_2
    return None
