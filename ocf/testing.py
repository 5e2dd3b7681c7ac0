"""A scripted fake of the command seam for unit tests of agents and tools.

It plays back expected commands in order; an unexpected, out-of-order or leftover command is a
failure that assert_done() reports (an agent's main() would otherwise turn it into rc 1). It judges
exit statuses with the same ocf.exec.check as the real seam.
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


class FakeRunner:
    """A Runner (ocf.exec), as Agent.run is: answers from a queue of Calls."""

    def __init__(self, calls=()) -> None:
        self.queue: list[Call] = list(calls)
        self.seen: list[list[str]] = []
        self.failure: str | None = None

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

    def _fail(self, msg: str) -> None:
        if self.failure is None:
            self.failure = msg
        raise ScriptError(msg)

    def assert_done(self) -> None:
        """Fail if a command went wrong or an expected one never ran."""
        if self.failure:
            raise AssertionError(self.failure)
        if self.queue:
            raise AssertionError(f"expected commands never ran: {[c.argv for c in self.queue]}")
