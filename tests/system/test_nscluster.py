"""A real two-node corosync + Pacemaker cluster of namespace nodes (ocfkit.lab), fenced for real.

Each node has its own PID, mount, UTS, IPC and network namespaces, private /var/lib/pacemaker, /run,
/dev/shm, logs and /etc/corosync; the nodes talk over two links through a switch namespace. node1 is
crashed (every process killed, links cut): corosync on node2 notices, Pacemaker fences node1 with
fence_ocfkit_netns through the lab's power switch, and starts the resources on node2. node1 boots
again and rejoins; with stickiness the resources stay on node2.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from crm.model import Cluster, Group, Location, Op, Primitive
from crm.render import cib_xml
from ocfkit.lab import Lab, LabError, host_cluster
from ocfkit.lab.lab import DC_DEADTIME
from ocfkit.lab.pacemaker import configure, fence_history, view
from ocfkit.lab.timeline import events, failover, metadata, operations, result, stamp, switchover
from tests.system.support import PROVIDER

pytestmark = pytest.mark.system

RESOURCES = ("p_dummy1", "p_vip", "p_dummy2")
VIP = "10.98.0.100"


def wait(what: str, predicate, timeout: float, node):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    r = node.run(["crm_mon", "-1", "-r", "-f"], check=False) if node.running else None
    raise AssertionError(f"timed out ({timeout} s) waiting for {what}; crm_mon on {node.name}:\n"
                         f"{r.stdout + r.stderr if r else '(not running)'}")


def ping_from(netns: str, address: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", netns, "ping", "-c1", "-W2", address], capture_output=True,
                          timeout=10).returncode == 0


def configuration(lab: Lab) -> str:
    """The cluster's configuration (<configuration> of a CIB rendered by crm/)."""
    mon_op = (Op("monitor", 10, 20),)
    switch = lab.fence_device_params()["power_switch"]
    fences = tuple(Primitive(f"st_{n}", "stonith:fence_ocfkit_netns",
                             (("pcmk_host_list", n), ("power_switch", switch)), ops=(Op("monitor", 60, 20),))
                   for n in lab.nodes)
    cluster = Cluster(
        name=lab.cluster_name, nodes=tuple(lab.nodes),
        resources=(*fences, Group("g_test", (
            Primitive("p_dummy1", f"ocf:{PROVIDER}:Dummy", ops=mon_op),
            Primitive("p_vip", f"ocf:{PROVIDER}:IPaddr2", (("ip", VIP), ("cidr_netmask", "24"), ("nic", "eth0")),
                      ops=mon_op),
            Primitive("p_dummy2", f"ocf:{PROVIDER}:Dummy", ops=mon_op)))),
        locations=(*(Location(f"l_st_{n}", f"st_{n}", n, "-INFINITY") for n in lab.nodes),
                   Location("l_g_test", "g_test", "node1", "50")),
        properties=(("stonith-enabled", "true"), ("stonith-action", "off"), ("no-quorum-policy", "stop"),
                    ("dc-deadtime", DC_DEADTIME)),
        rsc_defaults=(("resource-stickiness", "100"),))
    conf = ET.fromstring(cib_xml(cluster)).find("configuration")
    return ET.tostring(conf, encoding="unicode")


HOST_LOGS = ("/var/log/pacemaker/pacemaker.log", "/var/log/corosync/corosync.log")


def host_log_lines(name: str) -> int:
    """Lines of the host's own cluster logs that name a lab node (there must be none)."""
    count = 0
    for path in HOST_LOGS:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                count += sum(f" {name} " in line for line in f)
        except FileNotFoundError:
            pass
    return count


@pytest.fixture
def lab(tmp_path):
    if host_cluster():
        pytest.skip(f"this host runs a cluster of its own: {host_cluster()}")
    before = {n: host_log_lines(n) for n in ("node1", "node2")}
    with Lab(str(tmp_path / "lab")) as lab:
        yield lab
    # Nothing of the nodes reached the host: no fence agent in its /usr/sbin, nothing in its logs.
    assert not os.path.exists("/usr/sbin/fence_ocfkit_netns")
    assert {n: host_log_lines(n) for n in ("node1", "node2")} == before


def test_crashed_node_is_detected_fenced_and_its_resources_move_then_it_rejoins(lab):
    n1, n2 = lab.node("node1"), lab.node("node2")
    t_boot = time.time()
    lab.boot_all()
    wait("both nodes online", lambda: view(n1).online == {"node1", "node2"} == view(n2).online, 60, n1)
    formed = time.time() - t_boot

    # Each node is its own machine: hostname, Pacemaker's IPC (abstract sockets, per network
    # namespace), its private state; the host sees none of it.
    assert n1.run(["uname", "-n"]).stdout.strip() == "node1"
    # The node's own sysfs: its interfaces, its MACs (gratuitous ARPs read them there).
    assert n1.run(["ls", "/sys/class/net"]).stdout.split() == ["eth0", "eth1", "lo"]
    assert n1.run(["crm_node", "-i"]).stdout.strip() == "1"
    assert n2.run(["crm_node", "-i"]).stdout.strip() == "2"
    assert "@cib_rw" in n1.run(["cat", "/proc/net/unix"]).stdout
    with open("/proc/net/unix", encoding="utf-8") as f:
        assert "@cib_rw" not in f.read()
    assert n1.run(["test", "-x", "/usr/sbin/fence_ocfkit_netns"], check=False).returncode == 0
    assert n1.run(["stat", "-c", "%a %s", "/etc/corosync/authkey"]).stdout.split() == ["400", "256"]
    assert not os.path.exists("/etc/corosync/authkey") or \
        os.path.getmtime("/etc/corosync/authkey") < t_boot
    assert n2.run(["ping", "-c1", "-W2", "10.98.1.1"], check=False).returncode == 0  # replication link

    configure(n1, configuration(lab), lab.dir)
    t_conf = time.time()
    expected = {"p_dummy1": "node1", "p_vip": "node1", "p_dummy2": "node1", "st_node1": "node2", "st_node2": "node1"}
    wait("resources and fence devices started", lambda: view(n1).placement == expected, 60, n1)
    started = time.time() - t_conf
    # node2's fencer can fence node1 with the lab's device (it runs the agent's list/status).
    assert "st_node1" in n2.run(["stonith_admin", "--list", "node1"]).stdout

    assert VIP in n1.run(["ip", "-o", "addr", "show", "dev", "eth0"]).stdout
    client = lab.add_client()
    wait("the client reaching the VIP on node1", lambda: ping_from(client, VIP), 15, n1)

    # Planned switchovers with the cluster's own command, there and back.
    moves = []
    for source, target in (("node1", "node2"), ("node2", "node1")):
        t = time.time()
        n1.run(["crm_resource", "--move", "--resource", "g_test", "--node", target])
        wait(f"the group on {target}", lambda t=target: all(view(n1).placement.get(r) == t for r in RESOURCES),
             60, n1)
        n1.run(["crm_resource", "--clear", "--resource", "g_test"])
        both = sorted(events(n1.dir, since=t - 0.001) + events(n2.dir, since=t - 0.001))
        moves.append(switchover(both, list(RESOURCES), source, target, t))
    assert all(None not in m.values() and m["total"] > 0 for m in moves), moves
    assert ping_from(client, VIP)
    dc = view(n1).dc
    t_crash = lab.crash("node1")
    assert not n1.running and not n1.processes()
    assert lab.power_status("node1") == "ON"  # a crashed machine is still powered until it is fenced
    wait("resources started on node2", lambda: all(view(n2).placement.get(r) == "node2" for r in RESOURCES),
         60, n2)
    t_moved = time.time()
    history = fence_history(n2, "node1")
    fenced = [e for e in history if e.get("target") == "node1" and e.get("status") == "success"]
    assert fenced and fenced[0].get("action") == "off" and fenced[0].get("delegate") == "node2", history
    assert lab.power_status("node1") == "OFF"
    assert VIP in n2.run(["ip", "-o", "addr", "show", "dev", "eth0"]).stdout
    # A client on the LAN reaches the address on node2 once node2's gratuitous ARPs (sent in the
    # background after start) have updated its neighbour entry.
    mac2 = n2.run(["cat", "/sys/class/net/eth0/address"]).stdout.strip()

    def client_on_node2() -> bool:
        neigh = subprocess.run(["ip", "-n", client, "neigh", "show", VIP], capture_output=True, text=True).stdout
        return mac2 in neigh and ping_from(client, VIP)

    wait("the client reaching the VIP on node2", client_on_node2, 15, n2)
    t_client = time.time()
    with open(lab.power_log, encoding="utf-8") as f:
        power = f.read()
    assert "off node1 done" in power

    evts = events(n2.dir, since=t_crash - 0.001)
    phases = failover(evts, "node1", "node2", "p_dummy2", t_crash)
    report = "\n".join(f"{t - t_crash:7.3f} {line}" for t, line in evts if t < t_moved + 1)
    assert None not in phases.values(), f"{phases}\n{report}"
    print(f"\ncluster formed in {formed:.1f} s; resources started {started:.1f} s after configuration; "
          f"DC before the crash: {dc}")
    for m, what in zip(moves, ("node1 -> node2", "node2 -> node1")):
        print(f"planned switchover {what} (crm_resource --move; s): " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()))
    print("after the crash of node1 (s): " + ", ".join(f"{k} {v:.3f}" for k, v in phases.items()) +
          f"; the client pings the VIP on node2 at {t_client - t_crash:.2f} (polled)")
    assert 0 < phases["token_lost"] < phases["membership"] < 10, report
    assert all(0 <= phases[k] < 20 for k in ("decision", "fencing", "resources")), report

    # node1 comes back: a fresh boot (new namespaces, fresh /run), it rejoins; stickiness keeps the
    # resources on node2.
    t_on = time.time()
    lab.power_on("node1")
    wait("node1 rejoined", lambda: view(n2).online == {"node1", "node2"}, 60, n2)
    print(f"node1 powered on -> online again: {time.time() - t_on:.1f} s")
    time.sleep(3)
    where = view(n2).placement
    assert all(where.get(r) == "node2" for r in RESOURCES), where
    assert n1.run(["ls", "/run/resource-agents"], check=False).stdout.strip() == ""


def test_the_lab_refuses_to_touch_a_missing_node_and_cleans_up(tmp_path):
    with Lab(str(tmp_path / "lab")) as lab:
        with pytest.raises(LabError):
            lab.node("node3")
        switch = lab.switch
    assert switch not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def agent(node, lab: Lab, *args: str, stdin: str | None = None):
    """Run the fence agent inside a node, as pacemaker-fenced does (stdin) or with options."""
    return node.run(["/usr/sbin/fence_ocfkit_netns", *args], check=False, input=stdin or "", timeout=60)


def test_fence_agent_powers_nodes_off_and_on_from_inside_the_other_node(tmp_path):
    with Lab(str(tmp_path / "lab")) as lab:
        lab.start_cluster_on_boot = False
        lab.boot_all()
        n1, n2 = lab.node("node1"), lab.node("node2")
        switch = lab.power_socket

        meta = agent(n2, lab, "-o", "metadata")
        assert meta.returncode == 0
        root = ET.fromstring(meta.stdout)
        assert root.get("name") == "fence_ocfkit_netns"
        assert {"on", "off", "reboot", "status", "list", "monitor", "metadata"} <= \
            {a.get("name") for a in root.iter("action")}
        assert {"action", "plug", "port", "power_switch"} <= {p.get("name") for p in root.iter("parameter")}
        # Pacemaker reads the same metadata (and would refuse a malformed one).
        assert "power_switch" in n2.run(["stonith_admin", "--metadata", "--agent", "fence_ocfkit_netns"]).stdout

        status = agent(n2, lab, stdin=f"action=status\nport=node1\npower_switch={switch}\nnodename=node2\n")
        assert (status.returncode, status.stdout) == (0, "Status: ON\n")
        listed = agent(n2, lab, stdin=f"action=list\npower_switch={switch}\n")
        assert (listed.returncode, listed.stdout) == (0, "node1,\nnode2,\n")
        assert agent(n2, lab, "-o", "monitor", f"--power-switch={switch}").returncode == 0

        first_init = n1.init_pid
        off = agent(n2, lab, "-o", "off", "-n", "node1", f"--power-switch={switch}")
        assert off.returncode == 0, off.stderr
        assert not n1.running and not n1.processes()  # nothing of node1 runs once 'off' answered
        ports = subprocess.run(["ip", "-n", lab.switch, "-o", "link"], capture_output=True, text=True).stdout
        assert "n1l0" not in ports and "n1l1" not in ports and "n2l0" in ports
        off_status = agent(n2, lab, "--action=status", "--plug=node1", f"--power-switch={switch}")
        assert (off_status.returncode, off_status.stdout) == (2, "Status: OFF\n")

        on = agent(n2, lab, stdin=f"action=on\nplug=node1\npower_switch={switch}\n")
        assert on.returncode == 0, on.stderr
        assert n1.running and n1.init_pid != first_init
        assert n1.run(["uname", "-n"]).stdout.strip() == "node1"
        assert n2.run(["ping", "-c1", "-W2", "10.98.0.1"], check=False).returncode == 0  # links back

        second_init = n1.init_pid
        reboot = agent(n2, lab, stdin=f"action=reboot\nport=node1\npower_switch={switch}\n")
        assert reboot.returncode == 0, reboot.stderr
        assert n1.running and n1.init_pid not in (first_init, second_init)

        unknown = agent(n2, lab, "-o", "off", "-n", "node9", f"--power-switch={switch}")
        assert unknown.returncode == 1 and "no such node" in unknown.stderr
        assert lab.power_status("node1") == "ON" and lab.power_status("node2") == "ON"
        missing = agent(n2, lab, "-o", "monitor", f"--power-switch={tmp_path}/nothing.sock")
        assert missing.returncode == 1 and "power switch" in missing.stderr
        assert agent(n2, lab, "-o", "off", "-n", "node1").returncode == 1  # no switch given
        quiet = agent(n2, lab, stdin="action=off\nplug=node1\nquiet=1\n")
        assert (quiet.returncode, quiet.stderr) == (1, "")


HARESOURCES = f"node1 Dummy::/run/dummy1.state IPaddr2::{VIP}/24/eth0 Dummy::/run/dummy2.state\n"


def held(node) -> set[str]:
    """What of the haresources group the node holds: Dummy state files (in its private /run), the VIP."""
    if not node.running:
        return set()
    out = {p for p in ("dummy1", "dummy2")
           if node.run(["test", "-f", f"/run/{p}.state"], check=False).returncode == 0}
    if VIP in node.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"], check=False).stdout:
        out.add("vip")
    return out


def test_heartbeat_nodes_take_over_after_a_crash_and_the_crashed_node_rejoins(tmp_path):
    """heartbeat 3.0.6 (R1, haresources) in two namespace nodes, ucast on both links; node1 crashes,
    node2 declares it dead after deadtime, resets it through external/ocfkit_netns (stonith_host) and
    takes the group over; node1 boots again and, with auto_failback off, the group stays on node2."""
    if host_cluster():
        pytest.skip(f"this host runs a cluster of its own: {host_cluster()}")
    with Lab(str(tmp_path / "lab"), manager="heartbeat", provider=PROVIDER) as lab:
        lab.set_haresources(HARESOURCES)
        n1, n2 = lab.node("node1"), lab.node("node2")
        t_boot = time.time()
        lab.boot_all()
        everything = {"dummy1", "dummy2", "vip"}
        wait("node1 holds the group", lambda: held(n1) == everything, 60, n1)
        acquired = time.time() - t_boot
        assert held(n2) == set()
        assert n2.run(["cl_status", "nodestatus", "node1"]).stdout.strip() == "active"
        assert "node1" in n1.run(["cat", "/etc/ha.d/ha.cf"]).stdout
        assert n1.run(["stat", "-c", "%a", "/etc/ha.d/authkeys"]).stdout.strip() == "600"

        t_crash = lab.crash("node1")
        dead = wait("node1 declared dead on node2",
                    lambda: n2.run(["cl_status", "nodestatus", "node1"], check=False).stdout.strip() == "dead"
                    and time.time(), 30, n2)
        taken = wait("node2 holds the group", lambda: held(n2) == everything and time.time(), 30, n2)

        def ha_log() -> str:
            with open(os.path.join(n2.dir, "var-log", "heartbeat", "ha.log"), encoding="utf-8") as f:
                return f.read()

        log = wait("mach_down's end", lambda: "mach_down takeover complete for node node1" in ha_log() and ha_log(),
                   10, n2)
        assert "node node1: is dead" in log
        # heartbeat fenced node1 (stonith_host with external/ocfkit_netns: a reset, off then on) before
        # taking over.
        assert "node node1 now reset" in log
        with open(lab.power_log, encoding="utf-8") as f:
            power = [(float(t), rest) for t, _, rest in (line.partition(" ") for line in f.read().splitlines())]
        t_off = next(t for t, what in power if what == "off node1 requested" and t > t_crash)
        t_on = next(t for t, what in power if what == "on node1 done" and t > t_off)
        assert t_on < taken
        print(f"\nheartbeat: group acquired {acquired:.1f} s after boot (heartbeat's fixed 10 s start-up wait); "
              f"after the crash of node1 (s): declared dead {dead - t_crash:.2f} (deadtime 1 s, polled every "
              f"0.2 s), power switch off {t_off - t_crash:.2f}, node1 on again {t_on - t_crash:.2f}, group on node2 "
              f"{taken - t_crash:.2f}")
        assert 0 < dead - t_crash < 10 and taken >= dead

        # The reset booted a fresh node1 whose heartbeat started; auto_failback off keeps the group on node2.
        lab.power_on("node1")
        wait("node1 back", lambda: n2.run(["cl_status", "nodestatus", "node1"], check=False).stdout.strip()
             == "active", 60, n2)
        time.sleep(3)
        where = {"node1": held(n1), "node2": held(n2)}
        if where != {"node1": set(), "node2": everything}:
            logs = []
            for n in (n1, n2):
                with open(os.path.join(n.dir, "var-log", "heartbeat", "ha.log"), encoding="utf-8") as f:
                    logs.append(f.read()[-6000:])
            raise AssertionError(f"{where}\n" + "\n".join(logs))


CTRL_C_SCRIPT = """
import sys, time
from ocfkit.lab import Lab
with Lab(sys.argv[1], prefix=sys.argv[2]) as lab:
    lab.start_cluster_on_boot = False
    lab.boot_all()
    print(*(n.init_pid for n in lab.nodes.values()), flush=True)
    time.sleep(120)
"""


def test_ctrl_c_removes_the_nodes_and_the_switch(tmp_path):
    prefix = f"ocfklc{os.getpid() % 10000}"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, str(tmp_path / "lab"), prefix], cwd=repo,
                         stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(w) for w in p.stdout.readline().split()]
        assert len(pids) == 2 and all(os.path.exists(f"/proc/{pid}") for pid in pids)
        assert f"{prefix}-sw" in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        p.send_signal(signal.SIGINT)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not any(os.path.exists(f"/proc/{pid}") for pid in pids)
    assert f"{prefix}-sw" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_the_labs_files_come_from_generates_writers_which_refuse_what_the_files_cannot_hold(tmp_path):
    """Without a generated directory the lab describes itself (an `ocfkit generate` description) and
    writes corosync.conf, ha.cf and authkeys with generate's own writers, checked as generate checks."""
    lab = Lab(str(tmp_path / "lab"))
    good = lab.config_file("corosync.conf")
    assert "two_node: 1" in good and "ring1_addr: 10.98.1.2" in good and "linknumber: 1" in good
    assert "token: 1000" in good and "timestamp: hires" in good
    cf = lab.config_file("ha.cf")
    assert "deadtime        1000ms" in cf and f"stonith_host    * external/ocfkit_netns {lab.power_socket}" in cf
    assert lab.config_file("authkeys").startswith("auth 1\n1 sha1 ")
    for bad in ("lab\n}", "lab {", ""):
        lab.cluster_name = bad
        with pytest.raises(LabError, match="cluster.name"):
            lab.config_file("corosync.conf")
    lab.cluster_name = "lab"
    lab.nodes["node1"].links[0] = ("br0", "eth0", "10.98.0.1}/24")
    with pytest.raises(LabError, match=r"node\[0\].address"):
        lab.config_file("corosync.conf")
    from ocfkit import description

    desc = description.Description(Lab(str(tmp_path / "lab2")).description())
    desc["heartbeat"].update(keepalive="500ms", deadtime="1000ms")
    with pytest.raises(description.DescriptionError, match="more than twice"):
        description.ha_cf(desc)


def test_failover_phases_come_from_the_survivors_log_lines():
    year = time.localtime().tm_year
    t0 = time.mktime((year, 12, 2, 5, 42, 31, 0, 0, -1)) + 0.896
    lines = [
        "Dec 02 05:42:32.471 [17] node2 corosync notice  [TOTEM ] Token has not been received in 750 ms ",
        "Dec 02 05:42:33.923 [17] node2 corosync notice  [TOTEM ] A new membership (2.d) was formed. Members left: 1",
        "Dec 02 05:42:34.955 node2 pacemaker-controld  [35] (controld_execute_fence_action) \tnotice: "
        "Requesting fencing (off) of node node1 | action=1 timeout=60000",
        "Dec 02 05:42:35.043 node2 pacemaker-fenced    [31] (finalize_op) \tnotice: Operation 'off' targeting "
        "node1 by node2 for pacemaker-controld.35@node2: OK (complete) | id=4004909e",
        "Dec 02 05:42:35.211 node2 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of start "
        "operation for p_dummy2 on node2: ok | CIB update 78",
    ]
    evts = [(stamp(line), line) for line in lines]
    phases = failover(evts, "node1", "node2", "p_dummy2", t0)
    assert phases == {"token_lost": 0.575, "membership": 2.027, "decision": 1.032, "fencing": 0.088,
                      "resources": 0.168, "total": 3.315}
    assert failover(evts[:2], "node1", "node2", "p_dummy2", t0)["fencing"] is None
    assert stamp("2026/12/02_05:42:35 harc: no millisecond stamp") is None


def test_switchover_phases_come_from_both_nodes_log_lines():
    year = time.localtime().tm_year
    t0 = time.mktime((year, 12, 2, 6, 0, 0, 0, 0, -1))
    lines = [
        "Dec 02 06:00:00.200 node1 pacemaker-controld  [35] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of stop operation for p_dummy2 on node1 | transition_key=1",
        "Dec 02 06:00:00.450 node1 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of stop operation "
        "for p_dummy1 on node1: ok | CIB update 80",
        "Dec 02 06:00:00.400 node2 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of start operation "
        "for p_dummy2 on node2: ok | stale, before the stop",
        "Dec 02 06:00:01.000 node2 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of start operation "
        "for p_dummy2 on node2: ok | CIB update 90",
    ]
    evts = sorted((stamp(line), line) for line in lines)
    assert switchover(evts, ["p_dummy1", "p_vip", "p_dummy2"], "node1", "node2", t0) == \
        {"scheduling": 0.2, "stop": 0.25, "start": 0.55, "total": 1.0}


def test_a_switchover_of_groups_that_stop_side_by_side_ends_its_stop_with_the_last_member():
    """The demo's groups are colocated but not ordered: the configuration volume stops before the service
    group's last member; the stop phase lasts until every member has stopped."""
    year = time.localtime().tm_year
    t0 = time.mktime((year, 12, 2, 6, 0, 0, 0, 0, -1))
    lines = [
        "Dec 02 06:00:00.100 node1 pacemaker-controld  [35] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of stop operation for p_fs on node1 | transition_key=1",
        "Dec 02 06:00:00.110 node1 pacemaker-controld  [35] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of stop operation for p_unblock on node1 | transition_key=2",
        "Dec 02 06:00:00.150 node1 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of stop operation "
        "for p_fs on node1: ok | CIB update 80",
        "Dec 02 06:00:00.300 node1 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of stop operation "
        "for p_unblock on node1: ok | CIB update 81",
        "Dec 02 06:00:00.400 node1 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of stop operation "
        "for p_ip on node1: ok | CIB update 82",
        "Dec 02 06:00:00.420 node2 pacemaker-controld  [35] (do_lrm_invoke) \tinfo: Retrieving metadata for p_ip "
        "(ocf:ocfkit:IPaddr2) asynchronously",
        "Dec 02 06:00:00.470 node2 pacemaker-controld  [35] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of start operation for p_ip on node2 | transition_key=3",
        "Dec 02 06:00:00.900 node2 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of start operation "
        "for p_unblock on node2: ok | CIB update 90",
    ]
    evts = sorted((stamp(line), line) for line in lines)
    assert switchover(evts, ["p_fs", "p_ip", "p_unblock"], "node1", "node2", t0) == \
        {"scheduling": 0.1, "stop": 0.3, "start": 0.5, "total": 0.9}
    assert metadata(evts, "node2") == {"p_ip": 0.05}
    assert metadata(evts, "node1") == {}


def test_pacemaker_3_results_written_OK_time_the_switchover_and_the_operations():
    """Pacemaker 3.0 (Debian 13) logs a successful result as "OK" where 2.1 wrote "ok"."""
    year = time.localtime().tm_year
    t0 = time.mktime((year, 12, 2, 7, 8, 42, 0, 0, -1))
    lines = [
        "Dec 02 07:08:42.600 node2 pacemaker-controld  [37] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of stop operation for p_dummy2 on node2 | transition_key=1",
        "Dec 02 07:08:42.899 node2 pacemaker-controld  [37] (log_executor_event) \tnotice: Result of stop operation "
        "for p_dummy1 on node2: OK | graph action confirmed; call=35 key=p_dummy1_stop_0 rc=0",
        "Dec 02 07:08:43.100 node1 pacemaker-controld  [37] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of start operation for p_dummy2 on node1 | transition_key=2",
        "Dec 02 07:08:43.300 node1 pacemaker-controld  [37] (log_executor_event) \tnotice: Result of start operation "
        "for p_dummy2 on node1: OK | graph action confirmed; call=36 key=p_dummy2_start_0 rc=0",
    ]
    evts = sorted((stamp(line), line) for line in lines)
    assert switchover(evts, ["p_dummy1", "p_vip", "p_dummy2"], "node2", "node1", t0) == \
        {"scheduling": 0.6, "stop": 0.299, "start": 0.401, "total": 1.3}
    assert operations(evts, "start", "node1") == {"p_dummy2": 0.2}
    assert result(evts, "stop", "p_dummy1", "node2") == stamp(lines[1])


def test_a_killed_nodes_namespace_ids_never_name_a_later_programs_namespaces(tmp_path):
    """The kernel gives a new namespace the identifier of one that has just been freed: a node that
    matched processes by identifier after its namespaces died SIGKILLed whatever ran in a fresh one
    (agents of other tests, under `unshare --mount`). The node holds its namespaces until it is dead."""
    from ocfkit.lab.node import Node

    node = Node("idcheck", 99, str(tmp_path), switch="none", links=[], overlays=[])
    first = subprocess.Popen(["unshare", "--mount", "--", "cat"], stdin=subprocess.PIPE)
    second = None
    try:
        time.sleep(0.2)
        node.ns = node._hold_namespaces(first.pid)  # what boot() records for the node's init
        assert first.pid in node.processes()
        first.kill()
        first.wait()
        second = subprocess.Popen(["unshare", "--mount", "--", "cat"], stdin=subprocess.PIPE)
        time.sleep(0.2)
        assert second.pid not in node.processes(), "a fresh namespace got the dead node's identifier"
        node._release_namespaces()
        assert node.processes() == []
    finally:
        node._release_namespaces()
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def test_each_operation_is_timed_from_the_controllers_request_to_its_result():
    year = time.localtime().tm_year
    t0 = time.mktime((year, 12, 2, 6, 0, 0, 0, 0, -1))
    lines = [
        "Dec 02 05:59:59.000 node2 pacemaker-controld  [35] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of start operation for p_old on node2 | before the window",
        "Dec 02 06:00:00.100 node2 pacemaker-controld  [35] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of start operation for p_fs on node2 | transition_key=1",
        "Dec 02 06:00:00.220 node2 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of start operation "
        "for p_fs on node2: ok | CIB update 1",
        "Dec 02 06:00:00.300 node2 pacemaker-controld  [35] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of start operation for p_ip on node2 | transition_key=2",
        "Dec 02 06:00:00.350 node1 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of start operation "
        "for p_ip on node1: ok | another node",
        "Dec 02 06:00:00.700 node2 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of start operation "
        "for p_ip on node2: ok | CIB update 2",
        "Dec 02 06:00:00.800 node2 pacemaker-controld  [35] (do_lrm_rsc_op) \tnotice: Requesting local execution "
        "of start operation for p_target on node2 | no result yet",
        "Dec 02 06:00:00.200 node2 pacemaker-controld  [35] (log_executor_event) \tnotice: Result of start operation "
        "for p_old on node2: ok | its request was before the window",
    ]
    evts = sorted((stamp(line), line) for line in lines)
    assert operations(evts, "start", "node2", t0) == {"p_fs": 0.12, "p_ip": 0.4}
    assert operations(evts, "stop", "node2", t0) == {}
    assert operations(evts, "start", "node2", t0, t0 + 0.25) == {"p_fs": 0.12}
