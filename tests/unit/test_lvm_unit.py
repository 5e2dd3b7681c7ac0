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
