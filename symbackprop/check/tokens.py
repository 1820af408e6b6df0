"""LaTeX (or plain-text) math as a tree of tokens, braces, brackets and environments.

Unlike verify's lexer, which reads one formula and refuses what it does not know, this one
reads whole solutions: an unknown command or character is kept as a token (the formula it
sits in is then not a number, and is skipped), never an error. Only what makes the math
unreadable as a whole is an error: unbalanced braces, \\left without \\right, an environment
left open, nesting deeper than MAX_DEPTH, a number longer than MAX_DIGITS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from symbackprop.check.limits import MAX_DEPTH, MAX_DIGITS, CheckError

_UNICODE = {
    "−": ("op", "-"),
    "–": ("op", "-"),
    "·": ("cmd", "cdot"),
    "⋅": ("cmd", "cdot"),
    "∙": ("cmd", "cdot"),
    "×": ("cmd", "times"),
    "′": ("op", "'"),
    "ᵀ": ("op", "ᵀ"),
    "≈": ("cmd", "approx"),
    "∂": ("cmd", "partial"),
    "∇": ("cmd", "nabla"),
    "⊙": ("cmd", "odot"),
    "∘": ("cmd", "circ"),
    "≤": ("cmd", "le"),
    "≥": ("cmd", "ge"),
    "→": ("cmd", "to"),
    "⇒": ("cmd", "Rightarrow"),
    "α": ("cmd", "alpha"),
    "β": ("cmd", "beta"),
    "γ": ("cmd", "gamma"),
    "δ": ("cmd", "delta"),
    "Δ": ("cmd", "Delta"),
    "ε": ("cmd", "epsilon"),
    "η": ("cmd", "eta"),
    "θ": ("cmd", "theta"),
    "λ": ("cmd", "lambda"),
    "μ": ("cmd", "mu"),
    "σ": ("cmd", "sigma"),
    "τ": ("cmd", "tau"),
    "φ": ("cmd", "phi"),
    "ψ": ("cmd", "psi"),
    "ω": ("cmd", "omega"),
}
#: Spacing commands, dropped.
_SPACES = frozenset(
    {
        "displaystyle",
        "textstyle",
        "scriptstyle",
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
        "nonumber",
        "notag",
        "hline",
        "limits",
        "nolimits",
        "enspace",
        "thinspace",
        "medspace",
        "thickspace",
        "hfill",
        "allowbreak",
        "noindent",
        "centering",
        "small",
        "footnotesize",
    }
)
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+(?![A-Za-z]))?")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_PENALTY = re.compile(r"\s*[-+]?\d*")


@dataclass(frozen=True)
class Tok:
    kind: str  # num | word | cmd | op
    text: str
    pos: int  # offset in the math text


@dataclass
class Group:
    """Items between matching delimiters: `{`..`}`, `(`..`)`, `[`..`]`, or \\left X .. \\right Y."""

    open: str
    close: str
    items: list[Item]
    pos: int


@dataclass
class Env:
    """\\begin{name}{arg} .. \\end{name}: rows of cells, each cell a list of items."""

    name: str
    rows: list[list[list[Item]]]
    pos: int
    arg: str = ""


Item = Tok | Group | Env


@dataclass
class _Cursor:
    toks: list[Tok]
    brackets: dict[int, int]  # index of ( or [ -> index of its closer
    i: int = 0


def tokenize(text: str) -> list[Tok]:
    """The tokens of a piece of math; spacing dropped, unknown characters kept as `op`."""
    toks: list[Tok] = []
    pos, n = 0, len(text)
    while pos < n:
        char = text[pos]
        if char in " \t\n~":
            pos += 1
        elif char == "\\":
            match = _COMMAND.match(text, pos)
            if match:
                name = match.group(1)
                if name == "penalty":  # a line-break hint with its number (\penalty400): typesetting, not math
                    penalty = _PENALTY.match(text, match.end())
                    assert penalty is not None  # it matches the empty string too
                    pos = penalty.end()
                    continue
                if name not in _SPACES:
                    toks.append(Tok("cmd", name, pos))
                pos = match.end()
            elif text.startswith("\\\\", pos):
                toks.append(Tok("op", "\\\\", pos))
                pos += 2
            elif pos + 1 < n and text[pos + 1] in "{}|%$&#_":
                toks.append(Tok("op", "\\" + text[pos + 1], pos))
                pos += 2
            else:
                pos += 2  # \, \; \: \! \  and the like: spacing
        elif char.isascii() and char.isdigit() or (char == "." and text[pos + 1 : pos + 2].isdigit()):
            match = _NUMBER.match(text, pos)
            assert match is not None  # a digit, or a point before one, starts a number
            mantissa = re.split("[eE]", match.group())[0]
            if len(mantissa.replace(".", "")) > MAX_DIGITS:
                raise CheckError(f"a number of more than {MAX_DIGITS} digits")
            toks.append(Tok("num", match.group(), pos))
            pos = match.end()
        elif char.isascii() and char.isalpha():
            match = _WORD.match(text, pos)
            assert match is not None  # a letter starts a word
            toks.append(Tok("word", match.group(), pos))
            pos = match.end()
        elif char in _UNICODE:
            kind, value = _UNICODE[char]
            toks.append(Tok(kind, value, pos))
            pos += 1
        else:
            toks.append(Tok("op", char, pos))
            pos += 1
    return toks


def _match_brackets(toks: list[Tok]) -> dict[int, int]:
    """Pairs of ( ) and [ ] inside the same braces; an unmatched one stays a plain token
    (`[0, 1)` is text, not a group). Raises CheckError for unbalanced braces or deep nesting."""
    pairs: dict[int, int] = {}
    stack: list[tuple[str, int]] = []
    for index, tok in enumerate(toks):
        if tok.kind != "op":
            continue
        if tok.text in ("{", "(", "["):
            stack.append((tok.text, index))
            if len(stack) > MAX_DEPTH:
                raise CheckError(f"braces and brackets nested more than {MAX_DEPTH} deep")
        elif tok.text == "}":
            while stack and stack[-1][0] != "{":
                stack.pop()
            if not stack:
                raise CheckError("a } without its {: the braces are unbalanced")
            stack.pop()
        elif tok.text in (")", "]"):
            opener = "(" if tok.text == ")" else "["
            for depth in range(len(stack) - 1, -1, -1):
                kind, where = stack[depth]
                if kind == "{":
                    break
                if kind == opener:
                    pairs[where] = index
                    del stack[depth:]
                    break
    if any(kind == "{" for kind, _ in stack):
        raise CheckError("a { without its }: the braces are unbalanced")
    return pairs


def parse(text: str) -> list[Item]:
    """The item tree of a piece of math; raises CheckError (without a line: the caller adds it)."""
    toks = tokenize(text)
    cursor = _Cursor(toks, _match_brackets(toks))
    items, stop = _items(cursor, len(toks), frozenset(), 0)
    return items


#: What ends the items of an environment's cell.
_CELL_STOPS = frozenset({"\\\\", "&", "end"})


def _items(cur: _Cursor, limit: int, stops: frozenset[str], depth: int) -> tuple[list[Item], str | None]:
    """Items up to index `limit` or to a token in `stops` (consumed and returned; None at the limit)."""
    if depth > MAX_DEPTH:
        raise CheckError(f"formulas nested more than {MAX_DEPTH} deep")
    out: list[Item] = []
    toks = cur.toks
    while cur.i < limit:
        tok = toks[cur.i]
        cur.i += 1
        if tok.kind in ("op", "cmd") and tok.text in stops:
            return out, tok.text
        if tok.kind == "op" and tok.text == "{":
            inner, stop = _items(cur, limit, frozenset({"}"}), depth + 1)
            if stop is None:
                raise CheckError("a { without its }: the braces are unbalanced")
            out.append(Group("{", "}", inner, tok.pos))
        elif tok.kind == "op" and tok.text in ("(", "[") and cur.i - 1 in cur.brackets:
            end = cur.brackets[cur.i - 1]
            inner, _ = _items(cur, end, frozenset(), depth + 1)
            out.append(Group(tok.text, ")" if tok.text == "(" else "]", inner, tok.pos))
            cur.i = end + 1
        elif tok.kind == "op" and tok.text == "}":
            raise CheckError("a } without its {: the braces are unbalanced")
        elif tok.kind == "cmd" and tok.text == "left":
            opener = _delimiter(cur)
            inner, stop = _items(cur, limit, frozenset({"right"}), depth + 1)
            if stop is None:
                raise CheckError("\\left without its \\right")
            out.append(Group(opener, _delimiter(cur), inner, tok.pos))
        elif tok.kind == "cmd" and tok.text == "begin":
            out.append(_environment(cur, limit, tok, depth + 1))
        elif tok.kind == "cmd" and tok.text in ("right", "end"):
            raise CheckError(f"\\{tok.text} without its \\{'left' if tok.text == 'right' else 'begin'}")
        else:
            out.append(tok)
    return out, None


def _delimiter(cur: _Cursor) -> str:
    """The delimiter after \\left or \\right: ( [ | . \\{ \\langle ..."""
    if cur.i >= len(cur.toks):
        return "."
    tok = cur.toks[cur.i]
    cur.i += 1
    if tok.kind == "cmd":
        return {
            "langle": "<",
            "rangle": ">",
            "lvert": "|",
            "rvert": "|",
            "lbrack": "[",
            "rbrack": "]",
            "lbrace": "{",
            "rbrace": "}",
            "vert": "|",
            "Vert": "||",
        }.get(tok.text, tok.text)
    return tok.text.lstrip("\\")


def _braced_word(cur: _Cursor) -> str | None:
    """The text of a `{...}` argument of plain tokens (an environment's name, an array's columns)."""
    toks = cur.toks
    if cur.i >= len(toks) or toks[cur.i].text != "{":
        return None
    words = []
    j = cur.i + 1
    while j < len(toks) and toks[j].text != "}":
        if toks[j].text == "{":
            return None
        words.append(toks[j].text)
        j += 1
    if j >= len(toks):
        raise CheckError("a { without its }: the braces are unbalanced")
    cur.i = j + 1
    return "".join(words)


def _environment(cur: _Cursor, limit: int, begin: Tok, depth: int) -> Env:
    name = _braced_word(cur)
    if name is None:
        raise CheckError("\\begin without an environment name in braces")
    arg = ""
    if name.rstrip("*") in ("array", "alignat", "alignedat", "subarray", "tabular"):
        arg = _braced_word(cur) or ""
    rows: list[list[list[Item]]] = [[]]
    while True:
        cell, stop = _items(cur, limit, _CELL_STOPS, depth)
        rows[-1].append(cell)
        if stop is None:
            raise CheckError(f"\\begin{{{name}}} is never closed by \\end{{{name}}}")
        if stop == "\\\\":
            rows.append([])
        elif stop == "end":
            closing = _braced_word(cur)
            if closing != name:
                raise CheckError(f"\\begin{{{name}}} is closed by \\end{{{closing}}}: the environments are unbalanced")
            if len(rows) > 1 and rows[-1] == [[]]:
                rows.pop()  # a trailing \\\\ before \\end
            return Env(name, rows, begin.pos, arg)


def text_of(items: list[Item]) -> str:
    """The items written back as compact text (for names and messages)."""
    parts: list[str] = []
    for item in items:
        if isinstance(item, Tok):
            text = "\\" + item.text if item.kind == "cmd" else item.text
        elif isinstance(item, Group):
            opener = item.open if item.open in "{([" else "\\left" + item.open
            closer = item.close if item.close in "})]" else "\\right" + item.close
            text = opener + text_of(item.items) + closer
        else:
            body = " \\\\ ".join(" & ".join(text_of(cell) for cell in row) for row in item.rows)
            text = f"\\begin{{{item.name}}}{body}\\end{{{item.name}}}"
        if parts and (re.match(r"\\[A-Za-z]+$", parts[-1]) or parts[-1][-1:].isalnum()) and text[:1].isalnum():
            parts.append(" ")  # \cdot x, not \cdotx; W x, not Wx
        parts.append(text)
    return "".join(parts).strip()
