"""`symbackprop export SPEC --to prairielearn -o DIR`: a PrairieLearn question for the exercise.

DIR holds info.json (PrairieLearn's question metadata, a UUID derived from the spec so a new
export of the same spec keeps its identity), question.html (the network, the student's own
numbers, one input per target and a box for the worked numeric solution), server.py (pl_server.py:
generate, parse, grade with this package), spec.yaml (the exercise) and symbackprop.json (the
question's settings: seed, hint level, the fields). Everything a spec author wrote reaches the
HTML escaped.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
import tempfile
import uuid
from pathlib import Path

from symbackprop.api import Network, UnknownTarget, load
from symbackprop.course.variants import VariantError, Variants
from symbackprop.schema import SCHEMA_VERSION

PLATFORMS = ("prairielearn",)
SERVER = Path(__file__).with_name("pl_server.py")


def _question_uuid(source: str) -> str:
    """A version-4-shaped UUID from the spec's text: the same spec exports as the same question."""
    digest = hashlib.sha256(("symbackprop prairielearn\0" + source).encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _ignored(text: str) -> str:
    """User text for the HTML: escaped, and kept away from MathJax."""
    return f'<span class="tex2jax_ignore mathjax_ignore">{html.escape(text)}</span>'


def fields(net: Network, targets: list[str] | None, worked: bool) -> list[dict[str, object]]:
    """One formula input per target (all of them by default), and the worked solution's box."""
    derivation = net.derive()
    try:
        chosen = [derivation.target(name) for name in targets] if targets else derivation.targets
    except UnknownTarget as error:
        raise VariantError(f"--target: {error}") from None
    out: list[dict[str, object]] = [
        {"name": f"t{i}", "kind": "formula", "target": target.name, "label": target.lhs_latex(), "weight": 1}
        for i, target in enumerate(chosen, start=1)
    ]
    if worked:
        out.append({"name": "worked", "kind": "worked", "weight": len(chosen)})
    return out


def question_html(net: Network, fields_: list[dict[str, object]]) -> str:
    spec = net.spec
    forward = r" \\ ".join(line.replace(" = ", " &= ", 1) for line in net.derive().forward_latex())
    parts = [
        "<pl-question-panel>",
        f"  <p><strong>{_ignored(spec.name)}</strong></p>",
        *([f"  <p>{_ignored(spec.description)}</p>"] if spec.description else []),
        "  <p>The network computes</p>",
        f"  <p>$$\\begin{{aligned}} {forward} \\end{{aligned}}$$</p>",
        "  <p>Your own numbers (no one else has these):</p>",
        "  <p>$${{{params.data_latex}}}$$</p>",
        "  <p>Write each derivative in the symbols above, in LaTeX or plain math "
        "(e.g. <code>delta_1 x^T</code> or <code>\\delta_1 x^\\top</code>).</p>",
        "</pl-question-panel>",
        "",
    ]
    for field in fields_:
        if field["kind"] == "formula":
            label = html.escape(f"${field['label']} =$", quote=True)
            parts.append(
                f'<pl-string-input answers-name="{field["name"]}" label="{label}" size="60" '
                f'display="block" allow-blank="true" remove-leading-trailing="true" '
                f'placeholder="a formula in LaTeX or plain math"></pl-string-input>'
            )
        else:
            parts.append(
                "<p>Your worked numeric solution (forward pass, loss, deltas, gradients and the updates, "
                "as matrices in Markdown or LaTeX):</p>"
            )
            parts.append(
                f'<pl-string-input answers-name="{field["name"]}" multiline="true" size="60" '
                f'allow-blank="true" placeholder="s_1 = W x = \\begin{{bmatrix}} ... \\end{{bmatrix}}">'
                f"</pl-string-input>"
            )
        name = field["name"]
        parts.append(
            f"<pl-submission-panel>{{{{#feedback.{name}}}}}<p>{{{{feedback.{name}}}}}</p>"
            f"{{{{/feedback.{name}}}}}</pl-submission-panel>"
        )
        parts.append("")
    return "\n".join(parts)


def export(
    spec_path: str | Path,
    out: str | Path,
    seed: int = 0,
    hint_level: int = 0,
    targets: list[str] | None = None,
    worked: bool | None = None,
) -> list[str]:
    """Write the question into `out` (a new or empty directory, or one exported before), all or
    nothing; returns the file names. Raises VariantError."""
    path = Path(spec_path)
    variants = Variants(path, seed)  # refuses a spec without numbers: each student draws their own
    net = load(path)
    if worked is None:
        worked = net.spec.training is not None
    chosen = fields(net, targets, worked)
    config = {
        "schema_version": SCHEMA_VERSION,
        "seed": seed,
        "hint_level": hint_level,
        "fields": chosen,
        "spec": "spec.yaml",
        "source": path.name,
    }
    files = {
        "info.json": json.dumps(
            {
                "uuid": _question_uuid(variants.source),
                "title": net.spec.name,
                "topic": "Backpropagation",
                "tags": ["symbackprop", "backpropagation"],
                "type": "v3",
                "gradingMethod": "Internal",
                "partialCredit": True,
                "singleVariant": False,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        "question.html": question_html(net, chosen),
        "server.py": SERVER.read_text(encoding="utf-8"),
        "spec.yaml": variants.source,
        "symbackprop.json": json.dumps(config, indent=2, ensure_ascii=False) + "\n",
    }
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise VariantError(f"-o {out}: is a file, not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / "symbackprop.json").is_file():
        raise VariantError(f"-o {out}: the directory is not empty and was not written by `symbackprop export`")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    except OSError as error:
        raise VariantError(f"-o {out}: cannot write there ({error.strerror})") from None
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return list(files)
