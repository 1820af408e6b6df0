"""Tokens of an answer written in LaTeX or in plain math, with their positions.

Both notations meet here: `\\odot`, `⊙` and `\\circ` become one Hadamard token (`\\oslash`
and `⊘` its entrywise division), `\\delta` and
`δ` the name `delta`, `−` a minus. Anything outside the known alphabet is an error that names
the character and its position, so look-alike letters (Cyrillic а, fullwidth ａ) and control
characters never reach the parser.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from symbackprop.notation import GREEK as GREEK_NAMES
from symbackprop.notation import UNICODE_GREEK
from symbackprop.verify.limits import MAX_DIGITS, MAX_LENGTH


class AnswerSyntaxError(ValueError):
    """An answer that cannot be read; `position` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Token:
    kind: str  # num | name | cmd | op | label | end
    text: str
    pos: int
    end: int
    space_before: bool = False


#: Greek letters read as names: the notation's (the printer's), with the var- forms people also type;
#: \Sigma is the sum sign here (COMMANDS), not a name.
GREEK = (GREEK_NAMES - {"Sigma"}) | {"varepsilon", "vartheta", "upsilon", "varphi"}
#: Font and text commands around a name (\mathbf{W}, \text{out}): read as the name they hold.
FONTS = frozenset(
    {
        "mathbf",
        "boldsymbol",
        "bm",
        "mathrm",
        "mathit",
        "mathsf",
        "vec",
        "operatorname",
        "text",
        "textrm",
        "mathcal",
        "mathbb",
    }
)
#: Commands read as operators or structure; every other command outside GREEK is refused.
COMMANDS = (
    frozenset(
        {
            "cdot",
            "times",
            "ast",
            "odot",
            "circ",
            "top",
            "intercal",
            "prime",
            "partial",
            "sum",
            "frac",
            "dfrac",
            "tfrac",
            "sqrt",
            "exp",
            "log",
            "ln",
            "tanh",
            "cosh",
            "sinh",
            "sin",
            "cos",
            "sgn",
            "max",
            "min",
            "le",
            "leq",
            "ge",
            "geq",
            "lt",
            "gt",
            "ne",
            "neq",
            "underbrace",
            "begin",
            "end",
            "Sigma",
            "hat",
            "widehat",
            "oslash",
            "nabla",
        }
    )
    | FONTS
)
#: Commands that only size or space things.
SKIPPED = frozenset(
    {
        "left",
        "right",
        "big",
        "Big",
        "bigg",
        "Bigg",
        "bigl",
        "bigr",
        "Bigl",
        "Bigr",
        "biggl",
        "biggr",
        "Biggl",
        "Biggr",
        "displaystyle",
        "textstyle",
        "limits",
        "nolimits",
        "quad",
        "qquad",
    }
)
_UNICODE_OPS = {
    "⊙": ("cmd", "odot"),
    "∘": ("cmd", "circ"),
    "⊘": ("cmd", "oslash"),
    "·": ("cmd", "cdot"),
    "⋅": ("cmd", "cdot"),
    "∙": ("cmd", "cdot"),
    "×": ("cmd", "times"),
    "∂": ("cmd", "partial"),
    "∑": ("cmd", "sum"),
    "−": ("op", "-"),
    "–": ("op", "-"),
    "′": ("op", "'"),
    "ᵀ": ("op", "ᵀ"),
    "≤": ("op", "<="),
    "≥": ("op", ">="),
    "≠": ("op", "!="),
}
_SUPERSCRIPTS = {"²": "2", "³": "3", "⁴": "4"}
_ASCII_OPS = (
    "**",
    "<=",
    ">=",
    "!=",
    "\\\\",
    "+",
    "-",
    "*",
    "/",
    "^",
    "_",
    "'",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "<",
    ">",
    "&",
    ".",
    "|",
    "!",
    ":",
    ";",
    "$",
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_COMMAND = re.compile(r"\\([A-Za-z]+)")


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    return f"{char!r} ({code} {name})" if name and char.isprintable() else code


def tokenize(text: str, labels: Collection[str] = ()) -> list[Token]:
    """The tokens of `text`, ending with an `end` token; raises AnswerSyntaxError. `labels`: scripts spelling
    a layer name with signs in it (h{1}, \\text{h\\{1\\}}), each one `label` token right after a _ or ^."""
    if len(text) > MAX_LENGTH:
        raise AnswerSyntaxError(f"the answer is {len(text)} characters long; the limit is {MAX_LENGTH}", MAX_LENGTH)
    tokens: list[Token] = []
    pos, space = 0, False
    spellings = sorted(labels, key=len, reverse=True)
    while pos < len(text):
        char = text[pos]
        if char in " \t\r\n~":
            pos, space = pos + 1, True
            continue
        start = pos
        if spellings and tokens and tokens[-1].kind == "op" and tokens[-1].text in ("_", "^"):
            spelling = next((s for s in spellings if text.startswith(s, pos)), None)
            if spelling is not None:
                tokens.append(Token("label", spelling, start, pos + len(spelling), space))
                pos, space = pos + len(spelling), False
                continue
        if char == "\\":
            match = _COMMAND.match(text, pos)
            if match:
                name = match.group(1)
                pos = match.end()
                if name in SKIPPED:
                    if name in ("left", "right") and text.startswith(".", pos):
                        pos += 1  # \left. is an invisible delimiter
                    space = True
                    continue
                if name not in COMMANDS and name not in GREEK:
                    raise AnswerSyntaxError(f"unsupported command \\{name} at position {start + 1}", start)
                tokens.append(Token("cmd", name, start, pos, space))
            elif text.startswith("\\\\", pos):
                tokens.append(Token("op", "\\\\", start, pos + 2, space))
                pos += 2
            elif pos + 1 < len(text) and text[pos + 1] in ",;:! ()[]":  # spacing, math delimiters
                pos, space = pos + 2, True
                continue
            elif pos + 1 < len(text) and text[pos + 1] in "{}":
                tokens.append(Token("op", "(" if text[pos + 1] == "{" else ")", start, pos + 2, space))
                pos += 2
            else:
                raise AnswerSyntaxError(f"unexpected '\\' at position {start + 1}", start)
        elif (
            char.isascii()
            and char.isdigit()
            or (char == "." and text[pos + 1 : pos + 2].isascii() and text[pos + 1 : pos + 2].isdigit())
        ):
            match = _NUMBER.match(text, pos)
            assert match is not None  # a digit, or a point before one, starts a number
            if len(match.group().replace(".", "")) > MAX_DIGITS:
                raise AnswerSyntaxError(f"number longer than {MAX_DIGITS} digits at position {start + 1}", start)
            tokens.append(Token("num", match.group(), start, match.end(), space))
            pos = match.end()
        elif char.isascii() and char.isalpha():
            match = _WORD.match(text, pos)
            assert match is not None  # a letter starts a word
            tokens.append(Token("name", match.group(), start, match.end(), space))
            pos = match.end()
        elif char in _UNICODE_OPS:
            kind, value = _UNICODE_OPS[char]
            tokens.append(Token(kind, value, start, pos + 1, space))
            pos += 1
        elif char in _SUPERSCRIPTS:  # z², Wᵀ: a superscript written as one character
            tokens.append(Token("op", "^", start, pos + 1, space))
            tokens.append(Token("num", _SUPERSCRIPTS[char], start, pos + 1))
            pos += 1
        elif char in UNICODE_GREEK:
            tokens.append(Token("cmd", UNICODE_GREEK[char], start, pos + 1, space))
            pos += 1
        else:
            op = next((op for op in _ASCII_OPS if text.startswith(op, pos)), None)
            if op is None:
                raise AnswerSyntaxError(f"unexpected character {_describe(char)} at position {start + 1}", start)
            tokens.append(Token("op", "^" if op == "**" else op, start, pos + len(op), space))
            pos += len(op)
        space = False
    tokens.append(Token("end", "", len(text), len(text), space))
    return tokens
