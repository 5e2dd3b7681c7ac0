"""Filesystem decisions on a scripted mountinfo (OCFKIT_PROC_ROOT) and scripted commands."""

from __future__ import annotations

import os

import pytest

from agents.filesystem import Filesystem
from ocf.testing import FakeRunner

ROOT = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"


class Mountinfo:
    """A fake /proc/self/mountinfo the agent reads through OCFKIT_PROC_ROOT."""

    def __init__(self, tmp_path, *lines: str) -> None:
        (tmp_path / "proc" / "self").mkdir(parents=True)
        self.path = tmp_path / "proc" / "self" / "mountinfo"
        self.proc = str(tmp_path / "proc")
        self.path.write_text(ROOT + "".join(line + "\n" for line in lines))

    def drop(self, mount_id: int):
        """An effect: the mount with this ID is gone."""

        def effect():
            kept = [line for line in self.path.read_text().splitlines() if line.split(" ")[0] != str(mount_id)]
            self.path.write_text("\n".join(kept) + "\n")

        return effect


def env(mi: Mountinfo, **params: str) -> dict[str, str]:
    e = {"OCFKIT_PROC_ROOT": mi.proc, "OCF_RESOURCE_INSTANCE": "fs1", "OCF_RESKEY_CRM_meta_timeout": "20000"}
    e.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    return e


def _devno(path) -> str:
    st = os.stat(path)
    return f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"


# ----- stop acts on its own mount only ------------------------------------------------------------

def test_stop_of_a_bind_mount_unmounts_only_its_own_mount_point(tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    dev = _devno(src)
    mi = Mountinfo(tmp_path,
                   f"40 22 {dev} / /srv/ocfk-fs rw - ext4 /dev/vdb rw",
                   f"41 22 {dev} /data /run/netns rw - ext4 /dev/vdb rw",  # the admin's: not ours
                   f"42 22 {dev} /data /srv/ocfk-a rw - ext4 /dev/vdb rw")  # ours
    r = FakeRunner().expect(["umount", "--", "/srv/ocfk-a"], effect=mi.drop(42))
    e = env(mi, device=str(src), directory="/srv/ocfk-a/", fstype="none", options="bind")
    assert Filesystem.main(["Filesystem", "stop"], e, r) == 0
    r.assert_done()
    assert "/run/netns" in mi.path.read_text()


def test_stop_of_a_filesystem_mounted_at_several_places_unmounts_only_ours(tmp_path, capsys):
    mi = Mountinfo(tmp_path,
                   "40 22 0:77 / /srv/ocfk-fs rw - tmpfs ocfk-tmp rw",
                   "41 22 0:77 /sub /run/netns rw - tmpfs ocfk-tmp rw",
                   "43 22 0:77 / /mnt/again rw - tmpfs ocfk-tmp rw")
    r = FakeRunner().expect(["umount", "--", "/srv/ocfk-fs"], effect=mi.drop(40))
    e = env(mi, device="ocfk-tmp", directory="/srv/ocfk-fs", fstype="tmpfs")
    assert Filesystem.main(["Filesystem", "stop"], e, r) == 0
    r.assert_done()
    assert "still in use through mounts that are not ours: /run/netns, /mnt/again" in capsys.readouterr().err


def test_stop_unmounts_nested_mounts_then_its_own_by_mount_id(tmp_path):
    mi = Mountinfo(tmp_path,
                   "40 22 0:30 / /srv/ocfk-fs rw - tmpfs ocfk-tmp rw",     # someone else's, below ours
                   "50 40 0:31 / /srv/ocfk-fs rw - tmpfs ocfk-mine rw",    # ours, stacked on it
                   "51 50 0:32 / /srv/ocfk-fs/in rw - tmpfs other rw")     # nested in ours
    r = (FakeRunner().expect(["umount", "--", "/srv/ocfk-fs/in"], effect=mi.drop(51))
         .expect(["umount", "--", "/srv/ocfk-fs"], effect=mi.drop(50)))
    e = env(mi, device="ocfk-mine", directory="/srv/ocfk-fs", fstype="tmpfs")
    assert Filesystem.main(["Filesystem", "stop"], e, r) == 0
    r.assert_done()
    assert "ocfk-tmp" in mi.path.read_text()


def test_stop_leaves_another_device_on_the_directory_alone(tmp_path):
    mi = Mountinfo(tmp_path, "40 22 0:55 / /srv/ocfk-nfs rw - nfs4 otherhost:/export rw")
    e = env(mi, device="filer:/export", directory="/srv/ocfk-nfs", fstype="nfs4")
    r = FakeRunner()
    assert Filesystem.main(["Filesystem", "stop"], e, r) == 0
    r.assert_done()
    # Ours under someone else's mount: it cannot be unmounted without touching theirs.
    mi = Mountinfo(tmp_path / "2", "40 22 0:55 / /srv/ocfk-nfs rw - nfs4 filer:/export rw",
                   "41 40 0:56 / /srv/ocfk-nfs rw - nfs4 otherhost:/export rw")
    e = env(mi, device="filer:/export", directory="/srv/ocfk-nfs", fstype="nfs4")
    assert Filesystem.main(["Filesystem", "stop"], e, r) == 1
    r.assert_done()


def test_stop_with_umount_missing_fails_while_mounted(tmp_path, capsys):
    mi = Mountinfo(tmp_path, "40 22 0:31 / /srv/ocfk-fs rw - tmpfs ocfk-mine rw")
    e = env(mi, device="ocfk-mine", directory="/srv/ocfk-fs", fstype="tmpfs")
    r = FakeRunner().expect(["umount", "--", "/srv/ocfk-fs"], missing=True)
    assert Filesystem.main(["Filesystem", "stop"], e, r) == 1
    r.assert_done()
    assert "ocf-exit-reason:umount: command not found: /srv/ocfk-fs is still mounted" in capsys.readouterr().err


def test_stop_of_an_unmounted_filesystem_needs_no_tool(tmp_path):
    mi = Mountinfo(tmp_path)
    e = env(mi, device="UUID=0cfk0000-dead", directory="/srv/ocfk-fs", fstype="ext4")
    r = FakeRunner()
    assert Filesystem.main(["Filesystem", "stop"], e, r) == 0
    r.assert_done()


def test_a_device_that_cannot_be_resolved_is_unmounted_as_ours_and_never_reported_stopped(tmp_path, capsys):
    mi = Mountinfo(tmp_path, "40 22 8:33 / /srv/ocfk-fs rw - ext4 /dev/sdc1 rw")
    e = env(mi, device="UUID=0cfk0000-dead", directory="/srv/ocfk-fs", fstype="ext4")
    blkid = ["blkid", "-U", "0cfk0000-dead"]
    # The probe does not guess: something is mounted where ours belongs.
    r = FakeRunner().expect(blkid, rc=2)
    assert Filesystem.main(["Filesystem", "monitor"], e, r) == 1
    assert "cannot be resolved" in capsys.readouterr().err
    # blkid missing too: still not "stopped".
    r = FakeRunner().expect(blkid, missing=True).expect(["umount", "--", "/srv/ocfk-fs"], effect=mi.drop(40))
    assert Filesystem.main(["Filesystem", "stop"], e, r) == 0
    r.assert_done()
    assert "unmounting it as ours" in capsys.readouterr().err


# ----- validate-all on a node that cannot see the device --------------------------------------------

@pytest.mark.parametrize("device", ["/dev/drbd99", "/dev/disk/by-label/ocfk-none"])
def test_validate_all_passes_where_the_device_appears_only_on_promotion(tmp_path, capsys, device):
    mi = Mountinfo(tmp_path)
    e = env(mi, device=device, directory="/srv/ocfk-fs", fstype="ext4")
    assert Filesystem.main(["Filesystem", "validate-all"], e, FakeRunner()) == 0
    assert "does not exist on this node (yet)" in capsys.readouterr().err


def test_validate_all_passes_when_no_device_has_the_uuid_yet(tmp_path):
    mi = Mountinfo(tmp_path)
    e = env(mi, device="UUID=0cfk0000-dead", directory="/srv/ocfk-fs", fstype="ext4")
    r = FakeRunner().expect(["blkid", "-U", "0cfk0000-dead"], rc=2)
    assert Filesystem.main(["Filesystem", "validate-all"], e, r) == 0
    r.assert_done()


# ----- nothing a user gives reaches mount's argv as an option ------------------------------------------

@pytest.mark.parametrize(("param", "value"), [
    ("device", "-a"), ("device", "--all"), ("fstype", "-v"), ("fstype", "ext4 -o"), ("fstype", ""),
    ("statusfile_prefix", "../../etc/"), ("statusfile_prefix", "/etc/x"), ("term_signals", "TERM FOO"),
    ("kill_signals", "-9"),
])
def test_a_value_that_could_become_an_option_fails_validation_naming_the_parameter(tmp_path, capsys, param, value):
    mi = Mountinfo(tmp_path)
    params = {"device": "/dev/ocfk-x", "directory": "/srv/ocfk-fs", "fstype": "ext4", param: value}
    r = FakeRunner()
    assert Filesystem.main(["Filesystem", "validate-all"], env(mi, **params), r) == 6
    err = capsys.readouterr().err
    assert param in err.split("ocf-exit-reason:", 1)[1]
    assert Filesystem.main(["Filesystem", "start"], env(mi, **params), r) == 6
    r.assert_done()  # not a single command ran


def test_start_passes_source_and_target_after_double_dash(tmp_path):
    mi = Mountinfo(tmp_path)
    mp = tmp_path / "mnt"
    r = FakeRunner().expect(["mount", "-t", "tmpfs", "-o", "size=1m", "--", "ocfk-tmp", str(mp)])
    e = env(mi, device="ocfk-tmp", directory=str(mp), fstype="tmpfs", options="size=1m")
    assert Filesystem.main(["Filesystem", "start"], e, r) == 0
    r.assert_done()


def test_signal_names_are_accepted_with_or_without_sig(tmp_path):
    from agents.filesystem import signal_names

    mi = Mountinfo(tmp_path)
    e = env(mi, device="/dev/ocfk-x", directory="/srv/ocfk-fs", fstype="ext4", term_signals="SIGTERM,hup",
            kill_signals="KILL")
    assert Filesystem.main(["Filesystem", "validate-all"], dict(e, OCF_CHECK_LEVEL="0"), FakeRunner()) == 0
    assert signal_names(["SIGTERM", "hup", "KILL", "x"]) == (["TERM", "HUP", "KILL"], ["x"])


# ----- meta-data -----------------------------------------------------------------------------------------

def test_each_advertised_monitor_depth_has_its_own_interval(capsys):
    import xml.etree.ElementTree as ET

    assert Filesystem.main(["Filesystem", "meta-data"], {}, FakeRunner()) == 0
    monitors = [a.attrib for a in ET.fromstring(capsys.readouterr().out).iter("action") if a.get("name") == "monitor"]
    assert sorted(m.get("depth", "0") for m in monitors) == ["0", "10", "20"]
    intervals = [m["interval"] for m in monitors]
    assert len(set(intervals)) == len(intervals), intervals  # Pacemaker tells operations apart by interval
    assert next(m for m in monitors if m.get("depth", "0") == "0")["interval"] == "20s"


def test_the_status_file_stays_under_the_mount_point_whatever_the_instance_name(tmp_path):
    mp, src = tmp_path / "mnt", tmp_path / "src"
    mp.mkdir()
    src.mkdir()
    mi = Mountinfo(tmp_path, f"40 22 {_devno(src)} /src {mp} rw - ext4 /dev/vdb rw")
    e = dict(env(mi, device=str(src), directory=str(mp), fstype="none", options="bind"), OCF_CHECK_LEVEL="20",
             OCF_RESOURCE_INSTANCE="../../../escaped", OCF_RESKEY_CRM_meta_interval="22000")
    assert Filesystem.main(["Filesystem", "monitor"], e, FakeRunner()) == 0
    written = [p for p in tmp_path.rglob("*escaped*")]
    assert written and all(str(p).startswith(str(mp / ".Filesystem_status")) for p in written), written


@pytest.mark.parametrize(("device", "fstype", "options"), [("filer:/export", "nfs4", ""), ("ocfk-tmp", "tmpfs", ""),
                                                           ("/srv/ocfk-src", "none", "bind")])
def test_monitor_depth_10_has_nothing_to_read_without_a_block_device(tmp_path, device, fstype, options):
    src = tmp_path / "src"
    src.mkdir()
    device = str(src) if options == "bind" else device
    mp = tmp_path / "mnt"
    mi = Mountinfo(tmp_path, f"40 22 {_devno(src)} / {mp} rw - {fstype} {device} rw")
    e = dict(env(mi, device=device, directory=str(mp), fstype=fstype, options=options), OCF_CHECK_LEVEL="10",
             OCF_RESKEY_CRM_meta_interval="21000")
    assert Filesystem.main(["Filesystem", "monitor"], e, FakeRunner()) == 0


def test_monitor_depth_20_writes_nothing_on_a_filesystem_mounted_ro_on_purpose(tmp_path):
    mp, src = tmp_path / "mnt", tmp_path / "src"
    mp.mkdir()
    src.mkdir()
    mi = Mountinfo(tmp_path, f"40 22 {_devno(src)} /src {mp} ro - ext4 /dev/vdb rw")
    e = dict(env(mi, device=str(src), directory=str(mp), fstype="none", options="bind,ro"), OCF_CHECK_LEVEL="20",
             OCF_RESKEY_CRM_meta_interval="22000")
    assert Filesystem.main(["Filesystem", "monitor"], e, FakeRunner()) == 0
    assert not (mp / ".Filesystem_status").exists()  # on a real ro mount the write would fail the monitor


def test_a_status_directory_that_cannot_be_made_is_a_reason_not_a_traceback(tmp_path, capsys):
    mp, src = tmp_path / "mnt", tmp_path / "src"
    mp.mkdir()
    src.mkdir()
    (mp / "blocked").write_text("a file where the status directory should be\n")
    mi = Mountinfo(tmp_path, f"40 22 {_devno(src)} /src {mp} rw - ext4 /dev/vdb rw")
    e = dict(env(mi, device=str(src), directory=str(mp), fstype="none", options="bind",
                 statusfile_prefix="blocked/"), OCF_CHECK_LEVEL="20", OCF_RESKEY_CRM_meta_interval="22000")
    assert Filesystem.main(["Filesystem", "monitor"], e, FakeRunner()) == 1
    err = capsys.readouterr().err
    assert "ocf-exit-reason:cannot create the status directory" in err and "Traceback" not in err


def test_a_mount_point_that_cannot_be_made_or_an_unreadable_mountinfo_is_a_reason(tmp_path, capsys):
    mi = Mountinfo(tmp_path)
    (tmp_path / "file").write_text("")
    e = env(mi, device="ocfk-tmp", directory=str(tmp_path / "file" / "mnt"), fstype="tmpfs")
    assert Filesystem.main(["Filesystem", "start"], e, FakeRunner()) == 1
    assert "ocf-exit-reason:cannot create the mount point" in capsys.readouterr().err
    e = env(mi, device="ocfk-tmp", directory="/srv/ocfk-fs", fstype="tmpfs")
    mi.path.unlink()
    assert Filesystem.main(["Filesystem", "stop"], e, FakeRunner()) == 1  # cannot tell: never "stopped"
    assert Filesystem.main(["Filesystem", "monitor"], e, FakeRunner()) == 1
    err = capsys.readouterr().err
    assert "ocf-exit-reason:cannot read" in err and "internal error" not in err


@pytest.mark.parametrize(("param", "value"), [("statusfile_prefix", "../../etc/"), ("term_signals", "FOO"),
                                              ("kill_signals", "-9")])
def test_a_bad_tunable_does_not_turn_stop_into_success_while_mounted(tmp_path, param, value):
    mi = Mountinfo(tmp_path, "40 22 0:31 / /srv/ocfk-fs rw - tmpfs ocfk-mine rw")
    e = env(mi, device="ocfk-mine", directory="/srv/ocfk-fs", fstype="tmpfs", **{param: value})
    r = FakeRunner().expect(["umount", "--", "/srv/ocfk-fs"], effect=mi.drop(40))
    assert Filesystem.main(["Filesystem", "stop"], e, r) == 0
    r.assert_done()  # it did unmount
    assert Filesystem.main(["Filesystem", "start"], e, FakeRunner()) == 6  # every other action refuses it


def test_an_open_file_holds_only_the_mount_it_was_opened_through(tmp_path):
    from agents.tools.holders import _fd_mount_id, holds

    with open(tmp_path / "held", "w") as f:
        mnt_id = _fd_mount_id(os.getpid(), str(f.fileno()))
        assert isinstance(mnt_id, int)
        assert holds(os.getpid(), str(tmp_path), mnt_id) == "fd"
        assert holds(os.getpid(), str(tmp_path)) == "fd"
        # The same path on another mount (stacked there in between) is not this mount's holder.
        assert holds(os.getpid(), str(tmp_path), mnt_id + 100000) == ""
