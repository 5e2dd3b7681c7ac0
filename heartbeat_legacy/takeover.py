"""heartbeat v1 group takeover and release (ResourceManager semantics), over any way to run an agent.

heartbeat's ResourceManager starts a haresources group left to right, skipping resources whose
status says they already run; a failed start releases the whole group (what started is stopped
again, right to left) and the takeover fails; release stops right to left and retries a stop that
fails before giving up. Here a resource is started, stopped and checked through `call(resource,
action) -> rc` with OCF return codes, so the same logic drives OCF agents, resource.d wrappers or
agents inside network namespaces.
"""

from __future__ import annotations

import time


class Resource:
    """One member of a group: an agent and its parameters."""

    def __init__(self, agent: str, params: dict[str, str] | None = None, *, instance: str = "") -> None:
        self.agent = agent
        self.params = dict(params or {})
        self.instance = instance or f"{agent}_{'_'.join(self.params.values())}".replace("/", "_")[:60]

    def __repr__(self) -> str:
        return f"{self.agent}({', '.join(f'{k}={v}' for k, v in self.params.items())})"


class Event:
    """What happened to one resource during a takeover or release."""

    __slots__ = ("resource", "action", "rc", "seconds")

    def __init__(self, resource: Resource, action: str, rc: int, seconds: float) -> None:
        self.resource, self.action, self.rc, self.seconds = resource, action, rc, seconds

    def __repr__(self) -> str:
        return f"{self.action} {self.resource.instance}: rc {self.rc} ({self.seconds:.2f}s)"


class TakeoverFailed(Exception):
    """A member failed to start; the group was released again."""

    def __init__(self, resource: Resource, rc: int, events: list[Event]) -> None:
        super().__init__(f"start of {resource.instance} failed (rc {rc}); group released")
        self.resource, self.rc, self.events = resource, rc, events


class ReleaseFailed(Exception):
    """A member could not be stopped (heartbeat would now reboot the node)."""

    def __init__(self, resource: Resource, rc: int, events: list[Event]) -> None:
        super().__init__(f"stop of {resource.instance} failed (rc {rc})")
        self.resource, self.rc, self.events = resource, rc, events


def _timed(call, resource: Resource, action: str, events: list[Event]) -> int:
    t = time.monotonic()
    rc = call(resource, action)
    events.append(Event(resource, action, rc, time.monotonic() - t))
    return rc


def takeover(group: list[Resource], call) -> list[Event]:
    """Start the group left to right, skipping members that run; release it if a start fails."""
    events: list[Event] = []
    started: list[Resource] = []
    for res in group:
        if _timed(call, res, "monitor", events) == 0:
            started.append(res)
            continue
        rc = _timed(call, res, "start", events)
        if rc != 0:
            try:
                release(started, call, events=events)
            finally:
                raise TakeoverFailed(res, rc, events)
        started.append(res)
    return events


def release(group: list[Resource], call, *, retries: int = 3, events: list[Event] | None = None) -> list[Event]:
    """Stop the group right to left; a failing stop is retried, then the release fails."""
    events = [] if events is None else events
    for res in reversed(group):
        rc = 0
        for attempt in range(retries):
            rc = _timed(call, res, "stop", events)
            if rc == 0:
                break
            time.sleep(0.2 * (attempt + 1))
        if rc != 0:
            raise ReleaseFailed(res, rc, events)
    return events


def status(group: list[Resource], call) -> dict[str, int]:
    """instance -> monitor rc of every member."""
    return {res.instance: call(res, "monitor") for res in group}
