"""Command lines as text, for logs and exit reasons."""

from __future__ import annotations

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def quote_argv(argv: list[str] | tuple[str, ...]) -> str:
    """Join argv for logs and messages, quoted like shlex.join (without importing re)."""
    out = []
    for arg in argv:
        if arg and all(c in _SAFE for c in arg):
            out.append(arg)
        else:
            out.append("'" + arg.replace("'", "'\"'\"'") + "'")
    return " ".join(out)
