"""Regenerate every golden document: tests/golden/derive/ (`symbackprop derive SPEC --form all`
for every spec in specs/, as text, LaTeX and JSON) and docs/gallery/ (the rendered Markdown of
every spec, through tools/gallery.py). Run after a deliberate change of output, then read the
diff (git diff tests/golden docs/gallery) before committing it.

    python tools/regenerate_golden.py
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "derive"
FORMATS = {"text": "txt", "latex": "tex", "json": "json"}


def derive_output(spec: Path, fmt: str) -> str:
    """What `symbackprop derive SPEC --form all --format FMT` prints, run in-process."""
    from symbackprop.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["derive", str(spec.relative_to(ROOT)), "--form", "all", "--format", fmt])
    if code != 0:
        raise SystemExit(f"derive failed on {spec.name} ({fmt})")
    return out.getvalue()


def expected_files() -> dict[Path, str]:
    return {
        GOLDEN / f"{spec.stem}.{suffix}": derive_output(spec, fmt)
        for spec in sorted((ROOT / "specs").glob("*.yaml"))
        for fmt, suffix in FORMATS.items()
    }


def main() -> int:
    import os

    os.chdir(ROOT)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    files = expected_files()
    for stale in set(GOLDEN.iterdir()) - set(files):
        stale.unlink()
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files in {GOLDEN.relative_to(ROOT)}", file=sys.stderr)
    sys.path.insert(0, str(ROOT / "tools"))
    import gallery

    return gallery.main([])


if __name__ == "__main__":
    sys.exit(main())
