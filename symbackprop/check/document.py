"""A solution file cut into what `check` reads: math (display, environments, inline) and the
prose around it, each piece with its line.

Markdown and LaTeX are both read: `$$..$$`, `\\[..\\]`, `\\(..\\)`, `$..$`, the math
environments (align, equation, gather, ... with or without *), and in Markdown fenced code
blocks, whose lines are read as plain-text equations (`W_1 = [ 0.5  0.2 ]`, continued by lines
that start with `[`, as `symbackprop numeric` prints them). A prose line that starts with a
name and `=` is read as a plain-text equation too. Nothing is ever included, run or expanded:
`\\input` and its relatives make the file unreadable, because what they would bring in is not
in it.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

from symbackprop.check.limits import MAX_BYTES, CheckError

#: Most \\newcommand definitions looked at for math arguments.
MAX_MACROS = 200
#: Environments whose body is math.
MATH_ENVIRONMENTS = frozenset(
    name + star
    for name in (
        "equation",
        "align",
        "gather",
        "multline",
        "eqnarray",
        "flalign",
        "alignat",
        "displaymath",
        "math",
        "dmath",
    )
    for star in ("", "*")
)
#: Commands that would bring in or send out text the file does not hold.
REFUSED = (
    "input",
    "include",
    "includeonly",
    "subfile",
    "subimport",
    "import",
    "inputminted",
    "write18",
    "openin",
    "openout",
    "immediate",
    "read",
    "lstinputlisting",
    "verbatiminput",
)

_WRITERS = frozenset({"write18", "openout", "immediate", "openin", "read"})
_REFUSED = re.compile(r"\\(" + "|".join(REFUSED) + r")(?![A-Za-z])")
_BEGIN_END = re.compile(r"\\(begin|end)\s*\{([^{}\n]{1,40})\}")
_FENCE = re.compile(r"^\s*(```|~~~)")
#: A plain-text equation: a name (letters, digits, _ ^ { } ( ) ' \ / and the like) then `=`.
_PLAIN_EQUATION = re.compile(r"^[\s>*+-]*(?:\*\*)?[A-Za-z\\][\w\\{}^()'/,.]{0,60}\s*(?:=|:=|\\approx|≈)(?!=)")


@dataclass(frozen=True)
class Segment:
    """One piece of the solution: `math` (LaTeX math), `plain` (a plain-text equation) or
    `prose` (a line of text, math removed); `line` is where it starts, from 1."""

    kind: str
    text: str
    line: int


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


class _Lines:
    """Line numbers of offsets in one text, found by bisection (a long file is counted once)."""

    def __init__(self, text: str) -> None:
        self.breaks = [match.start() for match in re.finditer("\n", text)]

    def at(self, offset: int) -> int:
        return bisect.bisect_left(self.breaks, offset) + 1


def _strip_comments(text: str) -> str:
    """LaTeX comments removed (an unescaped % to the end of the line); lines are kept."""
    return re.sub(r"(?<!\\)%[^\n]*", "", text)


def _check_refused(text: str) -> None:
    match = _REFUSED.search(text)
    if match:
        command = match.group(1)
        if command in _WRITERS:
            raise CheckError(
                f"\\{command}: check never runs, opens or writes anything a solution asks for; remove it",
                _line_at(text, match.start()),
            )
        raise CheckError(
            f"\\{command}: check reads one self-contained file and never opens or includes another; "
            f"paste the content that \\{command} would bring in",
            _line_at(text, match.start()),
        )


def _check_environments(text: str) -> None:
    """Every \\begin{X} has its \\end{X}, in order; else the first mismatch, with its line."""
    stack: list[tuple[str, int]] = []
    for match in _BEGIN_END.finditer(text):
        kind, name = match.group(1), match.group(2).strip()
        if kind == "begin":
            stack.append((name, match.start()))
            continue
        if not stack:
            raise CheckError(f"\\end{{{name}}} without a \\begin{{{name}}}", _line_at(text, match.start()))
        opened, where = stack.pop()
        if opened != name:
            raise CheckError(
                f"\\begin{{{opened}}} (line {_line_at(text, where)}) is closed by \\end{{{name}}}: "
                f"the environments are unbalanced",
                _line_at(text, match.start()),
            )
    if stack:
        name, where = stack[-1]
        raise CheckError(f"\\begin{{{name}}} is never closed by \\end{{{name}}}", _line_at(text, where))


def is_latex(text: str, filename: str | None = None) -> bool:
    """A LaTeX source (comments with %, no Markdown code fences) rather than Markdown."""
    if filename is not None and filename.lower().endswith((".tex", ".latex", ".ltx")):
        return True
    return "\\documentclass" in text or "\\begin{document}" in text


def read_document(text: str, filename: str | None = None) -> list[Segment]:
    """The segments of a solution in document order; raises CheckError for a file that cannot be read."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise CheckError(
            f"the solution is {size:,} bytes; the limit is {MAX_BYTES:,} bytes (a worked solution is a few pages)"
        )
    if "\x00" in text:
        raise CheckError(
            "the solution holds NUL bytes: expected a text file (Markdown or LaTeX)", _line_at(text, text.index("\x00"))
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    latex = is_latex(text, filename)
    if latex:
        text = _strip_comments(text)
    _check_refused(text)
    _check_environments(text)
    segments: list[Segment] = []
    scanner = _Scanner(text, math_macros(text) if latex else {})
    if latex:
        scanner.scan(0, len(text), segments)
        return segments
    lines = text.split("\n")
    start = 0  # offset of the current line
    prose_from: int | None = 0
    fence: str | None = None
    code: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        match = _FENCE.match(line)
        if fence is None and match:
            if prose_from is not None:
                scanner.scan(prose_from, start, segments)
            fence, code, prose_from = match.group(1), [], None
        elif fence is not None and line.strip().startswith(fence):
            segments += _code_block(code)
            fence, prose_from = None, start + len(line) + 1
        elif fence is not None:
            code.append((number, line))
        start += len(line) + 1
    if fence is not None:
        raise CheckError(f"a code block opened with {fence} is never closed", code[0][0] - 1 if code else len(lines))
    if prose_from is not None and prose_from < len(text):
        scanner.scan(prose_from, len(text), segments)
    return segments


def _code_block(lines: list[tuple[int, str]]) -> list[Segment]:
    """Lines of a fenced block: plain equations (a line starting with `[` continues the one
    before) and prose."""
    out: list[Segment] = []
    for number, line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and out and out[-1].kind == "plain":
            last = out[-1]
            out[-1] = Segment("plain", last.text + "\n" + stripped, last.line)
        elif _PLAIN_EQUATION.match(line):
            out.append(Segment("plain", stripped, number))
        elif stripped:
            out.append(Segment("prose", stripped, number))
    return out


#: Closers of the openers of math in running text.
_CLOSERS = {"$$": re.compile(r"\$\$"), "\\[": re.compile(r"\\\]"), "\\(": re.compile(r"\\\)"), "$": re.compile(r"\$")}


def _escaped(text: str, offset: int) -> bool:
    """Is the character at `offset` escaped by an odd run of backslashes before it? \\$ is a dollar
    sign and \\\\[2pt] a line break, but \\\\$ is a line break and then math."""
    count = 0
    while offset - count - 1 >= 0 and text[offset - count - 1] == "\\":
        count += 1
    return count % 2 == 1


_NEWCOMMAND = re.compile(r"\\(?:re)?newcommand\*?\s*\{?\s*\\([A-Za-z]+)\s*\}?\s*\[(\d)\]\s*(?:\[[^\]]*\]\s*)?\{")


def _group(text: str, start: int, stop: int) -> int | None:
    """The offset after the brace group opening at `start` (spaces before it skipped by the caller)."""
    if start >= stop or text[start] != "{":
        return None
    depth = 0
    for k in range(start, stop):
        char = text[k]
        if char == "\\":
            continue
        if char == "{" and not _escaped(text, k):
            depth += 1
        elif char == "}" and not _escaped(text, k):
            depth -= 1
            if depth == 0:
                return k + 1
    return None


def math_macros(text: str) -> dict[str, tuple[int, frozenset[int]]]:
    """The document's own commands that set an argument as math, `\\newcommand{\\fiteq}[1]{$#1$}`:
    name -> (number of arguments, which of them are math). Found from the definitions' text (math
    delimiters around #k, or #k passed to another such command); nothing is expanded or run."""
    bodies: dict[str, tuple[int, str]] = {}
    for match in itertools.islice(_NEWCOMMAND.finditer(text), MAX_MACROS):
        end = _group(text, match.end() - 1, len(text))
        if end is not None and end - match.end() < 2000:
            bodies[match.group(1)] = (int(match.group(2)), text[match.end() : end - 1])
    found: dict[str, tuple[int, frozenset[int]]] = {}
    for _ in range(3):  # a command may pass its argument to another (\\form{..}{#2} -> \\fiteq{#2})
        for name, (count, body) in bodies.items():
            math = set()
            for k in range(1, count + 1):
                inner = _Scanner(body, found)
                pieces: list[Segment] = []
                try:
                    inner.scan(0, len(body), pieces)
                except CheckError:
                    continue
                if any(f"#{k}" in piece.text for piece in pieces if piece.kind == "math"):
                    math.add(k)
            if math:
                found[name] = (count, frozenset(math))
    return found


class _Scanner:
    """Math and prose of running text, with the document's math-setting commands as math too."""

    def __init__(self, text: str, macros: dict[str, tuple[int, frozenset[int]]]) -> None:
        self.text = text
        self.where = _Lines(text)
        self.macros = macros
        names = "|".join(sorted(map(re.escape, macros), key=len, reverse=True))
        extra = rf"|\\({names})(?![A-Za-z])" if names else ""
        self.openers = re.compile(r"\$\$|\\\[|\\\(|\$|\\begin\s*\{([A-Za-z]+\*?)\}" + extra)

    def _opener(self, pos: int, stop: int) -> re.Match[str] | None:
        text = self.text
        match = self.openers.search(text, pos, stop)
        while match and (
            match.group(1) is not None and match.group(1) not in MATH_ENVIRONMENTS or _escaped(text, match.start())
        ):
            match = self.openers.search(text, match.end(), stop)
        return match

    def scan(self, start: int, stop: int, segments: list[Segment]) -> None:
        """The segments of text[start:stop] (no code blocks), appended in order."""
        text = self.text
        pos = start
        while True:
            match = self._opener(pos, stop)
            _prose(text, pos, match.start() if match else stop, self.where, segments)
            if match is None:
                return
            if match.lastindex == 2:
                pos = self._macro(match, stop, segments)
                continue
            opener = match.group(0)
            if match.group(1) is not None:
                close = re.compile(r"\\end\s*\{" + re.escape(match.group(1)) + r"\}")
            else:
                close = _CLOSERS[opener]
            end = close.search(text, match.end(), stop)
            while end is not None and _escaped(text, end.start()):
                end = close.search(text, end.end(), stop)
            line = self.where.at(match.start())
            if end is None or (opener == "$" and "\n\n" in text[match.end() : end.start()]):
                raise CheckError(f"math opened with {opener} is never closed", line)
            segments.append(Segment("math", text[match.end() : end.start()], line))
            pos = end.end()

    def _macro(self, match: re.Match[str], stop: int, segments: list[Segment]) -> int:
        """\\fiteq{..}: its math arguments as math, the others as prose; the offset after it."""
        text = self.text
        count, math = self.macros[match.group(2)]
        pos = match.end()
        for k in range(1, count + 1):
            while pos < stop and text[pos] in " \t\n":
                pos += 1
            end = _group(text, pos, stop)
            if end is None:
                return pos  # not used with braces here: read on as text
            if k in math:
                segments.append(Segment("math", text[pos + 1 : end - 1], self.where.at(pos)))
            else:
                self.scan(pos + 1, end - 1, segments)
            pos = end
        return pos


def _prose(text: str, start: int, end: int, where: _Lines, segments: list[Segment]) -> None:
    """The lines of running text between two pieces of math: plain equations and prose. Only a
    piece that starts a line can be a plain equation (after `$W$ = ` the equation is not whole)."""
    if start >= end:
        return
    first_line = where.at(start)
    at_line_start = start == 0 or text[start - 1] == "\n"
    for k, line in enumerate(text[start:end].split("\n")):
        stripped = line.strip()
        if not stripped:
            continue
        if (
            (k > 0 or at_line_start)
            and stripped.startswith("[")
            and segments
            and segments[-1].kind == "plain"
            and segments[-1].line + segments[-1].text.count("\n") == first_line + k - 1
        ):
            last = segments[-1]  # W = [ 1 2 ] on one line, [ 3 4 ] on the next: one matrix
            segments[-1] = Segment("plain", last.text + "\n" + stripped, last.line)
            continue
        plain = (k > 0 or at_line_start) and _PLAIN_EQUATION.match(stripped)
        segments.append(Segment("plain" if plain else "prose", stripped, first_line + k))
