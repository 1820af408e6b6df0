"""The command line: a thin shell over the Python API (see `symbackprop --help`).

Exit codes: 0 success, 1 a negative verdict, 2 bad input (spec, answer, options).
Messages for people go to stderr; results to stdout or to -o FILE, written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import stat
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from symbackprop import options
from symbackprop.options import BACKENDS, FORMS
from symbackprop.schema import versioned

if TYPE_CHECKING:
    from symbackprop.api import Derivation, Network
    from symbackprop.course.variants import VariantSource

# Start-up: this module imports only the standard library and SymPy-free modules at the top
# (tests/test_startup.py pins it), so --help, --version and a bad spec or option are answered at
# once. Each command imports what it computes with when it runs.


class UsageError(Exception):
    """Bad options or input that the user can fix: exit 2 with this message."""


def _bounded(message: str, argv: Sequence[str]) -> str:
    """`message` with every long command-line argument it quotes (a target, a column map) cut to about 80
    characters and its length, a file name to its last 120 characters (spec.errors), whichever part of the
    program wrote it; then any word still longer than that (a file name made from one: out-network.svg)."""
    long = sorted((arg for arg in argv if len(arg) > 80), key=len, reverse=True)
    if not long and all(len(word) <= 120 for word in message.split()):  # the usual case: nothing to import
        return message
    import re

    from symbackprop.spec.errors import clip, clip_path

    def shown(text: str) -> str:
        return clip_path(text) if os.sep in text else clip(text)

    for arg in long:
        for written in (arg, repr(arg)[1:-1]):  # as given, and as repr() escapes it inside quotes
            message = message.replace(written, shown(arg))
    return re.sub(r"[^\s:;,]{121,}", lambda word: shown(word.group()), message)


class _Parser(argparse.ArgumentParser):
    """argparse with its error messages bounded like the commands' (its subcommands' parsers too)."""

    argv: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        super().error(_bounded(message, _Parser.argv))


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (workers stopped, temporary files removed), then exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    raise Stopped(signum)


def load(path: Path, command: str | None = None) -> Network:
    """The spec validated first (no SymPy needed to find its mistakes), then the network built from it;
    for a `command` that holds copies of every matrix, the memory they need checked against its budget."""
    from symbackprop.spec.loader import load_spec

    spec = load_spec(path)
    from symbackprop import budget
    from symbackprop.api import Network

    net = Network(spec)
    if command is not None:
        data = spec.data.get(spec.input.name)
        samples = 3 if data is None else len(data) if spec.convention.samples == "rows" else len(data[0])
        budget.check_memory(net, command, samples)
    return net


def _write(text: str | bytes, output: str | None) -> None:
    """Print, or write FILE whole or not at all (bytes: a PDF); docs/cli.md, "Output files".

    A regular file (new or not) is written beside itself and renamed into place, so a failure
    or a signal leaves the old file untouched; through a symlink, its target is replaced, not
    the link. A device, FIFO or socket (/dev/null, /dev/stdout, a named pipe) is written
    through: renaming over it would replace the device node itself.
    """
    if output is None:
        if isinstance(text, str):
            sys.stdout.write(text)
        else:
            sys.stdout.buffer.write(text)
        return
    data = text.encode("utf-8") if isinstance(text, str) else text
    target = Path(os.path.realpath(output))
    try:
        try:
            info: os.stat_result | None = target.stat()
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise UsageError(f"-o {output}: is a directory, not a file")
        if info is not None and not stat.S_ISREG(info.st_mode):
            with open(target, "wb") as handle:
                handle.write(data)
        else:
            _replace(target, data, info)
    except OSError as error:
        raise UsageError(f"-o {output}: cannot write there ({error.strerror or error})") from None


def _replace(target: Path, data: bytes, info: os.stat_result | None) -> None:
    """Write `data` to a temporary file in `target`'s directory, then rename it over `target`."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if info is not None:
            mode = stat.S_IMODE(info.st_mode)  # an existing file keeps its permissions
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # mkstemp makes 0600; a plain open() would honour the umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: --transpose choices and the LaTeX superscript each gives.
TRANSPOSES = {"top": r"\top", "T": "T"}


def _forms(requested: str) -> list[str]:
    return list(FORMS) if requested == "all" else [requested]


def _targets(der: Derivation, names: list[str] | None) -> list:
    from symbackprop.api import UnknownTarget

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
        lines += ["Sizes"] + [f"  {der.names.text(name)}: {shape}" for name, shape in net.shapes().items()] + [""]
        lines += ["Forward"] + [f"  {line}" for line in der.forward_text()] + [""]
    for form in forms:
        if whole or len(forms) > 1:
            lines.append(f"Backward ({form} form)")
        lines += [f"  {t.text(form)}" if whole or len(forms) > 1 else t.text(form) for t in targets]
        if whole or len(forms) > 1:
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _derive_latex(net: Network, der: Derivation, targets: list, forms: list[str], whole: bool, transpose: str) -> str:
    from symbackprop.printing import escape_latex

    title = escape_latex(" ".join(net.spec.name.split()))
    blocks = []
    if whole:
        blocks.append((f"% {title}: forward equations", der.forward_latex(transpose)))
    for form in forms:
        blocks.append((f"% {title}: {form} form", [t.latex(form, transpose) for t in targets]))
    out = []
    for comment, lines in blocks:
        body = " \\\\\n".join(line.replace(" = ", " &= ", 1) for line in lines)
        out.append(f"{comment}\n\\begin{{align*}}\n{body}\n\\end{{align*}}\n")
    return "\n".join(out)


def _target_json(t: Any, forms: list[str], transpose: str) -> dict[str, Any]:
    # target: the engine's name, the key of numeric results; each form's text and latex are in the spec's notation
    return {
        "target": t.name,
        "kind": t.kind,
        "shape": list(t.shape),
        "forms": {form: {"text": t.text(form), "latex": t.latex(form, transpose)} for form in forms},
    }


def _derive_questions(net: Network, forms: list[str], fmt: str, transpose: str) -> str:
    """The spec's questions in order, each answered in its own forms (else `forms`)."""
    from symbackprop.printing import escape_latex

    questions = net.questions()
    if not questions:
        raise UsageError(f"--questions: the spec {net.spec.source} has no questions: list them under `questions:`")
    if fmt == "json":
        doc = versioned(
            {
                "name": net.spec.name,
                "questions": [
                    {
                        "id": q.id,
                        "text": q.text,
                        "targets": [_target_json(t, list(q.forms or forms), transpose) for t in targets],
                    }
                    for q, targets in questions
                ],
            }
        )
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    out = [net.spec.name, ""] if fmt == "text" else []
    for question, targets in questions:
        shown = list(question.forms or forms)
        if fmt == "text":
            out.append(f"Question {question.id}" + (f": {' '.join(question.text.split())}" if question.text else ""))
            out += [
                f"  {t.text(form)}" + (f"   ({form} form)" if len(shown) > 1 else "") for t in targets for form in shown
            ]
            out.append("")
        else:
            lines = [t.latex(form, transpose).replace(" = ", " &= ", 1) for t in targets for form in shown]
            text = escape_latex(" ".join(question.text.split()))
            out.append(
                f"% Question {escape_latex(question.id)}{': ' + text if text else ''}\n\\begin{{align*}}\n"
                + " \\\\\n".join(lines)
                + "\n\\end{align*}\n"
            )
    return ("\n".join(out).rstrip("\n") + "\n") if fmt == "text" else "\n".join(out)


def _derive_json(net: Network, der: Derivation, targets: list, forms: list[str], transpose: str) -> str:
    from symbackprop.printing import to_text

    doc = versioned(
        {
            "name": net.spec.name,
            "convention": {"weights": net.spec.convention.weights, "samples": net.spec.convention.samples},
            "shapes": net.shapes(),
            "forward": [
                {"symbol": name, "text": to_text(expr, der.names), "latex": latex}
                for (name, expr), latex in zip(der.forward(), der.forward_latex(transpose), strict=True)
            ],
            "targets": [_target_json(t, forms, transpose) for t in targets],
        }
    )
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def cmd_derive(args: argparse.Namespace) -> int:
    net = load(Path(args.spec))
    from symbackprop.forms import FormTooLarge  # after the spec: a bad one is told without SymPy

    der = net.derive()
    forms = _forms(args.form)
    if args.questions:
        if args.target:
            raise UsageError("--questions prints the spec's questions: drop --target")
        try:
            text = _derive_questions(net, forms, args.format, TRANSPOSES[args.transpose])
        except FormTooLarge as error:
            raise UsageError(f"--questions: {error}") from None
        _write(text, args.output)
        return 0
    targets = _targets(der, args.target)
    whole = not args.target
    try:
        for form in ("chain", "symbolic"):  # sized in milliseconds, printed in seconds: refuse before printing
            for target in targets if form in forms else ():
                target.form(form)
        if args.format == "json":
            text = _derive_json(net, der, targets, forms, TRANSPOSES[args.transpose])
        elif args.format == "latex":
            text = _derive_latex(net, der, targets, forms, whole, TRANSPOSES[args.transpose])
        else:
            text = _derive_text(net, der, targets, forms, whole)
    except FormTooLarge as error:
        raise UsageError(f"--form {args.form}: {error}") from None
    _write(text, args.output)
    return 0


def cmd_numeric(args: argparse.Namespace) -> int:
    from symbackprop.api import UnknownTarget
    from symbackprop.course.draw import DrawError
    from symbackprop.numeric import NotComputable
    from symbackprop.training import TrainingError

    try:
        net = load(Path(args.spec))
        seed = None
        if args.random or args.seed is not None:
            seed = args.seed if args.seed is not None else net.spec.random.seed if net.spec.random else 0
        run = net.train(steps=args.steps, learning_rate=args.learning_rate, targets=args.target or (), seed=seed)
    except UnknownTarget as error:
        raise UsageError(f"--target: {error}") from None
    except DrawError as error:
        raise UsageError(str(error)) from None
    except (TrainingError, NotComputable) as error:
        raise UsageError(str(error)) from None
    for warning in run.warnings():
        print(f"symbackprop: warning: {warning}", file=sys.stderr)
    _write(run.to_json() if args.json else run.to_text(args.digits), args.output)
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    """Every spec in turn: exit 2 if one could not be checked, else 1 if one disagrees, else 0."""
    from symbackprop.api import UnknownTarget
    from symbackprop.budget import BudgetError
    from symbackprop.numeric import NotComputable
    from symbackprop.spec.errors import SpecError

    status, reports = 0, []
    for path in args.spec:
        try:
            result = load(Path(path), "gradcheck").gradcheck(
                seed=args.seed,
                random=args.random,
                step=args.step,
                tolerance=args.tolerance,
                max_entries=args.max_entries,
                targets=args.target,
            )
        except UnknownTarget as error:
            raise UsageError(f"--target: {error}") from None
        except (SpecError, NotComputable, BudgetError) as error:
            print(
                f"symbackprop: error: {error if isinstance(error, SpecError) else f'{path}: {error}'}", file=sys.stderr
            )
            status = 2
            continue
        reports.append(result.report(path))
        status = max(status, 0 if result.ok else 1)
    _write("\n".join(reports), args.output)
    return status


def cmd_codegen(args: argparse.Namespace) -> int:
    from symbackprop.numeric import NotComputable

    try:
        text = load(Path(args.spec)).codegen(args.backend)
    except NotComputable as error:
        raise UsageError(str(error)) from None
    _write(text, args.output)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from symbackprop import render

    if args.pdf and args.format == "md":
        raise UsageError("--pdf compiles LaTeX: use it with --format tex (or without --format)")
    if not args.pdf and args.format is None:
        raise UsageError("--format is required: tex or md (or --pdf for a compiled PDF)")
    net = load(Path(args.spec), "render")
    options = {"sections": args.sections, "forms": args.forms, "digits": args.digits, "template_dir": args.template_dir}
    try:
        if not args.pdf:
            stem = Path(args.output).stem if args.output else Path(args.spec).stem
            document = render.render_document(net, args.format, **options, figure=f"{stem}-network.svg")
            folder = Path(args.output).parent if args.output else Path()
            for name, data in document.files.items():  # the diagram first: a failure leaves no document
                _write(data, str(folder / name))
                print(f"symbackprop: wrote {folder / name}", file=sys.stderr)
            _write(document.text, args.output)
            return 0
        pdf = render.render_pdf(net, **options)
    except (render.RenderError, render.PdfError) as error:
        raise UsageError(str(error)) from None
    output = args.output or Path(args.spec).with_suffix(".pdf").name
    _write(pdf.data, output)
    print(f"symbackprop: wrote {output}", file=sys.stderr)
    return 0


def _names(choices: Sequence[str]) -> Callable[[str], list[str] | None]:
    """An argparse type: a comma-separated list of `choices`, or "all" (every one)."""

    def parse(text: str) -> list[str] | None:
        names = [name.strip() for name in text.split(",") if name.strip()]
        if names == ["all"]:
            return list(choices)
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a comma-separated list of {', '.join(choices)}")
        return names

    return parse


def _add_render_command(commands: argparse._SubParsersAction) -> None:
    from symbackprop.options import DEFAULT_DIGITS, DEFAULT_FORMS, MAX_DIGITS, SECTIONS

    render = commands.add_parser(
        "render",
        help="the whole worked solution as a LaTeX or Markdown document, or a PDF",
        description="The worked solution: the network as a diagram, the notation, the size of every matrix, the "
        "forward equations in vector and scalar form, the loss, every delta and gradient in the chosen "
        "forms, the numbers of each gradient-descent step on the spec's data (a small network's first "
        "step worked entry by entry), and the checks run (gradcheck, forms against the matrix form). "
        "Long formulas are broken into lines, never scaled down. Templates: templates/tex and "
        "templates/md (docs/render.md).",
        epilog="Examples:\n  symbackprop render specs/mlp.yaml --format md -o mlp.md\n"
        "  symbackprop render specs/mlp.yaml --pdf -o mlp.pdf\n"
        "  symbackprop render specs/mlp.yaml --format tex --sections derivation,numeric --forms matrix,index\n"
        "--pdf compiles with latexmk or pdflatex (no shell escape, files read and written only in a "
        "temporary directory) and writes SPEC's name with .pdf in the current directory unless -o is given.\n"
        "--format md also writes the diagram as NAME-network.svg next to the document (NAME: the -o file's "
        "name, or SPEC's in the current directory); it needs pdflatex and pdftocairo (poppler-utils).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    render.add_argument("spec", metavar="SPEC", help="the network spec (YAML file)")
    render.add_argument("--format", choices=["tex", "md"], help="LaTeX or Markdown (required unless --pdf)")
    render.add_argument("--pdf", action="store_true", help="compile the LaTeX document to PDF")
    render.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (default: stdout; with --pdf, SPEC's name with .pdf)"
    )
    render.add_argument(
        "--sections",
        type=_names(SECTIONS),
        metavar="LIST",
        help=f"comma-separated sections to include, in document order (default: the spec's "
        f"render section, else all: {','.join(SECTIONS)})",
    )
    render.add_argument(
        "--forms",
        type=_names(FORMS),
        metavar="LIST",
        help=f"comma-separated forms of each derivation, or all: {','.join(FORMS)} (default: the "
        f"spec's render section, else {','.join(DEFAULT_FORMS)})",
    )
    render.add_argument(
        "--digits",
        type=_number(int, 0, MAX_DIGITS),
        metavar="N",
        help=f"decimals of every number shown (default: the spec's render section, else {DEFAULT_DIGITS})",
    )
    render.add_argument(
        "--template-dir",
        metavar="DIR",
        help="templates here replace the built-in ones of the same name (e.g. DIR/network.tex)",
    )
    render.set_defaults(run=cmd_render)


def _number(kind: type, low: float, high: float | None = None) -> Callable[[str], float]:
    """An argparse type: a finite `kind` number from `low` (exclusive for floats) to `high`."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (value >= low if kind is int else low < value < math.inf) or (high is not None and value > high):
            bounds = (
                f"from {low} to {high}"
                if high is not None
                else (f"of at least {low}" if kind is int else f"above {low}")
            )
            raise argparse.ArgumentTypeError(f"{text}: expected a finite {kind.__name__} {bounds}")
        return value

    return parse


def _add_number_commands(commands: argparse._SubParsersAction) -> None:
    """numeric, gradcheck and codegen: the commands that compute with the spec's numbers."""
    numeric = commands.add_parser(
        "numeric",
        help="forward values, loss, deltas, gradients and updates for each gradient-descent step",
        description="Plain gradient descent on the spec's data, theta <- theta - learning_rate * dL/dtheta, "
        "showing every number of each step: the parameters it starts from, the forward values "
        "s_k and z_k, the loss, the deltas, the gradients and the updated parameters.",
        epilog="Examples:\n  symbackprop numeric specs/square_221.yaml\n"
        "  symbackprop numeric specs/mlp.yaml --steps 10 --json -o steps.json\n"
        "Needs data for the input, the target and every parameter; the learning rate and the "
        "number of steps come from the spec's `training` section unless given here.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    numeric.add_argument("spec", metavar="SPEC", help="the network spec (YAML file)")
    numeric.add_argument(
        "--steps", type=_number(int, 1, 10_000), metavar="N", help="number of steps (default: training.steps)"
    )
    numeric.add_argument(
        "--learning-rate", type=_number(float, 0), metavar="LR", help="learning rate (default: training.learning_rate)"
    )
    numeric.add_argument(
        "--random",
        action="store_true",
        help="draw the data and the initial parameters at random (seeded: the same numbers every "
        "time; fixed matrices stay the spec's), short enough to work by hand",
    )
    numeric.add_argument(
        "--seed",
        type=_number(int, 0),
        metavar="S",
        help="seed of --random (default: the spec's data.random.seed, else 0); implies --random",
    )
    numeric.add_argument(
        "--target",
        action="append",
        metavar="T",
        help="also the value of this target at each step: dL/dz_2, dL/dx, delta_1[2,n], dL/dW_3[1,1], ...; may repeat",
    )
    numeric.add_argument("--json", action="store_true", help="JSON instead of text (see docs/numeric.md)")
    numeric.add_argument(
        "--digits", type=_number(int, 0, 15), default=4, help="decimals shown in the text output (default 4)"
    )
    numeric.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    numeric.set_defaults(run=cmd_numeric)

    check = commands.add_parser(
        "gradcheck",
        help="symbolic gradients against central finite differences; exit 1 on a mismatch",
        description="Compare every parameter's symbolic gradient with central finite differences of the loss "
        "in float64, on the spec's data or on seeded random data of the right sizes. Prints the "
        "largest relative error per parameter and a verdict. Entries whose perturbation crosses a "
        "kink (relu, leaky relu, hinge) are reported as skipped, never as a mismatch.",
        epilog="Examples:\n  symbackprop gradcheck specs/*.yaml\n  symbackprop gradcheck specs/mlp.yaml --random "
        "--seed 3\nExit codes: 0 every spec agrees, 1 a mismatch, 2 a spec could not be checked.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("spec", metavar="SPEC", nargs="+", help="one or more network specs (YAML files)")
    check.add_argument("--random", action="store_true", help="random data even where the spec has data")
    check.add_argument("--seed", type=_number(int, 0), default=0, metavar="S", help="seed of the random data")
    check.add_argument(
        "--step",
        type=_number(float, 0),
        default=options.GRADCHECK_STEP,
        metavar="H",
        help=f"finite-difference step (default {options.GRADCHECK_STEP:g})",
    )
    check.add_argument(
        "--tolerance",
        type=_number(float, 0),
        default=options.GRADCHECK_TOLERANCE,
        metavar="T",
        help=f"largest relative error that counts as agreement (default {options.GRADCHECK_TOLERANCE:g})",
    )
    check.add_argument(
        "--max-entries",
        type=_number(int, 1),
        default=options.GRADCHECK_MAX_ENTRIES,
        metavar="K",
        help=f"check at most K seeded random entries of each parameter (default "
        f"{options.GRADCHECK_MAX_ENTRIES}); a large K checks every entry",
    )
    check.add_argument(
        "--target",
        action="append",
        metavar="T",
        help="check this derivative of the loss instead of every parameter's gradient: a gradient, "
        "a delta, dL/d<value> (dL/dz_2, dL/dx) or an entry of one (dL/dW_1[2,1]); may repeat",
    )
    check.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    check.set_defaults(run=cmd_gradcheck)

    code = commands.add_parser(
        "codegen",
        help="a standalone Python module computing the loss and gradients",
        description="Write a readable Python module, importing only the array library of --backend (NumPy, "
        "JAX or PyTorch), whose function loss_and_gradients(...) takes the arrays by name and "
        "returns the loss, forward values, deltas and gradients: the code gradient_fn() runs "
        "(a fixed 0/1 selection built in as slices). The torch module adds LossFunction, a "
        "torch.autograd.Function whose backward is the derived one.",
        epilog="Examples:\n  symbackprop codegen specs/mlp.yaml -o mlp_gradients.py\n"
        "  symbackprop codegen specs/mlp.yaml --backend torch -o mlp_torch.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    code.add_argument("spec", metavar="SPEC", help="the network spec (YAML file)")
    code.add_argument("--backend", choices=BACKENDS, default="numpy", help="array library (default numpy)")
    code.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    code.set_defaults(run=cmd_codegen)


def _network(args: argparse.Namespace) -> tuple[Network, str]:
    """The spec's network and YAML text, or with --variant ID that student's variant: from the --variants
    directory (an id its index.csv does not list is an error), else drawn again with --seed."""
    if args.variant is None:
        if args.variants is not None and not args.batch:
            raise UsageError(
                f"--variants {args.variants}: give --variant ID (or --batch, to grade each "
                f"{'file' if args.command == 'check' else 'row'} against its own variant)"
            )
        return load(Path(args.spec), "verify"), Path(args.spec).read_text(encoding="utf-8")
    from symbackprop.course.variants import VariantError

    source = _variant_source(args)
    try:
        return source.network(args.variant), source.text(args.variant)
    except VariantError as error:
        raise UsageError(str(error)) from None


def _variant_lookup(args: argparse.Namespace) -> Callable[[str], tuple[Network, str]]:
    """A student's variant by id for a --batch row: from --variants DIR (read now: a bad directory is an
    error before any row), else drawn from SPEC and --seed when a row first asks."""
    if args.variants is not None:
        return _variant_source(args).lookup
    sources: list[VariantSource] = []

    def lookup(ident: str) -> tuple[Network, str]:
        if not sources:
            sources.append(_variant_source(args))
        return sources[0].lookup(ident)

    return lookup


def _variant_source(args: argparse.Namespace) -> VariantSource:
    """Where the students' variants come from: the --variants directory, or SPEC and --seed."""
    from symbackprop.course.variants import VariantError, VariantSource

    try:
        return VariantSource(args.spec, args.seed, args.variants)
    except VariantError as error:
        raise UsageError(str(error)) from None


def cmd_variants(args: argparse.Namespace) -> int:
    from symbackprop.course import variants

    try:
        students = (
            variants.numbered(args.count) if args.count is not None else variants.roster(args.roster, args.id_column)
        )
        rows = variants.write(args.spec, students, args.seed, args.output, args.format, args.pdf)
    except variants.VariantError as error:
        raise UsageError(str(error)) from None
    print(
        f"symbackprop: wrote {len(rows)} variant(s) of {args.spec} (seed {args.seed}) to {args.output}; "
        f"the list is {Path(args.output) / variants.INDEX}",
        file=sys.stderr,
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from symbackprop.course import prairielearn
    from symbackprop.course.variants import VariantError

    try:
        files = prairielearn.export(
            args.spec, args.output, args.seed, args.hint_level, args.target, False if args.no_worked else None
        )
    except VariantError as error:
        raise UsageError(str(error)) from None
    print(f"symbackprop: wrote a PrairieLearn question to {args.output} ({', '.join(files)})", file=sys.stderr)
    return 0


def _add_course_commands(commands: argparse._SubParsersAction) -> None:
    """variants and export: from one exercise to a whole course (docs/course.md)."""
    variants = commands.add_parser(
        "variants",
        help="one seeded variant of the exercise per student: its spec, worked solution and key",
        description="Draw each student's own data and initial weights from their id and the seed (well "
        "conditioned: no dead relu layer, no saturated tanh or sigmoid, few digits), and write per "
        "student a folder with spec.yaml, solution.tex (or .md, and .pdf with --pdf) and key.json "
        "(every number of every step, every target's formula and value), and index.csv listing them. "
        "The same spec, seed and ids give the same bytes. See docs/course.md.",
        epilog="Examples:\n  symbackprop variants specs/mlp.yaml --count 30 --seed 7 -o out/\n"
        "  symbackprop variants specs/mlp.yaml --roster students.csv --id-column student_id --seed 2026 "
        "--format md -o hw3/\n"
        "Grade a student against their own numbers with `verify SPEC --variant ID --seed S` (or their "
        "spec.yaml).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    variants.add_argument("spec", metavar="SPEC", help="the exercise's spec (YAML file)")
    who = variants.add_mutually_exclusive_group(required=True)
    who.add_argument("--count", type=_number(int, 1, 10_000), metavar="N", help="students 01 to N")
    who.add_argument("--roster", metavar="FILE.csv", help="a CSV with a header and an id column (others are kept)")
    variants.add_argument("--id-column", default="id", metavar="NAME", help="the roster's id column (default id)")
    variants.add_argument("--seed", type=_number(int, 0), default=0, metavar="S", help="the course's seed (default 0)")
    variants.add_argument("--format", choices=["tex", "md"], default="tex", help="the solution document's format")
    variants.add_argument("--pdf", action="store_true", help="also compile each solution to PDF (with --format tex)")
    variants.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="a new directory (or one variants wrote before, which is replaced)",
    )
    variants.set_defaults(run=cmd_variants)

    export = commands.add_parser(
        "export",
        help="a question for a grading platform (PrairieLearn) that draws variants and grades them",
        description="Write a PrairieLearn question: info.json, question.html (the network, the student's own "
        "numbers, one input per target and a box for the worked numeric solution), server.py "
        "(generate() draws the variant from PrairieLearn's seed, parse() turns an unreadable formula "
        "into a format error, grade() grades with verify and check, with partial credit and "
        "feedback or hints), spec.yaml and symbackprop.json. See docs/platforms.md.",
        epilog="Examples:\n  symbackprop export specs/relu_4321.yaml --to prairielearn -o course/questions/backprop1\n"
        "  symbackprop export specs/mlp.yaml --to prairielearn --hint-level 1 --target dL/dW --target "
        "delta_1 -o q/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("spec", metavar="SPEC", help="the exercise's spec (YAML file), with data")
    export.add_argument("--to", required=True, choices=["prairielearn"], help="the platform")
    export.add_argument("-o", "--output", required=True, metavar="DIR", help="the question's directory")
    export.add_argument(
        "--seed",
        type=_number(int, 0),
        default=0,
        metavar="S",
        help="the course's seed, mixed with PrairieLearn's variant seed (default 0)",
    )
    export.add_argument("--target", action="append", metavar="T", help="ask for this target (repeat; default all)")
    export.add_argument(
        "--hint-level",
        type=int,
        choices=range(4),
        default=0,
        metavar="K",
        help="hints for wrong answers instead of the full feedback: 1 or 2 withhold the true formula "
        "(verify --hint-level; default 0: full feedback)",
    )
    export.add_argument(
        "--no-worked",
        action="store_true",
        help="no box for a worked numeric solution (by default there is one when the spec trains)",
    )
    export.set_defaults(run=cmd_export)


def cmd_verify(args: argparse.Namespace) -> int:
    from symbackprop.verify import command  # the grader is built on the API

    net, spec_text = _network(args)
    if args.format is not None and args.batch is None:
        raise UsageError("--format is for --batch (one answer: --json)")
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} disagree: give one")
    batch_only = [
        name
        for name, given in (
            ("--columns", args.columns),
            ("--executor", args.executor != "local"),
            ("--scheduler", args.scheduler),
        )
        if given
    ]
    if batch_only and args.batch is None:
        raise UsageError(f"{', '.join(batch_only)}: only with --batch")
    options = command.Options(
        as_json=args.json,
        time_limit=args.time_limit,
        hint_level=args.hint_level,
        workers=args.workers,
        progress=args.progress,
        format=args.format or ("json" if args.json else "csv"),
        columns=args.columns,
        executor=args.executor,
        scheduler=args.scheduler,
        spec_text=spec_text if args.executor == "dask" else None,
        variant=args.variant,
        variants=_variant_lookup(args) if args.batch is not None and args.variant is None else None,
    )
    try:
        if args.batch is not None:
            if args.answer is not None or args.target is not None:
                raise command.CommandError("--batch reads targets and answers from the file: drop --target/--answer")
            outcome = command.batch(net, args.batch, options)
        else:
            outcome = command.single(net, args.target, args.answer, options)
    except command.CommandError as error:
        raise UsageError(str(error)) from None
    _write(outcome.text, args.output)
    for message in outcome.messages:
        print(f"symbackprop: {message}", file=sys.stderr)
    return outcome.status


def cmd_check(args: argparse.Namespace) -> int:
    from symbackprop.check import Checker, CheckError, batch  # the checker is built on the API

    net, spec_text = _network(args)
    if args.executor == "dask" and not (args.batch and args.scheduler):
        raise UsageError("--executor dask is for --batch, with --scheduler ADDRESS")
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler is for --executor dask")
    try:
        if args.batch and args.variants is not None and args.variant is None:
            return _check_by_variant(args)
        checker = Checker(net, args.time_limit)
        if args.batch and args.executor == "dask":
            from symbackprop.check import distributed
            from symbackprop.cluster import ClusterError

            try:
                rows = distributed.run(
                    args.scheduler, spec_text, args.time_limit, batch.solution_files(Path(args.solution))
                )
            except ClusterError as error:
                raise UsageError(str(error)) from None
            _write(batch.to_json(rows) if args.json else batch.to_csv(rows), args.output)
            print(f"symbackprop: {batch.summary(rows)} on the Dask cluster at {args.scheduler}", file=sys.stderr)
            return 0
        if args.batch:
            rows = batch.run_batch(checker, batch.solution_files(Path(args.solution)))
            _write(batch.to_json(rows) if args.json else batch.to_csv(rows), args.output)
            print(f"symbackprop: {batch.summary(rows)}", file=sys.stderr)
            return 0
        if args.solution == "-":
            text, source = sys.stdin.read(), None
        else:
            path = Path(args.solution)
            if path.is_dir():
                raise UsageError(f"{args.solution} is a directory: give --batch to check every solution in it")
            text, source = batch.read_solution_file(path), path.name
        result = checker.check(text, source)
    except CheckError as error:
        raise UsageError(f"{args.solution}: {error}") from None
    _write(result.to_json() if args.json else result.text(), args.output)
    return 0 if result.ok else 1


def _check_by_variant(args: argparse.Namespace) -> int:
    """check --batch --variants DIR: each file against the variant its name gives."""
    from symbackprop.check import batch

    source = _variant_source(args)
    run_group: batch.GroupRunner | None = None
    if args.executor == "dask":
        from symbackprop.check import distributed
        from symbackprop.cluster import ClusterError

        def run_group(_net: Network, spec_text: str, paths: list[Path]) -> list[batch.BatchRow]:
            try:
                return distributed.run(args.scheduler, spec_text, args.time_limit, paths)
            except ClusterError as error:
                raise UsageError(str(error)) from None

    rows = batch.run_by_variant(
        batch.solution_files(Path(args.solution)),
        source.match,
        source.lookup,
        args.time_limit,
        source.where(),
        run_group,
    )
    _write(batch.to_json(rows) if args.json else batch.to_csv(rows), args.output)
    place = f" on the Dask cluster at {args.scheduler}" if args.executor == "dask" else ""
    print(f"symbackprop: {batch.summary(rows)}{place}, each against its variant in {source.where()}", file=sys.stderr)
    return 0


def _add_variant_and_executor_options(
    command: argparse.ArgumentParser, verb: str, variants_help: str, executor_help: str
) -> None:
    """The options check and verify share: a student's variant, the executor of a batch, the output file."""
    command.add_argument(
        "--variant",
        metavar="ID",
        help=f"{verb} against this student's variant of SPEC: from --variants DIR, else as `variants` "
        "drew it with --seed",
    )
    command.add_argument("--variants", metavar="DIR", help=variants_help)
    command.add_argument(
        "--seed", type=_number(int, 0), default=0, metavar="S", help="the seed the variants were drawn with (default 0)"
    )
    command.add_argument("--executor", choices=["local", "dask"], default="local", help=executor_help)
    command.add_argument(
        "--scheduler", metavar="ADDRESS", help="--executor dask: the scheduler's address, e.g. tcp://10.0.0.5:8786"
    )
    command.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")


def _add_check_command(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check",
        help="a worked numeric solution checked number by number: the first wrong one and why",
        description="Read a worked solution (Markdown or LaTeX: display math, align, bmatrix/pmatrix/array, "
        "scalars, chains like s_1 = W x = [..]) and check every number of the forward pass, loss, "
        "deltas, gradients and updates against the spec's training run, to the digits written. Each "
        "wrong number gets a cause: learning_rate, gradient_as_update, carried_forward, typo, "
        "transpose, sign, activation or arithmetic. See docs/check.md.",
        epilog="Examples:\n  symbackprop check specs/square_221.yaml solution.md\n"
        "  symbackprop check specs/mlp.yaml solution.tex --json\n"
        "  symbackprop check specs/mlp.yaml submissions/ --batch -o report.csv\n"
        "  symbackprop check specs/mlp.yaml sol.md --variant 07 --variants out/\n"
        "  symbackprop check specs/mlp.yaml submissions/ --batch --variants out/ -o report.csv\n"
        "Exit codes: 0 every number right, 1 findings, 2 the solution (or spec) cannot be read; "
        "--batch: 0 every file got a row, 2 the directory cannot be read.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("spec", metavar="SPEC", help="the network spec (YAML file), with data and training")
    check.add_argument(
        "solution",
        metavar="SOLUTION",
        help="the solution file (.md, .tex, .txt; - reads stdin), or a directory with --batch",
    )
    check.add_argument(
        "--batch",
        action="store_true",
        help="check every solution file (.md .markdown .tex .latex .txt) in the directory SOLUTION",
    )
    check.add_argument("--json", action="store_true", help="JSON instead of text (--batch: instead of CSV)")
    check.add_argument(
        "--time-limit",
        type=_number(float, 0, 600),
        default=30.0,
        metavar="S",
        help="CPU seconds one solution may take (default 30)",
    )
    _add_variant_and_executor_options(
        check,
        "check",
        variants_help="the directory `variants` wrote: --variant ID must be in its index.csv; with --batch and no "
        "--variant, each file is checked against the variant its name gives (07.md, 07_hw3.md)",
        executor_help="--batch: check here (default) or on a Dask cluster",
    )
    check.set_defaults(run=cmd_check)


def _add_verify_command(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "verify",
        help="is a student's formula equal to the true derivative? with feedback on the mistake",
        description="Read an answer in LaTeX or plain math, in the spec's symbols, and compare it with the true "
        "target at seeded random points; a wrong answer gets sentences naming its mistake (a sign, "
        "f' missing, a transpose, a wrong variable, a missing term ...). See docs/verify.md.",
        epilog="Examples:\n  symbackprop verify specs/mlp.yaml --target dL/dW --answer 'x delta_1^T'\n"
        "  symbackprop verify specs/mlp.yaml --target delta_out --answer '(y_out - y) \\odot (1 - y_out^2)' "
        "--json\n  symbackprop verify specs/mlp.yaml --batch answers.csv -o graded.csv --workers 4\n"
        "  symbackprop verify specs/mlp.yaml --batch answers.csv --columns id=student,target=question,"
        "answer=response --format gradescope -o results.json\n"
        "  symbackprop verify specs/mlp.yaml --batch answers.csv --executor dask --scheduler "
        "tcp://10.0.0.5:8786 -o graded.csv\n"
        "Exit codes: one answer: 0 equivalent, 1 not, 2 unreadable; --batch: 0 every row graded, "
        "2 the CSV cannot be read.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("spec", metavar="SPEC", help="the network spec (YAML file)")
    check.add_argument(
        "--target",
        metavar="T",
        help="dL/d<param>, delta_<layer>, dL/d<value>, an entry (dL/dW_1[2,1]) "
        "or a question's id (default: the answer's left side)",
    )
    check.add_argument("--answer", metavar="A", help="the formula, LaTeX or plain math; - reads it from stdin")
    check.add_argument("--batch", metavar="FILE.csv", help="grade every row of a CSV with columns id, target, answer")
    check.add_argument(
        "--workers", type=_number(int, 1, 64), default=2, metavar="N", help="worker processes for --batch (default 2)"
    )
    check.add_argument("--progress", action="store_true", help="a progress bar on stderr even when it is not a TTY")
    check.add_argument(
        "--time-limit",
        type=_number(float, 0, 600),
        default=5.0,
        metavar="S",
        help="seconds one answer may take (default 5)",
    )
    check.add_argument("--json", action="store_true", help="JSON instead of text (--batch: instead of CSV)")
    check.add_argument(
        "--hint-level",
        type=int,
        choices=range(4),
        default=0,
        metavar="K",
        help="hints for a wrong answer: 1 which factor or term is wrong, 2 also the next step of the "
        "chain rule, 3 also the full solution; 1 and 2 withhold the true formula (default 0: "
        "no hints, full feedback)",
    )
    check.add_argument(
        "--format",
        choices=["csv", "json", "gradescope"],
        help="--batch output: csv (default), json (as --json), or gradescope (a results.json)",
    )
    check.add_argument(
        "--columns",
        metavar="MAP",
        help="--batch: the file's names for our columns, e.g. id=student,target=question,"
        "answer=response (and points=weight, variant=student_id: each row against its "
        "student's variant)",
    )
    _add_variant_and_executor_options(
        check,
        "grade",
        variants_help="the directory `variants` wrote: --variant ID, or a --batch CSV's variant column, must name a "
        "variant in its index.csv",
        executor_help="--batch: grade in local worker processes (default) or on a Dask cluster",
    )
    check.set_defaults(run=cmd_verify)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symbackprop",
        description="Backpropagation derivations from a YAML network spec, checked with numbers.",
        epilog="Exit codes: 0 success, 1 a negative verdict, 2 bad input. See docs/ for the spec format.",
    )
    parser.add_argument("--version", action="version", version="symbackprop 0.1.0")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    derive = commands.add_parser(
        "derive",
        help="dL/dW and dL/db for every parameter, and every delta",
        description="Derive every delta (delta_k = dL/ds_k) and every parameter gradient by reverse "
        "accumulation, in the spec's own orientation and symbols.",
        epilog="Examples:\n  symbackprop derive specs/mlp.yaml\n"
        "  symbackprop derive specs/mlp.yaml --target dL/dW --form symbolic --format latex\n"
        "  symbackprop derive specs/mlp.yaml --format json -o derivation.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    derive.add_argument("spec", metavar="SPEC", help="the network spec (YAML file)")
    derive.add_argument(
        "--target",
        action="append",
        metavar="T",
        help="only this target: dL/d<param> (e.g. dL/dW_1), delta_<layer>, dL/d<value> (dL/dz_2), "
        "an entry (dL/dW_3[1,1], delta_1[2,n]) or a question's id; may repeat",
    )
    derive.add_argument(
        "--form",
        default="matrix",
        choices=[*FORMS, "all"],
        help="chain (products of partials, grouped into deltas), symbolic (deltas substituted), "
        "simplified (closed-form derivatives), matrix (named deltas; default), "
        "index (sums over units and samples), or all",
    )
    derive.add_argument(
        "--questions",
        action="store_true",
        help="the spec's questions in order, each answered in its own forms (else --form)",
    )
    derive.add_argument("--format", default="text", choices=["text", "latex", "json"], help="output format")
    derive.add_argument(
        "--transpose",
        default="top",
        choices=["top", "T"],
        help="how LaTeX writes a transpose: W^{\\top} (top, default) or W^{T}",
    )
    derive.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    derive.set_defaults(run=cmd_derive)
    _add_number_commands(commands)
    _add_render_command(commands)
    _add_verify_command(commands)
    _add_check_command(commands)
    _add_course_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure") and (sys.stdout.encoding or "").lower().replace("-", "") != "utf8":
        sys.stdout.reconfigure(encoding="utf-8")  # formulas hold ⊙ and ·, whatever the terminal's locale
    given = list(sys.argv[1:] if argv is None else argv)
    _Parser.argv = given
    parser = build_parser()
    args = parser.parse_args(given)
    from symbackprop import budget  # after the options: --help and option errors do not need them
    from symbackprop.spec.errors import SpecError

    # NumPy's floating-point warnings name a line of generated code; the commands report infinite and
    # undefined values themselves (in the numbers, and as warnings and verdicts of their own).
    warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero|underflow) encountered", RuntimeWarning)

    handlers = (
        {signum: signal.signal(signum, _stop) for signum in (signal.SIGTERM, signal.SIGHUP)}
        if threading.current_thread() is threading.main_thread()
        else {}
    )
    try:
        budget.watch(budget.memory_mb(args.command), lambda: _out_of_memory(args.command))
        return args.run(args)
    except (SpecError, UsageError, budget.BudgetError) as error:
        print(f"symbackprop: error: {_bounded(str(error), given)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"symbackprop: error: {_memory_message(args.command)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Stopped as stopped:
        print(f"symbackprop: stopped by {signal.Signals(stopped.signum).name}", file=sys.stderr)
        return 128 + stopped.signum
    finally:
        budget.unwatch()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def _memory_message(command: str) -> str:
    from symbackprop import budget

    return (
        f"{command} needs more memory than its budget of {budget.memory_mb(command)} MB allows "
        f"({budget.MEMORY_VARIABLE} raises it; docs/security.md)"
    )


def _out_of_memory(command: str) -> None:
    """The memory watchdog's end of a command: one message, exit 2, at once (from the watchdog's thread)."""
    sys.stderr.write(f"symbackprop: error: {_memory_message(command)}\n")
    sys.stderr.flush()
    os._exit(2)


if __name__ == "__main__":
    sys.exit(main())
