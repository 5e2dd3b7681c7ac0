"""The main job end to end: the demo runs, moves the group three times and loses no acknowledged write."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.system


def test_demo_fails_over_three_times_without_losing_an_acknowledged_write():
    provider = os.environ.get("OCFKIT_DEMO_PROVIDER", os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit"))
    if not os.path.exists(f"/usr/lib/ocf/resource.d/{provider}/iSCSITarget"):
        pytest.skip(f"ocf:{provider} agents are not installed")
    ocfkit = os.path.join(os.path.dirname(sys.executable), "ocfkit")
    before = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
    r = subprocess.run([ocfkit, "demo", "--json", "--steady", "2", "--provider", provider], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads(r.stdout)
    assert s["verified"] is True and s["lost_acknowledged_writes"] == 0
    assert s["writes_acknowledged"] > 100
    kinds = [f["kind"] for f in s["failovers"]]
    assert kinds == ["planned switchover", "planned switchover", "crash"]
    for f in s["failovers"]:
        assert f["client_stall_s"] < (2.0 if f["kind"] != "crash" else 3.0), f
    # Everything the demo created is gone: namespaces, loop devices, daemons.
    after = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
    assert not {n for n in after - before if n.startswith("ocfkd")}
    assert "ocfkit-demo" not in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    assert subprocess.run(["pgrep", "-f", "demo_client.py"], capture_output=True).returncode == 1


def test_ctrl_c_removes_everything_the_demo_created():
    import signal
    import time

    provider = os.environ.get("OCFKIT_DEMO_PROVIDER", os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit"))
    if not os.path.exists(f"/usr/lib/ocf/resource.d/{provider}/iSCSITarget"):
        pytest.skip(f"ocf:{provider} agents are not installed")
    ocfkit = os.path.join(os.path.dirname(sys.executable), "ocfkit")
    p = subprocess.Popen([ocfkit, "demo", "--steady", "5", "--provider", provider], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    seen = ""
    deadline = time.monotonic() + 60
    while "steady on node1" not in seen and time.monotonic() < deadline:
        seen += p.stdout.readline()
    assert "steady on node1" in seen
    pid = p.pid
    ns_during = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"ocfkd{pid % 100000}-node1" in ns_during
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 130, out
    assert "everything the demo created was removed" in out
    ns_after = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"ocfkd{pid % 100000}" not in ns_after
    assert "ocfkit-demo" not in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    assert subprocess.run(["pgrep", "-f", "demo_client.py"], capture_output=True).returncode == 1
    assert subprocess.run(["pgrep", "-f", f"ocfkd{pid % 100000}"], capture_output=True).returncode == 1
