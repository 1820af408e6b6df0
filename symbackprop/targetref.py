"""Reading what a target names, before any network is consulted: the derivative's numerator (the
loss, or a named value), its denominator, and the entry written on either.

    dL/dW_1            \\frac{\\partial L}{\\partial W_1}       \\partial L / \\partial W_1
    dL/dW_3[1,1]       \\frac{\\partial l}{\\partial W^{(3)}_{1,1}}   W^{3}_{1,1}
    delta_1[2,n]       \\delta^{(1)}_{2,n}                      dz_2/ds_2     ds_2[j]/dW_2[j,i]

Each reference comes with every plain spelling it may stand for (`W_{1,1}` is entry (1, 1) of W
or the matrix W_1,1); the network picks the first it knows. Plain string work, no SymPy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How a target may write the loss in a numerator.
LOSS_SPELLINGS = frozenset(
    {
        "L",
        "E",
        "l",
        "J",
        r"\mathcal{L}",
        r"\mathcal L",
        r"\ell",
        "l(theta)",
        r"l(\theta)",
        r"L(\theta)",
        r"\mathcal{L}(\theta)",
        r"E(\theta)",
        r"J(\theta)",
    }
)
#: At most this many characters in a target: targets come from users and answer files.
MAX_LENGTH = 300

Entry = tuple[str, ...]


@dataclass(frozen=True)
class Spelling:
    """One reading of a written value: its plain name (W_3, delta_1, s_rec^(2)) and the entry's
    indices as written (("1", "1"), ("2", "n")), or None for the whole value."""

    name: str
    entry: Entry | None = None


@dataclass(frozen=True)
class TargetRef:
    """A parsed target: `top` None is the loss (dL/d..., or a delta written on its own, with
    `delta` True); otherwise d(top)/d(bottom) is a local partial. Each side lists its readings."""

    text: str
    bottom: tuple[Spelling, ...]
    top: tuple[Spelling, ...] | None = None
    delta: bool = False


_FRACTIONS = (
    re.compile(r"^d\s*(?P<top>.+?)\s*/\s*d\s*(?P<bottom>.+)$"),
    re.compile(r"^\\partial\s*(?P<top>.+?)\s*/\s*\\partial\s*(?P<bottom>.+)$"),
    re.compile(r"^\\d?frac\s*\{\s*(?:\\partial|d)\s*(?P<top>.+)\}\s*\{\s*(?:\\partial|d)\s*(?P<bottom>.+)\}$"),
)
_SCRIPT = r"(?:\{[^{}]*\}|\\[A-Za-z]+|[^{}\\\s])"
_LATEX_VALUE = re.compile(rf"^\\?(?P<base>[A-Za-z]+)(?P<scripts>(?:[_^]{_SCRIPT})*)$")
_BRACKET = re.compile(r"^(?P<name>.+?)\[(?P<entry>[^\[\]]*)\]$")
_INDEX = re.compile(r"^(?:[1-9][0-9]*|[A-Za-z])$")


class TargetSyntaxError(ValueError):
    """Text that is no target at all."""


def _strip_braces(text: str) -> str:
    return text[1:-1] if text.startswith("{") and text.endswith("}") else text


def _indices(label: str) -> Entry | None:
    """ "1,1" and "2,n" and "(1,1)" -> the indices; "11" and "ji" (single characters) too; else None."""
    label = label.strip().strip("()").replace(" ", "")
    parts = label.split(",") if "," in label else list(label)
    if not parts or not all(_INDEX.match(part) for part in parts) or len(parts) > 2:
        return None
    return tuple(parts)


def plain_name(text: str) -> str:
    """LaTeX spelling of a whole value as its plain name: W_{1} -> W_1, \\delta_{out} -> delta_out,
    y_{out} -> y_out, s_{rec}^{(2)} -> s_rec^(2)."""
    text = text.strip().lstrip("\\")
    text = re.sub(r"\^\{(\(\d+\))\}", r"^\1", text)
    text = re.sub(r"\\text\{([^{}]*)\}|\\mathrm\{([^{}]*)\}", lambda m: m.group(1) or m.group(2), text)
    return re.sub(r"_\{([^{}]*)\}", r"_\1", text).replace(" ", "")


def _latex_spellings(text: str) -> list[Spelling]:
    """W^{(3)}_{1,1}, W^{3}_{1,1}, \\delta^{(1)}_{2,n}, s^{(rec,2)}_{j,n}, W_{3,11}: a value with the
    layer as a superscript and the entry as a subscript, and the other ways round."""
    match = _LATEX_VALUE.match(text.replace(" ", ""))
    if not match:
        return []
    base = match.group("base")
    scripts = re.findall(rf"([_^])({_SCRIPT})", match.group("scripts"))
    sub = sup = None
    for kind, script in scripts:
        value = _strip_braces(script).lstrip("\\")
        if kind == "_":
            if sub is not None:
                return []
            sub = value
        else:
            if sup is not None:
                return []
            sup = value
    found: list[Spelling] = []
    if sup is not None and sup not in ("T", "top"):
        layer = sup.strip()
        cycle = None
        if layer.startswith("(") and layer.endswith(")"):
            layer = layer[1:-1]
            if "," in layer:
                layer, _, cycle = layer.partition(",")
        name = f"{base}_{layer}" + (f"^({cycle})" if cycle else "")
        if sub is not None:
            entry = _indices(sub)
            if entry is not None:
                found.append(Spelling(name, entry))
            found.append(Spelling(f"{base}_{sub}^({layer})"))  # s_{rec}^{(2)}: a cycle, not a layer
        else:
            found.append(Spelling(name))
    elif sub is not None:
        found.append(Spelling(f"{base}_{sub}"))
        parts = sub.split(",", 1)
        if len(parts) == 2:  # W_{3,11} or W_{3,1,1}: the layer, then the entry
            entry = _indices(parts[1])
            if entry is not None:
                found.append(Spelling(f"{base}_{parts[0]}", entry))
        entry = _indices(sub)
        if entry is not None:
            found.append(Spelling(base, entry))
    return found


def value_spellings(text: str) -> tuple[Spelling, ...]:
    """Every reading of one written value, the likeliest first."""
    text = text.strip()
    found: list[Spelling] = []
    bracket = _BRACKET.match(text)
    if bracket:
        entry = _indices(bracket.group("entry"))
        if entry is None:
            raise TargetSyntaxError(
                f"{text!r}: an entry is written [row, column] with numbers from 1 or index "
                "letters, e.g. W_1[2,1] or delta_1[2,n]"
            )
        for name in dict.fromkeys((bracket.group("name").strip(), plain_name(bracket.group("name")))):
            found.append(Spelling(name, entry))
        return tuple(found)
    found.append(Spelling(text))
    plain = plain_name(text)
    if plain != text:
        found.append(Spelling(plain))
    found += _latex_spellings(text)
    return tuple(dict.fromkeys(found))


def _is_loss(text: str) -> bool:
    compact = text.strip().replace(" ", "")
    return compact in {s.replace(" ", "") for s in LOSS_SPELLINGS}


def fraction_sides(text: str) -> tuple[str, str] | None:
    """The numerator and denominator as written (without the d or \\partial), or None for no fraction."""
    stripped = text.strip().strip("$").strip()
    for pattern in _FRACTIONS:
        match = pattern.match(stripped)
        if match:
            return match.group("top").strip(), match.group("bottom").strip()
    return None


def parse_target(text: str) -> TargetRef:
    """The target `text` names; raises TargetSyntaxError for what is no target."""
    if not isinstance(text, str) or not text.strip():
        raise TargetSyntaxError("the target is empty")
    if len(text) > MAX_LENGTH:
        raise TargetSyntaxError(f"a target is at most {MAX_LENGTH} characters")
    stripped = text.strip().strip("$").strip()
    for pattern in _FRACTIONS:
        match = pattern.match(stripped)
        if match:
            top, bottom = match.group("top").strip(), match.group("bottom").strip()
            if _is_loss(top):
                return TargetRef(text, value_spellings(bottom))
            return TargetRef(text, value_spellings(bottom), value_spellings(top))
    return TargetRef(text, value_spellings(stripped), delta=True)
