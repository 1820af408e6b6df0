"""The command line: a thin shell over the Python API (see `symbackprop --help`).

Exit codes: 0 success, 1 a negative verdict, 2 bad input (spec, answer, options).
Messages for people go to stderr; results to stdout or to -o FILE, written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from symbackprop.api import AVAILABLE_FORMS, FORMS, Derivation, Network, UnknownTarget, load
from symbackprop.printing import escape_latex
from symbackprop.spec import SpecError


class UsageError(Exception):
    """Bad options or input that the user can fix: exit 2 with this message."""


def _write(text: str, output: str | None) -> None:
    """Print, or write the file atomically so that a failure leaves nothing half-written."""
    if output is None:
        sys.stdout.write(text)
        return
    target = Path(output)
    if target.is_dir():
        raise UsageError(f"-o {output}: is a directory, not a file")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise UsageError(f"-o {output}: cannot write there ({error.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a plain open() would honour the umask
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _forms(requested: str) -> list[str]:
    if requested == "all":
        missing = [f for f in FORMS if f not in AVAILABLE_FORMS]
        if missing:
            print(f"symbackprop: note: not available yet: {', '.join(missing)} form", file=sys.stderr)
        return [f for f in FORMS if f in AVAILABLE_FORMS]
    if requested not in AVAILABLE_FORMS:
        raise UsageError(f"--form {requested}: this form is not available yet "
                         f"(available: {', '.join(AVAILABLE_FORMS)}, all)")
    return [requested]


def _targets(der: Derivation, names: list[str] | None) -> list:
    if not names:
        return der.targets
    try:
        return [der.target(name) for name in names]
    except UnknownTarget as error:
        raise UsageError(f"--target: {error}") from None


def _derive_text(net: Network, der: Derivation, targets: list, forms: list[str], whole: bool) -> str:
    spec = net.spec
    lines: list[str] = []
    if whole:
        lines += [spec.name, f"convention: weights {spec.convention.weights}, samples {spec.convention.samples}", ""]
        lines += ["Sizes"] + [f"  {name}: {shape}" for name, shape in net.shapes().items()] + [""]
        lines += ["Forward"] + [f"  {line}" for line in der.forward_text()] + [""]
    for form in forms:
        if whole or len(forms) > 1:
            lines.append(f"Backward ({form} form)")
        lines += [f"  {t.text(form)}" if whole or len(forms) > 1 else t.text(form) for t in targets]
        if whole or len(forms) > 1:
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _derive_latex(net: Network, der: Derivation, targets: list, forms: list[str], whole: bool) -> str:
    title = escape_latex(" ".join(net.spec.name.split()))
    blocks = []
    if whole:
        blocks.append((f"% {title}: forward equations", der.forward_latex()))
    for form in forms:
        blocks.append((f"% {title}: {form} form", [t.latex(form) for t in targets]))
    out = []
    for comment, lines in blocks:
        body = " \\\\\n".join(line.replace(" = ", " &= ", 1) for line in lines)
        out.append(f"{comment}\n\\begin{{align*}}\n{body}\n\\end{{align*}}\n")
    return "\n".join(out)


def _derive_json(net: Network, der: Derivation, targets: list, forms: list[str]) -> str:
    from symbackprop.printing import to_text

    doc = {
        "name": net.spec.name,
        "convention": {"weights": net.spec.convention.weights, "samples": net.spec.convention.samples},
        "shapes": net.shapes(),
        "forward": [{"symbol": name, "text": to_text(expr), "latex": latex}
                    for (name, expr), latex in zip(der.forward(), der.forward_latex(), strict=True)],
        "targets": [
            {"target": t.name, "kind": t.kind, "shape": list(t.shape),
             "forms": {form: {"text": t.text(form), "latex": t.latex(form)} for form in forms}}
            for t in targets
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def cmd_derive(args: argparse.Namespace) -> int:
    net = load(Path(args.spec))
    der = net.derive()
    forms = _forms(args.form)
    targets = _targets(der, args.target)
    whole = not args.target
    if args.format == "json":
        text = _derive_json(net, der, targets, forms)
    elif args.format == "latex":
        text = _derive_latex(net, der, targets, forms, whole)
    else:
        text = _derive_text(net, der, targets, forms, whole)
    _write(text, args.output)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symbackprop",
        description="Backpropagation derivations from a YAML network spec, checked with numbers.",
        epilog="Exit codes: 0 success, 1 a negative verdict, 2 bad input. See docs/ for the spec format.",
    )
    parser.add_argument("--version", action="version", version="symbackprop 0.1.0")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    derive = commands.add_parser(
        "derive", help="dL/dW and dL/db for every parameter, and every delta",
        description="Derive every delta (delta_k = dL/ds_k) and every parameter gradient by reverse "
                    "accumulation, in the spec's own orientation and symbols.",
        epilog="Examples:\n  symbackprop derive specs/mlp.yaml\n"
               "  symbackprop derive specs/mlp.yaml --target dL/dW --form symbolic --format latex\n"
               "  symbackprop derive specs/mlp.yaml --format json -o derivation.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    derive.add_argument("spec", metavar="SPEC", help="the network spec (YAML file)")
    derive.add_argument("--target", action="append", metavar="T",
                        help="only this target: dL/d<param> (e.g. dL/dW_1) or delta_<layer>; may repeat")
    derive.add_argument("--form", default="matrix", choices=[*FORMS, "all"],
                        help="which form: matrix (named deltas; default), symbolic (deltas substituted), "
                             f"all; available now: {', '.join(AVAILABLE_FORMS)}")
    derive.add_argument("--format", default="text", choices=["text", "latex", "json"], help="output format")
    derive.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    derive.set_defaults(run=cmd_derive)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (SpecError, UsageError) as error:
        print(f"symbackprop: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
