"""Safe, bounded YAML reading that remembers the line of every key and list item.

PyYAML's composer builds the node graph; we construct Python values ourselves so
that we can (1) record `key path -> line` for error messages, (2) refuse every tag
that is not plain YAML (no `!!python/...`, no local `!tags`), (3) count nodes with
aliases expanded, which bounds "billion laughs" and recursive aliases, and
(4) refuse duplicate keys, which PyYAML silently accepts.

Before any node is built, the parser's events are counted (libyaml's C parser where PyYAML has
it): a spec of millions of values is refused in a fraction of a second, not after minutes and
gigabytes. Text may not hold control characters or lone surrogates, and a number may not be
written with more than MAX_LITERAL characters (Python refuses to read integers of thousands of
digits, and nothing in a spec needs them).
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from symbackprop.spec.errors import SpecError, quote

#: Largest spec file or text accepted, in bytes.
MAX_BYTES = 5 * 1024 * 1024
#: Most values (mappings, lists, scalars, keys) a spec may expand to, aliases included.
MAX_NODES = 200_000
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 50
#: Longest number, in characters as written (digits, sign, point and exponent).
MAX_LITERAL = 50

_Y = "tag:yaml.org,2002:"
_MAP, _SEQ, _MERGE = _Y + "map", _Y + "seq", _Y + "merge"
_STR, _INT, _FLOAT, _BOOL, _NULL, _TIME = (_Y + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
# YAML 1.2 reads 1e-3 as a number; PyYAML (YAML 1.1) reads it as text. Users mean the number.
_FLOAT_12 = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
# Values that are labels, not numbers, whatever they look like: a question id `1.10` stays "1.10"
# (read as a number it would become 1.1).
_VERBATIM = re.compile(r"^questions\[\d+\]\.id$")
# Control characters (tab, newline and carriage return aside) and lone surrogates: the first are
# invisible and break documents (a NUL ends a PDF build), the second cannot be written as UTF-8.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# libyaml's parser when PyYAML has it (ten times faster), else PyYAML's own.
_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def join(path: str, key: str) -> str:
    """The key path of `key` inside `path`: `layers[0]` + `units` -> `layers[0].units`."""
    return f"{path}.{key}" if path else key


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_Y) :] if tag.startswith(_Y) else tag


class _Builder:
    """Turns a composed node graph into dicts, lists and scalars, recording lines."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[str, int] = {}
        self.count = 0
        self.scalars = SafeConstructor()

    def fail(self, node: Node, path: str, message: str) -> NoReturn:
        raise SpecError(message, key=path, line=node.start_mark.line + 1, source=self.source)

    def build(self, node: Node, path: str, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            self.fail(
                node, path, f"the spec expands to more than {MAX_NODES} YAML values (aliases included); refusing it"
            )
        if depth > MAX_DEPTH:
            self.fail(node, path, f"nested more than {MAX_DEPTH} levels deep (a recursive alias?)")
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                self.refuse(node, path)
            items = []
            for index, item in enumerate(node.value):
                item_path = f"{path}[{index}]"
                self.lines[item_path] = item.start_mark.line + 1
                items.append(self.build(item, item_path, depth + 1))
            return items
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return self.mapping(node, path, depth)
        self.refuse(node, path)

    def refuse(self, node: Node, path: str) -> NoReturn:
        self.fail(
            node,
            path,
            f"tag {_short_tag(node.tag)!r} is not allowed (only plain YAML: mappings, lists, "
            "strings, numbers, true/false and null)",
        )

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        explicit: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE and isinstance(key_node, ScalarNode):
                merged = {**self.merge(value_node, path, depth), **merged}
                continue
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, path, "a key must be a plain name, not a list or a mapping")
            if key_node.tag not in (_STR, _INT, _FLOAT, _BOOL, _NULL, _TIME):
                self.refuse(key_node, path)
            key = str(key_node.value)
            self.writable(key_node, path, key, "a key")
            key_path = join(path, key)
            line = key_node.start_mark.line + 1
            if key in explicit:
                self.fail(key_node, key_path, f"duplicate key {quote(key)} (first given at line {first_line[key]})")
            first_line[key] = line
            self.count += 1
            self.lines[key_path] = line
            explicit[key] = self.build(value_node, key_path, depth + 1)
        return {**merged, **explicit}

    def merge(self, node: Node, path: str, depth: int) -> dict[str, Any]:
        """`<<: *defaults` or `<<: [*a, *b]`: earlier mappings win, explicit keys win over all."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                self.fail(source, path, "a merge key '<<' needs a mapping or a list of mappings")
            result = {**self.build(source, path, depth + 1), **result}
        return result

    def writable(self, node: Node, path: str, text: str, what: str) -> None:
        problem = unwritable(text, what)
        if problem:
            self.fail(node, path, problem)

    def scalar(self, node: ScalarNode, path: str) -> Any:
        tag = node.tag
        if tag in (_INT, _FLOAT) and _VERBATIM.match(path):
            self.writable(node, path, node.value, "the text")
            return node.value
        if tag in (_INT, _FLOAT) or (tag == _STR and not node.style and _FLOAT_12.match(node.value)):
            if len(node.value) > MAX_LITERAL:
                self.fail(
                    node, path, f"a number written with {len(node.value)} characters; at most {MAX_LITERAL} are read"
                )
        if tag == _STR:
            if not node.style and _FLOAT_12.match(node.value):
                return float(node.value)
            self.writable(node, path, node.value, "the text")
            return node.value
        try:
            if tag == _TIME:
                return node.value
            if tag == _INT:
                return self.scalars.construct_yaml_int(node)
            if tag == _FLOAT:
                return self.scalars.construct_yaml_float(node)
            if tag == _BOOL:
                return self.scalars.construct_yaml_bool(node)
            if tag == _NULL:
                return None
        except (ValueError, KeyError, TypeError):
            self.fail(node, path, f"cannot read {quote(node.value)} as {_short_tag(tag)}")
        self.refuse(node, path)


def load_yaml(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """Parse one YAML document safely; return (value, {key path: 1-based line}).

    Raises SpecError for syntax errors, refused tags, oversized or over-nested input.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecError(f"the spec is larger than {MAX_BYTES // (1024 * 1024)} MB", line=None, source=source)
    try:
        node = _compose(text, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "unreadable YAML"
        if exc.problem and exc.context:
            at = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            message += f" ({exc.context}{at})"
        raise SpecError(f"YAML syntax error: {message}", line=mark.line + 1 if mark else None, source=source) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise SpecError(
            f"YAML syntax error: {exc.reason} (character {exc.character!r})", line=line, source=source
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML syntax error: {exc}", line=None, source=source) from None
    except RecursionError:
        raise SpecError(f"nested more than {MAX_DEPTH} levels deep", line=None, source=source) from None
    if node is None:
        raise SpecError("empty spec (no YAML document found)", line=1, source=source)
    builder = _Builder(source)
    return builder.build(node, "", 0), builder.lines


def unwritable(text: str, what: str = "the text") -> str | None:
    """What is wrong with the first control character or lone surrogate in `text`, if any."""
    bad = _UNWRITABLE.search(text)
    if bad is None:
        return None
    char = bad.group()
    kind = "half of a surrogate pair, not a character" if "\ud800" <= char <= "\udfff" else "a control character"
    return (
        f"{what} holds U+{ord(char):04X} at character {bad.start() + 1}: {kind}; control characters and lone "
        "surrogates are not allowed in a spec's text"
    )


def _count(text: str, loader: type, source: str) -> None:
    """Refuse a document of more than MAX_NODES values from the parser's events, before composing it."""
    count = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            count += 1
            if count > MAX_NODES:
                mark = event.start_mark
                raise SpecError(
                    f"the spec has more than {MAX_NODES} YAML values; refusing it",
                    line=mark.line + 1 if mark else None,
                    source=source,
                )


def _compose(text: str, source: str) -> Node | None:
    """The document's node graph, counted first. A syntax error is worded by PyYAML's own parser,
    whose messages say more than libyaml's ("expected <block end>, but found '-'")."""
    try:
        _count(text, _FAST, source)
        return yaml.compose(text, Loader=_FAST)
    except yaml.YAMLError:
        if _FAST is yaml.SafeLoader:
            raise
    return yaml.compose(text, Loader=yaml.SafeLoader)


def plain(value: Any, source: str = "<dict>") -> Any:
    """Copy an already-parsed spec (a dict from Python) into plain dicts, lists and scalars.

    Tuples and NumPy arrays become lists; the same node and depth limits as for YAML apply,
    so a self-referencing dict is refused instead of recursing forever.
    """
    count = 0

    def walk(item: Any, path: str, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise SpecError(f"the spec has more than {MAX_NODES} values", key=path, line=None, source=source)
        if depth > MAX_DEPTH:
            raise SpecError(
                f"nested more than {MAX_DEPTH} levels deep (a self-referencing dict?)",
                key=path,
                line=None,
                source=source,
            )
        if hasattr(item, "tolist") and not isinstance(item, (str, bytes)):
            item = item.tolist()
        if isinstance(item, dict):
            out = {}
            for key, sub in item.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise SpecError(f"a key must be a string, got {quote(key)}", key=path, line=None, source=source)
                problem = unwritable(str(key), "a key")
                if problem:
                    raise SpecError(problem, key=path, line=None, source=source)
                out[str(key)] = walk(sub, join(path, str(key)), depth + 1)
            return out
        problem = unwritable(item) if isinstance(item, str) else None
        if problem:
            raise SpecError(problem, key=path, line=None, source=source)
        if isinstance(item, (list, tuple)):
            return [walk(sub, f"{path}[{index}]", depth + 1) for index, sub in enumerate(item)]
        return item

    return walk(value, "", 0)
