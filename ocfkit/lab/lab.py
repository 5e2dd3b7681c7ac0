"""A lab: a two-node (or larger) cluster of namespace nodes on one host, with a switch and power.

    with Lab(directory) as lab:          # switch, links' bridges, keys, configs, power switch
        lab.boot_all()                    # both nodes up, corosync + pacemakerd running in each
        lab.node("node1").run(["crm_mon", "-1"])
        lab.crash("node1")                # every process killed at once, links cut
        lab.power_on("node1")             # a fresh boot; the cluster stack starts and rejoins

The switch is a network namespace of its own holding one bridge per link (LAN, replication), so the
host's namespaces never see an address or a route of the lab. Everything is removed by ``close``
(also when a step fails or on Ctrl-C: use the context manager); the lab directory keeps the nodes'
logs.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid

from ocfkit.lab.node import LabError, Node, run
from ocfkit.lab.power import PowerSwitch

AGENT = "fence_ocfkit_netns"
AGENT_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fence_ocfkit_netns.py")
PLUGIN = "ocfkit_netns"  # cluster-glue external STONITH plugin, for heartbeat's stonith_host
PLUGIN_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "external_ocfkit_netns.py")
PLUGIN_DIR = "/usr/lib/stonith/plugins/external"
CLUSTER_DAEMONS = ("corosync", "pacemakerd", "heartbeat")
# How long a booting node waits for a DC before an election (Pacemaker's default is 20 s). Keep it in
# the cluster options applied later too, or a node that reboots waits the default.
DC_DEADTIME = "2s"
# The timing shim of a heartbeat wrapper (Lab(timed_wrappers=True)): bash's clock ($EPOCHREALTIME, in
# microseconds) without a process of its own. The shim first ran `date` twice (dash): 2 to 3 ms more in
# every call heartbeat made, and the second `date`'s start-up counted as the wrapper's.
ACTIONS_LOG = "/var/log/heartbeat/ocfkit-actions.log"
TIMED_DIR = ".ocfkit-timed"
TIMING_SHIM = """#!/bin/bash
# ocfkit lab: times ocfkit's resource.d wrapper {name} (beside, in {real}) in ms for the demo.
t0=$EPOCHREALTIME
{real} "$@"
rc=$?
t1=$EPOCHREALTIME
echo "$t0 $t1 $rc {name} $*" >>{log}
exit $rc
"""


def host_cluster() -> str:
    """'' when this host runs no cluster daemon of its own, else what runs: a corosync, pacemakerd or
    heartbeat in the host's PID and network namespaces (daemons of tests and labs live in namespaces of
    their own) that is still there half a second later (``corosync -t`` checking a file is no cluster)."""
    first = _host_daemons()
    if not first:
        return ""
    time.sleep(0.5)
    again = _host_daemons()
    lasting = [d for d in first if d in again]
    return ", ".join(f"{comm} (pid {pid})" for pid, comm in lasting)


def _host_daemons() -> list[tuple[str, str]]:
    me_pid, me_net = os.readlink("/proc/self/ns/pid"), os.readlink("/proc/self/ns/net")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", encoding="utf-8", errors="replace") as f:
                comm = f.read().strip()
            if comm not in CLUSTER_DAEMONS:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            if comm == "corosync" and (b"-t" in args or b"-v" in args):
                continue
            if os.readlink(f"/proc/{entry}/ns/pid") == me_pid and os.readlink(f"/proc/{entry}/ns/net") == me_net:
                found.append((entry, comm))
        except OSError:
            continue
    return found


class Lab:
    """Namespace nodes on a private switch, a power switch for fencing, per-lab keys and configs."""

    def __init__(self, directory: str, *, names: tuple[str, ...] = ("node1", "node2"), prefix: str = "",
                 cluster_name: str = "ocfkitlab", token_ms: int = 1000,
                 networks: tuple[str, ...] = ("10.98.0", "10.98.1"), manager: str = "pacemaker",
                 provider: str = "ocfkit", generated: str = "", timed_wrappers: bool = False) -> None:
        if any(c in directory for c in ":,\n") or not os.path.isabs(directory):
            raise LabError(f"lab directory {directory!r}: an absolute path without ':' or ','")
        self.dir = directory
        self.prefix = prefix or f"ocfkl{uuid.uuid4().hex[:6]}"
        self.switch = f"{self.prefix}-sw"
        self.cluster_name, self.token_ms = cluster_name, token_ms
        self.networks = networks
        self.manager, self.provider = manager, provider
        # A directory of `ocfkit generate` output: its corosync.conf (and, for heartbeat, ha.cf, authkeys,
        # haresources) configure the nodes instead of the lab's own small writers.
        self.generated = generated
        # heartbeat logs whole seconds: with timed_wrappers each resource.d wrapper of ocfkit runs behind a
        # small sh shim that logs its start, end and exit code in ms (ACTIONS_LOG in the node; see
        # actions()), so the demo can tell heartbeat's own time from ocfkit's agents.
        self.timed_wrappers = timed_wrappers
        self._auth_key = os.urandom(20).hex()  # heartbeat's per-lab key (the lab's own description)
        self.bridges = [f"br{i}" for i in range(len(networks))]
        self.nodes: dict[str, Node] = {}
        for i, name in enumerate(names, start=1):
            links = [(br, f"eth{j}", f"{net}.{i}/24") for j, (br, net) in enumerate(zip(self.bridges, networks))]
            self.nodes[name] = Node(name, i, os.path.join(directory, "nodes", name), switch=self.switch,
                                    links=links, overlays=[(os.path.join(directory, "sbin"), "/usr/sbin"),
                                                           (os.path.join(directory, "stonith"), PLUGIN_DIR)],
                                    manager=manager)
        self.power_socket = os.path.join(directory, "power.sock")
        self.power_log = os.path.join(directory, "power.log")
        self.powered: dict[str, bool] = dict.fromkeys(names, False)
        self.start_cluster_on_boot = True
        self._lock = threading.RLock()
        self._switch_made = False
        self._power: PowerSwitch | None = None
        self.clients: list[str] = []
        # A machine takes a while from power-on to its cluster stack. heartbeat needs it: a node reset
        # by the survivor's STONITH came back while the survivor was still taking its resources over.
        self.stack_delay = 5.0 if manager == "heartbeat" else 0.0
        self._timers: list[threading.Timer] = []
        self._closing = False

    # -- set-up and teardown -----------------------------------------------------------------------

    def __enter__(self) -> Lab:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        running = host_cluster()
        if running:
            raise LabError(f"this host runs a cluster of its own ({running}): the lab refuses to start next to it")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "nodes"), exist_ok=True)
        # The fence agent and the heartbeat STONITH plugin, seen by the nodes (only) in /usr/sbin and
        # the plugins' directory through read-only overlays.
        for sub, name, source in (("sbin", AGENT, AGENT_SOURCE), ("stonith", PLUGIN, PLUGIN_SOURCE)):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
            with open(source, "rb") as f:
                write_private(os.path.join(self.dir, sub, name), f.read(), 0o755)
        run(["ip", "netns", "add", self.switch])
        self._switch_made = True
        sw = ["ip", "-n", self.switch]
        run([*sw, "link", "set", "lo", "up"])
        for br in self.bridges:
            run([*sw, "link", "add", br, "type", "bridge", "forward_delay", "0"])
            run([*sw, "link", "set", br, "up"])
        key = os.urandom(256)
        conf = self.config_file("corosync.conf")
        for node in self.nodes.values():
            node.prepare()
            etc = os.path.join(node.dir, "etc-corosync")
            write_private(os.path.join(etc, "authkey"), key, 0o400)
            write_private(os.path.join(etc, "corosync.conf"), conf.encode(), 0o644)
            self.seed_cib(node)
        if self.manager == "heartbeat":
            self.write_heartbeat_config()
        self._power = PowerSwitch(self.power_socket, list(self.nodes), on=self.power_on, off=self.power_off,
                                  status=self.power_status, log=self.power_log)
        self._power.start()

    def description(self) -> dict:
        """The lab as an `ocfkit generate` description (docs/crm.md) of its membership part: its nodes on
        the LAN and the second link, corosync (knet, token, millisecond log stamps), heartbeat (ucast on
        every link, 250 ms keepalive, 1 s deadtime, STONITH through the lab's plugin, a per-lab key)."""
        nodes = list(self.nodes.values())
        addr = [[a.split("/")[0] for _, _, a in n.links] for n in nodes]
        return {"cluster": {"name": self.cluster_name, "provider": self.provider},
                "node": [{"name": n.name, "address": a[0], **({"replication_address": a[1]} if len(a) > 1 else {})}
                         for n, a in zip(nodes, addr)],
                "corosync": {"token": self.token_ms, "timestamp": "hires"},
                "heartbeat": {"logfile": "/var/log/heartbeat/ha.log", "debugfile": "/var/log/heartbeat/ha-debug.log",
                              "logfacility": "none", "keepalive": "250ms", "deadtime": "1000ms", "warntime": "500ms",
                              "initdead": 3,
                              "media": [f"ucast {ifname} {a[i]}" for i, (_, ifname, _) in enumerate(nodes[0].links)
                                        for a in addr],
                              "stonith_host": [f"* external/{PLUGIN} {self.power_socket}"],
                              "auth_method": "sha1", "auth_key": self._auth_key}}

    def config_file(self, name: str) -> str:
        """corosync.conf, ha.cf or authkeys: from the generated directory when the lab has one, else made by
        `ocfkit generate`'s writers (ocfkit.description) from the lab's description, checked as generate checks."""
        if self.generated:
            return self.generated_file(name)
        from ocfkit import description

        desc = description.Description(self.description())
        try:
            description.check(desc)
            return {"corosync.conf": description.corosync_conf, "ha.cf": description.ha_cf,
                    "authkeys": description.authkeys_text}[name](desc)
        except description.DescriptionError as e:
            raise LabError(f"the lab's {name}: {e}") from None

    def generated_file(self, name: str) -> str:
        """The text of one file of the generated configuration (LabError when it is missing)."""
        path = os.path.join(self.generated, name)
        try:
            with open(path, encoding="utf-8") as f:
                return f.read(1 << 20)
        except OSError as e:
            raise LabError(f"{path}: {e.strerror} (run ocfkit generate first)") from None

    def close(self) -> None:
        """Kill every node, remove the switch and the power switch. Safe to call twice.

        Nodes die before the power switch stops: a node booted by the switch's thread has its unshare
        tied to that thread (``--pdeathsig``), and an unshare killed that way could not reap its init."""
        errors = []
        self._closing = True
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        for _ in range(2):  # again after the power switch stopped: it may have booted one meanwhile
            with self._lock:
                for node in self.nodes.values():
                    try:
                        node.kill()
                    except LabError as e:
                        errors.append(str(e))
            if self._power is None:
                break
            self._power.close()
            self._power = None
        for ns in self.clients:
            run(["ip", "netns", "del", ns], check=False)
        self.clients = []
        if self._switch_made:
            run(["ip", "netns", "del", self.switch], check=False)
            self._switch_made = False
        if errors:
            raise LabError("; ".join(errors))

    def write_heartbeat_config(self) -> None:
        """Each node's private /etc/ha.d: ha.cf (ucast on every link), authkeys (a per-lab key, 0600),
        and resource.d wrappers that run this ocfkit's agents (instead of whatever the host has)."""
        from ocfkit.install import wrapper_files

        nodes = list(self.nodes.values())
        cf, keys = self.config_file("ha.cf"), self.config_file("authkeys")
        if self.generated:
            self.set_haresources(self.generated_file("haresources"))
        pkgdir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        wrappers = wrapper_files(provider=self.provider, python=sys.executable, pkgdir=pkgdir)
        for node in nodes:
            etc = os.path.join(node.dir, "etc-ha.d")
            write_private(os.path.join(etc, "ha.cf"), cf.encode(), 0o644)
            write_private(os.path.join(etc, "authkeys"), keys.encode(), 0o600)
            for rel, text in wrappers.items():
                path = os.path.join(etc, rel.removeprefix("etc/ha.d/"))
                body = text
                if self.timed_wrappers:
                    name = os.path.basename(path)
                    real = os.path.join(os.path.dirname(path), TIMED_DIR, name)
                    os.makedirs(os.path.dirname(real), mode=0o755, exist_ok=True)
                    write_private(real, text.encode(), 0o755)
                    body = TIMING_SHIM.format(real=f"/etc/ha.d/resource.d/{TIMED_DIR}/{name}", name=name,
                                              log=ACTIONS_LOG)
                if os.path.lexists(path):
                    os.unlink(path)
                write_private(path, body.encode(), 0o755)

    def set_haresources(self, text: str) -> None:
        """The same haresources on every node (heartbeat requires that)."""
        for node in self.nodes.values():
            write_private(os.path.join(node.dir, "etc-ha.d", "haresources"), text.encode(), 0o644)

    def seed_cib(self, node: Node) -> None:
        """A first CIB on the node's disk (only when it has none) whose only setting is dc-deadtime:
        Pacemaker's default (20 s) would let a fresh node wait that long for a DC before electing one.
        The cluster's configuration proper is applied later, with cibadmin, inside a node."""
        cib_dir = os.path.join(node.dir, "var-lib-pacemaker", "cib")
        path = os.path.join(cib_dir, "cib.xml")
        if os.path.exists(path):
            return
        st = os.stat(cib_dir)
        xml = ('<cib validate-with="pacemaker-3.9" admin_epoch="0" epoch="1" num_updates="0">\n'
               '  <configuration>\n    <crm_config>\n      <cluster_property_set id="cib-bootstrap-options">\n'
               f'        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="{DC_DEADTIME}"/>\n'
               '      </cluster_property_set>\n    </crm_config>\n    <nodes/>\n    <resources/>\n'
               '    <constraints/>\n  </configuration>\n  <status/>\n</cib>\n')
        write_private(path, xml.encode(), 0o600)
        os.chown(path, st.st_uid, st.st_gid)

    def add_client(self, name: str = "client", address: str = "") -> str:
        """A plain machine on the LAN (bridge 0): a network namespace named <prefix>-<name>, its eth0
        at address (default .200 + n of the LAN). Returns the namespace's name; close deletes it."""
        if not name.isalnum() or len(name) > 8:
            raise LabError(f"client name {name!r}: up to 8 letters and digits")
        ns = f"{self.prefix}-{name}"
        address = address or f"{self.networks[0]}.{200 + len(self.clients)}/24"
        self.clients.append(ns)  # before it exists: Ctrl-C during `ip netns add` must not leave it behind
        run(["ip", "netns", "add", ns])
        port = f"c{len(self.clients)}"
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "-n", self.switch, "link", "set", port, "master", self.bridges[0], "up"])
        run(["ip", "-n", ns, "addr", "add", address, "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        return ns

    # -- nodes and power ---------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise LabError(f"no node {name!r} in this lab") from None

    def power_on(self, name: str) -> None:
        """Boot the node (nothing if it is on); its cluster stack starts when start_cluster_on_boot,
        stack_delay seconds later (in the background) if that is set."""
        with self._lock:
            if self._closing:
                raise LabError("the lab is closing")
            node = self.node(name)
            if self.powered[name] and node.running:
                return
            if node.init_pid:
                node.kill()
            node.boot()
            self.powered[name] = True
            if not self.start_cluster_on_boot:
                return
            if self.stack_delay <= 0:
                node.start_cluster(wait=False)
                return
            timer = threading.Timer(self.stack_delay, self._start_stack, (node, node.init_pid))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()

    def _start_stack(self, node: Node, init_pid: int) -> None:
        with self._lock:
            if self._closing or node.init_pid != init_pid or not node.running or node.daemons:
                return
            try:
                node.start_cluster(wait=False)
            except LabError as e:
                with open(self.power_log, "a", encoding="utf-8") as f:
                    f.write(f"{time.time():.3f} cluster stack of {node.name} did not start: {e}\n")

    def power_off(self, name: str) -> None:
        """Cut the power: returns once no process of the node is left and its links are gone."""
        with self._lock:
            self.node(name).kill()
            self.powered[name] = False

    def power_status(self, name: str) -> str:
        with self._lock:
            self.node(name)
            return "ON" if self.powered[name] else "OFF"

    def crash(self, name: str) -> float:
        """The node dies at once (links cut, every process killed) but stays 'powered' until fenced,
        like a hung machine. Returns the wall-clock time of the crash. The links go first: a machine
        losing power sends nothing, while processes killed with their links up would close their TCP
        connections (the clients would learn of the crash at once, from a FIN or a reset)."""
        with self._lock:
            t = time.time()
            node = self.node(name)
            node.cut_links()
            node.kill()
            return t

    def boot_all(self, timeout: float = 30) -> None:
        """Boot every node that is off, then start their cluster stacks together."""
        with self._lock:
            booted = []
            for name, node in self.nodes.items():
                if self.powered[name] and node.running:
                    continue
                if node.init_pid:
                    node.kill()
                node.boot()
                self.powered[name] = True
                booted.append(node)
            if self.start_cluster_on_boot:
                for node in booted:
                    node.start_cluster(timeout, wait=False)
                for node in booted:
                    node.wait_cluster(timeout)

    def fence_device_params(self) -> dict[str, str]:
        """The instance attributes a stonith:fence_ocfkit_netns resource needs for this lab."""
        return {"power_switch": self.power_socket}


def actions(node_dir: str, limit: int = 16 << 20) -> list[tuple[float, float, int, str]]:
    """(start, end, exit code, "WRAPPER ARGS... ACTION") of every timed resource.d call a node logged."""
    out = []
    try:
        with open(os.path.join(node_dir, "var-log", ACTIONS_LOG.removeprefix("/var/log/")), encoding="utf-8",
                  errors="replace") as f:
            text = f.read(limit)
    except OSError:
        return []
    for line in text.splitlines():
        words = line.split(" ", 3)
        try:
            # bash writes the locale's decimal point (ResourceManager unsets LC_ALL)
            out.append((float(words[0].replace(",", ".")), float(words[1].replace(",", ".")), int(words[2]),
                        words[3]))
        except (IndexError, ValueError):
            continue
    return out


def write_private(path: str, data: bytes, mode: int) -> None:
    """Write a file (no symlink followed) with mode set before any byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
