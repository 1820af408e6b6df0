"""Regenerate docs/gallery/: the worked solution of every spec in specs/ as Markdown
(`symbackprop render SPEC --format md`), its diagram as SVG (NAME-network.svg, which the page
shows), a PNG preview of the first page of its PDF (NAME-page1.png), and an index. Run after a
deliberate change of the renderer, its templates or a spec, then read the diff (git diff
docs/gallery) before committing. The pictures need pdflatex and poppler-utils.

    python tools/gallery.py           # rewrite docs/gallery/
    python tools/gallery.py --check   # exit 1, naming the files, if docs/gallery/ is not current
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GALLERY = ROOT / "docs" / "gallery"
#: Figures of the Checks section that depend on the machine's floating-point rounding (gradcheck's
#: relative errors, differences near 1e-16): --check compares everything else exactly.
NOISE = re.compile(r"\$(0|\d\.\d \\times 10\^\{-?\d+\})\$")
#: Resolution of the first-page previews.
PREVIEW_DPI = 60


def figure(stem: str) -> str:
    return f"{stem}-network.svg"


def preview(stem: str) -> str:
    return f"{stem}-page1.png"


def expected() -> dict[str, str]:
    """File name -> content of every gallery page: one per spec, and README.md listing them with
    their first pages."""
    import symbackprop

    files = {}
    rows = []
    for spec in sorted(SPECS.glob("*.yaml")):
        net = symbackprop.load(spec)
        files[f"{spec.stem}.md"] = net.render("md", figure=figure(spec.stem))
        rows.append(
            f"| [{spec.stem}]({spec.stem}.md) | `specs/{spec.name}` | {net.spec.name} | "
            f"[![first page of {spec.stem}]({preview(spec.stem)})]({preview(spec.stem)}) |"
        )
    files["README.md"] = "\n".join(
        [
            "# Gallery: worked solutions of the example specs",
            "",
            "Each page is `symbackprop render SPEC --format md` for one spec in `specs/`, with its diagram",
            "(`NAME-network.svg`, the TikZ of the PDF as SVG) and a preview of the first page of its PDF",
            "(`NAME-page1.png`), checked in so that a change of output shows in review. Regenerate them all",
            "with `python tools/gallery.py`; `tests/test_render_gallery.py` fails when a page is not current.",
            "See [render.md](../render.md).",
            "",
            "| page | spec | title | first page of the PDF |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    return files


def pictures(stem: str) -> dict[str, bytes]:
    """The diagram (SVG) and the preview of the PDF's first page (PNG) of one spec."""
    import symbackprop
    from symbackprop.render import diagram_svg, render_pdf
    from symbackprop.render.figures import pdf_to_png

    net = symbackprop.load(SPECS / f"{stem}.yaml")
    return {figure(stem): diagram_svg(net), preview(stem): pdf_to_png(render_pdf(net).data, dpi=PREVIEW_DPI)}


def comparable(text: str) -> str:
    """The text with the Checks section's machine-dependent figures replaced by a placeholder."""
    head, marker, checks = text.partition("\n## Checks\n")
    return head + marker + NOISE.sub("$E$", checks)


def stale() -> list[str]:
    """Gallery files that differ from what the renderer gives now, are missing, or are left over.
    The pictures are checked for presence only: their bytes depend on the TeX and poppler versions."""
    want = expected()
    stems = [spec.stem for spec in sorted(SPECS.glob("*.yaml"))]
    pictures_wanted = {name for stem in stems for name in (figure(stem), preview(stem))}
    have = {path.name for path in GALLERY.iterdir()} if GALLERY.is_dir() else set()
    out = sorted(have - set(want) - pictures_wanted)
    for name, text in want.items():
        path = GALLERY / name
        if not path.is_file() or comparable(path.read_text(encoding="utf-8")) != comparable(text):
            out.append(name)
    out += sorted(name for name in pictures_wanted if name not in have)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        for name in names:
            print(f"docs/gallery/{name} is not current; run: python tools/gallery.py", file=sys.stderr)
        return 1 if names else 0
    GALLERY.mkdir(parents=True, exist_ok=True)
    want: dict[str, str | bytes] = dict(expected())
    for spec in sorted(SPECS.glob("*.yaml")):
        want.update(pictures(spec.stem))
    for path in GALLERY.iterdir():
        if path.name not in want:
            path.unlink()
    for name, content in want.items():
        path = GALLERY / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    print(f"wrote {len(want)} files to docs/gallery/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
