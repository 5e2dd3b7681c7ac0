"""The cluster description: the seed's SAN regenerates the seed's heartbeat files."""

from __future__ import annotations

import copy
import os
import xml.etree.ElementTree as ET

import pytest

from heartbeat_legacy import authkeys, hacf
from ocfkit import description

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


def test_authkeys_without_a_key_in_the_description_gets_a_random_one():
    desc = seed_desc()
    del desc["heartbeat"]["auth_key"]
    desc["heartbeat"]["auth_method"] = "sha1"
    keys = [authkeys.parse(description.authkeys_text(desc)) for _ in range(2)]
    for ak in keys:
        assert not [f for f in authkeys.validate(ak, mode=0o100600) if f.severity == "error"]
        method, key = ak.keys[ak.active]
        assert method == "sha1" and len(key) == 40
    assert keys[0].keys[keys[0].active] != keys[1].keys[keys[1].active]
    desc["heartbeat"]["auth_method"] = "crc"
    assert authkeys.parse(description.authkeys_text(desc)).keys[3] == ("crc", "")


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
    assert "        bsoflags direct\n" in text  # Type=blockio: no page cache, as IET's blockio
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
    # LIO's ACLs are by initiator name: an address would be refused by the agent at start.
    lio_acl = r"target\[0\].initiators\[1\]: 192.168.7.0/24: LIO's ACLs are by initiator name.*--target lio"
    with pytest.raises(description.DescriptionError, match=lio_acl):
        description.generate(d, target="lio")
    lio = copy.deepcopy(d)
    lio["target"][0]["initiators"] = ["iqn.1993-08.org.debian:01:c1"]
    files = description.generate(lio, target="lio")
    target = next(p for p in ET.fromstring(files["cib.xml"][0]).iter("primitive") if p.get("type") == "iSCSITarget")
    assert {n.get("name"): n.get("value") for n in target.iter("nvpair")} == {
        "iqn": "iqn.2015-12.cl.caschile:lun.filer", "implementation": "lio",
        "allowed_initiators": "iqn.1993-08.org.debian:01:c1", "incoming_username": "chapuser",
        "incoming_password": "chapsecret12"}
    lu = next(p for p in ET.fromstring(files["cib.xml"][0]).iter("primitive") if p.get("type") == "iSCSILogicalUnit")
    assert {n.get("name"): n.get("value") for n in lu.iter("nvpair")}["scsi_id"] == "filer0"
    assert files["cib.xml"][1] == files["cluster.crm"][1] == 0o600 and files["pcs.sh"][1] == 0o700
    assert "chapsecret12" not in files["README"][0]
    files = description.generate(d, target="tgt")
    assert files["targets.conf"] == (
        "<target iqn.2015-12.cl.caschile:lun.filer>\n    <backing-store /dev/vg0drbd/filer>\n        lun 1\n"
        "        scsi_sn 291109213201\n        scsi_id filer0\n        bsoflags direct\n    </backing-store>\n"
        "    incominguser chapuser chapsecret12\n    initiator-name iqn.1993-08.org.debian:01:c1\n"
        "    initiator-address 192.168.7.0/24\n</target>\n", 0o600)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["service"].update(drbd="nope"), "no drbd resource nope"),
    (lambda d: d["node"].pop(), "exactly two"),
    (lambda d: d["filesystem"][0].pop("directory"), r"filesystem\[0\].directory: missing"),
])
def test_inconsistent_descriptions_say_what_is_wrong(edit, message):
    d = copy.deepcopy(seed_desc())
    edit(d)
    with pytest.raises(description.DescriptionError, match=message):
        description.generate(d)


# --- issue 16: fencing, membership, dependencies, dialects, validation, safe writing ---------------------------

GOLDEN = os.path.join(ROOT, "tests", "unit", "fixtures", "crm", "golden")
EXAMPLES = ("seed-san", "seed-san-lio", "seed-san-tgt", "two-groups")


def example(name):
    return description.load(os.path.join(ROOT, "examples", f"{name}.toml"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_generated_file_matches_its_golden_copy(name):
    """Regenerate with OCFKIT_UPDATE_GOLDEN=1 after a deliberate change, and read the diff."""
    files = description.generate(example(name), pacemaker="2.1")
    folder = os.path.join(GOLDEN, name)
    if os.environ.get("OCFKIT_UPDATE_GOLDEN"):
        os.makedirs(folder, exist_ok=True)
        for f, (text, _mode) in files.items():
            with open(os.path.join(folder, f), "w") as out:
                out.write(text)
    assert sorted(files) == sorted(os.listdir(folder))
    for f, (text, _mode) in files.items():
        with open(os.path.join(folder, f)) as golden:
            assert text == golden.read(), f


def test_generate_refuses_a_description_without_fencing_and_takes_an_explicit_none():
    d = seed_desc()
    del d["fencing"]
    with pytest.raises(description.DescriptionError, match="Pacemaker starts nothing without a fence device.*none"):
        description.generate(d)
    d["fencing"] = "none"
    files = description.generate(d)
    cib = ET.fromstring(files["cib.xml"][0])
    props = {n.get("name"): n.get("value") for n in cib.iter("nvpair") if "bootstrap" in n.get("id")}
    assert props["stonith-enabled"] == "false"
    assert not [p for p in cib.iter("primitive") if p.get("class") == "stonith"]
    assert "resource-and-stonith" not in files["drbd.conf"][0]  # DRBD would freeze I/O with nobody to fence
    assert "sbd" not in files and "Fencing is OFF" in files["README"][0]
    d["cluster"]["fencing"] = True  # the old switch is refused, not ignored
    with pytest.raises(description.DescriptionError, match="cluster.fencing: moved"):
        description.generate(d)


def test_sbd_gives_the_device_the_settings_file_the_create_step_and_timeouts_that_fit():
    files = description.generate(seed_desc())
    cib = ET.fromstring(files["cib.xml"][0])
    st = next(p for p in cib.iter("primitive") if p.get("class") == "stonith")
    assert (st.get("id"), st.get("type")) == ("st_sbd", "fence_sbd")
    assert {n.get("name"): n.get("value") for n in st.iter("nvpair")} == {
        "devices": "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_sbd", "pcmk_host_list": "castor pollux",
        "pcmk_delay_max": "15s"}
    props = {n.get("name"): n.get("value") for n in cib.iter("nvpair") if "bootstrap" in n.get("id")}
    assert props["stonith-enabled"] == "true"
    assert props["stonith-timeout"] == "30s"  # 1.2 x (msgwait 10 + delay 15)
    assert not cib.iter("rsc_location").__next__().get("rsc").startswith("st_")  # fences both: no ban
    sbd = files["sbd"][0]
    assert 'SBD_DEVICE="/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_sbd"' in sbd and "SBD_WATCHDOG_TIMEOUT=5" in sbd
    assert "SBD_PACEMAKER=yes" in sbd and "SBD_WATCHDOG_DEV=/dev/watchdog" in sbd
    assert "sbd -d /dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_sbd -1 5 -4 10 create" in files["README"][0]
    assert "msgwait (10s, at least 2 x the watchdog timeout 5s" in files["cluster.crm"][0]
    assert "FENCING" not in " ".join(files)  # no warning asking to add fencing by hand


@pytest.mark.parametrize(("sbd", "message"), [
    ({"msgwait": 6}, "less than twice watchdog_timeout"),
    ({"stonith_timeout": 20}, r"below 1.2 x \(msgwait 10 \+ delay_max 15\) = 30"),
    ({"devices": []}, "one to three shared block devices"),
    ({"devices": ["/dev/a", "/dev/b", "/dev/c", "/dev/d"]}, "one to three"),
])
def test_sbd_timeouts_and_devices_are_checked(sbd, message):
    d = seed_desc()
    d["fencing"]["sbd"].update(sbd)
    with pytest.raises(description.DescriptionError, match=message):
        description.generate(d)


IPMILAN_METADATA = """<?xml version="1.0" ?><resource-agent name="fence_ipmilan"><parameters>
<parameter name="action" required="1"/><parameter name="ip" required="1" obsoletes="ipaddr"/>
<parameter name="ipaddr" required="1" deprecated="1"/><parameter name="username"/><parameter name="password"/>
<parameter name="lanplus"/><parameter name="plug" required="1"/></parameters></resource-agent>"""


def test_fence_devices_are_checked_against_the_agents_meta_data_and_kept_off_their_own_node():
    from ocf.testing import FakeRunner

    d = example("seed-san-lio")
    run = FakeRunner().expect(["/usr/sbin/fence_ipmilan", "-o", "metadata"], IPMILAN_METADATA).expect(
        ["/usr/sbin/fence_ipmilan", "-o", "metadata"], IPMILAN_METADATA)
    files = description.generate(d, run=run)
    run.assert_done()
    cib = ET.fromstring(files["cib.xml"][0])
    bans = {(loc.get("rsc"), loc.get("node"), loc.get("score")) for loc in cib.iter("rsc_location")
            if loc.get("rsc").startswith("st_")}
    assert bans == {("st_ipmilan_castor", "castor", "-INFINITY"), ("st_ipmilan_pollux", "pollux", "-INFINITY")}
    assert "the parameter names were not checked" not in files["cluster.crm"][0]
    d["fencing"]["device"][0]["params"]["ipx"] = "1"
    with pytest.raises(description.DescriptionError, match="fence_ipmilan has no parameter ipx"):
        description.generate(d, run=FakeRunner().expect(["/usr/sbin/fence_ipmilan", "-o", "metadata"],
                                                        IPMILAN_METADATA))
    del d["fencing"]["device"][0]["params"]["ipx"]
    del d["fencing"]["device"][0]["params"]["ip"]  # required (ipaddr, its alias, would do)
    with pytest.raises(description.DescriptionError, match="fence_ipmilan requires ip or ipaddr"):
        description.generate(d, run=FakeRunner().expect(["/usr/sbin/fence_ipmilan", "-o", "metadata"],
                                                        IPMILAN_METADATA))
    # Not installed where generated: the names go unchecked, and the output says so.
    d["fencing"]["device"][0]["params"]["ip"] = "192.168.7.201"
    missing = FakeRunner().expect(["/usr/sbin/fence_ipmilan", "-o", "metadata"], missing=True).expect(
        ["/usr/sbin/fence_ipmilan", "-o", "metadata"], missing=True)
    assert "were not checked against fence_ipmilan's meta-data" in description.generate(d, run=missing)[
        "cluster.crm"][0]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["fencing"]["device"][1].update(fences=["nobody"]), "nobody is not a node of this cluster"),
    (lambda d: d["fencing"]["device"].pop(), "no device fences node pollux"),
    (lambda d: d["fencing"]["device"][0]["params"].update(password="x"), "params.password: a secret"),
    (lambda d: d["fencing"]["device"][0].update(host_map={"castor": "a"}), "either fences"),
])
def test_fence_device_mistakes_are_named(edit, message):
    d = example("seed-san-lio")
    edit(d)
    with pytest.raises(description.DescriptionError, match=message):
        description.generate(d)


def test_secrets_live_only_in_the_0600_files_that_must_hold_them():
    files = description.generate(example("seed-san-lio"))
    for secret in ("ipmi-castor", "ipmi-pollux", "chapsecret12"):
        holders = {f for f, (text, _m) in files.items() if secret in text}
        assert holders, secret
        for f in holders:
            assert files[f][1] & 0o077 == 0, (secret, f)
    assert "ipmi-castor" not in files["README"][0]


def test_masked_model_hides_every_secret_in_every_rendering():
    from crm import render
    from crm.model import MASK, masked

    model = description.cluster_model(example("seed-san-lio"), fencing=__import__("crm.fencing").fencing.plan(
        example("seed-san-lio")["fencing"], ["castor", "pollux"]))
    for text in (render.crmsh_text(masked(model)), render.cib_xml(masked(model)), render.pcs_script(masked(model))):
        assert "ipmi-castor" not in text and "chapsecret12" not in text and MASK in text


def test_the_target_group_runs_with_and_after_the_filesystem_holding_its_configuration():
    cib = ET.fromstring(description.generate(seed_desc())["cib.xml"][0])
    cols = {(c.get("rsc"), c.get("with-rsc"), c.get("score")) for c in cib.iter("rsc_colocation")}
    orders = {(o.get("first"), o.get("first-action"), o.get("then")) for o in cib.iter("rsc_order")}
    assert ("g_192.168.7.179", "g_iscsi.config", "INFINITY") in cols
    assert ("g_iscsi.config", "start", "g_192.168.7.179") in orders
    # LIO reads no file from the configuration filesystem: no such tie.
    cib = ET.fromstring(description.generate(example("seed-san-lio"))["cib.xml"][0])
    assert ("g_192.168.7.179", "g_iscsi.config") not in {(c.get("rsc"), c.get("with-rsc"))
                                                        for c in cib.iter("rsc_colocation")}


def test_a_lun_outside_the_service_volume_group_is_refused():
    d = seed_desc()
    d["target"][0]["lun"][0]["path"] = "/dev/vg01/other"
    with pytest.raises(description.DescriptionError, match="not a volume of service.volume_group vg0drbd"):
        description.generate(d)


def test_corosync_conf_has_a_knet_link_per_network_and_two_node():
    text = description.generate(seed_desc())["corosync.conf"][0]
    assert "transport: knet" in text and "two_node: 1" in text and "token: 3000" in text
    assert "ring0_addr: 192.168.7.177\n        ring1_addr: 10.10.10.101" in text
    assert text.count("linknumber:") == 2 and "corosync-keygen" in text
    d = seed_desc()
    d["corosync"]["links"] = ["replication_address"]
    text = description.generate(d)["corosync.conf"][0]
    assert "ring0_addr: 10.10.10.101" in text and "ring1_addr" not in text


def test_drbd_fencing_follows_the_manager_and_the_drbd_version():
    files = description.generate(seed_desc())
    pm, hb = files["drbd.conf"][0], files["drbd-heartbeat.conf"][0]
    assert "    disk { fencing resource-and-stonith; }" in pm  # 8.4: in disk {}
    assert ('handlers { fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh"; '
            'after-resync-target "/usr/lib/drbd/crm-unfence-peer.9.sh"; }') in pm
    assert "disk { fencing resource-only; }" in hb
    assert 'fence-peer "/usr/libexec/heartbeat/drbd-peer-outdater -t 5";' in hb
    cf = hacf.parse(files["ha.cf"][0])  # dopd answers drbd-peer-outdater: heartbeat runs it, with API access
    assert ["hacluster", "/usr/libexec/heartbeat/dopd"] in cf.values("respawn")
    assert cf.first("apiauth") == ["dopd", "gid=haclient", "uid=hacluster"]
    assert not [f for f in hacf.validate(cf, hostname="castor") if f.severity == "error"]
    assert files["drbd.conf"][1] == files["drbd-heartbeat.conf"][1] == 0o600
    v9 = description.generate(example("seed-san-tgt"))["drbd.conf"][0]
    assert "fencing resource-and-stonith; }" in v9.split("net {")[1].split("\n")[0] and "disk {" not in v9


def test_the_cib_names_the_schema_of_the_pacemaker_it_is_for():
    two = ET.fromstring(description.generate(seed_desc(), pacemaker="2.1")["cib.xml"][0])
    three = ET.fromstring(description.generate(seed_desc(), pacemaker="3.0")["cib.xml"][0])
    assert (two.get("validate-with"), two.get("crm_feature_set")) == ("pacemaker-3.9", "3.16.1")
    assert (three.get("validate-with"), three.get("crm_feature_set")) == ("pacemaker-4.0", None)
    assert not list(three.iter("master")) and {o.get("role") for o in three.iter("op")} <= {None, "Promoted",
                                                                                              "Unpromoted"}
    with pytest.raises(description.DescriptionError, match="2.1 or 3.0"):
        description.generate(seed_desc(), pacemaker="1.1")


def test_the_pcs_script_never_forces_and_builds_its_own_cib_file():
    text = description.generate(seed_desc())["pcs.sh"][0]
    assert "--force" not in text and "cibadmin --empty > pcs-cib.xml" in text
    assert "pcs -f pcs-cib.xml stonith create st_sbd fence_sbd" in text


BAD_VALUES = [
    ('name = "castor"', 'name = "cas tor"', 14, "node[0].name"),
    ('name = "pollux"', 'name = "-pollux"', 19, "node[1].name"),
    ('auth_key = "password"', 'auth_key = "pass\\nword"', 46, "heartbeat.auth_key"),
    ('directory = "/srv/iscsi-config"', 'directory = "/srv/x;y"', 64, "filesystem[0].directory"),
    ('media = ["mcast', 'media = ["# mcast', 41, "heartbeat.media"),
    ('shared_secret = "password"\n\n[[drbd]]', 'shared_secret = "pass\\"word"\n\n[[drbd]]', 53,
     "drbd[0].shared_secret"),
    ('vip = "192.168.7.179"', 'vip = "192.168.7.179/24"', 68, "service.vip"),
    ('iqn = "iqn.2015-12', 'iqn = "IQN.2015-12', 76, "target[0].iqn"),
    ('scsi_sn = "291109213201"', 'scsi_sn = "2911 09"', 83, "target[0].lun[0].scsi_sn"),
    ('watchdog_timeout = 5 ', 'watchdog_timeout = "5" ', 31, "fencing.sbd.watchdog_timeout"),
    ('token = 3000', 'tokne = 3000', 24, "corosync.tokne"),
]


@pytest.mark.parametrize(("old", "new", "line", "key"), BAD_VALUES, ids=[b[3] for b in BAD_VALUES])
def test_a_value_a_generated_file_cannot_hold_is_an_error_at_its_line_and_nothing_is_written(
        old, new, line, key, tmp_path):
    from ocfkit import cli

    with open(os.path.join(ROOT, "examples", "seed-san.toml")) as f:
        text = f.read()
    assert old in text
    src = tmp_path / "san.toml"
    src.write_text(text.replace(old, new, 1))
    with pytest.raises(description.DescriptionError) as e:
        description.generate(description.load(str(src)))
    assert f"{src}:{line}: {key}:" in str(e.value)
    out = tmp_path / "out"
    assert cli.main(["generate", str(src), "--out", str(out), "--pacemaker", "2.1"]) == 2
    assert not out.exists()


def test_files_are_written_whole_and_never_through_a_planted_symlink(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (out / "cib.xml").symlink_to(victim)
    (out / "authkeys").symlink_to(victim)
    files = description.generate(seed_desc())
    written = description.write_files(str(out), files)
    assert victim.read_text() == "keep me\n"
    assert not (out / "cib.xml").is_symlink() and (out / "cib.xml").read_text() == files["cib.xml"][0]
    assert sorted(os.path.basename(p) for p in written) == sorted(files)
    for name, (_text, mode) in files.items():
        assert os.stat(out / name).st_mode & 0o777 == mode, name
    assert sorted(os.listdir(out)) == sorted(files)  # no temporary directory left behind


def test_line_of_finds_keys_in_arrays_of_tables_and_nested_tables():
    from ocfkit.validate import line_of

    text = "[a]\nx = 1\n[[b]]\ny = 1\n[[b]]\ny = 2\n[b.c]\nz = 3\n[[b.d]]\nw = 4\n"
    assert line_of(text, ("a", "x")) == 2
    assert line_of(text, ("b", 0, "y")) == 4
    assert line_of(text, ("b", 1, "y")) == 6
    assert line_of(text, ("b", 1, "c", "z")) == 8
    assert line_of(text, ("b", 1, "d", 0, "w")) == 10
    assert line_of(text, ("nothing",)) == 0


FIELDS = [("cluster", "name"), ("node", 0, "name"), ("node", 1, "address"), ("drbd", 0, "device"),
          ("drbd", 0, "disk"), ("drbd", 0, "shared_secret"), ("filesystem", 0, "directory"), ("service", "nic"),
          ("service", "volume_group"), ("target", 0, "iqn"), ("target", 0, "lun", 0, "path"),
          ("target", 0, "lun", 0, "scsi_sn"), ("heartbeat", "auth_key"), ("heartbeat", "media", 0),
          ("fencing", "sbd", "devices", 0), ("fencing", "sbd", "watchdog")]


def _set(d, key, value):
    for k in key[:-1]:
        d = d[k]
    d[key[-1]] = value


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # the test extras bring hypothesis
    given = None

if given is not None:
    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.sampled_from(FIELDS), st.text(max_size=40))
    def test_any_string_is_refused_or_lands_intact_in_files_that_still_parse(key, value):
        """Any text in any string field: a DescriptionError, or every output still parses as its format."""
        from heartbeat_legacy import haresources

        d = copy.deepcopy(seed_desc())
        _set(d, key, value)
        try:
            files = description.generate(d)
        except description.DescriptionError:
            return
        root = ET.fromstring(files["cib.xml"][0])
        assert len(haresources.parse(files["haresources"][0])) == 2
        ak = authkeys.parse(files["authkeys"][0])
        assert ak.keys[3] == ("md5", d["heartbeat"]["auth_key"])
        assert len(hacf.parse(files["ha.cf"][0]).lines) == len(hacf.parse(
            description.generate(seed_desc())["ha.cf"][0]).lines)
        assert files["corosync.conf"][0].count("{") == files["corosync.conf"][0].count("}")
        assert files["drbd.conf"][0].count("{") == files["drbd.conf"][0].count("}")
        assert [n.get("uname") for n in root.iter("node")] == [n["name"] for n in d["node"]]

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(st.text(max_size=40).filter(lambda v: v.strip() == v))
    def test_a_fence_parameter_value_round_trips_through_every_rendering_or_is_refused(value):
        import shlex

        d = example("seed-san-lio")
        d["fencing"]["device"][0]["params"]["ip"] = value
        try:
            files = description.generate(d)
        except description.DescriptionError:
            assert not value.isprintable()
            return
        st_ = ET.fromstring(files["cib.xml"][0]).find(".//primitive[@id='st_ipmilan_castor']")
        assert {n.get("name"): n.get("value") for n in st_.iter("nvpair")}["ip"] == value
        line = next(ln for ln in files["pcs.sh"][0].splitlines() if "stonith create st_ipmilan_castor" in ln)
        assert f"ip={value}" in shlex.split(line)
        crm = next(ln for ln in files["cluster.crm"][0].splitlines() if ln.startswith("primitive st_ipmilan_castor"))
        words = shlex.split(crm.removesuffix(" \\"))  # the op continues on the next line
        assert f"ip={value}" in words


def test_a_missing_key_is_named_with_the_line_of_its_table(tmp_path):
    with open(os.path.join(ROOT, "examples", "seed-san.toml")) as f:
        text = f.read()
    src = tmp_path / "san.toml"
    src.write_text(text.replace('device = "/dev/drbd1"\n', ""))
    with pytest.raises(description.DescriptionError, match=r"san.toml:55: drbd\[1\].device: missing"):
        description.generate(description.load(str(src)))


# --- issue 19: the demo's description (examples/demo.toml) -------------------------------------------------------

def test_the_demo_description_generates_a_shared_disk_group_per_node_fencing_and_ms_logs():
    files = description.generate(example("demo"))
    assert files["haresources"][0].splitlines()[0] == (
        "node1 Filesystem::/srv/ocfkit-demo/config.disk::/srv/ocfkit-demo/config::ext4")  # no drbddisk in front
    assert "drbddisk" not in files["haresources"][0] and "p_drbd" not in files["cib.xml"][0]
    assert "timestamp: hires" in files["corosync.conf"][0] and "token: 1000" in files["corosync.conf"][0]
    cib = ET.fromstring(files["cib.xml"][0])
    fences = {p.get("id"): {n.get("name"): n.get("value") for n in p.iter("nvpair")}
              for p in cib.iter("primitive") if p.get("class") == "stonith"}
    assert fences["st_node1"]["pcmk_host_list"] == "node1" and fences["st_node1"]["pcmk_reboot_action"] == "off"
    kept_off = {(c.get("rsc"), c.get("node"), c.get("score")) for c in cib.iter("rsc_location")}
    assert ("st_node1", "node1", "-INFINITY") in kept_off and ("st_node2", "node2", "-INFINITY") in kept_off
    cf = hacf.parse(files["ha.cf"][0])
    assert cf.first("deadtime") == ["1000ms"] and cf.first("logfile") == ["/var/log/heartbeat/ha.log"]
    assert cf.first("stonith_host") == ["*", "external/ocfkit_netns", "/srv/ocfkit-demo/lab/power.sock"]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["filesystem"][0].update(drbd="iscsi.config"), "give drbd .* or device"),
    (lambda d: d["filesystem"][0].pop("device"), "give drbd .* or device"),
    (lambda d: d["heartbeat"].update(deadtime="1 s"), r"heartbeat.deadtime: whole seconds"),
    (lambda d: d["heartbeat"].update(keepalive="0ms"), r"heartbeat.keepalive: whole seconds"),
    (lambda d: d["heartbeat"].update(stonith_host=["* external/x #comment"]), r"heartbeat.stonith_host"),
    (lambda d: d["heartbeat"].update(stonith_host=["*"]), r"heartbeat.stonith_host"),
    (lambda d: d["corosync"].update(timestamp="ms"), r"corosync.timestamp"),
])
def test_the_demo_descriptions_new_keys_are_checked(edit, message):
    d = copy.deepcopy(example("demo"))
    edit(d)
    with pytest.raises(description.DescriptionError, match=message):
        description.generate(d)


def test_the_demo_finds_its_description_in_the_venv_when_pip_installed_the_package_without_the_tree(
        tmp_path, monkeypatch):
    """scripts/setup.sh's default (non-editable) install puts ocfkit in site-packages, where no examples/
    lies beside it: the demo reads the copy setup.sh puts in $venv/share/ocfkit/examples."""
    from ocfkit import demo

    site = tmp_path / "site-packages" / "ocfkit"
    site.mkdir(parents=True)
    monkeypatch.setattr(demo, "__file__", str(site / "demo.py"))
    monkeypatch.setattr("sys.prefix", str(tmp_path / "venv"))
    with pytest.raises(demo.DemoError, match="demo.toml not found"):
        demo._example()
    shared = tmp_path / "venv" / "share" / "ocfkit" / "examples"
    shared.mkdir(parents=True)
    (shared / "demo.toml").write_text("# the demo\n")
    assert demo._example() == str(shared / "demo.toml")


# --- issue 23: several service groups in one description (active/active) --------------------------------------

TWO = os.path.join(ROOT, "examples", "two-groups.toml")


def two_groups(tmp_path, old: str = "", new: str = "") -> description.Description:
    """The two-group example, with `old` replaced by `new` in its text (file:line stays meaningful)."""
    with open(TWO, encoding="utf-8") as f:
        text = f.read()
    if old:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "two.toml"
    path.write_text(text)
    return description.load(str(path))


def test_each_group_is_one_haresources_line_on_the_node_it_prefers():
    groups = description.haresources_groups(example("two-groups"))
    assert [g.node for g in groups] == ["castor", "pollux"]
    for g, name, vip in zip(groups, "ab", ("192.168.7.179", "192.168.7.180")):
        tokens = [r.token for r in g.resources]
        assert tokens[:4] == [f"IPaddr2::{vip}/24/eth0", f"drbddisk::san_{name}", f"LVM::vg_{name}",
                              "portblock::tcp::3260::block"]
        assert tokens[4] == f"iSCSITarget::iqn.2026-01.org.example.san:{name}::lio"
        luns = [t for t in tokens if t.startswith("iSCSILogicalUnit::")]
        assert len(luns) == 32 and all(f"/dev/vg_{name}/lun" in t for t in luns)
        assert tokens[-1] == "portblock::tcp::3260::unblock"


def test_each_group_prefers_its_node_with_its_own_drbd_promotion_and_portblock_on_its_vip():
    model = description.cluster_model(example("two-groups"))
    groups = {r.id: r for r in model.resources if type(r).__name__ == "Group"}
    assert sorted(groups) == ["g_a", "g_b"]
    locs = {(loc.rsc, loc.node, loc.role) for loc in model.locations}
    assert {("g_a", "castor", ""), ("g_b", "pollux", ""), ("ms_drbd_san_a", "castor", "Promoted"),
            ("ms_drbd_san_b", "pollux", "Promoted")} <= locs
    assert {(c.rsc, c.with_rsc) for c in model.colocations} == {("g_a", "ms_drbd_san_a"), ("g_b", "ms_drbd_san_b")}
    assert {(o.first, o.then) for o in model.orders} == {("ms_drbd_san_a", "g_a"), ("ms_drbd_san_b", "g_b")}
    for name, vip in (("a", "192.168.7.179"), ("b", "192.168.7.180")):
        members = groups[f"g_{name}"].members
        blocks = [m for m in members if m.type == "portblock"]
        assert [m.id for m in blocks] == [f"p_block_{name}_tcp_3260", f"p_unblock_{name}_tcp_3260"]
        assert all(dict(m.params)["ip"] == vip for m in blocks)
        luns = [m for m in members if m.type == "iSCSILogicalUnit"]
        assert len(luns) == 32 and dict(luns[5].params)["scsi_sn"] == f"san{name}05"
    # No id left behind that still names a group by its VIP.
    files = description.generate(example("two-groups"), pacemaker="2.1")
    assert "g_192" not in files["cib.xml"] and "g_192" not in files["cluster.crm"]


def test_both_drbd_resources_and_their_own_ports_are_in_drbd_conf():
    text = description.drbd_conf(example("two-groups"))
    assert "resource san_a {" in text and "resource san_b {" in text
    assert "device /dev/drbd1;" in text and "address 10.10.10.102:7791;" in text


@pytest.mark.parametrize(("old", "new", "message"), [
    ('vip = "192.168.7.180"', 'vip = "192.168.7.179"', r"two.toml:\d+: service\[1\].vip: VIP 192.168.7.179 is also "
                                                       r"service\[0\].vip's"),
    ('device = "/dev/drbd2"', 'device = "/dev/drbd1"', r"two.toml:\d+: drbd\[1\].device: DRBD device \(minor\)"),
    ("port = 7791", "port = 7790", r"two.toml:\d+: drbd\[1\].port: DRBD port 7790 is also drbd\[0\].port's"),
    ('drbd = "san_b"', 'drbd = "san_a"', r"service\[1\].drbd: DRBD resource san_a is also service\[0\].drbd's"),
    ('volume_group = "vg_b"', 'volume_group = "vg_a"', r"service\[1\].volume_group: volume group vg_a"),
    ('iqn = "iqn.2026-01.org.example.san:b"', 'iqn = "iqn.2026-01.org.example.san:a"',
     r"two.toml:\d+: service\[1\].target\[0\].iqn: IQN iqn.2026-01.org.example.san:a is also"),
    ('path = "/dev/vg_b/lun07"', 'path = "/dev/vg_a/lun07"',
     r"service\[1\].target\[0\].lun\[7\].path: LUN device /dev/vg_a/lun07 is also service\[0\].target\[0\].lun\[7\]"),
    ('{ lun = 9, path = "/dev/vg_b/lun09"', '{ lun = 8, path = "/dev/vg_b/lun09"',
     r"service\[1\].target\[0\].lun\[9\].lun: LUN number in iqn.2026-01.org.example.san:b: 8"),
    ('name = "b"', 'name = "a"', r"service\[1\].name: service name a is also"),
    ('name = "b"\n', "", r"service\[1\].name: missing"),
    ('prefer = "pollux"', 'prefer = "castro"', r"service\[1\].prefer: castro is not a \[\[node\]\] name"),
    ('target_backend = "lio"', 'target_backend = "tgt"', r"cluster.target_backend: several service groups need"),
    ('prefer = "pollux"', 'prefer = "pollux"\nportal = "x"', r"service\[1\].portal: unknown key"),
    ('[[service.target]]\niqn = "iqn.2026-01.org.example.san:b"', '[[target]]\niqn = "iqn.2026-01.org.example.san:b"',
     r"target: several service groups: give each group's targets as \[\[service.target\]\]"),
])
def test_conflicts_between_groups_are_errors_with_file_and_line(tmp_path, old, new, message):
    d = two_groups(tmp_path, old, new)
    with pytest.raises(description.DescriptionError, match=message):
        description.generate(d, pacemaker="2.1")


def test_a_lun_outside_its_groups_volume_group_is_refused(tmp_path):
    d = two_groups(tmp_path, 'path = "/dev/vg_b/lun03"', 'path = "/dev/vg_c/lun03"')
    with pytest.raises(description.DescriptionError, match="not a volume of service b: volume_group vg_b"):
        description.generate(d, pacemaker="2.1")


def test_target_tgt_on_the_command_line_is_refused_for_several_groups():
    with pytest.raises(description.DescriptionError, match=r"need target_backend = \"lio\".*\(--target tgt\)"):
        description.generate(example("two-groups"), pacemaker="2.1", target="tgt")


def test_one_description_with_a_conflict_lists_every_conflict_at_once(tmp_path):
    d = two_groups(tmp_path, 'vip = "192.168.7.180"', 'vip = "192.168.7.179"')
    d["drbd"][1]["port"] = 7790
    with pytest.raises(description.DescriptionError) as e:
        description.check(d)
    assert "VIP 192.168.7.179" in str(e.value) and "DRBD port 7790" in str(e.value)


def test_a_single_group_description_has_no_name_or_prefer_and_its_conflicts_are_found_too():
    d = copy.deepcopy(seed_desc())
    d["service"]["prefer"] = "pollux"
    with pytest.raises(description.DescriptionError, match=r"service.prefer: unknown key"):
        description.check(d)
    d = copy.deepcopy(seed_desc())
    d["drbd"][1]["device"] = d["drbd"][0]["device"]
    with pytest.raises(description.DescriptionError, match=r"drbd\[1\].device: DRBD device \(minor\) /dev/drbd0"):
        description.check(d)


def test_a_tgt_daemon_clone_keeps_tgtd_on_both_nodes_and_puts_the_target_and_lun_in_the_group():
    """cluster.tgt_daemon = "clone" (the demo's): a switchover no longer starts and stops tgtd; the group
    holds the target and its LUN (tgt's LUN 1: its LUN 0 is the controller) and no longer waits for the
    configuration filesystem, which it does not read; heartbeat (no clones) keeps its iscsitarget line."""
    files = description.generate(example("demo"))
    cib = ET.fromstring(files["cib.xml"][0])
    params = {p.get("id"): {n.get("name"): n.get("value") for n in p.iter("nvpair")} for p in cib.iter("primitive")}
    svc = next(g for g in cib.iter("group") if g.get("id") != "g_r")
    assert [p.get("type") for p in svc.findall("primitive")] == [
        "IPaddr2", "portblock", "iSCSITarget", "iSCSILogicalUnit", "portblock"]
    assert params["p_target_lun.filer"] == {"implementation": "tgt", "iqn": "iqn.2024-01.demo.ocfkit:lun.filer",
                                            "tid": "1"}
    assert params["p_lun_lun.filer_0"] == {"implementation": "tgt", "target_iqn": "iqn.2024-01.demo.ocfkit:lun.filer",
                                           "lun": "1", "path": "/srv/ocfkit-demo/lun.img"}  # fileio: page cache
    clone = next(cib.iter("clone"))
    assert clone.get("id") == "cl_tgtd" and [p.get("type") for p in clone.iter("primitive")] == ["iscsitarget"]
    assert params["p_tgtd"] == {"implementation": "tgt"}
    cols = {(c.get("rsc"), c.get("with-rsc")) for c in cib.iter("rsc_colocation")}
    orders = {(o.get("first"), o.get("then")) for o in cib.iter("rsc_order")}
    assert (svc.get("id"), "cl_tgtd") in cols and ("cl_tgtd", svc.get("id")) in orders
    assert (svc.get("id"), "g_r") in cols and ("g_r", svc.get("id")) not in orders  # side by side
    props = {n.get("name"): n.get("value") for n in cib.iter("nvpair") if n.get("id", "").startswith("cib-bootstrap")}
    assert props["transition-delay"] == "250ms" and props["stonith-enabled"] == "true"
    assert files["haresources"][0].splitlines()[1].split()[3] == "iscsitarget"
    assert "backing-store /srv/ocfkit-demo/lun.img" in files["targets.conf"][0]
    assert "tgtd runs on both nodes as a clone" in files["README"][0]
    # The default stays the seed's: tgtd in the group, loading targets.conf from the configuration filesystem.
    d = copy.deepcopy(example("demo"))
    del d["cluster"]["tgt_daemon"], d["cluster"]["transition_delay"]
    cib = ET.fromstring(description.generate(d)["cib.xml"][0])
    assert not list(cib.iter("clone")) and "transition-delay" not in description.generate(d)["cib.xml"][0]
    assert ("g_r", svc.get("id")) in {(o.get("first"), o.get("then")) for o in cib.iter("rsc_order")}


def test_a_clone_of_tgtd_keeps_a_block_device_lun_off_the_page_cache_and_its_chap_account():
    d = copy.deepcopy(example("demo"))
    d["target"][0]["lun"][0].update(type="blockio", scsi_sn="sn1")
    d["target"][0].update(incoming_user="joe", incoming_password="s3cret-pw", initiators=["iqn.2024-01.x:c"])
    model = description.cluster_model(d, fencing=False)
    prims = {m.id: dict(m.params) for r in model.resources for m in getattr(r, "members", ())}
    assert prims["p_lun_lun.filer_0"]["tgt_bsoflags"] == "direct" and prims["p_lun_lun.filer_0"]["scsi_sn"] == "sn1"
    assert prims["p_target_lun.filer"]["incoming_username"] == "joe"
    assert prims["p_target_lun.filer"]["allowed_initiators"] == "iqn.2024-01.x:c"
    assert ("p_target_lun.filer", "incoming_password") in model.secrets


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["cluster"].update(tgt_daemon="systemd"), r"cluster.tgt_daemon"),
    (lambda d: d["cluster"].update(transition_delay="1 s"), r"cluster.transition_delay"),
    (lambda d: d["cluster"].update(transition_delay="20s"), r"cluster.transition_delay"),
    (lambda d: d["cluster"].update(transition_delay=250), r"cluster.transition_delay"),
])
def test_the_demos_timing_keys_are_checked(edit, message):
    d = copy.deepcopy(example("demo"))
    edit(d)
    with pytest.raises(description.DescriptionError, match=message):
        description.generate(d)


def test_op_timeout_factor_multiplies_every_operation_timeout_fence_devices_and_clones_included():
    base = description.cluster_model(seed_desc())
    d = copy.deepcopy(seed_desc())
    d["cluster"]["op_timeout_factor"] = 3

    def timeouts(model):
        out = {}
        for r in model.resources:
            child = getattr(r, "child", r)
            for p in getattr(child, "members", (child,)):
                out.update({(p.id, o.name, o.interval, o.role): o.timeout for o in p.ops})
        return out

    before, after = timeouts(base), timeouts(description.cluster_model(d))
    assert before.keys() <= after.keys() and {k: after[k] for k in before} == {k: 3 * v for k, v in before.items()}
    # start and stop, where the agent's defaults left them to Pacemaker's 20 s, get 20 s x factor.
    added = {k: v for k, v in after.items() if k not in before}
    assert added and {(k[1], v) for k, v in added.items()} <= {("start", 60), ("stop", 60)}
    assert ("p_ip_192.168.7.179", "start", 0, "") in added, sorted(added)
    assert ("p_drbd_iscsi.lun", "promote", 0, "") in after
    assert "times the agents' own" not in description.generate(seed_desc())["cluster.crm"][0]
    crm = description.generate(d)["cluster.crm"][0]
    assert "op promote interval=0s timeout=270s" in crm and "3 times the agents' own" in crm
    assert "primitive st_sbd stonith:fence_sbd" in crm and crm.split("primitive st_sbd")[1].split("\n")[1] == (
        "    op monitor interval=60s timeout=60s \\")  # the fence device too
    d["cluster"]["op_timeout_factor"] = 0
    with pytest.raises(description.DescriptionError, match=r"cluster.op_timeout_factor: an integer 1..10"):
        description.generate(d)


@pytest.mark.parametrize("key", FIELDS, ids=lambda k: ".".join(map(str, k)))
def test_a_trailing_newline_is_refused_in_every_string_field(key):
    """`$` matches before a final newline: "0\\n" once passed as an authkeys key and landed as "0"."""
    d = copy.deepcopy(seed_desc())
    value = d
    for k in key:
        value = value[k]
    _set(d, key, f"{value}\n")
    with pytest.raises(description.DescriptionError):
        description.generate(d)
