"""Worked solutions: a spec's whole derivation and its numbers as a LaTeX or Markdown document.

Python prints every formula and number (derivation.py, worked.py, checks.py build the
document model of Text and Math leaves); Jinja templates lay them out (templates/tex,
templates/md); pdf.py compiles LaTeX. The same spec gives the same bytes every time.

    from symbackprop.render import render
    text = render(net, "md", sections=["forward", "derivation"], forms=["matrix", "index"])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2

from symbackprop.api import FORMS, Network
from symbackprop.options import DEFAULT_DIGITS, MAX_DIGITS, SECTIONS
from symbackprop.render.checks import checks_section
from symbackprop.render.derivation import (
    derivation_section,
    forward_section,
    loss_section,
    network_section,
    sizes_section,
)
from symbackprop.render.markup import Text
from symbackprop.render.pdf import Pdf, PdfError, compile_pdf
from symbackprop.render.templates import environment
from symbackprop.render.worked import numeric_section

#: Output formats.
FORMATS: tuple[str, ...] = ("tex", "md")


class RenderError(ValueError):
    """Bad options, or a template that does not render (its message says where)."""


def _choose(kind: str, requested: Sequence[str] | None, known: Sequence[str]) -> list[str]:
    """The requested names in document order; unknown ones are an error naming the known ones."""
    if requested is None:
        return list(known)
    unknown = [name for name in requested if name not in known]
    if unknown or not requested:
        raise RenderError(f"unknown {kind} {', '.join(map(repr, unknown))} (expected some of {', '.join(known)})"
                          if unknown else f"no {kind} chosen (expected some of {', '.join(known)})")
    return [name for name in known if name in requested]


def context(net: Network, sections: Sequence[str] | None = None, forms: Sequence[str] | None = None,
            digits: int = DEFAULT_DIGITS) -> dict[str, Any]:
    """The document model a template receives: only the chosen sections are computed."""
    sections = _choose("section", sections, SECTIONS)
    forms = _choose("form", forms, FORMS)
    if not (isinstance(digits, int) and 0 <= digits <= MAX_DIGITS):
        raise RenderError(f"digits {digits!r}: expected a whole number from 0 to {MAX_DIGITS}")
    builders: dict[str, Callable[[], Any]] = {
        "network": lambda: network_section(net), "sizes": lambda: sizes_section(net),
        "forward": lambda: forward_section(net), "loss": lambda: loss_section(net),
        "derivation": lambda: derivation_section(net, forms), "numeric": lambda: numeric_section(net, digits),
        "checks": lambda: checks_section(net),
    }
    model: dict[str, Any] = {"title": Text(net.spec.name), "description": Text(net.spec.description),
                             "sections": sections, "forms": forms, "digits": digits}
    model.update({name: builders[name]() for name in sections})
    return model


def render(net: Network, fmt: str, sections: Sequence[str] | None = None, forms: Sequence[str] | None = None,
           digits: int = DEFAULT_DIGITS, template_dir: str | Path | None = None) -> str:
    """The document as LaTeX ("tex") or Markdown ("md"); raises RenderError."""
    if fmt not in FORMATS:
        raise RenderError(f"unknown format {fmt!r} (expected {' or '.join(FORMATS)})")
    if template_dir is not None and not Path(template_dir).is_dir():
        raise RenderError(f"template directory {template_dir}: not a directory")
    model = context(net, sections, forms, digits)
    env = environment(fmt, Path(template_dir) if template_dir is not None else None)
    try:
        return env.get_template(f"document.{fmt}").render(model)
    except jinja2.TemplateSyntaxError as error:
        raise RenderError(f"template {error.filename or error.name}:{error.lineno}: {error.message}") from None
    except jinja2.TemplateError as error:
        raise RenderError(f"template error: {error}") from None


def render_pdf(net: Network, sections: Sequence[str] | None = None, forms: Sequence[str] | None = None,
               digits: int = DEFAULT_DIGITS, template_dir: str | Path | None = None) -> Pdf:
    """The LaTeX document compiled to PDF; raises RenderError or PdfError."""
    return compile_pdf(render(net, "tex", sections, forms, digits, template_dir))


__all__ = ["DEFAULT_DIGITS", "FORMATS", "SECTIONS", "Pdf", "PdfError", "RenderError", "context", "render",
           "render_pdf"]
