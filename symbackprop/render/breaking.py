"""Long displayed formulas broken into lines, never scaled down.

A printed formula (LaTeX math, as symbackprop.printing writes it) is read into a tree of atoms:
brace groups, environments and `\\frac`-like commands stay whole; `\\left( ... \\right)` groups
and `\\underbrace{...}_{...}` are opened up so that a line may end inside them. Between atoms lie
the places where a line may end: after a binary operator (+, -, ⊙, ·) or a relation (=, ←), and
between two factors of a product; each costs more the deeper in brackets it lies, so lines end
at the outermost operators first. This is typesetting, not printing: the symbols and their
order are exactly the printed ones.

- LaTeX: TeX measures and chooses the breaks (Knuth-Plass over the penalties written here), so
  a formula never runs into the margin whatever its fonts; the macros are in preamble.tex.
- Markdown: MathJax has no line breaking, so the breaks are chosen here with an estimate of
  each atom's width, and the lines are rows of an `aligned` block.

An opened bracket keeps its height on every line (a `\\vphantom` of the tallest parts inside),
so both halves of a broken pair match. An underbrace too wide for a line becomes a bracket with
the same name as its subscript: `[ ... ]_{\\delta_1}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Commands that take this many brace arguments (the rest take none).
ARGUMENTS = {
    r"\frac": 2,
    r"\dfrac": 2,
    r"\tfrac": 2,
    r"\binom": 2,
    r"\sqrt": 1,
    r"\text": 1,
    r"\mathrm": 1,
    r"\mathbf": 1,
    r"\mathcal": 1,
    r"\operatorname": 1,
    r"\hat": 1,
    r"\bar": 1,
    r"\tilde": 1,
    r"\vec": 1,
    r"\boldsymbol": 1,
    r"\mathit": 1,
    r"\textbf": 1,
    r"\textit": 1,
    r"\texttt": 1,
    r"\overline": 1,
    r"\underline": 1,
    r"\vphantom": 1,
    r"\phantom": 1,
    r"\mathopen": 1,
    r"\mathclose": 1,
    r"\mathbb": 1,
    r"\widehat": 1,
}
BINARY = {"+", "-", r"\odot", r"\cdot", r"\times", r"\oslash", r"\circ", r"\pm"}
RELATIONS = {
    "=",
    r"\leftarrow",
    r"\le",
    r"\ge",
    r"\leq",
    r"\geq",
    "<",
    ">",
    r"\approx",
    r"\ne",
    r"\neq",
    r"\to",
    r"\mapsto",
}
#: After these a factor follows that belongs to them: no line ends between the two.
PREFIXES = {
    r"\sum",
    r"\prod",
    r"\int",
    r"\max",
    r"\min",
    r"\log",
    r"\ln",
    r"\exp",
    r"\tanh",
    r"\sinh",
    r"\cosh",
    r"\sin",
    r"\cos",
    r"\lim",
    r"\operatorname",
    r"\sigma",
    r"\det",
}
#: Atoms taller than a line of text: an opened bracket around them keeps their height.
TALL = re.compile(r"\\(frac|dfrac|sum|prod|int|underbrace|begin|binom|sqrt)\b")
SPACES = {r"\quad", r"\qquad"}
#: Tall parts an opened bracket measures its height on.
TALLEST = 3

#: TeX penalties for a line end at depth 0 after a relation, after a binary operator, between
#: factors, before a \quad; each level of brackets adds DEEPER.
PENALTY = {"relation": 0, "binary": 100, "product": 400, "space": 0}
DEEPER = 400
MAX_PENALTY = 9999


class LatexReadError(ValueError):
    """Math that is not balanced (a brace or \\left without its partner)."""


# --- reading ------------------------------------------------------------------------------


@dataclass
class Atom:
    """Unbreakable LaTeX; `kind` is "binary", "relation", "space", "prefix" or "operand"."""

    text: str
    kind: str = "operand"
    gap: bool = False  # a space follows in the source (between two factors: a product)


@dataclass
class Bracket:
    r"""\left<open> items \right<close> followed by `scripts` (^{\top}, _{...})."""

    open: str
    close: str
    items: list[Node]
    scripts: str = ""
    source: str = ""
    gap: bool = False
    plain: bool = False  # ( ... ) without \left and \right


@dataclass
class Brace:
    r"""\underbrace{items}_{label}."""

    items: list[Node]
    label: str
    source: str = ""
    gap: bool = False


Node = Atom | Bracket | Brace


@dataclass
class _Reader:
    text: str
    pos: int = 0
    tokens: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tokens = re.findall(r"\\[A-Za-z]+\*?|\\.|\s+|.", self.text, flags=re.S)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def skip_space(self) -> bool:
        skipped = False
        while (token := self.peek()) is not None and token.isspace():
            self.pos += 1
            skipped = True
        return skipped

    def group(self) -> str:
        """A {...} group (the opening brace is next) as text, braces included."""
        depth, out = 0, []
        while True:
            token = self.peek()
            if token is None:
                raise LatexReadError("a brace group is not closed")
            out.append(self.take())
            depth += token == "{"
            depth -= token == "}"
            if depth == 0:
                return "".join(out)

    def argument(self) -> str:
        """One argument: a brace group or a single token."""
        self.skip_space()
        token = self.peek()
        if token is None:
            raise LatexReadError("an argument is missing")
        return self.group() if token == "{" else self.take()

    def scripts(self) -> str:
        """^{...} and _{...} (and primes) right after an atom."""
        out = ""
        while (token := self.peek()) in ("^", "_", "'"):
            out += self.take()
            if token != "'":
                out += self.argument()
        return out

    def environment(self, begin: str) -> str:
        name = self.group()
        depth, out = 1, [begin, name]
        while depth:
            token = self.peek()
            if token is None:
                raise LatexReadError(f"\\begin{name} is not ended")
            out.append(self.take())
            if token in (r"\begin", r"\end"):
                inner = self.group()
                out.append(inner)
                depth += 1 if token == r"\begin" else -1
        return "".join(out)

    def items(self, closing: str | None = None) -> list[Node]:
        """Atoms up to the end, or up to `closing` (\\right or a closing brace), consumed."""
        items: list[Node] = []
        while True:
            if self.skip_space() and items:
                items[-1].gap = True
            token = self.peek()
            if token is None:
                if closing is not None:
                    raise LatexReadError(f"{closing} is missing")
                return items
            if token == closing:
                self.take()
                return items
            start = self.pos
            node = self.node()
            if isinstance(node, (Bracket, Brace)):
                node.source = "".join(self.tokens[start : self.pos])
            items.append(node)

    def node(self) -> Node:
        token = self.take()
        if token == r"\left":
            opening = self.argument()
            inner = self.items(r"\right")
            closing = self.argument()
            return Bracket(opening, closing, inner, self.scripts())
        if token == "(":
            start = self.pos
            try:
                inner = self.items(")")
            except LatexReadError:
                self.pos = start
                return Atom(token + self.scripts())
            return Bracket("(", ")", inner, self.scripts(), plain=True)
        if token == r"\underbrace":
            self.skip_space()
            if self.peek() != "{":
                return Atom(token + self.argument() + self.scripts())
            self.take()
            inner = self.items("}")
            if self.peek() != "_":
                return Atom(r"\underbrace{" + "".join(_source(n) for n in inner) + "}" + self.scripts())
            self.take()
            label = self.argument()
            if self.peek() in ("^", "'"):  # a brace with more than its label: kept whole
                return Atom(r"\underbrace{" + "".join(_source(n) for n in inner) + "}_" + label + self.scripts())
            return Brace(inner, label)
        if token == r"\begin":
            return Atom(self.environment(token) + self.scripts())
        if token == "{":
            self.pos -= 1
            return Atom(self.group() + self.scripts())
        if token in ("}", r"\right", ")"):
            raise LatexReadError(f"unbalanced {token}")
        if token in BINARY:
            return Atom(token, "binary")
        if token in RELATIONS:
            return Atom(token, "relation")
        if token in SPACES:
            return Atom(token, "space")
        text = token + "".join(self.argument() for _ in range(ARGUMENTS.get(token, 0))) + self.scripts()
        return Atom(text, "prefix" if token in PREFIXES else "operand")


def _source(node: Node) -> str:
    """The node as it was written."""
    if isinstance(node, Atom):
        text = node.text
    elif isinstance(node, Bracket):
        text = node.source or (
            r"\left" + node.open + " " + "".join(map(_source, node.items)) + r" \right" + node.close + node.scripts
        )
    else:
        text = node.source or (r"\underbrace{" + "".join(map(_source, node.items)) + "}_" + node.label)
    return text + " " * node.gap


def read(latex: str) -> list[Node]:
    """The atoms of a formula; raises LatexReadError when it is not balanced."""
    return _Reader(latex).items()


# --- where a line may end -----------------------------------------------------------------


def _is_operand(node: Node | None) -> bool:
    return node is not None and (not isinstance(node, Atom) or node.kind in ("operand", "prefix"))


def _break_kind(items: list[Node], i: int) -> str | None:
    """The kind of line end allowed right after items[i], if any."""
    node = items[i]
    following = items[i + 1] if i + 1 < len(items) else None
    if following is None:
        return None
    if isinstance(node, Atom) and node.kind in ("binary", "relation"):
        if node.kind == "binary" and not _is_operand(items[i - 1] if i else None):
            return None  # a sign, not an operator: -x
        return node.kind
    if isinstance(following, Atom) and following.kind == "space" and _is_operand(node):
        return "space"
    if (
        node.gap
        and _is_operand(node)
        and _is_operand(following)
        and not (isinstance(node, Atom) and node.kind == "prefix")
    ):
        return "product"
    return None


def _tall_parts(nodes: list[Node]) -> list[str]:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, Atom):
            out += [node.text] if TALL.search(node.text) else []
        else:
            out += _tall_parts(node.items)
    return out


def _tall(nodes: list[Node]) -> str:
    """The tallest parts of a bracket's content (fractions, sums, matrices), for the height of its
    delimiters: the few with the most scripts, once each."""
    parts = sorted(dict.fromkeys(_tall_parts(nodes)), key=lambda p: (-p.count("^") - p.count("_"), len(p)))
    return "".join(parts[:TALLEST])


def _delimiters(opening: str, closing: str, nodes: list[Node]) -> tuple[str, str]:
    """An opened bracket's two halves, each balanced on its own line, as high as the content."""
    tall = _tall(nodes)
    if not tall:
        return opening, closing
    strut = r"\vphantom{" + tall + "}"
    return r"\mathopen{\left" + opening + strut + r"\right.}", r"\mathclose{\left." + strut + r"\right" + closing + "}"


def _penalty(kind: str, depth: int, extra: int = 0) -> int:
    return min(MAX_PENALTY, PENALTY[kind] + DEEPER * depth + extra)


# --- LaTeX: TeX breaks --------------------------------------------------------------------


def _opens(node: Bracket) -> bool:
    return node.open == "(" and node.close == ")"


def _tex_items(items: list[Node], depth: int, extra: int = 0) -> str:
    out = []
    for i, node in enumerate(items):
        if isinstance(node, Atom):
            out.append(node.text)
        elif isinstance(node, Bracket) and _opens(node):
            opening, closing = _delimiters("(", ")", node.items)
            out.append(opening + _tex_items(node.items, depth + 1, extra) + closing + node.scripts)
        elif isinstance(node, Bracket):
            out.append(_source(node))
        else:
            out.append(r"\sbpbrace{" + _tex_items(node.items, depth + 1, extra) + "}" + node.label)
        out.append(" " if node.gap else "")
        kind = _break_kind(items, i)
        if kind is not None:
            out.append(r"\penalty" + str(_penalty(kind, depth, extra)) + " ")
    return "".join(out)


def breakable_tex(latex: str, extra: int = 0) -> str:
    """The formula with TeX's line-break points (each `extra` dearer) and opened brackets
    (\\sbpbrace is a macro of preamble.tex); the same glyphs as `latex` when it fits on one line."""
    try:
        return _tex_items(read(latex), 0, extra)
    except LatexReadError:
        return latex


# --- Markdown: breaks chosen here ---------------------------------------------------------

#: Estimated widths, in em, of what MathJax draws.
_COMMAND_WIDTH = {
    r"\partial": 0.6,
    r"\mathcal": 0.8,
    r"\odot": 1.5,
    r"\cdot": 0.8,
    r"\quad": 1.0,
    r"\qquad": 2.0,
    r"\le": 1.3,
    r"\leftarrow": 1.6,
    r"\sum": 1.6,
    r"\top": 0.7,
    r"\mathbf": 0.6,
    r"\infty": 1.0,
    r"\left": 0.0,
    r"\right": 0.0,
    r"\vphantom": 0.0,
    r"\,": 0.2,
    r"\ ": 0.3,
    r"\;": 0.3,
    r"\!": -0.2,
    r"\text": 0.0,
    r"\operatorname": 0.0,
    r"\mathrm": 0.0,
}
#: Width of a line of a Markdown formula, in em (a GitHub page shows about 45).
MARKDOWN_WIDTH = 40.0


def estimate(latex: str) -> float:
    """A rough width in em of LaTeX math as MathJax shows it (scripts smaller, a fraction as wide
    as its wider part, a matrix as wide as its widest row)."""
    reader = _Reader(latex)
    return _estimate_tokens(reader)


def _estimate_tokens(reader: _Reader, scale: float = 1.0) -> float:
    width = 0.0
    while (token := reader.peek()) is not None:
        if token == "}":
            return width
        reader.take()
        if token.isspace():
            continue
        if token == "{":
            width += _estimate_tokens(reader, scale)
            if reader.peek() == "}":
                reader.take()
        elif token in ("^", "_"):
            width += _estimate_argument(reader, scale * 0.7)
        elif token in (r"\frac", r"\dfrac", r"\binom"):
            width += max(_estimate_argument(reader, scale), _estimate_argument(reader, scale)) + 0.3 * scale
        elif token in (r"\vphantom", r"\phantom"):
            _estimate_argument(reader, scale)
        elif token == r"\begin":
            width += _estimate_environment(reader, scale)
        elif token in (r"\text", r"\operatorname", r"\mathrm", r"\texttt"):
            width += 0.5 * scale * len(re.sub(r"\\.", "x", _raw_argument(reader))) + 0.2 * scale
        elif token in BINARY or token in RELATIONS:
            width += (_COMMAND_WIDTH.get(token, 0.8) + 0.5) * scale
        elif token.startswith("\\"):
            width += _COMMAND_WIDTH.get(token, 0.7) * scale
        else:
            width += (0.5 if token.isalnum() else 0.4) * scale
    return width


def _raw_argument(reader: _Reader) -> str:
    reader.skip_space()
    return reader.group()[1:-1] if reader.peek() == "{" else (reader.take() if reader.peek() else "")


def _estimate_argument(reader: _Reader, scale: float) -> float:
    reader.skip_space()
    if reader.peek() == "{":
        reader.take()
        width = _estimate_tokens(reader, scale)
        if reader.peek() == "}":
            reader.take()
        return width
    return _estimate_tokens(_Reader(reader.take()), scale) if reader.peek() is not None else 0.0


def _estimate_environment(reader: _Reader, scale: float) -> float:
    reader.group()  # the environment's name
    body, depth = [], 1
    while depth and reader.peek() is not None:
        token = reader.take()
        if token in (r"\begin", r"\end"):
            depth += 1 if token == r"\begin" else -1
            name = reader.group()
            if depth:
                body += [token, name]
            continue
        body.append(token)
    rows = "".join(body).split(r"\\")
    cells = [row.split("&") for row in rows]
    columns = max(len(row) for row in cells)
    widths = [max((estimate(row[c]) if c < len(row) else 0.0) for row in cells) for c in range(columns)]
    return (sum(widths) + 1.0 * columns + 1.0) * scale


@dataclass
class _Piece:
    """Markdown output: text up to a possible line end, its width, and that end's penalty."""

    text: str
    width: float
    penalty: int | None = None  # None: no line may end after this piece


def _md_pieces(items: list[Node], depth: int, limit: float) -> list[_Piece]:
    pieces: list[_Piece] = []

    def add(text: str, width: float) -> None:
        if pieces and pieces[-1].penalty is None:
            pieces[-1].text += text
            pieces[-1].width += width
        else:
            pieces.append(_Piece(text, width))

    for i, node in enumerate(items):
        if isinstance(node, Atom):
            add(node.text, estimate(node.text))
        elif (
            isinstance(node, Bracket)
            and _opens(node)
            or isinstance(node, Brace)
            and estimate(_source(node)) > 0.6 * limit
        ):
            opening, closing = _delimiters(*(("(", ")") if isinstance(node, Bracket) else ("[", "]")), node.items)
            scripts = node.scripts if isinstance(node, Bracket) else "_" + node.label
            add(opening, 0.4)
            for piece in _md_pieces(node.items, depth + 1, limit):
                add(piece.text, piece.width)
                pieces[-1].penalty = piece.penalty
            add(closing + scripts, 0.4 + estimate(scripts))
        else:
            add(_source(node), estimate(_source(node)))
        add(" " if node.gap else "", 0.0)
        kind = _break_kind(items, i)
        if kind is not None:
            pieces[-1].penalty = _penalty(kind, depth)
    return pieces


def _best_lines(pieces: list[_Piece], limit: float, indent: float) -> list[list[_Piece]]:
    """Lines within `limit` (continuations indented) with the least total penalty and the fewest
    lines, by dynamic programming over the possible line ends; a piece wider than a line gets a
    line of its own."""
    n = len(pieces)
    best: list[tuple[float, int] | None] = [None] * (n + 1)  # cost of setting pieces[:k], where the last line starts
    best[0] = (0.0, 0)
    for start in range(n):
        reached = best[start]
        if reached is None or (start and pieces[start - 1].penalty is None):
            continue
        width = indent if start else 0.0
        for end in range(start, n):
            width += pieces[end].width
            if width > limit and end > start:
                break
            if end < n - 1 and pieces[end].penalty is None:
                continue
            penalty = pieces[end].penalty if end < n - 1 else 0
            cost = reached[0] + 1000.0 + (penalty or 0) + (limit - width) ** 2 * 0.1 * (end < n - 1)
            known = best[end + 1]
            if known is None or cost < known[0]:
                best[end + 1] = (cost, start)
    if best[n] is None:
        return [pieces]
    lines, end = [], n
    while end:
        line = best[end]
        assert line is not None  # every line end on the way back was reached
        start = line[1]
        lines.append(pieces[start:end])
        end = start
    return lines[::-1]


def markdown_lines(latex: str, limit: float = MARKDOWN_WIDTH) -> str:
    """The formula for one `$$...$$` block: unchanged when it fits `limit` em, else an `aligned`
    block whose rows are its lines (continuations indented)."""
    if estimate(latex) <= limit:
        return latex
    try:
        pieces = _md_pieces(read(latex), 0, limit)
    except LatexReadError:
        return latex
    lines = _best_lines(pieces, limit, 2.0)
    if len(lines) == 1:
        return latex
    rows = ["".join(piece.text for piece in line).strip() for line in lines]
    return r"\begin{aligned} & " + r" \\ & \quad ".join(rows) + r" \end{aligned}"
