"""What OCF 1.1 reload-agent needs to be honest: the parameters an instance runs with.

Pacemaker (2.1 and later, for agents whose meta-data says OCF 1.1 and advertises reload-agent)
calls reload-agent instead of stop + start when only parameters marked reloadable="1" changed, and
passes only the new values. So that an agent can tell what changed, and refuse a change it cannot
apply live, the framework records every declared parameter of an instance when a start (or
migrate_from, or reload-agent) succeeds and forgets it when a stop succeeds. The record lives
under HA_RSCTMP (cleared at boot, like every pseudo-resource state file), 0600; a secret value is
recorded only as a salted SHA-256 digest, enough to tell whether it changed.

Imported only by start, stop and reload-agent of agents that declare reloadable parameters.
"""

from __future__ import annotations

_SECRET = "sha256:"


def record_path(rsctmp: str, type_name: str, instance: str) -> str:
    """Where the parameters of an instance are recorded: one record per resource and node, without
    a clone's :N (every instance of a clone has the primitive's parameters, and Pacemaker may number
    the instance of an anonymous clone differently after a probe than at its start)."""
    safe = instance.split(":", 1)[0].replace("/", "_")
    return f"{rsctmp}/ocfkit-params/{type_name}-{safe}"


def _escape(text: str) -> str:
    # One line per parameter: newlines, tabs and backslashes inside a value are escaped.
    return text.encode("unicode_escape").decode("ascii")


def _unescape(text: str) -> str:
    return text.encode("ascii").decode("unicode_escape")


def _digest(salt: str, value: str) -> str:
    import hashlib

    return _SECRET + hashlib.sha256((salt + "\0" + value).encode("utf-8", "surrogateescape")).hexdigest()


def encode(values: dict[str, str | None], secrets: set[str]) -> str:
    """The record's text: a salt line, then name<TAB>value for every parameter that is set."""
    import os

    salt = os.urandom(16).hex()
    lines = [f"salt\t{salt}"]
    for name, value in values.items():
        if value is None:
            continue
        shown = _digest(salt, value) if name in secrets else _escape(value)
        lines.append(f"{name}\t{shown}")
    return "\n".join(lines) + "\n"


class Record:
    """The recorded parameters of an instance (None: unset)."""

    def __init__(self, text: str) -> None:
        self.salt = ""
        self.values: dict[str, str] = {}
        for line in text.splitlines():
            name, sep, value = line.partition("\t")
            if not sep:
                continue
            if name == "salt":
                self.salt = value
            else:
                self.values[name] = value

    def raw(self, name: str, *, secret: bool) -> str | None:
        """The recorded text of name (None when it was unset); a secret's is not recoverable."""
        if secret:
            raise LookupError(f"parameter {name} is secret: only whether it changed is recorded")
        v = self.values.get(name)
        return None if v is None else _unescape(v)

    def differs(self, name: str, current: str | None, *, secret: bool) -> bool:
        """Whether current is not what name was recorded as."""
        v = self.values.get(name)
        if v is None or current is None:
            return (v is None) != (current is None)
        if secret:
            return v != _digest(self.salt, current)
        return _unescape(v) != current
