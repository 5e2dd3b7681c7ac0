"""portblock with nft removes its rule with one listing and one change: the whole table when it holds
nothing but this instance's rules, else only this instance's rules (one nft -f - transaction)."""

from __future__ import annotations

from agents.portblock import portblock
from agents.tools import nft
from ocf.errors import Rc
from ocf.testing import FakeRunner

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
