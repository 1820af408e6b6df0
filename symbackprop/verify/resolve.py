"""Give a parsed answer its meaning in one network: SymPy objects built node by node.

Names resolve against the network's symbols only (an unknown one is an error listing the
known ones); numbers become exact Rationals; nothing is evaluated, sympified or imported.
Three kinds of answer come out: a matrix expression (matrix notation), a scalar expression
of matrix entries with indices and sums (index notation), or a chain of partials. Shapes are
checked at every operation; a mismatch is feedback ("z_1 delta_1 is 3xN times 3xN; did you
mean a transpose ...?"), not a crash.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import replace

from sympy import Expr, Heaviside, Integer, KroneckerDelta, Lambda, Rational, Sum, Symbol
from sympy.core.symbol import Str
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    Identity,
    MatAdd,
    MatMul,
    MatrixSymbol,
    OneMatrix,
    Transpose,
)
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop.forms.index import EntryFunction
from symbackprop.matexpr import Diag, Elementwise, EntrySum, Indicator, Ones, Softmax
from symbackprop.notation import NotationError
from symbackprop.spec.model import Activation
from symbackprop.verify import chain as chains
from symbackprop.verify import sizes
from symbackprop.verify.chain import Chain, ChainProblem
from symbackprop.verify.lexer import AnswerSyntaxError
from symbackprop.verify.limits import MAX_EXPONENT, Deadline
from symbackprop.verify.names import (
    ACTIVATION_NAMES,
    BINARY_FUNCTIONS,
    MATH_FUNCTIONS,
    LayerInfo,
    Vocabulary,
    activation_lambda,
    binary_lambda,
    math_lambda,
    relation_lambda,
)
from symbackprop.verify.parser import (
    BinOp,
    Bracket,
    Call,
    Diff,
    Group,
    MatrixLit,
    Name,
    Neg,
    Node,
    Num,
    Relation,
    Script,
    Scripted,
    SumOver,
)
from symbackprop.verify.values import (
    Diagonal,
    Explicit,
    Func,
    Mat,
    PartialRef,
    Scalar,
    ShapeProblem,
    Value,
    flat,
    index_symbol,
    matmul,
    shape_text,
)

#: Most repairs tried for one size mismatch under ⊙.
MAX_FIXES = 12
#: The largest index a Kronecker bracket may name ([j = 3]).
MAX_INDEX = 100_000


def _square_problem(expr: Expr) -> bool:
    """A matrix whose power is ambiguous: every dimension a fixed size larger than 1 (a weight matrix, W^T W, a
    per-sample Jacobian). A vector or a value with a sample axis (z_1, delta_2, y - t) has no such reading: its
    power is entry by entry (1 - z^2, (y - t)^2), as courses write it."""
    return all(dim.is_Integer and dim > 1 for dim in expr.shape)


def _step(left: Expr, op: str, right: Expr) -> Expr:
    """[left op right] for entries, through Heaviside (0 at 0), which a sum around it leaves alone (a Piecewise
    it would fold over the sum, its condition taken out of the sum over the index in it)."""
    if op in (">", "<="):
        step = Heaviside(left - right, 0)
        return step if op == ">" else 1 - step
    step = Heaviside(right - left, 0)
    return step if op == "<" else 1 - step


def _matrix_names(node: Node) -> list[Node]:
    """The names (with their scripts) inside an operand that may stand for matrices, not looking into
    scripts or a function's name."""
    found: list[Node] = []
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (Scripted, Name)):
            found.append(item)
        elif isinstance(item, Call):
            stack.extend(item.args)
        elif isinstance(item, Node) and not isinstance(item, Script):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item) if f.name not in ("start", "end"))
        elif isinstance(item, tuple):
            stack.extend(item)
    return sorted(found, key=lambda n: n.start)


class Resolver:
    """Turns one answer's syntax tree into Values; raises AnswerSyntaxError for what cannot be
    read and ShapeProblem or ChainProblem for readable mistakes."""

    def __init__(
        self,
        vocab: Vocabulary,
        source: str,
        deadline: Deadline,
        overrides: dict[tuple[int, int], Value] | None = None,
        jacobian: bool = False,
    ) -> None:
        self.vocab = vocab
        #: reading a per-sample Jacobian (in a vocabulary of one sample): diag(v) is the diagonal matrix of v's
        #: entries, a matrix like any other (diag(p) - p p^T), not the v ⊙ .. it stands for among whole matrices
        self.jacobian = jacobian
        self.source = source
        self.deadline = deadline
        #: values given for the parts at these (start, end) spans (a repair the grader tries)
        self.overrides = overrides or {}
        #: each index letter's range and where it was first given it
        self.ranges: dict[Symbol, tuple[int, str]] = {}
        self.bound: set[Symbol] = set()
        #: sentences worth adding if the answer turns out wrong (tanh' applied to a relu layer's s)
        self.notes: list[str] = []

    # --- helpers -----------------------------------------------------------------------

    def text(self, node: Node) -> str:
        return " ".join(self.source[node.start : node.end].split())

    def error(self, message: str, node: Node) -> AnswerSyntaxError:
        return AnswerSyntaxError(f"{message} (at position {node.start + 1})", node.start)

    def free_indices(self, expr: Expr) -> set[Symbol]:
        return {s for s in expr.free_symbols if s in self.ranges}

    # --- dispatch ----------------------------------------------------------------------

    def value(self, node: Node) -> Value:
        self.deadline.check()
        if (node.start, node.end) in self.overrides:
            return self.overrides[(node.start, node.end)]
        result = self.dispatch(node)
        if isinstance(result, Scalar) and result.expr.is_number:  # 0^{-1}, \log 0, \sqrt{-1}, 10^{400}
            problem = sizes.number_problem(result.expr)
            if problem:
                raise self.error(f"{self.text(node)} {problem}", node)
        return result

    def dispatch(self, node: Node) -> Value:
        if isinstance(node, Num):
            return Scalar(Rational(node.text), node.text)
        if isinstance(node, (Name, Scripted)):
            return self.named(node)
        if isinstance(node, Bracket):
            return self.value(node.inner)
        if isinstance(node, Neg):
            return self.negate(self.value(node.operand), node)
        if isinstance(node, BinOp):
            return self.binary(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Relation):
            return self.relation(node)
        if isinstance(node, SumOver):
            return self.sum_over(node)
        if isinstance(node, Group):
            return self.group(node)
        if isinstance(node, MatrixLit):
            return self.explicit(node)
        if isinstance(node, Diff):
            return self.gradient_of(node)
        raise self.error("cannot read this part of the answer", node)

    # --- names -------------------------------------------------------------------------

    def named(self, node: Name | Scripted) -> Value:
        """A name with its sub- and superscripts: a symbol, an entry of one, a function, N or e^(..)."""
        if isinstance(node, Scripted) and not isinstance(node.base, Name):
            return self.scripted_value(node)
        name = node if isinstance(node, Name) else node.base
        assert isinstance(name, Name)  # another base returned above
        sub = node.sub if isinstance(node, Scripted) else None
        sup = node.sup if isinstance(node, Scripted) else None
        primes = node.primes if isinstance(node, Scripted) else 0
        listed = node.index if isinstance(node, Scripted) else None
        base = name.text
        if name.font == "mathcal" and base == "L" or (base in self.vocab.names.loss_names() and not sub and not sup):
            raise self.error(f"{self.text(node)} is the loss, a number: it belongs in a derivative dL/d..", node)
        found = self.lookup(base, sub, sup, node)
        if found is None:
            return self.unnamed(node, name, sub, sup, primes)
        symbol_name, indices, used_sup = found
        symbol = self.vocab.symbols[symbol_name]
        value: Value = Mat(symbol, self.text(node))
        if listed is not None or indices is not None:
            parts = list(listed) if listed is not None else list(indices or ())
            value = self.element(symbol, parts, node)
        if sup is not None and not used_sup:
            value = self.superscript(value, sup, node)
        for _ in range(primes):
            value = self.transpose(value, node)
        return value

    def lookup(
        self, base: str, sub: Script | None, sup: Script | None, node: Node
    ) -> tuple[str, tuple[str, ...] | None, bool] | None:
        """(symbol name, indices left over from the scripts, whether the superscript was part of the name)
        of the symbol the spec's notation (or the default spelling) gives these letters; None if none."""
        label = sup.label if sup is not None and not sup.transpose and not sup.hadamard else None
        if sub is not None and sub.label in self.vocab.odd_layers:  # h{1}: read whole
            symbol = self.vocab.canonical(f"{base}_{sub.label}")
            if symbol is not None:
                return symbol, None, False
        if label is not None and label[1:-1] in self.vocab.odd_layers:  # ^{(h{1})}_{j,n}
            symbol = self.vocab.canonical(f"{base}_{label[1:-1]}")
            written = sub.label if sub is not None else None
            if symbol is not None:
                indices = None if not written else tuple(written.split(",")) if "," in written else tuple(written)
                return symbol, indices, True
        try:
            found = self.vocab.names.lookup(base, sub.label if sub else None, label)
        except NotationError as error:
            raise self.error(str(error), node) from None
        if found is None:
            return None
        quantity, used_sup = found
        symbol = self.vocab.canonical(quantity.symbol)
        if symbol is None:
            return None
        return symbol, quantity.entry or None, used_sup

    def known(self, name: str) -> bool:
        return self.vocab.canonical(name) is not None

    def unnamed(self, node: Node, name: Name, sub: Script | None, sup: Script | None, primes: int) -> Value:
        """What a name that is no symbol may be: a function, N, e^(..), or letters run together (Wx)."""
        base = name.text
        function = self.function(base, sub.label if sub else None, primes, node)
        if function is not None:
            if sup is not None:
                raise self.error(f"a superscript on the function {self.text(node)}", node)
            return function
        if base == "I" and not primes and sup is None:  # I_3: the identity matrix (of an identity layer's Jacobian)
            size = sub.label if sub is not None else None
            if size is None or not size.isdigit():
                raise self.error(f"{self.text(node)}: the identity matrix is written with its size, as in I_3", node)
            sizes = sorted({int(d) for symbol in self.vocab.symbols.values() for d in symbol.shape if d.is_Integer})
            if int(size) not in sizes:  # no I_99999: no size the network does not have is ever allocated
                raise self.error(
                    f"{self.text(node)}: this network has no size {size} (its sizes are {', '.join(map(str, sizes))})",
                    node,
                )
            return Mat(Identity(int(size)), self.text(node))
        if base == "N" and not sub and not primes:
            value: Value = Scalar(self.vocab.batch, "N")
            return self.superscript(value, sup, node) if sup is not None else value
        if base == "e" and sup is not None and sup.expr is not None and not sub and not primes:
            return self.apply_math("exp", 0, [self.value(sup.expr)], node)
        if not sub and not sup and not primes and len(base) > 1 and all(self.known(c) for c in base):
            value = Mat(self.vocab.symbol(base[0]), base[0])
            for letter in base[1:]:
                value = self.multiply(value, Mat(self.vocab.symbol(letter), letter), node)
            return value
        written = self.text(node)
        hint = self.suggestion(base, sub, sup)
        raise AnswerSyntaxError(
            f"unknown name '{written}' at position {node.start + 1}{hint}; this network knows {self.vocab.known()}",
            node.start,
        )

    def spell(self, name: str) -> str:
        """A symbol's engine name as the spec's notation writes it (the loss too), for messages."""
        return self.vocab.names.loss_text() if name == chains.LOSS else self.vocab.names.text(name)

    def suggestion(self, base: str, sub: Script | None, sup: Script | None) -> str:
        """A symbol the unknown name may mean: the same but for case (w_{11}^{(1)} for W_1), or a close spelling."""
        labels = [label.strip("()") for label in (sub.label if sub else None, sup.label if sup else None) if label]
        spellings = [f"{base}_{label}" for label in labels] + [base]
        for spelled in spellings:
            same = [name for name in self.vocab.symbols if name.lower() == spelled.lower()]
            if same:
                return f" (did you mean {self.vocab.names.text(same[0])}?)"
        close = difflib.get_close_matches(spellings[0], list(self.vocab.symbols), n=1, cutoff=0.6)
        return f" (did you mean {self.vocab.names.text(close[0])}?)" if close else ""

    def function(self, base: str, sub: str | None, primes: int, node: Node) -> Func | None:
        """f, f_1, the notation's letter (sigma, sigma_1), a `{function: f_3}` label, an activation's own name
        (relu, tanh, sigma for sigmoid unless the notation gives sigma another meaning) or exp, log, ...."""
        text = self.text(node)
        if sub is not None and sub in self.vocab.odd_layers and base == "f":  # f_h{1}
            return Func(text, self.vocab.layers[sub].label, primes, layer=self.vocab.layers[sub])
        try:
            found = self.vocab.names.function(base, sub)
        except NotationError as error:
            raise self.error(str(error), node) from None
        if found is not None:
            kind, layer = found
            if kind == "bare":
                return Func(text, "f", primes, bare=True)
            assert layer is not None  # ("layer", its name)
            info = self.vocab.layers[layer]
            return Func(text, info.label, primes, layer=info)
        if sub is None and base in ACTIVATION_NAMES:
            kind = ACTIVATION_NAMES[base]
            return Func(text, {"sigmoid": "sigma"}.get(kind, kind), primes, activation=Activation(kind))
        if sub is None and (base in MATH_FUNCTIONS or base in BINARY_FUNCTIONS or base in ("diag", "sum")):
            return Func(text, base, primes, math=base)
        return None

    def element(self, symbol: MatrixSymbol, parts: list[str], node: Node) -> Scalar:
        """symbol[parts]: indices count from 1; a dimension of size 1 may go without an index."""
        rows, cols = symbol.shape
        dims = [d for d in (0, 1) if symbol.shape[d] != 1]
        if len(parts) == 2:
            targets = [0, 1]
        elif len(parts) == len(dims):
            targets = dims
        elif len(parts) == 1 and not dims:
            targets = [0]
        else:
            raise self.error(
                f"{self.text(node)}: {self.vocab.names.text(symbol.name)} is {shape_text(symbol.shape)}, "
                f"so it takes "
                f"{max(len(dims), 1)} index(es), not {len(parts)}",
                node,
            )
        position = [Integer(0), Integer(0)]
        for part, dim in zip(parts, targets, strict=True):
            size = symbol.shape[dim]
            where = f"{'rows' if dim == 0 else 'columns'} of {self.vocab.names.text(symbol.name)}"
            count = int(size) if isinstance(size, Integer) else self.vocab.n_samples  # N: the test points' samples
            if part.isdigit():
                if not 1 <= int(part) <= count:
                    raise ShapeProblem(
                        f"{self.text(node)}: index {part} is out of range "
                        f"({self.vocab.names.text(symbol.name)} has "
                        f"{size} {'rows' if dim == 0 else 'columns'})"
                    )
                position[dim] = Integer(int(part) - 1)
            elif part.isalpha() and len(part) == 1:
                index = index_symbol(part)
                self.give_range(index, count, where, node)
                position[dim] = index
            else:
                raise self.error(f"{self.text(node)}: {part!r} is not an index (a letter or a number from 1)", node)
        return Scalar(MatrixElement(symbol, position[0], position[1]), self.text(node))

    def give_range(self, index: Symbol, size: int, where: str, node: Node) -> None:
        known = self.ranges.get(index)
        if known is None:
            self.ranges[index] = (size, where)
        elif known[0] != size:
            raise ShapeProblem(
                f"{self.text(node)}: the index {index} runs over the {known[1]} ({known[0]}) and "
                f"over the {where} ({size})"
            )

    def scripted_value(self, node: Scripted) -> Value:
        if isinstance(node.base, Call) and len(node.base.args) == 1 and node.sub is None and node.index is None:
            func = self.value(node.base.func)
            if not isinstance(func, Func):  # `delta (z_1 + z_2)^T`: the script is on the bracket, not the product
                inner = Scripted(node.base.args[0].start, node.end, node.base.args[0], None, node.sup, node.primes)
                return self.multiply(func, self.scripted_value(inner), node)
        if node.sub is not None or node.index is not None:
            if isinstance(node.base, Num) and node.base.text == "1" and node.sub is not None and node.index is None:
                value: Value = self.ones(node.sub, node)
            else:
                raise self.error(f"a subscript on {self.text(node.base)}", node)
        else:
            value = self.value(node.base)
        if node.sup is not None:
            value = self.superscript(value, node.sup, node)
        for _ in range(node.primes):
            value = self.transpose(value, node)
        return value

    def ones(self, sub: Script, node: Node) -> Mat:
        """1_N, 1_3: a column of ones."""
        if sub.label == "N":
            return Mat(OneMatrix(self.vocab.batch, 1), self.text(node))
        if sub.label and sub.label.isdigit() and 0 < int(sub.label) <= 10_000:
            return Mat(OneMatrix(int(sub.label), 1), self.text(node))
        raise self.error(f"{self.text(node)}: a vector of ones is 1_N or 1_<size>", node)

    # --- operations --------------------------------------------------------------------

    def superscript(self, value: Value, sup: Script, node: Node) -> Value:
        if sup.transpose:
            return self.transpose(value, node)
        if sup.expr is None:
            raise self.error(f"cannot read the superscript of {self.text(node)}", node)
        exponent = self.exponent(sup.expr)
        if isinstance(value, (Mat, Scalar)):  # before SymPy raises a number exactly: 9^{64} to the 64th ...
            problem = sizes.power_problem(value.expr, exponent)
            if problem:
                raise self.error(f"{self.text(node)} {problem}", node)
        if isinstance(value, Mat) and not sup.hadamard and _square_problem(value.expr):
            raise self.error(self.matrix_power(value, exponent, node), node)
        if sup.hadamard or isinstance(value, Mat):
            if not isinstance(value, Mat):
                raise self.error(f"{self.text(node)}: \\circ powers apply to matrices", node)
            return Mat(HadamardPower(value.expr, exponent), self.text(node))
        if isinstance(value, Scalar):
            return Scalar(value.expr**exponent, self.text(node))
        raise self.error(f"{self.text(node)} cannot be raised to a power", node)

    def matrix_power(self, value: Mat, exponent: Rational, node: Node) -> str:
        """Why W^2 of a matrix (every dimension fixed and larger than 1) is not read: in matrix algebra it is W W,
        to a course's formula sheet often the entrywise square; the answer says which."""
        base = self.text(node)
        base = base[: base.rindex("^")].rstrip() if "^" in base else value.text
        rows, cols = value.expr.shape
        entrywise = f"{base} ⊙ {base}" if exponent == 2 else f"{base}^{{\\circ {exponent}}}"
        product = f", or {base} {base} for the matrix product" if exponent == 2 and rows == cols else ""
        return (
            f"{self.text(node)}: {base} is a {rows}x{cols} matrix, and a power of a matrix is ambiguous (the "
            f"matrix product or entry by entry): write {entrywise} for the power entry by entry{product}"
        )

    def exponent(self, node: Node) -> Rational:
        """A plain number of bounded size: no towers (9^{9^9}), no symbols."""
        inner = node.operand if isinstance(node, Neg) else node
        if (
            isinstance(inner, BinOp)
            and inner.op == "/"
            and isinstance(inner.left, Num)
            and isinstance(inner.right, Num)
            and Rational(inner.right.text) != 0
        ):
            magnitude = Rational(inner.left.text) / Rational(inner.right.text)
        elif isinstance(inner, Num):
            magnitude = Rational(inner.text)
        else:
            raise self.error("an exponent must be a plain number", node)
        if abs(magnitude) > MAX_EXPONENT:
            raise self.error(f"the exponent {self.text(node)} is larger than {MAX_EXPONENT} in size", node)
        return -magnitude if isinstance(node, Neg) else magnitude

    def transpose(self, value: Value, node: Node) -> Value:
        if isinstance(value, Mat):
            expr = value.expr
            return Mat(expr.arg if isinstance(expr, Transpose) else Transpose(expr), self.text(node))
        if isinstance(value, Scalar):
            return value
        raise self.error(f"{self.text(node)} cannot be transposed", node)

    def negate(self, value: Value, node: Node) -> Value:
        value = self.as_value(value, node)
        if isinstance(value, Mat):
            return Mat(MatMul(Integer(-1), value.expr), self.text(node))
        if isinstance(value, Scalar):
            return Scalar(-value.expr, self.text(node))
        raise self.error(f"{self.text(node)} cannot be negated", node)

    def binary(self, node: BinOp) -> Value:
        if node.op == "/":
            ref = self.derivative(node)
            if ref is not None:
                return ref
        left, right = self.value(node.left), self.value(node.right)
        if node.op in ("+", "-"):
            return self.add(left, right, node.op, node)
        if node.op == "⊙":
            return self.hadamard(left, right, node)
        if node.op == "⊘":
            return self.entrywise_divide(left, right, node)
        if node.op == "/":
            return self.divide(left, right, node)
        return self.multiply(left, right, node)

    def chainish(self, value: Value) -> bool:
        return isinstance(value, Chain) or (isinstance(value, PartialRef) and value.top != chains.LOSS)

    def as_chain(self, value: Value, node: Node) -> Chain:
        if isinstance(value, Chain):
            return value
        if isinstance(value, PartialRef):
            return chains.partial(self.vocab, value.top, value.bottom, value.text)
        if isinstance(value, Mat) and isinstance(value.expr, MatrixSymbol) and value.expr.name in self.vocab.delta_of:
            return chains.partial(self.vocab, chains.LOSS, self.vocab.delta_of[value.expr.name], value.text)
        raise self.error(
            f"{self.text(node)} mixes partial derivatives with evaluated factors: write the whole "
            "answer as partials, or evaluate every partial",
            node,
        )

    def as_value(self, value: Value, node: Node) -> Value:
        """dL/ds_k is delta_k, dL/dW is W's gradient and dL/dz_k the gradient by that value (its matrix form,
        written through the deltas), as values; other partials stay notation."""
        if isinstance(value, PartialRef) and value.top == chains.LOSS and value.entry is None:
            if value.bottom in self.vocab.parameters:
                return Mat(self.gradient_symbol(value.bottom), value.text)
            if value.bottom == self.vocab.output:
                return Mat(self.vocab.loss_gradient, value.text)
            delta = next((d for d, s in self.vocab.delta_of.items() if s == value.bottom), None)
            if delta is not None:
                return Mat(self.vocab.symbols[delta], value.text)
            gradient = self.vocab.adjoint(value.bottom)  # dL/dz_2: the gradient by a value, as a formula
            if gradient is not None:
                return Mat(gradient, value.text)
        if isinstance(value, (PartialRef, Chain)):
            raise self.error(
                f"{self.text(node)} mixes partial derivatives with evaluated factors: write the whole "
                "answer as partials, or evaluate every partial",
                node,
            )
        if isinstance(value, Func):
            raise self.error(f"the function {value.text} needs an argument: {value.text}(..)", node)
        if isinstance(value, Diagonal):
            raise self.error(f"{value.text} multiplies a matrix: diag(v) w is v ⊙ w", node)
        return value

    def gradient_symbol(self, parameter: str) -> MatrixSymbol:
        return MatrixSymbol(f"dL/d{parameter}", *self.vocab.symbols[parameter].shape)

    def add(self, left: Value, right: Value, op: str, node: BinOp) -> Value:
        if self.chainish(left) or self.chainish(right):
            if op == "-":
                raise ChainProblem(f"{self.text(node)}: paths of a chain add up; they are never subtracted")
            return chains.total(self.as_chain(left, node.left), self.as_chain(right, node.right), self.spell)
        left, right = self.as_value(left, node.left), self.as_value(right, node.right)
        if isinstance(left, Scalar) != isinstance(right, Scalar):
            left, right = self.mixed(left), self.mixed(right)
            if isinstance(left, Scalar) and isinstance(right, Mat):
                left = self.broadcast(left, right, node)
            if isinstance(right, Scalar) and isinstance(left, Mat):
                right = self.broadcast(right, left, node)
        if isinstance(left, Mat) and isinstance(right, Mat):
            if left.expr.shape != right.expr.shape:
                raise ShapeProblem(
                    f"{self.text(node)}: {left.text} is {shape_text(left.expr.shape)} but "
                    f"{right.text} is {shape_text(right.expr.shape)}; only matrices of one size add"
                )
            term = right.expr if op == "+" else MatMul(Integer(-1), right.expr)
            return Mat(flat(MatAdd, left.expr, term), self.text(node))
        if isinstance(left, Scalar) and isinstance(right, Scalar):
            return Scalar(left.expr + right.expr if op == "+" else left.expr - right.expr, self.text(node))
        raise self.error(f"{self.text(node)} cannot be added up", node)

    def mixed(self, value: Value) -> Value:
        """In a sum with an entry written with indices, a 1x1 matrix is read as its entry."""
        return self.entry(value) if self.ranges and isinstance(value, Mat) else value

    def entry(self, value: Value) -> Value:
        """A 1x1 matrix read as its one entry (index notation mixes them freely)."""
        if isinstance(value, Mat) and value.expr.shape == (1, 1):
            return Scalar(
                MatrixElement(value.expr, Integer(0), Integer(0))
                if isinstance(value.expr, MatrixSymbol)
                else value.expr.as_explicit()[0, 0],
                value.text,
            )
        return value

    def broadcast(self, scalar: Scalar, like: Mat, node: Node) -> Mat:
        """c + M means c times the all-ones matrix plus M (1 - z ⊙ z)."""
        if self.free_indices(scalar.expr) or scalar.expr.has(MatrixElement):
            raise self.error(
                f"{self.text(node)} mixes index notation with whole matrices ({like.text} needs indices)", node
            )
        return Mat(MatMul(scalar.expr, Ones(*like.expr.shape)), scalar.text)

    def multiply(self, left: Value, right: Value, node: Node) -> Value:
        if (
            self.chainish(left)
            or self.chainish(right)
            or (isinstance(left, PartialRef) and isinstance(right, PartialRef))
        ):
            return chains.product(self.as_chain(left, node), self.as_chain(right, node), self.spell)
        if isinstance(left, Diagonal) or isinstance(right, Diagonal):
            return self.diagonal_product(left, right, node)
        left, right = self.as_value(left, node), self.as_value(right, node)
        text = self.text(node)
        if isinstance(left, Scalar) and isinstance(right, Scalar):
            return Scalar(left.expr * right.expr, text)
        if isinstance(left, Scalar) or isinstance(right, Scalar):
            scalar, mat = (left, right) if isinstance(left, Scalar) else (right, left)
            assert isinstance(scalar, Scalar)  # one of the two is
            if not isinstance(mat, Mat):
                raise self.error(f"{text} cannot be multiplied", node)
            if self.free_indices(scalar.expr) or scalar.expr.has(MatrixElement):
                if mat.expr.shape == (1, 1):
                    one = self.entry(mat)
                    assert isinstance(one, Scalar)  # a 1x1 matrix's entry
                    return Scalar(scalar.expr * one.expr, text)
                raise self.error(f"{text} mixes index notation with whole matrices ({mat.text} needs indices)", node)
            return Mat(MatMul(scalar.expr, mat.expr), text)
        if not (isinstance(left, Mat) and isinstance(right, Mat)):
            raise self.error(f"{text} cannot be multiplied", node)
        a, b = left.expr.shape, right.expr.shape
        if a[1] == b[0]:
            return Mat(matmul(left.expr, right.expr), text)
        if a == (1, 1) or b == (1, 1):
            single, other = (left, right) if a == (1, 1) else (right, left)
            rows, cols = other.expr.shape
            spread = (
                MatMul(OneMatrix(rows, 1), single.expr, OneMatrix(1, cols)) if (rows, cols) != (1, 1) else single.expr
            )
            return Mat(HadamardProduct(spread, other.expr), text)
        if a == b and 1 in a and self.vocab.batch in a and self.vocab.batch != 1:
            return Mat(HadamardProduct(left.expr, right.expr), text)  # per-sample scalars side by side
        raise ShapeProblem(
            self.product_problem(left, right, text), self.product_fixes(left, right, text), (node.start, node.end)
        )

    def diagonal_product(self, left: Value, right: Value, node: Node) -> Value:
        """diag(v) w = v ⊙ w (w diag(v) with samples in rows): the diagonal matrix of each sample's entries."""
        diagonal, other = (left, right) if isinstance(left, Diagonal) else (right, left)
        assert isinstance(diagonal, Diagonal)  # the caller's condition: one of the two is
        if isinstance(other, Diagonal) or not isinstance(other := self.as_value(other, node), Mat):
            raise self.error(f"{self.text(node)}: diag(v) multiplies a matrix of v's size", node)
        if isinstance(left, Diagonal) and diagonal.then is not None:  # diag(v) A B: A B first
            if diagonal.then.shape[1] != other.expr.shape[0]:
                raise ShapeProblem(self.product_problem(Mat(diagonal.then, diagonal.text), other, self.text(node)))
            product = matmul(diagonal.then, other.expr)
        else:
            product = other.expr
        if product.shape == diagonal.expr.shape:
            return Mat(flat(HadamardProduct, diagonal.expr, product), self.text(node))
        if isinstance(left, Diagonal) and product.shape[0] == diagonal.expr.shape[0]:
            return Diagonal(diagonal.expr, self.text(node), product)  # wait for the rest of the product
        raise ShapeProblem(
            f"{self.text(node)}: diag of a {shape_text(diagonal.expr.shape)} matrix times "
            f"{other.text}, which is {shape_text(other.expr.shape)}; they must have one size"
        )

    @staticmethod
    def product_problem(left: Mat, right: Mat, text: str) -> str:
        a, b = left.expr.shape, right.expr.shape
        return f"{text} is {shape_text(a)} times {shape_text(b)}: the sizes do not fit"

    @staticmethod
    def product_fixes(left: Mat, right: Mat, text: str) -> tuple[Mat, ...]:
        """The products of the two factors, one transposed or in the other order, and ⊙, whose sizes fit."""

        def flipped(m: Mat) -> Expr:
            return m.expr.arg if isinstance(m.expr, Transpose) else Transpose(m.expr)

        fixes = []
        for first, second in ((flipped(left), right.expr), (left.expr, flipped(right)), (right.expr, left.expr)):
            if first.shape[1] == second.shape[0]:
                fixes.append(Mat(matmul(first, second), text))
        if left.expr.shape == right.expr.shape:
            fixes.append(Mat(HadamardProduct(left.expr, right.expr), text))
        return tuple(fixes)

    def hadamard(self, left: Value, right: Value, node: BinOp) -> Value:
        left, right = self.as_value(left, node), self.as_value(right, node)
        text = self.text(node)
        if isinstance(left, Scalar) or isinstance(right, Scalar):
            return self.multiply(left, right, node)
        if isinstance(left, Mat) and isinstance(right, Mat):
            if left.expr.shape != right.expr.shape:
                fixes = self.hadamard_fixes(node)
                raise ShapeProblem(
                    f"{text}: {left.text} is {shape_text(left.expr.shape)} and {right.text} is "
                    f"{shape_text(right.expr.shape)}; ⊙ needs two matrices of one size",
                    tuple(fix for fix, _ in fixes),
                    (node.start, node.end),
                    tuple(span for _, span in fixes),
                )
            return Mat(flat(HadamardProduct, left.expr, right.expr), text)
        raise self.error(f"{text} cannot be multiplied entry by entry", node)

    def hadamard_fixes(self, node: BinOp) -> list[tuple[Mat, tuple[int, int]]]:
        """Repairs of a ⊙ whose operands differ in size, as under products: one matrix inside an operand
        transposed ((W_3 delta_3) ⊙ f'(s) read with W_3^T), or a whole operand transposed; each with the span
        it replaces. The grader proposes one only when the answer so repaired is right."""
        fixes: list[tuple[Mat, tuple[int, int]]] = []
        fresh = Resolver(self.vocab, self.source, self.deadline)  # no notes or index ranges left behind
        for operand in (node.left, node.right):
            for part in [*_matrix_names(operand), operand]:
                try:
                    value = fresh.as_value(fresh.value(part), part)
                except (ShapeProblem, ChainProblem, AnswerSyntaxError, ValueError):
                    continue
                if isinstance(value, Mat) and value.expr.shape[0] != value.expr.shape[1]:
                    expr = value.expr
                    fixes.append(
                        (
                            Mat(expr.arg if isinstance(expr, Transpose) else Transpose(expr), value.text),
                            (part.start, part.end),
                        )
                    )
                if len(fixes) >= MAX_FIXES:
                    return fixes
        return fixes

    def entrywise_divide(self, left: Value, right: Value, node: Node) -> Value:
        """A ⊘ B: entry by entry, for matrices of one size (a number on either side spreads over the other)."""
        left, right = self.as_value(left, node), self.as_value(right, node)
        if isinstance(right, Scalar) or (isinstance(right, Mat) and self.ranges and right.expr.shape == (1, 1)):
            return self.divide(left, right, node)
        if not isinstance(right, Mat):
            raise self.error(f"{self.text(node)} cannot be divided", node)
        if isinstance(left, Scalar):
            left = self.broadcast(left, right, node)
        if not isinstance(left, Mat):
            raise self.error(f"{self.text(node)} cannot be divided", node)
        if left.expr.shape != right.expr.shape:
            raise ShapeProblem(
                f"{self.text(node)}: {left.text} is {shape_text(left.expr.shape)} and {right.text} is "
                f"{shape_text(right.expr.shape)}; entrywise division needs two matrices of one size"
            )
        return Mat(flat(HadamardProduct, left.expr, HadamardPower(right.expr, -1)), self.text(node))

    def divide(self, left: Value, right: Value, node: Node) -> Value:
        left, right = self.as_value(left, node), self.as_value(right, node)
        right = self.entry(right) if isinstance(right, Mat) and self.ranges else right
        if isinstance(right, Mat) and right.expr.shape != (1, 1):  # y / y_out of one size: entry by entry
            if isinstance(left, Scalar) and (self.free_indices(left.expr) or left.expr.has(MatrixElement)):
                raise self.error(f"{self.text(node)}: division by a matrix", node)
            return self.entrywise_divide(left, right, node)
        if not isinstance(right, Scalar):
            raise self.error(f"{self.text(node)}: division by a matrix", node)
        if right.expr == 0:
            raise self.error(f"{self.text(node)}: division by zero", node)
        if isinstance(left, Mat):
            return Mat(MatMul(1 / right.expr, left.expr), self.text(node))
        if isinstance(left, Scalar):
            return Scalar(left.expr / right.expr, self.text(node))
        raise self.error(f"{self.text(node)} cannot be divided", node)

    # --- derivatives -------------------------------------------------------------------

    def gradient_of(self, node: Diff) -> PartialRef:
        """\\partial W_1, \\Delta W_1 or \\nabla_{W_1} L standing alone: the gradient of the loss by W_1."""
        if node.mark == "nabla" and node.loss is not None and not self.is_loss(node.loss):
            raise self.error(f"{self.text(node)}: \\nabla_{{..}} is followed by the loss", node)
        ref = self.partial_by(chains.LOSS, node.operand, self.text(node))
        if ref is None:
            raise self.error(
                f"{self.text(node)}: write the derivative of the loss by a named value, as "
                "\\frac{\\partial L}{\\partial W_1}",
                node,
            )
        return ref

    def derivative(self, node: BinOp) -> PartialRef | None:
        """dA/dB, \\partial A / \\partial B or \\frac{\\partial A}{\\partial B}; None for a plain division."""
        top, bottom = self.differential(node.left), self.differential(node.right)
        if top is None or bottom is None:
            return None
        top_name = chains.LOSS if self.is_loss(top) else self.symbol_name(top)
        if top_name is None and isinstance(top, (Name, Scripted)):
            self.named(top)  # raises: unknown name
        return self.partial_by(top_name, bottom, self.text(node)) if top_name is not None else None

    def partial_by(self, top_name: str, bottom: Node, text: str) -> PartialRef | None:
        """d(top)/d(bottom), with the entry the bottom names (dL/dW_{ji}); None if the bottom names nothing."""
        bottom_name = self.symbol_name(bottom)
        if bottom_name is None and isinstance(bottom, (Name, Scripted)):
            self.named(bottom)  # raises: unknown name
        entry = None
        if isinstance(bottom, Scripted) and (
            bottom.index is not None or (bottom.sub is not None and bottom_name and self.vocab.canonical(bottom_name))
        ):
            found = self.lookup_node(bottom)
            if found is not None and found[1] is not None:
                entry = found[1]
            elif bottom.index is not None:
                entry = bottom.index
        return None if bottom_name is None else PartialRef(top_name, bottom_name, text, entry)

    def differential(self, node: Node) -> Node | None:
        """X in `\\partial X`, `dX`, `\\mathrm{d}X`; None if `node` is not a differential."""
        if isinstance(node, Diff) and node.mark == "partial":
            return node.operand
        if isinstance(node, BinOp) and node.op == "*" and isinstance(node.left, Name) and node.left.text == "d":
            return node.right
        if isinstance(node, Call):  # dL(\vec t; \vec y): the loss with its arguments
            inner = self.differential(node.func)
            return Call(node.start, node.end, inner, node.args) if inner is not None else None
        name = node.base if isinstance(node, Scripted) else node
        if isinstance(name, Name) and len(name.text) > 1 and name.text.startswith("d") and not name.command:
            stripped = Name(name.start + 1, name.end, name.text[1:])
            if isinstance(node, Scripted):
                return Scripted(node.start + 1, node.end, stripped, node.sub, node.sup, node.primes, node.index)
            return stripped
        return None

    def is_loss(self, node: Node) -> bool:
        """L, E, \\mathcal{L}, the notation's letter, also with arguments: l(\\theta), L(\\vec t; \\vec y)."""
        node = node.func if isinstance(node, Call) else node
        name = node.base if isinstance(node, Scripted) else node
        return isinstance(name, Name) and (
            name.text in self.vocab.names.loss_names() or (name.font == "mathcal" and name.text == "L")
        )

    def lookup_node(self, node: Node) -> tuple[str, tuple[str, ...] | None, bool] | None:
        if isinstance(node, Name):
            return self.lookup(node.text, None, None, node)
        if isinstance(node, Scripted) and isinstance(node.base, Name):
            return self.lookup(node.base.text, node.sub, node.sup, node)
        return None

    def symbol_name(self, node: Node) -> str | None:
        found = self.lookup_node(node)
        return found[0] if found is not None else None

    def group(self, node: Group) -> Chain:
        inner = self.as_chain(self.value(node.inner), node.inner)
        label = self.value(node.label)
        if not (
            isinstance(label, Mat) and isinstance(label.expr, MatrixSymbol) and label.expr.name in self.vocab.delta_of
        ):
            raise self.error(
                f"{self.text(node.label)}: a part of a chain is grouped under a delta (delta_1, ...)", node.label
            )
        delta = chains.partial(self.vocab, chains.LOSS, self.vocab.delta_of[label.expr.name], label.text)
        if (inner.top, inner.bottom) != (delta.top, delta.bottom) or inner.paths != delta.paths:
            spell = self.vocab.names.text
            raise ChainProblem(
                f"the part grouped under {spell(label.expr.name)} is d{spell(inner.top)}/"
                f"d{spell(inner.bottom)} along {sum(inner.paths.values())} path(s), not "
                f"{spell(label.expr.name)} = {self.vocab.names.gradient_text(delta.bottom)}"
            )
        return inner

    # --- functions ---------------------------------------------------------------------

    def call(self, node: Call) -> Value:
        powered = self.powered_call(node)
        if powered is not None:
            return powered
        func = self.value(node.func)
        args = [self.value(arg) for arg in node.args]
        if isinstance(func, Func) and func.math == "sum" and len(args) == 1:
            return self.entry_sum(args[0], node)
        if isinstance(func, Func) and func.math == "diag":
            if len(args) != 1 or not isinstance(arg := self.as_value(args[0], node), Mat):
                raise self.error(f"{self.text(node)}: diag takes one vector", node)
            if self.jacobian:
                return self.diag_matrix(arg, node)
            return Diagonal(arg.expr, self.text(node))
        if not isinstance(func, Func):
            if len(args) != 1:
                raise self.error(f"{self.text(node.func)} is not a function", node)
            return self.multiply(func, args[0], node)
        if func.math is not None:
            return self.apply_math(func.math, func.order, args, node)
        if len(args) != 1:
            raise self.error(f"{func.text} takes one argument", node)
        arg = self.as_value(args[0], node)
        layer = func.layer or (self.bare_layer(arg, node) if func.bare else None)
        activation = layer.activation if layer else func.activation
        assert activation is not None  # a Func is a layer's activation, a named one, or math (returned above)
        owner = self.layer_of(arg)
        if func.activation is not None and owner is not None and owner.activation.kind != activation.kind:
            what = f"the derivative of {activation.kind}" if func.order else activation.kind
            self.notes.append(
                f"{func.text} is {what}, but layer {owner.name}'s activation is "
                f"{owner.activation.kind}: write "
                f"{self.vocab.names.function_text(owner.label)}{chr(39) * func.order}"
            )
        label = layer.label if layer else func.label
        if func.order > 1:
            raise self.error(f"{func.text}: only f and f' are supported", node)
        if activation.kind == "softmax":
            if func.order or not isinstance(arg, Mat):
                raise self.error(f"{func.text}: softmax has no entrywise derivative; write its delta instead", node)
            axis = layer.axis if layer else 0 if self.vocab.bp.graph.spec.convention.samples == "columns" else 1
            return Mat(Softmax(arg.expr, axis), self.text(node))
        return self.apply(label, func.order, activation_lambda(activation, func.order), [arg], node)

    def diag_matrix(self, arg: Mat, node: Node) -> Mat:
        """diag(v) of one sample's values v (a column, or a row when samples are rows): a square matrix."""
        rows, cols = arg.expr.shape
        if rows != 1 and cols != 1:
            raise ShapeProblem(
                f"{self.text(node)}: diag takes one sample's values, a vector, but {arg.text} is "
                f"{shape_text(arg.expr.shape)}"
            )
        return Mat(Diag(arg.expr, 0 if cols == 1 else 1), self.text(node))

    def powered_call(self, node: Call) -> Value | None:
        """\\tanh^2(s), \\operatorname{sech}^2(s): the function applied, then the power; None if not that."""
        func = node.func
        if not (
            isinstance(func, Scripted)
            and func.sup is not None
            and not func.sup.transpose
            and not func.sup.hadamard
            and func.index is None
            and isinstance(func.base, Name)
        ):
            return None
        if self.lookup(func.base.text, func.sub, None, func) is not None:
            return None  # a symbol (sigma^2_{j,n} as a delta under delta: sigma), not a function
        try:
            if self.function(func.base.text, func.sub.label if func.sub else None, func.primes, func) is None:
                return None
        except AnswerSyntaxError:
            return None
        bare = func.base if func.sub is None and not func.primes else replace(func, sup=None)
        value = self.call(Call(node.start, node.end, bare, node.args))
        return self.superscript(value, func.sup, node)

    def layer_of(self, arg: Value) -> LayerInfo | None:
        """The layer whose s_k or z_k (or an entry of it) `arg` is, if any."""
        symbol = (
            arg.expr.parent
            if isinstance(arg, Scalar) and isinstance(arg.expr, MatrixElement)
            else arg.expr
            if isinstance(arg, Mat)
            else None
        )
        if isinstance(symbol, MatrixSymbol) and symbol.name in self.vocab.layer_of:
            return self.vocab.layers[self.vocab.layer_of[symbol.name]]
        return None

    def bare_layer(self, arg: Value, node: Node) -> LayerInfo:
        """Plain f: the activation of the layer whose value it is applied to, or the network's only one."""
        owner = self.layer_of(arg)
        if owner is not None:
            return owner
        kinds = {info.activation for info in self.vocab.layers.values()}
        if len(kinds) == 1:
            return next(iter(self.vocab.layers.values()))
        layers = ", ".join(f"f_{layer}" for layer in self.vocab.layers)
        raise self.error(f"{self.text(node)}: which layer's activation is f? write {layers}", node)

    def apply_math(self, name: str, order: int, args: list[Value], node: Node) -> Value:
        args = [self.as_value(arg, node) for arg in args]
        if name in BINARY_FUNCTIONS:
            if order or len(args) != 2:
                raise self.error(f"{name} takes two arguments", node)
            return self.apply("", 0, binary_lambda(name), args, node)
        if len(args) != 1:
            raise self.error(f"{name} takes one argument", node)
        function = math_lambda(name, order)
        if function is None:
            raise self.error(f"{self.text(node)}: no derivative of {name} here", node)
        return self.apply("", 0, function, args, node)

    def apply(self, label: str, order: int, function: Lambda, args: list[Value], node: Node) -> Value:
        """f applied entry by entry: to matrices (Elementwise) or to entries (index notation)."""
        text = self.text(node)
        mats = [arg for arg in args if isinstance(arg, Mat)]
        if mats and (
            len(mats) == len(args)
            or all(
                not self.free_indices(a.expr) and not a.expr.has(MatrixElement) for a in args if isinstance(a, Scalar)
            )
        ):
            shape = mats[0].expr.shape
            if any(m.expr.shape != shape for m in mats):
                raise ShapeProblem(f"{text}: the arguments have different sizes")
            fixed = {v: arg.expr for v, arg in zip(function.variables, args, strict=True) if isinstance(arg, Scalar)}
            inner = Lambda(tuple(v for v in function.variables if v not in fixed), function.expr.xreplace(fixed))
            return Mat(Elementwise(label, order, inner, *(m.expr for m in mats)), text)
        entries = [self.entry(arg) for arg in args]
        if not all(isinstance(e, Scalar) for e in entries):
            raise self.error(f"{text} mixes index notation with whole matrices", node)
        values = [e.expr for e in entries if isinstance(e, Scalar)]  # all of them (checked above)
        if label and len(values) == 1 and values[0].has(MatrixElement):
            return Scalar(EntryFunction(Str(label), Integer(order), function, values[0]), text)
        return Scalar(function(*values), text)

    def relation(self, node: Relation) -> Value:
        if node.op in ("=", "!="):
            return self.kronecker(node)
        left, right = self.as_value(self.value(node.left), node), self.as_value(self.value(node.right), node)
        if isinstance(left, Mat) and isinstance(right, Scalar) and right.expr == 0 and node.op in (">", "<="):
            return Mat(Indicator(left.expr, strict=node.op == ">"), self.text(node))
        if (
            isinstance(left, Scalar)
            and isinstance(right, Scalar)
            and any(self.free_indices(side.expr) or side.expr.has(MatrixElement) for side in (left, right))
        ):
            return Scalar(_step(left.expr, node.op, right.expr), self.text(node))  # an entry's [s_{j,n} > 0]
        return self.apply("", 0, relation_lambda(node.op), [left, right], node)

    def kronecker(self, node: Relation) -> Scalar:
        """[j = k] (Iverson's bracket, the Kronecker delta of two indices): 1 where they are equal, else 0;
        [j != k] the other way round. Each side an index letter or a whole number counted from 1."""
        sides = []
        for side in (node.left, node.right):
            if isinstance(side, Name) and not side.command and len(side.text) == 1 and side.text.isalpha():
                sides.append(index_symbol(side.text))
            elif isinstance(side, Num) and side.text.isdigit() and 1 <= int(side.text) <= MAX_INDEX:
                sides.append(Integer(int(side.text) - 1))
            else:
                raise self.error(
                    f"{self.text(node)}: [a = b] compares two indices (letters, or numbers from 1), as in [j = k]", node
                )
        equal = KroneckerDelta(*sides)
        return Scalar(equal if node.op == "=" else 1 - equal, self.text(node))

    # --- index notation ----------------------------------------------------------------

    def sum_over(self, node: SumOver) -> Scalar:
        if not node.index:
            return self.entry_sum(self.value(node.body), node)
        index = index_symbol(node.index)
        if index in self.bound:
            raise self.error(f"the index {node.index} is summed over twice", node)
        self.bound.add(index)
        outer = self.ranges.pop(index, None)  # a summed index is its sum's own: k may count other units elsewhere
        body = self.entry(self.as_value(self.value(node.body), node))
        self.bound.discard(index)
        if not isinstance(body, Scalar):
            raise self.error(
                f"{self.text(node)}: a sum over an index needs entries with indices in its body (e.g. W_{{k,j}})", node
            )
        if index not in self.ranges or index not in body.expr.free_symbols:
            raise self.error(f"the index {node.index} of the sum does not appear in its body", node)
        size, where = self.ranges.pop(index)
        if outer is not None:
            self.ranges[index] = outer
        if node.lower is not None and not (isinstance(node.lower, Num) and node.lower.text == "1"):
            raise self.error(f"{self.text(node)}: indices count from 1", node)
        if isinstance(node.upper, Num) and int(float(node.upper.text)) != size:
            raise ShapeProblem(
                f"{self.text(node)}: the sum over {node.index} runs to {node.upper.text}, but "
                f"{node.index} counts the {where} ({size})"
            )
        return Scalar(Sum(body.expr, (index, 0, size - 1)), self.text(node))

    def entry_sum(self, value: Value, node: Node) -> Scalar:
        """sum(M), \\sum M: the sum of every entry of M (a loss over units and samples)."""
        value = self.as_value(value, node)
        if isinstance(value, Scalar):
            return value
        if not isinstance(value, Mat):
            raise self.error(f"{self.text(node)}: a sum of entries needs a matrix", node)
        return Scalar(EntrySum(value.expr), self.text(node))

    def explicit(self, node: MatrixLit) -> Explicit:
        cells = []
        for row in node.rows:
            values = []
            for cell in row:
                value = self.entry(self.as_value(self.value(cell), cell))
                if not isinstance(value, Scalar) or self.free_indices(value.expr):
                    raise self.error(
                        f"{self.text(cell)}: each entry of a matrix is one number "
                        "(entries with fixed indices, like W_{1,2})",
                        cell,
                    )
                values.append(value.expr)
            cells.append(tuple(values))
        return Explicit(tuple(cells), self.text(node))
