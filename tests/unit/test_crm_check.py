"""crm check without Pacemaker: the corosync.conf parser, the fencing and membership checks on
hand-written CIBs, and hostile inputs that must end fast with one clear line."""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET

import pytest

from crm import check as ck
from ocf.errors import CommandTimeout
from ocf.exec import Result

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "crm_check")


def text(name: str) -> str:
    with open(os.path.join(FIX, name), encoding="utf-8") as f:
        return f.read()


def cib(src: str) -> ET.Element:
    return ck.parse_xml(src.encode(), "test CIB")


def verdicts(findings) -> dict[str, str]:
    return {step: verdict for step, verdict, _d in findings}


def detail(findings, step: str) -> str:
    return "\n".join(d for s, _v, d in findings if s == step)


SBD = text("sbd-two-node.xml")
IPMI = text("ipmi-two-node.xml")
COROSYNC = text("corosync-two-node.conf")


# --- corosync.conf grammar ---------------------------------------------------------------------------


def test_corosync_parser_reads_sections_pairs_and_comments():
    conf = ck.parse_corosync(COROSYNC)
    assert conf.first("totem").get("cluster_name") == "san"
    assert [i.get("linknumber") for i in conf.first("totem").all("interface")] == ["0", "1"]
    assert [n.get("name") for n in conf.first("nodelist").all("node")] == ["castor", "pollux"]
    assert conf.first("quorum").get("two_node") == "1"
    assert conf.first("logging").get("to_syslog") == "yes"


def test_corosync_parser_keeps_the_value_after_the_first_colon_and_the_last_of_a_key():
    conf = ck.parse_corosync("totem {\n  cluster_name: a\n  cluster_name:  b:c  \n}\n")
    assert conf.first("totem").get("cluster_name") == "b:c"


@pytest.mark.parametrize(("src", "message"), [
    ("totem {\n  version: 2\n", "opened at line 1 is not closed"),
    ("totem {\n}\n}\n", "corosync.conf:3: '}' closes no section"),
    ("totem {\n  just words\n}\n", "corosync.conf:2: neither"),
    ("totem { version: 2 }\n", "corosync.conf:1: text after '{'"),
    ("{\n}\n", "corosync.conf:1: a section needs a name"),
    ("totem {\n  : 2\n}\n", "corosync.conf:2: a key is missing"),
])
def test_corosync_parser_names_the_line_of_a_grammar_error(src, message):
    with pytest.raises(ck.CorosyncError) as e:
        ck.parse_corosync(src)
    assert message in str(e.value)


def test_xml_declaring_utf8_is_read():
    assert ck.parse_xml(b'<?xml version="1.0" encoding="UTF-8"?>\n<cib a="\xc3\xa9"/>', "x").get("a") == "\u00e9"


def test_corosync_parser_refuses_deep_nesting():
    with pytest.raises(ck.CorosyncError, match="nested more than 16"):
        ck.parse_corosync("a {\n" * 1000 + "}\n" * 1000)


def test_corosync_parser_is_linear_on_a_megabyte():
    big = "totem {\n" + "  token: 3000\n" * 70_000 + "}\n" + "x {\n}\n" * 5_000
    assert len(big) < ck.MAX_COROSYNC_BYTES
    start = time.monotonic()
    conf = ck.parse_corosync(big)
    assert time.monotonic() - start < 5  # a quadratic parser needs minutes here
    assert len(conf.first("totem").pairs) == 70_000


# --- corosync.conf against the CIB --------------------------------------------------------------------


def membership(conf_src: str, cib_src: str = IPMI):
    return ck.corosync_findings(ck.parse_corosync(conf_src), cib(cib_src))


def test_consistent_corosync_conf_passes_every_membership_check():
    found = membership(COROSYNC)
    assert set(verdicts(found).values()) == {"ok"}, found
    assert "two_node: 1" in detail(found, "corosync.conf: quorum")


def test_node_named_differently_in_corosync_is_an_error():
    found = membership(COROSYNC.replace("name: pollux", "name: pollux2"))
    assert verdicts(found)["corosync.conf: nodes"] == "error"
    msg = detail(found, "corosync.conf: nodes")
    assert "in the CIB but not in corosync.conf: pollux" in msg and "not in the CIB: pollux2" in msg


def test_node_id_disagreeing_with_corosync_is_an_error():
    found = membership(COROSYNC.replace("nodeid: 2", "nodeid: 7"))
    assert "pollux is id 2 in the CIB but nodeid 7" in detail(found, "corosync.conf: nodes")


def test_nodes_named_only_by_address_cannot_be_compared_and_say_so():
    src = COROSYNC.replace("        name: castor\n", "").replace("        name: pollux\n", "")
    found = membership(src)
    assert verdicts(found)["corosync.conf: nodes"] == "warning"
    assert "uname -n" in detail(found, "corosync.conf: nodes")


def test_ring0_host_name_serves_as_node_name():
    src = COROSYNC.replace("        name: castor\n", "").replace("ring0_addr: 192.168.1.1", "ring0_addr: castor")
    assert verdicts(membership(src))["corosync.conf: nodes"] == "ok"


def test_two_nodes_without_two_node_lose_quorum_on_one_failure():
    found = membership(COROSYNC.replace("    two_node: 1\n", ""))
    assert verdicts(found)["corosync.conf: quorum"] == "error"
    assert "1 of 2 votes" in detail(found, "corosync.conf: quorum")


def test_two_nodes_without_two_node_but_ignoring_quorum_is_a_warning():
    src_cib = IPMI.replace('name="no-quorum-policy" value="stop"', 'name="no-quorum-policy" value="ignore"')
    found = membership(COROSYNC.replace("    two_node: 1\n", ""), src_cib)
    assert verdicts(found)["corosync.conf: quorum"] == "warning"


def test_two_node_with_no_quorum_policy_ignore_is_a_warning():
    src_cib = IPMI.replace('name="no-quorum-policy" value="stop"', 'name="no-quorum-policy" value="ignore"')
    found = membership(COROSYNC, src_cib)
    assert verdicts(found)["corosync.conf: quorum"] == "warning"
    assert "use stop" in detail(found, "corosync.conf: quorum")


def test_two_node_with_wait_for_all_off_is_a_warning():
    found = membership(COROSYNC.replace("two_node: 1", "two_node: 1\n    wait_for_all: 0"))
    assert verdicts(found)["corosync.conf: quorum"] == "warning"


def test_two_node_with_three_nodes_is_an_error():
    third = "    node {\n        name: helene\n        nodeid: 3\n        ring0_addr: 192.168.1.3\n" \
            "        ring1_addr: 10.0.0.3\n    }\n}\n\nquorum {"
    src = COROSYNC.replace("}\n\nquorum {", third, 1)
    found = membership(src)
    assert verdicts(found)["corosync.conf: quorum"] == "error"
    assert "3 nodes" in detail(found, "corosync.conf: quorum")


def test_two_node_with_a_quorum_device_is_an_error():
    src = COROSYNC.replace("two_node: 1", "two_node: 1\n    device {\n        model: net\n    }")
    assert verdicts(membership(src))["corosync.conf: quorum"] == "error"


def test_qdevice_without_two_node_is_fine():
    src = COROSYNC.replace("two_node: 1", "device {\n        model: net\n    }")
    assert verdicts(membership(src))["corosync.conf: quorum"] == "ok"


def test_missing_quorum_provider_is_an_error():
    src = COROSYNC.replace("    provider: corosync_votequorum\n", "")
    assert verdicts(membership(src))["corosync.conf: quorum"] == "error"


def test_cluster_name_differing_from_the_cib_is_an_error():
    found = membership(COROSYNC.replace("cluster_name: san", "cluster_name: nas"))
    assert verdicts(found)["corosync.conf: cluster name"] == "error"


def test_node_without_an_address_on_every_link_is_an_error():
    found = membership(COROSYNC.replace("        ring1_addr: 10.0.0.2\n", ""))
    assert verdicts(found)["corosync.conf: transport and links"] == "error"
    assert "pollux has no ring1_addr" in detail(found, "corosync.conf: transport and links")


def test_two_links_on_udpu_is_an_error():
    found = membership(COROSYNC.replace("transport: knet", "transport: udpu"))
    assert verdicts(found)["corosync.conf: transport and links"] == "error"


def test_interface_for_a_link_no_node_has_is_an_error():
    src = COROSYNC.replace("        linknumber: 1\n", "        linknumber: 2\n")
    assert "configures link 2" in detail(membership(src), "corosync.conf: transport and links")


def test_a_megabyte_of_nodes_is_checked_in_linear_time():
    many = "".join(f"    node {{\n        name: n{i}\n        ring0_addr: 10.{i // 65536}.{i // 256 % 256}.{i % 256}\n"
                   f"    }}\n" for i in range(15_000))
    src = COROSYNC.replace("nodelist {\n", "nodelist {\n" + many)
    assert len(src) < ck.MAX_COROSYNC_BYTES
    start = time.monotonic()
    found = membership(src)
    assert time.monotonic() - start < 5  # quadratic: 225 million comparisons per list
    assert verdicts(found)["corosync.conf: nodes"] == "error"


def test_same_address_for_two_nodes_is_an_error():
    found = membership(COROSYNC.replace("10.0.0.2", "10.0.0.1"))
    assert "the same address for two nodes: 10.0.0.1" in detail(found, "corosync.conf: transport and links")


# --- fencing --------------------------------------------------------------------------------------------


def test_sbd_device_fences_both_nodes_from_the_other():
    found = ck.fencing_findings(cib(SBD))
    assert verdicts(found) == {"fencing of castor": "ok", "fencing of pollux": "ok"}, found
    assert "from pollux" in detail(found, "fencing of castor")


def test_one_ipmi_device_per_node_banned_from_its_node_fences_both():
    found = ck.fencing_findings(cib(IPMI))
    assert verdicts(found) == {"fencing of castor": "ok", "fencing of pollux": "ok"}, found
    assert "st_castor" in detail(found, "fencing of castor")
    assert "st_pollux" in detail(found, "fencing of pollux")


def test_device_that_may_run_only_on_its_target_is_an_error():
    # st_pollux banned from castor instead of pollux: it could run only where it should fence.
    bad = IPMI.replace('rsc="st_pollux" node="pollux"', 'rsc="st_pollux" node="castor"')
    found = ck.fencing_findings(cib(bad))
    assert verdicts(found)["fencing of pollux"] == "error"
    assert "can run only on pollux" in detail(found, "fencing of pollux")
    assert "a node cannot fence itself" in detail(found, "fencing of pollux")
    assert verdicts(found)["fencing of castor"] == "ok"


def test_node_without_a_device_targeting_it_is_an_error():
    bad = IPMI.replace('name="pcmk_host_list" value="pollux"', 'name="pcmk_host_list" value="castor"')
    found = ck.fencing_findings(cib(bad))
    assert verdicts(found)["fencing of pollux"] == "error"
    assert "does not target pollux" in detail(found, "fencing of pollux")


def test_host_map_names_the_targets():
    src = IPMI.replace('name="pcmk_host_list" value="pollux"', 'name="pcmk_host_map" value="pollux:2,3;other:4"')
    assert verdicts(ck.fencing_findings(cib(src)))["fencing of pollux"] == "ok"
    device = cib(src).find(".//primitive[@id='st_pollux']")
    assert ck.targets(device, ["castor", "pollux"])[0] == {"pollux", "other"}


def test_rule_banning_every_node_but_the_target_is_an_error():
    rule = ('<rsc_location id="loc_st_pollux" rsc="st_pollux"><rule id="r1" score="-INFINITY">'
            '<expression id="e1" attribute="#uname" operation="ne" value="pollux"/></rule></rsc_location>')
    bad = IPMI.replace('<rsc_location id="loc_st_pollux" rsc="st_pollux" node="pollux" score="-INFINITY"/>', rule)
    found = ck.fencing_findings(cib(bad))
    assert verdicts(found)["fencing of pollux"] == "error"
    assert "rule r1 -INFINITY on castor" in detail(found, "fencing of pollux")


def test_rule_banning_the_target_itself_is_fine():
    rule = ('<rsc_location id="loc_st_pollux" rsc="st_pollux"><rule id="r1" score="-INFINITY">'
            '<expression id="e1" attribute="#uname" operation="eq" value="pollux"/></rule></rsc_location>')
    good = IPMI.replace('<rsc_location id="loc_st_pollux" rsc="st_pollux" node="pollux" score="-INFINITY"/>', rule)
    assert verdicts(ck.fencing_findings(cib(good)))["fencing of pollux"] == "ok"


def test_fencing_disabled_with_drbd_is_an_error_naming_split_brain():
    bad = SBD.replace('name="stonith-enabled" value="true"', 'name="stonith-enabled" value="false"')
    found = ck.fencing_findings(cib(bad))
    assert verdicts(found) == {"fencing": "error"}
    assert "split brain" in detail(found, "fencing") and "ms_drbd" in detail(found, "fencing")


def test_fencing_disabled_without_drbd_is_a_warning():
    src = SBD.replace('name="stonith-enabled" value="true"', 'name="stonith-enabled" value="false"')
    src = src.replace('type="drbd"', 'type="Stateful"').replace('provider="linbit"', 'provider="pacemaker"')
    assert verdicts(ck.fencing_findings(cib(src))) == {"fencing": "warning"}


def test_fencing_enabled_by_default_without_a_device_is_an_error():
    src = SBD.replace('<nvpair id="opt-stonith-enabled" name="stonith-enabled" value="true"/>', "")
    start, end = src.index('<primitive id="st_sbd"'), src.index('<clone id="ms_drbd">')
    found = ck.fencing_findings(cib(src[:start] + src[end:]))
    assert verdicts(found) == {"fencing": "error"}
    assert "no fence device" in detail(found, "fencing")


def test_device_whose_targets_only_the_agent_knows_is_a_warning():
    src = IPMI.replace('<nvpair id="st_castor-hosts" name="pcmk_host_list" value="castor"/>', "")
    found = ck.fencing_findings(cib(src))
    assert verdicts(found)["fencing of castor"] == "warning"
    assert "dynamic-list" in detail(found, "fencing of castor")


def test_disabled_device_fences_nothing():
    src = IPMI.replace('<instance_attributes id="st_pollux-ia">',
                       '<meta_attributes id="st_pollux-m"><nvpair id="st_pollux-tr" name="target-role" '
                       'value="Stopped"/></meta_attributes><instance_attributes id="st_pollux-ia">')
    found = ck.fencing_findings(cib(src))
    assert verdicts(found)["fencing of pollux"] == "error"
    assert "st_pollux is disabled" in detail(found, "fencing")


def test_opt_in_cluster_needs_a_location_allowing_another_node():
    src = IPMI.replace('<nvpair id="opt-cluster-name"',
                       '<nvpair id="opt-sym" name="symmetric-cluster" value="false"/><nvpair id="opt-cluster-name"')
    found = ck.fencing_findings(cib(src))
    assert verdicts(found)["fencing of castor"] == "error"
    assert "symmetric-cluster=false" in detail(found, "fencing of castor")


def test_watchdog_only_sbd_is_a_warning_not_a_missing_device():
    src = SBD.replace('<nvpair id="opt-cluster-name"', '<nvpair id="opt-wd" name="stonith-watchdog-timeout" '
                                                       'value="10s"/><nvpair id="opt-cluster-name"')
    start, end = src.index('<primitive id="st_sbd"'), src.index('<clone id="ms_drbd">')
    found = ck.fencing_findings(cib(src[:start] + src[end:]))
    assert verdicts(found) == {"fencing": "warning"} and "watchdog-only" in detail(found, "fencing")


def test_many_devices_and_constraints_are_checked_in_linear_time():
    devs = "".join(f'<primitive id="st_{i}" class="stonith" type="fence_ipmilan"><instance_attributes id="st_{i}-ia">'
                   f'<nvpair id="st_{i}-h" name="pcmk_host_list" value="castor"/></instance_attributes></primitive>'
                   for i in range(4000))
    locs = "".join(f'<rsc_location id="l_{i}" rsc="st_{i}" node="castor" score="-INFINITY"/>' for i in range(4000))
    src = IPMI.replace('<clone id="ms_drbd">', devs + '<clone id="ms_drbd">').replace("<constraints>",
                                                                                      "<constraints>" + locs)
    start = time.monotonic()
    found = ck.fencing_findings(cib(src))
    assert time.monotonic() - start < 10  # quadratic: 16 million constraint visits, minutes
    assert verdicts(found)["fencing of castor"] == "ok"


def test_thousands_of_devices_on_many_nodes_give_a_short_report_fast():
    nodes_xml = "".join(f'<node id="{i + 3}" uname="n{i}"/>' for i in range(62))
    devs = "".join(f'<primitive id="st_{i}" class="stonith" type="fence_ipmilan"><instance_attributes id="st_{i}-ia">'
                   f'<nvpair id="st_{i}-h" name="pcmk_host_list" value="castor n1 n2"/></instance_attributes>'
                   "</primitive>" for i in range(4990))
    src = IPMI.replace("</nodes>", nodes_xml + "</nodes>")
    src = src.replace('<clone id="ms_drbd">', devs + '<clone id="ms_drbd">')
    start = time.monotonic()
    found = ck.fencing_findings(cib(src))
    assert time.monotonic() - start < 10  # 4 s before the report was capped, 0.4 s after
    castor = detail(found, "fencing of castor").splitlines()
    assert len(castor) == 9 and castor[-1] == "... and 4983 more"
    assert castor[0].endswith("fences castor from n0, n1, n10, n11 (+59 more)")
    assert verdicts(found)["fencing of n5"] == "error"


def test_two_nodes_without_a_fencing_delay_warn_of_a_fence_race():
    src = IPMI.replace('<nvpair id="st_castor-delay" name="pcmk_delay_base" value="10s"/>', "")
    assert "fence race" in detail(ck.fencing_findings(cib(src)), "fencing")
    assert "fencing" not in verdicts(ck.fencing_findings(cib(IPMI)))


# --- schema choice and placement ----------------------------------------------------------------------


def test_schema_named_by_validate_with_else_the_newest_installed(tmp_path):
    for v in ("3.7", "3.9", "3.10", "2.10"):
        (tmp_path / f"pacemaker-{v}.rng").write_text("")
    assert ck.schema_for("pacemaker-3.7", str(tmp_path)) == (str(tmp_path / "pacemaker-3.7.rng"), "")
    path, note = ck.schema_for("pacemaker-4.0", str(tmp_path))
    assert path == str(tmp_path / "pacemaker-3.10.rng") and "pacemaker-4.0 is not installed" in note
    assert ck.schema_for("pacemaker-3.9", str(tmp_path / "none"))[0] is None


def test_a_cib_for_a_newer_pacemaker_is_not_checked_with_this_hosts_older_tools(tmp_path):
    for v in ("3.9", "3.10"):
        (tmp_path / f"pacemaker-{v}.rng").write_text("")
    assert ck.newer_than_installed("pacemaker-3.10", str(tmp_path)) == ""
    assert ck.newer_than_installed("pacemaker-3.7", str(tmp_path)) == ""
    assert ck.newer_than_installed("none", str(tmp_path)) == ""
    why = ck.newer_than_installed("pacemaker-4.0", str(tmp_path))
    assert "pacemaker-4.0 is newer than this host's Pacemaker (newest schema pacemaker-3.10)" in why
    rep = ck.Report()
    rep.add("input", "ok")
    assert rep.complete and rep.text().endswith("verdict: OK\n")
    rep.add("schema", "skipped", why)
    assert rep.ok and not rep.complete and "verdict: INCOMPLETE" in rep.text() and "SKIPPED  schema" in rep.text()
    rep.add("fencing", "error", "x")
    assert rep.text().endswith("verdict: ERRORS FOUND\n")


def test_placement_reads_roles_of_both_pacemaker_generations():
    out = text("simulate-status.xml")
    assert {k: ck._describe(v) for k, v in ck.placement(out).items()} == {
        "st_castor": "pollux", "st_pollux": "castor", "ms_drbd": "castor (Promoted), pollux", "g_svc": "castor"}
    old = out.replace('role="Promoted"', 'role="Master"').replace('role="Unpromoted"', 'role="Slave"')
    assert ck._describe(ck.placement(old)["ms_drbd"]) == "castor (Promoted), pollux"


# --- hostile and huge inputs --------------------------------------------------------------------------

LAUGHS = ('<?xml version="1.0"?><!DOCTYPE cib [<!ENTITY a "lol">'
          + "".join(f'<!ENTITY {c} "' + f"&{p};" * 10 + '">' for p, c in zip("abcdefgh", "bcdefghi"))
          + ']><cib>&i;</cib>')


@pytest.mark.parametrize(("data", "message"), [
    (LAUGHS.encode(), "DOCTYPE declarations are refused"),
    (b'<?xml version="1.0"?><!DOCTYPE cib SYSTEM "file:///etc/passwd"><cib/>', "DOCTYPE declarations are refused"),
    (b"<cib>" + b"<a>" * 100 + b"</a>" * 100 + b"</cib>", "nested more than 64 deep"),
    (b"<cib>" + b"<a/>" * (ck.MAX_ELEMENTS + 1) + b"</cib>", f"more than {ck.MAX_ELEMENTS} elements"),
    ('<?xml version="1.0" encoding="UTF-16"?><cib/>'.encode("utf-16"), "not UTF-8"),
    (b'<?xml version="1.0" encoding="EBCDIC-US"?><cib/>', "declares encoding 'EBCDIC-US': only UTF-8 is read"),
    (b"<cib><unclosed></cib>", "not well-formed"),
    (b"", "not well-formed"),
])
def test_hostile_xml_is_refused_with_one_line(data, message):
    start = time.monotonic()
    with pytest.raises(ck.InputError) as e:
        ck.parse_xml(data, "CIB x")
    assert message in str(e.value) and "\n" not in str(e.value)
    assert time.monotonic() - start < 10  # generous: 2 cores shared by many; ~0.7 s when idle


def never_run(argv, **kw):
    raise AssertionError(f"no tool may run on refused input: {argv}")


def hostile_paths(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.xml"
    with open(huge, "wb") as f:
        f.truncate(50 * 1024 * 1024)  # 50 MB, sparse
    laughs = tmp_path / "laughs.xml"
    laughs.write_text(LAUGHS)
    deep = tmp_path / "deep.xml"
    deep.write_text("<cib>" + "<a>" * 200_000 + "</a>" * 200_000 + "</cib>")
    return {"FIFO": str(fifo), "directory": str(tmp_path), "device": "/dev/zero", "50 MB": str(huge),
            "billion laughs": str(laughs), "deep nesting": str(deep), "missing": str(tmp_path / "nothing")}


@pytest.mark.parametrize("kind", ["FIFO", "directory", "device", "50 MB", "billion laughs", "deep nesting",
                                  "missing"])
def test_check_refuses_hostile_input_fast_without_running_a_tool(kind, tmp_path):
    path = hostile_paths(tmp_path)[kind]
    start = time.monotonic()
    rep = ck.check(path, run=never_run)
    assert time.monotonic() - start < 10  # generous: 2 cores shared by many; ~0.7 s when idle
    assert not rep.ok and [s for s, _v, _d in rep.steps] == ["input"]
    assert path in rep.steps[0][2] or kind in ("billion laughs", "deep nesting")


@pytest.mark.parametrize("kind", ["FIFO", "device", "50 MB", "billion laughs"])
def test_cli_reports_hostile_input_in_one_error_and_exit_1(kind, tmp_path, capsys):
    from ocfkit.cli import main

    assert main(["crm", "check", hostile_paths(tmp_path)[kind]]) == 1
    out, err = capsys.readouterr()
    assert "ERROR    input" in out and "verdict: ERRORS FOUND" in out
    assert "Traceback" not in out + err


def test_corosync_conf_that_is_a_fifo_is_refused(tmp_path):
    fifo = tmp_path / "corosync.conf"
    os.mkfifo(fifo)
    rep = ck.Report()
    ck._fencing_and_corosync(rep, cib(IPMI), str(tmp_path / "cib.xml"), None)
    found = [s for s in rep.steps if s[0] == "corosync.conf"]
    assert found[-1][1] == "error" and "is a FIFO" in found[-1][2]


class Tools:
    """A stand-in for the command seam answering by tool name (argv holds the check's temp paths)."""

    def __init__(self, hang: str | None = None, simulate_rc: int = 1) -> None:
        self.hang, self.simulate_rc, self.seen = hang, simulate_rc, []

    def __call__(self, argv, *, ok=(0,), timeout):
        self.seen.append((argv[0], timeout))
        assert 0 < timeout <= ck.STEP_TIMEOUT
        if argv[0] == self.hang:
            raise CommandTimeout(argv, timeout)
        rc = self.simulate_rc if argv[0] == "crm_simulate" else 0
        return Result(argv, rc, "", "stopped here" if rc else "")


def test_a_tool_that_hangs_is_reported_and_the_check_goes_on(tmp_path):
    f = tmp_path / "cib.xml"
    f.write_text(IPMI)
    rep = ck.check(str(f), run=Tools(hang="crm_verify"))
    assert ("crm_verify", "error", "crm_verify did not finish within 60 s and was stopped") in rep.steps
    assert {"fencing of castor", "fencing of pollux"} <= {s for s, _v, _d in rep.steps}


def test_the_total_deadline_bounds_every_step(tmp_path):
    f = tmp_path / "cib.xml"
    f.write_text(IPMI)
    tools = Tools()
    rep = ck.check(str(f), run=tools, timeout=0.5)
    assert not tools.seen
    assert rep.steps[1][2] == "the check's total time limit was reached before this step"


def test_corosync_conf_beside_the_cib_is_used_and_named(tmp_path):
    f = tmp_path / "cib.xml"
    f.write_text(IPMI)
    (tmp_path / "corosync.conf").write_text(COROSYNC.replace("two_node: 1", "two_node: 0"))
    rep = ck.check(str(f), run=Tools())
    steps = {s: (v, d) for s, v, d in rep.steps}
    assert steps["corosync.conf"] == ("info", f"using {tmp_path / 'corosync.conf'} (found beside the CIB)")
    assert steps["corosync.conf: quorum"][0] == "error"
    assert not rep.ok


def test_no_corosync_conf_is_said_not_checked(tmp_path):
    f = tmp_path / "cib.xml"
    f.write_text(IPMI)
    rep = ck.check(str(f), run=Tools())
    assert ("corosync.conf", "info", "not given (--corosync) and none beside the CIB: membership not checked") \
        in rep.steps


def test_tool_output_names_the_users_file_not_the_private_copy(tmp_path):
    f = tmp_path / "cib.xml"
    f.write_text(IPMI)

    def run(argv, *, ok=(0,), timeout):
        return Result(argv, 1 if argv[0] == "xmllint" else 0, "", f"{argv[-1]}:3: parser error")

    rep = ck.check(str(f), run=run)
    assert rep.steps[1] == ("well-formed XML (xmllint)", "error", f"{f}:3: parser error")


def test_missing_tool_is_one_line_naming_the_package(tmp_path):
    from ocf.errors import NotInstalledError

    f = tmp_path / "cib.xml"
    f.write_text(IPMI)

    def run(argv, *, ok=(0,), timeout):
        raise NotInstalledError(f"{argv[0]}: command not found")

    rep = ck.check(str(f), run=run)
    assert rep.steps[1] == ("well-formed XML (xmllint)", "error",
                            "xmllint is not installed (Debian: pacemaker-cli-utils, libxml2-utils)")


def test_node_names_that_could_pass_for_options_never_reach_crm_simulate(tmp_path):
    f = tmp_path / "cib.xml"
    f.write_text(IPMI.replace('uname="pollux"', 'uname="--save-output=/etc/x"'))
    tools = Tools(simulate_rc=0)
    rep = ck.check(str(f), run=tools)
    assert "crm_simulate" not in [name for name, _t in tools.seen]
    assert [v for s, v, _d in rep.steps if s == "crm_simulate"] == ["error"]


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "soon"])
def test_cli_refuses_a_timeout_that_is_not_a_positive_number(value, tmp_path, capsys):
    from ocfkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(["crm", "check", str(tmp_path / "cib.xml"), "--timeout", value])
    assert e.value.code == 2
    assert "seconds between 0 and 86400" in capsys.readouterr().err


# --- properties (hypothesis, when installed: the campaign's test extras) -----------------------------

try:
    import hypothesis
except ImportError:  # the campaign's test extras bring it
    hypothesis = None


if hypothesis is None:

    def test_properties_need_hypothesis():
        pytest.skip("hypothesis is not installed (pip install .[test])")

else:
    st = hypothesis.strategies


    NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
    VALUES = st.from_regex(r"[a-zA-Z0-9_.:/ -]{0,20}", fullmatch=True).map(str.strip)
    TREES = st.recursive(
        st.lists(st.tuples(NAMES, VALUES), max_size=4).map(lambda pairs: ("pairs", pairs)),
        lambda inner: st.tuples(NAMES, st.lists(inner, max_size=3)).map(lambda s: ("section", s)),
        max_leaves=20)


    def render(tree, indent=0) -> str:
        kind, body = tree
        pad = "    " * indent
        if kind == "pairs":
            return "".join(f"{pad}{k}: {v}\n" for k, v in body)
        name, children = body
        return f"{pad}{name} {{\n" + "".join(render(c, indent + 1) for c in children) + f"{pad}}}\n"


    def shape(sec: ck.Section):
        return [(k, v) for k, v, _ln in sec.pairs], [(s.name, shape(s)) for s in sec.sections]


    def expected(trees):
        pairs, sections = [], []
        for kind, body in trees:
            if kind == "pairs":
                pairs += body
            else:
                sections.append((body[0], expected(body[1])))
        return pairs, sections


    @hypothesis.settings(max_examples=200, deadline=None, derandomize=True)
    @hypothesis.given(st.lists(TREES, max_size=4))
    def test_corosync_parser_reads_back_what_its_grammar_writes(trees):
        src = "# generated\n" + "".join(render(t) for t in trees)
        try:
            conf = ck.parse_corosync(src)
        except ck.CorosyncError as e:
            assert "nested more than 16" in str(e)
            return
        assert shape(conf) == expected(trees)


    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
    @hypothesis.given(st.text(alphabet="{}:#\n ab\t\r", max_size=200))
    def test_corosync_parser_returns_a_tree_or_one_grammar_error(src):
        try:
            ck.parse_corosync(src)
        except ck.CorosyncError as e:
            assert str(e).startswith("corosync.conf") and "\n" not in str(e)


    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
    @hypothesis.given(st.binary(max_size=300)
                      | st.text(alphabet='<>/!?="cib xa&;[]-DOCTYPE', max_size=200).map(str.encode))
    def test_xml_reader_returns_an_element_or_one_input_error(data):
        try:
            ck.parse_xml(data, "CIB")
        except ck.InputError as e:
            assert "\n" not in str(e)
