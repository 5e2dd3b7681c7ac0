"""DRBD without a kernel module: drbdadm on a real configuration, the agents' behaviour, and their
meta-data as pcs and crmsh read it. Promotion and replication for real belong to the guest tier."""

from __future__ import annotations

import os
import subprocess

import pytest

from agents.tools import drbd as tool
from ocf.exec import run
from tests.system.support import PROVIDER, ocf_env, run_agent

pytestmark = pytest.mark.system


@pytest.fixture
def conf(tmp_path):
    host = os.uname().nodename
    f = tmp_path / "drbd.conf"
    f.write_text(f"""global {{ usage-count no; }}
resource iscsi.config {{
  net {{ protocol C; }}
  on {host} {{ device /dev/drbd0; disk /dev/vg01/config; address 10.10.10.101:7788; meta-disk internal; }}
  on pollux {{ device /dev/drbd0; disk /dev/vg01/config; address 10.10.10.102:7788; meta-disk internal; }}
}}
resource iscsi.lun {{
  net {{ protocol C; }}
  on {host} {{ device /dev/drbd1; disk /dev/vg01/lun; address 10.10.10.101:7789; meta-disk internal; }}
  on pollux {{ device /dev/drbd1; disk /dev/vg01/lun; address 10.10.10.102:7789; meta-disk internal; }}
}}
""")
    return str(f)


def seam(argv, *, ok=(0,), input=None):  # noqa: A002
    return run(argv, ok=ok, timeout=30, input=input)


def test_drbdadm_reads_the_configuration(conf):
    assert tool.resources(seam, conf) == ["iscsi.config", "iscsi.lun"]
    assert tool.devices(seam, "iscsi.lun", conf) == ["/dev/drbd1"]
    dump = seam(["drbdadm", "-c", conf, "dump", "iscsi.config"]).stdout
    assert "protocol" in dump and "/dev/vg01/config" in dump
    dry = seam(["drbdadm", "-c", conf, "-d", "primary", "iscsi.config"], ok=(0, 1, 10, 20)).stdout
    assert "primary" in dry


@pytest.mark.parametrize("agent", ["drbd", "drbddisk"])
def test_without_the_module_start_is_5_probe_7_stop_0(agent, conf, tmp_path):
    env = ocf_env("r0", {"drbd_resource": "iscsi.config", "drbdconf": conf}, rsctmp=str(tmp_path))
    start = run_agent(agent, "start", env)
    assert start.returncode == 5 and "DRBD kernel module is not loaded" in start.stderr
    assert run_agent(agent, "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0")).returncode == 7
    assert run_agent(agent, "stop", env).returncode == 0


def test_pcs_accepts_the_promotable_agent_without_force(tmp_path):
    cib = tmp_path / "cib.xml"
    cib.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True, check=True).stdout)
    r = subprocess.run(["pcs", "-f", str(cib), "resource", "create", "p_drbd", f"ocf:{PROVIDER}:drbd",
                        "drbd_resource=iscsi.config", "promotable", "ms_drbd", "notify=true"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    text = cib.read_text()
    assert 'role="Promoted"' in text and 'interval="29s"' in text and 'interval="31s"' in text
    r = subprocess.run(["crm_resource", "--show-metadata", f"ocf:{PROVIDER}:drbd"], capture_output=True, text=True)
    assert r.returncode == 0 and 'name="promote"' in r.stdout
