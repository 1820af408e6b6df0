"""What a template prints, and how each output format escapes it.

The document model holds three kinds of leaves: `Text` (words, some of them the user's), `Math`
(LaTeX printed by symbackprop.printing) and `Prose` (words with inline formulas among them).
Templates never escape anything themselves: the Jinja environment's `finalize` hook turns every
printed value into safe markup for its format, so a template cannot forget to escape the spec's
name or a layer's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateRuntimeError, Undefined

from symbackprop.printing import escape_latex
from symbackprop.textchars import visible


@dataclass(frozen=True)
class Text:
    """Plain words: escaped for the output format when printed."""

    text: str


@dataclass(frozen=True)
class Math:
    """LaTeX math (without delimiters), as the printers write it."""

    latex: str


@dataclass(frozen=True)
class Prose:
    """Words with formulas among them ("the loss $L = ...$, summed over samples"): each part
    escaped as text or set as inline math."""

    parts: tuple[Text | Math, ...]

    @classmethod
    def of(cls, *parts: str | Text | Math) -> Prose:
        """Plain strings become Text."""
        return cls(tuple(Text(p) if isinstance(p, str) else p for p in parts))


@dataclass(frozen=True)
class Raw:
    """Markup already escaped for its destination: what the formula filters (`breakable`, `flow`) return."""

    markup: str


_MARKDOWN_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_MARKDOWN_PUNCTUATION = set("\\`*_[]#|$~")
_BLOCK_START = re.compile(r"^([-+]|\d+)([.)]?)")
# What GitHub and pandoc turn into links without brackets: https://..., www...., a@b.c
# (text gets an entity, math an empty group, neither of which shows).
_TEXT_LINK = re.compile(r"://|(?<=www)\.|@", re.IGNORECASE)
_TEXT_BREAK = {"://": "&#58;//", ".": "&#46;", "@": "&#64;"}
_MATH_LINK = re.compile(r"\]\(|:(?=//)|(?<=www)\.|@", re.IGNORECASE)
_MATH_BREAK = {"](": "]{}(", ":": ":{}", ".": "{}.", "@": "{@}"}


def _block_start(match: re.Match[str]) -> str:
    """A list bullet is escaped itself; an ordered list's number keeps its digits (a
    backslash before a digit is literal) and escapes the dot or parenthesis after them."""
    marker, after = match.groups()
    if marker.isdigit():
        return marker + ("\\" + after if after else "")
    return "\\" + marker + after


def escape_markdown(text: str) -> str:
    """User text as Markdown (CommonMark, GitHub, Jupyter, pandoc) that shows it literally: no
    emphasis, links (bare URLs and e-mail addresses included), math, tables, headings, lists or
    HTML. Whitespace runs become one space; invisible characters show their code point."""
    text = visible(" ".join(text.split()))
    out = "".join(_MARKDOWN_ENTITIES.get(c) or ("\\" + c if c in _MARKDOWN_PUNCTUATION else c) for c in text)
    return _TEXT_LINK.sub(lambda m: _TEXT_BREAK[m.group()], _BLOCK_START.sub(_block_start, out))


def markdown_math(latex: str) -> str:
    """LaTeX math safe inside Markdown's `$...$`: a `<` never starts an HTML tag there, and a layer
    name never forms a link where a renderer does not read math (`](`, `://`, `www.`, `@` broken
    by an empty group, which LaTeX does not show)."""
    return _MATH_LINK.sub(lambda m: _MATH_BREAK[m.group()], latex.replace("<", "{<}"))


def _spaced(text: str, escaped: str) -> str:
    """`escaped` with the leading and trailing space of `text` kept (the Markdown escaper trims them)."""
    lead = " " if text[:1].isspace() and not escaped[:1].isspace() else ""
    trail = " " if text[-1:].isspace() and escaped and not escaped[-1:].isspace() else ""
    return lead + escaped + trail


def _prose(value: Prose, text: Any, math: Any) -> str:
    return "".join(
        _spaced(part.text, text(part.text)) if isinstance(part, Text) else "$" + math(part.latex) + "$"
        for part in value.parts
    )


def _plain(value: Any) -> str:
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined: raises, naming the variable
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return str(value)
    raise TemplateRuntimeError(
        f"a template printed {type(value).__name__} {value!r}: expected Text, Math, Prose, Raw, str or int"
    )


def finalize_tex(value: Any) -> str:
    """Jinja's finalize for the LaTeX templates."""
    if isinstance(value, Text):
        return escape_latex(value.text)
    if isinstance(value, Math):
        return value.latex
    if isinstance(value, Prose):
        return _prose(value, escape_latex, lambda latex: latex)
    if isinstance(value, Raw):
        return value.markup
    return _plain(value)


def finalize_md(value: Any) -> str:
    """Jinja's finalize for the Markdown templates."""
    if isinstance(value, Text):
        return escape_markdown(value.text)
    if isinstance(value, Math):
        return markdown_math(value.latex)
    if isinstance(value, Prose):
        return _prose(value, escape_markdown, markdown_math)
    if isinstance(value, Raw):
        return value.markup
    return _plain(value)
