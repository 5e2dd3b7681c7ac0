"""IPaddr2 for real, in network namespaces the tests create: ping, failover with GARP/NA, lvs_support."""

from __future__ import annotations

import time

import pytest

from tests.system.support import Netns, bridge_lan, ocf_env, run_agent, unique, veth

pytestmark = pytest.mark.system


@pytest.fixture
def pair():
    """node and peer namespaces on one veth link, 10.99.0.1 and .2, fd00:99::1 and ::2."""
    with Netns(unique("ocfk-n")) as node, Netns(unique("ocfk-p")) as peer:
        veth(node, "veth0", peer, "veth0")
        node.run("ip", "addr", "add", "10.99.0.1/24", "dev", "veth0")
        peer.run("ip", "addr", "add", "10.99.0.2/24", "dev", "veth0")
        node.run("ip", "-6", "addr", "add", "fd00:99::1/64", "dev", "veth0", "nodad")
        peer.run("ip", "-6", "addr", "add", "fd00:99::2/64", "dev", "veth0", "nodad")
        yield node, peer


def addrs(ns: Netns, family: str = "-4") -> str:
    return ns.run("ip", "-o", family, "addr", "show").stdout


def test_vip_answers_ping_from_the_peer_and_is_gone_after_stop(pair, tmp_path):
    node, peer = pair
    env = ocf_env("vip", {"ip": "10.99.0.150"}, rsctmp=str(tmp_path), interval_ms=10000)
    assert run_agent("IPaddr2", "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0"), netns=node.name).returncode == 7
    assert peer.run("ping", "-c1", "-W1", "10.99.0.150", check=False).returncode != 0
    r = run_agent("IPaddr2", "start", env, netns=node.name)
    assert r.returncode == 0, r.stderr
    assert "10.99.0.150/24 brd 10.99.0.255" in addrs(node)  # nic and prefix found from the route
    assert peer.run("ping", "-c1", "-W2", "10.99.0.150", check=False).returncode == 0
    assert run_agent("IPaddr2", "monitor", env, netns=node.name).returncode == 0
    assert run_agent("IPaddr2", "start", env, netns=node.name).returncode == 0
    assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0
    assert "10.99.0.150" not in addrs(node)
    assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0
    assert run_agent("IPaddr2", "monitor", env, netns=node.name).returncode == 7


def test_label_and_explicit_prefix(pair, tmp_path):
    node, _peer = pair
    env = ocf_env("vip", {"ip": "10.99.0.151", "nic": "veth0", "cidr_netmask": "25", "iflabel": "vip"},
                  rsctmp=str(tmp_path), interval_ms=10000)
    assert run_agent("IPaddr2", "start", env, netns=node.name).returncode == 0
    assert "10.99.0.151/25" in addrs(node) and "veth0:vip" in addrs(node)
    # The same address with another prefix is not ours: monitor says not running.
    other = dict(env, OCF_RESKEY_cidr_netmask="24")
    assert run_agent("IPaddr2", "monitor", other, netns=node.name).returncode == 7
    assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0
    assert "10.99.0.151" not in addrs(node)


def test_ipv6_waits_for_dad_and_answers_ping(pair, tmp_path):
    node, peer = pair
    env = ocf_env("vip6", {"ip": "fd00:99::10"}, rsctmp=str(tmp_path), interval_ms=10000)
    r = run_agent("IPaddr2", "start", env, netns=node.name)
    assert r.returncode == 0, r.stderr
    line = [ln for ln in addrs(node, "-6").splitlines() if "fd00:99::10/64" in ln][0]
    assert "tentative" not in line
    assert peer.run("ping", "-6", "-c1", "-W2", "fd00:99::10", check=False).returncode == 0
    assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0
    assert "fd00:99::10" not in addrs(node, "-6")


def test_ipv6_dad_failure_fails_start_and_removes_the_address(pair, tmp_path):
    node, peer = pair
    peer.run("ip", "-6", "addr", "add", "fd00:99::20/64", "dev", "veth0", "nodad")
    env = ocf_env("dup6", {"ip": "fd00:99::20"}, rsctmp=str(tmp_path))
    r = run_agent("IPaddr2", "start", env, netns=node.name)
    assert r.returncode == 1
    assert "ocf-exit-reason:duplicate address detection failed" in r.stderr
    assert "fd00:99::20" not in addrs(node, "-6")


def test_no_route_and_ambiguous_routes_are_explicit_errors(pair, tmp_path):
    node, peer = pair
    r = run_agent("IPaddr2", "start", ocf_env("x", {"ip": "10.98.0.5"}, rsctmp=str(tmp_path)), netns=node.name)
    assert r.returncode == 1 and "no route contains it" in r.stderr
    # A second link with the same /24 makes the choice ambiguous.
    veth(node, "veth1", peer, "veth1")
    node.run("ip", "addr", "add", "10.99.0.3/24", "dev", "veth1")
    r = run_agent("IPaddr2", "start", ocf_env("x", {"ip": "10.99.0.160"}, rsctmp=str(tmp_path)), netns=node.name)
    assert r.returncode == 1 and "veth0, veth1 all match; set nic" in r.stderr
    assert "10.99.0.160" not in addrs(node)


def test_vanished_interface_fails_a_recurring_monitor_but_not_a_probe(pair, tmp_path):
    node, _peer = pair
    env = ocf_env("v", {"ip": "10.99.0.152", "nic": "veth0", "cidr_netmask": "24"}, rsctmp=str(tmp_path))
    assert run_agent("IPaddr2", "start", env, netns=node.name).returncode == 0
    node.run("ip", "link", "del", "veth0")
    recurring = run_agent("IPaddr2", "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="10000"), netns=node.name)
    assert recurring.returncode == 1 and "veth0 vanished" in recurring.stderr
    probe = run_agent("IPaddr2", "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0"), netns=node.name)
    assert probe.returncode == 7
    assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0


def test_loopback_address_alone_goes_on_lo_with_the_loopback_prefix(tmp_path):
    """The ocft case "Attachment to loopback interface": ip=127.0.0.3 and nothing else."""
    with Netns(unique("ocfk-l")) as node:
        env = ocf_env("lo3", {"ip": "127.0.0.3"}, rsctmp=str(tmp_path), interval_ms=10000)
        r = run_agent("IPaddr2", "start", env, netns=node.name)
        assert r.returncode == 0, r.stderr
        assert "inet 127.0.0.3/8" in node.run("ip", "-o", "-4", "addr", "show", "dev", "lo").stdout
        assert run_agent("IPaddr2", "monitor", env, netns=node.name).returncode == 0
        assert run_agent("IPaddr2", "validate-all", dict(env, OCF_CHECK_LEVEL="10"), netns=node.name).returncode == 0
        assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0
        assert "127.0.0.3" not in addrs(node)
        assert run_agent("IPaddr2", "monitor", env, netns=node.name).returncode == 7


def test_a_subnet_behind_a_gateway_is_not_where_an_address_can_live(pair, tmp_path):
    """IPv4 routes are looked up with scope link, as findif does: a via route does not hold the VIP."""
    node, _peer = pair
    node.run("ip", "route", "add", "10.0.0.0/8", "via", "10.99.0.2")
    r = run_agent("IPaddr2", "start", ocf_env("gw", {"ip": "10.1.2.3"}, rsctmp=str(tmp_path)), netns=node.name)
    assert r.returncode == 1 and "no route contains it" in r.stderr
    assert "10.1.2.3" not in addrs(node)


def test_netmask_wider_than_the_subnet_without_nic_is_a_configuration_error(pair, tmp_path):
    node, _peer = pair
    env = ocf_env("wide", {"ip": "10.99.0.160", "cidr_netmask": "16"}, rsctmp=str(tmp_path))
    r = run_agent("IPaddr2", "validate-all", dict(env, OCF_CHECK_LEVEL="10"), netns=node.name)
    assert r.returncode == 6 and "wider than the /24 network of veth0" in r.stderr
    assert run_agent("IPaddr2", "start", env, netns=node.name).returncode == 6
    assert "10.99.0.160" not in addrs(node)
    env = ocf_env("narrow", {"ip": "10.99.0.160", "cidr_netmask": "26"}, rsctmp=str(tmp_path))
    assert run_agent("IPaddr2", "start", env, netns=node.name).returncode == 0
    assert "10.99.0.160/26" in addrs(node)
    assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0


def test_nonexistent_nic_is_6_on_start_and_validate_all_and_harmless_on_probe_and_stop(pair, tmp_path):
    node, _peer = pair
    env = ocf_env("nonic", {"ip": "10.99.0.161", "nic": "ethNone"}, rsctmp=str(tmp_path))
    r = run_agent("IPaddr2", "start", env, netns=node.name)
    assert r.returncode == 6 and "interface ethNone does not exist" in r.stderr
    assert run_agent("IPaddr2", "validate-all", dict(env, OCF_CHECK_LEVEL="10"), netns=node.name).returncode == 6
    assert run_agent("IPaddr2", "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0"), netns=node.name).returncode == 7
    assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0
    recurring = run_agent("IPaddr2", "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="10000"), netns=node.name)
    assert recurring.returncode == 1  # the ocft case: a vanished nic is a failure, never 6, on a monitor


def test_link_down_fails_monitor_with_a_reason(pair, tmp_path):
    node, _peer = pair
    env = ocf_env("l", {"ip": "10.99.0.153"}, rsctmp=str(tmp_path), interval_ms=10000)
    assert run_agent("IPaddr2", "start", env, netns=node.name).returncode == 0
    node.run("ip", "link", "set", "veth0", "down")
    r = run_agent("IPaddr2", "monitor", env, netns=node.name)
    assert r.returncode == 1 and "administratively down" in r.stderr
    off = dict(env, OCF_RESKEY_check_link_status="false")
    assert run_agent("IPaddr2", "monitor", off, netns=node.name).returncode == 0
    assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0


def test_lvs_support_moves_the_loopback_address_away_and_back(pair, tmp_path):
    node, _peer = pair
    node.run("ip", "addr", "add", "10.99.0.170/32", "dev", "lo")
    env = ocf_env("lvs", {"ip": "10.99.0.170", "lvs_support": "true", "nic": "veth0", "cidr_netmask": "24"},
                  rsctmp=str(tmp_path), interval_ms=10000)
    assert run_agent("IPaddr2", "start", env, netns=node.name).returncode == 0
    out = addrs(node)
    assert "lo    inet 10.99.0.170/32" not in out and "veth0    inet 10.99.0.170/24" in out
    assert run_agent("IPaddr2", "monitor", env, netns=node.name).returncode == 0
    assert run_agent("IPaddr2", "stop", env, netns=node.name).returncode == 0
    out = addrs(node)
    assert "lo    inet 10.99.0.170/32" in out and "veth0    inet 10.99.0.170" not in out


def test_network_namespace_parameter_manages_the_address_from_outside(pair, tmp_path):
    node, peer = pair
    env = ocf_env("nsv", {"ip": "10.99.0.154", "network_namespace": node.name}, rsctmp=str(tmp_path),
                  interval_ms=10000)
    assert run_agent("IPaddr2", "start", env).returncode == 0
    assert "10.99.0.154/24" in addrs(node)
    assert peer.run("ping", "-c1", "-W2", "10.99.0.154", check=False).returncode == 0
    assert run_agent("IPaddr2", "monitor", env).returncode == 0
    assert run_agent("IPaddr2", "stop", env).returncode == 0
    assert "10.99.0.154" not in addrs(node)
    gone = dict(env, OCF_RESKEY_network_namespace="ocfk-no-such-ns")
    assert run_agent("IPaddr2", "monitor", dict(gone, OCF_RESKEY_CRM_meta_interval="0")).returncode == 7
    assert run_agent("IPaddr2", "stop", gone).returncode == 0
    assert run_agent("IPaddr2", "start", gone).returncode == 2


def _neigh_mac(ns: Netns, ip: str) -> str:
    words = ns.run("ip", "neigh", "show", ip, "dev", "eth0").stdout.split()
    return words[words.index("lladdr") + 1] if "lladdr" in words else ""


def _mac(ns: Netns) -> str:
    return ns.run("cat", "/sys/class/net/eth0/address").stdout.strip()


@pytest.mark.parametrize(("vip", "family", "ping"), [("10.97.0.100", "-4", "ping"),
                                                      ("fd00:97::100", "-6", "ping")])
def test_failover_updates_the_peers_neighbour_entry_without_the_peer_sending(tmp_path, vip, family, ping):
    prefix = unique("ok")
    br, hosts = bridge_lan(prefix, ["n1", "n2", "cl"])
    try:
        for i, h in enumerate(("n1", "n2", "cl"), start=1):
            if family == "-4":
                hosts[h].run("ip", "addr", "add", f"10.97.0.{i}/24", "dev", "eth0")
            else:
                hosts[h].run("ip", "-6", "addr", "add", f"fd00:97::{i}/64", "dev", "eth0", "nodad")
        client = hosts["cl"]
        env = ocf_env("vipf", {"ip": vip, "arp_interval": "100", "arp_count": "5"}, rsctmp=str(tmp_path))
        assert run_agent("IPaddr2", "start", env, netns=hosts["n1"].name).returncode == 0
        assert client.run(ping, family, "-c1", "-W2", vip, check=False).returncode == 0
        assert _neigh_mac(client, vip) == _mac(hosts["n1"])
        assert run_agent("IPaddr2", "stop", env, netns=hosts["n1"].name).returncode == 0
        assert run_agent("IPaddr2", "start", env, netns=hosts["n2"].name).returncode == 0
        # Only the announcements can tell the client: it sends nothing meanwhile.
        deadline = time.monotonic() + 5
        while _neigh_mac(client, vip) != _mac(hosts["n2"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _neigh_mac(client, vip) == _mac(hosts["n2"])
        assert client.run(ping, family, "-c1", "-W2", vip, check=False).returncode == 0
        assert run_agent("IPaddr2", "stop", env, netns=hosts["n2"].name).returncode == 0
    finally:
        for ns in hosts.values():
            ns.__exit__(None, None, None)
        br.__exit__(None, None, None)


def test_ocf_tester_passes_inside_a_namespace(pair, tmp_path):
    node, _peer = pair
    import subprocess

    from tests.system.support import agent_path

    r = subprocess.run(["ip", "netns", "exec", node.name, "ocf-tester", "-n", "vipt", "-o", "ip=10.99.0.155",
                        agent_path("IPaddr2")], capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "passed all tests" in r.stdout
    assert "10.99.0.155" not in addrs(node)
