"""targets.conf: a plain file (what `ocfkit generate` writes for LUNs and address ACLs) is loaded with
tgtadm in tgt-admin's order; anything else, a tgtd that has targets already, or a missing backing
store goes to tgt-admin -e."""

from __future__ import annotations

import os

import pytest

from agents.tools import tgt_admin
from ocf.testing import FakeRunner

BASE = ["tgtadm", "--lld", "iscsi"]
SHOW = [*BASE, "--op", "show", "--mode", "target"]


@pytest.fixture
def stores(tmp_path):
    for name in ("a.img", "b.img"):
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def proc(d) -> str:
    """A fake /proc (no process holds a file unless a test adds one)."""
    (d / "proc").mkdir(exist_ok=True)
    return str(d / "proc")


def conf(tmp_path, text: str) -> str:
    path = tmp_path / "targets.conf"
    path.write_text(text)
    return str(path)


def plain(d) -> str:
    return (f"# generated\n<target iqn.2024-01.org.example:z>\n    <backing-store {d}/b.img>\n        lun 2\n"
            f"    </backing-store>\n    <backing-store {d}/a.img>\n        lun 1\n    </backing-store>\n"
            "    initiator-address 10.0.0.7\n    initiator-address 10.0.1.0/24\n</target>\n\n"
            "<target iqn.2024-01.org.example:a>\n</target>\n")


def test_a_plain_file_is_loaded_with_tgtadm_in_tgt_admins_order(stores):
    d = stores
    r = (FakeRunner().expect(SHOW)
         .expect([*BASE, "--op", "new", "--mode", "target", "--tid", "1", "-T", "iqn.2024-01.org.example:a"])
         .expect([*BASE, "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"])
         .expect([*BASE, "--op", "new", "--mode", "target", "--tid", "2", "-T", "iqn.2024-01.org.example:z"])
         .expect([*BASE, "--op", "new", "--mode", "logicalunit", "--tid", "2", "--lun", "1", "-b", f"{d}/a.img"])
         .expect([*BASE, "--op", "new", "--mode", "logicalunit", "--tid", "2", "--lun", "2", "-b", f"{d}/b.img"])
         .expect([*BASE, "--op", "bind", "--mode", "target", "--tid", "2", "-I", "10.0.0.7"])
         .expect([*BASE, "--op", "bind", "--mode", "target", "--tid", "2", "-I", "10.0.1.0/24"]))
    assert tgt_admin.load(r, conf(d, plain(d)), proc(d)) == "tgtadm"
    r.assert_done()


@pytest.mark.parametrize("change", [
    ("initiator-address 10.0.0.7", "initiator-name iqn.1993-08.org.debian:01:a"),
    ("initiator-address 10.0.0.7", "incominguser user secretsecret12"),
    ("        lun 2\n", "        lun 2\n        bsoflags direct\n"),
    ("        lun 2\n", ""),  # tgt-admin numbers it
    ("        lun 2\n", "        lun 1\n"),  # the same LUN twice
    ("<target iqn.2024-01.org.example:a>", "<target iqn.2024-01.org.example:z>"),  # merged by tgt-admin
    ("<target iqn.2024-01.org.example:a>", "<Target iqn.2024-01.org.example:a>"),
    ("<target iqn.2024-01.org.example:a>", '<target "iqn.2024-01.org.example:a">'),
    ("<target iqn.2024-01.org.example:a>", "<target -iqn.2024-01.org.example:a>"),
    ("initiator-address 10.0.0.7", "initiator-address 10.0.0.7 # the client"),
    ("initiator-address 10.0.0.7", "initiator-address iqn.1993-08.org.debian:01:a"),
    ("</target>\n\n<target", "</target>\ninclude /etc/tgt/conf.d/*.conf\n<target"),
    ("    </backing-store>\n    initiator", "    </backing-store>\n    initiator-address 10.0.0.9 \\\n   initiator"),
    ("\n</target>\n\n", "\n\n"),  # an unclosed block
])
def test_anything_more_than_the_plain_form_goes_to_tgt_admin(stores, change):
    text = plain(stores)
    assert change[0] in text
    path = conf(stores, text.replace(change[0], change[1], 1))
    r = FakeRunner().expect(["tgt-admin", "-e", "-c", path])
    assert tgt_admin.load(r, path) == "tgt-admin"
    r.assert_done()


def test_a_tgtd_with_targets_or_a_backing_store_in_use_or_missing_goes_to_tgt_admin(stores):
    d = stores
    path = conf(d, plain(d))
    r = FakeRunner().expect(SHOW, stdout="Target 3: iqn.2024-01.org.example:other\n").expect(
        ["tgt-admin", "-e", "-c", path])
    assert tgt_admin.load(r, path, proc(d)) == "tgt-admin"
    r.assert_done()
    # A process has it open (tgt-admin would skip it: lsof finds it).
    fd = d / "proc" / "4242" / "fd"
    fd.mkdir(parents=True)
    os.symlink(d / "b.img", fd / "9")
    r = FakeRunner().expect(SHOW).expect(["tgt-admin", "-e", "-c", path])
    assert tgt_admin.load(r, path, proc(d)) == "tgt-admin"
    r.assert_done()
    os.unlink(fd / "9")
    os.symlink(d / "other.img", fd / "9")
    os.unlink(d / "b.img")
    r = FakeRunner().expect(SHOW).expect(["tgt-admin", "-e", "-c", path])
    assert tgt_admin.load(r, path, proc(d)) == "tgt-admin"
    r.assert_done()
    os.mkdir(d / "b.img")  # a directory is no backing store for tgt-admin
    r = FakeRunner().expect(SHOW).expect(["tgt-admin", "-e", "-c", path])
    assert tgt_admin.load(r, path, proc(d)) == "tgt-admin"
    r.assert_done()


def test_a_backing_store_named_by_two_targets_goes_to_tgt_admin(stores):
    # tgt-admin exports it once: the second target finds it open by tgtd and skips it.
    d = stores
    text = plain(d).replace("<target iqn.2024-01.org.example:a>\n</target>",
                            f"<target iqn.2024-01.org.example:a>\n<backing-store {d}/a.img>\nlun 1\n"
                            "</backing-store>\n</target>")
    path = conf(d, text)
    r = FakeRunner().expect(["tgt-admin", "-e", "-c", path])
    assert tgt_admin.load(r, path) == "tgt-admin"
    r.assert_done()


def test_a_fifo_or_a_huge_file_is_not_read_but_left_to_tgt_admin(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = FakeRunner().expect(["tgt-admin", "-e", "-c", str(fifo)])
    assert tgt_admin.load(r, str(fifo)) == "tgt-admin"
    r.assert_done()
    big = conf(tmp_path, "#" * (tgt_admin.MAX_SIZE + 1))
    r = FakeRunner().expect(["tgt-admin", "-e", "-c", big])
    assert tgt_admin.load(r, big) == "tgt-admin"
    r.assert_done()
