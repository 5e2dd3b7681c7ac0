import pytest

from heartbeat_legacy.takeover import ReleaseFailed, Resource, TakeoverFailed, release, status, takeover


class World:
    """Fake agents: a set of running resources, some that fail to start or stop."""

    def __init__(self, running=(), bad_start=(), bad_stop=()):
        self.running = set(running)
        self.bad_start, self.bad_stop = set(bad_start), dict.fromkeys(bad_stop, 99)
        self.log = []

    def __call__(self, res, action):
        self.log.append((action, res.agent))
        if action == "monitor":
            return 0 if res.agent in self.running else 7
        if action == "start":
            if res.agent in self.bad_start:
                return 1
            self.running.add(res.agent)
            return 0
        if self.bad_stop.get(res.agent, 0) > 0:
            self.bad_stop[res.agent] -= 1
            return 1
        self.running.discard(res.agent)
        return 0


GROUP = [Resource("Filesystem"), Resource("IPaddr2"), Resource("portblock"), Resource("iSCSITarget")]


def test_takeover_starts_left_to_right_and_skips_what_runs():
    w = World(running={"IPaddr2"})
    takeover(GROUP, w)
    assert [a for a in w.log if a[0] == "start"] == [("start", "Filesystem"), ("start", "portblock"),
                                                     ("start", "iSCSITarget")]
    assert w.running == {"Filesystem", "IPaddr2", "portblock", "iSCSITarget"}


def test_a_failed_start_releases_what_started_in_reverse():
    w = World(bad_start={"portblock"})
    with pytest.raises(TakeoverFailed) as e:
        takeover(GROUP, w)
    assert e.value.resource.agent == "portblock"
    stops = [a for a in w.log if a[0] == "stop"]
    assert stops == [("stop", "IPaddr2"), ("stop", "Filesystem")]
    assert w.running == set()


def test_release_stops_right_to_left_and_retries():
    w = World(running={r.agent for r in GROUP}, bad_stop={"portblock"})
    w.bad_stop["portblock"] = 2
    release(GROUP, w)
    assert [a[1] for a in w.log if a[0] == "stop"] == ["iSCSITarget", "portblock", "portblock", "portblock",
                                                      "IPaddr2", "Filesystem"]
    assert w.running == set()


def test_release_fails_when_a_stop_keeps_failing():
    w = World(running={r.agent for r in GROUP}, bad_stop={"IPaddr2"})
    w.bad_stop["IPaddr2"] = 10
    with pytest.raises(ReleaseFailed):
        release(GROUP, w)
    assert "Filesystem" in w.running  # heartbeat stops there: the node must be fenced


def test_status_reports_each_member():
    assert status(GROUP, World(running={"IPaddr2"})) == {r.instance: (0 if r.agent == "IPaddr2" else 7)
                                                         for r in GROUP}
