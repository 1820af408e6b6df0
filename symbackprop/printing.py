"""LaTeX and plain-text printers in the course's symbols, after SymPy's printer pattern:
one `_print_<Class>` per kind of expression, no string surgery on printed output.

Symbols carry the engine's names (W_1, delta_out, y_out, s_<layer>); the printers spell them
through a notation table (notation.Names: net^{(1)}, \\sigma_{1} ...), or, without one, as LaTeX
`W_{1}`, `\\delta_{out}`, `y_{out}`, with any LaTeX special in a user's name escaped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sympy import Add, Dummy, Expr, Heaviside, Integer, KroneckerDelta, Mul, Piecewise, Sum, Symbol, true
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    Identity,
    MatAdd,
    MatMul,
    MatPow,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Transpose,
)
from sympy.matrices.expressions.matexpr import MatrixElement
from sympy.printing.latex import LatexPrinter as _SympyLatex
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter as _SympyStr

if TYPE_CHECKING:  # the mixin below is only ever mixed into SymPy's printers: its methods call theirs
    from sympy.printing.printer import Printer as _MixedInto
else:
    _MixedInto = object

from symbackprop.forms.chain import LOSS, ChainProduct, ChainSum, Grouped, Partial
from symbackprop.forms.index import EntryFunction
from symbackprop.matexpr import Diag, Elementwise, EntrySum, Indicator, Ones, Softmax
from symbackprop.notation import GREEK, PLAIN, Spelling, escape_latex, latex_element_base, latex_name

__all__ = [
    "GREEK",
    "LatexPrinter",
    "TextPrinter",
    "escape_latex",
    "latex_element_base",
    "latex_name",
    "to_latex",
    "to_text",
]


def _element_indices(expr: MatrixElement, matrices: frozenset[str] = frozenset()) -> list[Expr]:
    """An entry's indices, counted from 1, leaving out dimensions of size 1 (except for the `matrices`,
    a weight written W^{3}_{1,2} as a course does)."""
    out = []
    whole = expr.parent.name in matrices
    for index, dim in zip((expr.i, expr.j), expr.parent.shape, strict=True):
        if dim != 1 or whole:
            out.append(index + 1 if isinstance(index, Integer) else index)
    return out


def _index(index: Expr) -> Expr:
    """An index as printed: a number counted from 1, a letter as it is."""
    return index + 1 if isinstance(index, Integer) else index


def _ordered_terms(expr: MatAdd) -> list[Expr]:
    """Positive terms before negative ones, bias terms (with a ones vector) and scaled terms
    after the others: W x + b 1^T, y_out - y and [s > 0] + a [s <= 0] read as a course writes them."""

    def rank(term: Expr) -> tuple[int, int, int]:
        negative = term.could_extract_minus_sign()
        scaled = isinstance(term, MatMul) and abs(term.as_coeff_matrices()[0]) != 1
        return (int(negative), int(term.has(OneMatrix) and not term.has(Ones)), int(scaled))

    return sorted(expr.args, key=rank)


def _coeff_matrices(expr: MatMul) -> tuple[Expr, list[Expr]]:
    """A product's scalar and its matrix factors, nested products flattened: W (-s) is -W s, not `W -s`."""
    coeff, factors = expr.as_coeff_matrices()
    flat: list[Expr] = []
    for factor in factors:
        if isinstance(factor, MatMul):
            inner, more = _coeff_matrices(factor)
            coeff, flat = coeff * inner, flat + more
        else:
            flat.append(factor)
    return coeff, flat


def _negated(term: Expr) -> Expr:
    """-term without SymPy's canonical form, which would fold W (W s) into W**2 s (read back as an entrywise
    square): a product keeps its factors, only its scalar changes sign."""
    if isinstance(term, MatMul):
        coeff, factors = _coeff_matrices(term)
        return MatMul(-coeff, *factors) if coeff != -1 else (MatMul(*factors) if len(factors) > 1 else factors[0])
    return -term


def _is_scaled(expr: Expr) -> bool:
    """A scalar times one matrix (2 (y_out - y)), as opposed to a product of matrices."""
    return isinstance(expr, MatMul) and len(expr.as_coeff_matrices()[1]) == 1


def _is_iverson(expr: Expr) -> bool:
    """1 where a condition on matrix entries holds, else 0: relu' of one entry in an index form."""
    return (
        isinstance(expr, Piecewise)
        and len(expr.args) == 2
        and expr.args[0].expr == 1
        and expr.args[1].expr == 0
        and expr.args[1].cond is true
        and expr.has(MatrixElement)
    )


#: How loosely an entrywise formula binds when printed inline: a single factor, a product
#: (2*s_1), entrywise products and quotients (y ⊘ y_out), a sum or a leading minus.
ATOM, PRODUCT, HADAMARD, SUM = range(4)


def _entrywise(term: Expr, variables: set[Symbol]) -> tuple[list[Expr], list[Expr], list[Expr]]:
    """A product's factors: (those holding a matrix, the matrix denominators, the scalars)."""
    numerator, denominator, scalars = [], [], []
    for factor in Mul.make_args(term):
        holds = bool(factor.free_symbols & variables)
        if holds and factor.is_Pow and factor.exp.is_negative:
            denominator.append(factor.base**-factor.exp)
        elif holds:
            numerator.append(factor)
        else:
            scalars.append(factor)
    return numerator, denominator, scalars


def formula_level(expr: Elementwise) -> int:
    """How loosely an unlabeled Elementwise binds when its formula is printed with the matrices in place."""
    formula = expr.function.expr
    if formula.is_Add or formula.could_extract_minus_sign():
        return SUM
    if formula.is_Mul:
        numerator, denominator, _ = _entrywise(formula, set(expr.function.variables))
        return HADAMARD if len(numerator) > 1 or denominator else PRODUCT
    return ATOM


class _CourseNotation(_MixedInto):
    """What the LaTeX and text printers share: the order of terms, when to bracket, and how an
    entrywise formula is printed with matrices for its variables. Each printer gives `_bracket`."""

    #: entrywise powers the printer writes with ⊙ (text's s ⊙ s), so that they bind as loosely as a product
    loose_powers: tuple[type, ...] = ()

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._inline: dict[Symbol, str] = {}  # stand-in symbol -> how its matrix prints
        self.spelling: Spelling = self._settings.get("spelling") or PLAIN

    def _wrap(self, expr: Expr, types: tuple[type, ...], inline: int = HADAMARD) -> str:
        """`expr` printed, in brackets if it is one of `types`, or an inline formula binding `inline` or looser."""
        printed = self._print(expr)
        loose = isinstance(expr, Elementwise) and not expr.label and formula_level(expr) >= inline
        return self._bracket(printed) if isinstance(expr, types) or loose else printed

    def _hadamard_factor(self, expr: Expr) -> str:
        """Matrix products and sums are bracketed inside a Hadamard product; a scalar multiple is not."""
        return (
            self._wrap(expr, (MatAdd, HadamardProduct))
            if _is_scaled(expr)
            else self._wrap(expr, (MatAdd, MatMul, HadamardProduct))
        )

    def _print_MatPow(self, expr: MatPow) -> str:
        """A square matrix's power as the product it is (W W): `W^2` would read back as an entrywise square."""
        if expr.exp.is_Integer and 1 < expr.exp <= 4:
            return self._print(MatMul(*[expr.base] * int(expr.exp)))
        fallback = getattr(super(), "_print_MatPow", None)
        return fallback(expr) if fallback is not None else self._print_Basic(expr)

    def _print_Mul(self, expr: Mul, **kwargs: Any) -> str:
        """Inside an inline formula, a product of matrices or a quotient by one is entrywise: y ⊙ y_out, -y ⊘ y_out."""
        variables = set(self._inline)
        numerator, denominator, scalars = _entrywise(expr, variables) if variables else ([], [], [])
        if len(numerator) < 2 and not denominator:
            return super()._print_Mul(expr, **kwargs)
        coeff = Mul(*scalars)
        sign = "-" if coeff.could_extract_minus_sign() else ""
        first = Mul(-coeff if sign else coeff, numerator[0]) if numerator else (-coeff if sign else coeff)
        parts = [self.parenthesize(first, PRECEDENCE["Mul"])]
        parts += [self.parenthesize(factor, PRECEDENCE["Mul"]) for factor in numerator[1:]]
        out = self._settings["hadamard"].join(parts)
        for factor in denominator:
            out += self._settings["oslash"] + self.parenthesize(factor, PRECEDENCE["Mul"], strict=True)
        return (self._settings["minus"] if sign else "") + out

    def _print_MatAdd(self, expr: MatAdd) -> str:
        out = ""
        for i, term in enumerate(_ordered_terms(expr)):
            if term.could_extract_minus_sign():  # a subtracted sum keeps its brackets: a - (b + c)
                out += " - " + self._wrap(_negated(term), (MatAdd,), SUM)
            else:
                out += (" + " if i else "") + self._print(term)
        return out.lstrip(" ")

    def _print_Add(self, expr: Add, order: str | None = None) -> str:
        """Positive terms first: y_out[n] - y[n], as the matrix form writes y_out - y."""
        terms = sorted(self._as_ordered_terms(expr, order=order), key=lambda t: t.could_extract_minus_sign())
        out = self._print(terms[0])
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                out += " - " + self.parenthesize(-term, PRECEDENCE["Add"], strict=True)
            else:
                out += " + " + self._print(term)
        return out

    def _print_Heaviside(self, expr: Heaviside) -> str:
        """Heaviside(u, 0), the index form's [u > 0] (relu' of one entry), as that bracket."""
        if len(expr.args) == 2 and expr.args[1] == 0:
            return self._iverson(self._print(expr.args[0] > 0))
        fallback = getattr(super(), "_print_Heaviside", None)
        return fallback(expr) if fallback is not None else self._print_Basic(expr)

    def _print_Piecewise(self, expr: Piecewise) -> str:
        """1 where a condition holds, else 0 (relu' of one entry), as the bracket [s > 0]."""
        if _is_iverson(expr):
            return self._iverson(self._print(expr.args[0].cond))
        fallback = getattr(super(), "_print_Piecewise", None)
        return fallback(expr) if fallback is not None else self._print_Basic(expr)

    def _inline_formula(self, expr: Elementwise) -> str:
        """An entrywise formula printed with the matrices standing for its variables."""
        stand_ins = {}
        for variable, mat in zip(expr.function.variables, expr.mats, strict=True):
            stand_in = Dummy(variable.name, real=True)
            self._inline[stand_in] = self._wrap(mat, (MatAdd, MatMul, HadamardProduct, *self.loose_powers), PRODUCT)
            stand_ins[variable] = stand_in
        try:
            return self._print(expr.function.expr.xreplace(stand_ins))
        finally:
            for stand_in in stand_ins.values():
                del self._inline[stand_in]


class LatexPrinter(_CourseNotation, _SympyLatex):
    """SymPy's LaTeX printer with the course's matrix notation: ^\\top, \\odot, f_1'(s_1)."""

    _default_settings: dict[str, Any] = {
        **_SympyLatex._default_settings,
        "transpose": r"\top",
        "spelling": None,
        "matrices": frozenset(),
        "hadamard": r" \odot ",
        "oslash": r" \oslash ",
        "minus": "- ",
    }

    def _bracket(self, printed: str) -> str:
        return r"\left(" + printed + r"\right)"

    def _iverson(self, printed: str) -> str:
        return r"\left[" + printed + r"\right]"

    def _needs_mul_brackets(self, expr: Expr, first: bool = False, last: bool = False) -> bool:
        return False if _is_iverson(expr) else super()._needs_mul_brackets(expr, first=first, last=last)

    def _print_MatrixSymbol(self, expr: MatrixExpr) -> str:
        return self.spelling.latex(expr.name)

    def _print_Symbol(self, expr: Symbol, style: str = "plain") -> str:
        if expr in self._inline:
            return self._inline[expr]
        return super()._print_Symbol(expr, style=style)

    def _print_Transpose(self, expr: Transpose) -> str:
        base = self._wrap(expr.arg, (MatAdd, MatMul, HadamardProduct, Transpose, Mul), PRODUCT)
        if "^" in base and not base.endswith(r"\right)"):
            base = "{" + base + "}"  # delta_{rec}^{(2)} takes its transpose without a double superscript
        return base + "^{" + self._settings["transpose"] + "}"

    def _print_MatMul(self, expr: MatMul) -> str:
        coeff, factors = _coeff_matrices(expr)
        parts = [self._wrap(f, (MatAdd, HadamardProduct)) for f in factors]
        if coeff == -1:
            return "- " + " ".join(parts)
        if coeff != 1:
            parts.insert(0, self._wrap(coeff, (Expr,)) if coeff.is_Add else self._print(coeff))
        return " ".join(parts)

    def _print_HadamardProduct(self, expr: HadamardProduct) -> str:
        return r" \odot ".join(self._hadamard_factor(arg) for arg in expr.args)

    def _print_OneMatrix(self, expr: OneMatrix) -> str:
        rows, cols = expr.shape
        if rows == 1:
            return r"\mathbf{1}_{" + self._print(cols) + "}^{" + self._settings["transpose"] + "}"
        if cols == 1:
            return r"\mathbf{1}_{" + self._print(rows) + "}"
        return (
            r"\mathbf{1}_{"
            + self._print(rows)
            + r"} \mathbf{1}_{"
            + self._print(cols)
            + "}^{"
            + self._settings["transpose"]
            + "}"
        )

    def _print_Elementwise(self, expr: Elementwise) -> str:
        if not expr.label:
            return self._inline_formula(expr)
        arguments = ", ".join(self._print(m) for m in expr.mats)
        return self.spelling.function_latex(expr.label) + "'" * expr.order + r"\left(" + arguments + r"\right)"

    def _print_Softmax(self, expr: Softmax) -> str:
        return r"\operatorname{softmax}\left(" + self._print(expr.arg) + r"\right)"

    def _print_EntrySum(self, expr: EntrySum) -> str:
        # \sum covers the product that follows it: a sum, a leading minus or an entrywise product or quotient
        # is bracketed, so that the sum covers the whole formula: \sum (-y \log y_out), \sum ((1 - y) \odot m)
        return r"\sum " + self._wrap(expr.arg, (MatAdd, HadamardProduct))

    def _print_Ones(self, expr: Ones) -> str:
        return r"\mathbf{1}"

    def _print_HadamardPower(self, expr: HadamardPower) -> str:
        base = self._wrap(expr.base, (MatAdd, MatMul, HadamardProduct), PRODUCT)
        base = "{" + base + "}" if "^" in base and not base.endswith(r"\right)") else base
        return base + r"^{\circ " + self._print(expr.exp) + "}"

    def _print_Indicator(self, expr: Indicator) -> str:
        relation = " > 0" if expr.strict else r" \le 0"
        return r"\left[" + self._print(expr.arg) + relation + r"\right]"

    def _print_Heaviside(self, expr: Heaviside, exp: str | None = None) -> str:
        """The step function as the indicator a course writes: [1 - t y > 0] (hinge's derivative)."""
        printed = r"\left[" + self._print(expr.args[0]) + r" > 0\right]"
        return printed if exp is None else printed + "^{" + exp + "}"

    def _print_Diag(self, expr: Diag) -> str:
        return r"\operatorname{diag}\left(" + self._print(expr.arg) + r"\right)"

    def _print_KroneckerDelta(self, expr: KroneckerDelta, exp: str | None = None) -> str:
        """[j = k], as the Iverson bracket the course writes for an indicator (\\delta is the delta's letter)."""
        first, second = (_index(arg) for arg in expr.args)
        printed = r"\left[" + self._print(first) + " = " + self._print(second) + r"\right]"
        return printed if exp is None else printed + "^{" + exp + "}"

    def _print_Identity(self, expr: Identity) -> str:
        return r"I_{" + self._print(expr.shape[0]) + "}"

    def _print_Partial(self, expr: Partial) -> str:
        top = self.spelling.loss_latex() if expr.numerator == LOSS else self._print(expr.numerator)
        return r"\frac{\partial " + top + r"}{\partial " + self._print(expr.denominator) + "}"

    def _print_ChainProduct(self, expr: ChainProduct) -> str:
        return r" \cdot ".join(self._wrap(f, (ChainSum,)) for f in expr.args)

    def _print_ChainSum(self, expr: ChainSum) -> str:
        return " + ".join(self._print(term) for term in expr.args)

    def _print_Grouped(self, expr: Grouped) -> str:
        return r"\underbrace{" + self._print(expr.inner) + "}_{" + self.spelling.latex(expr.name) + "}"

    def _print_MatrixElement(self, expr: MatrixElement) -> str:
        indices = _element_indices(expr, self._settings["matrices"])
        base = self.spelling.element_latex(expr.parent.name)
        return base + ("_{" + ",".join(self._print(i) for i in indices) + "}" if indices else "")

    def _print_Sum(self, expr: Sum) -> str:
        out = ""
        for index, lower, upper in expr.limits:
            out += r"\sum_{" + self._print(index) + "=" + self._print(lower + 1) + "}^{" + self._print(upper + 1) + "} "
        return out + self._wrap(expr.function, (Add,))

    def _print_EntryFunction(self, expr: EntryFunction) -> str:
        arguments = ", ".join(self._print(a) for a in expr.args[3:])
        return self.spelling.function_latex(expr.label) + "'" * expr.order + r"\left(" + arguments + r"\right)"


class TextPrinter(_CourseNotation, _SympyStr):
    """Plain text in the same notation: juxtaposition for products, ^T, ⊙, f_1'(s_1)."""

    _default_settings: dict[str, Any] = {
        **_SympyStr._default_settings,
        "matrices": frozenset(),
        "hadamard": " ⊙ ",
        "oslash": " ⊘ ",
        "minus": "-",
        "spelling": None,
    }
    loose_powers = (HadamardPower,)

    def _bracket(self, printed: str) -> str:
        return "(" + printed + ")"

    def _print_MatrixSymbol(self, expr: MatrixSymbol) -> str:
        return self.spelling.text(expr.name)

    def _iverson(self, printed: str) -> str:
        return "[" + printed + "]"

    def _print_Symbol(self, expr: Symbol) -> str:
        if expr in self._inline:
            return self._inline[expr]
        return self.spelling.loss_text() if expr == LOSS else super()._print_Symbol(expr)

    def _print_Dummy(self, expr: Symbol) -> str:
        return self._inline.get(expr) or super()._print_Dummy(expr)

    def _print_Transpose(self, expr: Transpose) -> str:
        base = self._wrap(expr.arg, (MatAdd, MatMul, HadamardProduct, *self.loose_powers, Transpose, Mul), PRODUCT)
        scripted = isinstance(expr.arg, MatrixSymbol) and "^" in base  # (s_rec^(2))^T, (W^(1))^T
        return ("(" + base + ")" if scripted else base) + "^T"

    def _print_MatMul(self, expr: MatMul) -> str:
        coeff, factors = _coeff_matrices(expr)  # s ⊙ s (text's square) binds as loosely as any ⊙
        parts = [self._wrap(f, (MatAdd, HadamardProduct, *self.loose_powers)) for f in factors]
        if coeff == -1:
            return "-" + " ".join(parts)
        if coeff != 1:
            parts.insert(0, self._print(coeff) if coeff.is_Integer or coeff.is_Symbol else f"({self._print(coeff)})")
        return " ".join(parts)

    def _print_HadamardProduct(self, expr: HadamardProduct) -> str:
        return self._settings["hadamard"].join(self._hadamard_factor(arg) for arg in expr.args)

    def _print_OneMatrix(self, expr: OneMatrix) -> str:
        rows, cols = expr.shape
        if rows == 1:
            return f"1_{cols}^T"
        if cols == 1:
            return f"1_{rows}"
        return f"1_{rows} 1_{cols}^T"

    def _print_Elementwise(self, expr: Elementwise) -> str:
        if not expr.label:
            return self._inline_formula(expr)
        label = self.spelling.function_text(expr.label)
        return label + "'" * expr.order + "(" + ", ".join(self._print(m) for m in expr.mats) + ")"

    def _print_Softmax(self, expr: Softmax) -> str:
        return f"softmax({self._print(expr.arg)})"

    def _print_EntrySum(self, expr: EntrySum) -> str:
        return f"sum({self._print(expr.arg)})"

    def _print_Ones(self, expr: Ones) -> str:
        return "1"

    def _print_HadamardPower(self, expr: HadamardPower) -> str:
        base = self._wrap(expr.base, (MatAdd, MatMul, HadamardProduct), PRODUCT)
        if expr.exp == 2:
            return f"{base}{self._settings['hadamard']}{base}"
        return f"{base}^∘{self._print(expr.exp)}"

    def _print_Indicator(self, expr: Indicator) -> str:
        return f"[{self._print(expr.arg)} {'>' if expr.strict else '<='} 0]"

    def _print_Heaviside(self, expr: Heaviside) -> str:
        return f"[{self._print(expr.args[0])} > 0]"

    def _print_Abs(self, expr: Expr) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Max(self, expr: Expr) -> str:
        return "max(" + ", ".join(self._print(arg) for arg in expr.args) + ")"

    def _print_Min(self, expr: Expr) -> str:
        return "min(" + ", ".join(self._print(arg) for arg in expr.args) + ")"

    def _print_Diag(self, expr: Diag) -> str:
        return f"diag({self._print(expr.arg)})"

    def _print_KroneckerDelta(self, expr: KroneckerDelta) -> str:
        first, second = (_index(arg) for arg in expr.args)
        return f"[{self._print(first)} = {self._print(second)}]"

    def _print_Identity(self, expr: Identity) -> str:
        return f"I_{self._print(expr.shape[0])}"

    def _print_Partial(self, expr: Partial) -> str:
        return f"d{self._print(expr.numerator)}/d{self._print(expr.denominator)}"

    def _print_ChainProduct(self, expr: ChainProduct) -> str:
        return " · ".join(self._wrap(f, (ChainSum,)) for f in expr.args)

    def _print_ChainSum(self, expr: ChainSum) -> str:
        return " + ".join(self._print(term) for term in expr.args)

    def _print_Grouped(self, expr: Grouped) -> str:
        return f"[{self._print(expr.inner)}]_{self.spelling.text(expr.name)}"

    def _print_MatrixElement(self, expr: MatrixElement) -> str:
        indices = _element_indices(expr, self._settings["matrices"])
        base = self.spelling.element_text(expr.parent.name)
        return base + ("[" + ",".join(self._print(i) for i in indices) + "]" if indices else "")

    def _print_Sum(self, expr: Sum) -> str:
        out = ""
        for index, lower, upper in expr.limits:
            out += f"sum_{{{self._print(index)}={self._print(lower + 1)}}}^{{{self._print(upper + 1)}}}"
        return f"{out}({self._print(expr.function)})"

    def _print_EntryFunction(self, expr: EntryFunction) -> str:
        label = self.spelling.function_text(expr.label)
        return label + "'" * expr.order + "(" + ", ".join(self._print(a) for a in expr.args[3:]) + ")"


#: Python frames a printer may stack: a fully substituted delta nests about ten frames per
#: layer, and specs allow 100 layers.
RECURSION_LIMIT = 20_000


@contextmanager
def _deep_recursion() -> Iterator[None]:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def to_latex(
    expr: Expr, spelling: Spelling | None = None, transpose: str = r"\top", matrices: frozenset[str] = frozenset()
) -> str:
    """`expr` in LaTeX, its symbols spelt by `spelling` (a network's notation.Names; None: the engine's names);
    an entry of one of `matrices` keeps both indices (W^{3}_{1,2} of a one-row W^{3})."""
    with _deep_recursion():
        return LatexPrinter({"spelling": spelling, "transpose": transpose, "matrices": matrices}).doprint(expr)


def to_text(expr: Expr, spelling: Spelling | None = None, matrices: frozenset[str] = frozenset()) -> str:
    """`expr` in plain text, its symbols spelt by `spelling`; entries of `matrices` keep both indices."""
    with _deep_recursion():
        return TextPrinter({"spelling": spelling, "matrices": matrices}).doprint(expr)
