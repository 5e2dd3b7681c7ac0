"""bench.lio_scale without a guest: the environments it gives ocfkit's agents take a group up and down
(against the fake configfs), ClusterLabs' side gets lio-t and the same LUN identities, and the
tables compute the ratios from the raw figures."""

from __future__ import annotations

import pytest

from agents.iscsi.logical_unit import iSCSILogicalUnit
from agents.iscsi.target import iSCSITarget
from bench import lio_scale
from ocf.testing import FakeRunner
from tests.unit.fake_configfs import FakeConfigfs


def test_the_bench_environments_take_an_ocfkit_group_up_and_down(tmp_path, monkeypatch):
    cfs = FakeConfigfs(str(tmp_path / "configfs"), monkeypatch)
    paths = []
    for i in (1, 2):
        p = tmp_path / f"lun{i}.img"
        p.write_bytes(b"\0" * 4096)
        paths.append(str(p))
    (tmp_path / "rsctmp").mkdir()
    side = lio_scale.Side("ocfkit", "/nowhere", "ocfkit", "lio", paths)
    agents = [iSCSITarget, iSCSILogicalUnit, iSCSILogicalUnit]

    def run(i: int, action: str) -> int:
        argv, env = side.action(i, action)
        assert argv == [f"/nowhere/{agents[i].__name__}", action]
        env = dict(env, OCFKIT_CONFIGFS_ROOT=cfs.root, HA_RSCTMP=str(tmp_path / "rsctmp"))
        r = FakeRunner()
        rc = agents[i].main([argv[0], action], env, r)
        r.assert_done()
        return rc

    for i in range(3):
        assert run(i, "start") == 0
    tpg = f"iscsi/{lio_scale.IQN}/tpgt_1"
    assert f"{tpg}/np/{lio_scale.PORTAL}" in cfs.tree()
    assert cfs.read("core/fileio_0/lun2/wwn/vpd_unit_serial") == lio_scale.serial(2)
    assert f"{tpg}/lun/lun_1/lun2 -> core/fileio_0/lun2" in cfs.tree()
    assert [run(i, "monitor") for i in range(3)] == [0, 0, 0]
    for i in reversed(range(3)):
        assert run(i, "stop") == 0
    assert cfs.tree() == ["core/fileio_0", "iscsi"]


def test_clusterlabs_side_runs_lio_t_with_the_same_luns():
    ours = lio_scale.Side("ocfkit", lio_scale.OURS, "ocfkit", "lio", ["/dev/loop0"])
    theirs = lio_scale.Side("ClusterLabs", lio_scale.THEIRS, "heartbeat", "lio-t", ["/dev/loop0"])
    (argv, env), (_, mine) = theirs.action(1, "start"), ours.action(1, "start")
    assert argv == [f"{lio_scale.THEIRS}/iSCSILogicalUnit", "start"]
    assert env["OCF_RESKEY_implementation"] == "lio-t" and mine["OCF_RESKEY_implementation"] == "lio"
    for key in ("OCF_RESOURCE_INSTANCE", "OCF_RESKEY_path", "OCF_RESKEY_lun", "OCF_RESKEY_scsi_sn",
                "OCF_RESKEY_target_iqn", "OCF_RESKEY_CRM_meta_interval"):
        assert env[key] == mine[key]
    assert theirs.action(0, "monitor")[1]["OCF_RESKEY_CRM_meta_interval"] == "10000"
    assert theirs.action(0, "start")[1]["OCF_RESKEY_portals"] == lio_scale.PORTAL


def test_merge_joins_the_segments_of_one_takeover_and_pools_the_rest():
    def run(lo, hi):
        seq = lio_scale.sequence(2)  # target + 2 LUNs: 3 starts, 3 stops
        seg = [{"k": k, "action": seq[k][1], "wall": 1.0 + (seq[k][1] == "stop"), "cpu": 0.5} for k in range(lo, hi)]
        return {"sizes": [{"luns": 2, "takeover": {"ocfkit": [_takeover(1, 1)], "ClusterLabs": []},
                           "monitor": {"ocfkit": [], "ClusterLabs": []}, "segment": seg}]}

    assert lio_scale.sequence(2) == [(0, "start"), (1, "start"), (2, "start"), (2, "stop"), (1, "stop"), (0, "stop")]
    whole = lio_scale.merge([run(0, 4), run(4, 6)])["sizes"][0]
    assert len(whole["takeover"]["ocfkit"]) == 2
    assert whole["takeover"]["ClusterLabs"] == [{"start": 3.0, "stop": 6.0, "start_cpu": 1.5, "stop_cpu": 1.5,
                                                 "segments": True}]
    # A takeover with a segment missing is not made up.
    assert lio_scale.merge([run(0, 4)])["sizes"][0]["takeover"]["ClusterLabs"] == []


def _takeover(start: float, stop: float) -> dict[str, float]:
    return {"start": start, "stop": stop, "start_cpu": start / 2, "stop_cpu": stop / 2}


def test_tables_give_the_median_of_the_pair_ratios_and_skip_unfinished_sizes():
    res = {"sizes": [
        {"luns": 4, "takeover": {"ocfkit": [_takeover(1, 1), _takeover(2, 2)],
                                 "ClusterLabs": [_takeover(10, 10), _takeover(10, 10), _takeover(9, 9)]},
         "monitor": {"ocfkit": [{"wall": 1, "cpu": 0.5}], "ClusterLabs": [{"wall": 2, "cpu": 2.0}]}},
        {"luns": 64, "takeover": {"ocfkit": [_takeover(5, 5)], "ClusterLabs": []},
         "monitor": {"ocfkit": [], "ClusterLabs": []}}]}
    text = lio_scale.tables(res)
    rows = [ln for ln in text.splitlines() if ln.startswith("| 4 |")]
    # Unequal counts: the ratio of the medians (1.5 / 10).
    assert rows[0] == "| 4 | 1.50 | 10.00 | 0.150 | 1.50 | 10.00 | 0.150 | 3.00 | 20.00 | 0.150 | 2 / 3 |"
    assert rows[1].startswith("| 4 | 1.50 | 10.00 | 0.150 | 0.60 | 4.00 |")
    assert rows[2] == "| 4 | 180 | 720 | 0.25 | 1.0 | 2.0 | 100 | 400 | 1 |"
    # 64 LUNs: no ClusterLabs takeover to pair with, ocfkit's alone in its own table.
    assert [ln for ln in text.splitlines() if ln.startswith("| 64 |")] == [
        "| 64 | 5.00 | 5.00 | 10.00 | 5.00 | 0.15 | 0.08 | 1 |"]


@pytest.mark.parametrize("argv", [["--luns", "0"], ["--luns", "x"], ["--reps-at", "64"],
                                  ["--segment", "5:3", "--luns", "4"], ["--segment", "0:3", "--luns", "4,16"]])
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as e:
        lio_scale.main(argv)
    assert e.value.code == 2
