"""IET (iSCSI Enterprise Target) through `ietadm`, with state read from /proc/net/iet.

IET left mainline kernels long ago and no IET kernel exists on the machines ocfkit is tested on:
this backend is tested on /proc/net/iet contents in the documented format and scripted `ietadm`
runs (tests/unit/test_iet.py), never against a live ietd.

/proc/net/iet/volume:

    tid:1 name:iqn.2015-12.cl.caschile:lun.filer
    \tlun:0 state:0 iotype:blockio iomode:wt blocks:2097152 blocksize:512 path:/dev/vg0drbd/filer

/proc/net/iet/session:

    tid:1 name:iqn.2015-12.cl.caschile:lun.filer
    \tsid:281474997486080 initiator:iqn.1993-08.org.debian:01:abc
    \t\tcid:0 ip:192.168.7.10 state:active hd:none dd:none
"""

from __future__ import annotations

PROC = "/proc/net/iet"
ALLOW = "/etc/initiators.allow"

# Target parameters ietadm --op update accepts (ietd.conf's per-target keys).
PARAMS = {"MaxConnections", "MaxSessions", "InitialR2T", "ImmediateData", "MaxRecvDataSegmentLength",
          "MaxXmitDataSegmentLength", "MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait",
          "DefaultTime2Retain", "MaxOutstandingR2T", "DataPDUInOrder", "DataSequenceInOrder",
          "ErrorRecoveryLevel", "HeaderDigest", "DataDigest", "OFMarker", "IFMarker", "OFMarkInt", "IFMarkInt",
          "Wthreads", "QueuedCommands", "NOPInterval", "NOPTimeout"}


class Target:
    def __init__(self, tid: int, iqn: str) -> None:
        self.tid = tid
        self.iqn = iqn
        self.luns: dict[int, dict[str, str]] = {}
        self.sessions: dict[str, list[str]] = {}  # sid -> cids


def _fields(line: str) -> dict[str, str]:
    return dict(w.split(":", 1) for w in line.split() if ":" in w)


def running(proc: str = PROC) -> bool:
    """Whether the IET kernel module is loaded (its /proc directory exists)."""
    import os

    return os.path.isdir(proc)


def targets(proc: str = PROC) -> dict[int, Target]:
    """{tid: Target} with LUNs and sessions; {} when IET is not loaded."""
    out: dict[int, Target] = {}
    try:
        with open(f"{proc}/volume", encoding="utf-8") as f:
            volume = f.read()
    except OSError:
        return out
    cur = None
    for line in volume.splitlines():
        f = _fields(line)
        if "tid" in f and not line[:1].isspace():
            cur = out[int(f["tid"])] = Target(int(f["tid"]), f.get("name", ""))
        elif cur is not None and "lun" in f:
            cur.luns[int(f["lun"])] = f
    try:
        with open(f"{proc}/session", encoding="utf-8") as fh:
            session = fh.read()
    except OSError:
        session = ""
    cur = None
    sid = ""
    for line in session.splitlines():
        f = _fields(line)
        if "tid" in f and not line[:1].isspace():
            cur = out.get(int(f["tid"]))
        elif cur is not None and "sid" in f:
            sid = f["sid"]
            cur.sessions[sid] = []
        elif cur is not None and "cid" in f and sid:
            cur.sessions[sid].append(f["cid"])
    return out


def ietadm(run, *args: str, ok=(0,)):
    return run(["ietadm", *args], ok=ok)


def new_target(run, tid: int, iqn: str) -> None:
    ietadm(run, "--op", "new", f"--tid={tid}", f"--params=Name={iqn}")


def update_target(run, tid: int, params: dict[str, str]) -> None:
    if params:
        ietadm(run, "--op", "update", f"--tid={tid}", "--params=" + ",".join(f"{k}={v}" for k, v in params.items()))


def delete_target(run, t: Target) -> None:
    """Close the target's sessions, then delete its LUNs and the target."""
    for sid, cids in t.sessions.items():
        for cid in cids:
            ietadm(run, "--op", "delete", f"--tid={t.tid}", f"--sid={sid}", f"--cid={cid}", ok=(0, 1, 2, 22))
    for lun in sorted(t.luns):
        ietadm(run, "--op", "delete", f"--tid={t.tid}", f"--lun={lun}", ok=(0, 1, 2, 22))
    ietadm(run, "--op", "delete", f"--tid={t.tid}")


def new_user(run, tid: int, user: str, password: str) -> None:
    ietadm(run, "--op", "new", f"--tid={tid}", "--user", f"--params=IncomingUser={user},Password={password}")


def delete_user(run, tid: int, user: str) -> None:
    ietadm(run, "--op", "delete", f"--tid={tid}", "--user", f"--params=IncomingUser={user}", ok=(0, 1, 2, 22))


def new_lun(run, tid: int, lun: int, params: dict[str, str]) -> None:
    ietadm(run, "--op", "new", f"--tid={tid}", f"--lun={lun}",
           "--params=" + ",".join(f"{k}={v}" for k, v in params.items()))


def delete_lun(run, tid: int, lun: int) -> None:
    ietadm(run, "--op", "delete", f"--tid={tid}", f"--lun={lun}")


def allow_line(iqn: str, initiators: list[str]) -> str:
    """The /etc/initiators.allow line that admits these initiators (names or addresses) to the target."""
    return f"{iqn} {', '.join(initiators)}"


def edit_allow(path: str, add: str | None = None, remove: str | None = None) -> None:
    """Add or remove one exact line of initiators.allow (ietd reads it at each login), atomically."""
    import os

    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    new = [line for line in lines if line != remove] if remove else list(lines)
    if add and add not in new:
        new.append(add)
    if new == lines:
        return
    tmp = f"{path}.ocfkit-tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in new))
    os.replace(tmp, path)
