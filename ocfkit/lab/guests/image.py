"""Build the guests' kernel, initramfs and root image once, cached outside the repository.

Debian's own kernel (resolved at build time from the release's linux-image-amd64: the ABI number
changes) boots as an ELF vmlinux through PVH, with a busybox initramfs that only mounts the root
disk; the root image is a debootstrap minbase plus the variant's packages, shared read-only by all
guests. Two variants: `bookworm` (Debian 12, the storage tier) and `trixie` (Debian 13: Pacemaker
3.0, corosync, sbd, fence_sbd, a venv for ocfkit). The release's package lists are read through a
private apt state under CACHE/.apt-SUITE, so the host's release does not matter.

Everything lands in CACHE/<suite>-<kernel version>-<hash>, the hash covering the package and module
lists and the guest scripts; a finished build is marked by a `done` file (kernel version and build
seconds), so an interrupted one is redone, and a new key of a variant replaces its old one.
`python3 -m ocfkit.lab.guests.image [VARIANT]` builds (or finds) it and prints the directory.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gzip
import hashlib
import lzma
import os
import shutil
import subprocess
import sys
import time

from ocfkit.lab.guests import scripts

CACHE = os.environ.get("OCFKIT_VM_CACHE", "/var/tmp/ocfkit-vm")

# What the storage guests run: the agents' tools, an initiator, and python3 for ocfkit.
BASE_PACKAGES = ["drbd-utils", "lvm2", "iproute2", "kmod", "iptables", "nftables", "python3", "e2fsprogs", "procps",
                 "util-linux", "open-iscsi", "libiscsi-bin", "iputils-ping", "psmisc"]

# Modules copied into the image (with their dependencies).
MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "virtio_rng", "9p", "9pnet_virtio", "ext4",
           "overlay", "loop", "configfs", "drbd", "dm_mod", "dm_snapshot", "dm_mirror", "target_core_mod",
           "target_core_iblock", "target_core_file", "iscsi_target_mod", "iscsi_tcp", "sd_mod", "bridge",
           "ip_tables", "iptable_filter", "ipt_REJECT", "xt_multiport", "xt_tcpudp", "xt_conntrack", "nf_tables",
           "nft_compat", "nft_reject_inet", "nf_conntrack", "crc32c_generic"]



@dataclasses.dataclass(frozen=True)
class Variant:
    """One image recipe: the Debian suite, the packages debootstrap installs, the packages apt
    installs on top (with full dependency resolution), the kernel modules, and a venv for ocfkit."""

    name: str
    suite: str
    packages: tuple[str, ...]
    apt_packages: tuple[str, ...] = ()
    modules: tuple[str, ...] = tuple(MODULES)
    optional_modules: tuple[str, ...] = ()
    venv: str = ""  # where the image holds an empty venv for `pip install ocfkit` (none: "")
    size: str = "900M"


VARIANTS = {
    "bookworm": Variant("bookworm", "bookworm", tuple(BASE_PACKAGES)),
    # Debian 13 cluster nodes: Pacemaker 3.0 + corosync 3.1 + sbd with fence_sbd (fence-agents-sbd
    # is the only agent fence_sbd needs; fence-agents pulls all of them), softdog as watchdog.
    # heartbeat 3.0.6 (the seed's manager, with dopd) and ClusterLabs' resource-agents with
    # targetcli-fb (the agents ocfkit's are compared with) share the image: one build, one cache.
    "trixie": Variant("trixie", "trixie", (*BASE_PACKAGES, "python3-venv"),
                      apt_packages=("pacemaker", "pacemaker-cli-utils", "corosync", "sbd", "fence-agents-sbd",
                                    "heartbeat", "resource-agents", "targetcli-fb"),
                      modules=(*MODULES, "softdog"), venv="/opt/ocfkit", size="1600M"),
}

LVM_NO_UDEV = """
# ocfkit guest: no udev in the guests, LVM creates its own device nodes.
activation {
    udev_sync = 0
    udev_rules = 0
}
devices {
    obtain_device_list_from_udev = 0
}
"""


def log(msg: str) -> None:
    print(f"[guest-build {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*argv: str, cwd: str | None = None, timeout: float = 900, env: dict | None = None) -> str:
    """Run a build command; its output on failure."""
    r = subprocess.run(argv, check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "LC_ALL": "C", **(env or {})})
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")
    return r.stdout


class Apt:
    """apt-get/apt-cache on a private state for one Debian suite (the host's apt is left alone)."""

    def __init__(self, suite: str, cache: str = CACHE) -> None:
        self.suite = suite
        self.dir = os.path.join(cache, f".apt-{suite}")
        main, security = mirrors()
        for d in ("lists/partial", "cache/archives/partial"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        text = (f"deb [signed-by={keyring}] {main} {suite} main\n"
                f"deb [signed-by={keyring}] {main} {suite}-updates main\n"
                f"deb [signed-by={keyring}] {security} {suite}-security main\n")
        self.sources = os.path.join(self.dir, "sources.list")
        with open(self.sources, "w", encoding="ascii") as f:
            f.write(text)

    def options(self) -> list[str]:
        return ["-o", f"Dir::Etc::SourceList={self.sources}", "-o", "Dir::Etc::SourceParts=/nonexistent",
                "-o", f"Dir::State::Lists={self.dir}/lists", "-o", f"Dir::Cache={self.dir}/cache",
                "-o", "Dir::State::status=/dev/null", "-o", "APT::Architecture=amd64", "-q"]

    def update(self) -> None:
        sh("apt-get", *self.options(), "update", timeout=600)

    def cache(self, *args: str) -> str:
        return sh("apt-cache", *self.options(), *args)

    def download(self, pkg: str, cwd: str) -> None:
        sh("apt-get", *self.options(), "download", pkg, cwd=cwd, timeout=900)


def kernel_package(apt: Apt) -> tuple[str, str]:
    """(package, version) of the kernel linux-image-amd64 of the suite depends on now."""
    lists = os.path.join(apt.dir, "lists")
    fresh = any(f.endswith("_Packages") for f in os.listdir(lists)) and \
        time.time() - os.path.getmtime(lists) < 6 * 3600
    if not fresh:
        apt.update()
    out = apt.cache("depends", "linux-image-amd64")
    pkg = next(w for line in out.splitlines() if "Depends:" in line
               for w in line.split() if w.startswith("linux-image-") and w[12:13].isdigit())
    version = next(line.split()[1] for line in apt.cache("show", pkg).splitlines()
                   if line.startswith("Version:"))
    return pkg, version


def mirrors() -> tuple[str, str]:
    """The Debian mirror and security mirror the machine's apt sources already name."""
    main = security = ""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    words = line.split()
                    uris = words[1:] if words[:1] == ["URIs:"] else \
                        [w for w in words[1:] if "://" in w] if words[:1] == ["deb"] else []
                    for uri in uris[:1]:
                        if "security" in uri:
                            security = security or uri
                        else:
                            main = main or uri
        except OSError:
            continue
    return main or "http://deb.debian.org/debian", security or "http://deb.debian.org/debian-security"


# Bump when the build procedure below changes what lands in an image (the variant's lists, the
# kernel version and the guest scripts are in the key anyway).
RECIPE = 2


def cache_key(variant: Variant, version: str) -> str:
    h = hashlib.sha256()
    h.update(f"{RECIPE}\n{variant!r}\n{version}\n{LVM_NO_UDEV}".encode())
    h.update(scripts.VM_INIT.encode() + scripts.INITRAMFS_INIT.encode())
    return f"{variant.name}-{version}-{h.hexdigest()[:12]}"


def extract_vmlinux(vmlinuz: str, out: str) -> None:
    """The ELF kernel is the first compressed stream inside the bzImage (PVH boot skips the
    decompressor): XZ in Debian 12, zstd in Debian 13 (decompressed by the zstd tool)."""
    with open(vmlinuz, "rb") as f:
        data = f.read()
    xz, zst = data.find(b"\xfd7zXZ\x00"), data.find(b"\x28\xb5\x2f\xfd")
    if xz >= 0 and (zst < 0 or xz < zst):
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[xz:])
    elif zst >= 0:
        if not shutil.which("zstd"):
            raise RuntimeError(f"{vmlinuz} is zstd-compressed: install zstd")
        # The payload is followed by the rest of the bzImage: zstd complains after the frame.
        elf = subprocess.run(["zstd", "-dc"], input=data[zst:], capture_output=True, timeout=300,
                             check=False).stdout
    else:
        raise RuntimeError(f"no XZ or zstd payload in {vmlinuz}")
    if elf[:4] != b"\x7fELF":
        raise RuntimeError("the compressed payload of the kernel is not an ELF image")
    with open(out, "wb") as f:
        f.write(elf)


def module_closure(kdir: str, kver: str, modules: list[str], optional: tuple[str, ...] = ()) -> list[str]:
    """Module paths relative to lib/modules/KVER, dependencies first, without duplicates."""
    base = os.path.join(kdir, "lib/modules", kver) + "/"
    out: list[str] = []
    for m in modules:
        try:
            text = sh("modprobe", "-d", kdir, "-S", kver, "--show-depends", m)
        except RuntimeError:
            if m in optional:
                log(f"module {m} is not in kernel {kver}: skipped")
                continue
            raise
        for line in text.splitlines():
            words = line.split()
            if words[:1] == ["insmod"]:
                rel = words[1].split(base, 1)[1]
                if rel not in out:
                    out.append(rel)
    return out


def build_kernel(work: str, apt: Apt, pkg: str) -> tuple[str, str]:
    """Download and unpack the kernel package; returns (kernel tree, KVER)."""
    kver = pkg[len("linux-image-"):]
    dl = os.path.join(work, "dl")
    os.makedirs(dl, exist_ok=True)
    apt.download(pkg, dl)
    deb = next(os.path.join(dl, f) for f in os.listdir(dl) if f.endswith(".deb"))
    kdir = os.path.join(work, "kernel")
    sh("dpkg-deb", "-x", deb, kdir)
    if not os.path.isdir(os.path.join(kdir, "lib")):  # /usr-merged package (Debian 13)
        os.symlink("usr/lib", os.path.join(kdir, "lib"))
    sh("depmod", "-b", kdir, kver)
    os.unlink(deb)
    return kdir, kver


# Runs inside the new root, in a private mount namespace (nothing mounted on the host): apt with
# full dependency resolution, no service started (no systemd, and policy-rc.d says no).
CHROOT_APT = """set -e
mount -t proc proc "$1/proc"
printf '#!/bin/sh\\nexit 101\\n' > "$1/usr/sbin/policy-rc.d"; chmod 755 "$1/usr/sbin/policy-rc.d"
shift_root=$1; shift
chroot "$shift_root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \\
    -o Dpkg::Options::=--force-confold install "$@"
rm -f "$shift_root/usr/sbin/policy-rc.d"
umount "$shift_root/proc"
"""


def in_private_ns(*argv: str, timeout: float = 1800) -> str:
    """A build step whose mounts (debootstrap's /proc, /sys) stay in a private mount namespace."""
    return sh("unshare", "--mount", "--propagation", "private", *argv, timeout=timeout)


def build_rootfs(work: str, variant: Variant, kdir: str, kver: str, modules: list[str]) -> str:
    rootfs = os.path.join(work, "rootfs")
    main, _ = mirrors()
    in_private_ns("debootstrap", "--variant=minbase", "--include=" + ",".join(variant.packages), variant.suite,
                  rootfs, main)
    if variant.apt_packages:
        _, security = mirrors()
        with open(os.path.join(rootfs, "etc/apt/sources.list"), "w", encoding="ascii") as f:
            f.write(f"deb {main} {variant.suite} main\ndeb {main} {variant.suite}-updates main\n"
                    f"deb {security} {variant.suite}-security main\n")
        in_private_ns("chroot", rootfs, "apt-get", "-q", "update")
        in_private_ns("sh", "-c", CHROOT_APT, "chroot-apt", rootfs, *variant.apt_packages)
    if variant.venv:
        # An empty venv (with pip from Debian's wheel): `pip install ocfkit` goes there at boot.
        in_private_ns("chroot", rootfs, "python3", "-m", "venv", variant.venv)
    for junk in ("usr/share/doc", "usr/share/man", "usr/share/info", "var/cache/apt", "var/lib/apt/lists"):
        shutil.rmtree(os.path.join(rootfs, junk), ignore_errors=True)
    locales = os.path.join(rootfs, "usr/share/locale")
    if os.path.isdir(locales):
        shutil.rmtree(locales)
        os.makedirs(locales)
    src = os.path.join(kdir, "lib/modules", kver)
    dst = os.path.join(rootfs, "lib/modules", kver)
    for rel in modules:
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        shutil.copy2(os.path.join(src, rel), os.path.join(dst, rel))
    for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy2(os.path.join(src, name), os.path.join(dst, name))
    sh("depmod", "-b", rootfs, kver)
    with open(os.path.join(rootfs, "etc/lvm/lvm.conf"), "a", encoding="utf-8") as f:
        f.write(LVM_NO_UDEV)
    for d in ("ctl", "src", "etc/iscsi", "var/lib/iscsi"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    with open(os.path.join(rootfs, "sbin/vm-init"), "w", encoding="utf-8") as f:
        f.write(scripts.VM_INIT)
    os.chmod(os.path.join(rootfs, "sbin/vm-init"), 0o755)
    return rootfs


def build_initramfs(work: str, kdir: str, kver: str, modules: list[str], out: str) -> None:
    """A busybox initramfs that loads the image's modules (virtio disk and ext4 first) and mounts root."""
    tree = os.path.join(work, "initramfs")
    for d in ("bin", "proc", "sys", "dev", "newroot", "lib/modules"):
        os.makedirs(os.path.join(tree, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(tree, "bin/busybox"))
    with open("/bin/busybox", "rb") as f:
        head = f.read(4096)
    if b"ld-linux" in head:
        raise RuntimeError("/bin/busybox is dynamically linked: install busybox-static")
    order = []
    src = os.path.join(kdir, "lib/modules", kver)
    for rel in modules:
        name = os.path.basename(rel)
        if name.startswith("softdog"):
            continue  # the watchdog is loaded by who arms it
        if name.endswith(".xz"):  # busybox insmod takes plain modules (Debian 13 ships .ko.xz)
            with lzma.open(os.path.join(src, rel)) as f, \
                    open(os.path.join(tree, "lib/modules", name[:-3]), "wb") as o:
                shutil.copyfileobj(f, o)
            name = name[:-3]
        else:
            shutil.copy2(os.path.join(src, rel), os.path.join(tree, "lib/modules", name))
        order.append(name)
    with open(os.path.join(tree, "modules.order"), "w", encoding="ascii") as f:
        f.write("\n".join(order) + "\n")
    with open(os.path.join(tree, "init"), "w", encoding="utf-8") as f:
        f.write(scripts.INITRAMFS_INIT)
    os.chmod(os.path.join(tree, "init"), 0o755)
    files = sh("find", ".", "-print0", cwd=tree)
    cpio = subprocess.run(["cpio", "--null", "-o", "-H", "newc", "--quiet"], cwd=tree, input=files.encode(),
                          capture_output=True, timeout=120, check=True).stdout
    with open(out, "wb") as f:
        f.write(gzip.compress(cpio, 6))


def build(variant: str = "bookworm", cache: str = CACHE) -> str:
    """The directory holding vmlinux, initrd.img and root.img of a variant (built if needed)."""
    v = VARIANTS[variant]
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        apt = Apt(v.suite, cache)
        pkg, version = kernel_package(apt)
        key = cache_key(v, version)
        out = os.path.join(cache, key)
        if os.path.exists(os.path.join(out, "done")):
            return out
        t0 = time.monotonic()
        shutil.rmtree(out, ignore_errors=True)
        work = os.path.join(out, "work")
        os.makedirs(work)
        log(f"building the {variant} guest kernel and image in {out} (kernel {pkg} {version})")
        kdir, kver = build_kernel(work, apt, pkg)
        extract_vmlinux(os.path.join(kdir, "boot", f"vmlinuz-{kver}"), os.path.join(out, "vmlinux"))
        log(f"kernel {kver} ready after {time.monotonic() - t0:.0f} s; debootstrap next")
        modules = module_closure(kdir, kver, list(v.modules), v.optional_modules)
        rootfs = build_rootfs(work, v, kdir, kver, modules)
        log(f"root tree ready after {time.monotonic() - t0:.0f} s")
        build_initramfs(work, kdir, kver, modules, os.path.join(out, "initrd.img"))
        sh("mkfs.ext4", "-q", "-F", "-L", "vmroot", "-d", rootfs, os.path.join(out, "root.img"), v.size)
        shutil.rmtree(work)
        with open(os.path.join(out, "done"), "w", encoding="ascii") as f:
            f.write(f"{kver}\n{time.monotonic() - t0:.1f}\n")
        log(f"built in {time.monotonic() - t0:.0f} s")
        # Older keys of this variant are dead weight (300 MB and more each). Anything else may be
        # in use by another run (another variant, another checkout's layout): left alone.
        for old in os.listdir(cache):
            full = os.path.join(cache, old)
            if old != key and old.startswith(f"{variant}-") and os.path.isdir(full):
                shutil.rmtree(full, ignore_errors=True)
        return out


def build_seconds(image: str) -> float:
    """How long the build of a cached image took (from its `done` file)."""
    with open(os.path.join(image, "done"), encoding="ascii") as f:
        return float(f.read().split()[1])


if __name__ == "__main__":
    print(build(*sys.argv[1:2]))
