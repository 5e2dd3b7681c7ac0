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


def only_the_unfenced_drbd_error(rep) -> bool:
    """Fencing declined (a test cluster) with DRBD: the check's one ERROR names the split-brain risk."""
    errors = [(step, detail) for step, verdict, detail in rep.steps if verdict == "error"]
    return len(errors) == 1 and errors[0][0] == "fencing" and "split brain" in errors[0][1]


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_generated_cib_passes_the_offline_pipeline(name, tmp_path):
    groups = haresources.parse(SETUPS[name])
    nodes = sorted({g.node for g in groups} | {"alpha", "beta"}) if name != "seed" else ["castor", "pollux"]
    c = migrate(groups, nodes=nodes, fencing=False)
    f = tmp_path / "cib.xml"
    f.write_text(cib_xml(c))
    rep = check(str(f))
    # Fencing declined: crm check still says what that costs with DRBD, and places everything.
    assert rep.ok if "drbddisk" not in SETUPS[name] else only_the_unfenced_drbd_error(rep), rep.text()
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
    r = subprocess.run([ocfkit, "migrate", "--haresources", str(tmp_path / "haresources"), "--drbd-conf", str(conf),
                        "--no-fencing"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "resource(s) iscsi.lun not defined" in r.stderr
    conf.write_text(conf.read_text() + conf.read_text().replace("iscsi.config", "iscsi.lun").replace(
        "drbd0", "drbd1").replace(":7788", ":7789"))
    r = subprocess.run([ocfkit, "migrate", "--haresources", str(tmp_path / "haresources"), "--drbd-conf", str(conf),
                        "--format", "cib", "--no-fencing"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "split brain" in r.stderr and 'type="drbd"' in r.stdout


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROVIDER = os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit")
EXAMPLES = ("seed-san", "seed-san-lio", "seed-san-tgt")


def ocfkit_cmd() -> str:
    import sys

    return os.path.join(os.path.dirname(sys.executable), "ocfkit")


def generated(tmp_path, name: str, *extra: str):
    """Generate an example for the agents installed under the test provider (pcs and crmsh check them)."""
    with open(os.path.join(ROOT, "examples", f"{name}.toml")) as f:
        text = f.read()
    tmp_path.mkdir(parents=True, exist_ok=True)
    desc = tmp_path / f"{name}.toml"
    desc.write_text(text.replace("[cluster]\n", f'[cluster]\nprovider = "{PROVIDER}"\n', 1))
    out = tmp_path / "out"
    r = subprocess.run([ocfkit_cmd(), "generate", str(desc), "--out", str(out), *extra], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def assert_starts_on_castor_and_fails_over(cib: str, fail_node: str = "castor"):
    rep = check(cib, fail_node=fail_node)
    assert rep.ok and "ERROR" not in rep.text(), rep.text()
    placed = rep.placement
    assert {v for k, v in placed.items() if k.startswith("g_")} == {"castor"}, rep.text()
    for k, v in placed.items():
        if k.startswith("ms_"):
            assert sorted(v.split(", ")) == ["castor (Promoted)", "pollux"], rep.text()
    after = rep.after_failure
    assert {v for k, v in after.items() if k.startswith("g_")} == {"pollux"}, rep.text()
    for k, v in after.items():
        if k.startswith("ms_"):
            assert v == "pollux (Promoted)", rep.text()
    # Fencing included: a device that can fence castor runs on the survivor.
    root = ET.parse(cib).getroot()
    fencers = [p.get("id") for p in root.iter("primitive") if p.get("class") == "stonith" and "castor" in " ".join(
        n.get("value") for n in p.iter("nvpair") if n.get("name") in ("pcmk_host_list", "pcmk_host_map"))]
    assert fencers and any(after.get(f) == "pollux" for f in fencers), rep.text()
    return rep


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_starts_on_the_first_node_and_fails_over_with_fencing(name, tmp_path):
    out = generated(tmp_path, name, "--pacemaker", "2.1")
    assert_starts_on_castor_and_fails_over(str(out / "cib.xml"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_generated_pcs_script_runs_without_force_and_crmsh_loads_the_text(name, tmp_path):
    out = generated(tmp_path, name, "--pacemaker", "2.1")
    script = (out / "pcs.sh").read_text()
    assert "--force" not in script
    env = dict(os.environ, HOME=str(tmp_path))
    r = subprocess.run(["sh", "-e", "pcs.sh"], cwd=out, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Warning: Agent" not in r.stderr and "Error" not in r.stderr, r.stderr
    via_crm = tmp_path / "crm.xml"
    via_crm.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True, check=True).stdout)
    # Without -F: crmsh checks every agent and its parameters (ours and the fence agents are installed).
    r = subprocess.run(["crm", "configure", "load", "update", str(out / "cluster.crm")],
                       env=dict(env, CIB_file=str(via_crm)), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "ERROR" not in r.stdout + r.stderr, r.stdout + r.stderr
    want = summary(str(out / "cib.xml"))
    assert summary(str(via_crm)) == want
    prims, grps, cols, orders = summary(str(out / "pcs-cib.xml"))
    assert (grps, cols, orders) == want[1:]
    assert [p[:3] for p in prims] == [p[:3] for p in want[0]]
    # pcs leaves the nodes to the cluster (corosync names them); add them as it would.
    for i, node in enumerate(("castor", "pollux"), start=1):
        subprocess.run(["cibadmin", "-C", "-o", "nodes", "-X", f'<node id="{i}" uname="{node}"/>'], check=True,
                       env=dict(env, CIB_file=str(out / "pcs-cib.xml")), capture_output=True, timeout=60)
    for f in (via_crm, out / "pcs-cib.xml"):
        assert_starts_on_castor_and_fails_over(str(f))


def assert_each_group_on_its_node(cib: str, corosync: str | None = None):
    """Issue 23's two groups: g_a (and san_a's promotion) on castor, g_b (and san_b's) on pollux; castor fails:
    both on pollux, castor fenced from there. Placement is crm_simulate's (crm check)."""
    rep = check(cib, fail_node="castor", corosync=corosync)
    assert rep.ok and "ERROR" not in rep.text(), rep.text()
    assert rep.placement["g_a"] == "castor" and rep.placement["g_b"] == "pollux", rep.text()
    assert rep.placement["ms_drbd_san_a"] == "castor (Promoted), pollux", rep.text()
    assert rep.placement["ms_drbd_san_b"] == "castor, pollux (Promoted)", rep.text()
    assert rep.after_failure["g_a"] == rep.after_failure["g_b"] == "pollux", rep.text()
    assert rep.after_failure["ms_drbd_san_a"] == rep.after_failure["ms_drbd_san_b"] == "pollux (Promoted)", rep.text()
    assert ("crm_simulate (failure of castor)", "ok", "castor fenced") in rep.steps
    return rep


def test_two_groups_example_passes_crm_check_with_one_group_on_each_node(tmp_path):
    out = generated(tmp_path, "two-groups", "--pacemaker", "2.1")
    r = subprocess.run([ocfkit_cmd(), "crm", "check", str(out / "cib.xml"), "--corosync", str(out / "corosync.conf")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "verdict: OK" in r.stdout, r.stdout + r.stderr
    placed = r.stdout.split("cold start places:")[1].split("after the failure:")[0]
    assert "  g_a: castor\n" in placed and "  g_b: pollux\n" in placed, r.stdout
    assert_each_group_on_its_node(str(out / "cib.xml"), str(out / "corosync.conf"))
    # crmsh (checking every agent and parameter, portblock's ip included) loads the same configuration.
    via_crm = tmp_path / "crm.xml"
    via_crm.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True, check=True).stdout)
    env = dict(os.environ, HOME=str(tmp_path), CIB_file=str(via_crm))
    r = subprocess.run(["crm", "configure", "load", "update", str(out / "cluster.crm")], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "ERROR" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert summary(str(via_crm)) == summary(str(out / "cib.xml"))
    assert_each_group_on_its_node(str(via_crm))


def test_two_groups_pcs_script_builds_the_same_placement(tmp_path):
    """pcs checks every agent: 64 LUN resources take pcs a few minutes on a loaded two-core machine."""
    out = generated(tmp_path, "two-groups", "--pacemaker", "2.1")
    env = dict(os.environ, HOME=str(tmp_path))
    r = subprocess.run(["sh", "-e", "pcs.sh"], cwd=out, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0 and "Error" not in r.stderr, r.stdout + r.stderr
    prims, grps, cols, orders = summary(str(out / "pcs-cib.xml"))
    want = summary(str(out / "cib.xml"))
    assert (grps, cols, orders) == want[1:] and [p[:3] for p in prims] == [p[:3] for p in want[0]]
    for i, node in enumerate(("castor", "pollux"), start=1):
        subprocess.run(["cibadmin", "-C", "-o", "nodes", "-X", f'<node id="{i}" uname="{node}"/>'], check=True,
                       env=dict(env, CIB_file=str(out / "pcs-cib.xml")), capture_output=True, timeout=60)
    assert_each_group_on_its_node(str(out / "pcs-cib.xml"))


def test_corosync_accepts_the_generated_configuration(tmp_path):
    """corosync -t in private UTS, mount and network namespaces: the node name is castor's, a throw-away
    key and log directory are mounted over /etc/corosync and /var/log/corosync there only."""
    out = generated(tmp_path, "seed-san")
    key = tmp_path / "authkey"
    subprocess.run(["corosync-keygen", "-k", str(key)], capture_output=True, check=True, timeout=60)
    script = ("set -e; mount --make-rprivate /; mount -t tmpfs none /etc/corosync; mount -t tmpfs none "
              "/var/log/corosync; cp \"$1\" /etc/corosync/authkey; hostname castor; exec corosync -t -c \"$2\"")

    def corosync_t(conf) -> subprocess.CompletedProcess:
        return subprocess.run(["unshare", "--uts", "--mount", "--net", "sh", "-c", script, "sh", str(key), str(conf)],
                              capture_output=True, text=True, timeout=60)

    r = corosync_t(out / "corosync.conf")
    assert r.returncode == 0, r.stdout + r.stderr
    broken = tmp_path / "broken.conf"
    broken.write_text((out / "corosync.conf").read_text().replace("two_node: 1", "two_node: yes"))
    r = corosync_t(broken)
    assert r.returncode != 0 and "two_node" in r.stdout + r.stderr


def test_drbd_configurations_parse_in_their_syntax(tmp_path):
    from agents.tools import drbd as drbdtool

    out = generated(tmp_path, "seed-san")  # DRBD 8.4 syntax: drbd-utils' 8.4 parser (what runs with the 8.4 module)
    for conf in ("drbd.conf", "drbd-heartbeat.conf"):
        r = subprocess.run(["/usr/lib/drbd/drbdadm-84", "-c", str(out / conf), "dump"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("fencing") == 2 and "shared-secret" in r.stdout
    assert "resource-and-stonith" in (out / "drbd.conf").read_text()
    assert os.stat(out / "drbd.conf").st_mode & 0o777 == 0o600
    out9 = generated(tmp_path / "nine", "seed-san-tgt")  # DRBD 9 syntax: drbdadm 9
    from ocf.exec import run as seam

    defined = drbdtool.defined_resources(lambda argv, **kw: seam(argv, timeout=30, **kw), str(out9 / "drbd.conf"))
    assert defined == ["iscsi.config", "iscsi.lun"]
    two = generated(tmp_path / "two", "two-groups")  # one resource per service group, each with its port
    r = subprocess.run(["/usr/lib/drbd/drbdadm-84", "-c", str(two / "drbd.conf"), "dump"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "resource san_a" in r.stdout and ":7791;" in r.stdout, r.stderr


def test_the_sbd_create_step_writes_the_timeouts_the_configuration_relies_on(tmp_path):
    from tests.system.support import LoopDevice

    out = generated(tmp_path, "seed-san")
    line = next(ln.strip() for ln in (out / "README").read_text().splitlines() if ln.strip().endswith(" create")
                and "sbd -d" in ln)
    argv = line.split(": ", 1)[1].split()
    with LoopDevice(size_mb=8, directory=str(tmp_path)) as loop:
        argv = [loop.device if a.startswith("/dev/disk/") else a for a in argv]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        dump = subprocess.run(["sbd", "-d", loop.device, "dump"], capture_output=True, text=True, timeout=60).stdout
    assert "Timeout (watchdog) : 5" in dump and "Timeout (msgwait)  : 10" in dump
    assert "SBD_WATCHDOG_TIMEOUT=5" in (out / "sbd").read_text()


def test_migrate_with_fencing_runs_the_seed_like_generate(tmp_path):
    fix = os.path.join(ROOT, "tests", "unit", "fixtures")
    out9 = generated(tmp_path, "seed-san-tgt")
    for fencing, target in (("fencing-sbd.toml", ""), ("fencing-ipmi.toml", "lio")):
        cib = tmp_path / f"{fencing}.xml"
        argv = [ocfkit_cmd(), "migrate", "--haresources", os.path.join(fix, "heartbeat", "seed-haresources"),
                "--ha-cf", os.path.join(fix, "heartbeat", "seed-ha.cf"), "--drbd-conf", str(out9 / "drbd.conf"),
                "--fencing", os.path.join(fix, "crm", fencing), "--format", "cib", "--out", str(cib),
                "--provider", PROVIDER, "--name", "iscsi", "--pacemaker", "2.1"]
        if target:
            argv += ["--target", target, "--ietd-conf", os.path.join(fix, "crm", "seed-ietd.conf"),
                     "--initiators-allow", os.path.join(fix, "crm", "seed-initiators.allow")]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "Add one fence device" not in r.stderr and "split brain" not in r.stderr
        assert os.stat(cib).st_mode & 0o777 == 0o600
        assert_starts_on_castor_and_fails_over(str(cib))


def test_an_explicit_fencing_none_generates_a_test_cluster_that_still_places_everything(tmp_path):
    with open(os.path.join(ROOT, "examples", "seed-san.toml")) as f:
        text = f.read()
    start, end = text.index("# Fencing: SBD"), text.index("[heartbeat]")
    desc = tmp_path / "test.toml"
    desc.write_text('fencing = "none"\n' + text[:start] + text[end:])
    r = subprocess.run([ocfkit_cmd(), "generate", str(desc), "--out", str(tmp_path / "out"), "--pacemaker", "2.1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rep = check(str(tmp_path / "out" / "cib.xml"))
    # crm check still says what declining fencing costs with DRBD, and places everything.
    assert only_the_unfenced_drbd_error(rep), rep.text()
    assert set(v for k, v in rep.placement.items() if k.startswith("g_")) == {"castor"}
    desc.write_text(text[:start] + text[end:])  # fencing neither given nor declined: an error, nothing written
    r = subprocess.run([ocfkit_cmd(), "generate", str(desc), "--out", str(tmp_path / "none")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "fencing: missing" in r.stderr and not (tmp_path / "none").exists()


def test_generate_checks_fence_parameters_against_the_installed_agent(tmp_path):
    with open(os.path.join(ROOT, "examples", "seed-san-lio.toml")) as f:
        text = f.read()
    desc = tmp_path / "bad.toml"
    desc.write_text(text.replace('username = "admin", lanplus = 1,', 'username = "admin", lanplux = 1,', 1))
    assert "lanplux" in desc.read_text()
    r = subprocess.run([ocfkit_cmd(), "generate", str(desc), "--out", str(tmp_path / "out")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "fence_ipmilan has no parameter lanplux" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_tgt_admin_loads_the_generated_targets_conf_with_serial_chap_acl_and_direct_io(tmp_path):
    """The translated IET target, for real: tgt-admin loads targets.conf into a tgtd in a namespace."""
    from tests.system.support import Netns
    from tests.system.test_iscsi import Tgtd

    out = generated(tmp_path, "seed-san-tgt")
    backing = tmp_path / "lun0.img"
    with open(backing, "wb") as f:
        f.truncate(8 << 20)
    conf = tmp_path / "targets.conf"
    conf.write_text((out / "targets.conf").read_text().replace("/dev/vg0drbd/filer", str(backing)))
    assert os.stat(out / "targets.conf").st_mode & 0o777 == 0o600  # it holds the CHAP secret
    with Netns() as ns:
        tgtd = Tgtd(ns, tmp_path, "127.0.0.1:3260")
        try:
            env = {"TGT_IPC_SOCKET": tgtd.socket, "PATH": os.environ["PATH"]}
            r = subprocess.run(["tgt-admin", "-e", "-c", str(conf)], env=env, capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            show = tgtd.show()
        finally:
            tgtd.stop()
    assert "Target 1: iqn.2015-12.cl.caschile:lun.filer" in show, show
    assert "SCSI SN: 291109213201" in show and f"Backing store path: {backing}" in show, show
    assert "Backing store flags: direct" in show, show
    assert "filer-chap" in show.split("Account information:")[1], show
    assert "192.168.7.0/24" in show.split("ACL information:")[1], show


def test_migrate_reads_the_seeds_own_drbd_conf_and_says_it_lacks_pacemaker_fencing(tmp_path):
    """The seed's drbd.conf is DRBD 8.3/8.4 syntax with dopd's handler: drbd-utils' 8.4 parser reads it, and
    migrate warns that Pacemaker needs resource-and-stonith with crm-fence-peer there."""
    fix = os.path.join(ROOT, "tests", "unit", "fixtures")
    cib = tmp_path / "seed.xml"
    r = subprocess.run([ocfkit_cmd(), "migrate", "--haresources", os.path.join(fix, "heartbeat", "seed-haresources"),
                        "--ha-cf", os.path.join(fix, "heartbeat", "seed-ha.cf"),
                        "--drbd-conf", os.path.join(fix, "crm", "seed-drbd.conf"),
                        "--fencing", os.path.join(fix, "crm", "fencing-sbd.toml"), "--format", "cib", "--out", str(cib),
                        "--provider", PROVIDER, "--name", "iscsi", "--pacemaker", "2.1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "no 'fencing resource-and-stonith;'" in r.stderr
    assert_starts_on_castor_and_fails_over(str(cib))
