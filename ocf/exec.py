"""The one seam that starts processes: argument lists, no shell, a fixed environment, a timeout.

Spawning uses posix_spawn and pipes rather than subprocess: subprocess costs ~18 ms of imports
(re, enum, signal, threading, selectors) on every agent start, a spawn with pipes ~3 ms. The
functions come from the built-in posix module: os would add ~1 ms of imports to every agent that
runs a command (signal, which loads enum, only when a child must be killed).
"""

from __future__ import annotations

import posix
import time

from ocf import environ
from ocf.errors import CommandError, CommandTimeout, NotInstalledError
from ocf.state import is_dir

# Children see a fixed environment so output parses the same everywhere and OCF_RESKEY_*
# values (CHAP passwords...) never leak into them. These variables are passed through because
# the tools use them to select an isolated instance (a tgtd socket, a file-backed CIB, LVM
# configuration), never secrets.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASS_ENV = (
    "TGT_IPC_SOCKET",
    "LVM_SYSTEM_DIR",
    "CIB_file",
    "CIB_shadow",
    "OCF_ROOT",
    "OCF_RESOURCE_INSTANCE",
    "HA_RSCTMP",
    "TMPDIR",
)


class Result:
    """What a finished command left behind."""

    __slots__ = ("argv", "returncode", "stdout", "stderr")

    def __init__(self, argv: list[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"Result({self.argv!r}, {self.returncode}, {self.stdout!r}, {self.stderr!r})"


def which(name: str) -> str | None:
    """Return the path of an executable on the children's fixed PATH, or None."""
    if "/" in name:
        return name if posix.access(name, posix.X_OK) else None
    for d in PATH.split(":"):
        p = d + "/" + name
        if posix.access(p, posix.X_OK) and not is_dir(p):
            return p
    return None


def child_env() -> dict[str, str]:
    """The environment every child gets: C locale, a known PATH, the pass-through variables."""
    env = {"LC_ALL": "C", "LANG": "C", "PATH": PATH}
    current = environ()
    for k in PASS_ENV:
        v = current.get(k)
        if v is not None:
            env[k] = v
    return env


def check(result: Result, ok: tuple[int, ...] | frozenset[int] | list[int]) -> Result:
    """Raise CommandError unless the result's status is one of ok (shared with the fake runner)."""
    if result.returncode not in ok:
        raise CommandError(result.argv, result.returncode, result.stderr)
    return result


# The one signature every runner has: Agent.run (timeout None: the action's deadline, which also
# bounds a given timeout), ocf.testing.FakeRunner, and the `run` every agents/tools function takes.
# run() below is the seam under Agent.run, for callers that hold no deadline: its timeout is required.
TYPE_CHECKING = False  # typing costs ~4 ms per agent start; mypy treats the name as true
if TYPE_CHECKING:
    from collections.abc import Container, Sequence
    from typing import Protocol

    class Runner(Protocol):
        """Run argv without a shell; raise CommandError unless its status is in ok."""

        def __call__(self, argv: Sequence[str], *, ok: Container[int] = (0,), timeout: float | None = None,
                     input: str | None = None) -> Result: ...  # noqa: A002


def run(argv, *, ok=(0,), timeout: float, input: str | None = None) -> Result:  # noqa: A002
    """Run argv without a shell; raise CommandError unless its status is in ok."""
    argv = [str(a) for a in argv]
    returncode, out, err = _spawn(argv, timeout, input)
    return check(Result(argv, returncode, out, err), ok)


def spawn(argv, *, log_path: str | None = None) -> int:
    """Start argv in the background (same process group) and return its pid; nothing is waited for."""
    argv = [str(a) for a in argv]
    path = _resolve(argv)
    fd = posix.open(log_path or "/dev/null", posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND, 0o600)
    null = posix.open("/dev/null", posix.O_RDONLY)
    try:
        actions = [(posix.POSIX_SPAWN_DUP2, null, 0), (posix.POSIX_SPAWN_DUP2, fd, 1), (posix.POSIX_SPAWN_DUP2, fd, 2)]
        return posix.posix_spawn(path, argv, child_env(), file_actions=actions)
    finally:
        posix.close(fd)
        posix.close(null)


def _resolve(argv: list[str]) -> str:
    if not argv:
        raise ValueError("empty command")
    path = which(argv[0])
    if path is None:
        raise NotInstalledError(f"{argv[0]}: command not found")
    return path


def _spawn(argv: list[str], timeout: float, input: str | None) -> tuple[int, str, str]:  # noqa: A002
    import select

    path = _resolve(argv)
    if timeout <= 0:
        raise CommandTimeout(argv, 0.0)
    out_r, out_w = posix.pipe()
    err_r, err_w = posix.pipe()
    if input is not None:
        in_r, in_w = posix.pipe()
    else:
        in_r, in_w = posix.open("/dev/null", posix.O_RDONLY), -1
    try:
        pid = posix.posix_spawn(
            path, argv, child_env(),
            file_actions=[(posix.POSIX_SPAWN_DUP2, in_r, 0), (posix.POSIX_SPAWN_DUP2, out_w, 1),
                          (posix.POSIX_SPAWN_DUP2, err_w, 2)],
        )
    except OSError:
        for fd in (out_r, out_w, err_r, err_w, in_r, in_w):
            if fd >= 0:
                posix.close(fd)
        raise
    posix.close(out_w)
    posix.close(err_w)
    posix.close(in_r)
    deadline = time.monotonic() + timeout
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    pending = input.encode() if input is not None else b""
    try:
        pidfd = posix.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1
    poller = select.poll()
    poller.register(out_r, select.POLLIN)
    poller.register(err_r, select.POLLIN)
    if in_w >= 0:
        if pending:
            posix.set_blocking(in_w, False)
            poller.register(in_w, select.POLLOUT)
        else:
            posix.close(in_w)
            in_w = -1
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    open_fds = {out_r, err_r}
    status = None
    # With a pidfd the loop also waits for the child's exit: its pipes close a moment before it can
    # be reaped, and polling waitpid after that costs a sleep (5 ms, a third of a monitor).
    waiting_exit = pidfd >= 0
    try:
        while open_fds or in_w >= 0 or waiting_exit:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # Without a pidfd, wake up now and then to notice a child whose pipes a daemonised
            # grandchild keeps open.
            wait_ms = int(left * 1000) + 1 if pidfd >= 0 else min(int(left * 1000) + 1, 50)
            for fd, _ev in poller.poll(wait_ms):
                if fd == in_w:
                    try:
                        n = posix.write(in_w, pending[:65536])
                    except BrokenPipeError:
                        n = len(pending)
                    pending = pending[n:]
                    if not pending:
                        poller.unregister(in_w)
                        posix.close(in_w)
                        in_w = -1
                elif fd == pidfd:
                    # The child is gone: take what is buffered, and do not wait for a grandchild
                    # (a daemon it started) that inherited the pipes.
                    for rfd in list(open_fds):
                        _drain(rfd, chunks[rfd])
                    open_fds.clear()
                    if in_w >= 0:
                        poller.unregister(in_w)
                        posix.close(in_w)
                        in_w = -1
                    poller.unregister(pidfd)
                    waiting_exit = False
                elif fd in open_fds:
                    data = posix.read(fd, 65536)
                    if data:
                        chunks[fd].append(data)
                    else:
                        poller.unregister(fd)
                        open_fds.discard(fd)
            if pidfd < 0 and status is None:
                p, st = posix.waitpid(pid, posix.WNOHANG)
                if p:
                    status = st
                    for rfd in list(open_fds):
                        _drain(rfd, chunks[rfd])
                    open_fds.clear()
        if status is None:
            status = _reap(pid, deadline)
        if status is None:
                raise CommandTimeout(argv, timeout)
    finally:
        for fd in (out_r, err_r, in_w, pidfd):
            if fd >= 0:
                try:
                    posix.close(fd)
                except OSError:
                    pass
    out = b"".join(chunks[out_r]).decode("utf-8", "replace")
    err = b"".join(chunks[err_r]).decode("utf-8", "replace")
    return posix.waitstatus_to_exitcode(status), out, err


def _drain(fd: int, into: list[bytes]) -> None:
    posix.set_blocking(fd, False)
    while True:
        try:
            data = posix.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            return
        into.append(data)


def _reap(pid: int, deadline: float) -> int | None:
    """Wait for pid until the deadline; kill it when the deadline has passed."""
    pause = 0.0002
    while True:
        p, st = posix.waitpid(pid, posix.WNOHANG)
        if p:
            return st
        if time.monotonic() >= deadline:
            try:
                posix.kill(pid, 9)  # SIGKILL (the signal module loads enum: ~3.5 ms)
            except ProcessLookupError:
                pass
            posix.waitpid(pid, 0)
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.005)
