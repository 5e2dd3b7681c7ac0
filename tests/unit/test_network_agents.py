"""IPaddr2 and portblock against a scripted seam; ip parsing on captured output."""

from __future__ import annotations

import os

import pytest

from agents.ipaddr2 import IPaddr2
from agents.portblock import portblock
from agents.tools import ip
from ocf.errors import Rc
from ocf.testing import FakeRunner

FIX = os.path.join(os.path.dirname(__file__), "fixtures")
with open(os.path.join(FIX, "ip-o-addr.txt")) as _f:
    ADDRS = _f.read()


def test_ip_o_addr_is_parsed_with_labels_broadcast_and_flags():
    a = {x.ip: x for x in ip.parse_addresses(ADDRS)}
    assert (a["10.99.0.150"].nic, a["10.99.0.150"].prefix, a["10.99.0.150"].label) == ("veth0", 24, "veth0:vip")
    assert a["10.99.0.150"].broadcast == "10.99.0.255" and "secondary" in a["10.99.0.150"].flags
    assert a["10.99.0.1"].label == "veth0"
    assert "tentative" in a["fe80::a09c:64ff:fe24:6533"].flags and a["fd00:99::1"].prefix == 64


def test_routes_are_parsed_most_specific_first():
    text = ("10.99.0.0/24 dev veth0 proto kernel scope link src 10.99.0.1 \n"
            "10.0.0.0/8 via 10.99.0.254 dev veth0 \ndefault via 10.99.0.254 dev veth0 \n")
    r = FakeRunner().expect(["ip", "-o", "-4", "route", "list", "match", "10.99.0.7"], stdout=text)
    routes = ip.routes_matching(r, "10.99.0.7")
    assert [(x.dest, x.prefix, x.nic) for x in routes] == [("10.99.0.0", 24, "veth0"), ("10.0.0.0", 8, "veth0"),
                                                         ("0.0.0.0", 0, "veth0")]


def nl_msg(fam, prefix, index, addr, *, label=b"", flags=0):
    def attr(t, v):
        ln = 4 + len(v)
        return ln.to_bytes(2, "little") + t.to_bytes(2, "little") + v + b"\0" * ((4 - ln % 4) % 4)

    body = bytes([fam, prefix, flags, 0]) + index.to_bytes(4, "little") + attr(2, addr)
    if label:
        body += attr(3, label + b"\0")
    return (16 + len(body)).to_bytes(4, "little") + (20).to_bytes(2, "little") + b"\0" * 10 + body


def test_rtnetlink_addresses_are_parsed():
    import socket

    data = (nl_msg(socket.AF_INET, 24, 6, bytes([10, 99, 0, 150]), label=b"veth0:vip", flags=0x01)
            + nl_msg(socket.AF_INET6, 64, 6, socket.inet_pton(socket.AF_INET6, "fd00::5"), flags=0x40))
    out = ip.parse_netlink_addresses(data, lambda i: {6: "veth0"}[i])
    assert (out[0].ip, out[0].prefix, out[0].label, out[0].flags) == ("10.99.0.150", 24, "veth0:vip", ("secondary",))
    assert (out[1].ip, out[1].nic, out[1].flags) == ("fd00::5", "veth0", ("tentative",))


def env(**kw):
    e = {"OCF_RESOURCE_INSTANCE": "vip", "OCF_RESKEY_network_namespace": "ocfk-unit"}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


def test_ipaddr2_refuses_to_guess_between_equally_specific_routes(capsys, monkeypatch):
    monkeypatch.setattr("agents.ipaddr2.exists", lambda p: True)  # the namespace "exists"
    routes = ("10.99.0.0/24 dev veth0 proto kernel scope link src 10.99.0.1 \n"
              "10.99.0.0/24 dev veth1 proto kernel scope link src 10.99.0.3 \n")
    r = FakeRunner().expect(["ip", "-n", "ocfk-unit", "-o", "-4", "route", "list", "match", "10.99.0.160", "scope",
                             "link"],
                            stdout=routes)
    assert IPaddr2.main(["IPaddr2", "start"], env(ip="10.99.0.160"), r) == Rc.ERR_GENERIC
    r.assert_done()
    assert "routes /24 on veth0, veth1 all match; set nic" in capsys.readouterr().err


def test_ipaddr2_monitor_checks_nic_and_prefix(monkeypatch):
    monkeypatch.setattr("agents.ipaddr2.exists", lambda p: True)
    for kw, rc in (({"nic": "veth0", "cidr_netmask": "24"}, Rc.SUCCESS), ({"cidr_netmask": "25"}, Rc.NOT_RUNNING),
                   ({"nic": "eth9"}, Rc.NOT_RUNNING)):
        r = FakeRunner().expect(["ip", "-n", "ocfk-unit", "-o", "-4", "addr", "show"], stdout=ADDRS)
        e = env(ip="10.99.0.150", check_link_status="false", **kw)
        assert IPaddr2.main(["IPaddr2", "monitor"], e, r) == rc, kw
        r.assert_done()


def test_ipaddr2_configuration_errors_are_6_on_start_and_never_on_monitor():
    for kw in ({"ip": "fe80::1"}, {"ip": "10.0.0.1", "cidr_netmask": "33"}, {"ip": "10.0.0.1", "lvs_support": "yes",
                                                                            "OCF_RESKEY_CRM_meta_clone_max": "2"}):
        e = env(**{k: v for k, v in kw.items() if not k.startswith("OCF_")})
        e.update({k: v for k, v in kw.items() if k.startswith("OCF_")})
        assert IPaddr2.main(["IPaddr2", "start"], e, FakeRunner()) == Rc.ERR_CONFIGURED


def test_portblock_iptables_rule_is_checked_exactly_with_wait(tmp_path):
    spec = ["-p", "tcp", "-d", "10.99.0.1", "-m", "multiport", "--dports", "3260,8000:8010", "-m", "comment",
            "--comment", "ocfkit:tcp:3260,8000-8010:10.99.0.1:in", "-j", "DROP"]
    r = FakeRunner().expect(["iptables", "-w", "-C", "INPUT", *spec], rc=1)
    e = {"OCF_RESKEY_protocol": "tcp", "OCF_RESKEY_portno": "3260,8000:8010", "OCF_RESKEY_action": "block",
         "OCF_RESKEY_ip": "10.99.0.1", "OCF_RESKEY_firewall": "iptables", "HA_RSCTMP": str(tmp_path)}
    assert portblock.main(["portblock", "monitor"], e, r) == Rc.NOT_RUNNING
    r.assert_done()
    r = FakeRunner().expect(["iptables", "-w", "-C", "INPUT", *spec], rc=1)
    r.expect(["iptables", "-w", "-I", "INPUT", *spec])
    assert portblock.main(["portblock", "start"], e, r) == Rc.SUCCESS
    r.assert_done()


NFT_HEAD = ("add table inet ocfkit_portblock\n"
            "add chain inet ocfkit_portblock input { type filter hook input priority -10 ; policy accept ; }\n"
            "add chain inet ocfkit_portblock output { type filter hook output priority -10 ; policy accept ; }\n")


@pytest.mark.parametrize(("net", "match"), [("::/0", "meta nfproto ipv6"), ("0.0.0.0/0", "meta nfproto ipv4"),
                                            ("10.0.0.0/0", "meta nfproto ipv4"),
                                            ("fd00::/8", "ip6 daddr fd00::/8"), ("10.99.0.1", "ip daddr 10.99.0.1")])
def test_portblock_nft_rule_matches_only_the_family_of_ip(tmp_path, net, match):
    # The inet table sees both families: "any address" must still mean "any address of this family".
    key = f"tcp:3260:{net}:in"
    r = (FakeRunner().expect(["nft", "-a", "list", "chain", "inet", "ocfkit_portblock", "input"], rc=1)
         .expect(["nft", "-f", "-"], input=NFT_HEAD + f"insert rule inet ocfkit_portblock input {match} tcp dport "
                 f'{{ 3260 }} drop comment "ocfkit:{key}"\n'))
    e = {"OCF_RESKEY_protocol": "tcp", "OCF_RESKEY_portno": "3260", "OCF_RESKEY_action": "block",
         "OCF_RESKEY_ip": net, "OCF_RESKEY_firewall": "nft", "HA_RSCTMP": str(tmp_path)}
    assert portblock.main(["portblock", "start"], e, r) == Rc.SUCCESS
    r.assert_done()


def test_nfnetlink_rule_comments_are_read_from_userdata():
    from agents.tools import nft

    comment = b"ocfkit:tcp:3260:10.99.0.1:in\0"
    udata = bytes([0, len(comment)]) + comment
    from agents.tools import netlink

    attrs = netlink.attribute(1, b"ocfkit_portblock\0") + netlink.attribute(7, udata)
    body = bytes([1, 0, 0, 0]) + attrs
    msg = (16 + len(body)).to_bytes(4, "little") + ((10 << 8) | 6).to_bytes(2, "little") + b"\0" * 10 + body
    done = (16).to_bytes(4, "little") + (3).to_bytes(2, "little") + b"\0" * 10
    assert nft.parse_rule_comments(msg + done) == (["ocfkit:tcp:3260:10.99.0.1:in"], 0)
    errno = (-2).to_bytes(4, "little", signed=True)
    enoent = (36).to_bytes(4, "little") + (2).to_bytes(2, "little") + b"\0" * 10 + errno + b"\0" * 16
    assert nft.parse_rule_comments(enoent) == ([], 2)


# ----- iptables-nft rules over nfnetlink (captured dumps, tests/unit/fixtures/iptables-nft) -------

OURS = "ocfkit:tcp:3260,8000-8010:10.99.0.1:in"


def _dump(name: str) -> bytes:
    with open(os.path.join(FIX, "iptables-nft", name), "rb") as f:
        return f.read()


def test_iptables_nft_rules_are_read_with_their_comment_matches():
    from agents.tools import iptables

    rules = iptables.parse_rules(_dump("ours-and-other.nl"))
    assert [c for c, _sig in rules] == [[OURS], ["admin rule"]]
    assert iptables.parse_rules(_dump("empty-chain.nl")) == []


def test_a_rule_keeps_its_signature_while_its_counters_change_but_not_when_replaced():
    from agents.tools import iptables

    first = iptables.signatures(iptables.parse_rules(_dump("ours-and-other.nl")), OURS)
    counted = iptables.signatures(iptables.parse_rules(_dump("ours-counted.nl")), OURS)
    replaced = iptables.signatures(iptables.parse_rules(_dump("ours-replaced-accept.nl")), OURS)
    assert _dump("ours-and-other.nl") != _dump("ours-counted.nl")  # the counters moved
    assert first == counted and len(first) == 1
    assert replaced != first and len(replaced) == 1  # same comment, ACCEPT instead of DROP


def test_iptables_check_is_decided_from_the_kernel_only_when_that_is_exact():
    from agents.tools import iptables

    known = set(iptables.signatures(iptables.parse_rules(_dump("ours-and-other.nl")), OURS))
    decide = iptables.decide
    assert decide(iptables.parse_rules(_dump("ours-counted.nl")), OURS, known) is True
    # No rule carries the comment: iptables -C, whose spec carries it, could match none either.
    assert decide(iptables.parse_rules(_dump("flushed.nl")), OURS, known) is False
    assert decide(iptables.parse_rules(_dump("ours-and-other.nl")), "ocfkit:udp:53:0.0.0.0/0:in", known) is False
    # The comment is there but the rule is not the recorded one, or nothing was recorded: ask iptables.
    assert decide(iptables.parse_rules(_dump("ours-replaced-accept.nl")), OURS, known) is None
    assert decide(iptables.parse_rules(_dump("ours-counted.nl")), OURS, set()) is None


def test_an_error_in_the_rule_dump_is_raised():
    from agents.tools import iptables

    errno = (-1).to_bytes(4, "little", signed=True)
    eperm = (36).to_bytes(4, "little") + (2).to_bytes(2, "little") + b"\0" * 10 + errno + b"\0" * 16
    with pytest.raises(OSError):
        iptables.parse_rules(eperm)


def test_the_nft_variant_of_iptables_is_found_through_its_links(tmp_path):
    from agents.tools import iptables

    (tmp_path / "xtables-nft-multi").write_text("")
    (tmp_path / "xtables-legacy-multi").write_text("")
    (tmp_path / "alternatives").mkdir()
    os.symlink("../xtables-nft-multi", tmp_path / "iptables-nft")
    os.symlink(str(tmp_path / "iptables-nft"), tmp_path / "alternatives" / "iptables")
    os.symlink("alternatives/iptables", tmp_path / "iptables")
    os.symlink("xtables-legacy-multi", tmp_path / "iptables-legacy")
    os.symlink(str(tmp_path / "loop"), tmp_path / "loop")
    assert iptables.is_nft_variant(str(tmp_path / "iptables"))
    assert not iptables.is_nft_variant(str(tmp_path / "iptables-legacy"))
    assert not iptables.is_nft_variant(str(tmp_path / "loop")) and not iptables.is_nft_variant(None)


def test_portblock_stop_without_nft_fails_unless_the_kernel_shows_no_rule(tmp_path, capsys):
    # The unit-test guard refuses netlink: the kernel's rules cannot be read, so nothing is proven.
    r = FakeRunner().expect(["nft", "-a", "list", "table", "inet", "ocfkit_portblock"], missing=True)
    e = {"OCF_RESKEY_protocol": "tcp", "OCF_RESKEY_portno": "3260", "OCF_RESKEY_action": "block",
         "OCF_RESKEY_ip": "10.99.0.1", "OCF_RESKEY_firewall": "nft", "HA_RSCTMP": str(tmp_path)}
    assert portblock.main(["portblock", "stop"], e, r) == Rc.ERR_GENERIC
    r.assert_done()
    assert "the kernel's rules cannot be read" in capsys.readouterr().err


LO_LINK = ("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000"
           "\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n")
IPN = ["ip", "-n", "ocfk-unit"]


def test_ipaddr2_loopback_address_alone_is_found_on_lo_with_its_local_route(monkeypatch):
    monkeypatch.setattr("agents.ipaddr2.exists", lambda p: True)
    r = (FakeRunner().expect([*IPN, "-o", "-4", "route", "list", "match", "127.0.0.3", "scope", "link"])
         .expect([*IPN, "-o", "-4", "route", "list", "match", "127.0.0.3", "table", "local"],
                 "local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1 \n")
         .expect([*IPN, "-o", "link", "show", "dev", "lo"], LO_LINK)
         .expect([*IPN, "-o", "-4", "addr", "show"])
         .expect([*IPN, "-4", "addr", "add", "127.0.0.3/8", "dev", "lo", "brd", "+"])
         .expect([*IPN, "link", "set", "dev", "lo", "up"]))
    assert IPaddr2.main(["IPaddr2", "start"], env(ip="127.0.0.3"), r) == Rc.SUCCESS
    r.assert_done()


ROUTE_24 = "10.99.0.0/24 dev veth0 proto kernel scope link src 10.99.0.1 \n"


def test_ipaddr2_without_nic_refuses_a_netmask_wider_than_the_subnet(monkeypatch, capsys):
    monkeypatch.setattr("agents.ipaddr2.exists", lambda p: True)
    match = [*IPN, "-o", "-4", "route", "list", "match", "10.99.0.160", "scope", "link"]
    e = env(ip="10.99.0.160", cidr_netmask="16")
    r = FakeRunner().expect(match, ROUTE_24)
    assert IPaddr2.main(["IPaddr2", "validate-all"], dict(e, OCF_CHECK_LEVEL="10"), r) == Rc.ERR_CONFIGURED
    r.assert_done()
    r = FakeRunner().expect(match, ROUTE_24)
    assert IPaddr2.main(["IPaddr2", "start"], e, r) == Rc.ERR_CONFIGURED
    r.assert_done()
    assert "cidr_netmask 16 is wider than the /24 network of veth0" in capsys.readouterr().err
    # As narrow as the subnet, or narrower, is fine.
    for mask in ("24", "28"):
        r = FakeRunner().expect(match, ROUTE_24).expect([*IPN, "-o", "link", "show", "dev", "veth0"], LO_LINK)
        assert IPaddr2.main(["IPaddr2", "validate-all"], dict(env(ip="10.99.0.160", cidr_netmask=mask),
                                                              OCF_CHECK_LEVEL="10"), r) == Rc.SUCCESS
        r.assert_done()


def test_ipaddr2_nonexistent_nic_is_6_on_start_and_validate_but_7_on_probe_and_0_on_stop(monkeypatch):
    monkeypatch.setattr("agents.ipaddr2.exists", lambda p: True)
    e = env(ip="10.99.0.160", nic="ethNone")
    link = [*IPN, "-o", "link", "show", "dev", "ethNone"]
    nolink = 'Device "ethNone" does not exist.\n'
    r = FakeRunner().expect(link, stderr=nolink, rc=1)
    assert IPaddr2.main(["IPaddr2", "start"], e, r) == Rc.ERR_CONFIGURED
    r.assert_done()
    r = FakeRunner().expect(link, stderr=nolink, rc=1)
    assert IPaddr2.main(["IPaddr2", "validate-all"], dict(e, OCF_CHECK_LEVEL="10"), r) == Rc.ERR_CONFIGURED
    r.assert_done()
    r = FakeRunner().expect([*IPN, "-o", "-4", "addr", "show"], ADDRS)
    assert IPaddr2.main(["IPaddr2", "monitor"], dict(e, OCF_RESKEY_CRM_meta_interval="0"), r) == Rc.NOT_RUNNING
    r.assert_done()
    r = FakeRunner().expect([*IPN, "-o", "-4", "addr", "show"], ADDRS)  # no address can be on it: nothing to remove
    assert IPaddr2.main(["IPaddr2", "stop"], e, r) == Rc.SUCCESS
    r.assert_done()


@pytest.mark.parametrize(("param", "value"), [("nic", "-x"), ("nic", "eth0:-l"), ("nic", "../../x"),
                                              ("nic", "a b"), ("nic", "x" * 16), ("iflabel", "-l"),
                                              ("network_namespace", "-n"), ("network_namespace", "a/b")])
def test_ipaddr2_names_that_ip_would_misread_are_refused_before_any_command(param, value):
    e = env(ip="10.99.0.160", **{param: value})
    assert IPaddr2.main(["IPaddr2", "validate-all"], dict(e, OCF_CHECK_LEVEL="0"), FakeRunner()) == Rc.ERR_CONFIGURED
    assert IPaddr2.main(["IPaddr2", "start"], e, FakeRunner()) == Rc.ERR_CONFIGURED
    assert IPaddr2.main(["IPaddr2", "monitor"], dict(e, OCF_RESKEY_CRM_meta_interval="0"), FakeRunner()) == 7
    assert IPaddr2.main(["IPaddr2", "stop"], e, FakeRunner()) == Rc.SUCCESS


def test_portblock_unblock_stop_without_ss_still_blocks_again(tmp_path, capsys):
    spec = ["-p", "tcp", "-d", "10.99.0.1", "-m", "multiport", "--dports", "3260", "-m", "comment",
            "--comment", "ocfkit:tcp:3260:10.99.0.1:in", "-j", "DROP"]
    tickles = tmp_path / "tickle"
    tickles.mkdir()
    ss = ["ss", "-Htn", "state", "established"]
    r = (FakeRunner().expect(ss, missing=True).expect(ss, missing=True)
         .expect(["iptables", "-w", "-C", "INPUT", *spec], rc=1).expect(["iptables", "-w", "-I", "INPUT", *spec]))
    e = {"OCF_RESKEY_protocol": "tcp", "OCF_RESKEY_portno": "3260", "OCF_RESKEY_action": "unblock",
         "OCF_RESKEY_ip": "10.99.0.1", "OCF_RESKEY_firewall": "iptables", "HA_RSCTMP": str(tmp_path),
         "OCF_RESKEY_tickle_dir": str(tickles)}
    assert portblock.main(["portblock", "stop"], e, r) == Rc.SUCCESS
    r.assert_done()
    assert "no connection list" in capsys.readouterr().err


@pytest.mark.parametrize(("param", "value"), [("portno", "3260 -j ACCEPT"), ("portno", "-1"), ("portno", "3260,--x"),
                                              ("ip", "-s 0.0.0.0/0"), ("ip", "10.0.0.1/33"), ("ip", "10.0.0.1 --x"),
                                              ("protocol", "-p"), ("tickle_dir", "-d")])
def test_portblock_values_that_could_become_options_are_refused_before_any_command(tmp_path, param, value):
    e = {"OCF_RESKEY_protocol": "tcp", "OCF_RESKEY_portno": "3260", "OCF_RESKEY_action": "block",
         "OCF_RESKEY_ip": "10.99.0.1", "OCF_RESKEY_firewall": "iptables", "HA_RSCTMP": str(tmp_path),
         "OCF_RESKEY_" + param: value}
    assert portblock.main(["portblock", "validate-all"], dict(e, OCF_CHECK_LEVEL="0"), FakeRunner()) == 6
    assert portblock.main(["portblock", "start"], e, FakeRunner()) == 6
    assert portblock.main(["portblock", "stop"], e, FakeRunner()) == 0


@pytest.mark.parametrize("garbage", ["\x00}{ Target x: y\nLUN: z\nnot running running OK [1,", "Cannot find device",
                                     "6: veth0    inet 10.99.0.150/x scope global", ADDRS + "oops\n"])
def test_ip_output_that_is_not_ips_is_an_error_not_no_address(garbage):
    from ocf.errors import OcfError

    with pytest.raises(ValueError, match="not ip's"):
        ip.parse_addresses(garbage)
    r = FakeRunner().expect(["ip", "-o", "-4", "addr", "show"], stdout=garbage)
    with pytest.raises(OcfError, match="unexpected output from ip -o -4 addr show"):
        ip.addresses(r, family=4)


def test_ip_output_of_other_families_and_blank_lines_parses():
    text = "\n" + ADDRS + "7: mpls0    mpls 100 \n"
    assert {a.ip for a in ip.parse_addresses(text)} == {a.ip for a in ip.parse_addresses(ADDRS)}
    assert ip.parse_addresses("") == []
