"""A recursive-descent parser for answers in LaTeX or plain math, in neural-network notation.

It builds a syntax tree of the dataclasses below and nothing else: no name is looked up, no
text is evaluated. `resolve.py` gives the tree its meaning against a network. Grammar, from
the loosest binding to the tightest (docs/verify.md has the full table):

    answer    := side ("=" side)* [ranges]           ranges: `for i = 1..2, ...` or `(1 \\le i \\le 2, ...)`
    side      := hadamard (("+" | "-") hadamard)*
    hadamard  := product (("⊙" | \\odot | \\circ | "⊘" | \\oslash) product)*      ⊘: entrywise division
    product   := quotient (("*" | \\cdot | \\times | ·) quotient | quotient)*      juxtaposition is a product
    quotient  := unary ("/" unary)*
    unary     := ("-" | "+") unary | postfix
    postfix   := atom (script | "'" | "[" indices "]" | "(" args ")")*
    script    := ("_" | "^") (token | "{" ... "}" | "(" ... ")")
    atom      := number | name | \\greek | "(" side ")" | "{" side "}" | "[" side [relation side] "]"
               | \\frac{..}{..} | \\sum_{i=1}^{n} product | \\partial postfix | \\underbrace{..}_{..}
               | \\nabla_{..} [name] | \\Delta postfix | "(" side relation side ")"
               | \\begin{bmatrix} .. \\end{bmatrix} | \\mathbf{..} (and the other font commands)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from symbackprop.verify.lexer import FONTS, GREEK, AnswerSyntaxError, Token, tokenize
from symbackprop.verify.limits import MAX_CELLS, MAX_DEPTH, MAX_TERMS, Deadline


@dataclass(frozen=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True)
class Num(Node):
    text: str


@dataclass(frozen=True)
class Name(Node):
    text: str
    command: bool = False  # written as a LaTeX command: \delta, \tanh
    font: str | None = None  # \mathcal, \mathbf, \mathrm, ...


@dataclass(frozen=True)
class Script(Node):
    """A subscript or superscript: `label` its text without spaces or braces ("out", "n,i",
    "(2)"), `transpose` for ^T, ^\\top, ^\\intercal; `expr` the same tokens parsed as an
    expression where they parse (for powers), `hadamard` for ^{\\circ 2}."""

    label: str | None
    expr: Node | None
    transpose: bool = False
    hadamard: bool = False


@dataclass(frozen=True)
class Scripted(Node):
    base: Node
    sub: Script | None = None
    sup: Script | None = None
    primes: int = 0
    index: tuple[str, ...] | None = None  # W_2[k,j]


@dataclass(frozen=True)
class Call(Node):
    func: Node
    args: tuple[Node, ...]


@dataclass(frozen=True)
class BinOp(Node):
    op: str  # + - * ⊙ ⊘ /
    left: Node
    right: Node
    frac: bool = False  # written \frac{..}{..}


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Diff(Node):
    """\\partial X (the d of a derivative), or, standing alone, the gradient of the loss by X: `mark` "partial",
    "Delta" (\\Delta W) or "nabla" (\\nabla_W L, `loss` the name after it)."""

    operand: Node
    mark: str = "partial"
    loss: Node | None = None


@dataclass(frozen=True)
class SumOver(Node):
    """A sum over `index` of `body`; with no index (\\sum M), over every entry of the matrix M."""

    index: str
    lower: Node | None
    upper: Node | None
    body: Node


@dataclass(frozen=True)
class Relation(Node):
    """[a > b]: 1 where it holds, else 0."""

    left: Node
    op: str  # > < >= <=
    right: Node


@dataclass(frozen=True)
class Bracket(Node):
    """[..] used as brackets."""

    inner: Node


@dataclass(frozen=True)
class Group(Node):
    """\\underbrace{inner}_{label} or [inner]_label: the part of a chain that makes up `label`."""

    inner: Node
    label: Node


@dataclass(frozen=True)
class MatrixLit(Node):
    rows: tuple[tuple[Node, ...], ...]


@dataclass(frozen=True)
class Answer(Node):
    sides: tuple[Node, ...]


_FUNCTION_COMMANDS = frozenset({"exp", "log", "ln", "tanh", "cosh", "sinh", "sin", "cos", "sgn", "max", "min"})
_PRODUCT_COMMANDS = frozenset({"cdot", "times", "ast"})
_HADAMARD_COMMANDS = frozenset({"odot", "circ", "oslash"})
_RELATIONS = {
    ">": ">",
    "<": "<",
    ">=": ">=",
    "<=": "<=",
    "gt": ">",
    "lt": "<",
    "ge": ">=",
    "geq": ">=",
    "le": "<=",
    "leq": "<=",
    "=": "=",
    "!=": "!=",
    "ne": "!=",
    "neq": "!=",
}
#: What a note after the index ranges may hold, besides names and numbers: `(0 for W_2[k,i] with k != j)`,
#: `(no matrix form: the derivative of s_2 by W_2 has an index for each dimension of both, ...)`.
_NOTE_OPS = frozenset(
    {",", ";", ":", "=", "!=", "<", ">", "<=", ">=", "[", "]", "_", "^", "{", "}", "'", ".", "(", ")"}
)
_MATRICES = frozenset({"matrix", "bmatrix", "pmatrix", "Bmatrix", "smallmatrix"})
_LABEL_OPS = frozenset({",", "(", ")", "*", "+"})


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the answer"
    return f"'\\{token.text}'" if token.kind == "cmd" else f"'{token.text}'"


class _Parser:
    def __init__(
        self, tokens: list[Token], deadline: Deadline, depth: int = 0, labels: Mapping[str, str] | None = None
    ) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = depth
        self.bars = 0  # how many |..| are open: inside one, a `|` closes it rather than starting a factor
        self.terms = 0
        self.deadline = deadline
        #: a subscript as written -> the layer name it is (names with braces or other signs: h{1})
        self.labels = labels or {}

    # --- tokens -------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def at(self, kind: str, *texts: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == kind and (not texts or token.text in texts)

    def expect(self, kind: str, text: str) -> Token:
        token = self.take()
        if token.kind != kind or token.text != text:
            shown = f"\\{text}" if kind == "cmd" else text
            raise AnswerSyntaxError(
                f"expected '{shown}' at position {token.pos + 1}, found {_describe(token)}", token.pos
            )
        return token

    def fail(self, message: str, token: Token | None = None) -> AnswerSyntaxError:
        token = token or self.peek()
        return AnswerSyntaxError(f"{message} at position {token.pos + 1}", token.pos)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"the answer is nested deeper than {MAX_DEPTH} levels")
        self.deadline.check()

    def count(self) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.fail(f"the answer has more than {MAX_TERMS} terms and factors")

    def end_of(self, node: Node) -> int:
        return max(node.end, self.tokens[self.i - 1].end if self.i else 0)

    # --- grammar ------------------------------------------------------------------------

    def answer(self) -> Answer:
        if self.at("end"):
            raise self.fail("the answer is empty")
        sides = [self.side()]
        while self.at("op", "="):
            self.take()
            sides.append(self.side())
        if self.at("name", "for") or self.at_ranges() or self.at_note():
            self.ranges()
        if not self.at("end"):
            raise self.fail(f"unexpected {_describe(self.peek())}")
        return Answer(sides[0].start, sides[-1].end, tuple(sides))

    def at_ranges(self) -> bool:
        """`(1 \\le i \\le 2, ...)`, how the index form states its ranges in LaTeX."""
        return (
            self.at("op", "(")
            and self.at("num", ahead=1)
            and (self.at("cmd", "le", "leq", ahead=2) or self.at("op", "<=", ahead=2))
        )

    def at_note(self) -> bool:
        """`(0 for s_1[n] with n != 1)`, `(no matrix form: ...)`: the note derive prints after a local partial."""
        return self.at("op", "(") and (
            (self.at("num", "0", ahead=1) and self.at("name", "for", ahead=2))
            or (self.at("name", "no", ahead=1) and self.at("name", "form", ahead=3))
        )

    def ranges(self) -> None:
        """Index ranges after an index-form answer (`for j = 1..2, n = 1..N`, `for each sample`, `\\quad (1 \\le j
        \\le 2)`), then the note `derive` prints after them in brackets (`(0 for W_2[k,i] with k != j)`): read and
        left aside (sizes come from the spec)."""
        allowed = {",", "=", ".", "(", ")", "<=", "_", "{", "}"}
        while not self.at("end"):
            if self.at("op", "(") and not self.at_ranges():
                self.note()
                continue
            token = self.take()
            if not (token.kind in ("name", "num") or token.text in allowed or token.text in ("le", "leq")):
                raise self.fail(f"unexpected {_describe(token)} in the index ranges", token)

    def note(self) -> None:
        """A note in brackets after the ranges, the last thing in the answer: words, entries and relations."""
        opening = self.take()
        depth = 1
        while depth:
            token = self.take()
            if token.kind == "end":
                raise self.fail("'(' is never closed", opening)
            if not (token.kind in ("name", "num") or (token.kind == "op" and token.text in _NOTE_OPS)):
                raise self.fail(f"unexpected {_describe(token)} in the note after the index ranges", token)
            depth += {"(": 1, ")": -1}.get(token.text, 0) if token.kind == "op" else 0
        if not self.at("end"):
            raise self.fail(f"unexpected {_describe(self.peek())} after the note")

    def side(self) -> Node:
        self.enter()
        node = self.hadamard()
        while self.at("op", "+", "-"):
            op = self.take().text
            right = self.hadamard()
            node = BinOp(node.start, right.end, op, node, right)
        self.depth -= 1
        return node

    def hadamard(self) -> Node:
        node = self.product()
        while self.at("cmd", *_HADAMARD_COMMANDS):
            op = "⊘" if self.take().text == "oslash" else "⊙"
            right = self.product()
            node = BinOp(node.start, right.end, op, node, right)
        return node

    def starts_factor(self) -> bool:
        token = self.peek()
        if token.kind in ("num", "name"):
            return not (token.kind == "name" and token.text == "for")
        if token.kind == "cmd":
            return (
                token.text not in _PRODUCT_COMMANDS | _HADAMARD_COMMANDS | {"end", "top", "intercal", "prime"}
                and token.text not in _RELATIONS
            )
        if token.kind == "op" and token.text == "|":
            return not self.bars
        return token.kind == "op" and token.text in ("(", "{", "[") and not self.at_ranges() and not self.at_note()

    def product(self) -> Node:
        self.count()
        node = self.quotient()
        while True:
            if self.at("op", "*") or self.at("cmd", *_PRODUCT_COMMANDS):
                self.take()
            elif not self.starts_factor():
                return node
            self.count()
            right = self.quotient()
            node = BinOp(node.start, right.end, "*", node, right)

    def quotient(self) -> Node:
        node = self.unary()
        while self.at("op", "/"):
            self.take()
            right = self.unary()
            node = BinOp(node.start, right.end, "/", node, right)
        return node

    def unary(self) -> Node:
        if self.at("op", "-", "+"):
            token = self.take()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            return Neg(token.pos, operand.end, operand) if token.text == "-" else operand
        return self.postfix(self.atom())

    def postfix(self, node: Node, calls: bool = True) -> Node:
        """Scripts, primes, indices and calls after an atom, gathered on one Scripted node."""
        sub = sup = None
        primes = 0
        index = None

        def wrap() -> Node:
            if sub is None and sup is None and not primes and index is None:
                return node
            return Scripted(node.start, self.end_of(node), node, sub, sup, primes, index)

        while True:
            token = self.peek()
            marks = self.prime_marks() if token.kind == "op" and token.text == "^" else 0
            if marks:  # \sigma^\prime(z), \sigma_2^{\prime\prime}: primes written as a superscript
                if sup is not None or index is not None:
                    node, sub, sup, primes, index = wrap(), None, None, 0, None
                primes += marks
            elif token.kind == "op" and token.text in ("_", "^"):
                if (
                    (sub if token.text == "_" else sup) is not None
                    or (primes and token.text == "^")
                    or index is not None
                ):  # f'_{out}: the prime may come before the subscript
                    node, sub, sup, primes, index = wrap(), None, None, 0, None
                self.take()
                script = self.script(token.text)
                if token.text == "_":
                    sub = script
                else:
                    sup = script
            elif token.kind == "op" and token.text == "ᵀ":
                if sup is not None:
                    node, sub, sup, primes, index = wrap(), None, None, 0, None
                self.take()
                sup = Script(token.pos, token.end, "T", None, transpose=True)
            elif token.kind == "op" and token.text == "'":
                self.take()
                primes += 1
            elif (
                token.kind == "op"
                and token.text == "["
                and not token.space_before
                and index is None
                and isinstance(node, Name)
            ):
                self.take()
                index = self.indices()
            elif (
                calls
                and token.kind == "op"
                and token.text == "("
                and self.callable(node)
                and not self.at_ranges()
                and not self.at_note()
            ):
                func = wrap()
                self.take()
                args = [self.side()]
                while self.at("op", ",", ";"):  # L(\vec t; \vec y): a loss's arguments
                    self.take()
                    args.append(self.side())
                close = self.expect("op", ")")
                # W (W (s))^2: the inner call was bracketed, so a script after it is on all of it
                args = [Bracket(arg.start, arg.end, arg) if isinstance(arg, Call) else arg for arg in args]
                node, sub, sup, primes, index = Call(func.start, close.end, func, tuple(args)), None, None, 0, None
            elif (
                calls
                and isinstance(node, Name)
                and (node.command and node.text in _FUNCTION_COMMANDS | {"sigma"} or node.font == "operatorname")
                and self.starts_factor()
                and not self.at("op", "(")
            ):
                func = wrap()  # \tanh s_1, \operatorname{sign}{(s)}: a function applied without brackets
                self.enter()
                arg = self.postfix(self.atom())
                self.depth -= 1
                node, sub, sup, primes, index = Call(func.start, arg.end, func, (arg,)), None, None, 0, None
            else:
                return wrap()

    def prime_marks(self) -> int:
        """After `^`: the number of primes if the superscript is only primes (^\\prime, ^{\\prime\\prime}, ^{'}),
        all consumed; else 0, nothing consumed."""
        braced = self.at("op", "{", ahead=1)
        ahead = 2 if braced else 1
        count = 0
        while self.at("cmd", "prime", ahead=ahead + count) or self.at("op", "'", ahead=ahead + count):
            count += 1
            if not braced:
                break
        if not count or (braced and not self.at("op", "}", ahead=ahead + count)):
            return 0
        for _ in range(ahead + count + int(braced)):
            self.take()
        return count

    def single(self) -> Node:
        """A braceless argument (\\frac12, \\hat y, \\mathbf W): one character, as TeX reads it; the rest of a
        longer name or number is left for what follows."""
        token = self.peek()
        if token.kind in ("name", "num") and len(token.text) > 1 and token.text.isalnum():
            first = Token(token.kind, token.text[0], token.pos, token.pos + 1, token.space_before)
            rest = Token(token.kind, token.text[1:], token.pos + 1, token.end)
            self.tokens[self.i : self.i + 1] = [first, rest]
        if not (token.kind in ("name", "num") or token.kind == "cmd" and token.text in GREEK):
            raise self.fail(f"expected '{{' or one letter or digit, found {_describe(token)}", token)
        return self.atom()

    @staticmethod
    def callable(node: Node) -> bool:
        return isinstance(node, Name)

    def indices(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            token = self.take()
            if token.kind not in ("name", "num"):
                raise self.fail(f"expected an index, found {_describe(token)}", token)
            parts.append(token.text)
            if self.at("op", "]"):
                self.take()
                return tuple(parts)
            self.expect("op", ",")

    def script(self, kind: str) -> Script:
        """The tokens of one sub- or superscript, read as a label and, where they parse, as an expression."""
        start = self.peek()
        if start.kind == "label":  # a layer name with signs in it (h{1}), spelled as derive prints it
            self.take()
            return Script(start.pos, start.end, self.labels[start.text], None)
        if start.kind == "op" and start.text in ("{", "("):
            tokens = self.balanced(start.text, "}" if start.text == "{" else ")")
            if start.text == "(":
                tokens = [start, *tokens, self.tokens[self.i - 1]]
        elif start.kind == "cmd" and start.text == "circ":
            self.take()
            tokens = [start, self.take()]
        elif start.kind == "op" and start.text == "-":
            tokens = [self.take(), self.take()]
        elif start.kind == "cmd" and start.text in FONTS:
            self.take()
            tokens = [start, *self.balanced("{", "}")]
        elif start.kind in ("name", "num", "cmd") or (start.kind == "op" and start.text == "*"):
            tokens = [self.take()]
            if start.kind == "num" and kind == "_" and len(start.text) > 1 and not start.text.isdigit():
                raise self.fail("a subscript must be a name or a whole number", start)
        else:
            raise self.fail(
                f"expected a {'subscript' if kind == '_' else 'superscript'}, found {_describe(start)}", start
            )
        end = self.tokens[self.i - 1].end
        texts = [t.text for t in tokens if t.text not in ("{", "}")]
        if texts in (["T"], ["top"], ["intercal"], ["mathsf", "T"]) and kind == "^":
            return Script(start.pos, end, "T", None, transpose=True)
        if texts and texts[0] == "circ" and kind == "^":
            return Script(start.pos, end, None, self.subparse(tokens[1:], start), hadamard=True)
        label = None
        plain = [t for t in tokens if not (t.kind == "cmd" and t.text in FONTS) and t.text not in ("{", "}")]
        if plain and all(
            t.kind in ("name", "num")
            or (t.kind == "cmd" and t.text in GREEK)
            or (t.kind == "op" and t.text in _LABEL_OPS)
            for t in plain
        ):
            label = "".join(t.text for t in plain)  # _{\text{out}} and _{\mathrm{out}} are _{out}
        expr = None
        if kind == "^" or label is None:
            try:
                expr = self.subparse(tokens, start)
            except AnswerSyntaxError:
                if label is None:
                    raise
        return Script(start.pos, end, label, expr)

    def balanced(self, opening: str, closing: str) -> list[Token]:
        """The tokens between `opening` (next) and its matching `closing`, both consumed."""
        self.expect("op", opening)
        tokens: list[Token] = []
        depth = 1
        while True:
            token = self.take()
            if token.kind == "end":
                raise self.fail(f"'{opening}' is never closed", token)
            if token.kind == "op" and token.text == opening:
                depth += 1
            elif token.kind == "op" and token.text == closing:
                depth -= 1
                if depth == 0:
                    return tokens
            tokens.append(token)

    def subparse(self, tokens: list[Token], at: Token) -> Node:
        if not tokens:
            raise self.fail("empty script", at)
        end = tokens[-1]
        inner = _Parser([*tokens, Token("end", "", end.end, end.end)], self.deadline, self.depth + 1, self.labels)
        node = inner.side()
        if not inner.at("end"):
            raise inner.fail(f"unexpected {_describe(inner.peek())}")
        self.terms += inner.terms
        return node

    def argument(self) -> Node:
        """A command's argument: {..}, or one character (\\frac12, \\hat y, \\mathbf W, \\sqrt2)."""
        if self.at("op", "{"):
            start = self.take()
            node = self.side()
            close = self.expect("op", "}")
            return replace(node, start=start.pos, end=close.end) if not isinstance(node, Name) else node
        return self.single()

    def group(self) -> Node:
        """A {..} argument, or a single atom (\\frac12 style)."""
        if self.at("op", "{"):
            self.take()
            node = self.side()
            self.expect("op", "}")
            return node
        return self.postfix(self.atom(), calls=False)

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "num":
            return Num(token.pos, token.end, token.text)
        if token.kind == "name":
            if token.text == "sum" and self.at("op", "_"):
                return self.sum_over(token)
            if token.text == "Delta" and self.at_operand():
                return self.delta_of(token)
            return Name(token.pos, token.end, token.text)
        if token.kind == "cmd":
            return self.command(token)
        if token.kind == "op" and token.text in ("(", "{"):
            node = self.side()  # side() counts the nesting level
            closing = ")" if token.text == "(" else "}"
            if self.at_relation():  # \mathbf{1}(s > 0), \mathbb{1}\{s > 0\}: an indicator
                op = _RELATIONS[self.take().text]
                right = self.side()
                close = self.expect("op", closing)
                return Relation(token.pos, close.end, node, op, right)
            close = self.expect("op", closing)
            if isinstance(node, Call):  # (W (s + s))^2: a script after the brackets is on all of them
                return Bracket(token.pos, close.end, node)
            return replace(node, start=token.pos, end=close.end)  # messages quote the brackets too
        if token.kind == "op" and token.text == "[":
            return self.bracket(token)
        if token.kind == "op" and token.text == "|":  # |s|, \left|s\right|: abs(s)
            self.bars += 1
            inner = self.side()
            self.bars -= 1
            close = self.expect("op", "|")
            return Call(token.pos, close.end, Name(token.pos, token.end, "abs"), (inner,))
        raise self.fail(f"expected a number, a name or '(', found {_describe(token)}", token)

    def at_relation(self) -> bool:
        token = self.peek()
        return token.kind in ("op", "cmd") and token.text in _RELATIONS

    def bracket(self, token: Token) -> Node:
        left = self.side()
        if self.at_relation():
            op = _RELATIONS[self.take().text]
            right = self.side()
            close = self.expect("op", "]")
            return Relation(token.pos, close.end, left, op, right)
        close = self.expect("op", "]")
        if self.at("op", "_") and not self.peek().space_before:
            self.take()
            label = self.postfix(self.atom(), calls=False)
            return Group(token.pos, label.end, left, label)
        return Bracket(token.pos, close.end, left)

    def command(self, token: Token) -> Node:
        name = token.text
        if name == "Delta" and self.at_operand():
            return self.delta_of(token)
        if name in GREEK and not (name == "Sigma" and self.at("op", "_")):
            return Name(token.pos, token.end, name, command=True)
        if name == "sum" and not self.at("op", "_"):  # \sum M: the sum of every entry (how a loss is printed)
            self.enter()
            body = self.product()
            self.depth -= 1
            return SumOver(token.pos, body.end, "", None, None, body)
        if name in ("sum", "Sigma"):
            return self.sum_over(token)
        if name in ("frac", "dfrac", "tfrac"):
            self.enter()
            top, bottom = self.argument(), self.argument()
            self.depth -= 1
            return BinOp(token.pos, self.end_of(bottom), "/", top, bottom, frac=True)
        if name == "sqrt":
            self.enter()
            arg = self.argument()
            self.depth -= 1
            return Call(token.pos, self.end_of(arg), Name(token.pos, token.end, "sqrt", command=True), (arg,))
        if name in _FUNCTION_COMMANDS:
            return Name(token.pos, token.end, name, command=True)
        if name == "partial":  # \partial W_1, \partial l(\theta)
            self.enter()
            operand = self.postfix(self.atom())
            self.depth -= 1
            return Diff(token.pos, operand.end, operand)
        if name == "nabla":  # \nabla_{W} L: the gradient of the loss by W
            self.expect("op", "_")
            self.enter()
            operand = self.group()
            loss = self.postfix(self.atom()) if self.at_operand() else None
            self.depth -= 1
            return Diff(token.pos, self.end_of(loss or operand), operand, "nabla", loss)

        if name in ("hat", "widehat"):  # \hat{y}, \hat y: the name y_hat
            inner = self.argument()
            if not isinstance(inner, Name) or inner.command or len(inner.text) != 1:
                raise self.fail(f"\\{name} takes one letter, as in \\hat{{y}}", token)
            return Name(token.pos, self.end_of(inner), inner.text + "_hat")
        if name in FONTS:  # \mathbf{W}, \mathbf W, \vec t
            inner = self.argument()
            if isinstance(inner, Name):
                return Name(token.pos, self.end_of(inner), inner.text, inner.command, name)
            return inner
        if name == "underbrace":
            self.enter()
            inner = self.group()
            self.expect("op", "_")
            label = self.group()
            self.depth -= 1
            return Group(token.pos, self.end_of(label), inner, label)
        if name == "begin":
            return self.matrix(token)
        raise self.fail(f"unexpected {_describe(token)}", token)

    def at_operand(self) -> bool:
        """A name follows (W, \\mathbf{W}, \\theta): `Delta W` is then W's gradient, not Delta times W."""
        return self.at("name") or self.at("cmd", *FONTS) or (self.at("cmd") and self.peek().text in GREEK)

    def delta_of(self, token: Token) -> Diff:
        """\\Delta W_1, Delta W_1, ΔW_1: the gradient of the loss by W_1, as courses write it."""
        self.enter()
        operand = self.postfix(self.atom(), calls=False)
        self.depth -= 1
        return Diff(token.pos, operand.end, operand, "Delta")

    def sum_over(self, token: Token) -> Node:
        """\\sum_{i=1}^{n} body, sum_{i=1}^{n}(body): the body is the product that follows."""
        self.expect("op", "_")
        braced = self.at("op", "{")
        if braced:
            self.take()
        index = self.take()
        if index.kind != "name" and not (index.kind == "cmd" and index.text in GREEK):
            raise self.fail(f"expected the index of the sum, found {_describe(index)}", index)
        lower = None
        if braced:
            if self.at("op", "="):
                self.take()
                lower = self.side()
            self.expect("op", "}")
        upper = None
        if self.at("op", "^"):
            self.take()
            upper = self.group()
        self.enter()
        body = self.product()
        self.depth -= 1
        return SumOver(token.pos, body.end, index.text, lower, upper, body)

    def matrix(self, token: Token) -> Node:
        self.expect("op", "{")
        kind = self.take()
        if kind.text not in _MATRICES:
            raise self.fail(f"unsupported environment {kind.text!r} (matrices: {', '.join(sorted(_MATRICES))})", kind)
        self.expect("op", "}")
        self.enter()
        rows: list[list[Node]] = [[]]
        cells = 0
        while True:
            if self.at("cmd", "end"):
                break
            rows[-1].append(self.side())
            cells += 1
            if cells > MAX_CELLS:
                raise self.fail(f"a matrix of more than {MAX_CELLS} entries")
            if self.at("op", "&"):
                self.take()
            elif self.at("op", "\\\\"):
                self.take()
                rows.append([])
            elif not self.at("cmd", "end"):
                raise self.fail(f"expected '&', '\\\\' or '\\end', found {_describe(self.peek())}")
        self.take()
        self.expect("op", "{")
        self.expect("name", kind.text)
        close = self.expect("op", "}")
        self.depth -= 1
        if not rows[-1]:
            rows.pop()
        if not rows or len({len(row) for row in rows}) != 1:
            raise self.fail("the rows of the matrix have different lengths", token)
        return MatrixLit(token.pos, close.end, tuple(tuple(row) for row in rows))


def _drop_alignment(tokens: list[Token]) -> list[Token]:
    """`&` aligns equations outside a matrix (`\\frac{..}{..} &= ...`), `\\\\` ends an align* line and `$` delimits
    math: none of them means anything outside a matrix, so a line copied from an align* block reads as it is."""
    kept: list[Token] = []
    environments = 0
    for token in tokens:
        if token.kind == "cmd" and token.text in ("begin", "end"):
            environments += 1 if token.text == "begin" else -1
        if token.kind == "op" and (token.text == "$" or (token.text in ("&", "\\\\") and environments <= 0)):
            continue
        kept.append(token)
    return kept


def parse(text: str, deadline: Deadline | None = None, labels: Mapping[str, str] | None = None) -> Answer:
    """The syntax tree of an answer; raises AnswerSyntaxError (and only that) on any text it cannot read.
    `labels`: subscripts as written that are layer names with signs in them (h{1}), read whole."""
    if not isinstance(text, str):
        raise AnswerSyntaxError("an answer must be text", 0)
    parser = _Parser(_drop_alignment(tokenize(text, labels or ())), deadline or Deadline(), labels=labels)
    return parser.answer()
