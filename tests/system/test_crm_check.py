"""ocfkit crm check with Pacemaker's own tools (xmllint, crm_verify, crm_simulate) on hand-written,
fenced two-node CIBs: the good ones pass without an ERROR, the broken ones fail with exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from crm.check import check

pytestmark = pytest.mark.system

FIX = os.path.join(os.path.dirname(__file__), "..", "unit", "fixtures", "crm_check")
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def fixture(name: str) -> str:
    with open(os.path.join(FIX, name), encoding="utf-8") as f:
        return f.read()


def ocfkit(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ocfkit", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, check=False)


def write(tmp_path, cib: str, corosync: str | None = None) -> str:
    path = tmp_path / "cib.xml"
    path.write_text(cib)
    if corosync is not None:
        (tmp_path / "corosync.conf").write_text(corosync)
    return str(path)


def test_sbd_two_node_cib_passes_and_fails_over_with_fencing(tmp_path):
    rep = check(write(tmp_path, fixture("sbd-two-node.xml"), fixture("corosync-two-node.conf")))
    assert rep.ok, rep.text()
    assert "ERROR" not in rep.text()
    assert rep.placement["g_svc"] == "castor" and rep.placement["ms_drbd"] == "castor (Promoted), pollux"
    assert rep.after_failure["g_svc"] == "pollux" and rep.after_failure["ms_drbd"] == "pollux (Promoted)"
    assert ("crm_simulate (failure of castor)", "ok", "castor fenced") in rep.steps
    assert ("crm_verify (after the cold start)", "ok", "") in rep.steps


def test_ipmi_device_per_node_passes_through_the_cli(tmp_path):
    path = write(tmp_path, fixture("ipmi-two-node.xml"))
    conf = tmp_path / "membership.conf"
    conf.write_text(fixture("corosync-two-node.conf"))
    r = ocfkit("crm", "check", path, "--corosync", str(conf))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ERROR" not in r.stdout and "verdict: OK" in r.stdout
    assert "OK       fencing of castor\n         st_castor (fence_ipmilan, pcmk_host_list=castor) fences castor " \
           "from pollux" in r.stdout
    assert "OK       corosync.conf: quorum" in r.stdout
    # The device that fences castor runs on pollux, and after castor fails it is still there.
    assert "  st_castor: pollux\n" in r.stdout.split("after the failure:")[0]
    assert "  st_castor: pollux\n" in r.stdout.split("after the failure:")[1]


def test_device_banned_from_every_other_node_fails_the_check(tmp_path):
    bad = fixture("ipmi-two-node.xml").replace('rsc="st_pollux" node="pollux"', 'rsc="st_pollux" node="castor"')
    r = ocfkit("crm", "check", write(tmp_path, bad))
    assert r.returncode == 1, r.stdout
    assert "ERROR    fencing of pollux" in r.stdout and "a node cannot fence itself" in r.stdout
    assert "verdict: ERRORS FOUND" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_no_fence_device_fails_in_crm_verify_and_in_the_fencing_check(tmp_path):
    src = fixture("sbd-two-node.xml")
    start, end = src.index('<primitive id="st_sbd"'), src.index('<clone id="ms_drbd">')
    rep = check(write(tmp_path, src[:start] + src[end:]))
    steps = {s: (v, d) for s, v, d in rep.steps}
    assert steps["fencing"][0] == "error" and "no fence device" in steps["fencing"][1]
    assert steps["crm_verify"][0] == "error" and "STONITH" in steps["crm_verify"][1]
    assert not rep.ok


def test_fencing_disabled_with_drbd_fails_even_though_pacemaker_accepts_it(tmp_path):
    src = fixture("sbd-two-node.xml").replace('name="stonith-enabled" value="true"',
                                              'name="stonith-enabled" value="false"')
    rep = check(write(tmp_path, src))
    steps = {s: (v, d) for s, v, d in rep.steps}
    assert steps["crm_verify"][0] != "error"  # Pacemaker has nothing against it...
    assert steps["fencing"][0] == "error" and "split brain" in steps["fencing"][1]  # ...but DRBD does
    assert not rep.ok


def test_corosync_conf_beside_the_cib_without_two_node_fails(tmp_path):
    conf = fixture("corosync-two-node.conf").replace("    two_node: 1\n", "")
    r = ocfkit("crm", "check", write(tmp_path, fixture("ipmi-two-node.xml"), conf))
    assert r.returncode == 1
    assert f"using {tmp_path / 'corosync.conf'} (found beside the CIB)" in r.stdout
    assert "ERROR    corosync.conf: quorum" in r.stdout


def test_schema_named_by_validate_with_is_used(tmp_path):
    src = fixture("ipmi-two-node.xml").replace('validate-with="pacemaker-3.9"', 'validate-with="pacemaker-3.7"')
    rep = check(write(tmp_path, src))
    assert ("schema (pacemaker-3.7.rng)", "ok", "") in rep.steps, rep.text()
    # Promoted/Unpromoted need 3.7; 3.5 refuses them, and the check says so.
    rep = check(write(tmp_path, src.replace("pacemaker-3.7", "pacemaker-3.5")))
    assert [v for s, v, _d in rep.steps if s == "schema (pacemaker-3.5.rng)"] == ["error"]


def test_hostile_inputs_end_fast_with_one_error_and_no_traceback(tmp_path):
    fifo = tmp_path / "fifo.xml"
    os.mkfifo(fifo)
    laughs = tmp_path / "laughs.xml"
    laughs.write_text('<?xml version="1.0"?><!DOCTYPE cib [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
                      "<cib>&b;</cib>")
    huge = tmp_path / "huge.xml"
    with open(huge, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    deep = tmp_path / "deep.xml"
    deep.write_text("<cib>" + "<a>" * 100_000 + "</a>" * 100_000 + "</cib>")
    for path in (fifo, laughs, huge, deep, "/dev/zero", tmp_path):
        start = time.monotonic()
        r = ocfkit("crm", "check", str(path), timeout=30)
        assert time.monotonic() - start < 10, path
        assert r.returncode == 1 and "ERROR    input" in r.stdout, (path, r.stdout, r.stderr)
        assert "Traceback" not in r.stdout + r.stderr


def test_a_large_cib_ends_within_the_deadline_with_a_clear_message(tmp_path):
    # 1000 primitives: crm_simulate needs more than a minute for them on this machine.
    src = fixture("ipmi-two-node.xml")
    prims = "".join(f'<primitive id="p_d{i}" class="ocf" provider="heartbeat" type="Dummy"/>' for i in range(1000))
    path = write(tmp_path, src.replace('<group id="g_svc">', prims + '<group id="g_svc">'))
    start = time.monotonic()
    r = ocfkit("crm", "check", path, "--timeout", "15", timeout=120)
    assert time.monotonic() - start < 25
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
    assert "did not finish within" in r.stdout or "total time limit was reached" in r.stdout, r.stdout


def test_a_pacemaker_3_cib_on_an_older_host_is_incomplete_not_wrong(tmp_path):
    # guest-san.toml is for Pacemaker 3.0 (pacemaker-4.0): a Debian 12 host's 2.1 tools would reject what 3.0
    # accepts, so the check skips them and says so (exit 3), instead of reporting the host's age as errors.
    from crm.check import newer_than_installed

    r = ocfkit("generate", os.path.join(ROOT, "examples", "guest-san.toml"), "--out", str(tmp_path / "g"))
    assert r.returncode == 0, r.stderr
    r = ocfkit("crm", "check", str(tmp_path / "g" / "cib.xml"))
    if newer_than_installed("pacemaker-4.0"):
        assert r.returncode == 3, r.stdout
        assert "SKIPPED  crm_simulate" in r.stdout and "verdict: INCOMPLETE" in r.stdout and "ERROR" not in r.stdout
        assert "OK       fencing of a" in r.stdout and "OK       corosync.conf: nodes" in r.stdout
    else:  # a Pacemaker 3.0 host (Debian 13) checks it all
        assert r.returncode == 0, r.stdout
        assert "verdict: OK" in r.stdout
