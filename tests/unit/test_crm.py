"""crm: migration of heartbeat v1 groups and the three renderings."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

import pytest

from crm.migrate import migrate
from crm.model import Clone, Group
from crm.render import cib_xml, crmsh_quote, crmsh_text, pcs_commands
from heartbeat_legacy import haresources

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "heartbeat")


def seed():
    with open(os.path.join(FIX, "seed-haresources")) as f:
        return migrate(haresources.parse(f.read()), nodes=["castor", "pollux"], fencing=False)


def test_crmsh_quoting_keeps_simple_words_bare():
    assert crmsh_quote("iscsi.config") == "iscsi.config"
    assert crmsh_quote("/dev/drbd0") == '"/dev/drbd0"'
    assert crmsh_quote('a "b" c') == '"a \\"b\\" c"'


def test_seed_migration_makes_promotable_drbd_clones_and_groups_in_order():
    c = seed()
    clones = [r for r in c.resources if isinstance(r, Clone)]
    assert [cl.child.params for cl in clones] == [(("drbd_resource", "iscsi.config"),),
                                                  (("drbd_resource", "iscsi.lun"),)]
    assert all(cl.promotable and cl.child.agent == "ocf:ocfkit:drbd" for cl in clones)
    groups = [r for r in c.resources if isinstance(r, Group)]
    assert [m.type for m in groups[1].members] == ["IPaddr2", "LVM", "portblock", "iscsitarget", "portblock"]
    ip = groups[1].members[0]
    assert dict(ip.params) == {"ip": "192.168.7.179", "cidr_netmask": "24", "nic": "eth0"}
    assert [(o.first, o.first_action, o.then) for o in c.orders] == [
        ("ms_drbd_iscsi.config", "promote", groups[0].id), ("ms_drbd_iscsi.lun", "promote", groups[1].id)]
    assert all(col.with_role == "Promoted" for col in c.colocations)
    assert ("resource-stickiness", "200") in c.rsc_defaults
    assert ("stonith-enabled", "false") in c.properties
    # Monitors of the two roles need different intervals (Pacemaker tells ops apart by interval).
    intervals = [op.interval for op in clones[0].child.ops if op.name == "monitor"]
    assert len(set(intervals)) == 2


def test_fencing_stays_on_with_an_explanation_unless_opted_out():
    with open(os.path.join(FIX, "seed-haresources")) as f:
        c = migrate(haresources.parse(f.read()), nodes=["castor", "pollux"])
    assert ("stonith-enabled", "true") in c.properties
    assert any("split brain" in w for w in c.warnings)


def test_the_three_renderings_name_the_same_resources_and_constraints():
    c = seed()
    text = crmsh_text(c)
    root = ET.fromstring(cib_xml(c))
    cmds = pcs_commands(c)
    prim_ids = {p.get("id") for p in root.iter("primitive")}
    assert prim_ids == {ln.split()[1] for ln in text.splitlines() if ln.startswith("primitive ")}
    assert prim_ids == {argv[5] for argv in cmds if argv[3:5] == ["resource", "create"]}
    cons = {e.get("id") for e in root.find("configuration/constraints")}
    assert cons - {e.get("id") for e in root.iter("rsc_location")} == {
        ln.split()[1] for ln in text.splitlines() if ln.startswith(("colocation ", "order "))}
    assert root.get("validate-with") == "pacemaker-3.9"


def test_bare_ip_and_ipaddr_map_to_ipaddr2_without_lvs_support():
    c = migrate(haresources.parse("alpha 10.0.0.9/24/eth1 Dummy::x\n"), nodes=["alpha", "beta"])
    g = next(r for r in c.resources if isinstance(r, Group))
    assert g.members[0].agent == "ocf:ocfkit:IPaddr2"
    assert dict(g.members[0].params) == {"ip": "10.0.0.9", "cidr_netmask": "24", "nic": "eth1"}
    assert g.members[1].agent == "lsb:Dummy"


def test_the_packages_ocfkit_wrapper_names_migrate_like_heartbeats_own():
    with open(os.path.join(FIX, "seed-haresources")) as f:
        text = f.read()
    renamed = text
    for name in ("drbddisk", "IPaddr2", "IPaddr", "Filesystem", "portblock", "LVM", "iscsitarget"):
        renamed = re.sub(rf"(?<![\w-]){name}::", f"ocfkit-{name}::", renamed)
    assert renamed.count("ocfkit-") >= 4
    plain = migrate(haresources.parse(text), nodes=["castor", "pollux"], fencing=False)
    packaged = migrate(haresources.parse(renamed), nodes=["castor", "pollux"], fencing=False)
    assert crmsh_text(packaged) == crmsh_text(plain)
    # an unknown ocfkit- name stays an LSB script, with the warning
    c = migrate(haresources.parse("alpha 10.0.0.9 ocfkit-Nope::x\n"), nodes=["alpha", "beta"])
    g = next(r for r in c.resources if isinstance(r, Group))
    assert g.members[1].agent == "lsb:ocfkit-Nope"


def test_graph_shows_groups_in_order_promotion_orders_and_colocations():
    from crm.graph import dot

    text = dot(cib_xml(seed()))
    assert text.startswith("digraph")
    assert '"p_ip_192.168.7.179" -> "p_lvm_vg0drbd" [color=gray];' in text
    assert '"ms_drbd_iscsi.lun" -> "g_192.168.7.179" [label="promote then start"];' in text
    assert '"g_192.168.7.179" -> "ms_drbd_iscsi.lun" [style=dashed, label="with Promoted (INFINITY)"];' in text
    assert 'label="promotable clone ms_drbd_iscsi.config"' in text


def test_the_seeds_iscsitarget_becomes_ocfkits_target_daemon():
    c = migrate(haresources.parse("alpha 10.0.0.9 iscsitarget iscsitarget::/srv/c/targets.conf\n"),
                nodes=["alpha", "beta"])
    g = next(r for r in c.resources if isinstance(r, Group))
    assert [m.agent for m in g.members[1:]] == ["ocf:ocfkit:iscsitarget"] * 2
    assert [dict(m.params) for m in g.members[1:]] == [{}, {"config": "/srv/c/targets.conf"}]
    assert not [w for w in c.warnings if "iscsitarget" in w]


CRMFIX = os.path.join(os.path.dirname(__file__), "fixtures", "crm")


def test_stonith_devices_render_in_all_three_dialects_without_force():
    from crm import fencing

    plan = fencing.plan({"device": [{"agent": "fence_ipmilan", "fences": ["castor"], "params": {"ip": "10.0.0.1"},
                                     "secrets": {"password": "pw"}},
                                    {"agent": "fence_ipmilan", "fences": ["pollux"], "params": {"ip": "10.0.0.2"},
                                     "secrets": {"password": "pw2"}}]}, ["castor", "pollux"])
    with open(os.path.join(FIX, "seed-haresources")) as f:
        c = migrate(haresources.parse(f.read()), nodes=["castor", "pollux"], fencing=plan)
    cmds = pcs_commands(c)
    assert ["pcs", "-f", "cib.xml", "stonith", "create", "st_ipmilan_castor", "fence_ipmilan", "ip=10.0.0.1",
            "pcmk_host_list=castor", "password=pw", "op", "monitor", "interval=60s", "timeout=20s"] in cmds
    assert ["pcs", "-f", "cib.xml", "constraint", "location", "st_ipmilan_castor", "avoids", "castor"] in cmds
    assert not [a for a in cmds if "--force" in a]
    assert "location l_st_ipmilan_castor_not_on_castor st_ipmilan_castor -inf: castor" in crmsh_text(c)
    assert not c.warnings  # fencing given: nothing asks to add it by hand
    root = ET.fromstring(cib_xml(c))
    st = root.find(".//primitive[@id='st_ipmilan_pollux']")
    assert (st.get("class"), st.get("type"), st.get("provider")) == ("stonith", "fence_ipmilan", None)


def test_ietd_conf_and_initiators_allow_become_target_tables():
    from crm import ietd

    with open(os.path.join(CRMFIX, "seed-ietd.conf")) as f, open(os.path.join(CRMFIX, "seed-initiators.allow")) as a:
        targets, notes = ietd.parse(f.read(), a.read())
    assert targets == [{"iqn": "iqn.2015-12.cl.caschile:lun.filer", "tid": 1, "incoming_user": "filer-chap",
                        "incoming_password": "chapsecret12",
                        "lun": [{"lun": 0, "path": "/dev/vg0drbd/filer", "type": "blockio",
                                 "scsi_sn": "291109213201"}],
                        "initiators": ["192.168.7.0/24", "iqn.1993-08.org.debian:01:client1"]}]
    assert "MaxConnections" in notes[0] and "Alias" in notes[0]


def test_ietd_conf_mistakes_name_their_line():
    import pytest

    from crm import ietd

    with pytest.raises(ietd.IetdError, match="ietd.conf:2: Lun 0 has no Path="):
        ietd.parse("Target iqn.2001-01.x:y\n  Lun 0 Type=blockio\n")
    with pytest.raises(ietd.IetdError, match="initiators.allow:1: iqn.2001-01.x:z is no target"):
        ietd.parse("Target iqn.2001-01.x:y\n", "iqn.2001-01.x:z 10.0.0.1\n")


def run_migrate(tmp_path, *extra):
    import contextlib
    import io

    from ocfkit import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["migrate", "--haresources", os.path.join(FIX, "seed-haresources"), "--ha-cf",
                       os.path.join(FIX, "seed-ha.cf"), "--pacemaker", "2.1", *extra])
    return rc, out.getvalue(), err.getvalue()


def test_migrate_wants_fencing_said_and_masks_secrets_unless_written_0600(tmp_path):
    rc, out, err = run_migrate(tmp_path)
    assert rc == 2 and "--fencing FILE" in err and "--no-fencing" in err and not out
    rc, out, err = run_migrate(tmp_path, "--fencing", os.path.join(CRMFIX, "fencing-sbd.toml"), "--format", "cib")
    assert rc == 0, err
    root = ET.fromstring(out)
    assert root.find(".//primitive[@id='st_sbd']").get("type") == "fence_sbd"
    assert "split brain" not in err
    rc, out, err = run_migrate(tmp_path, "--fencing", os.path.join(CRMFIX, "fencing-sbd.toml"), "--target", "lio",
                               "--ietd-conf", os.path.join(CRMFIX, "seed-ietd.conf"))
    assert rc == 0, err
    assert "chapsecret12" not in out and 'incoming_password="********"' in out
    assert "secrets are masked" in err and "not carried over: Alias" in err
    assert "p_target_lun.filer ocf:ocfkit:iSCSITarget" in out and "iscsitarget" not in out.split("group")[0]
    # LIO's ACLs are by name: the address is dropped (the named initiator still narrows access), and said
    rc, out, err = run_migrate(tmp_path, "--fencing", os.path.join(CRMFIX, "fencing-sbd.toml"), "--target", "lio",
                               "--ietd-conf", os.path.join(CRMFIX, "seed-ietd.conf"),
                               "--initiators-allow", os.path.join(CRMFIX, "seed-initiators.allow"))
    assert rc == 0, err
    assert 'allowed_initiators="iqn.1993-08.org.debian:01:client1"' in out and "192.168.7.0/24" not in out
    assert "not carried over: 192.168.7.0/24 (LIO's ACLs are by initiator name" in err
    allow = tmp_path / "addresses-only.allow"
    allow.write_text("iqn.2015-12.cl.caschile:lun.filer 192.168.7.0/24\n")
    rc, out, err = run_migrate(tmp_path, "--fencing", os.path.join(CRMFIX, "fencing-sbd.toml"), "--target", "lio",
                               "--ietd-conf", os.path.join(CRMFIX, "seed-ietd.conf"), "--initiators-allow", str(allow))
    assert rc == 2 and "names only addresses (192.168.7.0/24)" in err and "--target tgt" in err
    dest = tmp_path / "san.crm"
    rc, out, err = run_migrate(tmp_path, "--fencing", os.path.join(CRMFIX, "fencing-sbd.toml"), "--target", "tgt",
                               "--ietd-conf", os.path.join(CRMFIX, "seed-ietd.conf"), "--out", str(dest))
    assert rc == 0, err
    assert os.stat(dest).st_mode & 0o777 == 0o600 and 'incoming_password=chapsecret12' in dest.read_text()
    text = dest.read_text()
    # tgt needs a tid and its LUN 0 is the controller: the seed's LUN 0 is tgt's LUN 1; tgtd is a clone.
    assert re.search(r"primitive p_target_lun.filer ocf:ocfkit:iSCSITarget params implementation=tgt "
                     r"iqn=\S+ tid=1\b", text), text
    assert re.search(r"primitive p_lun_lun.filer_0 ocf:ocfkit:iSCSILogicalUnit params implementation=tgt "
                     r"target_iqn=\S+ lun=1 ", text), text
    assert "clone cl_tgtd p_tgtd" in text and "p_iscsitarget" not in text


def test_migrate_fencing_file_mistakes_name_file_and_line(tmp_path):
    bad = tmp_path / "fencing.toml"
    bad.write_text("[fencing.sbd]\ndevices = [\"/dev/sdb\"]\nwatchdog_timeout = \"5\"\n")
    rc, _out, err = run_migrate(tmp_path, "--fencing", str(bad))
    assert rc == 2 and f"{bad}:3: fencing.sbd.watchdog_timeout: an integer 1..120 is needed" in err


def test_the_installed_pacemaker_decides_the_default_dialect():
    from crm.render import installed_pacemaker
    from ocf.testing import FakeRunner

    def answer(out="", missing=False):
        return FakeRunner().expect(["pacemakerd", "--version"], out, missing=missing)

    assert installed_pacemaker(answer("Pacemaker 2.1.5\nWritten by Andrew Beekhof\n")) == "2.1"
    assert installed_pacemaker(answer("Pacemaker 3.0.0\nWritten by Andrew Beekhof\n")) == "3.0"
    assert installed_pacemaker(answer(missing=True)) == "2.1"


def test_graph_and_description_readers_refuse_a_fifo_and_a_huge_file_at_once(tmp_path):
    from crm import graph
    from crm.check import MAX_CIB_BYTES, InputError
    from ocfkit import description

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        graph.read(str(fifo))
    with pytest.raises(description.DescriptionError, match="FIFO"):
        description.load(str(fifo))
    huge = tmp_path / "huge.xml"
    with open(huge, "wb") as f:
        f.truncate(MAX_CIB_BYTES + 1)
    with pytest.raises(InputError, match="bytes"):
        graph.read(str(huge))
    with pytest.raises(description.DescriptionError, match="bytes"):
        description.load(str(huge))


def test_crm_imports_nothing_above_it():
    """crm is Pacemaker only: the description (which ties crm, heartbeat_legacy and the DRBD and target files
    together) lives on the command's floor, ocfkit/, and no module of crm imports ocfkit (issue 22)."""
    import ast

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "crm")
    upward = []
    for name in sorted(os.listdir(root)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(root, name), encoding="utf-8") as f:
            tree = ast.parse(f.read(), name)
        for node in ast.walk(tree):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            upward += [f"{name}:{node.lineno}: {m}" for m in mods if m.split(".")[0] == "ocfkit"]
    assert upward == []
    assert not os.path.exists(os.path.join(root, "description.py"))
