"""Scripted fakes of the command seam and of the kernel state, for unit tests of agents and tools.

FakeRunner plays back expected commands in order; an unexpected, out-of-order or leftover command
is a failure that assert_done() reports (an agent's main() would otherwise turn it into rc 1). It
judges exit statuses with the same ocf.exec.check as the real seam. FakeKernel does the same for
the calls of ocf.kernel.Kernel: file reads under /proc, /sys and configfs, netlink dumps, interface
names, background spawns and signals.
"""

from __future__ import annotations

from ocf.errors import CommandTimeout, NotInstalledError
from ocf.exec import Result, check


class Call:
    """One expected command and what it answers."""

    def __init__(self, argv, stdout: str = "", stderr: str = "", rc: int = 0, *, input: str | None = None,  # noqa: A002
                 missing: bool = False, timeout: bool = False, effect=None) -> None:
        self.argv = [str(a) for a in argv]
        self.effect = effect  # called after the command succeeded: the state change it made
        self.stdout, self.stderr, self.rc = stdout, stderr, rc
        self.input = input
        self.missing = missing
        self.timeout = timeout


class ScriptError(AssertionError):
    """The code under test ran a command the script did not expect."""


class _Script:
    """What both fakes share: the first failure is kept, so that assert_done() reports it even when
    the code under test turned the ScriptError into an exit code."""

    queue: list
    failure: str | None = None

    def _fail(self, msg: str) -> None:
        if self.failure is None:
            self.failure = msg
        raise ScriptError(msg)

    def _left(self) -> str:
        raise NotImplementedError

    def assert_done(self) -> None:
        """Fail if a call went wrong or an expected one never came."""
        if self.failure:
            raise AssertionError(self.failure)
        if self.queue:
            raise AssertionError(self._left())


class FakeRunner(_Script):
    """A Runner (ocf.exec), as Agent.run is: answers from a queue of Calls."""

    def __init__(self, calls=()) -> None:
        self.queue: list[Call] = list(calls)
        self.seen: list[list[str]] = []

    def expect(self, argv, stdout: str = "", stderr: str = "", rc: int = 0, **kw) -> FakeRunner:
        """Append an expected command; returns self for chaining."""
        self.queue.append(Call(argv, stdout, stderr, rc, **kw))
        return self

    def __call__(self, argv, *, ok=(0,), timeout: float | None = None,
                 input: str | None = None) -> Result:  # noqa: A002
        argv = [str(a) for a in argv]
        n = len(self.seen) + 1
        self.seen.append(argv)
        if timeout is not None and timeout <= 0:
            self._fail(f"command #{n} {argv} was given no time (timeout={timeout})")
        if not self.queue:
            self._fail(f"command #{n} was not expected: {argv}")
        call = self.queue.pop(0)
        if call.argv != argv:
            self._fail(f"command #{n}: expected {call.argv} but was {argv}")
        if call.input is not None and call.input != input:
            self._fail(f"command #{n} {argv}: expected input {call.input!r} but was {input!r}")
        if call.missing:
            raise NotInstalledError(f"{argv[0]}: command not found")
        if call.timeout:
            raise CommandTimeout(argv, timeout or 0.0)
        result = check(Result(argv, call.rc, call.stdout, call.stderr), ok)
        if call.effect is not None:
            call.effect()  # only a command that succeeded changes anything
        return result

    def _left(self) -> str:
        return f"expected commands never ran: {[c.argv for c in self.queue]}"


class KernelCall:
    """One expected call of a Kernel method (read, read_text, listdir, exists, netlink,
    interface_name, spawn, reap, kill) with its arguments, and its answer or the OSError it raises."""

    def __init__(self, method: str, *args, answer=None, error: OSError | None = None) -> None:
        self.method, self.args, self.answer, self.error = method, args, answer, error

    def __repr__(self) -> str:
        return f"{self.method}{self.args!r}"


class FakeKernel(_Script):
    """A Kernel (ocf.kernel), as Agent.kernel is: answers from a queue of KernelCalls, in order."""

    def __init__(self, calls=()) -> None:
        self.queue: list[KernelCall] = list(calls)
        self.seen: list[KernelCall] = []

    def expect(self, method: str, *args, answer=None, error: OSError | None = None) -> FakeKernel:
        """Append an expected call; returns self for chaining."""
        self.queue.append(KernelCall(method, *args, answer=answer, error=error))
        return self

    def _answer(self, method: str, *args):
        call = KernelCall(method, *args)
        n = len(self.seen) + 1
        self.seen.append(call)
        if not self.queue:
            self._fail(f"kernel call #{n} was not expected: {call!r}")
        want = self.queue.pop(0)
        if (want.method, want.args) != (method, args):
            self._fail(f"kernel call #{n}: expected {want!r} but was {call!r}")
        if want.error is not None:
            raise want.error
        return want.answer

    def read(self, path: str) -> bytes:
        answer = self._answer("read", path)
        return answer.encode() if isinstance(answer, str) else answer

    def read_text(self, path: str) -> str:
        answer = self._answer("read_text", path)
        return answer.decode() if isinstance(answer, bytes) else answer

    def listdir(self, path: str) -> list[str]:
        return list(self._answer("listdir", path))

    def exists(self, path: str) -> bool:
        return bool(self._answer("exists", path))

    def netlink(self, protocol: int, mtype: int, body: bytes, *, timeout: float = 5) -> bytes:
        return self._answer("netlink", protocol, mtype, body)

    def interface_name(self, index: int) -> str:
        return self._answer("interface_name", index)

    def spawn(self, argv) -> int:
        return self._answer("spawn", [str(a) for a in argv])

    def reap(self, pid: int, *, wait: bool = False):
        return self._answer("reap", pid, *(("wait",) if wait else ()))

    def kill(self, pid: int, sig: int) -> None:
        self._answer("kill", pid, sig)

    def _left(self) -> str:
        return f"expected kernel calls never came: {self.queue!r}"
