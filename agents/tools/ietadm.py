"""IET (iSCSI Enterprise Target): ietadm operations, /proc/net/iet state, initiators.allow lines.

State comes from /proc/net/iet/volume and /proc/net/iet/session (no child process); changes go
through ietadm, which takes parameters as one Key=Value,Key=Value argument. The proc root is a
parameter so that tests read captured files.
"""

from __future__ import annotations

from ocf import system
from ocf.errors import CommandError, NotInstalledError

PROC = "/proc"

# iSCSI target parameters ietadm --op update accepts (ietd.conf(5) target options).
TARGET_PARAMS = {"MaxConnections", "MaxSessions", "InitialR2T", "ImmediateData", "MaxRecvDataSegmentLength",
                 "MaxXmitDataSegmentLength", "MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait",
                 "DefaultTime2Retain", "MaxOutstandingR2T", "DataPDUInOrder", "DataSequenceInOrder",
                 "ErrorRecoveryLevel", "HeaderDigest", "DataDigest", "OFMarker", "IFMarker", "OFMarkInt",
                 "IFMarkInt", "Wthreads", "QueuedCommands", "NOPInterval", "NOPTimeout"}
# Logical unit parameters besides Path, Type, ScsiId and ScsiSN, which the agent sets itself.
LUN_PARAMS = {"IOMode", "BlockSize"}


class Lun:
    """One logical unit line of /proc/net/iet/volume."""

    __slots__ = ("number", "path", "iotype", "iomode")

    def __init__(self, number: int, path: str, iotype: str, iomode: str) -> None:
        self.number, self.path, self.iotype, self.iomode = number, path, iotype, iomode


class Target:
    """A target of /proc/net/iet/volume, with its sessions from /proc/net/iet/session."""

    __slots__ = ("tid", "iqn", "luns", "sessions")

    def __init__(self, tid: int, iqn: str) -> None:
        self.tid, self.iqn = tid, iqn
        self.luns: dict[int, Lun] = {}
        self.sessions: list[tuple[str, str, list[str]]] = []  # (sid, initiator, connection ids)


def _fields(line: str) -> dict[str, str]:
    """'tid:1 name:iqn...' -> {'tid': '1', 'name': 'iqn...'}; path: is the rest of the line."""
    out: dict[str, str] = {}
    rest = line.strip()
    while rest:
        if rest.startswith("path:"):
            out["path"] = rest[5:]
            break
        word, _, rest = rest.partition(" ")
        k, _, v = word.partition(":")
        out[k] = v
        rest = rest.lstrip()
    return out


def _records(text: str):
    """(whether it is a target's line, its fields) for each line of an IET /proc file: a `tid:` line at
    the margin, then the target's own lines indented."""
    for raw in text.splitlines():
        if raw.strip():
            f = _fields(raw)
            yield not raw[0].isspace() and "tid" in f, f


def parse_volumes(text: str) -> dict[int, Target]:
    """Parse /proc/net/iet/volume: a `tid:N name:IQN` line, then one indented line per LUN."""
    targets: dict[int, Target] = {}
    t: Target | None = None
    for is_target, f in _records(text):
        if is_target:
            t = Target(int(f["tid"]), f.get("name", ""))
            targets[t.tid] = t
        elif t is not None and "lun" in f:
            n = int(f["lun"])
            t.luns[n] = Lun(n, f.get("path", ""), f.get("iotype", ""), f.get("iomode", ""))
    return targets


def parse_sessions(text: str, targets: dict[int, Target]) -> None:
    """Add the sessions of /proc/net/iet/session (tid line, `sid:... initiator:...`, `cid:...`) to targets."""
    t: Target | None = None
    for is_target, f in _records(text):
        if is_target:
            t = targets.get(int(f["tid"]))
        elif t is not None and "sid" in f:
            t.sessions.append((f["sid"], f.get("initiator", ""), []))
        elif t is not None and "cid" in f and t.sessions:
            t.sessions[-1][2].append(f["cid"])


def is_loaded(proc: str) -> bool:
    """Whether the IET kernel module is there."""
    return system.path.exists(f"{proc}/net/iet/volume")


def targets(proc: str, *, sessions: bool = False) -> dict[int, Target]:
    """Every IET target (tid -> Target); NotInstalledError when IET is not loaded."""
    try:
        with open(f"{proc}/net/iet/volume", encoding="utf-8", errors="replace") as f:
            found = parse_volumes(f.read())
        if sessions:
            with open(f"{proc}/net/iet/session", encoding="utf-8", errors="replace") as f:
                parse_sessions(f.read(), found)
    except FileNotFoundError:
        raise NotInstalledError(f"IET is not loaded ({proc}/net/iet is missing)") from None
    return found


def by_name(found: dict[int, Target], iqn: str) -> Target | None:
    """The target with this IQN, or None."""
    for t in found.values():
        if t.iqn == iqn:
            return t
    return None


def _params(params: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())


def new_target(run, tid: int, iqn: str) -> None:
    """Create a target."""
    run(["ietadm", "--op", "new", f"--tid={tid}", f"--params=Name={iqn}"])


def delete_target(run, tid: int) -> bool:
    """Delete a target (IET refuses while sessions remain); False when ietadm refused."""
    return run(["ietadm", "--op", "delete", f"--tid={tid}"], ok=tuple(range(256))).returncode == 0


def update_target(run, tid: int, params: dict[str, str]) -> None:
    """Set iSCSI parameters of a target."""
    run(["ietadm", "--op", "update", f"--tid={tid}", f"--params={_params(params)}"])


def delete_connection(run, tid: int, sid: str, cid: str) -> None:
    """Close one connection of a session (gone already is fine)."""
    run(["ietadm", "--op", "delete", f"--tid={tid}", f"--sid={sid}", f"--cid={cid}"], ok=tuple(range(256)))


def new_user(run, tid: int, user: str, password: str) -> None:
    """Add an incoming CHAP account to a target.

    ietadm takes the password only as an argument; a failure is reported with it replaced by ***
    (the error is built outside the handler, so no exception chain carries the original text)."""
    argv = ["ietadm", "--op", "new", f"--tid={tid}", "--user", f"--params=IncomingUser={user},Password={password}"]
    try:
        run(argv)
        return
    except CommandError as e:
        failed = (e.returncode, e.stderr.replace(password, "***"))
    shown = [*argv[:-1], f"--params=IncomingUser={user},Password=***"]
    raise CommandError(shown, failed[0], failed[1])


def delete_user(run, tid: int, user: str) -> None:
    """Remove an incoming CHAP account from a target (missing is fine)."""
    run(["ietadm", "--op", "delete", f"--tid={tid}", "--user", f"--params=IncomingUser={user}"],
        ok=tuple(range(256)))


def new_lun(run, tid: int, lun: int, params: dict[str, str]) -> None:
    """Create a logical unit (Path, Type, ScsiId, ScsiSN, IOMode...)."""
    run(["ietadm", "--op", "new", f"--tid={tid}", f"--lun={lun}", f"--params={_params(params)}"])


def delete_lun(run, tid: int, lun: int) -> None:
    """Delete a logical unit (IET deletes it even while in use)."""
    run(["ietadm", "--op", "delete", f"--tid={tid}", f"--lun={lun}"])


def delete_all(run) -> None:
    """Delete every target and tell ietd to shut down (ietadm --op delete without a tid)."""
    run(["ietadm", "--op", "delete"], ok=tuple(range(256)))


def add_line(path: str, line: str) -> bool:
    """Append line to a file unless an identical line is there; True when it was added."""
    lines = _lines(path)
    if line in lines:
        return False
    _rewrite(path, [*lines, line])
    return True


def remove_line(path: str, line: str) -> bool:
    """Remove every line identical to line (only those); True when one was removed."""
    lines = _lines(path)
    if line not in lines:
        return False
    _rewrite(path, [x for x in lines if x != line])
    return True


def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def _rewrite(path: str, lines: list[str]) -> None:
    """Replace the file atomically, keeping its mode (ietd may read it at any login)."""
    try:
        mode = system.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    tmp = f"{path}.{system.getpid()}.tmp"
    fd = system.open(tmp, system.O_WRONLY | system.O_CREAT | system.O_TRUNC, mode)
    try:
        system.write(fd, "".join(x + "\n" for x in lines).encode())
        system.fsync(fd)
    finally:
        system.close(fd)
    system.chmod(tmp, mode)
    system.replace(tmp, path)
