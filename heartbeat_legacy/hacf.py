"""ha.cf (heartbeat 3.0.6): parse, write (keeping comments and layout), and validate by heartbeat's rules."""

from __future__ import annotations

import os

from heartbeat_legacy.files import split_lines
from heartbeat_legacy.findings import Finding

MEDIA = ("bcast", "mcast", "ucast", "serial")
KNOWN = {"logfacility", "logfile", "debugfile", "use_logd", "keepalive", "deadtime", "warntime", "initdead",
         "udpport", "baud", "bcast", "mcast", "ucast", "serial", "auto_failback", "node", "ping", "ping_group",
         "respawn", "apiauth", "autojoin", "debug", "realtime", "coredumps", "compression",
         "compression_threshold", "msgfmt", "uuidfrom", "watchdog", "crm", "pacemaker", "deadping", "hopfudge",
         "stonith", "stonith_host", "traditional_compression", "conn_logd_time", "hbgenmethod", "max_rexmit_delay",
         "rtprio", "generation_method", "logfile_max"}
DEPRECATED = {"ping_group", "deadping", "hopfudge", "stonith", "stonith_host"}
TRUE = {"true", "on", "yes", "y", "1"}
FALSE = {"false", "off", "no", "n", "0"}


class Line:
    """One line: a directive with its words and trailing comment, or only a comment/blank (directive "")."""

    __slots__ = ("directive", "args", "comment", "raw", "number")

    def __init__(self, directive: str, args: list[str], comment: str = "", raw: str | None = None,
                 number: int = 0) -> None:
        self.directive, self.args, self.comment, self.raw, self.number = directive, args, comment, raw, number

    def render(self) -> str:
        """The line's text: unchanged lines as read, new ones in heartbeat's usual layout."""
        if self.raw is not None:
            return self.raw
        if not self.directive:
            return f"# {self.comment}" if self.comment else ""
        text = f"{self.directive:<15} {' '.join(self.args)}"
        return text + (f" # {self.comment}" if self.comment else "")


class HaCf:
    """A parsed ha.cf."""

    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines

    def values(self, directive: str) -> list[list[str]]:
        """The argument lists of every occurrence of directive."""
        return [ln.args for ln in self.lines if ln.directive == directive]

    def first(self, directive: str) -> list[str] | None:
        """The arguments of the first occurrence, or None."""
        v = self.values(directive)
        return v[0] if v else None

    @property
    def nodes(self) -> list[str]:
        """Every node named by `node` lines."""
        return [n for args in self.values("node") for n in args]

    def set(self, directive: str, *args: str) -> None:
        """Replace the first occurrence (or append the directive)."""
        for ln in self.lines:
            if ln.directive == directive:
                ln.args, ln.raw = list(args), None
                return
        self.lines.append(Line(directive, list(args)))


def parse(text: str) -> HaCf:
    """Parse ha.cf text."""
    lines = []
    for number, raw in enumerate(split_lines(text), start=1):
        body, hash_, comment = raw.partition("#")
        words = body.split()
        lines.append(Line(words[0].lower() if words else "", words[1:], comment.strip() if hash_ else "", raw,
                          number))
    return HaCf(lines)


def dump(cf: HaCf) -> str:
    """Write ha.cf text."""
    return "".join(ln.render() + "\n" for ln in cf.lines)


def _is_number(text: str) -> bool:
    """ASCII digits only (str.isdigit() also takes '²', which int() refuses), short enough for int()."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def parse_time_ms(text: str) -> int:
    """heartbeat's time syntax: seconds (2, 1.7) or milliseconds (2000ms)."""
    t = text.strip().lower()
    scale = 1000.0
    if t.endswith("ms"):
        t, scale = t[:-2], 1.0
    elif t.endswith("s"):
        t = t[:-1]
    # heartbeat reads a plain decimal number: no signs, exponents, inf or nan (which float() takes).
    if not t or len(t) > 20 or not all(c in "0123456789." for c in t) or t.count(".") > 1 or t == ".":
        raise ValueError(f"{text!r} is not a time")
    return int(float(t) * scale)


def validate(cf: HaCf, *, hostname: str | None = None, file: str = "ha.cf",
             root: str = "/") -> list[Finding]:
    """Check ha.cf as heartbeat 3.0.6 would (config.c); errors stop heartbeat from starting."""
    out: list[Finding] = []

    def err(line: int, msg: str) -> None:
        out.append(Finding("error", file, line, msg))

    def warn(line: int, msg: str) -> None:
        out.append(Finding("warning", file, line, msg))

    times: dict[str, int] = {}
    media_seen = 0
    for ln in cf.lines:
        d = ln.directive
        if not d:
            continue
        if d not in KNOWN:
            err(ln.number, f"unknown directive {d!r}")
            continue
        if d in DEPRECATED:
            warn(ln.number, f"{d} is deprecated")
        if d in ("keepalive", "deadtime", "warntime", "initdead"):
            try:
                times[d] = parse_time_ms(ln.args[0])
            except (ValueError, IndexError):
                err(ln.number, f"{d}: {' '.join(ln.args)!r} is not a time (2, 1.5 or 2000ms)")
        if d in MEDIA:
            media_seen += 1
            if not ln.args:
                err(ln.number, f"{d} needs an interface")
        if d == "udpport" and media_seen:
            warn(ln.number, "udpport must come before the bcast/ucast lines it applies to")
        if d == "mcast":
            if len(ln.args) != 5:
                err(ln.number, "mcast takes DEV GROUP PORT TTL LOOP")
            elif not (_is_number(ln.args[3]) and 1 <= int(ln.args[3]) <= 255) or ln.args[4] not in ("0", "1"):
                err(ln.number, "mcast TTL must be 1..255 and LOOP 0 or 1")
        if d == "ucast" and len(ln.args) != 2:
            err(ln.number, "ucast takes DEV PEER-ADDRESS")
        if d == "auto_failback" and ln.args and ln.args[0].lower() not in TRUE | FALSE | {"legacy"}:
            err(ln.number, f"auto_failback {ln.args[0]!r}: use on or off")
        if d == "auto_failback" and ln.args and ln.args[0].lower() == "legacy":
            warn(ln.number, "auto_failback legacy is deprecated: use on or off")
        if d == "respawn":
            if len(ln.args) < 2:
                err(ln.number, "respawn takes USER COMMAND")
            else:
                path = ln.args[1]
                full = os.path.join(root, path.lstrip("/"))
                if not path.startswith("/"):
                    err(ln.number, f"respawn command {path} must be an absolute path")
                elif "\0" in path:
                    err(ln.number, "respawn command contains a NUL byte")
                elif not os.access(full, os.X_OK):
                    hint = ""
                    if path.startswith("/usr/lib/heartbeat/") and os.access(
                            os.path.join(root, "usr/libexec/heartbeat", os.path.basename(path)), os.X_OK):
                        hint = f" (Debian 12 has it as /usr/libexec/heartbeat/{os.path.basename(path)})"
                    err(ln.number, f"respawn command {path} is not executable{hint}")
    if not media_seen:
        err(0, "no heartbeat media defined (bcast, mcast, ucast or serial)")
    autojoin = (cf.first("autojoin") or ["none"])[0].lower()
    if not cf.nodes and autojoin != "any":
        err(0, "no nodes defined")
    if hostname and cf.nodes and hostname.lower() not in (n.lower() for n in cf.nodes):
        err(0, f"this node ({hostname}) is not in the node list {', '.join(cf.nodes)}")
    keepalive = times.get("keepalive", 1000)
    deadtime = times.get("deadtime", 30000)
    if deadtime <= 2 * keepalive:
        err(0, f"deadtime ({deadtime} ms) must be more than twice keepalive ({keepalive} ms)")
    if "initdead" in times:
        if times["initdead"] < deadtime:
            err(0, f"initdead ({times['initdead']} ms) must be at least deadtime ({deadtime} ms)")
        elif times["initdead"] < 10000:
            warn(0, f"initdead ({times['initdead']} ms) may be too small")
    if "warntime" in times and times["warntime"] <= 0:
        err(0, "warntime must be positive")
    if "warntime" in times and times["warntime"] >= deadtime:
        warn(0, f"warntime ({times['warntime']} ms) is not below deadtime ({deadtime} ms): it never warns")
    if not cf.first("auto_failback"):
        warn(0, "auto_failback is not set: heartbeat defaults to the deprecated legacy mode")
    return out
