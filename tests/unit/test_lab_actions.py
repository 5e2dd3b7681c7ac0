"""The heartbeat demo's timing shim log: read back as (start, end, exit code, call), whatever decimal point
bash's locale wrote (ResourceManager unsets LC_ALL before it runs the wrappers)."""

from __future__ import annotations

from ocfkit.lab.lab import ACTIONS_LOG, TIMING_SHIM, actions


def test_the_log_is_read_back_with_either_decimal_point_and_bad_lines_skipped(tmp_path):
    log = tmp_path / "var-log" / ACTIONS_LOG.removeprefix("/var/log/")
    log.parent.mkdir(parents=True)
    log.write_text("1796234684.700677 1796234684.715227 7 Filesystem /dev/x /srv ext4 status\n"
                   "1796234684,725930 1796234684,747022 0 IPaddr2 10.0.0.1/24/eth0 start\n"
                   "garbage\n1796234684.8 x 0 Dummy stop\n")
    calls = actions(str(tmp_path))
    assert [(round(b - a, 6), rc, what) for a, b, rc, what in calls] == [
        (0.01455, 7, "Filesystem /dev/x /srv ext4 status"), (0.021092, 0, "IPaddr2 10.0.0.1/24/eth0 start")]


def test_the_shim_starts_no_process_but_the_wrapper():
    """Its clock is bash's own variable: no `date` (a process per reading, 1 to 3 ms on a loaded machine,
    in every call heartbeat makes, and one of them inside the interval counted as the wrapper's)."""
    shim = TIMING_SHIM.format(real="/x/real", name="Dummy", log="/l")
    assert shim.startswith("#!/bin/bash\n")
    assert "date" not in shim and "$(" not in shim and "`" not in shim
    assert shim.count("$EPOCHREALTIME") == 2
