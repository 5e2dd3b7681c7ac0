"""ocf:ocfkit:portblock, temporarily blocks (or unblocks) ports so clients retry instead of failing."""

from __future__ import annotations

import sys

from agents.tools import iptables, nft
from ocf import system
from ocf.agent import Agent, action
from ocf.errors import ConfigError, NotInstalledError, OcfError, Rc
from ocf.params import Param, Parser, boolean, canonical_network, choice, ip_version, path
from ocf.state import Lock, StateFile

NFT_TABLE = "ocfkit_portblock"


class _Ports(Parser):
    """A list of ports and ranges: 3260, 80,443, 1000:2000 or 1000-2000."""

    def parse(self, text: str) -> tuple[tuple[int, int], ...]:
        out = []
        for part in text.replace(" ", "").split(","):
            lo, sep, hi = part.replace("-", ":").partition(":")
            if not lo.isdigit() or (sep and not hi.isdigit()):
                raise ValueError(f"{part!r} is not a port or a range lo:hi")
            a, b = int(lo), int(hi) if sep else int(lo)
            if not 0 < a <= b <= 65535:
                raise ValueError(f"{part!r} is not a port range within 1-65535")
            out.append((a, b))
        if not out:
            raise ValueError("no ports")
        if sum(1 if a == b else 2 for a, b in out) > 15:
            raise ValueError("at most 15 ports (a range counts as two), as iptables multiport allows")
        return tuple(out)

    def hint(self) -> str:
        return "Ports and ranges separated by commas, e.g. 3260 or 80,443,8000:8080."


class _Network(Parser):
    """An IPv4/IPv6 address, optionally with a prefix length."""

    def parse(self, text: str) -> str:
        return canonical_network(text)

    def hint(self) -> str:
        return "An IPv4 or IPv6 address or network."


class portblock(Agent):  # noqa: N801 - the class name is the OCF type
    """Blocks or unblocks TCP/UDP ports with a firewall rule, so that clients of a service that is
    moving between nodes see their packets dropped and retry, rather than getting a reset. Start of an
    instance with action=block adds the rule and stop removes it; action=unblock does the opposite,
    and its stop leaves the ports blocked (as in the reference agent). Rule presence is checked
    exactly (iptables -C, or rules in an nftables table that only ocfkit owns, matched by comment).
    The unblock side sends tickle ACKs to the clients of saved connections, so they reconnect at
    once after a failover. Extra arguments after the action (heartbeat's resource.d calling
    convention) are ignored."""

    shortdesc = "Block and unblock access to TCP and UDP ports"

    protocol = Param(choice("tcp", "udp"), required=True, shortdesc="protocol used to be blocked/unblocked",
                     longdesc="The protocol of the ports.")
    portno = Param(_Ports(), required=True, shortdesc="port number used to be blocked/unblocked",
                   longdesc="The ports to block or unblock.")
    block_action = Param(choice("block", "unblock"), required=True, name="action",
                         shortdesc="the action: block or unblock",
                         longdesc="What start does: block adds the rule, unblock removes it.")
    ip = Param(_Network(), default="0.0.0.0/0", shortdesc="IP address used to be blocked/unblocked",
               longdesc="The address (or network) whose ports are blocked: the destination of incoming "
                        "packets, the source of outgoing ones. IPv6 addresses use ip6tables or nft.")
    direction = Param(choice("in", "out", "both"), default="in", shortdesc="Which direction to block",
                      longdesc="in blocks incoming packets to ip, out outgoing packets from ip, both both.")
    firewall = Param(choice("auto", "iptables", "nft"), default="auto", shortdesc="Firewall tool",
                     longdesc="iptables, nft (a table inet ocfkit_portblock), or auto: nft when installed, "
                              "else iptables.")
    method = Param(choice("drop", "reject"), default="drop", shortdesc="How to block",
                   longdesc="drop silently (clients retry) or reject (TCP reset / ICMP port unreachable).")
    reset_local_on_unblock_stop = Param(boolean, default="false", reloadable=True,
                                        shortdesc="Reset local connections when an unblock instance stops",
                                        longdesc="When an unblock instance stops, also reset the local ends of "
                                                 "established connections so local services notice at once.")
    tickle_dir = Param(path(), reloadable=True, shortdesc="Tickle directory",
                       longdesc="Directory (on storage shared by the nodes) where the unblock instance keeps the "
                                "list of established connections to ip, and from which the new owner sends "
                                "tickle ACKs after a failover. Only with action=unblock.")
    sync_script = Param(path(), reloadable=True, shortdesc="Connection list sync script",
                        longdesc="Program run (in the background) after the connection list was written, to "
                                 "replicate it to the other node when tickle_dir is not on shared storage.")

    # ----- configuration --------------------------------------------------------------------

    @property
    def family(self) -> int:
        """4 or 6."""
        return ip_version(self.ip)

    def _kernel_rules(self, chain: str) -> list[tuple[list[str], bytes]]:
        """The chain's rules in the iptables(-nft) table, read over nfnetlink (the injectable kernel)."""
        return iptables.kernel_rules(self.family, chain, kernel=self.kernel)

    @property
    def key(self) -> str:
        """What identifies the rule, shared by the block and the unblock instance of the same ports."""
        ports = ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.portno)
        return f"{self.protocol}:{ports}:{self.ip}:{self.direction}"

    @property
    def tool(self) -> str:
        """iptables or nft."""
        if self.firewall != "auto":
            return self.firewall
        return "nft" if system.which("nft") else "iptables"

    def check_config(self) -> None:
        """Rules that hold on every node."""
        if self.tickle_dir and self.block_action != "unblock":
            raise ConfigError("tickle_dir is only for action=unblock")

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10: the firewall tool and the tickle directory."""
        problems: list[OcfError] = []
        tool = self.tool if self.tool == "nft" else ("ip6tables" if self.family == 6 else "iptables")
        if not system.which(tool):
            problems.append(NotInstalledError(f"{tool} is not installed"))
        if self.tickle_dir and not system.path.isdir(self.tickle_dir):
            problems.append(NotInstalledError(f"tickle_dir {self.tickle_dir} does not exist"))
        return problems

    def _files(self) -> str:
        """The start of this rule's file names under HA_RSCTMP (from the parameters, not the instance)."""
        safe = self.key.replace("/", "_").replace(":", "_").replace(",", "_")
        return f"{self.rsctmp}/portblock-{safe}"

    def state(self) -> StateFile:
        """The pseudo-resource state file of this instance's action."""
        return StateFile(f"{self._files()}-{self.block_action}")

    # ----- the rule ---------------------------------------------------------------------------

    def _chains(self) -> list[str]:
        return {"in": ["INPUT"], "out": ["OUTPUT"], "both": ["INPUT", "OUTPUT"]}[self.direction]

    def _ipt_spec(self, chain: str) -> list[str]:
        ports = ",".join(f"{a}" if a == b else f"{a}:{b}" for a, b in self.portno)
        inbound = chain == "INPUT"
        spec = ["-p", self.protocol, "-d" if inbound else "-s", self.ip, "-m", "multiport",
                "--dports" if inbound else "--sports", ports, "-m", "comment", "--comment", "ocfkit:" + self.key]
        if self.method == "drop":
            return [*spec, "-j", "DROP"]
        if self.protocol == "tcp":
            return [*spec, "-j", "REJECT", "--reject-with", "tcp-reset"]
        return [*spec, "-j", "REJECT", "--reject-with",
                "icmp6-port-unreachable" if self.family == 6 else "icmp-port-unreachable"]

    def _nft_rule(self, chain: str) -> str:
        ports = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.portno)
        inbound = chain == "INPUT"
        if self.ip.endswith("/0"):
            # Any address, but of ip's family only: an inet table sees IPv4 and IPv6 packets alike.
            addr = f"meta nfproto ipv{self.family} "
        else:
            addr = f"{'ip6' if self.family == 6 else 'ip'} {'daddr' if inbound else 'saddr'} {self.ip} "
        verdict = "drop"
        if self.method == "reject":
            verdict = "reject with tcp reset" if self.protocol == "tcp" else "reject"
        return (f"{addr}{self.protocol} {'dport' if inbound else 'sport'} {{ {ports} }} {verdict} "
                f'comment "ocfkit:{self.key}"')

    def _lock(self) -> Lock:
        return Lock(f"{self.rsctmp}/portblock.lock", timeout=max(self.deadline.remaining(), 0.1))

    def _nft_netlink_ours(self) -> dict[str, tuple[list[int], int]] | None:
        """Chain -> (handles of this instance's rules, how many rules) in ocfkit's nft table, read over
        nfnetlink; None when the table does not exist; OSError when nfnetlink cannot be used."""
        chains = nft.netlink_table_rules(NFT_TABLE, kernel=self.kernel)
        if chains is None:
            return None
        comment = "ocfkit:" + self.key
        return {c: ([h for text, h in rules if text == comment], len(rules)) for c, rules in chains.items()}

    def rule_present(self) -> bool:
        """Whether the blocking rule is in place (in every chain the direction needs)."""
        if self.tool == "nft":
            try:
                # nfnetlink directly: no nft process on the monitor path.
                return all(("ocfkit:" + self.key) in nft.netlink_rule_comments(NFT_TABLE, c.lower(), kernel=self.kernel)
                           for c in self._chains())
            except OSError as e:
                self.log.debug(f"nfnetlink: {e}; asking nft")
            return all(nft.find_comment(nft.chain_rules(self.run, NFT_TABLE, c.lower()), "ocfkit:" + self.key)
                       for c in self._chains())
        known = self._recorded_signatures() if self._nft_variant() else None
        for c in self._chains():
            answer = None
            if known is not None:
                try:
                    # iptables-nft: the rules read over nfnetlink answer most checks without iptables.
                    answer = iptables.decide(self._kernel_rules(c), "ocfkit:" + self.key,
                                             known.get(c, set()))
                except OSError as e:
                    self.log.debug(f"nfnetlink: {e}; asking iptables")
            if answer is None:
                answer = iptables.has_rule(self.run, self.family, c, self._ipt_spec(c))
            if not answer:
                return False
        return True

    def _kernel_may_hold_rule(self) -> str:
        """Why the rule may still be in the kernel ("" when its nftables view proves it is not): for a stop
        whose firewall tool is missing. Legacy iptables tables cannot be read without iptables."""
        comment = "ocfkit:" + self.key
        try:
            for c in ("input", "output"):
                if comment in nft.netlink_rule_comments(NFT_TABLE, c, kernel=self.kernel):
                    return f"its rule is still in table inet {NFT_TABLE}"
                if iptables.decide(self._kernel_rules(c.upper()), comment, set()) is not False:
                    return f"its rule is still in the {iptables.binary(self.family)} {c.upper()} chain"
        except OSError as e:
            return f"the kernel's rules cannot be read ({e})"
        names = "/proc/net/ip6_tables_names" if self.family == 6 else "/proc/net/ip_tables_names"
        try:
            with open(names, encoding="ascii") as f:
                legacy = f.read().split()
        except OSError:
            legacy = []
        if legacy:
            return f"legacy iptables tables ({', '.join(legacy)}) cannot be read without iptables"
        return ""

    def _nft_variant(self) -> bool:
        return iptables.is_nft_variant(system.which(iptables.binary(self.family)))

    def _record(self) -> StateFile:
        """The kernel form of the rule as iptables-nft inserted it (see record_rule)."""
        return StateFile(self._files() + ".rules")

    def _recorded_signatures(self) -> dict[str, set[bytes]]:
        out: dict[str, set[bytes]] = {}
        for line in (self._record().read() or "").splitlines():
            chain, _, sig = line.partition(" ")
            try:
                out.setdefault(chain, set()).add(bytes.fromhex(sig))
            except ValueError:
                continue  # damaged: iptables -C decides
        return out

    def record_rule(self) -> None:
        """After an insert through iptables-nft: keep the kernel form (the signature) of the rule in
        each chain, when exactly one rule carries its comment, so that monitors can recognise it
        without starting iptables; otherwise nothing is kept and iptables -C decides."""
        lines = []
        if self._nft_variant():
            for c in self._chains():
                try:
                    sigs = iptables.signatures(self._kernel_rules(c), "ocfkit:" + self.key)
                except OSError:
                    sigs = []
                if len(sigs) == 1 and iptables.has_rule(self.run, self.family, c, self._ipt_spec(c)):
                    lines.append(f"{c} {sigs[0].hex()}\n")
        if lines:
            self._record().write("".join(lines))
        else:
            self._record().remove()

    def add_rule(self) -> None:
        """Add the blocking rule where missing (idempotent, serialised between instances)."""
        with self._lock():
            if self.tool == "nft":
                base = "type filter hook {} priority -10 ; policy accept ;"
                lines = [f"add table inet {NFT_TABLE}",
                         f"add chain inet {NFT_TABLE} input {{ {base.format('input')} }}",
                         f"add chain inet {NFT_TABLE} output {{ {base.format('output')} }}"]
                try:
                    state = self._nft_netlink_ours() or {}  # one nfnetlink dump, no nft process
                    missing = [c for c in self._chains() if not state.get(c.lower(), ([], 0))[0]]
                except OSError as e:
                    self.log.debug(f"nfnetlink: {e}; asking nft")
                    missing = [c for c in self._chains()
                               if not nft.find_comment(nft.chain_rules(self.run, NFT_TABLE, c.lower()),
                                                       "ocfkit:" + self.key)]
                lines += [f"insert rule inet {NFT_TABLE} {c.lower()} {self._nft_rule(c)}" for c in missing]
                nft.apply(self.run, "\n".join(lines) + "\n")
                return
            for c in self._chains():
                spec = self._ipt_spec(c)
                if not iptables.has_rule(self.run, self.family, c, spec):
                    iptables.insert_rule(self.run, self.family, c, spec)
            self.record_rule()

    def remove_rule(self) -> None:
        """Remove every copy of the blocking rule (and ocfkit's nft table once it is empty)."""
        with self._lock():
            if self.tool == "nft":
                # One listing (over nfnetlink: no nft process) and one change (each nft change is a
                # kernel commit of 15 to 20 ms): when the table holds nothing but our rules, deleting
                # it removes them with it.
                try:
                    state = self._nft_netlink_ours()
                except OSError as e:
                    self.log.debug(f"nfnetlink: {e}; asking nft")
                    chains = nft.table_rules(self.run, NFT_TABLE)
                    state = None if chains is None else {
                        c: (nft.find_comment(rules, "ocfkit:" + self.key), len(rules)) for c, rules in chains.items()}
                if state is None:
                    return
                if all(len(handles) == count for handles, count in state.values()):
                    nft.delete_table(self.run, NFT_TABLE)
                elif any(handles for handles, _ in state.values()):
                    nft.apply(self.run, "".join(f"delete rule inet {NFT_TABLE} {c} handle {h}\n"
                                                for c, (handles, _) in state.items() for h in handles))
                return
            self._record().remove()
            for c in self._chains():
                while iptables.delete_rule(self.run, self.family, c, self._ipt_spec(c)):
                    pass

    # ----- connections and tickles --------------------------------------------------------

    def _conn_file(self) -> str:
        return f"{self.tickle_dir.rstrip('/')}/{self.ip.split('/')[0]}"

    def _connections(self) -> list[str]:
        """Established connections to ip on the ports, as 'local:port remote:port' lines (none without ss:
        tickles only hasten clients, so a missing ss must not fail a stop that blocks again)."""
        try:
            r = self.run(["ss", "-Htn", "state", "established"], ok=(0,))
        except NotInstalledError as e:
            self.log.warning(f"{e.reason}: no connection list, no tickle ACKs")
            return []
        ip = self.ip.split("/")[0]
        wanted = self.portno
        out = []
        for line in r.stdout.splitlines():
            words = line.split()
            if len(words) < 4:
                continue
            local, remote = words[2], words[3]
            host, _, port = local.rpartition(":")
            host = host.strip("[]").split("%")[0]
            if host.startswith("::ffff:"):
                host = host[7:]
            if port.isdigit() and (ip in ("0.0.0.0", "::") or host == ip) and \
                    any(a <= int(port) <= b for a, b in wanted):
                out.append(f"{local} {remote}")
        return out

    def save_connections(self) -> None:
        """Write the connection list into tickle_dir (fsynced, renamed into place), then sync it."""
        if not self.tickle_dir:
            return
        StateFile(self._conn_file()).write("".join(c + "\n" for c in self._connections()))
        if self.sync_script:
            try:
                self.kernel.spawn([self.sync_script])
            except OcfError as e:
                self.log.warning(f"sync_script: {e.reason}")

    def _tickle(self, lines: list[str], *, swap: bool) -> None:
        if not lines:
            return
        script = system.path.join(system.path.dirname(system.path.abspath(__file__)), "tools", "tickle.py")
        if swap:
            lines = [" ".join(reversed(ln.split())) for ln in lines]
        try:
            self.run([sys.executable, "-I", "-S", script, "3"], input="".join(ln + "\n" for ln in lines))
        except OcfError as e:
            self.log.warning(f"tickle ACKs failed: {e.reason}")

    def tickle_remote(self) -> None:
        """Tell the clients of the saved connections (they are stale here) to reconnect."""
        if not self.tickle_dir:
            return
        text = StateFile(self._conn_file()).read() or ""
        self._tickle([ln for ln in text.splitlines() if ln.strip()], swap=False)

    # ----- actions ------------------------------------------------------------------------

    @action(timeout=20)
    def start(self) -> int:
        """block: add the rule; unblock: remove it and tickle the clients of saved connections."""
        self.state().write()
        if self.block_action == "block":
            self.add_rule()
        else:
            self.remove_rule()
            self.tickle_remote()
        return Rc.SUCCESS

    @action(timeout=20)
    def stop(self) -> int:
        """block: remove the rule; unblock: save connections and block again (the ports stay blocked)."""
        self.state().remove()
        if self.block_action == "block":
            try:
                self.remove_rule()
            except NotInstalledError as e:
                why = self._kernel_may_hold_rule()
                if why:
                    raise OcfError(f"cannot remove the rule: {e.reason}, and {why}") from None
                self.log.info(f"{e.reason}, but the kernel holds no rule of ours: nothing to remove")
            return Rc.SUCCESS
        live = self._connections() if self.reset_local_on_unblock_stop or self.tickle_dir else []
        if self.tickle_dir:
            self.save_connections()
        self.add_rule()
        if self.reset_local_on_unblock_stop and self.protocol == "tcp" and live:
            self._reset_local(live)
        return Rc.SUCCESS

    def _reset_local(self, live: list[str]) -> None:
        """Reset our own ends: a temporary REJECT tcp-reset on our replies, then tickle our sockets."""
        fam = self.family
        ports = ",".join(f"{a}" if a == b else f"{a}:{b}" for a, b in self.portno)
        spec = ["-p", "tcp", "-s", self.ip, "-m", "multiport", "--sports", ports, "-m", "comment", "--comment",
                "ocfkit-reset:" + self.key, "-j", "REJECT", "--reject-with", "tcp-reset"]
        iptables.insert_rule(self.run, fam, "OUTPUT", spec)
        try:
            self._tickle(live, swap=True)
        finally:
            while iptables.delete_rule(self.run, fam, "OUTPUT", spec):
                pass

    @action(timeout=10, interval=10, depth=0)
    def monitor(self) -> int:
        """The truth table in docs/network.md: block is running while the rule is there or its state
        file is; unblock while the rule is absent and its state file is there."""
        present = self.rule_present()
        if present:
            return Rc.SUCCESS if self.block_action == "block" else Rc.NOT_RUNNING
        if not self.state().exists():
            return Rc.NOT_RUNNING
        if self.block_action == "unblock" and self.tickle_dir:
            self.save_connections()
        return Rc.SUCCESS

    @action(timeout=10)
    def status(self) -> int:
        """Legacy alias of monitor."""
        return self.monitor()

    @action(name="reload-agent", timeout=20)
    def reload_agent(self) -> int:
        """Take new tickle options without touching the rule. An unblock instance writes its connection
        list into a new tickle_dir (and runs a new sync_script) at once, so that a directory it cannot
        write fails the reload instead of the next failover."""
        changed = self.changed_params()
        if self.block_action == "unblock" and self.tickle_dir and {"tickle_dir", "sync_script"} & set(changed):
            self.save_connections()
        if changed:
            self.log.info("reloaded " + ", ".join(f"{n}={self.param(n)}" for n in changed))
        return Rc.SUCCESS


if __name__ == "__main__":
    raise SystemExit(portblock.main())
