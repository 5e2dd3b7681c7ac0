"""Every value of a description checked against the files it lands in, before anything is written.

One declaration (SCHEMA) says, for each key, what the value may be. A checker accepts only what every
file the value reaches can hold: node names go into corosync.conf, drbd.conf (`on NAME {`), ha.cf,
haresources (space-separated), crmsh text, CIB XML and pcs argv; paths into haresources tokens
(`::`-separated) and drbd.conf (`;` and `{` end a statement); secrets into authkeys (a newline would
start a new key line) or drbd.conf's quoted shared-secret. Unknown keys are errors too: a typo must
not silently drop a setting. Problems come back all at once, each with the description's file:line
(tomllib gives no positions, so line_of() finds the key by a bounded scan of the text).
"""

from __future__ import annotations

import ipaddress
import re

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
_PATH = re.compile(r"^/[A-Za-z0-9_.+/@-]*\Z")  # no ':' (haresources splits on '::'), no ';{}"' (drbd.conf)
_DEVPATH = re.compile(r"^/dev/[A-Za-z0-9_.+/@:-]*\Z")  # sbd devices may be by-path names with ':'
_IQN = re.compile(r"^(iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.-]*(:[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)*)?"
                  r"|eui\.[0-9A-Fa-f]{16})\Z")
_NIC = re.compile(r"^[A-Za-z0-9_.-]{1,15}\Z")
_WORD = re.compile(r"^[A-Za-z0-9_.@/+=,-]+\Z")  # a token for ha.cf / heartbeat lines
_SECRET = re.compile(r"^[^\s\"'\\;{}#$`]{1,64}\Z")  # drbd.conf's quoted shared-secret, targets.conf, authkeys


def name(v) -> str | None:
    if not isinstance(v, str) or not _NAME.match(v):
        return ("a name of letters, digits, '_', '.', '-' (not starting with '-' or '.'; at most 63) is needed: it "
                "goes into corosync.conf, drbd.conf, ha.cf, haresources, crmsh, CIB XML and pcs argv")
    return None


def path(v) -> str | None:
    if not isinstance(v, str) or not _PATH.match(v) or "/../" in v + "/":
        return ("an absolute path of letters, digits and _ . + @ - / is needed (no spaces, ':' that haresources "
                "splits on, or ';', '{', '\"' that end a drbd.conf statement)")
    return None


def devpath(v) -> str | None:
    if not isinstance(v, str) or not _DEVPATH.match(v) or "/../" in v + "/":
        return "a device path under /dev/ without spaces, quotes, ';' or '$' is needed"
    return None


def ip(v) -> str | None:
    try:
        ipaddress.ip_address(v if isinstance(v, str) else "")
    except ValueError:
        return "an IP address is needed"
    return None


def port(v) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        return "a port number 1..65535 is needed"
    return None


def ports(v) -> str | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return port(v)
    if not isinstance(v, str) or not re.match(r"^\d{1,5}(,\d{1,5})*\Z", v):
        return "a port or comma-separated ports (e.g. \"3260\") is needed"
    return None


def integer(low: int, high: int):
    def check(v) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            return f"an integer {low}..{high} is needed"
        return None
    return check


def boolean(v) -> str | None:
    return None if isinstance(v, bool) else "true or false is needed"


def choice(*options: str):
    def check(v) -> str | None:
        return None if v in options else f"one of {', '.join(options)} is needed"
    return check


def iqn(v) -> str | None:
    if not isinstance(v, str) or not _IQN.match(v) or len(v) > 223:
        return "an iSCSI name (iqn.YYYY-MM.reversed.domain[:id] in lower case, or eui.<16 hex>) is needed"
    return None


def nic(v) -> str | None:
    if isinstance(v, str) and _NIC.match(v):
        return None
    return "an interface name (at most 15 of [A-Za-z0-9_.-]) is needed"


def secret(v) -> str | None:
    if not isinstance(v, str) or not _SECRET.match(v):
        return ("1 to 64 characters without spaces, quotes, backslash, ';', '{', '}', '#', '$' or '`' are needed "
                "(a newline in authkeys starts a new key line; drbd.conf and targets.conf end values there)")
    return None


def text(v) -> str | None:
    """A parameter value for crmsh, CIB XML and pcs: any printable text (each renderer quotes it). Not
    printable are control characters and every line separator Python knows (NEL, U+2028...): a tool
    that splits lines with str.splitlines() would otherwise see two lines."""
    if isinstance(v, (bool, int)):
        return None
    if not isinstance(v, str) or not v.isprintable():
        return "printable text on one line (no newline, control character or line separator) is needed"
    return None


def hb_line(v) -> str | None:
    """A heartbeat ha.cf line after its keyword: words, no comment sign, one line."""
    if not isinstance(v, str) or not v.strip() or v.splitlines() != [v] or any(not _WORD.match(w) for w in v.split()):
        return "words of [A-Za-z0-9_.@/+=,-] on one line are needed (ha.cf has no quoting; '#' starts a comment)"
    return None


def hb_time(low: int, high: int):
    """A heartbeat time: whole seconds (low..high), or a string of milliseconds such as "250ms"."""
    def run(v) -> str | None:
        if isinstance(v, int) and not isinstance(v, bool) and low <= v <= high:
            return None
        if isinstance(v, str) and re.fullmatch(r"[1-9][0-9]{1,6}ms", v) and int(v[:-2]) <= high * 1000:
            return None
        return f"whole seconds {low}..{high} or milliseconds such as \"250ms\" are needed"
    return run


def stonith_host(v) -> str | None:
    """ha.cf's stonith_host: HOST (or *) TYPE PARAMETERS...: words as in hb_line, '*' allowed first."""
    if not isinstance(v, str) or len(v.split()) < 2:
        return "HOST (or *) STONITH-TYPE [PARAMETERS...] is needed"
    host, rest = v.split(None, 1)
    return hb_line(rest) if host == "*" or not hb_line(host) else hb_line(host)


def initiator(v) -> str | None:
    if iqn(v) is None:
        return None
    try:
        ipaddress.ip_network(v if isinstance(v, str) else "", strict=False)
        return None
    except ValueError:
        return "an initiator IQN or an address/network (initiators.allow's forms) is needed"


def each(check):
    def run(v) -> str | None:
        if not isinstance(v, list):
            return "a list is needed"
        for x in v:
            problem = check(x)
            if problem:
                return f"{x!r}: {problem}"
        return None
    return run


def pcmk_delay(v) -> str | None:
    """Pacemaker's transition-delay: whole milliseconds or seconds, at most 10 s."""
    m = re.match(r"^(\d{1,5})(ms|s)\Z", v) if isinstance(v, str) else None
    if not m or int(m.group(1)) * (1 if m.group(2) == "ms" else 1000) > 10000:
        return "a delay such as \"250ms\" or \"1s\" (at most 10 s) is needed"
    return None


def free_table(value_check):
    """A table with any parameter names (checked as names) and values checked by value_check."""
    def run(v) -> str | None:
        if not isinstance(v, dict):
            return "a table is needed"
        for k, x in v.items():
            if not re.match(r"^[a-z][a-z0-9_]*\Z", k):
                return f"{k!r}: a parameter name of [a-z0-9_] is needed"
            problem = value_check(x)
            if problem:
                return f"{k}: {problem}"
        return None
    return run


class OneOrMany:
    """A key that is one table ([key]) or an array of tables ([[key]]), each with its own schema."""

    def __init__(self, table: dict, array_item: dict) -> None:
        self.table, self.array_item = table, array_item


_TARGET = {"iqn": iqn, "tid": integer(1, 65535), "incoming_user": name, "incoming_password": secret,
           "initiators": each(initiator),
           "lun": [{"lun": integer(0, 16383), "path": path, "type": choice("blockio", "fileio"),
                    "scsi_sn": lambda v: None if isinstance(v, str) and re.match(r"^[A-Za-z0-9_.-]{1,36}\Z", v)
                    else "a serial of at most 36 of [A-Za-z0-9_.-] is needed",
                    "scsi_id": lambda v: None if isinstance(v, str) and re.match(r"^[A-Za-z0-9_.-]{1,24}\Z", v)
                    else "an id of at most 24 of [A-Za-z0-9_.-] is needed"}]}
_SERVICE = {"vip": ip, "cidr_netmask": integer(0, 128), "nic": nic, "drbd": name, "volume_group": name,
            "portblock": ports}


# One declaration for every key. A dict is a table; [dict] is an array of tables; a function checks a value.
SCHEMA = {
    "cluster": {
        "name": name, "auto_failback": boolean, "target_backend": choice("iet", "tgt", "lio"),
        "pacemaker": choice("2.1", "3.0"), "provider": name, "drbd_version": choice("8.4", "9"),
        "tgt_daemon": choice("group", "clone"), "transition_delay": pcmk_delay, "op_timeout_factor": integer(1, 10),
        "fencing": lambda v: "moved: give [fencing.sbd] or [[fencing.device]], or fencing = \"none\" at the top",
    },
    "node": [{"name": name, "address": ip, "replication_address": ip}],
    "corosync": {"transport": choice("knet"), "token": integer(1000, 60000), "links": each(
        choice("address", "replication_address")), "crypto": boolean, "timestamp": choice("on", "hires")},
    "fencing": {
        "sbd": {"devices": each(devpath), "watchdog": devpath, "watchdog_timeout": integer(1, 120),
                "msgwait": integer(2, 240), "delay_max": integer(0, 120), "startmode": choice("always", "clean"),
                "stonith_timeout": integer(1, 3600), "monitor_interval": integer(1, 3600)},
        "device": [{"id": name, "agent": name, "fences": each(name), "host_map": free_table(name),
                    "params": free_table(text), "secrets": free_table(text), "monitor_interval": integer(1, 3600)}],
    },
    "heartbeat": {"logfacility": name, "logfile": path, "debugfile": path,
                  "autojoin": choice("none", "other", "any"), "keepalive": hb_time(1, 3600),
                  "deadtime": hb_time(1, 3600), "warntime": hb_time(1, 3600), "initdead": integer(1, 3600),
                  "media": each(hb_line), "respawn": each(hb_line), "ping": each(ip),
                  "stonith_host": each(stonith_host),
                  "auth_number": integer(1, 15), "auth_method": choice("crc", "md5", "sha1"), "auth_key": secret},
    "drbd": [{"name": name, "device": path, "disk": path, "port": port, "shared_secret": secret}],
    # Options of every DRBD resource (drbd.conf(5) of 8.4): the seed's net and syncer settings.
    "drbd_options": {"after_sb_0pri": choice("disconnect", "discard-younger-primary", "discard-older-primary",
                                             "discard-zero-changes", "discard-least-changes", "discard-local",
                                             "discard-remote"),
                     "after_sb_1pri": choice("disconnect", "consensus", "violently-as0p", "discard-secondary",
                                             "call-pri-lost-after-sb"),
                     "after_sb_2pri": choice("disconnect", "violently-as0p", "call-pri-lost-after-sb"),
                     "rr_conflict": choice("disconnect", "call-pri-lost", "violently"),
                     "verify_alg": choice("sha1", "sha256", "md5", "crc32c"),
                     "resync_rate": lambda v: None if isinstance(v, str) and re.fullmatch(r"[1-9][0-9]{0,6}[kKMG]?", v)
                     else "a rate such as \"100M\" (bytes per second, k/M/G) is needed",
                     "al_extents": integer(7, 6433), "on_io_error": choice("detach", "pass_on", "call-local-io-error"),
                     "degr_wfc_timeout": integer(0, 3600), "emergency_handlers": boolean},
    "filesystem": [{"drbd": name, "device": path, "directory": path, "fstype": lambda v: None if isinstance(
        v, str) and re.match(r"^[a-z0-9]{1,15}\Z", v) else "a filesystem type such as ext4 is needed"}],
    # One service group: a [service] table with the [[target]]s at the top. Several: [[service]] entries, each
    # with its name, the node it prefers and its own [[service.target]]s.
    "service": OneOrMany(_SERVICE, {**_SERVICE, "name": name, "prefer": name, "target": [_TARGET]}),
    "target": [_TARGET],
}


# Keys a table cannot do without (by table path, array indices left out).
REQUIRED = {
    ("node",): ("name", "replication_address"), ("drbd",): ("name", "device", "disk", "port"),
    ("filesystem",): ("directory",), ("service",): ("vip",), ("target",): ("iqn",),
    ("target", "lun"): ("lun", "path"), ("fencing", "device"): ("agent",), ("fencing", "sbd"): ("devices",),
    ("service", "target"): ("iqn",), ("service", "target", "lun"): ("lun", "path"),
}


def problems(desc: dict, schema=SCHEMA, where: tuple = ()) -> list[tuple[tuple, str]]:
    """[(key path, problem)] for every value that does not fit or is missing; [] when all is well."""
    out: list[tuple[tuple, str]] = []
    for key in REQUIRED.get(tuple(k for k in where if not isinstance(k, int)), ()):
        if key not in desc:
            out.append(((*where, key), "missing"))
    for key, value in desc.items():
        here = (*where, key)
        if not where and key == "fencing" and value == "none":
            continue
        rule = schema.get(key) if isinstance(schema, dict) else None
        if rule is None:
            known = ", ".join(sorted(schema)) if isinstance(schema, dict) else ""
            out.append((here, f"unknown key (known here: {known})"))
        elif isinstance(rule, OneOrMany):
            if isinstance(value, dict):
                out += problems(value, rule.table, here)
            elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
                for i, item in enumerate(value):
                    out += problems(item, rule.array_item, (*here, i))
            else:
                out.append((here, "a table ([...]) or an array of tables ([[...]]) is needed"))
        elif isinstance(rule, dict):
            if not isinstance(value, dict):
                out.append((here, "a table is needed"))
            else:
                out += problems(value, rule, here)
        elif isinstance(rule, list):
            if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
                out.append((here, "an array of tables ([[...]]) is needed"))
            else:
                for i, item in enumerate(value):
                    out += problems(item, rule[0], (*here, i))
        else:
            problem = rule(value)
            if problem:
                out.append((here, problem))
    return out


def dotted(key: tuple) -> str:
    """('node', 1, 'name') -> 'node[1].name'."""
    s = ""
    for k in key:
        s += f"[{k}]" if isinstance(k, int) else (f".{k}" if s else k)
    return s


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def line_of(text: str, key: tuple, *, limit: int = 100_000) -> int:
    """The line (1-based) of `key` in the TOML text, 0 when not found: the deepest table header on the
    key's way (an [[array]] header counted to the key's index), then `name =` below it before the next
    header. Bounded: at most `limit` lines are looked at."""
    lines = text.splitlines()[:limit]
    tables = [k for k in key if not isinstance(k, int)]
    wanted: dict[str, int] = {}  # array table name -> the index the key asks for
    for pos, k in enumerate(key):
        if isinstance(k, int):
            wanted[".".join(x for x in key[:pos] if not isinstance(x, int))] = k
    best_line, best_depth = 0, 0
    counts: dict[str, int] = {}
    for no, line in enumerate(lines, start=1):
        m = _HEADER.match(line)
        if not m:
            continue
        hname = m.group(2).replace(" ", "").replace('"', "")
        if m.group(1) == "[[":
            counts[hname] = counts.get(hname, -1) + 1
            for other in [o for o in counts if o.startswith(hname + ".")]:
                del counts[other]  # a nested array starts again under each element
        parts = hname.split(".")
        if parts != tables[:len(parts)]:
            continue
        prefixes = [".".join(parts[:d]) for d in range(1, len(parts) + 1)]
        if all(counts.get(p) == wanted[p] for p in prefixes if p in wanted) and len(parts) >= best_depth:
            best_line, best_depth = no, len(parts)
    rest = tables[best_depth:]
    if not rest:
        return best_line
    want = re.compile(r'^\s*"?' + re.escape(rest[0]) + r'"?\s*=')
    for no in range(best_line + 1, len(lines) + 1):
        line = lines[no - 1]
        if best_line and _HEADER.match(line):
            break
        if want.match(line):
            return no
    return best_line
