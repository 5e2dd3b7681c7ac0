"""What the cluster logged, as (wall-clock time, node, line) events: for timing a failover.

corosync (``timestamp: hires``) and Pacemaker both write ``Mon DD HH:MM:SS.mmm`` in local time; the
nodes share the host's clock, so their times compare with ``time.time()`` taken on the host.
"""

from __future__ import annotations

import os
import re
import shutil
import time

_STAMP = re.compile(r"^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) ")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}
# The result of a successful operation: "ok" in Pacemaker 2.1 (services_ocf_exitcode_str), "OK" in 3.0
# (crm_exit_str), e.g. "Result of stop operation for p_ip on node1: OK".
_OK = "(?:ok|OK)"
LOGS = ("var-log/corosync/corosync.log", "var-log/pacemaker/pacemaker.log")


def stamp(line: str, year: int | None = None) -> float | None:
    """The wall-clock time of a log line, or None when it has no timestamp."""
    m = _STAMP.match(line)
    if not m or m.group(1) not in _MONTHS:
        return None
    year = year or time.localtime().tm_year
    t = time.mktime((year, _MONTHS[m.group(1)], int(m.group(2)), int(m.group(3)), int(m.group(4)),
                     int(m.group(5)), 0, 0, -1))
    return t + int(m.group(6)) / 1000


def events(node_dir: str, since: float = 0.0, limit: int = 64 << 20) -> list[tuple[float, str]]:
    """(time, line) of the node's corosync and Pacemaker logs at or after since, in time order."""
    out: list[tuple[float, str]] = []
    for rel in LOGS:
        path = os.path.join(node_dir, rel)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read(limit)
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            t = stamp(line)
            if t is not None and t >= since:
                out.append((t, line))
    out.sort(key=lambda e: e[0])
    return out


def first(evts: list[tuple[float, str]], pattern: str, after: float = 0.0) -> float | None:
    """Time of the first event at or after `after` whose line matches the regular expression."""
    rx = re.compile(pattern)
    for t, line in evts:
        if t >= after and rx.search(line):
            return t
    return None


def failover(evts: list[tuple[float, str]], crashed: str, survivor: str, last_resource: str,
             t_crash: float) -> dict[str, float | None]:
    """The phases of a failover after a crash, from the survivor's logs (seconds; None if not logged):

    - token_lost: crash -> corosync's token timeout (knet, then totem notice the silence);
    - membership: crash -> the new membership without the crashed node (token + consensus): detection;
    - decision: membership -> the DC asks for fencing (election if the DC died, scheduler);
    - fencing: fencing asked -> fenced reports the fence agent's success;
    - resources: fence done -> the last resource's start succeeded on the survivor;
    - total: crash -> that start.
    """
    after = t_crash - 0.001
    t_token = first(evts, r"A processor failed|Token has not been received", after)
    t_members = first(evts, r"A new membership .* Members left:", after)
    t_request = first(evts, rf"Requesting fencing \(\w+\) (of node|targeting node) {re.escape(crashed)}\b", after)
    t_fenced = first(evts, rf"Operation '?\w+'? targeting {re.escape(crashed)} by \S+ .*: OK", after)
    t_start = first(evts, rf"Result of start operation for {re.escape(last_resource)} on {re.escape(survivor)}: {_OK}",
                    t_fenced or after)

    def span(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(b - a, 3)

    return {"token_lost": span(t_crash, t_token), "membership": span(t_crash, t_members),
            "decision": span(t_members, t_request), "fencing": span(t_request, t_fenced),
            "resources": span(t_fenced, t_start), "total": span(t_crash, t_start)}


def result(evts: list[tuple[float, str]], op: str, rsc: str, node: str, after: float = 0.0) -> float | None:
    """When Pacemaker logged the successful result of op (start, stop...) of rsc on node."""
    return first(evts, rf"Result of {re.escape(op)} operation for {re.escape(rsc)} on {re.escape(node)}: {_OK}", after)


def switchover(evts: list[tuple[float, str]], members: list[str], source: str, target: str,
               t_command: float) -> dict[str, float | None]:
    """The phases of a planned move of a group (members in start order) from source to target, from
    both nodes' logs merged (seconds; None if not logged):

    - scheduling: the command -> the first stop asked on the source (the last member's, or any member's
      when groups stop side by side);
    - stop: that -> the last member stop logged on the source;
    - start: that -> the last member started on the target;
    - total: the command -> the last member started.
    """
    after = t_command - 0.001
    names = "|".join(re.escape(m) for m in members)
    t_stop_asked = first(evts, rf"Requesting local execution of stop operation for (?:{names}) "
                               rf"on {re.escape(source)}\b", after)
    stopped = [t for t in (result(evts, "stop", m, source, after) for m in members) if t is not None]
    t_stopped = max(stopped) if stopped else None
    t_started = result(evts, "start", members[-1], target, t_stopped or after)

    def span(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(b - a, 3)

    return {"scheduling": span(t_command, t_stop_asked), "stop": span(t_stop_asked, t_stopped),
            "start": span(t_stopped, t_started), "total": span(t_command, t_started)}


def operations(evts: list[tuple[float, str]], op: str, node: str, after: float = 0.0,
               before: float | None = None) -> dict[str, float]:
    """Seconds each resource's op (start, stop) took on node, from the controller's request to its
    result (the agent's run, as the executor saw it), for requests at or after `after` (and before
    `before`); the first of each resource counts."""
    return durations(operation_intervals(evts, op, node, after, before))


def operation_intervals(evts: list[tuple[float, str]], op: str, node: str, after: float = 0.0,
                        before: float | None = None) -> dict[str, tuple[float, float]]:
    """(request, result) times of each resource's op on node (see operations)."""
    ask = re.compile(rf"Requesting local execution of {re.escape(op)} operation for (\S+) on {re.escape(node)}\b")
    done = re.compile(rf"Result of {re.escape(op)} operation for (\S+) on {re.escape(node)}: {_OK}")
    return _intervals(evts, ask, done, after, before)


def metadata(evts: list[tuple[float, str]], node: str, after: float = 0.0,
             before: float | None = None) -> dict[str, float]:
    """Seconds the controller on node spent getting each resource's agent meta-data before a start, from
    "Retrieving metadata for R" to the start's "Requesting local execution" (Pacemaker runs the agent's
    meta-data action before every start, so that it sees an updated agent: part of the agent's cost);
    the first of each resource counts. The node's own log: the controller does not name itself."""
    return durations(metadata_intervals(evts, node, after, before))


def metadata_intervals(evts: list[tuple[float, str]], node: str, after: float = 0.0,
                       before: float | None = None) -> dict[str, tuple[float, float]]:
    """(retrieving, start requested) times of each resource's meta-data run on node (see metadata)."""
    ask = re.compile(r"\b" + re.escape(node) + r" pacemaker-controld.*Retrieving metadata for (\S+) ")
    done = re.compile(rf"Requesting local execution of start operation for (\S+) on {re.escape(node)}\b")
    return _intervals(evts, ask, done, after, before)


def durations(intervals: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Resource -> seconds of its (from, to) interval."""
    return {r: round(b - a, 3) for r, (a, b) in intervals.items()}


def covered(intervals, start: float, end: float) -> float:
    """Seconds of [start, end] during which at least one of the (from, to) intervals runs (overlaps
    counted once): the time a window spent in them, for example ocfkit's agents within a client's stall."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if b > start and a < end)
    total, reach = 0.0, start
    for a, b in clipped:
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return round(total, 3)


def _intervals(evts: list[tuple[float, str]], ask, done, after: float,
               before: float | None) -> dict[str, tuple[float, float]]:
    """Resource -> (time of its first `ask` line, time of the `done` line after it), both patterns
    capturing the resource as group 1, for lines at or after `after` and not after `before`."""
    asked: dict[str, float] = {}
    out: dict[str, tuple[float, float]] = {}
    for t, line in evts:
        if t < after or (before is not None and t > before):
            continue
        m = ask.search(line)
        if m and m.group(1) not in asked:
            asked[m.group(1)] = t
            continue
        m = done.search(line)
        if m and m.group(1) in asked and m.group(1) not in out:
            out[m.group(1)] = (asked[m.group(1)], t)
    return out


class Progress:
    """The demos' progress on a stream: lines stamped with the seconds since the start. A live line
    (the cluster's view while waiting) is rewritten in place on a terminal, and printed at most once
    a second elsewhere."""

    def __init__(self, out) -> None:
        self.out, self.tty, self.t0 = out, out.isatty(), time.monotonic()
        self._live = False
        self._last_live = float("-inf")

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def __call__(self, msg: str) -> None:
        self.out.write(("\r\033[K" if self._live else "") + f"[{self.elapsed():6.1f}s] {msg}\n")
        self._live = False
        self.out.flush()

    def live(self, msg: str) -> None:
        if self.tty:
            stamp = f"[{self.elapsed():6.1f}s] "
            self.out.write("\r\033[K" + stamp + msg[:shutil.get_terminal_size().columns - len(stamp) - 1])
            self._live = True
            self.out.flush()
        elif time.monotonic() - self._last_live >= 1.0:
            self(msg)
            self._last_live = time.monotonic()
