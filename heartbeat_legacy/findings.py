"""Validation findings shared by the ha.cf and authkeys checkers."""

from __future__ import annotations


class Finding:
    """One problem: severity (error or warning), where, and a message a human can act on."""

    __slots__ = ("severity", "file", "line", "message")

    def __init__(self, severity: str, file: str, line: int, message: str) -> None:
        self.severity, self.file, self.line, self.message = severity, file, line, message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{self.severity}: {where}: {self.message}"

    def __repr__(self) -> str:
        return f"Finding({self.severity!r}, {self.file!r}, {self.line}, {self.message!r})"
