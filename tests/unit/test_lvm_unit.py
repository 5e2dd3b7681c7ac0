"""LVM agent decisions on scripted lvm output."""

import pytest

VG_ARGV = ["lvm", "vgs", "--foreign", "-o", "vg_name,vg_attr,vg_tags,vg_systemid,vg_lock_type,vg_missing_pv_count",
           "--reportformat", "json", "--", "vg0"]
LV_ARGV = ["lvm", "lvs", "--foreign", "-o", "lv_name,lv_attr,lv_active,lv_device_open", "--reportformat", "json",
           "--", "vg0"]


def test_open_logical_volume_blocks_stop_with_a_reason(tmp_path):
    from agents.lvm import LVM
    from ocf.testing import FakeRunner

    report = ('{"report":[{"vg":[{"vg_name":"vg0","vg_attr":"wz--n-","vg_tags":"","vg_systemid":"",'
              '"vg_lock_type":"","vg_missing_pv_count":"0"}]}]}')
    lvs = ('{"report":[{"lv":[{"lv_name":"filer","lv_attr":"-wi-ao----","lv_active":"active",'
           '"lv_device_open":"open"}]}]}')
    r = FakeRunner().expect(VG_ARGV, report).expect(LV_ARGV, lvs).expect(LV_ARGV, lvs)
    sysfs = _sysfs(tmp_path, [("vg0-filer", "LVM-" + "a" * 64)])
    assert LVM.main(["LVM", "stop"], {"OCF_RESKEY_volgrpname": "vg0", "OCFKIT_SYSFS_ROOT": sysfs}, r) == 1
    r.assert_done()


# ----- monitor: device-mapper in sysfs first, then one lvs report ---------------------------------

LVS_FIELDS = "lv_name,lv_attr,lv_active,lv_device_open,vg_tags"


def _sysfs(tmp_path, devices):
    """A sysfs tree with dm-N devices of the given (name, uuid[, suspended, size])."""
    block = tmp_path / "sys" / "block"
    block.mkdir(parents=True)
    for i, (name, uuid, *state) in enumerate(devices):
        suspended, size = state or ("0", "16384")
        d = block / f"dm-{i}" / "dm"
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "uuid").write_text(uuid + "\n")
        (d / "suspended").write_text(suspended + "\n")
        (d.parent / "size").write_text(size + "\n")
    (block / "loop0").mkdir()
    return str(tmp_path / "sys")


def _lvs(*rows):
    import json

    return json.dumps({"report": [{"lv": [dict(zip(("lv_name", "lv_attr", "vg_tags"), r)) for r in rows]}]})


def _lvs_argv(vg):
    return ["lvm", "lvs", "--foreign", "-o", LVS_FIELDS, "--reportformat", "json", "--", vg]


def test_split_dm_name_undoes_lvm_escaping_and_drops_layers():
    from agents.tools.lvm import split_dm_name

    assert split_dm_name("vg0-filer") == ("vg0", "filer", "")
    assert split_dm_name("my--vg-my--lv") == ("my-vg", "my-lv", "")
    assert split_dm_name("vg0-filer-real") == ("vg0", "filer", "real")
    assert split_dm_name("vg--0-x") == ("vg-0", "x", "")


def test_lvm_monitor_answers_7_from_sysfs_without_running_lvm(tmp_path):
    from agents.lvm import LVM, LVMActivate
    from ocf.testing import FakeRunner

    # Other VGs' LVs and a non-LVM device-mapper device of a similar name are active; vg0's are not.
    sysfs = _sysfs(tmp_path, [("vg0x-filer", "LVM-" + "a" * 64), ("vg0--1-filer", "LVM-" + "b" * 64),
                              ("vg0-crypt", "CRYPT-LUKS2-0123")])
    env = {"OCF_RESKEY_volgrpname": "vg0", "OCFKIT_SYSFS_ROOT": sysfs, "OCF_RESKEY_CRM_meta_interval": "10000"}
    r = FakeRunner()  # no command expected: any would fail the test
    assert LVM.main(["LVM", "monitor"], env, r) == 7
    env = {"OCF_RESKEY_vgname": "vg0", "OCF_RESKEY_vg_access_mode": "system_id", "OCFKIT_SYSFS_ROOT": sysfs}
    assert LVMActivate.main(["LVM-activate", "monitor"], env, r) == 7
    r.assert_done()


def test_lvm_monitor_asks_lvm_once_when_the_kernel_has_devices_of_the_vg(tmp_path):
    from agents.lvm import LVM
    from ocf.testing import FakeRunner

    sysfs = _sysfs(tmp_path, [("vg0-filer", "LVM-" + "a" * 64)])
    base = {"OCF_RESKEY_volgrpname": "vg0", "OCFKIT_SYSFS_ROOT": sysfs, "OCF_RESKEY_CRM_meta_interval": "10000"}
    both = _lvs(("filer", "-wi-a-----", "pacemaker"), ("config", "-wi-a-----", "pacemaker"))
    r = FakeRunner().expect(_lvs_argv("vg0"), both)
    assert LVM.main(["LVM", "monitor"], base, r) == 0
    r.assert_done()
    # Only some LVs active: a failure that says how many.
    half = _lvs(("filer", "-wi-a-----", ""), ("config", "-wi-------", ""))
    r = FakeRunner().expect(_lvs_argv("vg0"), half)
    assert LVM.main(["LVM", "monitor"], base, r) == 1
    # Exclusive mode: active without the ownership tag is a failure.
    r = FakeRunner().expect(_lvs_argv("vg0"), _lvs(("filer", "-wi-a-----", "othernode")))
    assert LVM.main(["LVM", "monitor"], dict(base, OCF_RESKEY_exclusive="true"), r) == 1


def test_lvm_activate_monitor_looks_at_its_own_lv_only(tmp_path):
    from agents.lvm import LVMActivate
    from ocf.testing import FakeRunner

    sysfs = _sysfs(tmp_path, [("vg0-config", "LVM-" + "a" * 64)])
    env = {"OCF_RESKEY_vgname": "vg0", "OCF_RESKEY_lvname": "filer", "OCF_RESKEY_vg_access_mode": "system_id",
           "OCFKIT_SYSFS_ROOT": sysfs}
    r = FakeRunner()
    assert LVMActivate.main(["LVM-activate", "monitor"], env, r) == 7  # config is active, filer is not
    # Its own device live (not suspended, with a table): the kernel settles it, no lvm run.
    sysfs = _sysfs(tmp_path / "2", [("vg0-filer", "LVM-" + "a" * 64), ("vg0-filer-real", "LVM-" + "a" * 64 + "-real")])
    assert LVMActivate.main(["LVM-activate", "monitor"], dict(env, OCFKIT_SYSFS_ROOT=sysfs), FakeRunner()) == 0
    # Only a layer below it, or its device suspended: LVM decides.
    lvs_argv = LV_ARGV
    for n, devices in enumerate(([("vg0-filer-real", "LVM-" + "a" * 64 + "-real")],
                                 [("vg0-filer", "LVM-" + "a" * 64, "1", "16384")])):
        sysfs = _sysfs(tmp_path / f"3{n}", devices)
        r = FakeRunner().expect(lvs_argv, _lvs(("filer", "-wi-s-----", "")))
        assert LVMActivate.main(["LVM-activate", "monitor"], dict(env, OCFKIT_SYSFS_ROOT=sysfs), r) == 7
        r.assert_done()
    # The whole VG (no lvname): every LV must be active, which only LVM knows.
    sysfs = _sysfs(tmp_path / "4", [("vg0-filer", "LVM-" + "a" * 64)])
    r = FakeRunner().expect(lvs_argv, _lvs(("filer", "-wi-a-----", ""), ("config", "-wi-------", "")))
    whole = {k: v for k, v in env.items() if k != "OCF_RESKEY_lvname"}
    assert LVMActivate.main(["LVM-activate", "monitor"], dict(whole, OCFKIT_SYSFS_ROOT=sysfs), r) == 1
    r.assert_done()


def test_lvm_monitor_falls_back_to_lvm_without_sysfs(tmp_path):
    from agents.lvm import LVM
    from ocf.testing import FakeRunner

    env = {"OCF_RESKEY_volgrpname": "vg0", "OCFKIT_SYSFS_ROOT": str(tmp_path / "nothing")}
    r = FakeRunner().expect(_lvs_argv("vg0"), _lvs(("filer", "-wi-------", "")))
    assert LVM.main(["LVM", "monitor"], env, r) == 7
    r.assert_done()


# ----- names: LVM's own rules, and "--" before every name ------------------------------------------

def _vg_report(name="vg0", tags=""):
    import json

    return json.dumps({"report": [{"vg": [{"vg_name": name, "vg_attr": "wz--n-", "vg_tags": tags, "vg_systemid": "",
                                           "vg_lock_type": "", "vg_missing_pv_count": "0"}]}]})


def _plain_lvs(*rows):
    import json

    return json.dumps({"report": [{"lv": [{"lv_name": n, "lv_attr": a, "lv_active": "", "lv_device_open": ""}
                                          for n, a in rows]}]})


BAD_VG_NAMES = ["-v", "--all", "-", "..", ".", "vg0 -v", "vg/lv", "vg$x", "vg\nx", "a" * 128]


@pytest.mark.parametrize("name", BAD_VG_NAMES)
def test_lvm_refuses_a_volume_group_name_lvm_would_read_as_an_option_or_reject(tmp_path, capsys, name):
    from agents.lvm import LVM
    from ocf.testing import FakeRunner

    env = {"OCF_RESKEY_volgrpname": name, "OCF_RESKEY_exclusive": "true",
           "OCFKIT_SYSFS_ROOT": _sysfs(tmp_path, [("vg0-filer", "LVM-" + "a" * 64)])}
    r = FakeRunner()  # not one lvm command may run
    assert LVM.main(["LVM", "validate-all"], env, r) == 6
    assert "volgrpname" in capsys.readouterr().err.split("ocf-exit-reason:", 1)[1]
    assert LVM.main(["LVM", "start"], env, r) == 6
    assert LVM.main(["LVM", "monitor"], env, r) == 7  # a probe
    assert LVM.main(["LVM", "stop"], env, r) == 0  # LVM cannot have a VG of that name
    r.assert_done()


@pytest.mark.parametrize(("param", "value"), [
    ("vgname", "-v"), ("vgname", "--select=vg_name=~."), ("lvname", "-an"), ("lvname", "snapshot0"),
    ("lvname", "pvmove1"), ("lvname", "data_tmeta"), ("lvname", "lv_rimage_0"), ("lvname", ".."),
    ("tag", "-v"), ("tag", 'x"]} global{locking_type=0'), ("tag", ""),
])
def test_lvm_activate_refuses_bad_names_and_tags(tmp_path, capsys, param, value):
    from agents.lvm import LVMActivate
    from ocf.testing import FakeRunner

    env = {"OCF_RESKEY_vgname": "vg0", "OCF_RESKEY_vg_access_mode": "tagging", f"OCF_RESKEY_{param}": value,
           "OCFKIT_SYSFS_ROOT": _sysfs(tmp_path, [])}
    if param == "tag" and not value:
        env[f"OCF_RESKEY_{param}"] = "-"
    r = FakeRunner()
    assert LVMActivate.main(["LVM-activate", "validate-all"], env, r) == 6
    assert param in capsys.readouterr().err.split("ocf-exit-reason:", 1)[1]
    assert LVMActivate.main(["LVM-activate", "start"], env, r) == 6
    r.assert_done()


def test_valid_names_by_lvm_rules():
    from agents.tools.lvm import name_problem, tag_problem

    for ok in ("vg0", "my-vg", "VG_1.2+x", "a" * 127):
        assert name_problem(ok) == "" and name_problem(ok, lv=True) == ""
    assert name_problem("snapshot", lv=True) and not name_problem("snapshot")  # reserved for LVs only
    assert tag_problem("pacemaker") == "" and tag_problem("node/1=a:b&c#d!") == ""
    assert tag_problem("-x") and tag_problem("a b") and tag_problem('a"')


def test_lvm_exclusive_start_puts_every_name_after_double_dash(tmp_path):
    from agents.lvm import LVM
    from ocf.testing import FakeRunner

    one = _plain_lvs(("filer", "-wi-------"))
    active = _plain_lvs(("filer", "-wi-a-----"))
    r = (FakeRunner().expect(VG_ARGV, _vg_report(tags="othernode")).expect(LV_ARGV, one)
         .expect(["lvm", "vgchange", "--deltag", "othernode", "--", "vg0"])
         .expect(["lvm", "vgchange", "--addtag", "castor", "--", "vg0"])
         .expect(["lvm", "vgchange", "-ay", "--activationmode", "partial", "--config",
                  'activation{volume_list=["@castor"]}', "--", "vg0"])
         .expect(LV_ARGV, active))
    env = {"OCF_RESKEY_volgrpname": "vg0", "OCF_RESKEY_exclusive": "true", "OCF_RESKEY_tag": "castor",
           "OCF_RESKEY_partial_activation": "true"}
    assert LVM.main(["LVM", "start"], env, r) == 0
    r.assert_done()


def test_lvm_activate_system_id_start_and_stop_put_names_after_double_dash(tmp_path):
    import json

    from agents.lvm import LVMActivate
    from ocf.testing import FakeRunner

    vg = json.loads(_vg_report())
    vg["report"][0]["vg"][0]["vg_systemid"] = "pollux"
    lvs = _plain_lvs(("filer", "-wi-------"), ("config", "-wi-------"))
    up = _plain_lvs(("filer", "-wi-a-----"), ("config", "-wi-------"))
    env = {"OCF_RESKEY_vgname": "vg0", "OCF_RESKEY_lvname": "filer", "OCF_RESKEY_vg_access_mode": "system_id",
           "OCFKIT_SYSFS_ROOT": _sysfs(tmp_path, [("vg0-filer", "LVM-" + "a" * 64)])}
    r = (FakeRunner().expect(VG_ARGV, json.dumps(vg)).expect(LV_ARGV, lvs)
         .expect(["lvm", "systemid"], "  system ID: castor\n")
         .expect(LV_ARGV, lvs)
         .expect(["lvm", "systemid"], "  system ID: castor\n")
         .expect(["lvm", "vgchange", "-y", "--config", 'local/extra_system_ids=["pollux"]', "--systemid", "castor",
                  "--", "vg0"])
         .expect(["lvm", "lvchange", "-ay", "--", "vg0/filer"])
         .expect(LV_ARGV, up))
    assert LVMActivate.main(["LVM-activate", "start"], env, r) == 0
    r.assert_done()
    r = (FakeRunner().expect(VG_ARGV, json.dumps(vg)).expect(LV_ARGV, up).expect(LV_ARGV, up)
         .expect(["lvm", "lvchange", "-an", "--", "vg0/filer"]).expect(LV_ARGV, lvs))
    assert LVMActivate.main(["LVM-activate", "stop"], env, r) == 0
    r.assert_done()


# ----- a VG without logical volumes: start refuses, monitor agrees -------------------------------------

def test_lvm_start_of_a_vg_without_logical_volumes_fails_with_a_reason_and_monitor_says_7(tmp_path, capsys):
    from agents.lvm import LVM
    from ocf.testing import FakeRunner

    env = {"OCF_RESKEY_volgrpname": "vg0", "OCFKIT_SYSFS_ROOT": _sysfs(tmp_path, [])}
    r = FakeRunner().expect(VG_ARGV, _vg_report()).expect(LV_ARGV, _plain_lvs())
    assert LVM.main(["LVM", "start"], env, r) == 6  # the same VG metadata on every node
    r.assert_done()  # nothing was activated or tagged
    assert "has no logical volume" in capsys.readouterr().err
    assert LVM.main(["LVM", "monitor"], env, FakeRunner()) == 7
    assert LVM.main(["LVM", "monitor"], dict(env, OCF_RESKEY_CRM_meta_interval="10000"), FakeRunner()) == 7


def test_lvm_activate_start_of_a_vg_without_logical_volumes_fails_before_taking_it_over(tmp_path, capsys):
    from agents.lvm import LVMActivate
    from ocf.testing import FakeRunner

    env = {"OCF_RESKEY_vgname": "vg0", "OCF_RESKEY_vg_access_mode": "system_id",
           "OCFKIT_SYSFS_ROOT": _sysfs(tmp_path, [])}
    r = FakeRunner().expect(VG_ARGV, _vg_report()).expect(LV_ARGV, _plain_lvs())
    assert LVMActivate.main(["LVM-activate", "start"], env, r) == 6
    r.assert_done()
    assert "has no logical volume" in capsys.readouterr().err
    assert LVMActivate.main(["LVM-activate", "monitor"], env, FakeRunner()) == 7


# ----- stop: absence proven from sysfs, or an honest failure ----------------------------------------------

def test_stop_without_lvm_succeeds_only_when_the_kernel_has_no_device_of_the_vg(tmp_path, capsys):
    from agents.lvm import LVM, LVMActivate
    from ocf.testing import FakeRunner

    empty = _sysfs(tmp_path / "a", [("other-lv", "LVM-" + "b" * 64)])
    busy = _sysfs(tmp_path / "b", [("vg0-filer", "LVM-" + "a" * 64)])
    lvm_env = {"OCF_RESKEY_volgrpname": "vg0"}
    act_env = {"OCF_RESKEY_vgname": "vg0", "OCF_RESKEY_vg_access_mode": "tagging"}
    for agent, env in ((LVM, lvm_env), (LVMActivate, act_env)):
        r = FakeRunner()  # no device of vg0: nothing can be active, no lvm needed (nor the tag touched)
        assert agent.main(["x", "stop"], dict(env, OCFKIT_SYSFS_ROOT=empty), r) == 0
        r.assert_done()
        r = FakeRunner().expect(VG_ARGV, missing=True)
        assert agent.main(["x", "stop"], dict(env, OCFKIT_SYSFS_ROOT=busy), r) == 1
        r.assert_done()
        assert "lvm: command not found: cannot tell whether" in capsys.readouterr().err
        # The probe does not say "not running" either.
        r = FakeRunner().expect(_lvs_argv("vg0") if agent is LVM else LV_ARGV, missing=True)
        assert agent.main(["x", "monitor"], dict(env, OCFKIT_SYSFS_ROOT=busy), r) == 1


def test_stop_fails_when_lvm_cannot_find_a_vg_whose_devices_are_active(tmp_path):
    from agents.lvm import LVM
    from ocf.testing import FakeRunner

    busy = _sysfs(tmp_path, [("vg0-filer", "LVM-" + "a" * 64)])
    r = FakeRunner().expect(VG_ARGV, '{"report":[{"vg":[]}]}', rc=5)
    assert LVM.main(["LVM", "stop"], {"OCF_RESKEY_volgrpname": "vg0", "OCFKIT_SYSFS_ROOT": busy}, r) == 1
    r.assert_done()


def test_lvm_activate_validate_all_passes_where_the_vg_is_not_visible_yet(tmp_path, capsys):
    from agents.lvm import LVMActivate
    from ocf.testing import FakeRunner

    env = {"OCF_RESKEY_vgname": "vg0", "OCF_RESKEY_vg_access_mode": "system_id"}
    r = (FakeRunner().expect(VG_ARGV, '{"report":[{"vg":[]}]}', rc=5)
         .expect(["lvm", "systemid"], "  system ID: castor\n"))
    assert LVMActivate.main(["LVM-activate", "validate-all"], env, r) == 0
    r.assert_done()
    assert "not visible on this node (yet)" in capsys.readouterr().err
    # What this node must provide is still checked.
    r = FakeRunner().expect(VG_ARGV, '{"report":[{"vg":[]}]}', rc=5).expect(["lvm", "systemid"], "")
    assert LVMActivate.main(["LVM-activate", "validate-all"], env, r) == 2


@pytest.mark.parametrize("garbage", ["", "Segmentation fault", "[1, 2]", '{"report": [{"lv": ["x"]}]}', "{"])
def test_garbage_from_lvm_is_never_read_as_nothing_active(tmp_path, capsys, garbage):
    from agents.lvm import LVM, LVMActivate
    from ocf.testing import FakeRunner

    busy = _sysfs(tmp_path, [("vg0-filer", "LVM-" + "a" * 64, "1", "16384")])  # suspended: lvm must decide
    r = FakeRunner().expect(_lvs_argv("vg0"), garbage)
    rc = LVM.main(["LVM", "monitor"], {"OCF_RESKEY_volgrpname": "vg0", "OCFKIT_SYSFS_ROOT": busy}, r)
    assert rc == 1  # a probe: never 7 while the kernel has devices of the VG
    r = FakeRunner().expect(LV_ARGV, garbage)
    env = {"OCF_RESKEY_vgname": "vg0", "OCF_RESKEY_lvname": "filer", "OCF_RESKEY_vg_access_mode": "system_id",
           "OCFKIT_SYSFS_ROOT": busy}
    assert LVMActivate.main(["LVM-activate", "monitor"], env, r) == 1
    r = FakeRunner().expect(VG_ARGV, garbage)
    assert LVMActivate.main(["LVM-activate", "stop"], env, r) == 1
    err = capsys.readouterr().err
    if garbage:  # "" is an empty report: the VG's LVs unknown to lvm
        assert "printed no JSON report" in err
    assert "Traceback" not in err and "internal error" not in err


def test_monitor_fails_when_the_kernel_has_devices_lvm_does_not_report(tmp_path):
    from agents.lvm import LVM
    from ocf.testing import FakeRunner

    busy = _sysfs(tmp_path, [("vg0-filer", "LVM-" + "a" * 64)])
    r = FakeRunner().expect(_lvs_argv("vg0"), '{"report":[{"lv":[]}]}', rc=5)
    assert LVM.main(["LVM", "monitor"], {"OCF_RESKEY_volgrpname": "vg0", "OCFKIT_SYSFS_ROOT": busy}, r) == 1
    r.assert_done()
