"""crm with Pacemaker's own tools: crm_verify, crm_simulate, crmsh and pcs on file CIBs."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

from crm.check import check
from crm.migrate import migrate
from crm.render import cib_xml, crmsh_text, pcs_commands
from heartbeat_legacy import haresources

pytestmark = pytest.mark.system

FIX = os.path.join(os.path.dirname(__file__), "..", "unit", "fixtures", "heartbeat")
with open(os.path.join(FIX, "seed-haresources")) as _f:
    SEED = _f.read()
SETUPS = {
    "seed": SEED,
    "two groups, bare IP": "alpha 10.0.0.5/24/eth0 Filesystem::/dev/sdb1::/srv/data::xfs\n"
                           "beta IPaddr2::10.0.0.6/24/eth0 portblock::tcp::80,443::block\n",
    "drbd, nfs-like": "alpha drbddisk::r0 Filesystem::/dev/drbd0::/export::ext4 IPaddr2::10.1.0.9/16/eth1\n",
}


def summary(path: str) -> tuple:
    root = ET.parse(path).getroot()
    prims = sorted((p.get("id"), p.get("class"), p.get("type"),
                    tuple(sorted((n.get("name"), n.get("value")) for n in p.iter("nvpair")
                                 if "instance_attributes" in (n.get("id") or ""))))
                   for p in root.iter("primitive"))
    groups = sorted((g.get("id"), tuple(p.get("id") for p in g.iter("primitive"))) for g in root.iter("group"))
    cols = sorted((c.get("rsc"), c.get("with-rsc"), c.get("with-rsc-role")) for c in root.iter("rsc_colocation"))
    orders = sorted((o.get("first"), o.get("first-action"), o.get("then")) for o in root.iter("rsc_order"))
    return prims, groups, cols, orders


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_generated_cib_passes_the_offline_pipeline(name, tmp_path):
    groups = haresources.parse(SETUPS[name])
    nodes = sorted({g.node for g in groups} | {"alpha", "beta"}) if name != "seed" else ["castor", "pollux"]
    c = migrate(groups, nodes=nodes, fencing=False)
    f = tmp_path / "cib.xml"
    f.write_text(cib_xml(c))
    rep = check(str(f))
    assert rep.ok, rep.text()
    placed = {k: v for k, v in rep.placement.items() if k.startswith("g_")}
    assert placed and all(v != "stopped" and "," not in v for v in placed.values()), rep.text()
    if name == "seed":
        assert set(placed.values()) == {"castor"}  # the preferred node, like heartbeat's first field
    for k, v in rep.placement.items():
        if k.startswith("ms_"):
            # DRBD is promoted exactly where the groups that need it run.
            assert "(Promoted)" in v and v.split(" (Promoted)")[0].split(", ")[-1] in placed.values(), rep.text()
    failed_node = next(iter(placed.values()))
    for k, v in rep.after_failure.items():
        assert failed_node not in v, f"{k} still on {failed_node}: " + rep.text()
        if k.startswith("g_"):
            assert v != "stopped", rep.text()


def test_crmsh_and_pcs_build_the_same_cib_as_the_xml_renderer(tmp_path):
    groups = haresources.parse(SETUPS["seed"])
    c = migrate(groups, nodes=["castor", "pollux"], fencing=False)
    direct = tmp_path / "direct.xml"
    direct.write_text(cib_xml(c))
    via_crm = tmp_path / "crm.xml"
    via_crm.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True, check=True).stdout)
    text = tmp_path / "san.crm"
    text.write_text(crmsh_text(c))
    env = dict(os.environ, CIB_file=str(via_crm), HOME=str(tmp_path))
    r = subprocess.run(["crm", "-F", "configure", "load", "update", str(text)], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    via_pcs = tmp_path / "pcs.xml"
    via_pcs.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True, check=True).stdout)
    for argv in pcs_commands(c, str(via_pcs)):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=str(tmp_path)))
        assert r.returncode == 0, (argv, r.stdout + r.stderr)
    want = summary(str(direct))
    assert summary(str(via_crm)) == want
    prims, grps, cols, orders = summary(str(via_pcs))
    assert (grps, cols, orders) == want[1:]
    assert [p[:3] for p in prims] == [p[:3] for p in want[0]]
    for f in (via_crm, via_pcs):
        r = subprocess.run(["crm_verify", "-x", str(f)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_migrate_checks_drbd_resources_against_the_drbd_configuration(tmp_path):
    import sys

    (tmp_path / "haresources").write_text(SEED)
    conf = tmp_path / "drbd.conf"
    conf.write_text("resource iscsi.config { on castor { device /dev/drbd0; disk /dev/sdb1; "
                    "address 10.0.0.1:7788; meta-disk internal; } on pollux { device /dev/drbd0; disk /dev/sdb1; "
                    "address 10.0.0.2:7788; meta-disk internal; } }\n")
    ocfkit = os.path.join(os.path.dirname(sys.executable), "ocfkit")
    r = subprocess.run([ocfkit, "migrate", "--haresources", str(tmp_path / "haresources"), "--drbd-conf", str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "resource(s) iscsi.lun not defined" in r.stderr
    conf.write_text(conf.read_text() + conf.read_text().replace("iscsi.config", "iscsi.lun").replace(
        "drbd0", "drbd1").replace(":7788", ":7789"))
    r = subprocess.run([ocfkit, "migrate", "--haresources", str(tmp_path / "haresources"), "--drbd-conf", str(conf),
                        "--format", "cib"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "split brain" in r.stderr and 'type="drbd"' in r.stdout


@pytest.mark.parametrize("backend", ["iet", "lio"])
def test_generated_files_pass_drbdadm_and_the_pacemaker_pipeline(backend, tmp_path):
    import sys

    from agents.tools import drbd as drbdtool
    from ocf.exec import run as seam

    ocfkit = os.path.join(os.path.dirname(sys.executable), "ocfkit")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    desc = tmp_path / "san.toml"
    with open(os.path.join(root, "examples", "seed-san.toml")) as f:
        text = f.read()
    text = text.replace('target_backend = "iet"', f'target_backend = "{backend}"')
    assert f'target_backend = "{backend}"' in text
    desc.write_text(text.replace("fencing = true", "fencing = false"))
    r = subprocess.run([ocfkit, "generate", str(desc), "--out", str(tmp_path / "out")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    assert os.stat(out / "authkeys").st_mode & 0o777 == 0o600
    defined = drbdtool.defined_resources(lambda argv, **kw: seam(argv, timeout=30, **kw), str(out / "drbd.conf"))
    assert defined == ["iscsi.config", "iscsi.lun"]
    rep = check(str(out / "cib.xml"))
    assert rep.ok, rep.text()
    assert set(v for k, v in rep.placement.items() if k.startswith("g_")) == {"castor"}
