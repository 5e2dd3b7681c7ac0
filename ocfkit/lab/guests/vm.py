"""Drive qemu guests: boot, run jobs, crash, restart, stop (always by PID).

Networking follows the project's rules: eth0 is qemu user-mode networking with `restrict=on` (the
guest reaches nothing; an optional hostfwd on 127.0.0.1 lets the host reach one guest port), and
every other NIC is a point-to-point UDP-socket link over loopback, so any guest can be killed and
restarted without touching its peers. The host never sends to guest addresses.

Disks are sparse raw files of the guest's run directory, kept across restarts; a shared disk (one
file attached to several guests with `share-rw=on`, cache=none) is what SBD needs.

Jobs use the file + doorbell protocol of `scripts.VM_INIT`: a script dropped in the 9p `ctl/q` directory,
a line on the virtio-serial port `door`, and the exit status published as `ID.rc`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import time

CACHE_RUNS = os.environ.get("OCFKIT_VM_CACHE", "/var/tmp/ocfkit-vm")
# The project tree, shared read-only as /src (the storage tier runs the agents from it).
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def accelerator() -> list[str]:
    """KVM only with real VT-x/AMD-V (a PVM /dev/kvm cannot run Debian's kernel); TCG otherwise."""
    if os.access("/dev/kvm", os.W_OK) and (os.path.isdir("/sys/module/kvm_intel")
                                           or os.path.isdir("/sys/module/kvm_amd")):
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg,tb-size=256", "-cpu", "max"]


def accelerator_name() -> str:
    return "kvm" if "kvm" in accelerator()[1] else "tcg"


@dataclasses.dataclass
class Link:
    """One end of a UDP point-to-point link: this guest's port, the peer's port, the MAC."""

    local_port: int
    peer_port: int
    mac: str


class GuestError(Exception):
    pass


@dataclasses.dataclass
class Result:
    rc: int
    out: str

    def __str__(self) -> str:
        return f"rc={self.rc}\n{self.out}"


class Guest:
    """One qemu guest with its own run directory (data disks, ctl share, doorbell, console log)."""

    def __init__(self, image: str, rundir: str, name: str, *, links: list[Link] | None = None,
                 ips: list[str] | None = None, disks_mb: list[int] | None = None,
                 hostfwd: dict[int, int] | None = None, memory_mb: int = 512,
                 shared: list[str] | None = None, src: str | None = REPO) -> None:
        self.image = image
        self.dir = os.path.join(rundir, name)
        self.name = name
        self.links = links or []
        self.ips = ips or []
        self.disks_mb = disks_mb or []
        self.hostfwd = hostfwd or {}
        self.memory_mb = memory_mb
        self.shared = shared or []  # raw files created by the caller, attached after the own disks
        self.src = src
        self.pid = 0
        self._door = -1
        self._seq = 0
        self.boot_seconds = 0.0

    # -- life cycle -----------------------------------------------------------------------------

    def _prepare(self) -> None:
        os.makedirs(os.path.join(self.dir, "ctl", "q"), exist_ok=True)
        for f in os.listdir(os.path.join(self.dir, "ctl", "q")):
            os.unlink(os.path.join(self.dir, "ctl", "q", f))
        for f in ("ready", "ready.tmp"):
            try:
                os.unlink(os.path.join(self.dir, "ctl", f))
            except FileNotFoundError:
                pass
        for i, mb in enumerate(self.disks_mb):
            path = os.path.join(self.dir, f"disk{i}.img")
            if not os.path.exists(path):  # kept across restarts: the crash tests need the data back
                with open(path, "wb") as f:
                    f.truncate(mb * 1024 * 1024)
        for end in ("door.in", "door.out"):
            p = os.path.join(self.dir, end)
            if not os.path.exists(p):
                os.mkfifo(p, 0o600)

    def argv(self) -> list[str]:
        d = self.dir
        fwd = "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in self.hostfwd.items())
        args = ["qemu-system-x86_64", *accelerator(), "-smp", "1", "-m", str(self.memory_mb),
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-kernel", os.path.join(self.image, "vmlinux"), "-initrd", os.path.join(self.image, "initrd.img"),
                "-serial", f"file:{d}/console.log",
                "-drive", f"file={self.image}/root.img,if=none,id=root,format=raw,snapshot=on,readonly=off",
                "-device", "virtio-blk-pci,drive=root,serial=root"]
        # Every disk has a serial (the guest finds them as /dev/disk/by-id/virtio-SERIAL); the
        # order is the PCI order, which Debian 12's kernel keeps as vda, vdb... (13's may not).
        for i in range(len(self.disks_mb)):
            args += ["-drive", f"file={d}/disk{i}.img,if=none,id=disk{i},format=raw,cache=writeback",
                     "-device", f"virtio-blk-pci,drive=disk{i},serial=disk{i}"]
        for i, path in enumerate(self.shared):
            args += ["-drive", f"file={path},if=none,id=shared{i},format=raw,cache=none",
                     "-device", f"virtio-blk-pci,drive=shared{i},share-rw=on,serial=shared{i}"]
        args += ["-netdev", f"user,id=u0,restrict=on{fwd}", "-device", "virtio-net-pci,netdev=u0"]
        for i, link in enumerate(self.links, 1):
            args += ["-netdev", f"socket,id=l{i},udp=127.0.0.1:{link.peer_port},localaddr=127.0.0.1:{link.local_port}",
                     "-device", f"virtio-net-pci,netdev=l{i},mac={link.mac}"]
        args += ["-virtfs", f"local,path={d}/ctl,mount_tag=ctl,security_model=none"]
        if self.src:
            args += ["-virtfs", f"local,path={self.src},mount_tag=src,security_model=none,readonly=on"]
        args += ["-device", "virtio-serial-pci", "-chardev", f"pipe,id=door,path={d}/door",
                 "-device", "virtserialport,chardev=door,name=door",
                 "-pidfile", f"{d}/qemu.pid", "-daemonize"]
        cmdline = f"console=ttyS0 panic=-1 quiet loglevel=4 vm.name={self.name}"
        for i, ip in enumerate(self.ips, 1):
            cmdline += f" vm.ip{i}={ip}"
        return [*args, "-append", cmdline]

    def start(self) -> None:
        """Launch qemu (daemonised); wait_ready() waits for the guest."""
        self._prepare()
        self._t0 = time.monotonic()
        r = subprocess.run(self.argv(), check=False, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise GuestError(f"qemu for {self.name} failed: {r.stderr.strip()}")
        with open(os.path.join(self.dir, "qemu.pid"), encoding="ascii") as f:
            self.pid = int(f.read().strip())

    def alive(self) -> bool:
        if not self.pid:
            return False
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False

    def console_tail(self, lines: int = 30) -> str:
        try:
            with open(os.path.join(self.dir, "console.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no console log)"

    def wait_ready(self, timeout: float = 180) -> None:
        ready = os.path.join(self.dir, "ctl", "ready")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if os.path.exists(ready) and os.path.getsize(ready) > 0:
                self.boot_seconds = time.monotonic() - self._t0
                self._door = os.open(os.path.join(self.dir, "door.in"), os.O_WRONLY | os.O_NONBLOCK)
                return
            if not self.alive():
                raise GuestError(f"guest {self.name} died while booting:\n{self.console_tail()}")
            time.sleep(0.05)
        raise GuestError(f"guest {self.name} not ready after {timeout:.0f} s:\n{self.console_tail()}")

    def boot(self, timeout: float = 180) -> None:
        self.start()
        self.wait_ready(timeout)

    def attach(self) -> bool:
        """Take over a guest that a previous process booted (its pidfile and doorbell), for
        driving a lab step by step; False when it is not running."""
        try:
            with open(os.path.join(self.dir, "qemu.pid"), encoding="ascii") as f:
                self.pid = int(f.read().strip())
        except (OSError, ValueError):
            self.pid = 0
        if not self.alive():
            self.pid = 0
            return False
        self._door = os.open(os.path.join(self.dir, "door.in"), os.O_WRONLY | os.O_NONBLOCK)
        return True

    def kill(self) -> None:
        """Crash simulation: SIGKILL the qemu process and wait until it is gone."""
        if self._door >= 0:
            os.close(self._door)
            self._door = -1
        if self.pid and self.alive():
            os.kill(self.pid, signal.SIGKILL)
            end = time.monotonic() + 10
            while self.alive() and time.monotonic() < end:
                time.sleep(0.02)
        self.pid = 0

    def stop(self) -> None:
        """Orderly power-off (sysrq o after sync); SIGKILL when it does not go within 5 s."""
        if self.pid and self.alive() and self._door >= 0:
            try:
                self.run("sync; echo o > /proc/sysrq-trigger", timeout=5, check=False)
            except GuestError:
                pass
            end = time.monotonic() + 5
            while self.alive() and time.monotonic() < end:
                time.sleep(0.05)
        self.kill()

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- jobs -----------------------------------------------------------------------------------

    def run(self, script: str, *, timeout: float = 120, check: bool = True) -> Result:
        """Run a bash script in the guest; Result(rc, combined output). rc 124 on timeout."""
        if not self.alive():
            raise GuestError(f"guest {self.name} is not running")
        self._seq += 1
        q = os.path.join(self.dir, "ctl", "q")
        jid = f"{os.getpid()}-{self._seq}"
        tmp = os.path.join(q, f"{jid}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("exec 3<&-\nset -o pipefail\n" + script + "\n")
        os.rename(tmp, os.path.join(q, f"{jid}.sh"))
        try:
            os.write(self._door, b"\n")
        except (BlockingIOError, OSError):
            pass  # the guest also polls every 5 s
        rc_path = os.path.join(q, f"{jid}.rc")
        end = time.monotonic() + timeout
        while not os.path.exists(rc_path):
            if not self.alive():
                raise GuestError(f"guest {self.name} died during a job:\n{self.console_tail()}")
            if time.monotonic() > end:
                out = self._read(os.path.join(q, f"{jid}.out"))
                if check:
                    raise GuestError(f"job on {self.name} timed out after {timeout:.0f} s:\n{script}\n"
                                     f"--- output\n{out}")
                return Result(124, out)
            time.sleep(0.02)
        with open(rc_path, encoding="ascii") as f:
            rc = int(f.read().strip() or "255")
        out = self._read(os.path.join(q, f"{jid}.out"))
        for ext in ("rc", "out", "run"):
            try:
                os.unlink(os.path.join(q, f"{jid}.{ext}"))
            except FileNotFoundError:
                pass
        if check and rc != 0:
            raise GuestError(f"job on {self.name} failed (rc {rc}):\n{script}\n--- output\n{out}")
        return Result(rc, out)

    @staticmethod
    def _read(path: str) -> str:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sh(self, script: str, **kw) -> str:
        """Run a script that must succeed; its output."""
        return self.run(script, **kw).out


def link_pair(base_port: int, subnet_mac: int) -> tuple[Link, Link]:
    """Both ends of one point-to-point link on loopback."""
    a = Link(base_port, base_port + 1, f"52:54:00:00:{subnet_mac:02x}:01")
    b = Link(base_port + 1, base_port, f"52:54:00:00:{subnet_mac:02x}:02")
    return a, b


def free_udp_base(count: int = 8) -> int:
    """A base port with `count` consecutive free UDP and TCP ports on 127.0.0.1."""
    import random
    import socket

    for _ in range(50):
        base = random.randrange(20000, 60000 - count)
        socks = []
        try:
            for p in range(base, base + count):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise GuestError("no free port range on 127.0.0.1")
