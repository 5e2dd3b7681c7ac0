"""tgt's tgtadm (userspace iSCSI target): parsed `--op show` and one function per operation.

tgtadm honours TGT_IPC_SOCKET (a socket path prefix), which the command seam passes through, so an
agent can manage an isolated tgtd.
"""

from __future__ import annotations

from ocf import system
from ocf.errors import CommandError, OcfError

BASE = ["tgtadm", "--lld", "iscsi"]
# tgtadm exits 22 (EINVAL) for "can't find the target/logical unit", "already exists", "still active",
# and 107 (ENOTCONN) when no tgtd answers on the management socket.
EINVAL = 22
NO_DAEMON = 107
# tgtd's control port 0: a socket PREFIX.0 and a lock file PREFIX.0.lock that tgtd holds (lockf) while
# it runs; PREFIX is $TGT_IPC_SOCKET or this default (tgt's usr/mgmt.c, ipc_init).
DEFAULT_SOCKET = "/var/run/tgtd/socket"


class Lun:
    """One logical unit of a target."""

    __slots__ = ("number", "scsi_id", "scsi_sn", "path", "readonly", "type")

    def __init__(self, number: int) -> None:
        self.number = number
        self.scsi_id = self.scsi_sn = self.path = self.type = ""
        self.readonly = False


class Target:
    """A target as `tgtadm --op show --mode target` reports it."""

    __slots__ = ("tid", "iqn", "luns", "acls", "accounts", "nexus")

    def __init__(self, tid: int, iqn: str) -> None:
        self.tid, self.iqn = tid, iqn
        self.luns: dict[int, Lun] = {}
        self.acls: list[str] = []
        self.accounts: list[str] = []
        self.nexus: list[tuple[int, str, list[str]]] = []  # (I_T nexus id, initiator, addresses)


def parse_targets(text: str) -> dict[int, Target]:
    """Parse the indented `--op show --mode target` text; ValueError on a line it does not recognise.

    Every line is one of: `Target N: IQN` at the margin, a section header (`    LUN information:`)
    or an entry of a section, indented below its header. Anything else (text before the first
    target, a line at the margin that is no target, a number that is none) is not tgtadm's answer:
    output that cannot be read says nothing about what is exported, so it is never 'no targets'."""
    targets: dict[int, Target] = {}
    t: Target | None = None
    lun: Lun | None = None
    section = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        try:
            if raw.startswith("Target ") and ": " in line:
                head, _, iqn = line.partition(": ")
                words = head.split()
                if len(words) != 2 or not iqn.strip():
                    raise ValueError
                t = Target(int(words[1]), iqn.strip())
                targets[t.tid] = t
                section, lun = "", None
                continue
            indent = len(raw) - len(raw.lstrip())
            if t is None or indent < 4 or "\0" in raw:
                raise ValueError
            if indent == 4:
                if not line.endswith(":"):
                    raise ValueError
                section = line[:-1]
                continue
            if not section:
                raise ValueError
            key, sep, value = line.partition(": ")
            value = value.strip()
            if section == "LUN information":
                if line.startswith("LUN: "):
                    lun = Lun(int(value))
                    t.luns[lun.number] = lun
                elif lun is None:
                    raise ValueError
                elif sep:
                    if key == "SCSI ID":
                        lun.scsi_id = value
                    elif key == "SCSI SN":
                        lun.scsi_sn = value
                    elif key == "Backing store path":
                        lun.path = value
                    elif key == "Readonly":
                        lun.readonly = value == "Yes"
                    elif key == "Type":
                        lun.type = value
            elif section == "ACL information":
                t.acls.append(line)
            elif section == "Account information":
                t.accounts.append(line.split()[0])
            elif section == "I_T nexus information":
                if key == "I_T nexus":
                    t.nexus.append((int(value), "", []))
                elif key == "Initiator" and t.nexus:
                    nid, _, addrs = t.nexus[-1]
                    t.nexus[-1] = (nid, value.split()[0], addrs)
                elif key == "IP Address" and t.nexus:
                    t.nexus[-1][2].append(value)
        except ValueError:
            raise ValueError(f"line {n} is not tgtadm's: {raw[:60]!r}") from None
    return targets


def targets(run) -> dict[int, Target]:
    """Every target tgtd has (tid -> Target); none when no tgtd runs (its targets died with it).

    An answer that cannot be parsed is an error (rc 1), never 'no targets'."""
    argv = [*BASE, "--op", "show", "--mode", "target"]
    r = run(argv, ok=(0, NO_DAEMON))
    if r.returncode != 0:
        return {}
    try:
        return parse_targets(r.stdout)
    except ValueError as e:
        raise OcfError(f"unexpected output from {' '.join(argv)}: {e}") from None


def control_paths(env) -> tuple[str, str]:
    """(socket, lock file) of the tgtd that tgtadm talks to under this environment."""
    prefix = env.get("TGT_IPC_SOCKET") or DEFAULT_SOCKET
    return f"{prefix}.0", f"{prefix}.0.lock"


def lock_holder(lock: str, proc: str = "/proc") -> int | None:
    """The pid holding a POSIX lock on the file lock (from PROC/locks), or None when nobody does.

    Matched by inode number only (btrfs and overlayfs report another device in stat than in
    /proc/locks): a collision can only make a daemon look alive, never dead."""
    try:
        ino = system.stat(lock).st_ino
        with open(f"{proc}/locks", encoding="ascii", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return -1  # unreadable: no proof that nobody holds it
    for line in text.splitlines():
        words = line.replace("->", " ").split()
        if len(words) >= 6 and words[1] == "POSIX" and words[5].rsplit(":", 1)[-1] == str(ino):
            return int(words[4]) if words[4].isdigit() else -1
    return None


def _listening(path: str) -> bool:
    """Whether something accepts connections on the UNIX socket path."""
    import _socket

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.settimeout(2)
        s.connect(path)
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
        return False
    except OSError:
        return True  # a socket that is there but answers oddly: not a proof of absence
    finally:
        s.close()
    return True


def daemon_running(env, proc: str = "/proc") -> str:
    """Why a tgtd may still run on our control port ("" when none can: no lock holder, no listener).

    This is the proof a stop needs before it may call an unreachable tgtd 'nothing exported': a tgtd
    that runs holds its lock file and listens on its socket; one that is gone does neither."""
    sock, lock = control_paths(env)
    pid = lock_holder(lock, proc)
    if pid is not None:
        return f"tgtd (pid {pid}) holds {lock}" if pid > 0 else f"{lock} may be held (its holder cannot be read)"
    if _listening(sock):
        return f"something listens on {sock}"
    return ""


def answer(run) -> dict[int, Target] | None:
    """Every target tgtd has, or None when no tgtd answers: answering() and targets() in one tgtadm
    (any exit status but 0 is "not answering", as for answering()); an answer that cannot be parsed is
    an error, never 'no targets'."""
    argv = [*BASE, "--op", "show", "--mode", "target"]
    r = run(argv, ok=tuple(range(256)))
    if r.returncode != 0:
        return None
    try:
        return parse_targets(r.stdout)
    except ValueError as e:
        raise OcfError(f"unexpected output from {' '.join(argv)}: {e}") from None


def answering(run) -> bool:
    """Whether a tgtd answers on the management socket."""
    r = run([*BASE, "--op", "show", "--mode", "system"], ok=tuple(range(256)))
    return r.returncode == 0


def accounts(run) -> list[str]:
    """The CHAP accounts tgtd knows."""
    out = run([*BASE, "--op", "show", "--mode", "account"]).stdout
    return [ln.strip() for ln in out.splitlines()[1:] if ln.strip()]


def portals(run) -> list[str]:
    """The portals tgtd listens on, as 'ip:port'."""
    out = run([*BASE, "--op", "show", "--mode", "portal"]).stdout
    return [ln.split(":", 1)[1].strip().rsplit(",", 1)[0] for ln in out.splitlines() if ln.startswith("Portal:")]


def new_target(run, tid: int, iqn: str) -> None:
    """Create a target."""
    run([*BASE, "--op", "new", "--mode", "target", "--tid", str(tid), "-T", iqn])


def delete_target(run, tid: int) -> bool:
    """Delete a target even with sessions (--force); False when it did not exist."""
    r = run([*BASE, "--op", "delete", "--force", "--mode", "target", "--tid", str(tid)], ok=(0, EINVAL))
    return r.returncode == 0


def update_target(run, tid: int, name: str, value: str) -> None:
    """Set one iSCSI session parameter of a target."""
    run([*BASE, "--op", "update", "--mode", "target", "--tid", str(tid), "--name", name, "--value", value])


def bind(run, tid: int, initiator: str) -> None:
    """Allow an initiator: a name (iqn./eui./naa.) with -Q, else an address, network or ALL with -I."""
    flag = "-Q" if initiator.lower().startswith(("iqn.", "eui.", "naa.")) else "-I"
    run([*BASE, "--op", "bind", "--mode", "target", "--tid", str(tid), flag, initiator])


def unbind(run, tid: int, initiator: str) -> None:
    """Revoke an initiator (missing is fine)."""
    flag = "-Q" if initiator.lower().startswith(("iqn.", "eui.", "naa.")) else "-I"
    run([*BASE, "--op", "unbind", "--mode", "target", "--tid", str(tid), flag, initiator], ok=(0, EINVAL))


def new_account(run, user: str, password: str) -> None:
    """Create a CHAP account (the password reaches tgtadm only as an argument: tgtadm has no other way).

    A failure is reported with the password replaced by *** (the error is built outside the handler,
    so no exception chain carries the original text)."""
    argv = [*BASE, "--op", "new", "--mode", "account", "--user", user, "--password", password]
    try:
        run(argv)
        return
    except CommandError as e:
        failed = (e.returncode, e.stderr.replace(password, "***"))
    raise CommandError([*argv[:-1], "***"], failed[0], failed[1])


def delete_account(run, user: str) -> None:
    """Delete a CHAP account (missing is fine)."""
    run([*BASE, "--op", "delete", "--mode", "account", "--user", user], ok=(0, EINVAL))


def bind_account(run, tid: int, user: str) -> None:
    """Require CHAP with this account for the target."""
    run([*BASE, "--op", "bind", "--mode", "account", "--tid", str(tid), "--user", user])


def new_portal(run, portal: str) -> None:
    """Listen on one more portal ip:port."""
    run([*BASE, "--op", "new", "--mode", "portal", "--param", f"portal={portal}"])


def delete_portal(run, portal: str) -> None:
    """Stop listening on a portal (missing is fine)."""
    run([*BASE, "--op", "delete", "--mode", "portal", "--param", f"portal={portal}"], ok=(0, EINVAL))


def new_lun(run, tid: int, lun: int, path: str, *, bstype: str = "", bsoflags: str = "",
            device_type: str = "") -> None:
    """Create a logical unit backed by path."""
    argv = [*BASE, "--op", "new", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun)]
    if bstype:
        argv += ["--bstype", bstype]
    if bsoflags:
        argv += ["--bsoflags", bsoflags]
    if device_type:
        argv += ["--device-type", device_type]
    run([*argv, "-b", path])


def update_lun(run, tid: int, lun: int, params: dict[str, str]) -> None:
    """Set logical unit parameters (scsi_id, scsi_sn, vendor_id, product_id, readonly...)."""
    text = ",".join(f"{k}={v}" for k, v in params.items())
    run([*BASE, "--op", "update", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun), "--params", text])


def delete_lun(run, tid: int, lun: int) -> bool:
    """Delete a logical unit; False when it did not exist."""
    r = run([*BASE, "--op", "delete", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun)],
            ok=(0, EINVAL))
    return r.returncode == 0
