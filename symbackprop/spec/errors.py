"""SpecError: one message that says what is wrong, where (file, line, key) and what was expected."""

from __future__ import annotations

#: Most characters of the user's own input a message quotes (a 5,000-character key or formula
#: is shown by its start and its length).
QUOTE = 80


def quote(value: object, limit: int = QUOTE) -> str:
    """`value` as repr() writes it, cut to about `limit` characters."""
    try:
        text = repr(value)
    except ValueError:  # an int with more digits than Python will print
        return "a very large integer"
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return text[: limit - 3] + "..." + size


def clip(text: object, limit: int = QUOTE) -> str:
    """`text` as it is (a target, an option's value), cut to about `limit` characters with its length said."""
    text = str(text)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


#: Most characters of a file name a message shows: a path is cut at its start, keeping the file's name.
PATH = 120


def clip_path(path: object, limit: int = PATH) -> str:
    """A file name for a message: whole up to `limit` characters, else its last part after "...", so the
    file's own name stays (.../exercises/bad.yaml)."""
    text = str(path)
    return text if len(text) <= limit else f"...{text[3 - limit :]}"


class SpecError(ValueError):
    """A spec that cannot be used. str() is `file:line: key: message`."""

    def __init__(self, message: str, *, key: str = "", line: int | None = None, source: str = "<spec>") -> None:
        self.message = message
        self.key = key if len(key) <= QUOTE else key[: QUOTE - 3] + "..."
        self.line = line
        self.source = source
        where = clip_path(source) if line is None else f"{clip_path(source)}:{line}"
        super().__init__(f"{where}: {self.key}: {message}" if key else f"{where}: {message}")
