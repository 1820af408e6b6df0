"""Worked solutions: a spec's whole derivation and its numbers as a LaTeX or Markdown document.

Python prints every formula and number (derivation.py, worked.py, checks.py build the
document model of Text and Math leaves); Jinja templates lay them out (templates/tex,
templates/md); pdf.py compiles LaTeX. The same spec gives the same bytes every time.

    from symbackprop.render import render
    text = render(net, "md", sections=["forward", "derivation"], forms=["matrix", "index"])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from symbackprop.api import Network
from symbackprop.notation import Names
from symbackprop.options import DEFAULT_DIGITS, DEFAULT_FORMS, FORMS, MAX_DIGITS, SECTIONS
from symbackprop.render.checks import checks_section
from symbackprop.render.derivation import derivation_section, forward_section, loss_section
from symbackprop.render.figures import pdf_to_svg
from symbackprop.render.glossary import glossary
from symbackprop.render.markup import Prose, Text
from symbackprop.render.network import network_section, sizes_section
from symbackprop.render.pdf import Pdf, PdfError, compile_pdf
from symbackprop.render.questions import questions_section
from symbackprop.render.templates import environment
from symbackprop.render.worked import numeric_section

#: Output formats.
FORMATS: tuple[str, ...] = ("tex", "md")
#: The file a Markdown document shows its diagram from, unless told otherwise.
DEFAULT_FIGURE = "network.svg"


class RenderError(ValueError):
    """Bad options, or a template that does not render (its message says where)."""


def _choose(kind: str, requested: Sequence[str] | None, known: Sequence[str], default: Sequence[str]) -> list[str]:
    """The requested names in document order; unknown ones are an error naming the known ones."""
    if requested is None:
        return [name for name in known if name in default]
    unknown = [name for name in requested if name not in known]
    if unknown or not requested:
        raise RenderError(
            f"unknown {kind} {', '.join(map(repr, unknown))} (expected some of {', '.join(known)})"
            if unknown
            else f"no {kind} chosen (expected some of {', '.join(known)})"
        )
    return [name for name in known if name in requested]


def context(
    net: Network,
    sections: Sequence[str] | None = None,
    forms: Sequence[str] | None = None,
    digits: int | None = None,
    figure: str | None = None,
) -> dict[str, Any]:
    """The document model a template receives: only the chosen sections are computed, and a
    section with nothing to show is left out (`omitted` says why). Options not given come from the
    spec's `render:` section, else the defaults (every section, the chain and matrix forms, 4
    decimals; with questions, the questions in place of the layer-by-layer derivation). `figure` is
    the file the Markdown diagram is read from (render.figures)."""
    chosen = net.spec.render
    requested = sections if sections is not None else chosen.sections
    sections = _choose("section", requested, SECTIONS, SECTIONS)
    if not net.spec.questions:  # nothing to answer: no section, not an empty one
        sections = [name for name in sections if name != "questions"]
    elif requested is None:  # a sheet with questions follows them: they replace the layer-by-layer derivation
        sections = [name for name in sections if name != "derivation"]
    forms = _choose("form", forms if forms is not None else chosen.forms, FORMS, DEFAULT_FORMS)
    digits = digits if digits is not None else chosen.digits if chosen.digits is not None else DEFAULT_DIGITS
    if not (isinstance(digits, int) and not isinstance(digits, bool) and 0 <= digits <= MAX_DIGITS):
        raise RenderError(f"digits {digits!r}: expected a whole number from 0 to {MAX_DIGITS}")
    builders: dict[str, Callable[[], Any]] = {
        "network": lambda: network_section(net),
        "sizes": lambda: sizes_section(net),
        "forward": lambda: forward_section(net),
        "loss": lambda: loss_section(net),
        "derivation": lambda: derivation_section(net, forms),
        "numeric": lambda: numeric_section(net, digits),
        "checks": lambda: checks_section(net, forms=forms, sections=sections),
        "glossary": lambda: [],
        "questions": lambda: questions_section(net, forms, digits),
    }
    model: dict[str, Any] = {
        "title": Text(net.spec.name),
        "description": Text(net.spec.description),
        "forms": forms,
        "digits": digits,
        "figure": figure,
        "omitted": [],
    }
    shown = []
    for name in sections:
        part = builders[name]()
        if isinstance(part, dict) and part.get("available") is False:
            what = {"numeric": "No worked example", "checks": "No numeric checks"}[name]
            model["omitted"].append(Prose.of(f"{what}: ", *part["reason"].parts))
            if name != "checks":  # the checks section still reads the printed formulas back
                continue
        model[name] = part
        shown.append(name)
    if "glossary" in shown:
        model["glossary"] = glossary(model, Names.of(net.spec))
        if not model["glossary"]:
            shown.remove("glossary")
    model["sections"] = shown
    return model


def _template(fmt: str, name: str, model: dict[str, Any], template_dir: str | Path | None) -> str:
    if template_dir is not None and not Path(template_dir).is_dir():
        raise RenderError(f"template directory {template_dir}: not a directory")
    env = environment(fmt, Path(template_dir) if template_dir is not None else None)
    try:
        return env.get_template(name).render(model)
    except jinja2.TemplateSyntaxError as error:
        raise RenderError(f"template {error.filename or error.name}:{error.lineno}: {error.message}") from None
    except jinja2.TemplateError as error:
        raise RenderError(f"template error: {error}") from None


@dataclass(frozen=True)
class Document:
    """A rendered document and the files it refers to (file name -> bytes): a Markdown document's
    diagram, `figure`, written next to it."""

    text: str
    files: dict[str, bytes] = field(default_factory=dict)


def render_document(
    net: Network,
    fmt: str,
    sections: Sequence[str] | None = None,
    forms: Sequence[str] | None = None,
    digits: int | None = None,
    template_dir: str | Path | None = None,
    figure: str | None = None,
) -> Document:
    """render(), and for a Markdown document with a network section its diagram as SVG under the name
    `figure` (default network.svg). Raises RenderError, or PdfError where TeX or pdftocairo fails."""
    text = render(net, fmt, sections, forms, digits, template_dir, figure)
    if fmt != "md" or "network" not in context_sections(net, sections):
        return Document(text)
    return Document(text, {figure or DEFAULT_FIGURE: diagram_svg(net, template_dir)})


def context_sections(net: Network, sections: Sequence[str] | None) -> list[str]:
    """The sections a document shows (before leaving out the empty ones)."""
    requested = sections if sections is not None else net.spec.render.sections
    return _choose("section", requested, SECTIONS, SECTIONS)


def render(
    net: Network,
    fmt: str,
    sections: Sequence[str] | None = None,
    forms: Sequence[str] | None = None,
    digits: int | None = None,
    template_dir: str | Path | None = None,
    figure: str | None = None,
) -> str:
    """The document as LaTeX ("tex") or Markdown ("md"); raises RenderError. A Markdown document
    shows its diagram from the file `figure` (default network.svg), which diagram_svg() draws."""
    if fmt not in FORMATS:
        raise RenderError(f"unknown format {fmt!r} (expected {' or '.join(FORMATS)})")
    if template_dir is not None and not Path(template_dir).is_dir():
        raise RenderError(f"template directory {template_dir}: not a directory")
    model = context(net, sections, forms, digits, (figure or DEFAULT_FIGURE) if fmt == "md" else None)
    return _template(fmt, f"document.{fmt}", model, template_dir)


def diagram_svg(net: Network, template_dir: str | Path | None = None) -> bytes:
    """The network's diagram as SVG: the TikZ of the LaTeX document (tex/diagram.tex) compiled on a
    page of its own size, converted by pdftocairo. Raises RenderError or PdfError."""
    tex = _template("tex", "figure.tex", context(net, sections=["network"]), template_dir)
    return pdf_to_svg(compile_pdf(tex).data)


def render_pdf(
    net: Network,
    sections: Sequence[str] | None = None,
    forms: Sequence[str] | None = None,
    digits: int | None = None,
    template_dir: str | Path | None = None,
) -> Pdf:
    """The LaTeX document compiled to PDF; raises RenderError or PdfError."""
    return compile_pdf(render(net, "tex", sections, forms, digits, template_dir))


__all__ = [
    "DEFAULT_DIGITS",
    "DEFAULT_FIGURE",
    "DEFAULT_FORMS",
    "FORMATS",
    "SECTIONS",
    "Document",
    "Pdf",
    "PdfError",
    "RenderError",
    "context",
    "diagram_svg",
    "render",
    "render_document",
    "render_pdf",
]
