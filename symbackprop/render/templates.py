"""The Jinja environments: one template set per format, found in the installed package
(symbackprop/templates, from the wheel) or in the source tree (templates/), a course's own
directory searched first. StrictUndefined makes a misspelt variable an error, not a blank."""

from __future__ import annotations

from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from symbackprop.render import markup

#: LaTeX-safe delimiters for the .tex templates: braces, % and # stay LaTeX's own.
TEX_SYNTAX = {
    "block_start_string": r"\BLOCK{", "block_end_string": "}",
    "variable_start_string": r"\VAR{", "variable_end_string": "}",
    "comment_start_string": "%{#", "comment_end_string": "#}",
}
FINALIZE = {"tex": markup.finalize_tex, "md": markup.finalize_md}


def builtin_templates() -> Path:
    """templates/ shipped in the wheel as symbackprop/templates, or the source tree's templates/."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "tex" / "document.tex").is_file():
            return candidate
    raise FileNotFoundError(f"symbackprop's templates are missing (looked in {package / 'templates'} "
                            f"and {package.parent / 'templates'})")


def environment(fmt: str, template_dir: Path | None = None) -> jinja2.Environment:
    """The environment for `fmt` ("tex" or "md"); templates in `template_dir` replace the
    built-in ones of the same name."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(builtin_templates() / fmt)]
    if template_dir is not None:
        loaders.insert(0, jinja2.FileSystemLoader(template_dir))
    syntax = TEX_SYNTAX if fmt == "tex" else {}
    env = SandboxedEnvironment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                               finalize=FINALIZE[fmt], autoescape=False, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True, **syntax)
    env.filters["mermaid"] = markup.mermaid
    return env
