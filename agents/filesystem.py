"""ocf:ocfkit:Filesystem, mounts a filesystem and unmounts it safely within the stop deadline."""

from __future__ import annotations

import time

from agents.tools import mounts, system_path
from ocf import system
from ocf.agent import Agent, action
from ocf.errors import ConfigError, NotInstalledError, OcfError, Rc
from ocf.exec import which
from ocf.params import Param, Parser, boolean, choice, duration, path, string, words

# Filesystems that need no fsck before mount (journaled or not block based), as the reference agent.
NO_FSCK = {"ext3", "ext4", "xfs", "reiserfs", "reiser4", "jfs", "vfat", "fat", "nfs", "nfs4", "cifs", "smbfs",
           "ocfs2", "gfs2", "none", "glusterfs", "ceph", "tmpfs", "overlay", "overlayfs", "zfs", "lustre", "btrfs",
           "efs", "cvfs"}
# Filesystems that may be mounted on several nodes at once.
CLUSTER_SAFE = {"nfs", "nfs4", "efs", "smbfs", "cifs", "none", "gfs2", "glusterfs", "ceph", "ocfs2", "overlay",
                "overlayfs", "tmpfs", "cvfs", "lustre"}
NETWORK = {"nfs", "nfs4", "efs", "cifs", "smbfs", "glusterfs", "ceph"}
# Linux signal names (signal(7)), checked without importing signal on every action.
SIGNALS = frozenset({"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
                     "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU",
                     "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS"})
_FSTYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-")


class _Device(Parser):
    """What mount, fsck and blkid take as their source: never something that reads as an option."""

    def parse(self, text: str) -> str:
        t = text.strip()
        if t.startswith("-"):
            raise ValueError("must not start with '-' (give a path, UUID=... or LABEL=...)")
        if any(c in t for c in "\0\n"):
            raise ValueError("contains a NUL byte or a newline")
        return t


class _Fstype(Parser):
    """A filesystem type as /proc/filesystems and mount -t name it (ext4, nfs4, fuse.sshfs)."""

    def parse(self, text: str) -> str:
        t = text.strip()
        if not t or t[0] in "-.+_" or not set(t) <= _FSTYPE_CHARS:
            raise ValueError("expected a filesystem type (letters, digits and _ . + -, not starting with one "
                             "of _ . + -)")
        return t


def prefix_problem(text: str) -> str:
    """Why a status file prefix could leave the mount point ("" when it cannot)."""
    if text.startswith("/") or ".." in text.split("/") or any(c in text for c in "\0\n"):
        return "must be a path relative to the mount point, without '..'"
    return ""


def signal_names(words: list[str]) -> tuple[list[str], list[str]]:
    """(signal names without SIG, the words that name no signal)."""
    names = [w.upper().removeprefix("SIG") for w in words]
    return [n for n in names if n in SIGNALS], [w for w, n in zip(words, names) if n not in SIGNALS]


class Filesystem(Agent):
    """Manages a filesystem on a shared storage medium: mounts the configured device on the directory
    (with fsck first where the filesystem needs it), checks that exactly that device is mounted
    there (a different device is a failure, never 6), and unmounts safely: nested mounts first,
    holders found by walking /proc without touching a hung network filesystem, signalled TERM then
    KILL within the stop deadline, never PID 1, the cluster stack or the agent itself. Monitor depth
    10 reads the device directly, depth 20 writes, syncs and reads back a status file."""

    shortdesc = "Manages filesystem mounts"
    version = "1.0"

    device = Param(_Device(), required=True, shortdesc="block device",
                   longdesc="The device to mount: a block device path, UUID=... or LABEL=... (resolved with "
                            "blkid), host:/export for NFS, //server/share for CIFS, a directory for a bind mount "
                            "(fstype none, options bind), or an image file (options loop).")
    directory = Param(path(), required=True, shortdesc="mount point", longdesc="The mount point.")
    fstype = Param(_Fstype(), required=True, shortdesc="filesystem type",
                   longdesc="The filesystem type (ext4, xfs, nfs, ..., none for bind mounts).")
    options = Param(string, shortdesc="options", longdesc="Mount options (-o), e.g. noatime or bind,ro.")
    statusfile_prefix = Param(string, default=".Filesystem_status/", shortdesc="status file prefix",
                              longdesc="Prefix of the status file written by monitor depth 20, relative to the "
                                       "mount point.")
    run_fsck = Param(choice("auto", "force", "no"), default="auto", shortdesc="run fsck before mount",
                     longdesc="auto runs fsck -p only for filesystems that need it (not journaled ones); force "
                              "always; no never.")
    fast_stop = Param(boolean, default="false", shortdesc="fast stop",
                      longdesc="Give up unmounting after 6 seconds instead of using the whole stop timeout.")
    force_clones = Param(boolean, default="false", shortdesc="allow running as a clone regardless of fstype",
                         longdesc="Allow a clone of a filesystem that is not cluster-aware (ext4, xfs, ...). Data "
                                  "corruption follows unless something else makes it safe.")
    force_unmount = Param(choice("true", "safe", "false"), default="true", shortdesc="kill processes before unmount",
                          longdesc="true or safe: processes that keep the filesystem busy are signalled (found "
                                   "by walking /proc with readlink only, which never hangs on a dead network "
                                   "filesystem; both values behave the same); false: never signal.")
    term_signals = Param(words, default="TERM", shortdesc="signals to send first",
                         longdesc="Signals sent to holders first, in order.")
    kill_signals = Param(words, default="KILL", shortdesc="signals to send last",
                         longdesc="Signals sent to holders that survived the term signals.")
    signal_delay = Param(duration, default="1", shortdesc="delay between signals",
                         longdesc="Time between two rounds of signals.")

    # ----- configuration --------------------------------------------------------------------

    @property
    def mountpoint(self) -> str:
        """The directory without a trailing slash; resolved only when mountinfo does not list it as is
        (resolving stats it, which hangs on a dead NFS server)."""
        if self._mountpoint is None:
            d = self.directory.rstrip("/") or "/"
            if not any(m.mountpoint == d for m in self.mounts()) and system.path.exists(d):
                d = system.path.realpath(d)
            self._mountpoint = d
        return self._mountpoint

    _mountpoint: str | None = None

    def mounts(self):
        """The mounts this agent's process sees (/proc/self/mountinfo)."""
        path = system_path(self.env, "proc") + "/self/mountinfo"
        try:
            return mounts.mounts(path)
        except OSError as e:
            raise OcfError(f"cannot read {path}: {e.strerror}") from None

    @property
    def is_bind(self) -> bool:
        """A bind mount of a directory."""
        opts = (self.options or "").split(",")
        return "bind" in opts or "rbind" in opts

    @property
    def is_network(self) -> bool:
        """A network filesystem (NFS, CIFS...)."""
        return self.fstype in NETWORK

    @property
    def is_block(self) -> bool:
        """Whether the device is expected to be a block device (or UUID=/LABEL= naming one)."""
        return not self.is_network and not self.is_bind and self.fstype not in ("none", "tmpfs")

    _resolved: str | None = None

    def resolve_device(self) -> str:
        """The device path: UUID=/LABEL= resolved through /dev/disk or blkid (once per action)."""
        if self._resolved is None:
            self._resolved = self._resolve()
        return self._resolved

    def _resolve(self) -> str:
        dev = self.device
        for key, d in (("UUID=", "by-uuid"), ("LABEL=", "by-label")):
            if dev.upper().startswith(key):
                value = dev[len(key):]
                link = f"/dev/disk/{d}/{value}"
                if system.path.exists(link):
                    return system.path.realpath(link)
                r = self.run(["blkid", "-U" if key == "UUID=" else "-L", value], ok=(0, 2))
                if r.returncode != 0 or not r.stdout.strip():
                    raise NotInstalledError(f"no device has {dev}")
                return r.stdout.strip()
        return dev

    def check_config(self) -> None:
        """Rules that hold on every node.

        The status file prefix and the signals are not needed to find and unmount our mount: a bad one
        must not turn a stop into "misconfigured, success" while mounted. Stop meets them where it uses
        them (a bad signal fails it, a bad prefix skips the status file); every other action refuses them."""
        if self.action != "stop":
            problems = [f"parameter {name}={value!r}: {why}" for name, value, why in self._tunable_problems()]
            if problems:
                raise ConfigError("; ".join(problems))
        if self.mountpoint == "/":  # also through a symlink: stop would unmount everything below /
            raise ConfigError("directory must not be /")
        if self.is_clone and self.fstype not in CLUSTER_SAFE and not self.force_clones:
            if "ro" in (self.options or "").split(","):
                self.log.warning(f"{self.fstype} cloned read-only: not cluster-aware, but mounted ro")
            else:
                raise ConfigError(f"DANGER: {self.fstype} is not cluster-aware and must not be cloned "
                                  "(set force_clones to override)")

    def _tunable_problems(self) -> list[tuple[str, str, str]]:
        out = []
        why = prefix_problem(self.statusfile_prefix)
        if why:
            out.append(("statusfile_prefix", self.statusfile_prefix, why))
        for name in ("term_signals", "kill_signals"):
            words = self.param(name)
            names, bad = signal_names(words)
            if bad or not names:
                out.append((name, " ".join(words), f"unknown signal {bad[0]}" if bad else "no signal given"))
        return out

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10: the tools. A device or bind source that this node cannot see is only a
        warning, as in the reference agent: it appears with promotion (a DRBD Secondary, an iSCSI LUN
        logged in by another resource, a directory on another cluster filesystem), and pcs runs
        validate-all on whichever node creates the resource."""
        problems: list[OcfError] = []
        for tool in ("mount", "umount"):
            if not which(tool):
                problems.append(NotInstalledError(f"{tool} is not installed"))
        if self.is_block:
            try:
                dev = self.resolve_device()
                if not system.path.exists(dev):
                    self.log.warning(f"device {dev} does not exist on this node (yet)")
            except OcfError as e:
                self.log.warning(f"{e.reason} on this node (yet)")
        if self.is_bind and not system.path.isdir(self.device):
            self.log.warning(f"bind source {self.device} is not a directory on this node (yet)")
        return problems

    # ----- what is mounted ------------------------------------------------------------------

    def _owns(self, m) -> bool | None:
        """Whether mount m is the configured device: True, False (provably another one), or None when
        that cannot be told (the device has vanished or cannot be resolved)."""
        dev = self.device
        if self.is_network:
            return m.source.rstrip("/") == dev.rstrip("/")
        if self.is_bind:
            try:
                return m.dev == system.stat(dev).st_dev
            except OSError:
                return None
        if m.source == dev:
            return True
        try:
            resolved = self.resolve_device()
            st = system.stat(resolved)
        except (OSError, OcfError):
            return None
        if system.S_ISBLK(st.st_mode):
            # btrfs shows an anonymous device number in mountinfo: its source still names the device.
            return m.dev == st.st_rdev or system.path.realpath(m.source) == resolved
        if system.S_ISREG(st.st_mode) and m.source.startswith("/dev/loop"):
            name = system.path.basename(m.source)
            try:
                with open(f"/sys/block/{name}/loop/backing_file", encoding="utf-8") as f:
                    return system.path.realpath(f.read().strip()) == system.path.realpath(resolved)
            except OSError:
                return None
        return False

    def mounted_here(self):
        """The mount visible on the mount point, or None."""
        return mounts.top(self.mounts(), self.mountpoint)

    # ----- actions --------------------------------------------------------------------------

    @action(timeout=60)
    def start(self) -> int:
        """Mount the device (fsck first where needed)."""
        mp = self.mountpoint
        top = self.mounted_here()
        if top is not None:
            owned = self._owns(top)
            if owned:
                return Rc.SUCCESS
            raise OcfError(f"{mp} already has {top.source} ({top.fstype}) mounted, "
                           + ("not " if owned is False else "which cannot be told apart from ") + self.device)
        nested = mounts.below(self.mounts(), mp)
        if nested:
            raise OcfError(f"{nested[0].mountpoint} is mounted below {mp}: refusing to mount over it")
        device = self.device
        if self.is_block:
            device = self.resolve_device()
            if not system.path.exists(device):
                raise NotInstalledError(f"device {device} does not exist")
            for m in self.mounts():
                if m.mountpoint != mp and self._owns(m):
                    raise OcfError(f"device {device} is busy: already mounted on {m.mountpoint}")
            self._ensure_fstype()
            self._fsck(device)
        try:
            system.makedirs(mp, exist_ok=True)
        except OSError as e:
            raise OcfError(f"cannot create the mount point {mp}: {e.strerror}") from None
        argv = ["mount"]
        if self.fstype != "none":
            argv += ["-t", self.fstype]
        opts = self.options or ""
        if opts:
            argv += ["-o", opts]
        # mount(8) takes what follows "--" as source and target, never as options.
        self.run([*argv, "--", device, mp])
        if self.is_bind and "ro" in opts.split(","):
            # A bind mount ignores ro until it is remounted (mount(8), "bind mount operation").
            self.run(["mount", "-o", "remount,bind,ro", "--", mp])
        self.log.info(f"mounted {device} on {mp}")
        return Rc.SUCCESS

    def _ensure_fstype(self) -> None:
        def known() -> bool:
            with open("/proc/filesystems", encoding="ascii") as f:
                return any(line.split()[-1] == self.fstype for line in f if line.strip())

        if known():
            return
        self.run(["modprobe", "-q", "--", self.fstype], ok=(0, 1))
        if not known():
            raise NotInstalledError(f"filesystem type {self.fstype} is not supported by this kernel")

    def _fsck(self, device: str) -> None:
        if self.run_fsck == "no" or (self.run_fsck == "auto" and self.fstype in NO_FSCK):
            return
        # No "--" here: fsck(8) hands what follows it to the checker. The device cannot start with "-" (_Device).
        r = self.run(["fsck", "-t", self.fstype, "-p", device], ok=tuple(range(256)))
        if r.returncode >= 4:
            raise OcfError(f"fsck of {device} failed (exit {r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
        if r.returncode:
            self.log.warning(f"fsck repaired {device} (exit {r.returncode})")

    @action(timeout=60)
    def stop(self) -> int:
        """Unmount our mount on the directory (and what is mounted below it), signalling only holders of
        files under it, within the deadline. Other mounts of the same filesystem (bind mounts such as
        /run/netns, an admin's own) are not ours and are left alone."""
        mp = self.mountpoint
        all_mounts = self.mounts()
        here = [m for m in all_mounts if m.mountpoint == mp]
        if not here:
            return Rc.SUCCESS
        top = mounts.top(all_mounts, mp)
        verdict = self._owns(top)
        if verdict is False:
            if any(self._owns(m) is not False for m in here if m is not top):
                raise OcfError(f"{top.source} ({top.fstype}) is mounted on {mp} over {self.device}: refusing to "
                               "unmount what is not ours")
            self.log.warning(f"{mp} has {top.source} ({top.fstype}) mounted, not {self.device}: not ours, left "
                             "alone")
            return Rc.SUCCESS
        if verdict is None:
            self.log.warning(f"cannot tell whether {top.source} on {mp} is {self.device} (the device cannot be "
                             "resolved): unmounting it as ours")
        if not self.is_network:
            self._remove_status_file()  # never touch a network filesystem that may be hung
        budget_end = time.monotonic() + 6 if self.fast_stop else None
        for nested in mounts.below(all_mounts, mp):
            self._unmount(nested, budget_end)
        self._unmount(top, budget_end)
        self.log.info(f"unmounted {mp}")
        others = [m.mountpoint for m in self.mounts() if (m.major, m.minor) == (top.major, top.minor)]
        if others:
            self.log.warning(f"the filesystem of {top.source} is still in use through mounts that are not ours: "
                             + ", ".join(others[:10]))
        return Rc.SUCCESS

    def _still_mounted(self, target) -> bool:
        return any(m.mount_id == target.mount_id for m in self.mounts())

    def _umount(self, argv: list[str], target):
        try:
            return self.run(argv, ok=tuple(range(256)), timeout=max(1.0, min(10.0, self.deadline.remaining())))
        except NotInstalledError as e:
            # Not "nothing can be running": the mount is there and stays there.
            raise OcfError(f"{e.reason}: {target.mountpoint} is still mounted") from None

    def _unmount(self, target, budget_end: float | None) -> None:
        """Unmount exactly the mount target (matched by its mount ID), signalling its holders."""
        # The walk over every process runs on a stop only: a monitor does not load it (STYLE.md).
        from agents.tools import holders
        from ocf.proc import comm, is_alive

        argv = ["umount", *(["-f"] if self.is_network else []), "--", target.mountpoint]
        signals, bad = signal_names([*self.term_signals, *self.kill_signals])
        if bad:
            self.log.warning(f"ignoring what names no signal in term_signals/kill_signals: {' '.join(bad)}")
        signals = signals or ["TERM", "KILL"]
        round_no = 0
        survivors: dict[int, str] = {}
        while True:
            r = self._umount(argv, target)
            if not self._still_mounted(target):
                return
            left = self.deadline.remaining()
            if budget_end is not None:
                left = min(left, budget_end - time.monotonic())
            if left <= 0.2:
                break
            if self.force_unmount == "false":
                time.sleep(min(self.signal_delay, left))
                continue
            survivors = {pid: how for pid, how in holders.holders(target.mountpoint, target.mount_id).items()
                         if not holders.is_protected(pid)}
            if survivors:
                self._signal(survivors, signals[min(round_no, len(signals) - 1)], target.mountpoint)
                round_no += 1
                # Retry the unmount as soon as the signalled holders are gone, at most signal_delay later.
                wait_end = time.monotonic() + min(self.signal_delay, max(left - 0.2, 0))
                while time.monotonic() < wait_end and any(is_alive(p) for p in survivors):
                    time.sleep(0.02)
            else:
                time.sleep(min(0.1, max(left - 0.2, 0)))
        survivors = holders.holders(target.mountpoint, target.mount_id)
        named = ", ".join(f"{comm(p) or '?'}[{p}] ({how})" for p, how in sorted(survivors.items())[:10])
        detail = r.stderr.strip() if r.returncode else ""
        raise OcfError(f"could not unmount {target.mountpoint} before the deadline"
                       + (f": still held by {named}" if named else (f": {detail}" if detail else "")))

    def _signal(self, pids: dict[int, str], sig: str, target: str) -> None:
        from ocf.proc import comm  # a stop only (see _unmount)

        num = getattr(system, "SIG" + sig, None) or system.SIGKILL  # SIGNALS names Linux's; IOT etc. are aliases
        self.log.info(f"sending SIG{sig} to holders of {target}: " + ", ".join(f"{comm(p)}[{p}]" for p in sorted(pids)))
        for pid in pids:
            try:
                system.kill(pid, num)
            except ProcessLookupError:
                pass

    # Pacemaker tells recurring operations apart by name and interval only, and pcs renumbers (with a
    # warning) monitors that share one: each depth gets its own interval, depth 0 the reference agent's.
    @action(timeout=40, interval=20, depth=0)
    @action(timeout=40, interval=21, depth=10)
    @action(timeout=40, interval=22, depth=20)
    def monitor(self) -> int:
        """Depth 0: the configured device is mounted on the directory; 10: it reads; 20: it writes."""
        top = self.mounted_here()
        if top is None:
            return Rc.NOT_RUNNING
        owned = self._owns(top)
        if owned is False:
            raise OcfError(f"{self.mountpoint} has {top.source} ({top.fstype}) mounted, not {self.device}")
        if owned is None:
            # Never a guess: something is mounted where ours belongs; a failure makes the cluster stop it.
            raise OcfError(f"{self.mountpoint} has {top.source} ({top.fstype}) mounted and {self.device} cannot be "
                           "resolved to tell whether it is ours")
        level = self.check_level
        if level >= 10:
            self._read_device()
        if level >= 20:
            if "ro" in (self.options or "").split(","):
                # Mounted read-only on purpose: there is nothing to write (pcs configures the depth-20 monitor
                # for every Filesystem it creates). A filesystem that the kernel turned read-only still fails.
                self.log.debug(f"{self.mountpoint} is mounted ro: depth 20 checks what depth 10 checks")
            else:
                self._write_status_file()
        return Rc.SUCCESS

    def _read_device(self) -> None:
        if not self.is_block:
            # NFS, CIFS, bind mounts, tmpfs: there is no device of ours to read (pcs configures depth 10 and
            # 20 monitors for every Filesystem it creates).
            self.log.debug(f"{self.device} is not a block device: depth 10 is a no-op")
            return
        try:
            dev = self.resolve_device()
            if not system.S_ISBLK(system.stat(dev).st_mode):
                self.log.debug(f"{dev} is not a block device: depth 10 is a no-op")
                return
        except OSError as e:
            raise OcfError(f"cannot stat {self.device}: {e.strerror}") from None
        _direct_io(dev, None)

    def _status_path(self) -> str:
        inst = self.instance
        clone = self.env.get("OCF_RESKEY_CRM_meta_clone", "")
        name = f"{inst}_{clone}" if clone and ":" not in inst else inst
        # One file name: an instance name (ocfkit run, a wrapper) with "/" cannot lead out of the mount point.
        name = f"{name}_{system.uname().nodename}".replace("/", "_")
        return system.path.join(self.mountpoint, f"{self.statusfile_prefix}{name}")

    def _write_status_file(self) -> None:
        p = self._status_path()
        try:
            system.makedirs(system.path.dirname(p), exist_ok=True)
        except OSError as e:
            raise OcfError(f"cannot create the status directory {system.path.dirname(p)}: {e.strerror}") from None
        payload = f"{self.instance} {time.time():.3f}\n".encode()
        got = _direct_io(p, payload)
        if got != payload:
            raise OcfError(f"status file {p} read back differently")

    def _remove_status_file(self) -> None:
        if prefix_problem(self.statusfile_prefix):
            return  # it could lead out of the mount point (only stop gets here with such a prefix)
        try:
            system.unlink(self._status_path())
        except OSError:
            pass


def _direct_io(path: str, payload: bytes | None) -> bytes:
    """Read (payload None) or write-sync-read one 4 KiB block with O_DIRECT, bypassing the page cache.

    Falls back to buffered I/O plus fsync where O_DIRECT is not supported (tmpfs). Raises OcfError."""
    import mmap

    buf = mmap.mmap(-1, 4096)  # page aligned, as O_DIRECT needs
    flags = system.O_RDONLY if payload is None else system.O_RDWR | system.O_CREAT | system.O_SYNC
    try:
        try:
            fd = system.open(path, flags | getattr(system, "O_DIRECT", 0), 0o600)
            direct = True
        except OSError:
            fd = system.open(path, flags, 0o600)
            direct = False
        try:
            if payload is not None:
                buf.write(payload.ljust(4096, b"\0"))
                system.pwritev(fd, [buf], 0) if direct else system.pwrite(fd, payload.ljust(4096, b"\0"), 0)
                system.fsync(fd)
                buf.seek(0)
                buf.write(b"\0" * 4096)
            n = system.preadv(fd, [buf], 0) if direct else len(system.pread(fd, 4096, 0))
            if n <= 0:
                raise OcfError(f"{path}: nothing could be read")
            data = bytes(buf[:4096]) if direct else system.pread(fd, 4096, 0)
        finally:
            system.close(fd)
    except OSError as e:
        raise OcfError(f"{path}: {'read' if payload is None else 'write'} failed: {e.strerror}") from None
    finally:
        buf.close()
    return data[:len(payload)] if payload is not None else data


if __name__ == "__main__":
    raise SystemExit(Filesystem.main())
