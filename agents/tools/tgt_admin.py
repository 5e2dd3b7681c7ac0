"""tgt-admin's targets.conf: a plain file is loaded with tgtadm directly, anything else by tgt-admin -e.

tgt-admin is a Perl program that parses the file (Config::General) and asks tgtd for its state
several times before it runs the tgtadm commands: 0.2 to 0.4 s for one target, on the path of every
takeover of a group holding the daemon. A file of the plain form that `ocfkit generate` writes for
targets with LUNs and address ACLs is loaded here with the same tgtadm commands tgt-admin would run,
in its order; a file with anything more is left to tgt-admin itself.
"""

from __future__ import annotations

from agents.tools import tgtadm
from ocf import system

MAX_SIZE = 1 << 20
# Values this loader takes as they are: no quotes, comments, escapes, continuations or blocks inside
# (Config::General gives those meanings), never an option.
# (Compiled in parse_plain: the agent's import stays free of re, which only a start needs.)
_VALUE = r"([^\s#\"'\\<>-][^\s#\"'\\<>]*)"
_TARGET = rf"<target {_VALUE}>"
_STORE = r"<backing-store (/[^\s#\"'\\<>]*)>"
_LUN = r"lun ([1-9][0-9]{0,4})"
_ADDRESS = rf"initiator-address {_VALUE}"


class Target:
    """A target of a plain targets.conf."""

    __slots__ = ("iqn", "luns", "addresses")

    def __init__(self, iqn: str) -> None:
        self.iqn = iqn
        self.luns: dict[str, int] = {}  # backing-store path -> LUN
        self.addresses: list[str] = []


def parse_plain(text: str) -> list[Target] | None:
    """The targets of a plain targets.conf: only <target IQN> blocks holding <backing-store PATH> blocks
    with one `lun N` each and initiator-address lines, comment lines and blank lines. None for anything
    else (tgt-admin decides what it means)."""
    import re

    target_rx, store_rx, lun_rx, address_rx = (re.compile(p) for p in (_TARGET, _STORE, _LUN, _ADDRESS))
    targets: dict[str, Target] = {}
    t: Target | None = None
    store: str | None = None
    lun: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if t is None:
            m = target_rx.fullmatch(line)
            if not m or m.group(1) in targets:
                return None  # a duplicate block is merged by tgt-admin: left to it
            t = targets[m.group(1)] = Target(m.group(1))
        elif store is not None:
            m = lun_rx.fullmatch(line)
            if m and lun is None:
                lun = int(m.group(1))
            elif line == "</backing-store>" and lun is not None and lun not in t.luns.values():
                t.luns[store] = lun
                store = lun = None
            else:
                return None
        elif line == "</target>":
            t = None
        elif (m := store_rx.fullmatch(line)) and m.group(1) not in t.luns:
            store = m.group(1)
        elif (m := address_rx.fullmatch(line)) and not m.group(1).lower().startswith(("iqn.", "eui.", "naa.")):
            t.addresses.append(m.group(1))  # (tgtadm.bind would take a name for -Q; tgt-admin gives -I)
        else:
            return None
    if t is not None:
        return None
    return list(targets.values())


def read(path: str) -> str | None:
    """The text of a regular file of at most 1 MiB (never a FIFO's), or None."""
    try:
        if not system.S_ISREG(system.stat(path).st_mode):
            return None
        with open(path, encoding="utf-8", errors="strict") as f:
            text = f.read(MAX_SIZE + 1)
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) <= MAX_SIZE else None


def free(path: str, proc: str = "/proc") -> bool:
    """Whether tgt-admin would export this backing store (its check_device): it exists, is no directory,
    is not held by the system (an exclusive open of a mounted or swapped block device fails with EBUSY)
    and no process has it open. tgt-admin asks `lsof PATH` for the last (50 to 70 ms in a lab node);
    the open files are read here from PROC/*/fd (what lsof shows for tgtd or a VM holding an image;
    a file that is only memory-mapped is not seen)."""
    from ocf.proc import pids

    try:
        if system.S_ISDIR(system.stat(path).st_mode):
            return False
        system.close(system.open(path, system.O_RDONLY | system.O_EXCL | system.O_NONBLOCK))
        target = system.path.realpath(path)
    except OSError:
        return False
    for pid in pids(proc):
        try:
            fds = system.listdir(f"{proc}/{pid}/fd")
        except OSError:
            continue  # gone, or a kernel thread
        for fd in fds:
            try:
                if system.readlink(f"{proc}/{pid}/fd/{fd}") == target:
                    return False
            except OSError:
                continue
    return True


def load(run, path: str, proc: str = "/proc") -> str:
    """Load the targets of path into a tgtd that has none yet; returns how ("tgtadm" or "tgt-admin")."""
    text = read(path)
    plain = parse_plain(text) if text is not None else None
    stores = [p for t in plain for p in t.luns] if plain is not None else []
    if plain is None or len(set(stores)) != len(stores) or tgtadm.targets(run) or \
            not all(free(p, proc) for p in sorted(set(stores))):
        # tgt-admin skips a backing store that is missing or in use (tgtd holds one it exported already)
        # and adds only the targets tgtd does not have yet: left to it.
        run(["tgt-admin", "-e", "-c", path])
        return "tgt-admin"
    # tgt-admin's order: targets by IQN, tids from 1; LUNs by path, then the address ACLs, or ALL.
    for tid, t in enumerate(sorted(plain, key=lambda x: x.iqn), start=1):
        tgtadm.new_target(run, tid, t.iqn)
        for p in sorted(t.luns):
            tgtadm.new_lun(run, tid, t.luns[p], p)
        for address in t.addresses or ["ALL"]:
            tgtadm.bind(run, tid, address)
    return "tgtadm"
