"""LVM and LVM-activate without device-mapper: real LVM metadata on a loop PV, isolated configuration.

This machine has no device-mapper, so activation itself cannot succeed here: these tests prove the
monitor of an inactive VG, tags, ownership checks and the clean failure with a reason. Activation
for real belongs to the guest tier.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.system.support import LoopDevice, isolated_lvm_conf, ocf_env, run_agent

pytestmark = pytest.mark.system


@pytest.fixture
def vg(tmp_path):
    """VG okvg with one LV (created without activation) on a loop PV, seen only through LVM_SYSTEM_DIR."""
    had_control = os.path.exists("/dev/mapper/control")
    with LoopDevice(64, str(tmp_path)) as loop:
        conf = tmp_path / "lvmconf"
        isolated_lvm_conf(str(conf), loop.device)
        env = dict(os.environ, LVM_SYSTEM_DIR=str(conf), LVM_SUPPRESS_FD_WARNINGS="1")
        vgname = f"okvg{os.getpid() % 10000}"

        def lvm(*args, check=True):
            return subprocess.run(["lvm", *args], env=env, capture_output=True, text=True, timeout=60, check=check)

        lvm("pvcreate", "-q", loop.device)
        lvm("vgcreate", "-q", vgname, loop.device)
        lvm("lvcreate", "-q", "--config", "global { activation = 0 }", "-an", "-Zn", "-L", "8M", "-n", "oklv", vgname)
        try:
            yield vgname, conf, lvm
        finally:
            lvm("vgremove", "-y", "--config", "global { activation = 0 }", vgname, check=False)
            lvm("pvremove", "-y", loop.device, check=False)
            # pvscan --cache is never run here, so nothing host-global was written in /run/lvm; a failed
            # activation leaves /dev/mapper/control behind, though.
            if not had_control and os.path.exists("/dev/mapper/control"):
                os.unlink("/dev/mapper/control")


def agent_env(tmp_path, conf, params):
    return ocf_env("lvm1", params, rsctmp=str(tmp_path), interval_ms=10000,
                   extra={"LVM_SYSTEM_DIR": str(conf), "LVM_SUPPRESS_FD_WARNINGS": "1"})


def test_lvm_monitor_of_an_inactive_vg_is_7_and_start_fails_with_a_reason(vg, tmp_path):
    vgname, conf, _lvm = vg
    env = agent_env(tmp_path, conf, {"volgrpname": vgname})
    assert run_agent("LVM", "monitor", env).returncode == 7
    r = run_agent("LVM", "start", env)
    assert r.returncode == 1
    assert "ocf-exit-reason:" in r.stderr and "vgchange" in r.stderr
    assert run_agent("LVM", "stop", env).returncode == 0
    missing = agent_env(tmp_path, conf, {"volgrpname": "ocfk_no_such_vg"})
    assert run_agent("LVM", "monitor", missing).returncode == 7
    assert run_agent("LVM", "start", missing).returncode == 2
    assert run_agent("LVM", "stop", missing).returncode == 0


def test_lvm_exclusive_mode_tags_the_vg_with_the_ownership_tag(vg, tmp_path):
    vgname, conf, lvm = vg
    lvm("vgchange", "--addtag", "othernode", vgname)
    env = agent_env(tmp_path, conf, {"volgrpname": vgname, "exclusive": "true", "tag": "castor"})
    run_agent("LVM", "start", env)  # activation fails here (no device-mapper), the tags are set first
    tags = lvm("vgs", "--noheadings", "-o", "vg_tags", vgname).stdout.strip()
    assert tags == "castor"


def test_lvm_activate_refuses_without_an_ownership_mechanism(vg, tmp_path):
    vgname, conf, lvm = vg
    tagging = agent_env(tmp_path, conf, {"vgname": vgname, "vg_access_mode": "tagging"})
    r = run_agent("LVM-activate", "start", tagging)
    assert r.returncode == 2 and "volume_list" in r.stderr
    system_id = agent_env(tmp_path, conf, {"vgname": vgname, "vg_access_mode": "system_id"})
    r = run_agent("LVM-activate", "start", system_id)
    assert r.returncode == 2 and "system_id_source" in r.stderr
    lvmlockd = agent_env(tmp_path, conf, {"vgname": vgname, "vg_access_mode": "lvmlockd"})
    r = run_agent("LVM-activate", "start", lvmlockd)
    assert r.returncode == 6 and "not supported by ocfkit" in r.stderr
    assert run_agent("LVM-activate", "monitor", dict(lvmlockd, OCF_RESKEY_CRM_meta_interval="0")).returncode == 7
    assert run_agent("LVM-activate", "stop", lvmlockd).returncode == 0
    for env in (tagging, system_id):
        assert run_agent("LVM-activate", "monitor", env).returncode == 7
        assert run_agent("LVM-activate", "stop", env).returncode == 0


def test_lvm_activate_with_volume_list_set_and_system_id_configured(vg, tmp_path):
    vgname, conf, lvm = vg
    text = (conf / "lvm.conf").read_text()
    (conf / "lvm.conf").write_text(text.replace("activation {", 'activation { volume_list = [ "@pacemaker" ]'))
    r = run_agent("LVM-activate", "start", agent_env(tmp_path, conf, {"vgname": vgname, "vg_access_mode": "tagging"}))
    assert r.returncode == 2 and "must not contain @pacemaker" in r.stderr
    (conf / "lvm.conf").write_text(text + 'global { system_id_source = "lvmlocal" }\nlocal { system_id = "castor" }\n')
    assert lvm("systemid").stdout.split(":")[1].strip() == "castor"
    r = run_agent("LVM-activate", "start", agent_env(tmp_path, conf, {"vgname": vgname, "vg_access_mode": "system_id"}))
    # The VG is taken over (its system ID set to ours), then activation fails without device-mapper.
    assert r.returncode == 1 and "ocf-exit-reason:" in r.stderr
    assert lvm("vgs", "--noheadings", "-o", "vg_systemid", vgname).stdout.strip() == "castor"


@pytest.mark.parametrize("name", ["-v", "--all", "-aay"])
def test_a_vg_name_that_is_an_lvm_option_is_refused_and_no_vg_is_touched(vg, tmp_path, name):
    vgname, conf, lvm = vg
    env = agent_env(tmp_path, conf, {"volgrpname": name, "exclusive": "true", "tag": "castor"})
    r = run_agent("LVM", "validate-all", env)
    assert r.returncode == 6 and "ocf-exit-reason:" in r.stderr and "volgrpname" in r.stderr
    r = run_agent("LVM", "start", env)
    assert r.returncode == 6 and "volgrpname" in r.stderr
    assert run_agent("LVM", "stop", env).returncode == 0
    act = agent_env(tmp_path, conf, {"vgname": name, "vg_access_mode": "tagging", "tag": "castor"})
    r = run_agent("LVM-activate", "validate-all", act)
    assert r.returncode == 6 and "vgname" in r.stderr
    assert run_agent("LVM-activate", "start", act).returncode == 6
    # Every VG on the node (here: the only one LVM sees) kept its tags.
    assert lvm("vgs", "--noheadings", "-o", "vg_tags", vgname).stdout.strip() == ""


def test_a_vg_without_logical_volumes_fails_start_and_monitor_agrees(vg, tmp_path):
    vgname, conf, lvm = vg
    lvm("lvremove", "-y", "--config", "global { activation = 0 }", f"{vgname}/oklv")
    env = agent_env(tmp_path, conf, {"volgrpname": vgname})
    r = run_agent("LVM", "start", env)
    assert r.returncode == 6 and "has no logical volume" in r.stderr
    assert run_agent("LVM", "monitor", env).returncode == 7
    assert run_agent("LVM", "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0")).returncode == 7
    assert run_agent("LVM", "stop", env).returncode == 0
    conf_text = (conf / "lvm.conf").read_text()
    (conf / "lvm.conf").write_text(conf_text + 'global { system_id_source = "lvmlocal" }\n'
                                   'local { system_id = "castor" }\n')
    act = agent_env(tmp_path, conf, {"vgname": vgname, "vg_access_mode": "system_id"})
    r = run_agent("LVM-activate", "start", act)
    assert r.returncode == 6 and "has no logical volume" in r.stderr
    assert lvm("vgs", "--noheadings", "-o", "vg_systemid", vgname).stdout.strip() == ""  # not taken over
    assert run_agent("LVM-activate", "monitor", act).returncode == 7
