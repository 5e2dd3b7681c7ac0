"""Fault injection with the real tools: the installed agent runs as Pacemaker runs it, with a stub
bind-mounted over the real tool inside a private mount namespace (the seam's PATH is fixed, so a
PATH entry could not stand in for it): the tool hangs, prints garbage, is killed, or is missing.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.system.support import OCF_ROOT, PROVIDER, agent_path, ocf_env

pytestmark = pytest.mark.system

IQN = "iqn.2015-12.cl.caschile:lun.campaign"
STUBS = {
    "hang": "#!/bin/sh\necho $$ > \"$STUB_PIDFILE\"\nexec sleep 60\n",
    "garbage": "#!/bin/sh\nprintf 'Target x: \\001\\377\\n    LUN information:\\n        LUN: z\\n{[\\n'\nexit 0\n",
    "killed": "#!/bin/sh\nkill -9 $$\n",
    "status": "#!/bin/sh\necho 'tgtadm: unexpected failure' >&2\nexit 3\n",
}


def _run(tmp_path, fault: str, action: str, *, interval_ms: int | None, timeout_ms: int = 4000):
    stub = tmp_path / "tgtadm"
    if fault == "missing":
        stub.write_text("not a program\n")
        stub.chmod(0o644)  # not executable: the seam finds no tgtadm
    else:
        stub.write_text(STUBS[fault])
        stub.chmod(0o755)
    env = ocf_env("campaign-tgt", {"implementation": "tgt", "iqn": IQN, "tid": "7"}, rsctmp=str(tmp_path),
                  timeout_ms=timeout_ms, interval_ms=interval_ms,
                  extra={"STUB_PIDFILE": str(tmp_path / "stub.pid"), "OCF_ROOT": OCF_ROOT})
    script = 'mount --bind "$1" /usr/sbin/tgtadm && shift && exec "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(stub),
            agent_path("iSCSITarget", PROVIDER), action]
    t = time.monotonic()
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)
    return r, time.monotonic() - t


@pytest.fixture(autouse=True)
def _installed():
    if not os.path.exists(agent_path("iSCSITarget", PROVIDER)):
        pytest.skip(f"agents not installed for provider {PROVIDER}")


@pytest.mark.parametrize("fault", ["hang", "killed", "status", "missing", "garbage"])
@pytest.mark.parametrize(("action", "interval_ms"), [("monitor", 0), ("monitor", 10000), ("stop", None),
                                                      ("start", None)])
def test_a_misbehaving_tgtadm_gives_an_ocf_verdict_in_time(tmp_path, fault, action, interval_ms):
    r, took = _run(tmp_path, fault, action, interval_ms=interval_ms)
    # 4 s is the action's timeout; the rest is interpreter start-up and unshare on a loaded machine.
    assert took < 4 + 4, f"{action} took {took:.1f}s with a 4 s timeout"
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), r
    good = r.returncode == 0 or (action == "monitor" and r.returncode == 7)
    if not good:
        assert "ocf-exit-reason:" in r.stderr, r.stderr
    if action == "monitor" and interval_ms == 0:
        assert r.returncode not in (2, 3, 4, 5, 6), r
    if action == "monitor" and interval_ms:
        assert r.returncode != 6
    if fault == "hang":
        pid_file = tmp_path / "stub.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            time.sleep(0.2)
            try:
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().split()[2]
            except OSError:
                state = "gone"
            assert state in ("gone", "Z"), f"the hung tgtadm (pid {pid}) outlived the action"
    if fault == "garbage" and action == "start":
        assert r.returncode != 0, "start reported success on tgtadm output it cannot have understood"


def test_with_tgtd_not_running_the_probe_says_7_and_the_stop_0(tmp_path):
    """Issue 20 #5 with the real tgtadm: no daemon on the socket means no target can exist."""
    results = {}
    for action, interval in (("monitor", 0), ("stop", None)):
        env = ocf_env("campaign-tgt", {"implementation": "tgt", "iqn": IQN, "tid": "7"}, rsctmp=str(tmp_path),
                      timeout_ms=4000, interval_ms=interval, extra={"TGT_IPC_SOCKET": str(tmp_path / "no-tgtd")})
        r = subprocess.run([agent_path("iSCSITarget", PROVIDER), action], env=env, capture_output=True, text=True,
                           timeout=30, check=False)
        results[action] = (r.returncode, r.stderr.strip()[-200:])
    assert results["monitor"][0] == 7 and results["stop"][0] == 0, results
