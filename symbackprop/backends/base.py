"""What every backend's printer shares: SymPy's code-printer pattern (`_print_<Class>`) over the
array programs of symbackprop.program, with hooks for what differs between array libraries.

A backend subclasses `ArrayCodePrinter` together with a SymPy printer for its library
(NumPyPrinter, JaxPrinter) and fills in the hooks: how to sum over an axis, fill or broadcast
an array, cast to the working dtype, take a softmax, gather and scatter. `function_lines`
then prints a whole program as the body of one Python function.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sympy import Basic, Expr, Mul, Piecewise, Symbol, Tuple
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanTrue
from sympy.printing.precedence import PRECEDENCE

from symbackprop.program import Array, ArrayProgram, Assignment, ShapeOf

if TYPE_CHECKING:  # the mixin below is only ever mixed into SymPy's code printers: its methods call theirs
    from sympy.printing.codeprinter import CodePrinter as _MixedInto
else:
    _MixedInto = object

#: Comments heading each section of a generated function.
SECTIONS = {
    "forward": "# forward",
    "loss": "# loss",
    "delta": "# backward: deltas, from the loss back",
    "grad": "# gradients",
    "backward": "# backward: each delta from the loss back, then the gradients it completes",
    "kinks": "# kinks: the sign of each value picks a branch of a formula that is not smooth",
}


def atomic(code: str) -> bool:
    """True when `code` needs no parentheses before `.T` or `.sum(...)`: a name, or a call or
    parenthesized expression whose first parenthesis closes at the end."""
    if code.replace(".", "_").isidentifier():
        return True
    head = code.split("(", 1)[0]
    if not code.endswith(")") or not (head == "" or head.replace(".", "_").isidentifier()):
        return False
    depth = 0
    for i, char in enumerate(code):
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(char, 0)
        if depth == 0 and char == ")":
            return i == len(code) - 1
    return False


def wrap(code: str) -> str:
    return code if atomic(code) else f"({code})"


def _is_indicator(expr: Basic) -> bool:
    """Piecewise((1, condition), (0, True)): 1 where the condition holds (relu')."""
    return (
        isinstance(expr, Piecewise)
        and len(expr.args) == 2
        and expr.args[0].expr == 1
        and expr.args[1].expr == 0
        and isinstance(expr.args[1].cond, BooleanTrue)
    )


def progression(index: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(start, stop, step) of a slice that picks exactly `index` (0, 3, 6 -> 0, 7, 3), or None."""
    if not index:
        return None
    step = index[1] - index[0] if len(index) > 1 else 1
    if step < 1 or any(b - a != step for a, b in zip(index, index[1:], strict=False)):
        return None
    return index[0], index[-1] + 1, step


class ArrayCodePrinter(_MixedInto):
    """Mixin: prints the array programs' expressions. `module` is what the library is called in
    the generated code (numpy, jnp, torch); `shapes` tells which factors are arrays."""

    module = "numpy"

    def __init__(self, shapes: ShapeOf | None = None, **kwargs: Any) -> None:
        super().__init__({"fully_qualified_modules": True, "strict": True, "order": "none", **kwargs})
        self.shapes = shapes or ShapeOf({})
        self._inline: dict[Symbol, str] = {}

    # --- hooks ---------------------------------------------------------------------------

    def axis_sum(self, code: str, axis: int) -> str:
        return f"{wrap(code)}.sum(axis={axis}, keepdims=True)"

    def cast(self, code: str) -> str:
        return f"{wrap(code)}.astype(dtype)"

    def filled(self, value: str, rows: str, cols: str) -> str:
        return f"{self.module}.full(({rows}, {cols}), {value}, dtype=dtype)"

    def broadcast(self, code: str, rows: str, cols: str) -> str:
        return f"{self.module}.broadcast_to({code}, ({rows}, {cols})).copy()"

    def softmax(self, code: str, axis: int, log: bool) -> str:
        raise NotImplementedError

    def take(self, code: str, axis: int, index: tuple[int, ...]) -> str:
        where = self.index_code(index)
        return f"{wrap(code)}[{where}]" if axis == 0 else f"{wrap(code)}[:, {where}]"

    def index_code(self, index: tuple[int, ...]) -> str:
        span = progression(index)
        if span is None:
            return "[" + ", ".join(map(str, index)) + "]"
        start, stop, step = span
        return f"{start}:{stop}" + (f":{step}" if step != 1 else "")

    def put(self, code: str, axis: int, index: tuple[int, ...], shape: tuple[str, str]) -> str:
        raise NotImplementedError

    def maximum(self, args: list[Expr], largest: bool) -> str:
        function = f"{self.module}.{'maximum' if largest else 'minimum'}"
        printed = self._print(args[0])
        for arg in args[1:]:
            printed = f"{function}({printed}, {self._print(arg)})"
        return printed

    # --- the array operations ------------------------------------------------------------

    def _print_Array(self, expr: Array) -> str:
        return self._inline[expr] if expr in self._inline else expr.name

    def _print_Symbol(self, expr: Symbol) -> str:
        return self._inline.get(expr, expr.name)

    def _print_MatProd(self, expr: Expr) -> str:
        return f"({wrap(self._print(expr.args[0]))} @ {wrap(self._print(expr.args[1]))})"

    def _print_Transposed(self, expr: Expr) -> str:
        return f"{wrap(self._print(expr.args[0]))}.T"

    def _print_AxisSum(self, expr: Expr) -> str:
        return self.axis_sum(self._print(expr.args[0]), int(expr.args[1]))

    def _print_Total(self, expr: Expr) -> str:
        return f"{wrap(self._print(expr.args[0]))}.sum()"

    def _print_SoftmaxOf(self, expr: Expr) -> str:
        return self.softmax(self._print(expr.args[0]), int(expr.args[1]), log=False)

    def _print_LogSoftmaxOf(self, expr: Expr) -> str:
        return self.softmax(self._print(expr.args[0]), int(expr.args[1]), log=True)

    def _print_Filled(self, expr: Expr) -> str:
        value, rows, cols = (self._print(a) for a in expr.args)
        return self.filled(value, rows, cols)

    def _print_BroadcastTo(self, expr: Expr) -> str:
        code, rows, cols = (self._print(a) for a in expr.args)
        return self.broadcast(code, rows, cols)

    def _print_Take(self, expr: Expr) -> str:
        return self.take(self._print(expr.args[0]), int(expr.args[1]), tuple(int(i) for i in expr.args[2]))

    def _print_Put(self, expr: Expr) -> str:
        rows, cols = (self._print(d) for d in self.shapes(expr))
        return self.put(self._print(expr.args[0]), int(expr.args[1]), tuple(int(i) for i in expr.args[2]), (rows, cols))

    # --- entrywise arithmetic, the way one writes it by hand -------------------------------

    def _print_Add(self, expr: Expr, order: str | None = None) -> str:
        """Positive terms first, then each negative one subtracted: y_out - y, not -y + y_out."""
        terms = list(self._as_ordered_terms(expr, order=order))
        negative = [t for t in terms if t.as_coeff_Mul()[0].is_negative]
        positive = [t for t in terms if t not in negative]
        if positive:
            code = " + ".join(self.parenthesize(t, PRECEDENCE["Add"]) for t in positive)
        else:
            first = negative.pop(0)
            code = "-" + self.parenthesize(-first, PRECEDENCE["Mul"])
        for term in negative:
            code += " - " + self.parenthesize(-term, PRECEDENCE["Add"], strict=True)
        return code

    def _print_Mul(self, expr: Expr) -> str:
        """A 0/1 indicator (relu') next to a float array is multiplied as its boolean condition."""
        indicators = [f for f in expr.args if _is_indicator(f)]
        if indicators and any(self.shapes(f) and not _is_indicator(f) for f in expr.args):
            stand_ins = {}
            for factor in indicators:
                stand_in = Symbol(f"_mask_{len(self._inline)}")
                self._inline[stand_in] = wrap(self._print(factor.args[0].cond))
                stand_ins[factor] = stand_in
            try:
                return super()._print_Mul(Mul(*(stand_ins.get(f, f) for f in expr.args), evaluate=False))
            finally:
                for stand_in in stand_ins.values():
                    del self._inline[stand_in]
        return super()._print_Mul(expr)

    def _print_Pow(self, expr: Expr, rational: bool = False) -> str:
        if expr.exp == -1:
            return f"1/{wrap(self._print(expr.base))}"
        return super()._print_Pow(expr, rational=rational)

    def _print_Relational(self, expr: Relational) -> str:
        return f"({self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)})"

    def _print_And(self, expr: Expr) -> str:
        return "(" + " & ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr: Expr) -> str:
        return "(" + " | ".join(self._print(a) for a in expr.args) + ")"

    def _print_Not(self, expr: Expr) -> str:
        return f"(~{self._print(expr.args[0])})"

    def _print_Piecewise(self, expr: Piecewise) -> str:
        """Nested where, the last piece being the default, cast to the working dtype when a
        branch is a plain number."""
        if not isinstance(expr.args[-1].cond, BooleanTrue):
            raise NotImplementedError(f"a piecewise formula without a default: {expr}")
        code = self._print(expr.args[-1].expr)
        for piece in reversed(expr.args[:-1]):
            code = f"{self.module}.where({self._print(piece.cond)}, {self._print(piece.expr)}, {code})"
        return self.cast(code) if any(self.shapes(p.expr) == () for p in expr.args) else code

    def _print_Max(self, expr: Expr) -> str:
        return self.maximum(list(expr.args), largest=True)

    def _print_Min(self, expr: Expr) -> str:
        return self.maximum(list(expr.args), largest=False)

    def _print_sign(self, expr: Expr) -> str:
        return f"{self.module}.sign({self._print(expr.args[0])})"

    def _print_Abs(self, expr: Expr) -> str:
        return f"{self.module}.abs({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr: Expr) -> str:
        at_zero = expr.args[1] if len(expr.args) > 1 else 0.5
        return f"{self.module}.heaviside({self._print(expr.args[0])}, {self._print(at_zero)})"

    def _print_Tuple(self, expr: Tuple) -> str:
        return "(" + ", ".join(self._print(a) for a in expr.args) + ",)"


def prologue(program: ArrayProgram, module: str) -> list[str]:
    """n_samples and dtype, read off the first argument with a sample axis."""
    first, axis = program.batch
    return [f"n_samples = {first.name}.shape[{axis}]", f"dtype = {first.name}.dtype"]


def used(definitions: list[str], body: list[str]) -> list[str]:
    """The `name = ...` lines whose name the body reads (n_samples, dtype, device when needed)."""
    text = "\n".join(body)
    return [line for line in definitions if re.search(rf"\b{line.split(' = ', 1)[0]}\b", text)]


def assignment_lines(
    assignments: tuple[Assignment, ...] | list[Assignment],
    printer: ArrayCodePrinter,
    loss: str = "{}",
    frees: dict[int, list[str]] | None = None,
) -> list[str]:
    """`target = value` lines with a comment heading each section; `loss` formats the loss's value
    (numpy: float({})); `frees` lists the variables to `del` after each assignment."""
    lines: list[str] = []
    headed: set[str] = set()
    for i, item in enumerate(assignments):
        if item.section != "common" and item.section not in headed:
            headed.add(item.section)
            lines.append(SECTIONS[item.section])
        code = printer.doprint(item.value)
        lines.append(f"{item.target.name} = {loss.format(code) if item.section == 'loss' else code}")
        if frees and frees.get(i):
            lines.append("del " + ", ".join(frees[i]))
    return lines


def frees(program: ArrayProgram, assignments: tuple[Assignment, ...], keep: set[Array]) -> dict[int, list[str]]:
    """For each assignment, the variables read for the last time there that are not kept."""
    last: dict[Array, int] = {}
    for i, item in enumerate(assignments):
        for symbol in item.value.atoms(Array):
            last[symbol] = i
    defined = {item.target for item in assignments}
    out: dict[int, list[str]] = {}
    for symbol, i in last.items():
        if symbol in defined and symbol not in keep:
            out.setdefault(i, []).append(symbol.name)
    return {i: sorted(names) for i, names in out.items()}


def result_lines(program: ArrayProgram, gradients_only: bool = False) -> list[str]:
    """The returned dictionary: loss, forward values, deltas and gradients (or loss and gradients)."""

    def table(pairs: tuple[tuple[str, Array], ...]) -> str:
        return "{" + ", ".join(f"{key!r}: {var.name}" for key, var in pairs) + "}"

    items = [f"'loss': {program.loss.name}"]
    if not gradients_only:
        items.append(f"'forward': {table(program.forward)}")
    if program.backward and not gradients_only:
        items.append(f"'delta': {table(program.delta)}")
    if program.backward:
        items.append(f"'grad': {table(program.grad)}")
    if program.with_kinks:
        items.append("'kinks': [" + ", ".join(k.name for k in program.kinks) + "]")
    return ["return {"] + [f"    {item}," for item in items] + ["}"]


def kept_results(program: ArrayProgram, gradients_only: bool) -> set[Array]:
    keep = {program.loss, *program.kinks, *(var for _, var in program.grad)}
    if not gradients_only:
        keep |= {var for _, var in program.forward + program.delta}
    return keep


def function_source(
    program: ArrayProgram,
    printer: ArrayCodePrinter,
    name: str = "compute",
    docstring: str | None = None,
    gradients_only: bool = False,
    free: bool = False,
    loss: str = "{}",
    extra: tuple[str, ...] = (),
) -> str:
    """The program as one Python function `name` taking the arguments' variables. `docstring` is
    written as it is (codegen escapes spec text first); `free` deletes every variable that is not
    returned after its last use, so that NumPy can reuse its memory at once; `extra` lines follow
    the prologue (torch's device)."""
    released = frees(program, program.assignments, kept_results(program, gradients_only)) if free else None
    body = assignment_lines(program.assignments, printer, loss, released) + result_lines(program, gradients_only)
    body = used(prologue(program, printer.module) + list(extra), body) + body
    lines = [f"def {name}({', '.join(p.name for p in program.parameters)}):"]
    if docstring:
        lines.append(f'    """{docstring}"""')
    lines += [f"    {line}" for line in body]
    return "\n".join(lines) + "\n"
