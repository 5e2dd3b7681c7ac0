"""iproute2 `ip`: addresses, routes and links, parsed from its one-line (-o) output.

`ip -o` is a stable one-record-per-line format that parses with str.split; `ip -j` would cost
the json import (~11 ms with re) on every monitor.
"""

from __future__ import annotations

from agents.tools import netlink
from ocf.errors import OcfError
from ocf.kernel import KERNEL, Kernel
from ocf.params import ip_version


class Address:
    """One address on an interface, as `ip -o addr show` reports it."""

    __slots__ = ("nic", "family", "ip", "prefix", "broadcast", "label", "flags")

    def __init__(self, nic: str, family: str, ip: str, prefix: int, *, broadcast: str = "", label: str = "",
                 flags: tuple[str, ...] = ()) -> None:
        self.nic, self.family, self.ip, self.prefix = nic, family, ip, prefix
        self.broadcast, self.label, self.flags = broadcast, label, flags

    def __repr__(self) -> str:
        return f"Address({self.nic!r}, {self.ip!r}/{self.prefix}, label={self.label!r}, flags={self.flags})"


def _ip(netns: str | None) -> list[str]:
    return ["ip", "-n", netns] if netns else ["ip"]


def parse_addresses(text: str) -> list[Address]:
    """Parse `ip -o addr show` output; ValueError on a line that is not one of its records.

    Each record is `INDEX: NIC FAMILY ADDRESS[/PREFIX] ...`; a line that is not (garbage, a message)
    says nothing about which addresses exist, so it is never read as 'no address'."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        head = line.split("\\", 1)[0].split()
        if len(head) < 3 or not head[0].endswith(":") or not head[0][:-1].isdigit() or "\0" in line:
            raise ValueError(f"line {n} is not ip's: {line[:60]!r}")
        if head[2] not in ("inet", "inet6"):
            continue  # another family's record (ip -o addr without -4/-6)
        if len(head) < 4:
            raise ValueError(f"line {n} is not ip's: {line[:60]!r}")
        nic = head[1].split("@", 1)[0]
        ip, _, prefix = head[3].partition("/")
        if not ip or not (prefix.isascii() and prefix.isdigit() or prefix == ""):
            raise ValueError(f"line {n} is not ip's: {line[:60]!r}")
        rest = head[4:]
        brd = ""
        label = ""
        flags = []
        i = 0
        while i < len(rest):
            word = rest[i]
            if word in ("brd", "scope", "peer", "metric", "proto") and i + 1 < len(rest):
                if word == "brd":
                    brd = rest[i + 1]
                i += 2
                continue
            if head[2] == "inet" and i == len(rest) - 1 and (word == nic or word.startswith(nic + ":")):
                label = word
            else:
                flags.append(word)
            i += 1
        out.append(Address(nic, head[2], ip, int(prefix or (32 if head[2] == "inet" else 128)), broadcast=brd,
                           label=label, flags=tuple(flags)))
    return out


def addresses(run, *, netns: str | None = None, nic: str | None = None, family: int | None = None) -> list[Address]:
    """The addresses configured (optionally on one interface, of one family 4 or 6)."""
    argv = _ip(netns) + ["-o"] + (["-4"] if family == 4 else ["-6"] if family == 6 else []) + ["addr", "show"]
    if nic:
        argv += ["dev", nic]
    try:
        return parse_addresses(run(argv).stdout)
    except ValueError as e:
        raise OcfError(f"unexpected output from {' '.join(argv)}: {e}") from None


class Route:
    """A route from `ip -o route list match`."""

    __slots__ = ("dest", "prefix", "nic", "src")

    def __init__(self, dest: str, prefix: int, nic: str, src: str) -> None:
        self.dest, self.prefix, self.nic, self.src = dest, prefix, nic, src

    def __repr__(self) -> str:
        return f"Route({self.dest}/{self.prefix} dev {self.nic} src {self.src})"


def parse_routes(text: str, family: int, *, local: bool = False) -> list[Route]:
    """Parse `ip -o route list` output (unicast routes with a device; local ones too when local)."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if local and words and words[0] == "local":
            words = words[1:]
        if not words or words[0] in ("unreachable", "prohibit", "blackhole", "throw", "broadcast", "local",
                                     "multicast", "anycast", "nat"):
            continue
        dest = words[0]
        if dest == "default":
            net, prefix = ("0.0.0.0" if family == 4 else "::"), 0
        else:
            net, _, p = dest.partition("/")
            prefix = int(p) if p else (32 if family == 4 else 128)
        nic = src = ""
        for i, w in enumerate(words[:-1]):
            if w == "dev":
                nic = words[i + 1]
            elif w == "src":
                src = words[i + 1]
        if nic:
            out.append(Route(net, prefix, nic, src))
    return out


def routes_matching(run, ip: str, *, netns: str | None = None, table: str = "", scope: str = "") -> list[Route]:
    """Routes of the main table (or of table, and of scope) that contain ip, most specific first."""
    family = ip_version(ip)
    argv = _ip(netns) + ["-o", f"-{family}", "route", "list", "match", ip]
    if table:
        argv += ["table", table]
    if scope:
        argv += ["scope", scope]
    r = run(argv)
    return sorted(parse_routes(r.stdout, family, local=table == "local"), key=lambda rt: -rt.prefix)


class Link:
    """State of one interface from `ip -o link show`."""

    __slots__ = ("nic", "flags", "state", "mac", "index")

    def __init__(self, nic: str, flags: tuple[str, ...], state: str, mac: str, index: int) -> None:
        self.nic, self.flags, self.state, self.mac, self.index = nic, flags, state, mac, index

    @property
    def is_up(self) -> bool:
        """Administratively up with a carrier (state UP, or UNKNOWN as loopback and tun report)."""
        return "UP" in self.flags and "LOWER_UP" in self.flags and self.state not in ("DOWN", "LOWERLAYERDOWN")


def parse_links(text: str) -> list[Link]:
    """Parse `ip -o link show` output."""
    out = []
    for line in text.splitlines():
        words = line.replace("\\", " ").split()
        if len(words) < 3:
            continue
        nic = words[1].rstrip(":").split("@", 1)[0]
        flags = tuple(words[2].strip("<>").split(","))
        state = mac = ""
        for i, w in enumerate(words[:-1]):
            if w == "state":
                state = words[i + 1]
            elif w.startswith("link/"):
                mac = words[i + 1]
        out.append(Link(nic, flags, state, mac, int(words[0].rstrip(":"))))
    return out


def link(run, nic: str, *, netns: str | None = None) -> Link | None:
    """The interface's state, or None when it does not exist."""
    r = run(_ip(netns) + ["-o", "link", "show", "dev", nic], ok=(0, 1, 255))
    if r.returncode != 0:
        return None
    links = parse_links(r.stdout)
    return links[0] if links else None


def add_address(run, nic: str, ip: str, prefix: int, *, netns: str | None = None, broadcast: str = "",
                label: str = "", nodad: bool = False, noprefixroute: bool = False, preferred_lft: str = "") -> None:
    """ip addr add IP/PREFIX dev NIC with the given options."""
    family = ip_version(ip)
    argv = _ip(netns) + [f"-{family}", "addr", "add", f"{ip}/{prefix}", "dev", nic]
    if broadcast and family == 4:
        argv += ["brd", broadcast]
    if label and family == 4:
        argv += ["label", label]
    if nodad and family == 6:
        argv.append("nodad")
    if noprefixroute:
        argv.append("noprefixroute")
    if preferred_lft and preferred_lft != "forever":
        argv += ["preferred_lft", preferred_lft]
    run(argv)


def del_address(run, nic: str, ip: str, prefix: int, *, netns: str | None = None) -> bool:
    """ip addr del; returns False when the address was not there."""
    family = ip_version(ip)
    r = run(_ip(netns) + [f"-{family}", "addr", "del", f"{ip}/{prefix}", "dev", nic], ok=(0, 2))
    return r.returncode == 0


def set_up(run, nic: str, *, netns: str | None = None) -> None:
    """ip link set NIC up."""
    run(_ip(netns) + ["link", "set", "dev", nic, "up"])


def flush_route_cache(run, ip: str, *, netns: str | None = None) -> None:
    """ip route flush cache (what IPaddr2's flush_routes does)."""
    family = ip_version(ip)
    run(_ip(netns) + [f"-{family}", "route", "flush", "cache"], ok=(0, 1, 2))


# ----- rtnetlink (no child process: what IPaddr2's monitor uses in its own namespace) -----------

_RTM_NEWADDR, _RTM_GETADDR = 20, 22
_IFA_ADDRESS, _IFA_LOCAL, _IFA_LABEL, _IFA_BROADCAST, _IFA_FLAGS = 1, 2, 3, 4, 8
_FLAG_WORDS = ((0x01, "secondary"), (0x02, "nodad"), (0x08, "dadfailed"), (0x20, "deprecated"),
               (0x40, "tentative"), (0x80, "permanent"), (0x200, "noprefixroute"))


def parse_netlink_addresses(data: bytes, names) -> list[Address]:
    """Parse RTM_NEWADDR messages (names: ifindex -> interface name)."""
    import _socket

    out = []
    for mtype, body in netlink.messages(data):
        if mtype != _RTM_NEWADDR or len(body) < 8:
            continue
        fam, prefix, flags = body[0], body[1], body[2]
        index = int.from_bytes(body[4:8], "little")
        attrs = netlink.attributes(body[8:])
        if _IFA_FLAGS in attrs:
            flags = int.from_bytes(attrs[_IFA_FLAGS][:4], "little")
        raw = attrs.get(_IFA_LOCAL) or attrs.get(_IFA_ADDRESS)
        if raw is None or fam not in (_socket.AF_INET, _socket.AF_INET6):
            continue
        nic = names(index)
        label = attrs.get(_IFA_LABEL, b"").rstrip(b"\0").decode(errors="replace")
        brd = _socket.inet_ntop(fam, attrs[_IFA_BROADCAST]) if _IFA_BROADCAST in attrs else ""
        out.append(Address(nic, "inet" if fam == _socket.AF_INET else "inet6", _socket.inet_ntop(fam, raw), prefix,
                           broadcast=brd, label=label if label and label != nic else "",
                           flags=tuple(w for bit, w in _FLAG_WORDS if flags & bit)))
    return out


def netlink_addresses(family: int | None = None, *, kernel: Kernel = KERNEL) -> list[Address]:
    """The addresses in this process's network namespace, read over rtnetlink (an OSError if unavailable)."""
    fam = {4: 2, 6: 10}.get(family or 0, 0)  # AF_INET, AF_INET6
    data = kernel.netlink(0, _RTM_GETADDR, bytes([fam, 0, 0, 0]) + (0).to_bytes(4, "little"))  # NETLINK_ROUTE
    return parse_netlink_addresses(data, kernel.interface_name)
