"""SpecError: one message that says what is wrong, where (file, line, key) and what was expected."""

from __future__ import annotations


class SpecError(ValueError):
    """A spec that cannot be used. str() is `file:line: key: message`."""

    def __init__(self, message: str, *, key: str = "", line: int | None = None, source: str = "<spec>") -> None:
        self.message = message
        self.key = key
        self.line = line
        self.source = source
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")
