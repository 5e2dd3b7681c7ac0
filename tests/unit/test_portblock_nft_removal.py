"""portblock with nft removes its rule with one listing and one change: the whole table when it holds
nothing but this instance's rules, else only this instance's rules (one nft -f - transaction). The
listing is an nfnetlink dump when nfnetlink can be used (no nft process), else `nft -a list table`."""

from __future__ import annotations

import pytest

from agents.portblock import portblock
from agents.tools import netlink, nft
from ocf.errors import Rc
from ocf.testing import FakeKernel, FakeRunner

LIST = ["nft", "-a", "list", "table", "inet", "ocfkit_portblock"]
OURS = "ocfkit:tcp:3260:0.0.0.0/0:in"


def table(*rules: tuple[str, str, int]) -> str:
    """`nft -a list table` output with (chain, comment, handle) rules (both chains always there)."""
    out = "table inet ocfkit_portblock { # handle 7\n"
    for i, chain in enumerate(("input", "output"), start=1):
        out += f"\tchain {chain} {{ # handle {i}\n\t\ttype filter hook {chain} priority filter - 10; policy accept;\n"
        out += "".join(f'\t\tmeta nfproto ipv4 tcp dport 3260 drop comment "{c}" # handle {h}\n'
                       for ch, c, h in rules if ch == chain)
        out += "\t}\n\n" if chain == "input" else "\t}\n"
    return out + "}\n"


def env(tmp_path, action: str = "block") -> dict[str, str]:
    return {"OCF_RESKEY_protocol": "tcp", "OCF_RESKEY_portno": "3260", "OCF_RESKEY_action": action,
            "OCF_RESKEY_firewall": "nft", "HA_RSCTMP": str(tmp_path)}


def test_table_rules_reads_every_chain_of_the_listing():
    r = FakeRunner().expect(LIST, stdout=table(("input", OURS, 3), ("output", "ocfkit:x", 5)))
    assert nft.table_rules(r, "ocfkit_portblock") == {
        "input": [(f'meta nfproto ipv4 tcp dport 3260 drop comment "{OURS}"', 3)],
        "output": [('meta nfproto ipv4 tcp dport 3260 drop comment "ocfkit:x"', 5)]}
    r.assert_done()
    r = FakeRunner().expect(LIST, rc=1, stderr="Error: No such file or directory")
    assert nft.table_rules(r, "ocfkit_portblock") is None
    r.assert_done()


def test_stop_of_the_only_rule_deletes_the_table_in_one_change(tmp_path):
    r = (FakeRunner().expect(LIST, stdout=table(("input", OURS, 3)))
         .expect(["nft", "delete", "table", "inet", "ocfkit_portblock"]))
    assert portblock.main(["portblock", "stop"], env(tmp_path), r) == Rc.SUCCESS
    r.assert_done()


def test_unblock_start_keeps_the_table_and_other_rules_and_deletes_only_ours_in_one_transaction(tmp_path):
    r = (FakeRunner().expect(LIST, stdout=table(("input", OURS, 3), ("input", "ocfkit:udp:53:0.0.0.0/0:in", 4),
                                                ("input", OURS, 6)))
         .expect(["nft", "-f", "-"], input="delete rule inet ocfkit_portblock input handle 3\n"
                                           "delete rule inet ocfkit_portblock input handle 6\n"))
    assert portblock.main(["portblock", "start"], env(tmp_path, "unblock"), r) == Rc.SUCCESS
    r.assert_done()


def test_removal_changes_nothing_when_the_table_holds_only_other_rules_or_is_missing(tmp_path):
    r = FakeRunner().expect(LIST, stdout=table(("output", "ocfkit:udp:53:0.0.0.0/0:out", 4)))
    assert portblock.main(["portblock", "stop"], env(tmp_path), r) == Rc.SUCCESS
    r.assert_done()
    r = FakeRunner().expect(LIST, rc=1)
    assert portblock.main(["portblock", "stop"], env(tmp_path), r) == Rc.SUCCESS
    r.assert_done()


def test_an_empty_table_left_behind_is_deleted(tmp_path):
    r = FakeRunner().expect(LIST, stdout=table()).expect(["nft", "delete", "table", "inet", "ocfkit_portblock"])
    assert portblock.main(["portblock", "stop"], env(tmp_path), r) == Rc.SUCCESS
    r.assert_done()


# ----- over nfnetlink (the agents' path when it can be used): no `nft -a list` process ---------------

GETRULE = (10 << 8) | 7
RULE_DUMP = bytes([1, 0, 0, 0]) + netlink.attribute(1, b"ocfkit_portblock\0")
GETTABLE, TABLE_DUMP = (10 << 8) | 1, bytes([1, 0, 0, 0])
NFT_T = "ocfkit_portblock"
DONE = (16).to_bytes(4, "little") + (3).to_bytes(2, "little") + b"\0" * 10


def _msg(mtype: int, body: bytes) -> bytes:
    return (16 + len(body)).to_bytes(4, "little") + mtype.to_bytes(2, "little") + b"\0" * 10 + body


def nl_rules(*rules: tuple[str, str, int], table: bytes = b"ocfkit_portblock", family: int = 1) -> bytes:
    """An NFT_MSG_GETRULE dump answer with (chain, comment, handle) rules, then NLMSG_DONE."""
    out = b""
    for chain, comment, handle in rules:
        udata = bytes([0, len(comment) + 1]) + comment.encode() + b"\0"
        out += _msg((10 << 8) | 6, bytes([family, 0, 0, 0]) + netlink.attribute(1, table + b"\0")
                    + netlink.attribute(2, chain.encode() + b"\0") + netlink.attribute(3, handle.to_bytes(8, "big"))
                    + netlink.attribute(7, udata))
    return out + DONE


def nl_tables(*names: bytes) -> bytes:
    return b"".join(_msg(10 << 8, bytes([1, 0, 0, 0]) + netlink.attribute(1, n + b"\0")) for n in names) + DONE


def test_netlink_table_rules_names_chain_comment_and_handle_of_this_tables_rules_only():
    k = FakeKernel().expect("netlink", 12, GETRULE, RULE_DUMP, answer=(
        nl_rules(("input", OURS, 3), ("output", "ocfkit:x", 5))[:-16] + nl_rules(("input", "other", 9), table=b"t")))
    assert nft.netlink_table_rules("ocfkit_portblock", kernel=k) == {"input": [(OURS, 3)], "output": [("ocfkit:x", 5)]}
    k.assert_done()
    # An empty dump: the table's existence decides between {} and None.
    k = (FakeKernel().expect("netlink", 12, GETRULE, RULE_DUMP, answer=DONE)
         .expect("netlink", 12, GETTABLE, TABLE_DUMP, answer=nl_tables(b"other", b"ocfkit_portblock")))
    assert nft.netlink_table_rules("ocfkit_portblock", kernel=k) == {}
    k = (FakeKernel().expect("netlink", 12, GETRULE, RULE_DUMP, answer=DONE)
         .expect("netlink", 12, GETTABLE, TABLE_DUMP, answer=nl_tables(b"other")))
    assert nft.netlink_table_rules("ocfkit_portblock", kernel=k) is None
    k.assert_done()


def test_stop_over_nfnetlink_deletes_the_table_of_only_our_rule_with_one_nft_process(tmp_path):
    k = FakeKernel().expect("netlink", 12, GETRULE, RULE_DUMP, answer=nl_rules(("input", OURS, 3)))
    r = FakeRunner().expect(["nft", "delete", "table", "inet", "ocfkit_portblock"])
    assert portblock.main(["portblock", "stop"], env(tmp_path), r, k) == Rc.SUCCESS
    r.assert_done()
    k.assert_done()


def test_unblock_start_over_nfnetlink_deletes_only_our_rules_by_handle(tmp_path):
    k = FakeKernel().expect("netlink", 12, GETRULE, RULE_DUMP, answer=nl_rules(
        ("input", OURS, 3), ("input", "ocfkit:udp:53:0.0.0.0/0:in", 4), ("input", OURS, 6)))
    r = FakeRunner().expect(["nft", "-f", "-"], input="delete rule inet ocfkit_portblock input handle 3\n"
                                                      "delete rule inet ocfkit_portblock input handle 6\n")
    assert portblock.main(["portblock", "start"], env(tmp_path, "unblock"), r, k) == Rc.SUCCESS
    r.assert_done()
    k.assert_done()


@pytest.mark.parametrize(("tables", "argv"), [((b"other",), None),
                                              ((b"ocfkit_portblock",), ["nft", "delete", "table", "inet", NFT_T])])
def test_stop_over_nfnetlink_runs_no_nft_without_the_table_and_deletes_an_empty_one(tmp_path, tables, argv):
    k = (FakeKernel().expect("netlink", 12, GETRULE, RULE_DUMP, answer=DONE)
         .expect("netlink", 12, GETTABLE, TABLE_DUMP, answer=nl_tables(*tables)))
    r = FakeRunner()
    if argv:
        r.expect(argv)
    assert portblock.main(["portblock", "stop"], env(tmp_path), r, k) == Rc.SUCCESS
    r.assert_done()
    k.assert_done()


@pytest.mark.parametrize("present", [False, True])
def test_block_start_over_nfnetlink_inserts_the_rule_only_where_it_is_missing(tmp_path, present):
    k = FakeKernel().expect("netlink", 12, GETRULE, RULE_DUMP,
                            answer=nl_rules(("input", OURS, 3)) if present else nl_rules(("output", OURS, 3)))
    head = ("add table inet ocfkit_portblock\n"
            "add chain inet ocfkit_portblock input { type filter hook input priority -10 ; policy accept ; }\n"
            "add chain inet ocfkit_portblock output { type filter hook output priority -10 ; policy accept ; }\n")
    rule = ("" if present else
            f'insert rule inet ocfkit_portblock input meta nfproto ipv4 tcp dport {{ 3260 }} drop comment "{OURS}"\n')
    r = FakeRunner().expect(["nft", "-f", "-"], input=head + rule)
    assert portblock.main(["portblock", "start"], env(tmp_path), r, k) == Rc.SUCCESS
    r.assert_done()
    k.assert_done()
