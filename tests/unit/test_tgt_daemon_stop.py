"""iscsitarget (tgt) stop: tgtd's log daemon is ended first, so that tgtd exits without waiting for its
once-a-second tick; nothing else is signalled, and stop still succeeds only once tgtd is gone. The
shutdown's tgtadm runs in the background and is ended once tgtd is gone (it would poll tgtd's socket
for 0.1 s more); its failure still fails the stop."""

from __future__ import annotations

import os

from agents.iscsi.daemon import iscsitarget
from ocf.testing import FakeKernel, FakeRunner

BASE = ["tgtadm", "--lld", "iscsi"]
SYSTEM = [*BASE, "--op", "show", "--mode", "system"]
TARGETS = [*BASE, "--op", "show", "--mode", "target"]
SHUTDOWN = [*BASE, "--op", "delete", "--mode", "system"]


class Proc:
    """A fake /proc: pid -> (name, parent)."""

    def __init__(self, tmp_path) -> None:
        self.root = tmp_path / "proc"
        self.root.mkdir()

    def add(self, pid: int, comm: str, ppid: int) -> None:
        d = self.root / str(pid)
        d.mkdir()
        (d / "comm").write_text(comm + "\n")
        (d / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194624\n")

    def remove(self, pid: int) -> None:
        for f in ("comm", "stat"):
            (self.root / str(pid) / f).unlink()
        (self.root / str(pid)).rmdir()


def env_for(tmp_path, proc: Proc) -> dict[str, str]:
    rsctmp = tmp_path / "rsctmp"
    rsctmp.mkdir()
    (rsctmp / "iscsitarget-tgtd.pid").write_text("5151\n")
    return {"OCF_RESOURCE_INSTANCE": "tgtd", "HA_RSCTMP": str(rsctmp), "OCFKIT_PROC_ROOT": str(proc.root),
            "OCF_RESKEY_CRM_meta_timeout": "5000"}


def test_stop_ends_the_log_daemon_of_its_tgtd_before_the_shutdown_and_nothing_else(tmp_path, monkeypatch):
    proc = Proc(tmp_path)
    proc.add(5151, "tgtd", 1)
    proc.add(5152, "tgtd", 5151)  # tgtd's log daemon
    proc.add(5153, "sh", 5151)  # not tgtd's log daemon: left alone
    proc.add(5154, "tgtd", 1)  # another tgtd (another instance's): left alone
    proc.add(5155, "tgtd", 5154)  # its log daemon: left alone
    killed: list[tuple[int, int]] = []

    def kill(pid: int, sig: int) -> None:
        killed.append((pid, sig))
        proc.remove(pid)

    monkeypatch.setattr(os, "kill", kill)
    shutdown_after_log_daemon = []

    class Kernel(FakeKernel):
        def spawn(self, argv):
            shutdown_after_log_daemon.append(list(killed))
            return super().spawn(argv)

        def reap(self, pid, *, wait=False):
            rc = super().reap(pid, wait=wait)
            if not wait:
                proc.remove(5151)  # tgtd exits while tgtadm still polls its socket
            return rc

    import signal

    kernel = Kernel().expect("spawn", SHUTDOWN, answer=777).expect("reap", 777, answer=None)
    kernel.expect("kill", 777, signal.SIGKILL).expect("reap", 777, "wait", answer=-9)
    r = (FakeRunner().expect(SYSTEM).expect(TARGETS, stdout="Target 1: iqn.2024-01.org.example:filer\n")
         .expect([*BASE, "--op", "delete", "--force", "--mode", "target", "--tid", "1"]))
    rc = iscsitarget.main(["iscsitarget", "stop"], env_for(tmp_path, proc), r, kernel)
    r.assert_done()
    kernel.assert_done()
    assert rc == 0
    assert shutdown_after_log_daemon == [[(5152, signal.SIGKILL)]]
    assert killed == [(5152, signal.SIGKILL)]  # tgtadm is ended through the kernel, tgtd is not signalled
    assert not (tmp_path / "rsctmp/iscsitarget-tgtd.pid").exists()


def test_stop_without_a_log_daemon_shuts_tgtd_down_as_before(tmp_path, monkeypatch):
    proc = Proc(tmp_path)
    proc.add(5151, "tgtd", 1)
    monkeypatch.setattr(os, "kill", lambda pid, sig: (_ for _ in ()).throw(AssertionError(f"kill {pid}")))
    r = FakeRunner().expect(SYSTEM).expect(TARGETS)

    class Kernel(FakeKernel):
        def reap(self, pid, *, wait=False):
            proc.remove(5151)  # tgtd exits; tgtadm notices its socket gone and exits too
            return super().reap(pid, wait=wait)

    kernel = Kernel().expect("spawn", SHUTDOWN, answer=777).expect("reap", 777, answer=0)
    assert iscsitarget.main(["iscsitarget", "stop"], env_for(tmp_path, proc), r, kernel) == 0
    r.assert_done()
    kernel.assert_done()


def test_a_failing_shutdown_request_fails_the_stop_and_leaves_the_pid_file(tmp_path, monkeypatch, capsys):
    proc = Proc(tmp_path)
    proc.add(5151, "tgtd", 1)
    monkeypatch.setattr(os, "kill", lambda pid, sig: (_ for _ in ()).throw(AssertionError(f"kill {pid}")))
    r = FakeRunner().expect(SYSTEM).expect(TARGETS)
    kernel = FakeKernel().expect("spawn", SHUTDOWN, answer=777).expect("reap", 777, answer=None)
    kernel.expect("reap", 777, answer=107)
    assert iscsitarget.main(["iscsitarget", "stop"], env_for(tmp_path, proc), r, kernel) == 1
    r.assert_done()
    kernel.assert_done()
    assert "ocf-exit-reason:tgtadm --lld iscsi --op delete --mode system failed (exit 107)" in capsys.readouterr().err
    assert (tmp_path / "rsctmp/iscsitarget-tgtd.pid").exists()



def test_stop_fails_while_a_killed_tgtd_is_still_there_and_keeps_its_pid_file(tmp_path, monkeypatch, capsys):
    """SIGKILL is not an exit (a tgtd in uninterruptible sleep on a hung disk stays): no success then."""
    import signal

    proc = Proc(tmp_path)
    proc.add(5151, "tgtd", 1)
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))  # it does not die
    env = {**env_for(tmp_path, proc), "OCF_RESKEY_CRM_meta_timeout": "1500"}
    r = FakeRunner().expect(SYSTEM, rc=1)  # hangs: does not answer
    assert iscsitarget.main(["iscsitarget", "stop"], env, r) == 1
    r.assert_done()
    assert killed and set(killed) == {(5151, signal.SIGKILL)}
    assert (tmp_path / "rsctmp/iscsitarget-tgtd.pid").exists()
    assert "ocf-exit-reason:tgtd[5151] still runs after SIGKILL" in capsys.readouterr().err
