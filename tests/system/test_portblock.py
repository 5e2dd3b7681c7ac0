"""portblock for real: a TCP client in a peer namespace is refused, dropped or served; no rule leaks."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.system.support import Netns, agent_path, ocf_env, run_agent, unique, veth

pytestmark = pytest.mark.system

SERVER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.1", int(sys.argv[1]))); s.listen(16); s.settimeout(60)
print("ready", flush=True)
conns = []
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        c, _ = s.accept()
        c.sendall(b"hello\\n"); conns.append(c)
    except OSError:
        break
"""

CLIENT = """
import socket, sys
try:
    c = socket.create_connection(("10.99.0.1", int(sys.argv[1])), timeout=float(sys.argv[2]))
    print("connected" if c.recv(6) == b"hello\\n" else "garbage")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
"""


@pytest.fixture
def lan():
    with Netns(unique("ocfk-pn")) as node, Netns(unique("ocfk-pp")) as peer:
        veth(node, "veth0", peer, "veth0")
        node.run("ip", "addr", "add", "10.99.0.1/24", "dev", "veth0")
        peer.run("ip", "addr", "add", "10.99.0.2/24", "dev", "veth0")
        procs = []
        for port in (3260, 3261):
            p = subprocess.Popen(["ip", "netns", "exec", node.name, sys.executable, "-c", SERVER, str(port)],
                                 stdout=subprocess.PIPE, text=True)
            assert p.stdout.readline().strip() == "ready"
            procs.append(p)
        try:
            yield node, peer
        finally:
            for p in procs:
                p.kill()
                p.wait()


def connect(peer: Netns, port: int = 3260, timeout: float = 1.5) -> str:
    return peer.run(sys.executable, "-c", CLIENT, str(port), str(timeout), timeout=30).stdout.strip()


def rules(node: Netns) -> str:
    ipt = node.run("iptables", "-S").stdout + node.run("ip6tables", "-S").stdout
    nft = node.run("nft", "list", "ruleset").stdout
    return "".join(ln + "\n" for ln in (ipt + nft).splitlines() if "ocfkit" in ln)


def env_for(tmp_path, action, **params):
    p = {"protocol": "tcp", "portno": "3260", "action": action, "ip": "10.99.0.1"}
    p.update(params)
    return ocf_env(f"pb-{action}", p, rsctmp=str(tmp_path), interval_ms=10000)


@pytest.mark.parametrize("firewall", ["iptables", "nft"])
def test_block_drops_so_clients_time_out_and_unblock_lets_them_in(lan, tmp_path, firewall):
    node, peer = lan
    block, unblock = env_for(tmp_path, "block", firewall=firewall), env_for(tmp_path, "unblock", firewall=firewall)
    assert connect(peer) == "connected"
    assert run_agent("portblock", "start", block, netns=node.name).returncode == 0
    assert connect(peer) == "timeout"
    assert connect(peer, 3261) == "connected"  # only the configured port
    assert run_agent("portblock", "monitor", block, netns=node.name).returncode == 0
    assert run_agent("portblock", "start", unblock, netns=node.name).returncode == 0
    assert connect(peer) == "connected"
    assert run_agent("portblock", "monitor", unblock, netns=node.name).returncode == 0
    # Stopping the unblock instance blocks again, as in the reference agent.
    assert run_agent("portblock", "stop", unblock, netns=node.name).returncode == 0
    assert connect(peer) == "timeout"
    assert run_agent("portblock", "stop", block, netns=node.name).returncode == 0
    assert connect(peer) == "connected"
    assert rules(node) == ""


@pytest.mark.parametrize("firewall", ["iptables", "nft"])
def test_method_reject_resets_the_connection_at_once(lan, tmp_path, firewall):
    node, peer = lan
    block = env_for(tmp_path, "block", firewall=firewall, method="reject")
    assert run_agent("portblock", "start", block, netns=node.name).returncode == 0
    t = time.monotonic()
    assert connect(peer, timeout=5) == "refused"
    assert time.monotonic() - t < 2
    assert run_agent("portblock", "stop", block, netns=node.name).returncode == 0
    assert rules(node) == ""


@pytest.mark.parametrize("firewall", ["iptables", "nft"])
def test_monitor_truth_table(lan, tmp_path, firewall):
    """Rule present / absent x state file present / absent, for block and unblock."""
    node, _peer = lan
    block, unblock = env_for(tmp_path, "block", firewall=firewall), env_for(tmp_path, "unblock", firewall=firewall)

    def mon(env):
        return run_agent("portblock", "monitor", env, netns=node.name).returncode

    assert (mon(block), mon(unblock)) == (7, 7)            # no rule, no state
    run_agent("portblock", "start", block, netns=node.name)
    assert (mon(block), mon(unblock)) == (0, 7)            # rule, block state
    run_agent("portblock", "start", unblock, netns=node.name)
    assert (mon(block), mon(unblock)) == (0, 0)            # no rule, both states: block "considered active"
    run_agent("portblock", "stop", block, netns=node.name)
    assert (mon(block), mon(unblock)) == (7, 0)            # no rule, unblock state only
    run_agent("portblock", "stop", unblock, netns=node.name)
    assert (mon(block), mon(unblock)) == (0, 7)            # rule left by unblock's stop, no state
    run_agent("portblock", "start", block, netns=node.name)
    run_agent("portblock", "stop", block, netns=node.name)
    assert rules(node) == ""


# rule_present() inside the node's namespace, with every command it runs recorded.
PRESENT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from agents.portblock import portblock
from ocf.exec import run
calls = []

def counting(argv, **kw):
    calls.append(argv[0])
    return run(argv, **kw)

env = json.loads(sys.argv[2])
env["__OCF_ACTION"] = "monitor"
agent = portblock(env, counting)
agent.action = "monitor"
print(json.dumps([agent.rule_present(), calls]))
"""


def _iptables_is_nft() -> bool:
    out = subprocess.run(["iptables", "-V"], capture_output=True, text=True, check=False).stdout
    return "nf_tables" in out


@pytest.mark.skipif(not _iptables_is_nft(), reason="iptables here is not the nf_tables variant")
@pytest.mark.parametrize("direction", ["in", "both"])
def test_iptables_nft_rules_are_checked_from_the_kernel_and_agree_with_iptables_c(lan, tmp_path, direction):
    import json
    import os

    node, _peer = lan
    block = env_for(tmp_path, "block", firewall="iptables", direction=direction)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def present():
        out = node.run(sys.executable, "-I", "-S", "-c", PRESENT, root, json.dumps(block), timeout=30).stdout
        return tuple(json.loads(out)[0:2])

    def recorded_chains():
        found = [f for f in os.listdir(tmp_path) if f.endswith(".rules")]
        return sorted(ln.split()[0] for f in found for ln in (tmp_path / f).read_text().splitlines())

    spec = ["-p", "tcp", "-d", "10.99.0.1", "-m", "multiport", "--dports", "3260", "-m", "comment", "--comment",
            f"ocfkit:tcp:3260:10.99.0.1:{direction}"]
    assert present() == (False, [])  # no rule with the comment: decided without iptables
    assert run_agent("portblock", "start", block, netns=node.name).returncode == 0
    assert present() == (True, [])  # the rule recorded at start: still no iptables
    assert recorded_chains() == (["INPUT", "OUTPUT"] if direction == "both" else ["INPUT"])
    # Same comment, other target: not our rule any more; iptables -C says so.
    node.run("iptables", "-w", "-R", "INPUT", "1", *spec, "-j", "ACCEPT")
    assert present() == (False, ["iptables"])
    node.run("iptables", "-w", "-R", "INPUT", "1", *spec, "-j", "DROP")
    assert present() == (True, [])  # exactly the recorded rule again
    # Without the record (an older ocfkit started it, or it was lost): iptables -C decides.
    for f in os.listdir(tmp_path):
        if f.endswith(".rules"):
            os.unlink(tmp_path / f)
    assert present() == (True, ["iptables"] * (2 if direction == "both" else 1))
    # A second copy of the rule in INPUT: start records nothing for that chain, since one copy could be
    # foreign, so iptables -C decides there.
    node.run("iptables", "-w", "-A", "INPUT", *spec, "-j", "DROP")
    assert run_agent("portblock", "start", block, netns=node.name).returncode == 0
    assert recorded_chains() == (["OUTPUT"] if direction == "both" else [])
    assert present() == (True, ["iptables"])
    assert run_agent("portblock", "stop", block, netns=node.name).returncode == 0
    assert present() == (False, [])
    assert rules(node) == "" and not [f for f in os.listdir(tmp_path) if f.startswith("portblock-")]


@pytest.mark.parametrize("firewall", ["iptables", "nft"])
def test_200_cycles_leave_no_rule(lan, tmp_path, firewall):
    node, _peer = lan
    for action in ("block", "unblock"):
        env = env_for(tmp_path, action, firewall=firewall)
        for _ in range(100 if action == "block" else 100):
            assert run_agent("portblock", "start", env, netns=node.name).returncode == 0
            assert run_agent("portblock", "stop", env, netns=node.name).returncode == 0
            if action == "unblock":
                # stop of an unblock instance leaves the ports blocked; release them as a block stop does
                assert run_agent("portblock", "stop", env_for(tmp_path, "block", firewall=firewall),
                                 netns=node.name).returncode == 0
        assert rules(node) == ""


@pytest.mark.parametrize("firewall", ["iptables", "nft"])
def test_16_parallel_instances_end_with_exactly_their_rules(lan, tmp_path, firewall):
    node, _peer = lan
    envs = [dict(env_for(tmp_path, "block", firewall=firewall, portno=str(4000 + i)),
                 OCF_RESOURCE_INSTANCE=f"pb{i}") for i in range(16)]

    def act(args):
        action, env = args
        return run_agent("portblock", action, env, netns=node.name)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(act, [("start", e) for e in envs]))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results if r.returncode]
    text = rules(node)
    for i in range(16):
        assert text.count(f"tcp:{4000 + i}:10.99.0.1:in") == 1
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(act, [("stop", e) for e in envs[::2]]))
    assert all(r.returncode == 0 for r in results)
    text = rules(node)
    for i in range(16):
        assert text.count(f"tcp:{4000 + i}:10.99.0.1:in") == (i % 2)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(act, [("stop", e) for e in envs[1::2]]))
    assert rules(node) == ""


def test_udp_and_ipv6_and_both_directions(lan, tmp_path):
    node, _peer = lan
    for params in ({"protocol": "udp", "portno": "53,123:130"},
                   {"ip": "fd00:99::1", "direction": "both", "firewall": "iptables"},
                   {"ip": "fd00:99::1", "direction": "both", "firewall": "nft"}):
        env = env_for(tmp_path, "block", **params)
        assert run_agent("portblock", "start", env, netns=node.name).returncode == 0
        assert run_agent("portblock", "monitor", env, netns=node.name).returncode == 0
        assert rules(node) != ""
        assert run_agent("portblock", "stop", env, netns=node.name).returncode == 0
        assert rules(node) == ""


def test_heartbeat_style_extra_arguments_are_ignored(lan, tmp_path):
    node, _peer = lan
    env = env_for(tmp_path, "block")
    r = subprocess.run(["ip", "netns", "exec", node.name, agent_path("portblock"), "start", "tcp", "3260"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert run_agent("portblock", "stop", env, netns=node.name).returncode == 0


def test_missing_parameters_are_6_on_start_and_7_on_probe(lan, tmp_path):
    node, _peer = lan
    env = ocf_env("bad", {"protocol": "sctp", "portno": "99999"}, rsctmp=str(tmp_path))
    r = run_agent("portblock", "start", env, netns=node.name)
    assert r.returncode == 6
    assert "protocol" in r.stderr and "portno" in r.stderr and "action is required" in r.stderr
    assert run_agent("portblock", "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0"),
                     netns=node.name).returncode == 7


@pytest.mark.parametrize("firewall", ["iptables", "nft"])
def test_ocf_tester_passes_and_leaves_no_rule(lan, tmp_path, firewall):
    node, _peer = lan
    r = subprocess.run(["ip", "netns", "exec", node.name, "ocf-tester", "-n", "pbt", "-o", "protocol=tcp",
                        "-o", "portno=3260", "-o", "action=block", "-o", "ip=10.99.0.1", "-o", f"firewall={firewall}",
                        agent_path("portblock")], capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert rules(node) == ""


TICKLED_CLIENT = """
import socket, sys, time
c = socket.create_connection(("10.99.0.100", 3260), timeout=5)
c.recv(6)
print("established", flush=True)
sys.stdin.readline()
c.settimeout(10)
t = time.monotonic()
try:
    data = c.recv(10)  # idle, as an initiator waiting for a reply: only a tickle makes it notice
    print("closed" if not data else "data", round(time.monotonic() - t, 2))
except ConnectionResetError:
    print("reset", round(time.monotonic() - t, 2))
except socket.timeout:
    print("timeout", round(time.monotonic() - t, 2))
"""


def test_unblock_on_the_new_owner_tickles_clients_of_saved_connections(tmp_path):
    """A client of node1 is reset by node2's tickle ACKs right after takeover instead of hanging."""
    from tests.system.support import bridge_lan

    br, hosts = bridge_lan(unique("ot"), ["n1", "n2", "cl"])
    procs = []
    try:
        for i, h in enumerate(("n1", "n2", "cl"), start=1):
            hosts[h].run("ip", "addr", "add", f"10.99.0.{i}/24", "dev", "eth0")
        n1, n2, cl = hosts["n1"], hosts["n2"], hosts["cl"]
        n1.run("ip", "addr", "add", "10.99.0.100/24", "dev", "eth0")
        server = SERVER.replace('"10.99.0.1"', '"10.99.0.100"')
        p = subprocess.Popen(["ip", "netns", "exec", n1.name, sys.executable, "-c", server, "3260"],
                             stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "ready"
        client = subprocess.Popen(["ip", "netns", "exec", cl.name, sys.executable, "-c", TICKLED_CLIENT],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(client)
        assert client.stdout.readline().strip() == "established"
        tickles = tmp_path / "tickle"
        tickles.mkdir()
        unblock = ocf_env("pbu", {"protocol": "tcp", "portno": "3260", "action": "unblock", "ip": "10.99.0.100",
                                  "tickle_dir": str(tickles)}, rsctmp=str(tmp_path / "n1"))
        (tmp_path / "n1").mkdir()
        (tmp_path / "n2").mkdir()
        # node1 runs the unblock instance; its stop saves the connection list and blocks again.
        assert run_agent("portblock", "start", unblock, netns=n1.name).returncode == 0
        assert run_agent("portblock", "stop", unblock, netns=n1.name).returncode == 0
        assert "10.99.0.100:3260 10.99.0.3:" in (tickles / "10.99.0.100").read_text()
        # node1 dies silently (the address moves; its server never closes), node2 takes over.
        n1.run("ip", "link", "set", "eth0", "down")
        n2.run("ip", "addr", "add", "10.99.0.100/24", "dev", "eth0")
        n2.run("arping", "-c1", "-U", "-I", "eth0", "10.99.0.100", check=False)
        unblock2 = dict(unblock, HA_RSCTMP=str(tmp_path / "n2"))
        client.stdin.write("go\n")
        client.stdin.flush()
        time.sleep(0.3)
        assert run_agent("portblock", "start", unblock2, netns=n2.name).returncode == 0
        verdict = client.stdout.readline().split()
        assert verdict[0] == "reset", verdict
        assert float(verdict[1]) < 3
        assert run_agent("portblock", "stop", unblock2, netns=n2.name).returncode == 0
        block2 = dict(unblock2, OCF_RESKEY_action="block")
        del block2["OCF_RESKEY_tickle_dir"]
        assert run_agent("portblock", "stop", block2, netns=n2.name).returncode == 0
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for ns in hosts.values():
            ns.__exit__(None, None, None)
        br.__exit__(None, None, None)


DUAL_SERVER = """
import socket, time
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("::", 3262)); s.listen(16); s.settimeout(60)
print("ready", flush=True)
conns = []
while True:
    try:
        c, _ = s.accept(); c.sendall(b"hello\\n"); conns.append(c)
    except OSError:
        break
"""

LOCAL_CLIENT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], 3262), timeout=1.5)
    print("connected" if c.recv(6) == b"hello\\n" else "garbage")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
"""


@pytest.mark.parametrize("firewall", ["iptables", "nft"])
@pytest.mark.parametrize(("net", "blocked", "open_"), [("::/0", "::1", "127.0.0.1"), ("0.0.0.0/0", "127.0.0.1", "::1")])
def test_any_address_blocks_only_its_own_family(tmp_path, firewall, net, blocked, open_):
    """ip=::/0 blocks IPv6 only and 0.0.0.0/0 IPv4 only: loopback traffic inside one namespace."""
    with Netns(unique("ocfk-pf")) as node:
        server = subprocess.Popen(["ip", "netns", "exec", node.name, sys.executable, "-c", DUAL_SERVER],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout.readline().strip() == "ready"

            def connect_to(host: str) -> str:
                return node.run(sys.executable, "-c", LOCAL_CLIENT, host, timeout=30).stdout.strip()

            assert connect_to(blocked) == connect_to(open_) == "connected"
            env = env_for(tmp_path, "block", ip=net, portno="3262", firewall=firewall)
            r = run_agent("portblock", "start", env, netns=node.name)
            assert r.returncode == 0, r.stderr
            assert connect_to(blocked) == "timeout"
            assert connect_to(open_) == "connected"
            assert run_agent("portblock", "monitor", env, netns=node.name).returncode == 0
            assert run_agent("portblock", "stop", env, netns=node.name).returncode == 0
            assert connect_to(blocked) == "connected"
            assert rules(node) == ""
        finally:
            server.kill()
            server.wait()


@pytest.mark.parametrize("firewall", ["iptables", "nft"])
def test_stop_without_the_firewall_tool_fails_while_the_rule_is_in_the_kernel(tmp_path, firewall):
    from tests.system.support import MountNs

    with Netns(unique("ocfk-pt")) as node, MountNs() as mns:
        # nft and iptables vanish in a private mount namespace only (an empty /usr/sbin there).
        mns.run("mount", "-t", "tmpfs", "none", "/usr/sbin")
        env = env_for(tmp_path, "block", ip="10.99.0.1", firewall=firewall)

        def stop_without_tools():
            return subprocess.run(["ip", "netns", "exec", node.name, *mns.prefix, agent_path("portblock"), "stop"],
                                  env=env, capture_output=True, text=True, timeout=60)

        assert run_agent("portblock", "start", env, netns=node.name).returncode == 0
        r = stop_without_tools()
        assert r.returncode == 1, r.stderr
        assert "not installed" in r.stderr or "not found" in r.stderr
        assert rules(node) != ""  # still blocking: success would have been a lie
        assert run_agent("portblock", "stop", env, netns=node.name).returncode == 0
        r = stop_without_tools()
        assert r.returncode == 0, r.stderr  # the kernel shows no rule of ours: nothing to remove
