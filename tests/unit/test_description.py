"""The cluster description: the seed's SAN regenerates the seed's heartbeat files."""

from __future__ import annotations

import copy
import os
import xml.etree.ElementTree as ET

import pytest

from crm import description
from heartbeat_legacy import authkeys, hacf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = os.path.join(ROOT, "tests", "unit", "fixtures", "heartbeat")


def seed_desc():
    return description.load(os.path.join(ROOT, "examples", "seed-san.toml"))


def read(name):
    with open(os.path.join(SEED, name)) as f:
        return f.read()


def test_the_example_regenerates_the_seeds_haresources_and_authkeys():
    files = description.generate(seed_desc())
    assert files["haresources"][0] == read("seed-haresources")
    assert files["authkeys"] == (read("seed-authkeys"), 0o600)


def test_the_example_regenerates_the_seeds_ha_cf_settings():
    got = hacf.parse(description.generate(seed_desc())["ha.cf"][0])
    want = hacf.parse(read("seed-ha.cf"))
    for key in ("logfacility", "autojoin", "keepalive", "deadtime", "warntime", "initdead", "mcast", "bcast", "ping"):
        assert got.values(key) == want.values(key), key
    assert got.nodes == want.nodes
    assert got.first("auto_failback") == ["no"]
    # The one deliberate difference: Debian 12 moved ipfail (the seed's path makes heartbeat refuse).
    assert got.first("respawn") == ["hacluster", "/usr/libexec/heartbeat/ipfail"]
    assert not [f for f in hacf.validate(got, hostname="castor", root="/nonexistent") if f.severity == "error"
                and "respawn" not in f.message]
    assert not [f for f in authkeys.validate(authkeys.parse(read("seed-authkeys")), mode=0o100600)
                if f.severity == "error"]


def test_target_configuration_per_backend():
    d = seed_desc()
    name, text = description.target_conf(d)  # the seed runs tgt now, with the seed's serial number
    assert name == "targets.conf" and "<target iqn.2015-12.cl.caschile:lun.filer>" in text
    assert "    <backing-store /dev/vg0drbd/filer>\n        lun 1\n        scsi_sn 291109213201\n" in text
    cib = ET.fromstring(description.generate(d)["cib.xml"][0])
    daemon = next(p for p in cib.iter("primitive") if p.get("id") == "p_iscsitarget")
    assert (daemon.get("class"), daemon.get("provider"), daemon.get("type")) == ("ocf", "ocfkit", "iscsitarget")
    params = {n.get("name"): n.get("value") for n in daemon.iter("nvpair")}
    assert params == {"implementation": "tgt", "config": "/srv/iscsi-config/targets.conf"}
    d["cluster"]["target_backend"] = "lio"  # no daemon: a target and its LUNs, in heartbeat and Pacemaker alike
    files = description.generate(d)
    assert "iscsitarget" not in files["haresources"][0]
    assert (" portblock::tcp::3260::block iSCSITarget::iqn.2015-12.cl.caschile:lun.filer::lio "
            "iSCSILogicalUnit::iqn.2015-12.cl.caschile:lun.filer::0::/dev/vg0drbd/filer::lio "
            "portblock::tcp::3260::unblock") in files["haresources"][0]
    groups = ET.fromstring(files["cib.xml"][0]).iter("group")
    group = next(g for g in groups if g.find("primitive[@type='LVM']") is not None)
    members = [(p.get("type"), {n.get("name"): n.get("value") for n in p.iter("nvpair")}) for p in group]
    assert members[3:5] == [
        ("iSCSITarget", {"iqn": "iqn.2015-12.cl.caschile:lun.filer", "implementation": "lio"}),
        ("iSCSILogicalUnit", {"target_iqn": "iqn.2015-12.cl.caschile:lun.filer", "lun": "0",
                              "path": "/dev/vg0drbd/filer", "implementation": "lio", "scsi_sn": "291109213201"})]
    assert "target.conf" not in files and "ietd.conf" not in files and "targets.conf" not in files
    d["cluster"]["target_backend"] = "scst"
    with pytest.raises(description.DescriptionError, match="target_backend: one of iet, tgt, lio"):
        description.generate(d)


def test_iet_is_reported_with_lio_and_tgt_offered_and_translated_by_target():
    d = seed_desc()
    d["cluster"]["target_backend"] = "iet"
    iet = r'seed-san.toml:11: cluster.target_backend: the IET kernel module.*"lio".*"tgt".*--target'
    with pytest.raises(description.DescriptionError, match=iet):
        description.generate(d)
    t = d["target"][0]
    t.update(incoming_user="chapuser", incoming_password="chapsecret12", initiators=["iqn.1993-08.org.debian:01:c1",
                                                                                      "192.168.7.0/24"])
    t["lun"][0]["scsi_id"] = "filer0"
    files = description.generate(d, target="lio")
    target = next(p for p in ET.fromstring(files["cib.xml"][0]).iter("primitive") if p.get("type") == "iSCSITarget")
    assert {n.get("name"): n.get("value") for n in target.iter("nvpair")} == {
        "iqn": "iqn.2015-12.cl.caschile:lun.filer", "implementation": "lio",
        "allowed_initiators": "iqn.1993-08.org.debian:01:c1 192.168.7.0/24", "incoming_username": "chapuser",
        "incoming_password": "chapsecret12"}
    lu = next(p for p in ET.fromstring(files["cib.xml"][0]).iter("primitive") if p.get("type") == "iSCSILogicalUnit")
    assert {n.get("name"): n.get("value") for n in lu.iter("nvpair")}["scsi_id"] == "filer0"
    assert files["cib.xml"][1] == files["cluster.crm"][1] == 0o600 and files["pcs.sh"][1] == 0o700
    assert "chapsecret12" not in files["README"][0]
    files = description.generate(d, target="tgt")
    assert files["targets.conf"] == (
        "<target iqn.2015-12.cl.caschile:lun.filer>\n    <backing-store /dev/vg0drbd/filer>\n        lun 1\n"
        "        scsi_sn 291109213201\n        scsi_id filer0\n    </backing-store>\n"
        "    incominguser chapuser chapsecret12\n    initiator-name iqn.1993-08.org.debian:01:c1\n"
        "    initiator-address 192.168.7.0/24\n</target>\n", 0o600)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["service"].update(drbd="nope"), "no drbd resource nope"),
    (lambda d: d["node"].pop(), "exactly two"),
    (lambda d: d["filesystem"][0].pop("directory"), "directory is missing"),
])
def test_inconsistent_descriptions_say_what_is_wrong(edit, message):
    d = copy.deepcopy(seed_desc())
    edit(d)
    with pytest.raises(description.DescriptionError, match=message):
        description.generate(d)
