"""ocf:ocfkit:iscsitarget: the iSCSI target daemon (tgtd or ietd), the seed's heartbeat resource.

Not to be confused with iSCSITarget (agents/iscsi/target.py), which exports one target from a
running implementation.
"""

from __future__ import annotations

import time

from agents.iscsi.backend import iet_loaded
from agents.iscsi.config import check_portal
from agents.tools import ietadm, system_path, tgt_admin, tgtadm
from ocf import system
from ocf.agent import Agent, action
from ocf.errors import NotInstalledError, OcfError, Rc
from ocf.params import Param, choice, path, string
from ocf.proc import comm, is_alive, parent, pids
from ocf.state import StateFile


class iscsitarget(Agent):  # noqa: N801 - the class name is the OCF type (the seed's heartbeat resource)
    """Runs the iSCSI target daemon itself, as the seed's heartbeat `iscsitarget` resource does. tgt:
    start launches tgtd (its own pid file under HA_RSCTMP) and loads the targets of a configuration
    file that can live on the replicated configuration filesystem (a plain file, as ocfkit generate
    writes it, with tgtadm directly; anything else with tgt-admin -e -c FILE); stop deletes every
    target with its sessions, ends tgtd's log daemon (so that tgtd need not wait for its once a second
    tick), shuts the daemon down and waits for it, killing it at the deadline. IET: start launches
    ietd -c FILE (ietd reads its targets itself) and records its pid; stop deletes every target
    (ietadm --op delete, which also ends ietd), waits, and kills it at the deadline. Monitor checks
    that the daemon lives (and, for tgt, answers)."""

    shortdesc = "iSCSI target daemon (tgtd or ietd) with its configuration file"

    implementation = Param(choice("auto", "tgt", "iet"), default="auto", shortdesc="iSCSI target implementation",
                           longdesc="tgt (tgtd) or iet (ietd; needs the IET kernel module). auto: iet when the "
                                    "configuration file is an ietd.conf or the IET module is loaded "
                                    "(/proc/net/iet), else tgt; so the seed's bare `iscsitarget` runs ietd on an "
                                    "IET host, as its init script did.")
    config = Param(path(), shortdesc="Configuration file to load",
                   longdesc="tgt: the tgt-admin configuration loaded on start (default /etc/tgt/targets.conf); "
                            "iet: the ietd.conf ietd reads (default /etc/iet/ietd.conf). Missing: the daemon "
                            "starts without configured targets.")
    portal = Param(string, shortdesc="Listening portal",
                   longdesc="ip:port for the daemon to listen on (tgtd --iscsi portal=, ietd -a/-p); default: "
                            "all addresses, 3260.")

    def check_config(self) -> None:
        """The portal reaches tgtd's --iscsi portal= and ietd's -a/-p: ip:port only."""
        if self.portal:
            check_portal(self.portal)

    @property
    def impl(self) -> str:
        """tgt or iet: the parameter, or what auto finds."""
        if self.implementation != "auto":
            return self.implementation
        if self.config and self.config.rsplit("/", 1)[-1] == "ietd.conf":
            return "iet"
        return "iet" if iet_loaded(self.env) else "tgt"

    @property
    def daemon(self) -> str:
        """The daemon's process name."""
        return "ietd" if self.impl == "iet" else "tgtd"

    @property
    def config_file(self) -> str:
        """The configuration file, or the implementation's default."""
        return self.config or ("/etc/iet/ietd.conf" if self.impl == "iet" else "/etc/tgt/targets.conf")

    def _pidfile(self) -> str:
        return f"{self.rsctmp}/iscsitarget-{self.instance.replace('/', '_')}.pid"

    def _alive(self, pid: int) -> bool:
        """Whether pid is a live (not zombie) process of our daemon."""
        proc = system_path(self.env, "proc")
        return comm(pid, proc) == self.daemon and is_alive(pid, proc)

    def _pid(self) -> int | None:
        """The daemon's pid when it is alive (and is our daemon)."""
        try:
            with open(self._pidfile(), encoding="ascii") as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def _find_ietd(self) -> int | None:
        """The running ietd (there can be only one: it owns the IET control device)."""
        return next((pid for pid in pids(system_path(self.env, "proc")) if self._alive(pid)), None)

    def _answers(self) -> bool:
        r = self.run(["tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "system"], ok=tuple(range(256)),
                     timeout=5)
        return r.returncode == 0

    @action(timeout=30)
    def start(self) -> int:
        """Start the daemon (if needed) with its configuration."""
        if self.impl == "iet":
            return self._start_iet()
        if self._pid() is None:
            system.makedirs(self.rsctmp, exist_ok=True)
            argv = ["tgtd", "-p", self._pidfile()]
            if self.portal:
                argv += ["--iscsi", f"portal={self.portal}"]
            self.run(argv)  # tgtd daemonises itself (its own session: not killed with the agent)
            # tgtd answers a few ms after it daemonised: poll often (0.1 s cost every start 0.1 s).
            self.wait_for("tgtd to answer", lambda: self._pid() is not None and self._answers(), interval=0.01)
        if system.path.exists(self.config_file):
            tgt_admin.load(self.run, self.config_file, system_path(self.env, "proc"))
        else:
            self.log.warning(f"{self.config_file} does not exist: tgtd runs without configured targets")
        return Rc.SUCCESS

    def _start_iet(self) -> int:
        if self._pid() is not None:
            return Rc.SUCCESS
        pid = self._find_ietd()
        if pid is None:
            if not iet_loaded(self.env):
                raise NotInstalledError("the IET kernel module is not loaded (no /proc/net/iet)")
            argv = ["ietd"]
            if system.path.exists(self.config_file):
                argv += ["-c", self.config_file]
            else:
                self.log.warning(f"{self.config_file} does not exist: ietd runs without configured targets")
            if self.portal:
                host, _, port = self.portal.rpartition(":")
                argv += ["-a", host.strip("[]"), "-p", port]
            self.run(argv)  # ietd daemonises itself and writes no pid file: find it by name below
            pid = self.wait_for("ietd to run", self._find_ietd, interval=0.1)
        else:
            self.log.info(f"ietd[{pid}] runs already: adopting it")
        StateFile(self._pidfile()).write(f"{pid}\n")
        return Rc.SUCCESS

    @staticmethod
    def _signal(pid: int, sig: int) -> None:
        try:
            system.kill(pid, sig)
        except ProcessLookupError:
            pass  # it has just exited

    def _end_log_daemon(self, pid: int) -> None:
        """End tgtd's log daemon (its child process, also named tgtd) before tgtd shuts down.

        The log daemon copies tgtd's log buffer to syslog once a second, and tgtd's exit waits for it
        to notice the shutdown (tgt's usr/log.c, log_close: waitpid on it): `--op delete --mode system`
        then took 0.1 to 0.9 s. Without it tgtd exits at once, still removing its IPC objects itself
        (a SIGKILL of tgtd would leave its semaphore behind). Only the messages of the last second that
        were not yet copied to syslog are lost; the log daemon holds no target, LUN or session."""
        proc = system_path(self.env, "proc")
        for child in pids(proc):
            if parent(child, proc) == pid and comm(child, proc) == "tgtd":
                self._signal(child, system.SIGKILL)

    def _shut_down(self, pid: int) -> None:
        """Ask tgtd to shut down (`tgtadm --op delete --mode system`) and return once it has exited, or
        once tgtadm has ended (the caller then waits for tgtd's exit, SIGKILL at the deadline).

        tgtadm is not waited for: after tgtd's answer it polls tgtd's control socket until nothing
        listens, sleeping 0.1 s between tries (tgt's usr/tgtadm.c; traced: tgtd answers and has exited
        within 2 ms, tgtadm returns 0.1 s later). It runs in the background while tgtd's process is
        watched every 5 ms; once tgtd is gone tgtadm has nothing left to do but notice, and is ended.
        An exit status other than 0 or 22 (tgtd not there) fails the stop, as before."""
        argv = ["tgtadm", "--lld", "iscsi", "--op", "delete", "--mode", "system"]
        helper = self.kernel.spawn(argv)
        rc = None
        try:
            while self._alive(pid) and self.deadline.remaining() > 1:
                if rc is None:
                    rc = self.kernel.reap(helper)
                    if rc is not None and rc not in (0, 22):
                        raise OcfError(f"{' '.join(argv)} failed (exit {rc})")
                time.sleep(0.005)
        finally:
            if rc is None:
                try:
                    self.kernel.kill(helper, system.SIGKILL)
                except ProcessLookupError:
                    pass
                self.kernel.reap(helper, wait=True)

    @action(timeout=30)
    def stop(self) -> int:
        """Delete the targets with their sessions, shut the daemon down, wait for it (SIGKILL at the deadline)."""
        pid = self._pid()
        if pid is not None:
            try:
                if self.impl == "iet":
                    ietadm.delete_all(self.run)
                elif self._answers():
                    for tid in tgtadm.targets(self.run):
                        tgtadm.delete_target(self.run, tid)
                    self._end_log_daemon(pid)
                    self._shut_down(pid)
                else:
                    self.log.warning(f"tgtd[{pid}] does not answer: killing it")
                    self._signal(pid, system.SIGKILL)
            except NotInstalledError as e:
                # No management tool: end the daemon by a signal; its targets end with it. tgtd blocks
                # SIGTERM and SIGINT (it reads them from a signalfd and carries on: measured), so only
                # SIGKILL ends it; ietd gets SIGTERM first.
                sig = system.SIGKILL if self.impl == "tgt" else system.SIGTERM
                self.log.warning(f"{e.reason}: ending {self.daemon}[{pid}] with {sig.name}")
                self._signal(pid, sig)
            while self._pid() is not None and self.deadline.remaining() > 1:
                time.sleep(0.01)
            if self._pid() is not None:
                self.log.warning(f"{self.daemon}[{pid}] did not exit: killing it")
                self._signal(pid, system.SIGKILL)
                # SIGKILL is not an exit: a process in uninterruptible sleep (a hung backing device)
                # keeps its targets until it wakes. Success only once it is gone; the pid file stays
                # for the next stop (or the fencing that follows a failed one).
                while self._pid() is not None and self.deadline.remaining() > 0.1:
                    time.sleep(0.05)
                if self._pid() is not None:
                    raise OcfError(f"{self.daemon}[{pid}] still runs after SIGKILL (uninterruptible sleep?)")
        try:
            system.unlink(self._pidfile())
        except FileNotFoundError:
            pass
        return Rc.SUCCESS

    @action(timeout=20, interval=10, depth=0)
    def monitor(self) -> int:
        """0 while the daemon lives (tgtd: and answers); 7 when cleanly stopped; 1 when it died or hangs."""
        pid = self._pid()
        if pid is None:
            if system.path.exists(self._pidfile()) and not self.is_probe:
                raise OcfError(f"{self.daemon} died (its pid file remains)")
            return Rc.NOT_RUNNING
        if self.impl == "tgt" and not self._answers():
            raise OcfError(f"tgtd[{pid}] does not answer on its management socket")
        return Rc.SUCCESS


if __name__ == "__main__":
    raise SystemExit(iscsitarget.main())
