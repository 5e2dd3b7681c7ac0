"""The main job end to end on real cluster managers: `ocfkit demo` runs two namespace nodes of the lab
(corosync + Pacemaker, or heartbeat 3.0.6) configured from `ocfkit generate`'s output, moves the group
twice with the cluster's own command, crashes node1 (detected, fenced through the lab's power switch,
taken over by node2), powers node1 on again, and loses no acknowledged write."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.system

PROVIDER = os.environ.get("OCFKIT_DEMO_PROVIDER", os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit"))
OCFKIT = os.path.join(os.path.dirname(sys.executable), "ocfkit")


def need_agents():
    if not os.path.exists(f"/usr/lib/ocf/resource.d/{PROVIDER}/iscsitarget"):
        pytest.skip(f"ocf:{PROVIDER} agents are not installed")


def netns() -> set[str]:
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())


def assert_all_removed(pid: int, workdir: str) -> None:
    """Nothing of the demo run with that pid and working directory is left (other engineers' demos may
    run at the same time on this machine: only this run's names count)."""
    prefix = f"ocfkd{pid % 100000}-"
    assert not [n for n in netns() if n.startswith(prefix)]
    assert workdir.startswith("/tmp/ocfkit-demo-")
    assert workdir not in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    assert subprocess.run(["pgrep", "-f", prefix], capture_output=True).returncode == 1
    assert not os.path.exists(os.path.join(workdir, "lab")) and not os.path.exists(os.path.join(workdir, "lun.img"))


def run_demo(*extra: str) -> dict:
    need_agents()
    p = subprocess.Popen([OCFKIT, "demo", "--json", "--steady", "2", "--provider", PROVIDER, *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, out + err[-6000:]
    s = json.loads(out)
    workdir = os.path.dirname(s["logs"])
    try:
        assert_all_removed(p.pid, workdir)
        # The cluster files came from `ocfkit generate` (kept with the logs).
        assert os.path.exists(os.path.join(s["generated"], "cib.xml"))
        assert s["verified"] is True and s["lost_acknowledged_writes"] == 0, s
        assert s["writes_acknowledged"] > 100
        assert [f["kind"] for f in s["failovers"]] == ["planned switchover", "planned switchover", "crash"]
        assert s["rejoin"]["node"] == "node1" and s["rejoin"]["group_on"] == "node2", s["rejoin"]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the logs the demo keeps for a user: not for a test run
    return s


def check_share(f: dict) -> None:
    """ocfkit's share: the plain sum of the agents' runs, and the part of the client's stall during which
    one of them ran (overlaps once): above zero, within the stall and never above the sum."""
    assert f["ocfkit_s"] > 0, f
    assert 0 < f["ocfkit_in_stall_s"] <= min(f["client_stall_s"], f["ocfkit_s"]) + 0.005, f  # rounded to ms


def check_crash(crash: dict, *, fenced_by: str = "node2") -> None:
    assert crash["detection_s"] is not None and 0 < crash["detection_s"] < crash["client_stall_s"] + 0.5, crash
    check_share(crash)
    fe = crash["fence_event"]
    assert fe["target"] == "node1" and fe["status"] == "success" and fe["action"] in ("off", "reboot", "reset"), fe
    assert fe["delegate"] == fenced_by, fe
    # Generous for a loaded CI machine (Pacemaker measured 3.3 to 3.9 s, heartbeat 4 to 5 s here on 2 shared
    # cores; the target is 4 s).
    assert crash["client_stall_s"] < 7.0, crash


def test_pacemaker_demo_moves_the_group_fences_the_crashed_node_and_loses_no_acknowledged_write():
    s = run_demo()
    assert s["manager"] == "pacemaker"
    for f in s["failovers"][:2]:
        assert f["command"][0][:2] == ["crm_resource", "--move"] and f["command"][1][:2] == ["crm_resource", "--clear"]
        assert f["client_stall_s"] < 4.0, f  # measured 0.9 to 1.9 s on 2 loaded cores (target 1.5 s)
        assert f["phases_s"]["total"] is not None, f
        check_share(f)
    crash = s["failovers"][2]
    check_crash(crash)
    assert crash["fencing_s"] is not None and crash["fencing_s"] > 0, crash
    # tgtd runs on both nodes (cluster.tgt_daemon = "clone"): the takeover starts the target and its LUN.
    assert set(crash["agents_start_s"]) >= {"p_fs_config", "p_target_lun.filer", "p_lun_lun.filer_0"}, crash
    assert "p_iscsitarget" not in crash["agents_start_s"], crash
    # Pacemaker runs each agent's meta-data before its start: counted in ocfkit's share.
    assert set(crash["agents_metadata_s"]) == set(crash["agents_start_s"]), crash
    assert crash["ocfkit_s"] >= sum(crash["agents_start_s"].values()) + sum(crash["agents_metadata_s"].values()) \
        - 0.01, crash
    for f in s["failovers"]:
        assert f["client_after_cluster_s"] is not None and f["client_after_cluster_s"] < 2.0, f


def test_heartbeat_demo_moves_the_group_resets_the_crashed_node_and_loses_no_acknowledged_write():
    s = run_demo("--manager", "heartbeat")
    assert s["manager"] == "heartbeat"
    members = ["Filesystem", "IPaddr2", "portblock", "iscsitarget", "portblock"]
    for f in s["failovers"][:2]:
        assert f["command"] == [["/usr/share/heartbeat/hb_standby", "all"]]
        assert f["client_stall_s"] < 6.0, f
        # Every resource.d call, timed by the lab's shim: the source stops the members in reverse order,
        # then the target asks each member's status and starts it, in order.
        calls = [(node, what.split()[0], what.split()[-1]) for node, what, _ in f["agents_calls"]]
        assert [c[1] for c in calls if c[0] == f["from"] and c[2] == "stop"] == members[:1] + members[:0:-1], calls
        assert [c[1] for c in calls if c[0] == f["to"] and c[2] == "start"] == members, calls
        ph = f["phases_s"]
        assert all(ph[k] is not None and ph[k] >= 0 for k in ("request", "release", "handover", "acquire")), ph
        check_share(f)
        assert f["client_after_cluster_s"] is not None and f["client_after_cluster_s"] < 2.0, f
    crash = s["failovers"][2]
    check_crash(crash)
    assert crash["fence_event"]["action"] == "reset"
    # heartbeat asked the power switch to power node1 off after it declared it dead, and the reset is done
    # before the group runs on node2.
    assert 0 < crash["fencing_requested_s"] < crash["cluster_s"] and crash["fencing_s"] > 0, crash
    assert crash["takeover_s"] > 0 and crash["takeover_phases_s"]["before_agents"] > 0, crash
    assert [what.split()[0] for _, what, _ in crash["agents_calls"] if what.endswith(" start")] == members, crash


def test_a_host_running_a_cluster_of_its_own_is_refused_in_one_line(monkeypatch):
    need_agents()
    from ocfkit import demo
    from ocfkit.lab import lab

    monkeypatch.setattr(lab, "host_cluster", lambda: "corosync (pid 4242)")
    before = {n for n in netns() if n.startswith(f"ocfkd{os.getpid() % 100000}-")}
    with pytest.raises(demo.DemoError) as e:
        demo.run_demo(provider=PROVIDER, steady=1, as_json=True)
    assert str(e.value) == ("this host runs a cluster of its own (corosync (pid 4242)): the demo refuses to start "
                            "next to it")
    assert {n for n in netns() if n.startswith(f"ocfkd{os.getpid() % 100000}-")} == before == set()


def test_ctrl_c_removes_everything_the_demo_created():
    import signal
    import time

    need_agents()
    p = subprocess.Popen([OCFKIT, "demo", "--steady", "5", "--provider", PROVIDER], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    seen = ""
    deadline = time.monotonic() + 120
    while "steady on node1" not in seen and time.monotonic() < deadline:
        seen += p.stdout.readline()
    assert "steady on node1" in seen, seen
    workdir = re.search(r"working directory (/tmp/ocfkit-demo-\S+)", seen).group(1)
    pid = p.pid
    # The lab's switch namespace is there, and the nodes run.
    assert f"ocfkd{pid % 100000}-sw" in netns()
    assert os.path.isdir(os.path.join(workdir, "lab", "nodes", "node1"))
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 130, out
    assert "everything the demo created was removed" in out
    try:
        assert_all_removed(pid, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_heartbeat_timing_shim_logs_the_wrappers_interval_and_exit_code(tmp_path):
    """The lab's shim around a wrapper passes its arguments and exit code through and logs when it ran."""
    import time

    from ocfkit.lab.lab import ACTIONS_LOG, TIMING_SHIM, actions

    real = tmp_path / "real"
    real.write_text("#!/bin/sh\necho \"$@\" > \"${0%/*}/args\"\nsleep 0.05\nexit 3\n")
    real.chmod(0o755)
    log = tmp_path / "var-log" / ACTIONS_LOG.removeprefix("/var/log/")
    log.parent.mkdir(parents=True)
    shim = tmp_path / "Dummy"
    shim.write_text(TIMING_SHIM.format(real=real, name="Dummy", log=log))
    shim.chmod(0o755)
    t0 = time.time()
    r = subprocess.run([str(shim), "/a b", "status"], env={"PATH": "/usr/bin:/bin", "LANG": "C"}, timeout=30)
    t1 = time.time()
    assert r.returncode == 3 and (tmp_path / "args").read_text() == "/a b status\n"
    [(a, b, rc, what)] = actions(str(tmp_path))
    assert (rc, what) == (3, "Dummy /a b status") and t0 <= a < b <= t1 and b - a >= 0.05
