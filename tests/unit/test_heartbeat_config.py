"""haresources, ha.cf and authkeys: golden round trips of the seed's files, and broken inputs."""

from __future__ import annotations

import os
import sys

import pytest

from heartbeat_legacy import authkeys, hacf, haresources
from heartbeat_legacy.resource_d import UsageError, ocf_call

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "heartbeat")


def read(name: str) -> str:
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def test_seed_haresources_round_trips_and_parses_as_heartbeat_does():
    text = read("seed-haresources")
    groups = haresources.parse(text)
    assert haresources.dump(groups) == text
    assert [g.key for g in groups] == ["drbddisk::iscsi.config", "IPaddr2::192.168.7.179/24/eth0"]
    fs = groups[0].resources[1]
    assert (fs.name, fs.args) == ("Filesystem", ("/dev/drbd0", "/srv/iscsi-config", "ext4"))
    names = [r.name for r in groups[1].resources]
    assert names == ["IPaddr2", "drbddisk", "LVM", "portblock", "iscsitarget", "portblock"]
    assert groups[1].resources[3].args == ("tcp", "3260", "block")
    assert groups[1].resources[4].args == ()


def test_bare_ip_means_ipaddr_comments_and_continuations():
    text = "# comment\nCastor 10.0.0.5/24/eth0 \\\n   Dummy::/tmp/x   # trailing\n\n"
    [g] = haresources.parse(text)
    assert g.node == "Castor" and g.resources[0].name == "IPaddr" and g.resources[0].args == ("10.0.0.5/24/eth0",)
    assert g.resources[1].line == 3 and g.resources[1].col == 4
    assert haresources.groups_for([g], "castor") == [g]
    assert haresources.dump([g]) == "Castor 10.0.0.5/24/eth0 Dummy::/tmp/x\n"


@pytest.mark.parametrize(("text", "line", "col", "message"), [
    ("castor\n", 1, 1, "has no resources"),
    ("castor Dummy::a\npollux Dummy::a\n", 2, 8, "already used on line 1"),
    ("castor ::x\n", 1, 8, "no script name"),
    ("castor Filesystem::/dev/x::::ext4\n", 1, 8, "argument 2 is empty"),
    ("\n\ncastor Dummy \\\n  ::b\n", 4, 3, "no script name"),
])
def test_broken_haresources_name_line_and_column(text, line, col, message):
    with pytest.raises(haresources.HaresourcesError) as e:
        haresources.parse(text)
    assert (e.value.line, e.value.col) == (line, col)
    assert message in str(e.value)


def test_seed_ha_cf_round_trips_and_its_findings():
    text = read("seed-ha.cf")
    cf = hacf.parse(text)
    assert hacf.dump(cf) == text
    assert cf.nodes == ["castor", "pollux"]
    assert cf.first("mcast") == ["eth0", "239.0.0.1", "694", "1", "0"]
    findings = hacf.validate(cf, hostname="castor", root="/nonexistent-root")
    errors = [f.message for f in findings if f.severity == "error"]
    assert len(errors) == 1 and "respawn command /usr/lib/heartbeat/ipfail is not executable" in errors[0]


@pytest.mark.parametrize(("extra", "message"), [
    ("deadtime 4\n", "must be more than twice keepalive"),
    ("initdead 5\n", "must be at least deadtime"),
    ("keepalive soon\n", "is not a time"),
    ("mcast eth0 239.0.0.1 694 0 0\n", "TTL must be 1..255"),
    ("auto_failback maybe\n", "use on or off"),
    ("frobnicate yes\n", "unknown directive"),
])
def test_ha_cf_rules(extra, message):
    base = "keepalive 2\ndeadtime 10\ninitdead 30\nucast eth0 10.0.0.2\nnode a b\nauto_failback off\n"
    findings = hacf.validate(hacf.parse(base + extra), hostname="a")
    assert any(message in f.message and f.severity == "error" for f in findings), findings
    assert not [f for f in hacf.validate(hacf.parse(base), hostname="a") if f.severity == "error"]


def test_ha_cf_needs_media_nodes_and_this_node():
    findings = [f.message for f in hacf.validate(hacf.parse("keepalive 1\n"), hostname="vm")]
    assert any("no heartbeat media" in m for m in findings) and any("no nodes" in m for m in findings)
    findings = [f.message for f in hacf.validate(hacf.parse("bcast eth0\nnode a b\n"), hostname="vm")]
    assert any("this node (vm) is not in the node list a, b" in m for m in findings)


def test_ha_cf_set_changes_one_line_and_keeps_the_rest():
    cf = hacf.parse(read("seed-ha.cf"))
    cf.set("deadtime", "20")
    out = hacf.dump(cf)
    assert "deadtime        20\n" in out and "auto_failback   no # Prevents nodes from flapping." in out


def test_seed_authkeys_round_trip_and_rules():
    ak = authkeys.parse(read("seed-authkeys"))
    assert authkeys.dump(ak) == read("seed-authkeys")
    assert [f.severity for f in authkeys.validate(ak, mode=0o100600)] == ["warning"]
    errors = [f.message for f in authkeys.validate(ak, mode=0o100644) if f.severity == "error"]
    assert errors == ["permissions 0644: heartbeat refuses a keyfile readable by group or others; use 0600"]


@pytest.mark.parametrize(("text", "message"), [
    ("auth 2\n3 md5 password\n", "auth 2 names a key that is not defined"),
    ("3 md5 password\n", "missing auth directive"),
    ("auth 1\n1 sha256 secretkey\n", "invalid method 'sha256'"),
    ("auth 1\n1 sha1\n", "sha1 requires a key"),
    ("auth 1\n1 crc secretkey\n", "crc does not use a key"),
    ("auth 16\n16 sha1 secretkey\n", "invalid key number 16"),
])
def test_broken_authkeys_and_the_key_never_shows(text, message):
    findings = authkeys.validate(authkeys.parse(text), mode=0o100600)
    assert any(message in f.message for f in findings), findings
    assert not any("secretkey" in str(f) or "password" in str(f) for f in findings)


def test_written_authkeys_is_0600(tmp_path):
    p = tmp_path / "authkeys"
    authkeys.write(str(p), authkeys.parse("auth 1\n1 sha1 abc\n"))
    assert os.stat(p).st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("name", "args", "expected"), [
    ("IPaddr2", ["192.168.7.179/24/eth0"], ("IPaddr2", "IPaddr2_192.168.7.179",
                                            {"ip": "192.168.7.179", "cidr_netmask": "24", "nic": "eth0",
                                             "lvs_support": "1"})),
    ("IPaddr2", ["10.0.0.5/24/eth0:vip/10.0.0.255"], ("IPaddr2", "IPaddr2_10.0.0.5",
                                                     {"ip": "10.0.0.5", "cidr_netmask": "24", "nic": "eth0",
                                                      "iflabel": "vip", "broadcast": "10.0.0.255",
                                                      "lvs_support": "1"})),
    ("IPaddr", ["135.9.8.7/24/135.9.8.210"], ("IPaddr2", "IPaddr_135.9.8.7",
                                              {"ip": "135.9.8.7", "cidr_netmask": "24", "broadcast": "135.9.8.210"})),
    ("Filesystem", ["/dev/drbd0", "/srv/iscsi-config", "ext4"],
     ("Filesystem", "Filesystem_/dev/drbd0", {"device": "/dev/drbd0", "directory": "/srv/iscsi-config",
                                              "fstype": "ext4"})),
    ("portblock", ["tcp", "3260", "block"], ("portblock", "portblock_tcp_3260_block",
                                             {"protocol": "tcp", "portno": "3260", "action": "block"})),
    ("LVM", ["vg0drbd"], ("LVM", "LVM", {"volgrpname": "vg0drbd"})),
])
def test_wrappers_map_positional_arguments_as_heartbeat_does(name, args, expected):
    assert ocf_call(name, args) == expected


@pytest.mark.parametrize(("name", "args"), [("portblock", ["tcp", "3260"]), ("IPaddr2", []),
                                            ("Filesystem", ["/dev/x"]), ("LVM", ["a", "b"])])
def test_wrong_argument_counts_are_usage_errors(name, args):
    with pytest.raises(UsageError):
        ocf_call(name, args)


def test_wrapper_tables_use_the_agents_own_parameter_names():
    """Each wrapper maps positional arguments onto Param declarations of the agent it runs."""
    import importlib

    from agents import AGENTS
    from heartbeat_legacy.resource_d import WRAPPERS

    samples = {"IPaddr2": ["10.0.0.5/24/eth0:vip/10.0.0.255"], "IPaddr": ["10.0.0.5/24/10.0.0.255"],
               "Filesystem": ["/dev/sdb1", "/srv", "ext4", "noatime"], "portblock": ["tcp", "3260", "block"],
               "LVM": ["vg0"], "drbddisk": ["r0"], "Dummy": ["/tmp/x"], "iscsitarget": ["/srv/c/targets.conf"],
               "iSCSITarget": ["iqn.2015-12.cl.caschile:lun.filer", "lio"],
               "iSCSILogicalUnit": ["iqn.2015-12.cl.caschile:lun.filer", "0", "/dev/vg0drbd/filer", "lio"]}
    for name, (agent, mapper) in WRAPPERS.items():
        if agent not in AGENTS:
            continue
        module, cls = AGENTS[agent].split(":")
        declared = set(getattr(importlib.import_module(module), cls)._params)
        _instance, params = mapper(samples[name])
        assert set(params) <= declared, (name, set(params) - declared)


# ----- readers of user files: linear, bounded, never blocking (issue 20) --------------------------


def _in_thread(func, *, seconds: float):
    """func()'s result, or a failure when it has not returned within seconds (it may be blocked)."""
    import threading

    out: dict = {}

    def body():
        try:
            out["value"] = func()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds}s (blocked or super-linear)"
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.fixture
def fifo(tmp_path):
    """A FIFO nobody writes to; teardown opens its write end so a reader blocked on it is released."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only when a reader hangs in open()
        os.close(fd)
    except OSError:
        pass


def test_haresources_with_many_continued_lines_parses_in_linear_time():
    # 40,000 continued lines (440 KB): the old parser re-scanned every earlier line for each word
    # (minutes here); a linear one takes well under a second even on a loaded 2-core machine.
    n = 40_000
    text = "castor " + "".join(f"D::{i:05d} \\\n" for i in range(n)) + "D::end\n"
    [g] = _in_thread(lambda: haresources.parse(text), seconds=5)
    assert len(g.resources) == n + 1
    assert (g.resources[-1].line, g.resources[-1].col) == (n + 1, 1)
    assert (g.resources[123].line, g.resources[123].col) == (124, 1)


def test_continued_haresources_words_keep_their_lines_and_columns():
    text = "castor  Dummy::a \\\n\t  Dummy::b   Dummy::c\\\n Dummy::d # x\n"
    [g] = haresources.parse(text)
    assert [(r.args[0], r.line, r.col) for r in g.resources] == [("a", 1, 9), ("b", 2, 4), ("c", 2, 15),
                                                                  ("d", 3, 2)]


@pytest.mark.parametrize("kind", ["fifo", "directory", "device", "huge", "binary", "latin1", "missing"])
def test_read_text_refuses_what_is_not_a_small_text_file_quickly(tmp_path, fifo, kind):
    from heartbeat_legacy.files import MAX_BYTES, InputFileError, read_text

    path = {"fifo": str(fifo), "directory": str(tmp_path), "device": "/dev/zero",
            "missing": str(tmp_path / "nothing")}.get(kind, str(tmp_path / "f"))
    if kind == "huge":
        with open(path, "w") as f:
            f.write("# x\n" * (MAX_BYTES // 4 + 1))
    elif kind == "binary":
        with open(path, "wb") as f:
            f.write(b"auth 1\n\0\1\2")
    elif kind == "latin1":
        with open(path, "wb") as f:
            f.write("1 sha1 schl\u00fcssel\n".encode("latin-1"))
    with pytest.raises(InputFileError) as e:
        _in_thread(lambda: read_text(path), seconds=5)
    message = str(e.value)
    assert message.startswith(path + ": ") and "\n" not in message
    expected = {"fifo": "a FIFO", "directory": "a directory", "device": "a character device",
                "huge": "more than the", "binary": "NUL byte", "latin1": "not UTF-8", "missing": "No such file"}
    assert expected[kind] in message


def test_read_text_reads_a_file_of_exactly_the_limit(tmp_path):
    from heartbeat_legacy.files import read_text

    p = tmp_path / "f"
    p.write_text("x" * 99 + "\n")
    assert read_text(str(p), limit=100) == "x" * 99 + "\n"


@pytest.mark.parametrize("name", ["ha.cf", "authkeys", "haresources"])
def test_heartbeat_check_reports_a_fifo_instead_of_hanging(tmp_path, capsys, name):
    from heartbeat_legacy.commands import check

    for other in ("ha.cf", "authkeys", "haresources"):
        if other != name:
            (tmp_path / other).write_text("")
    os.mkfifo(tmp_path / name)
    try:
        rc = _in_thread(lambda: check(str(tmp_path), hostname="castor"), seconds=5)
    finally:
        try:
            os.close(os.open(tmp_path / name, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    out = capsys.readouterr().out
    assert rc == 1
    assert f"error: {tmp_path / name}: a FIFO, not a regular file" in out


@pytest.mark.parametrize("what", ["fifo", "huge"])
def test_migrate_refuses_a_fifo_or_huge_haresources_with_one_line(tmp_path, capsys, fifo, what):
    from heartbeat_legacy.files import MAX_BYTES
    from ocfkit.cli import main

    path = fifo
    if what == "huge":
        path = tmp_path / "haresources"
        path.write_text("castor Dummy::a \\\n" * (MAX_BYTES // 18 + 1))
    rc = _in_thread(lambda: main(["migrate", "--haresources", str(path), "--ha-cf", str(tmp_path / "none")]),
                    seconds=5)
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith(f"ocfkit: error: {path}: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("value", ["1e400", "inf", "nan", "-5", "1" * 5000, "\u00b2", "0x10", "1.2.3", "."])
def test_ha_cf_odd_times_are_findings_not_exceptions(value):
    text = f"bcast eth0\nnode castor\nauto_failback off\ndeadtime {value}\n"
    findings = hacf.validate(hacf.parse(text), hostname="castor")
    assert any("is not a time" in f.message for f in findings), findings


@pytest.mark.parametrize("text", ["auth \u00b2\n1 sha1 k\n", "auth 1\n\u00b2 sha1 k\n", f"auth {'9' * 5000}\n",
                                  "bcast eth0\nmcast eth0 239.0.0.1 694 \u00b9 0\n"])
def test_unicode_and_huge_digits_are_findings_not_exceptions(text):
    if text.startswith("bcast"):
        findings = hacf.validate(hacf.parse(text))
        assert any("mcast TTL" in f.message for f in findings)
    else:
        findings = authkeys.validate(authkeys.parse(text), mode=0o100600)
        assert any(f.severity == "error" for f in findings)


@pytest.mark.parametrize("text", ["auth 1\nmy-secret-key\n", "auth 1\n1 my-secret-key\n"])
def test_a_key_on_a_malformed_authkeys_line_never_shows(text):
    findings = authkeys.validate(authkeys.parse(text), mode=0o100600)
    assert any(f.severity == "error" for f in findings)
    assert not any("secret" in str(f) for f in findings), findings


def test_a_nul_in_a_respawn_path_is_a_finding():
    findings = hacf.validate(hacf.parse("bcast eth0\nnode castor\nrespawn hacluster /usr/\0x\n"), hostname="castor")
    assert any("NUL" in f.message for f in findings)


def test_a_haresources_error_about_a_huge_word_stays_short():
    with pytest.raises(haresources.HaresourcesError) as e:
        haresources.parse("x" * 1_000_000 + "\n")
    assert len(str(e.value)) < 400 and "more characters" in str(e.value)


def test_lines_split_at_newlines_only_as_heartbeat_reads_them():
    # str.splitlines() would also split at \x1e, \x0c or \u2028: one line for heartbeat, two here.
    [g] = haresources.parse("castor LVM::vg\x1eX Dummy::a\u2028b\r\n")
    assert [r.token for r in g.resources] == ["LVM::vg\x1eX", "Dummy::a\u2028b"]
    assert [ln.number for ln in hacf.parse("node a\x0cb\nbcast eth0\n").lines] == [1, 2]
    assert authkeys.parse("auth 1\r\n1 sha1 key\r\n").keys == {1: ("sha1", "key")}


@pytest.mark.parametrize("command", ["status", "takeover", "release"])
def test_heartbeat_group_commands_refuse_a_fifo_as_haresources(fifo, capsys, command):
    from ocfkit.cli import main

    rc = _in_thread(lambda: main(["heartbeat", command, "--haresources", str(fifo), "--node", "castor"]), seconds=5)
    err = capsys.readouterr().err
    assert rc == 1 and err == f"ocfkit: error: {fifo}: a FIFO, not a regular file\n"


def test_a_wrapper_hands_the_actions_environment_to_the_command_seams_children_without_importing_os(monkeypatch):
    """A wrapper does not import os (about 1 ms a call): the environment it sets for the agent's commands goes
    into posix.environ, which ocf.environ() reads while os is not loaded (and os.environ would start from)."""
    import posix

    from heartbeat_legacy.resource_d import set_process_env
    from ocf.exec import child_env

    monkeypatch.setattr(posix, "environ", {b"OCF_RESKEY_old": b"1", b"HOME": b"/root"})
    monkeypatch.delitem(sys.modules, "os")
    set_process_env({"OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "IPaddr2_10.0.0.1", "x": "caf\udce9"})
    assert posix.environ == {b"OCF_ROOT": b"/usr/lib/ocf", b"OCF_RESOURCE_INSTANCE": b"IPaddr2_10.0.0.1",
                             b"x": b"caf\xe9"}
    env = child_env()
    assert env["OCF_RESOURCE_INSTANCE"] == "IPaddr2_10.0.0.1" and env["OCF_ROOT"] == "/usr/lib/ocf"


def test_with_os_loaded_a_wrapper_sets_os_environ(monkeypatch):
    import os

    from heartbeat_legacy.resource_d import set_process_env

    saved = dict(os.environ)
    try:
        set_process_env({"OCF_RESOURCE_INSTANCE": "Dummy_x", "PATH": saved.get("PATH", "/usr/bin")})
        assert dict(os.environ) == {"OCF_RESOURCE_INSTANCE": "Dummy_x", "PATH": saved.get("PATH", "/usr/bin")}
    finally:
        os.environ.clear()
        os.environ.update(saved)
