"""A small, bounded parser for plain-math formulas written by users (custom activations
and losses): it builds a tiny syntax tree and never evaluates or sympifies the text.

Grammar (precedence low to high; `^` and `**` are the same). An exponent is a number (at
most MAX_EXPONENT in size) or a name, optionally negated: no towers like 2^3^2.

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("-" | "+") unary | power
    power  := atom (("^" | "**") unary)?
    atom   := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LENGTH = 2000
MAX_DEPTH = 60
MAX_EXPONENT = 64
MAX_NUMBER_DIGITS = 30

#: Functions a formula may call, with their number of arguments.
FUNCTIONS: dict[str, int] = {
    "exp": 1,
    "log": 1,
    "ln": 1,
    "sqrt": 1,
    "abs": 1,
    "tanh": 1,
    "sinh": 1,
    "cosh": 1,
    "sin": 1,
    "cos": 1,
    "sigmoid": 1,
    "relu": 1,
    "max": 2,
    "min": 2,
}


class MathSyntaxError(ValueError):
    """A formula that does not parse; `position` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Num:
    text: str


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * / ^
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]


Node = Num | Name | Neg | BinOp | Call


def _shown(text: str) -> str:
    """A token as messages quote it: at most about 40 characters of it."""
    return repr(text) if len(text) <= 40 else repr(text[:37]) + f"... ({len(text)} characters)"


_NUMBER = r"\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?"
_TOKEN = re.compile(rf"\s*(?:({_NUMBER})|([A-Za-z_][A-Za-z0-9_]*)|(\*\*|[-+*/^(),]))")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            start = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise MathSyntaxError(f"unexpected character {text[start]!r} at position {start + 1}", start)
        number, name, op = match.groups()
        start = match.start(match.lastindex or 0)
        if number is not None:
            if len(number) > MAX_NUMBER_DIGITS:
                raise MathSyntaxError(f"number too long at position {start + 1}", start)
            tokens.append(("num", number, start))
        elif name is not None:
            tokens.append(("name", name, start))
        else:
            tokens.append(("op", "^" if op == "**" else op, start))
        pos = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, names: frozenset[str]) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.names = names

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.index]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, value: str) -> None:
        kind, text, pos = self.take()
        if text != value or kind != "op":
            found = "the end" if kind == "end" else repr(text)
            raise MathSyntaxError(f"expected {value!r} at position {pos + 1}, found {found}", pos)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise MathSyntaxError(f"formula nested deeper than {MAX_DEPTH} levels", self.peek()[2])

    def expr(self) -> Node:
        self.enter()
        node = self.term()
        while self.peek()[:2] in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            node = BinOp(op, node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek()[:2] in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            node = BinOp(op, node, self.unary())
        return node

    def unary(self) -> Node:
        kind, text, _ = self.peek()
        if kind == "op" and text in "+-":
            self.take()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            return Neg(operand) if text == "-" else operand
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.peek()[:2] == ("op", "^"):
            pos = self.take()[2]
            self.enter()
            exponent = self.unary()
            self.depth -= 1
            literal = exponent.operand if isinstance(exponent, Neg) else exponent
            if isinstance(literal, Num) and abs(float(literal.text)) > MAX_EXPONENT:
                shown = ("-" if isinstance(exponent, Neg) else "") + literal.text
                raise MathSyntaxError(
                    f"exponent {shown} at position {pos + 1} is larger than {MAX_EXPONENT} in size", pos
                )
            if not isinstance(literal, (Num, Name)):
                raise MathSyntaxError(f"exponent at position {pos + 1} must be a number or a name", pos)
            return BinOp("^", base, exponent)
        return base

    def atom(self) -> Node:
        kind, text, pos = self.take()
        if kind == "num":
            return Num(text)
        if kind == "name":
            if self.peek()[:2] == ("op", "("):
                if text not in FUNCTIONS:
                    known = ", ".join(sorted(FUNCTIONS))
                    raise MathSyntaxError(
                        f"unknown function {_shown(text)} at position {pos + 1} (known: {known})", pos
                    )
                self.take()
                args = [self.expr()]  # expr() counts the nesting level
                while self.peek()[:2] == ("op", ","):
                    self.take()
                    args.append(self.expr())
                self.expect(")")
                if len(args) != FUNCTIONS[text]:
                    raise MathSyntaxError(f"{text}() takes {FUNCTIONS[text]} argument(s), got {len(args)}", pos)
                return Call("log" if text == "ln" else text, tuple(args))
            if text not in self.names:
                known = ", ".join(sorted(self.names)) or "none"
                raise MathSyntaxError(f"unknown name {_shown(text)} at position {pos + 1} (known: {known})", pos)
            return Name(text)
        if kind == "op" and text == "(":
            node = self.expr()  # expr() counts the nesting level
            self.expect(")")
            return node
        found = "the end of the formula" if kind == "end" else repr(text)
        raise MathSyntaxError(f"expected a number, a name or '(' at position {pos + 1}, found {found}", pos)


def parse(text: str, names: frozenset[str] | set[str]) -> Node:
    """Parse `text` into a syntax tree; only `names` and FUNCTIONS may appear in it."""
    if not isinstance(text, str):
        raise MathSyntaxError("a formula must be a string", 0)
    if len(text) > MAX_LENGTH:
        raise MathSyntaxError(f"formula longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not text.isascii():
        bad = next(i for i, c in enumerate(text) if not c.isascii())
        raise MathSyntaxError(f"non-ASCII character {text[bad]!r} at position {bad + 1}", bad)
    parser = _Parser(text, frozenset(names))
    if parser.peek()[0] == "end":
        raise MathSyntaxError("empty formula", 0)
    node = parser.expr()
    kind, token, pos = parser.peek()
    if kind != "end":
        raise MathSyntaxError(f"unexpected {_shown(token)} at position {pos + 1}", pos)
    return node
