"""What a template prints, and how each output format escapes it.

The document model holds two kinds of leaves: `Text` (words, some of them the user's) and
`Math` (LaTeX printed by symbackprop.printing). Templates never escape anything themselves:
the Jinja environment's `finalize` hook turns every printed value into safe markup for its
format, so a template cannot forget to escape the spec's name or a layer's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateRuntimeError, Undefined

from symbackprop.printing import escape_latex


@dataclass(frozen=True)
class Text:
    """Plain words: escaped for the output format when printed."""

    text: str


@dataclass(frozen=True)
class Math:
    """LaTeX math (without delimiters), as the printers write it."""

    latex: str


@dataclass(frozen=True)
class Raw:
    """Markup already escaped for its destination (the result of a filter such as `mermaid`)."""

    markup: str


_MARKDOWN_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_MARKDOWN_PUNCTUATION = set("\\`*_[]#|$~")
_BLOCK_START = re.compile(r"^([-+]|\d+)([.)]?)")


def _block_start(match: re.Match[str]) -> str:
    """A list bullet is escaped itself; an ordered list's number keeps its digits (a
    backslash before a digit is literal) and escapes the dot or parenthesis after them."""
    marker, after = match.groups()
    if marker.isdigit():
        return marker + ("\\" + after if after else "")
    return "\\" + marker + after


def escape_markdown(text: str) -> str:
    """User text as Markdown (CommonMark, GitHub, Jupyter, pandoc) that shows it literally: no
    emphasis, links, math, tables, headings, lists or HTML. Whitespace runs become one space."""
    text = " ".join(text.split())
    out = "".join(_MARKDOWN_ENTITIES.get(c) or ("\\" + c if c in _MARKDOWN_PUNCTUATION else c) for c in text)
    return _BLOCK_START.sub(_block_start, out)


def markdown_math(latex: str) -> str:
    """LaTeX math safe inside Markdown's `$...$`: a `<` never starts an HTML tag there."""
    return latex.replace("<", "{<}")


def mermaid_label(text: str) -> str:
    """Text for a quoted mermaid label: every character that mermaid or HTML could read as
    markup becomes a mermaid entity code (#35; is '#')."""
    return "".join(c if c.isalnum() or c in " .,:+-/()_" else f"#{ord(c)};" for c in " ".join(text.split()))


def _plain(value: Any) -> str:
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined: raises, naming the variable
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return str(value)
    raise TemplateRuntimeError(f"a template printed {type(value).__name__} {value!r}: "
                               "expected Text, Math, Raw, str or int")


def finalize_tex(value: Any) -> str:
    """Jinja's finalize for the LaTeX templates."""
    if isinstance(value, Text):
        return escape_latex(value.text)
    if isinstance(value, Math):
        return value.latex
    if isinstance(value, Raw):
        return value.markup
    return _plain(value)


def finalize_md(value: Any) -> str:
    """Jinja's finalize for the Markdown templates."""
    if isinstance(value, Text):
        return escape_markdown(value.text)
    if isinstance(value, Math):
        return markdown_math(value.latex)
    if isinstance(value, Raw):
        return value.markup
    return _plain(value)


def mermaid(value: Text | str) -> Raw:
    """Jinja filter: a label inside a mermaid diagram."""
    return Raw(mermaid_label(value.text if isinstance(value, Text) else value))
