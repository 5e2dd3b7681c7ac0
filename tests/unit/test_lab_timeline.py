"""The demo's timeline arithmetic: agent runs from Pacemaker's log lines, and the part of a client's stall
they cover (overlaps counted once)."""

from __future__ import annotations

from ocfkit.lab.timeline import covered, durations, metadata_intervals, operation_intervals


def test_covered_counts_overlaps_once_and_only_inside_the_window():
    runs = [(0.0, 1.0), (0.5, 1.5), (2.0, 2.2), (3.0, 4.0), (5.0, 6.0)]
    assert covered(runs, 0.2, 3.5) == 1.3 + 0.2 + 0.5
    assert covered([], 0.0, 1.0) == 0
    assert covered([(1.0, 2.0)], 2.0, 3.0) == 0
    assert covered([(0.0, 10.0), (1.0, 2.0)], 1.0, 3.0) == 2.0


def test_intervals_of_operations_and_meta_data_from_the_log():
    evts = [
        (10.0, "node1 pacemaker-controld [1] (do_lrm_invoke) info: Retrieving metadata for p_ip (ocf:x:IPaddr2) "
               "asynchronously"),
        (10.1, "node1 pacemaker-controld [1] (do_lrm_rsc_op) notice: Requesting local execution of start operation "
               "for p_ip on node1 | transition_key=1"),
        (10.3, "node1 pacemaker-controld [1] (log_executor_event) notice: Result of start operation for p_ip on "
               "node1: ok | CIB update 5"),
        (10.4, "node1 pacemaker-controld [1] (log_executor_event) notice: Result of start operation for p_ip on "
               "node1: ok | a second one does not count"),
    ]
    starts = operation_intervals(evts, "start", "node1")
    assert starts == {"p_ip": (10.1, 10.3)}
    assert durations(starts) == {"p_ip": 0.2}
    assert metadata_intervals(evts, "node1") == {"p_ip": (10.0, 10.1)}
    assert operation_intervals(evts, "start", "node2") == {}


def test_progress_rewrites_a_live_line_on_a_terminal_and_prints_it_once_a_second_elsewhere(monkeypatch):
    import io

    from ocfkit.lab import timeline

    clock = [100.0]
    monkeypatch.setattr(timeline.time, "monotonic", lambda: clock[0])

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    say = timeline.Progress(tty)
    say.live("waiting a")
    clock[0] += 0.2
    say.live("waiting b")
    say("done")
    assert tty.getvalue() == "\r\033[K[   0.0s] waiting a\r\033[K[   0.2s] waiting b\r\033[K[   0.2s] done\n"

    log = io.StringIO()
    say = timeline.Progress(log)
    for _ in range(6):  # 1.2 s of live lines every 0.2 s: two of them printed
        say.live("waiting")
        clock[0] += 0.2
    say("done")
    assert log.getvalue() == "[   0.0s] waiting\n[   1.0s] waiting\n[   1.2s] done\n"
    assert abs(say.elapsed() - 1.2) < 1e-9
