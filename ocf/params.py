"""Declarative, typed instance parameters: a Param reads OCF_RESKEY_<name> lazily and parses it."""

from __future__ import annotations

_TRUE = ("yes", "true", "1", "on", "ja", "y")
_FALSE = ("no", "false", "0", "off", "nein", "n")


class Parser:
    """Turns the text of a parameter into a value; subclasses raise ValueError on bad input."""

    content_type = "string"  # OCF content type (string, integer, boolean, select)
    options: tuple[str, ...] = ()

    def parse(self, text: str):
        """Return the value that text stands for."""
        return text

    def hint(self) -> str:
        """A short description of the accepted values, appended to the meta-data longdesc."""
        return ""


class _String(Parser):
    pass


class _Boolean(Parser):
    content_type = "boolean"

    def parse(self, text: str) -> bool:
        t = text.strip().lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        raise ValueError("expected a boolean (yes/no, true/false, 1/0, on/off)")


def is_true(text: str | None) -> bool:
    """ocf_is_true: yes, true, 1, on, ja (any case) are true; anything else is false."""
    return text is not None and text.strip().lower() in _TRUE


class _Integer(Parser):
    content_type = "integer"

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low, self.high = low, high

    def parse(self, text: str) -> int:
        try:
            v = int(text.strip(), 10)
        except ValueError:
            raise ValueError("expected an integer") from None
        if self.low is not None and v < self.low:
            raise ValueError(f"must be at least {self.low}")
        if self.high is not None and v > self.high:
            raise ValueError(f"must be at most {self.high}")
        return v

    def hint(self) -> str:
        if self.low is not None and self.high is not None:
            return f"An integer from {self.low} to {self.high}."
        if self.low is not None:
            return f"An integer, at least {self.low}."
        if self.high is not None:
            return f"An integer, at most {self.high}."
        return ""


class _Choice(Parser):
    content_type = "select"

    def __init__(self, *options: str, case_sensitive: bool = False) -> None:
        self.options = tuple(options)
        self.case_sensitive = case_sensitive

    def parse(self, text: str) -> str:
        t = text.strip()
        for o in self.options:
            if t == o or (not self.case_sensitive and t.lower() == o.lower()):
                return o
        raise ValueError("expected one of " + ", ".join(self.options))

    def hint(self) -> str:
        return "One of: " + ", ".join(self.options) + "."


_UNITS = {"ms": 0.001, "msec": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0,
          "hr": 3600.0, "d": 86400.0, "": 1.0}


def parse_duration(text: str) -> float:
    """Parse a time like Pacemaker's: a number with an optional ms/s/m/h/d suffix (seconds)."""
    t = text.strip().lower()
    i = len(t)
    while i and not (t[i - 1].isdigit() or t[i - 1] == "."):
        i -= 1
    num, unit = t[:i].strip(), t[i:].strip()
    if unit not in _UNITS or not num:
        raise ValueError("expected a time such as 10, 10s, 500ms, 5m or 1h")
    try:
        v = float(num)
    except ValueError:
        raise ValueError("expected a time such as 10, 10s, 500ms, 5m or 1h") from None
    if v < 0:
        raise ValueError("must not be negative")
    return v * _UNITS[unit]


class _Duration(Parser):
    def parse(self, text: str) -> float:
        return parse_duration(text)

    def hint(self) -> str:
        return "A time: a number of seconds, or with a suffix ms, s, m, h."


def _inet_pton(family: int, text: str) -> bytes:
    import _socket  # the C module: socket.py would import enum

    return _socket.inet_pton(family, text)


def canonical_ip(text: str) -> str:
    """Return the canonical text form of an IPv4 or IPv6 address; ValueError if it is not one."""
    import _socket

    t = text.strip()
    for fam in (_socket.AF_INET, _socket.AF_INET6):
        try:
            return _socket.inet_ntop(fam, _socket.inet_pton(fam, t))
        except OSError:
            continue
    raise ValueError("expected an IPv4 or IPv6 address")


def ip_version(address: str) -> int:
    """4 or 6: the IP version of an address (or address/prefix) written as text."""
    return 6 if ":" in address else 4


def canonical_network(text: str) -> str:
    """An address, or address/prefix with a prefix length the version allows, in canonical form;
    ValueError if it is neither."""
    addr, sep, prefix = text.strip().partition("/")
    ip = canonical_ip(addr)
    if not sep:
        return ip
    if not prefix.isdigit() or int(prefix) > (128 if ip_version(ip) == 6 else 32):
        raise ValueError("bad prefix length")
    return f"{ip}/{int(prefix)}"


class _IPAddress(Parser):
    def __init__(self, version: int | None = None) -> None:
        self.version = version

    def parse(self, text: str) -> str:
        v = canonical_ip(text)
        if self.version and ip_version(v) != self.version:
            raise ValueError(f"expected an IPv{self.version} address")
        return v

    def hint(self) -> str:
        return {4: "An IPv4 address.", 6: "An IPv6 address."}.get(self.version or 0, "An IPv4 or IPv6 address.")


class _Path(Parser):
    def __init__(self, absolute: bool = True) -> None:
        self.absolute = absolute

    def parse(self, text: str) -> str:
        t = text.strip()
        if "\0" in t:
            raise ValueError("contains a NUL byte")
        if self.absolute and not t.startswith("/"):
            raise ValueError("expected an absolute path")
        return t

    def hint(self) -> str:
        return "An absolute path." if self.absolute else ""


class _Words(Parser):
    def parse(self, text: str) -> list[str]:
        return text.replace(",", " ").split()


string = _String()
boolean = _Boolean()
duration = _Duration()
ip_address = _IPAddress()
ipv4_address = _IPAddress(4)
ipv6_address = _IPAddress(6)
words = _Words()


def integer(low: int | None = None, high: int | None = None) -> Parser:
    """An integer, optionally bounded (inclusive)."""
    return _Integer(low, high)


def choice(*options: str, case_sensitive: bool = False) -> Parser:
    """One of a fixed set of words (OCF 1.1 select)."""
    return _Choice(*options, case_sensitive=case_sensitive)


def path(*, absolute: bool = True) -> Parser:
    """A filesystem path (existence is an environment check, not syntax)."""
    return _Path(absolute)


class Param:
    """One instance parameter; as a class attribute of an Agent it reads as the parsed value."""

    def __init__(self, parser: Parser = string, *, default: str | None = None, required: bool = False,
                 unique: bool = False, unique_group: str | None = None, reloadable: bool = False,
                 secret: bool = False, deprecated: bool = False, replaced_by: str | None = None,
                 shortdesc: str = "", longdesc: str = "", name: str = "") -> None:
        self.parser = parser
        self.default = default
        self.required = required
        self.unique = unique
        self.unique_group = unique_group
        self.reloadable = reloadable
        self.secret = secret
        self.deprecated = deprecated or replaced_by is not None
        self.replaced_by = replaced_by
        self.shortdesc = shortdesc
        self.longdesc = longdesc
        # The OCF name; defaults to the attribute name. Give it explicitly when the OCF name would
        # clash with the Agent API (portblock's "action" parameter).
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        if not self.name:
            self.name = name

    def __get__(self, agent, owner=None):
        if agent is None:
            return self
        return agent.param(self.name)

    def raw(self, env) -> str | None:
        """The text set for this parameter, or None when unset or empty."""
        v = env.get("OCF_RESKEY_" + self.name)
        if v is None or v.strip() == "":
            return None
        return v

    def parse(self, text: str):
        """Parse text into the value; raise ValueError with a message naming the problem."""
        return self.parser.parse(text)
