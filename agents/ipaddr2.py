"""ocf:ocfkit:IPaddr2, a floating IPv4/IPv6 address (the reference agent's behaviour on modern Linux)."""

from __future__ import annotations

import sys

from agents.tools import ip, system_path
from ocf import system
from ocf.agent import Agent, action
from ocf.errors import ArgsError, ConfigError, OcfError, Rc
from ocf.params import Param, Parser, boolean, canonical_ip, integer, ip_address, ip_version, string
from ocf.proc import cmdline
from ocf.state import StateFile, exists


class _Netmask(Parser):
    """A prefix length, or an IPv4 dotted-quad netmask (converted, as the reference agent does)."""

    content_type = "string"

    def parse(self, text: str) -> int:
        t = text.strip()
        if t.isdigit():
            v = int(t)
            if v > 128:
                raise ValueError("a prefix length is at most 128")
            return v
        parts = t.split(".")
        if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
            bits = "".join(f"{int(p):08b}" for p in parts)
            if "01" in bits:
                raise ValueError("not a contiguous netmask")
            return bits.count("1")
        raise ValueError("expected a prefix length (24) or a dotted netmask (255.255.255.0)")

    def hint(self) -> str:
        return "A prefix length such as 24 or 64; a dotted IPv4 netmask is converted."


def _name_problem(text: str, what: str, limit: int = 15) -> str:
    """Why text cannot be an interface, label or namespace name for the kernel and ip ("" when it can):
    the kernel's dev_valid_name rules, and no leading '-' (ip would read an option)."""
    if not text:
        return f"empty {what}"
    if len(text) > limit:
        return f"{what} {text!r} is longer than {limit} characters"
    if text in (".", "..") or text.startswith("-") or any(c in "/\0" or c.isspace() for c in text):
        return f"{what} {text!r} is not a valid name (no '/', whitespace, leading '-', '.' or '..')"
    return ""


class _Nic(Parser):
    """An interface name, optionally with the deprecated :label suffix."""

    def parse(self, text: str) -> str:
        t = text.strip()
        base, sep, label = t.partition(":")
        problem = _name_problem(base, "interface") or (sep and _name_problem(label, "label"))
        if problem:
            raise ValueError(problem)
        return t


class _Name(Parser):
    """A label or namespace name that reaches ip's argv."""

    def __init__(self, what: str, limit: int) -> None:
        self.what, self.limit = what, limit

    def parse(self, text: str) -> str:
        t = text.strip()
        problem = _name_problem(t, self.what, self.limit)
        if problem:
            raise ValueError(problem)
        return t


def _lft(text: str) -> str:
    t = text.strip()
    if t != "forever" and not t.isdigit():
        raise ValueError("expected 'forever' or a number of seconds")
    return t


class _Lifetime(Parser):
    def parse(self, text: str) -> str:
        return _lft(text)


class IPaddr2(Agent):
    """Manages a virtual IPv4 or IPv6 address on a Linux interface with iproute2. The interface and
    prefix length are found from the routing table when not given (the most specific matching
    route; an ambiguous match is an error that says so). After start, peers learn the new owner from
    gratuitous ARP (IPv4) or unsolicited neighbour advertisements (IPv6) that ocfkit sends itself, in
    the background by default, never failing start. IPv6 start waits for duplicate address detection
    and fails on dadfailed. Monitor checks the address on the expected interface with the expected
    prefix, and (check_link_status) that the link is up. CLUSTERIP cloning is not supported: the
    Linux kernel removed the CLUSTERIP target in 2023."""

    shortdesc = "Manages virtual IPv4 and IPv6 addresses (Linux specific version)"

    ip = Param(ip_address, required=True, unique=True, shortdesc="IPv4 or IPv6 address",
               longdesc="The IPv4 (dotted quad) or IPv6 address to manage, e.g. 192.168.1.1 or 2001:db8::7.")
    nic = Param(_Nic(), shortdesc="Network interface",
                longdesc="The base interface for the address, e.g. eth0. When unset it is found from the "
                         "routing table. The deprecated form eth0:label sets the label too.")
    cidr_netmask = Param(_Netmask(), shortdesc="CIDR netmask",
                         longdesc="The prefix length of the address, e.g. 24. When unset it is taken from "
                                  "the most specific route that contains the address.")
    netmask = Param(_Netmask(), replaced_by="cidr_netmask", shortdesc="Old name of cidr_netmask",
                    longdesc="Old name of cidr_netmask.")
    broadcast = Param(string, shortdesc="Broadcast address",
                      longdesc="IPv4 broadcast address; '+' computes it from the prefix, '-' sets none. "
                               "Default: '+' for prefixes up to /30.")
    iflabel = Param(_Name("iflabel", 15), shortdesc="Interface label",
                    longdesc="A label for the address (shown as nic:label by ip and ifconfig). nic:label "
                             "must be at most 15 characters.")
    lvs_support = Param(boolean, default="false", shortdesc="Enable support for LVS Direct Routing",
                        longdesc="For an LVS-DR real server: on start, a conflicting host address (/32) on a "
                                 "loopback interface is removed and remembered; on stop it is restored.")
    arp_interval = Param(integer(1, 60000), default="200", reloadable=True, shortdesc="ARP packet interval in ms",
                         longdesc="Milliseconds between gratuitous ARPs or neighbour advertisements.")
    arp_count = Param(integer(1, 1000), default="5", reloadable=True, shortdesc="ARP packet count",
                      longdesc="How many gratuitous ARPs or neighbour advertisements to send after start.")
    arp_count_refresh = Param(integer(0, 1000), default="0", reloadable=True, shortdesc="ARP packet count for refresh",
                              longdesc="How many gratuitous ARPs to send on every monitor (IPv4); 0 sends none.")
    arp_bg = Param(boolean, default="true", reloadable=True, shortdesc="Send ARP packets in the background",
                   longdesc="Whether announcements are sent in the background (start returns at once) "
                            "or before start returns. Their failure never fails start.")
    preferred_lft = Param(_Lifetime(), default="forever", shortdesc="IPv6 preferred lifetime",
                          longdesc="Preferred lifetime of an IPv6 address in seconds, or forever; 0 keeps "
                                   "the address from being chosen as a source.")
    nodad = Param(boolean, default="false", shortdesc="No IPv6 duplicate address detection",
                  longdesc="Add an IPv6 address with nodad: no duplicate address detection, no wait.")
    noprefixroute = Param(boolean, default="false", shortdesc="Do not add a prefix route",
                          longdesc="Add the address with noprefixroute.")
    flush_routes = Param(boolean, default="false", reloadable=True, shortdesc="Flush the routing cache on stop",
                         longdesc="Flush the routing cache after removing the address.")
    check_link_status = Param(boolean, default="true", reloadable=True, shortdesc="Fail monitor when the link is down",
                              longdesc="Monitor fails when the interface is down or has no carrier.")
    network_namespace = Param(_Name("network_namespace", 255), shortdesc="Network namespace",
                              longdesc="Manage the address inside this named network namespace "
                                       "(/run/netns/NAME).")

    # ----- derived configuration ------------------------------------------------------------

    @property
    def family(self) -> int:
        """4 or 6."""
        return ip_version(self.ip)

    @property
    def base_nic(self) -> str:
        """The configured interface without a label suffix ("" when unset)."""
        return (self.nic or "").split(":", 1)[0]

    @property
    def label(self) -> str:
        """The address label to set (IPv4 only)."""
        if self.family == 6:
            return ""
        nic = self.nic or ""
        if self.iflabel:
            return f"{self.base_nic or self.where()[0]}:{self.iflabel}"
        return nic if ":" in nic else ""

    def where(self) -> tuple[str, int]:
        """The interface and prefix for the address: configured, or found from routes (findif)."""
        nic, prefix = self.base_nic, self.cidr_netmask
        if nic and prefix is not None:
            return nic, prefix
        # IPv4: directly connected (scope link) routes only, as findif: a subnet reached through a gateway
        # is not one the address can live on.
        routes = [r for r in ip.routes_matching(self.run, self.ip, netns=self.network_namespace,
                                                scope="link" if self.family == 4 else "")
                  if r.prefix > 0 and (not nic or r.nic == nic)]
        if not routes and self.family == 4 and self.ip.startswith("127."):
            # Loopback addresses are routed by the local table (local 127.0.0.0/8 dev lo), as findif knows.
            routes = [r for r in ip.routes_matching(self.run, self.ip, netns=self.network_namespace, table="local")
                      if 0 < r.prefix < 32 and (not nic or r.nic == nic)]
        if not routes:
            on = f" on {nic}" if nic else ""
            raise OcfError(f"cannot find the interface and netmask for {self.ip}: no route{on} contains it; "
                           "set nic and cidr_netmask")
        if prefix is not None:
            # Only a route that holds the whole ip/cidr_netmask network can carry it (findif matches
            # ip/cidr_netmask): a netmask wider than the interface's subnet is a configuration error.
            holding = [r for r in routes if r.prefix <= prefix]
            if not holding:
                raise ConfigError(f"cidr_netmask {prefix} is wider than the /{routes[0].prefix} network of "
                                  f"{routes[0].nic} that holds {self.ip}")
            routes = holding
        best = [r for r in routes if r.prefix == routes[0].prefix]
        nics = sorted({r.nic for r in best})
        if len(nics) > 1:
            raise OcfError(f"cannot choose the interface for {self.ip}: routes /{routes[0].prefix} on "
                           f"{', '.join(nics)} all match; set nic")
        return nics[0], (prefix if prefix is not None else routes[0].prefix)

    def check_config(self) -> None:
        """Configuration rules that hold on every node (rc 6)."""
        if self.family == 6 and self.ip.lower().startswith("fe80") and not self.base_nic:
            raise ConfigError("a link-local IPv6 address needs nic")
        if self.lvs_support and self.family == 6:
            raise ConfigError("lvs_support works with IPv4 addresses only")
        if self.lvs_support and self.is_clone:
            raise ConfigError("lvs_support cannot be used with a clone")
        if self.cidr_netmask is not None and self.cidr_netmask > (32 if self.family == 4 else 128):
            raise ConfigError(f"cidr_netmask {self.cidr_netmask} is too long for {self.ip}")
        if self.iflabel and self.base_nic and len(f"{self.base_nic}:{self.iflabel}") > 15:
            raise ConfigError(f"label {self.base_nic}:{self.iflabel} is longer than 15 characters")
        if self.broadcast not in (None, "+", "-"):
            try:
                if ip_version(canonical_ip(self.broadcast)) == 6:
                    raise ValueError
            except ValueError:
                raise ConfigError(f"broadcast {self.broadcast!r} is not an IPv4 address, '+' or '-'") from None
        if self.network_namespace and ("/" in self.network_namespace or self.network_namespace.startswith(".")):
            raise ConfigError(f"network_namespace {self.network_namespace!r} is not a namespace name")

    def netns_exists(self) -> bool:
        """Whether the configured namespace exists (always true without one)."""
        ns = self.network_namespace
        return not ns or exists(f"/run/netns/{ns}")

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10: the namespace, the interface and the route lookup."""
        if not self.netns_exists():
            return [ArgsError(f"network namespace {self.network_namespace} does not exist")]
        if self.base_nic and not self._nic_exists(self.base_nic):
            return [ConfigError(f"interface {self.base_nic} does not exist")]
        try:
            nic, _prefix = self.where()
        except ConfigError as e:
            return [e]
        except OcfError as e:
            return [ArgsError(e.reason)]
        if not self._nic_exists(nic):
            return [ArgsError(f"interface {nic} does not exist")]
        return []

    # ----- state ----------------------------------------------------------------------------

    def _find(self):
        if not self.network_namespace:
            # rtnetlink directly: no `ip` process on the monitor path.
            try:
                return [a for a in ip.netlink_addresses(self.family, kernel=self.kernel) if a.ip == self.ip]
            except OSError as e:
                self.log.debug(f"rtnetlink: {e}; asking ip")
        return [a for a in ip.addresses(self.run, netns=self.network_namespace, family=self.family)
                if a.ip == self.ip]

    def _sys_net(self, nic: str) -> str:
        """The interface's sysfs directory (OCFKIT_SYSFS_ROOT moves /sys for tests)."""
        return f"{system_path(self.env, 'sysfs')}/class/net/{nic}"

    def _nic_exists(self, nic: str) -> bool:
        if not self.network_namespace:
            return self.kernel.exists(self._sys_net(nic))
        return ip.link(self.run, nic, netns=self.network_namespace) is not None

    def _admin_up(self, nic: str) -> bool:
        """Whether the link is administratively up already (IFF_UP in sysfs' flags, read through the
        kernel), so start need not run `ip link set up`; False when that cannot be read here (in
        network_namespace, or the file is gone): start then sets it up as before."""
        if self.network_namespace:
            return False
        try:
            return bool(int(self.kernel.read_text(f"{self._sys_net(nic)}/flags"), 16) & 0x1)
        except (OSError, ValueError):
            return False

    def _link_problem(self, nic: str) -> str:
        """Why the link cannot carry the address ("" when it can)."""
        if not self.network_namespace:
            try:
                flags = int(self.kernel.read_text(f"{self._sys_net(nic)}/flags"), 16)
                oper = self.kernel.read_text(f"{self._sys_net(nic)}/operstate").strip()
            except OSError:
                return f"interface {nic} vanished"
            if not flags & 0x1:
                return f"interface {nic} is administratively down"
            if oper in ("down", "lowerlayerdown", "notpresent"):
                return f"interface {nic} has no carrier (operstate {oper})"
            return ""
        link = ip.link(self.run, nic, netns=self.network_namespace)
        if link is None:
            return f"interface {nic} vanished"
        if not link.is_up:
            return f"interface {nic} is down (state {link.state})"
        return ""

    def _garp_pidfile(self) -> StateFile:
        return StateFile(f"{self.rsctmp}/IPaddr2-garp-{self.ip.replace(':', '_')}.pid")

    def _lvs_file(self) -> StateFile:
        return StateFile(f"{self.rsctmp}/IPaddr2-lvs-{self.ip}")

    def _announce(self, nic: str, count: int, background: bool) -> None:
        """Send gratuitous ARPs / neighbour advertisements; log, never raise."""
        if nic == "lo" or nic.startswith("lo:") or count <= 0:
            return
        script = system.path.join(system.path.dirname(system.path.abspath(__file__)), "tools", "garp.py")
        argv = [sys.executable, "-I", "-S", script, nic, self.ip, str(count), str(self.arp_interval)]
        if self.network_namespace:
            argv = ["ip", "netns", "exec", self.network_namespace, *argv]
        try:
            if background:
                pid = self.kernel.spawn(argv)
                self._garp_pidfile().write(str(pid))
            else:
                self.run(argv)
        except OcfError as e:
            self.log.warning(f"could not announce {self.ip} on {nic}: {e.reason}")

    def _stop_announcer(self) -> None:
        pf = self._garp_pidfile()
        text = pf.read()
        if text and text.strip().isdigit():
            pid = int(text)
            if b"garp.py" in cmdline(pid, kernel=self.kernel):
                try:
                    self.kernel.kill(pid, system.SIGTERM)
                except OSError:
                    pass
        pf.remove()

    # ----- actions --------------------------------------------------------------------------

    @action(timeout=20)
    def start(self) -> int:
        """Add the address (with DAD for IPv6) and announce it."""
        if not self.netns_exists():
            raise ArgsError(f"network namespace {self.network_namespace} does not exist")
        if self.base_nic and not self._nic_exists(self.base_nic):
            # As the reference agent (ocft "set invalid 'OCF_RESKEY_nic'"): 6 on start and validate-all.
            raise ConfigError(f"interface {self.base_nic} does not exist")
        nic, prefix = self.where()
        if self.label and len(self.label) > 15:
            raise ConfigError(f"label {self.label} is longer than 15 characters")
        if not self._nic_exists(nic):
            raise ArgsError(f"interface {nic} does not exist")
        present = [a for a in self._find() if a.nic == nic and a.prefix == prefix]
        if present:
            return Rc.SUCCESS
        if self.lvs_support:
            self._lvs_take_over()
        brd = self.broadcast
        if self.family == 4 and brd is None:
            brd = "+" if prefix <= 30 else ""
        ip.add_address(self.run, nic, self.ip, prefix, netns=self.network_namespace,
                       broadcast="" if brd in (None, "-") else brd, label=self.label, nodad=self.nodad,
                       noprefixroute=self.noprefixroute, preferred_lft=self.preferred_lft)
        if not self._admin_up(nic):
            ip.set_up(self.run, nic, netns=self.network_namespace)
        if self.family == 6 and not self.nodad:
            self._wait_for_dad(nic, prefix)
        self._announce(nic, self.arp_count, self.arp_bg)
        self.log.info(f"added {self.ip}/{prefix} on {nic}")
        return Rc.SUCCESS

    def _wait_for_dad(self, nic: str, prefix: int) -> None:
        def settled():
            mine = [a for a in ip.addresses(self.run, netns=self.network_namespace, nic=nic, family=6)
                    if a.ip == self.ip]
            if mine and "dadfailed" in mine[0].flags:
                ip.del_address(self.run, nic, self.ip, prefix, netns=self.network_namespace)
                raise OcfError(f"duplicate address detection failed for {self.ip} on {nic}: "
                               "another node uses it")
            return bool(mine) and "tentative" not in mine[0].flags

        self.wait_for(f"duplicate address detection of {self.ip}", settled, interval=0.1)

    def _lvs_take_over(self) -> None:
        for a in ip.addresses(self.run, netns=self.network_namespace, family=4):
            if a.ip == self.ip and a.nic.startswith("lo") and a.prefix == 32:
                self._lvs_file().write(f"{a.nic} {a.prefix} {a.label}\n")
                ip.del_address(self.run, a.nic, a.ip, a.prefix, netns=self.network_namespace)
                self.log.info(f"lvs_support: removed {self.ip}/32 from {a.nic}; restored on stop")

    def _lvs_restore(self) -> None:
        saved = self._lvs_file().read()
        if not saved:
            return
        words = saved.split()
        nic, prefix = words[0], int(words[1])
        if not any(a.nic == nic for a in self._find()):
            ip.add_address(self.run, nic, self.ip, prefix, netns=self.network_namespace,
                           label=words[2] if len(words) > 2 else "")
        self._lvs_file().remove()
        self.log.info(f"lvs_support: restored {self.ip}/{prefix} on {nic}")

    @action(timeout=20)
    def stop(self) -> int:
        """Remove the address (wherever the agent put it); nothing left behind."""
        self._stop_announcer()
        if not self.netns_exists():
            return Rc.SUCCESS
        nic = self.base_nic
        prefix = self.cidr_netmask
        for a in self._find():
            if a.nic.startswith("lo") and self.lvs_support and a.prefix == 32:
                continue  # the LVS real-server address is not ours
            if (nic and a.nic != nic) or (prefix is not None and a.prefix != prefix):
                continue
            ip.del_address(self.run, a.nic, a.ip, a.prefix, netns=self.network_namespace)
            self.log.info(f"removed {a.ip}/{a.prefix} from {a.nic}")
        if self.flush_routes:
            ip.flush_route_cache(self.run, self.ip, netns=self.network_namespace)
        if self.lvs_support:
            self._lvs_restore()
        return Rc.SUCCESS

    @action(timeout=20, interval=10, depth=0)
    def monitor(self) -> int:
        """0 when the address is on the expected interface with the expected prefix, else 7."""
        if not self.netns_exists():
            if self.is_probe:
                return Rc.NOT_RUNNING
            raise OcfError(f"network namespace {self.network_namespace} vanished")
        found = self._find()
        nic, prefix = self.base_nic, self.cidr_netmask
        mine = [a for a in found if (not nic or a.nic == nic) and (prefix is None or a.prefix == prefix)]
        if self.lvs_support:
            mine = [a for a in mine if not a.nic.startswith("lo")]
        if not mine:
            if nic and not self.is_probe and not self._nic_exists(nic):
                raise OcfError(f"interface {nic} vanished")
            if found:
                self.log.info(f"{self.ip} is on {found[0].nic}/{found[0].prefix}, not where expected")
            return Rc.NOT_RUNNING
        if self.check_link_status:
            problem = self._link_problem(mine[0].nic)
            if problem:
                raise OcfError(problem)
        if self.arp_count_refresh and self.family == 4:
            self._announce(mine[0].nic, self.arp_count_refresh, True)
        return Rc.SUCCESS

    @action(timeout=20)
    def status(self) -> int:
        """Legacy alias of monitor."""
        return self.monitor()

    @action(name="reload-agent", timeout=20)
    def reload_agent(self) -> int:
        """Take new announcement, link-check and route-flush options without touching the address:
        the next announcement, monitor and stop read them (the framework has checked that the
        address is up here)."""
        changed = self.changed_params()
        if changed:
            self.log.info("reloaded " + ", ".join(f"{n}={self.param(n)}" for n in changed))
        return Rc.SUCCESS


if __name__ == "__main__":
    raise SystemExit(IPaddr2.main())
