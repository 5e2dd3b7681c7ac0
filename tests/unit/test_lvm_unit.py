"""LVM agent decisions on scripted lvm output."""


def test_open_logical_volume_blocks_stop_with_a_reason():
    from agents.lvm import LVM
    from ocf.testing import FakeRunner

    report = ('{"report":[{"vg":[{"vg_name":"vg0","vg_attr":"wz--n-","vg_tags":"","vg_systemid":"",'
              '"vg_lock_type":"","vg_missing_pv_count":"0"}]}]}')
    lvs = ('{"report":[{"lv":[{"lv_name":"filer","lv_attr":"-wi-ao----","lv_active":"active",'
           '"lv_device_open":"open"}]}]}')
    vg_argv = ["lvm", "vgs", "--foreign", "-o", "vg_name,vg_attr,vg_tags,vg_systemid,vg_lock_type,vg_missing_pv_count",
               "vg0", "--reportformat", "json"]
    lv_argv = ["lvm", "lvs", "--foreign", "-o", "lv_name,lv_attr,lv_active,lv_device_open", "vg0", "--reportformat",
               "json"]
    r = FakeRunner().expect(vg_argv, report).expect(lv_argv, lvs).expect(lv_argv, lvs)
    assert LVM.main(["LVM", "stop"], {"OCF_RESKEY_volgrpname": "vg0"}, r) == 1
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
    return ["lvm", "lvs", "--foreign", "-o", LVS_FIELDS, vg, "--reportformat", "json"]


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
    lvs_argv = ["lvm", "lvs", "--foreign", "-o", "lv_name,lv_attr,lv_active,lv_device_open", "vg0",
                "--reportformat", "json"]
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
