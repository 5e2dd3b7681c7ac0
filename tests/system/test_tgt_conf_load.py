"""A plain targets.conf loaded by ocfkit's tgtadm calls leaves a real tgtd exactly as tgt-admin -e leaves it,
and the iscsitarget agent loads it that way and stops its tgtd (log daemon first) leaving no process."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.system.support import Netns, unique
from tests.system.test_iscsi import Tgtd

pytestmark = pytest.mark.system

PROVIDER = os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit")


def plain_conf(d) -> str:
    return (f"<target iqn.2024-01.org.example:zeta>\n    <backing-store {d}/b.img>\n        lun 2\n"
            "    </backing-store>\n"
            f"    <backing-store {d}/a.img>\n        lun 1\n    </backing-store>\n"
            "    initiator-address 10.0.0.7\n    initiator-address 10.0.1.0/24\n</target>\n"
            f"<target iqn.2024-01.org.example:alpha>\n    <backing-store {d}/c.img>\n        lun 1\n"
            "    </backing-store>\n</target>\n")


def test_plain_targets_conf_loads_to_the_same_tgtd_state_as_tgt_admin(tmp_path, monkeypatch):
    from agents.tools import tgt_admin
    from ocf.exec import run

    for name in ("a.img", "b.img", "c.img"):
        with open(tmp_path / name, "wb") as f:
            f.truncate(8 << 20)
    conf = tmp_path / "targets.conf"
    conf.write_text(plain_conf(tmp_path))
    shows = []
    for how in ("tgt-admin", "tgtadm"):
        d = tmp_path / how
        d.mkdir()
        with Netns(unique("ocfk-tl")) as ns:
            tgtd = Tgtd(ns, d, "127.0.0.1:3260")
            try:
                if how == "tgt-admin":
                    r = subprocess.run(["tgt-admin", "-e", "-c", str(conf)], env={"TGT_IPC_SOCKET": tgtd.socket,
                                       "PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=60)
                    assert r.returncode == 0, r.stdout + r.stderr
                else:
                    monkeypatch.setenv("TGT_IPC_SOCKET", tgtd.socket)
                    assert tgt_admin.load(lambda argv, **kw: run(argv, timeout=20, **kw), str(conf)) == "tgtadm"
                shows.append(tgtd.show())
            finally:
                tgtd.stop()
    assert "Target 2: iqn.2024-01.org.example:zeta" in shows[0] and "10.0.1.0/24" in shows[0], shows[0]
    import difflib

    assert shows[1] == shows[0], "".join(difflib.unified_diff(shows[0].splitlines(True), shows[1].splitlines(True)))


def test_iscsitarget_loads_the_plain_file_and_its_stop_leaves_no_tgtd(tmp_path):
    agent = f"/usr/lib/ocf/resource.d/{PROVIDER}/iscsitarget"
    if not os.access(agent, os.X_OK):
        pytest.skip(f"ocf:{PROVIDER}:iscsitarget is not installed")
    for name in ("a.img", "b.img", "c.img"):
        with open(tmp_path / name, "wb") as f:
            f.truncate(8 << 20)
    conf = tmp_path / "targets.conf"
    conf.write_text(plain_conf(tmp_path))
    sock = tmp_path / "tgtsock" / "socket"
    os.makedirs(sock.parent)
    (tmp_path / "rsctmp").mkdir()
    env = {"PATH": os.environ["PATH"], "TGT_IPC_SOCKET": str(sock), "HA_RSCTMP": str(tmp_path / "rsctmp"),
           "OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "tgtd", "OCF_RESKEY_config": str(conf),
           "OCF_RESKEY_portal": "127.0.0.1:3260", "OCF_RESKEY_CRM_meta_timeout": "20000"}
    with Netns(unique("ocfk-tl")) as ns:
        def agent_run(action: str) -> subprocess.CompletedProcess:
            return subprocess.run(["ip", "netns", "exec", ns.name, agent, action], env=env, capture_output=True,
                                  text=True, timeout=60)

        r = agent_run("start")
        pid = int((tmp_path / "rsctmp" / "iscsitarget-tgtd.pid").read_text())
        try:
            assert r.returncode == 0, r.stderr
            show = subprocess.run(["tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target"], env=env,
                                  capture_output=True, text=True, timeout=20).stdout
            assert "Target 1: iqn.2024-01.org.example:alpha" in show and f"{tmp_path}/b.img" in show, show
            log_daemons = [p for p in os.listdir("/proc") if p.isdigit() and _parent(p) == pid]
            assert log_daemons, "tgtd runs without its log daemon"
            t0 = time.monotonic()
            r = agent_run("stop")
            took = time.monotonic() - t0
            assert r.returncode == 0, r.stderr
            assert not os.path.exists(f"/proc/{pid}") or _state(pid) == "Z"
            assert all(not os.path.exists(f"/proc/{p}") or _state(int(p)) == "Z" for p in log_daemons)
            # The shutdown's tgtadm (run in the background, ended once tgtd is gone) is not left behind.
            assert not _shutdown_requests(str(sock)), "the shutdown's tgtadm still runs after the stop"
            print(f"iscsitarget stop: {took:.3f} s")
        finally:
            if os.path.exists(f"/proc/{pid}") and _state(pid) != "Z":
                os.kill(pid, 9)


def _shutdown_requests(socket: str) -> list[str]:
    """The live tgtadm processes that ask the tgtd on socket to shut down."""
    found = []
    for p in os.listdir("/proc"):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{p}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"tgtadm") and b"delete" in argv and _state(int(p)) != "Z" \
                and f"TGT_IPC_SOCKET={socket}".encode() in env:
            found.append(p)
    return found


def _parent(pid) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _state(pid) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
