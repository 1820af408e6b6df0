"""The Jinja environments: one template set per format, found in the installed package
(symbackprop/templates, from the wheel) or in the source tree (templates/), a course's own
directory searched first. StrictUndefined makes a misspelt variable an error, not a blank."""

from __future__ import annotations

from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from symbackprop.render import markup
from symbackprop.render.breaking import MARKDOWN_WIDTH, breakable_tex, estimate, markdown_lines

#: LaTeX-safe delimiters for the .tex templates: braces, % and # stay LaTeX's own.
TEX_SYNTAX = {
    "block_start_string": r"\BLOCK{",
    "block_end_string": "}",
    "variable_start_string": r"\VAR{",
    "variable_end_string": "}",
    "comment_start_string": "%{#",
    "comment_end_string": "#}",
}
FINALIZE = {"tex": markup.finalize_tex, "md": markup.finalize_md}
#: Room between formulas set side by side in Markdown, in em.
FLOW_GAP = 2.0
#: A line of side-by-side formulas ends inside one only if it must: this much more than between them.
FLOW_PENALTY = 3000


def _math(value: markup.Math) -> str:
    if not isinstance(value, markup.Math):
        raise jinja2.TemplateRuntimeError(f"a formula filter got {type(value).__name__}, expected Math")
    return value.latex


def breakable_tex_filter(value: markup.Math) -> markup.Raw:
    """Jinja filter (LaTeX): a displayed formula with its line-break points (render/breaking.py)."""
    return markup.Raw(breakable_tex(_math(value)))


def breakable_md_filter(value: markup.Math) -> markup.Raw:
    """Jinja filter (Markdown): a displayed formula, as lines of an `aligned` block where it is long."""
    return markup.Raw(markup.markdown_math(markdown_lines(_math(value))))


def flow_tex_filter(values: list[markup.Math]) -> markup.Raw:
    """Jinja filter (LaTeX): formulas side by side for \\sbpflow, as many to a line as fit (a long
    one may still break inside, at higher cost than between formulas)."""
    return markup.Raw(r"\sbpsep ".join(r"\sbpitem{" + breakable_tex(_math(v), FLOW_PENALTY) + "}" for v in values))


def flow_md_filter(values: list[markup.Math]) -> markup.Raw:
    """Jinja filter (Markdown): formulas side by side, as rows of a `gathered` block that fit the width."""
    rows: list[list[str]] = []
    width = 0.0
    for value in values:
        latex = markdown_lines(_math(value))
        size = estimate(latex)
        if rows and width + FLOW_GAP + size <= MARKDOWN_WIDTH:
            rows[-1].append(latex)
            width += FLOW_GAP + size
        else:
            rows.append([latex])
            width = size
    body = r" \\ ".join(r" \qquad ".join(row) for row in rows)
    return markup.Raw(markup.markdown_math(r"\begin{gathered} " + body + r" \end{gathered}" if len(rows) > 1 else body))


FILTERS = {
    "tex": {"breakable": breakable_tex_filter, "flow": flow_tex_filter},
    "md": {"breakable": breakable_md_filter, "flow": flow_md_filter},
}


def builtin_templates() -> Path:
    """templates/ shipped in the wheel as symbackprop/templates, or the source tree's templates/."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "tex" / "document.tex").is_file():
            return candidate
    raise FileNotFoundError(
        f"symbackprop's templates are missing (looked in {package / 'templates'} and {package.parent / 'templates'})"
    )


def environment(fmt: str, template_dir: Path | None = None) -> jinja2.Environment:
    """The environment for `fmt` ("tex" or "md"); templates in `template_dir` replace the
    built-in ones of the same name."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(builtin_templates() / fmt)]
    if template_dir is not None:
        loaders.insert(0, jinja2.FileSystemLoader(template_dir))
    syntax = TEX_SYNTAX if fmt == "tex" else {}
    env = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        finalize=FINALIZE[fmt],
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        **syntax,
    )
    env.filters.update(FILTERS[fmt])
    return env
