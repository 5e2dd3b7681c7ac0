"""Build the guest tier's kernel, initramfs and root image once, cached outside the repository.

Debian's own kernel (resolved from linux-image-amd64 at build time: the ABI number changes) boots
as an ELF vmlinux through PVH, with a busybox initramfs that only mounts the root disk; the root
image is a debootstrap minbase with the tools the agents drive, shared read-only by all guests.
Everything lands in CACHE/<key>, where the key covers the kernel package version, the package
list and the guest scripts; a finished build is marked by a `done` file, so an interrupted one is
redone. `python3 -m tests.guest.build` builds (or finds) it and prints the directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import lzma
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("OCFKIT_VM_CACHE", "/var/tmp/ocfkit-vm")

# What the guests run: the agents' tools, an initiator, and python3 for ocfkit from /src.
PACKAGES = ["drbd-utils", "lvm2", "iproute2", "kmod", "iptables", "nftables", "python3", "e2fsprogs", "procps",
            "util-linux", "open-iscsi", "libiscsi-bin", "iputils-ping", "psmisc"]

# Modules copied into the image (with their dependencies).
MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "virtio_rng", "9p", "9pnet_virtio", "ext4",
           "overlay", "loop", "configfs", "drbd", "dm_mod", "dm_snapshot", "dm_mirror", "target_core_mod",
           "target_core_iblock", "target_core_file", "iscsi_target_mod", "iscsi_tcp", "sd_mod", "bridge",
           "ip_tables", "iptable_filter", "ipt_REJECT", "xt_multiport", "xt_tcpudp", "xt_conntrack", "nf_tables",
           "nft_compat", "nft_reject_inet", "nf_conntrack", "crc32c_generic"]

# Modules the initramfs loads to reach the root disk.
BOOT_MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "virtio_rng", "9p", "9pnet_virtio", "ext4",
           "overlay", "loop", "configfs", "drbd", "dm_mod", "dm_snapshot", "dm_mirror", "target_core_mod",
           "target_core_iblock", "target_core_file", "iscsi_target_mod", "iscsi_tcp", "sd_mod", "bridge",
           "ip_tables", "iptable_filter", "ipt_REJECT", "xt_multiport", "xt_tcpudp", "xt_conntrack", "nf_tables",
           "nft_compat", "nft_reject_inet", "nf_conntrack", "crc32c_generic"]

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
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "LC_ALL": "C", **(env or {})})
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")
    return r.stdout


def kernel_package() -> tuple[str, str]:
    """(package, version) of the kernel linux-image-amd64 depends on now."""
    def depends() -> str:
        return sh("apt-cache", "depends", "linux-image-amd64")

    try:
        out = depends()
    except RuntimeError:
        out = ""
    if "linux-image-" not in out.replace("linux-image-amd64", ""):
        sh("apt-get", "update", "-q")
        out = depends()
    pkg = next(w for line in out.splitlines() if "Depends:" in line
               for w in line.split() if w.startswith("linux-image-") and w[12:13].isdigit())
    version = next(line.split()[1] for line in sh("apt-cache", "show", pkg).splitlines()
                   if line.startswith("Version:"))
    return pkg, version


def mirror() -> str:
    """The Debian mirror the machine's apt sources already name."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    words = line.split()
                    if words[:1] == ["URIs:"] and "security" not in words[1]:
                        return words[1]
                    if words[:1] == ["deb"] and "security" not in line:
                        return next(w for w in words[1:] if "://" in w)
        except OSError:
            continue
    return "http://deb.debian.org/debian"


def cache_key(pkg: str, version: str) -> str:
    h = hashlib.sha256()
    h.update(f"{pkg}={version}\n{' '.join(PACKAGES)}\n{' '.join(MODULES)}\n".encode())
    for name in ("build.py", "vm-init", "initramfs-init"):
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(f.read())
    return f"{version}-{h.hexdigest()[:12]}"


def extract_vmlinux(vmlinuz: str, out: str) -> None:
    """The ELF kernel is the first XZ stream inside the bzImage (PVH boot skips the decompressor)."""
    with open(vmlinuz, "rb") as f:
        data = f.read()
    off = data.find(b"\xfd7zXZ\x00")
    if off < 0:
        raise RuntimeError(f"no XZ payload in {vmlinuz}")
    d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    elf = d.decompress(data[off:])
    if elf[:4] != b"\x7fELF":
        raise RuntimeError("the XZ payload of the kernel is not an ELF image")
    with open(out, "wb") as f:
        f.write(elf)


def module_closure(kdir: str, kver: str, modules: list[str]) -> list[str]:
    """Module paths relative to lib/modules/KVER, dependencies first, without duplicates."""
    base = os.path.join(kdir, "lib/modules", kver) + "/"
    out: list[str] = []
    for m in modules:
        for line in sh("modprobe", "-d", kdir, "-S", kver, "--show-depends", m).splitlines():
            words = line.split()
            if words[:1] == ["insmod"]:
                rel = words[1].split(base, 1)[1]
                if rel not in out:
                    out.append(rel)
    return out


def build_kernel(work: str) -> tuple[str, str]:
    """Download and unpack the kernel package; returns (kernel tree, KVER)."""
    pkg, _ = kernel_package()
    kver = pkg[len("linux-image-"):]
    dl = os.path.join(work, "dl")
    os.makedirs(dl, exist_ok=True)
    sh("apt-get", "download", pkg, cwd=dl)
    deb = next(os.path.join(dl, f) for f in os.listdir(dl) if f.endswith(".deb"))
    kdir = os.path.join(work, "kernel")
    sh("dpkg-deb", "-x", deb, kdir)
    sh("depmod", "-b", kdir, kver)
    os.unlink(deb)
    return kdir, kver


def build_rootfs(work: str, kdir: str, kver: str, modules: list[str]) -> str:
    rootfs = os.path.join(work, "rootfs")
    sh("debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), "bookworm", rootfs, mirror(),
       timeout=1800)
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
    shutil.copy2(os.path.join(HERE, "vm-init"), os.path.join(rootfs, "sbin/vm-init"))
    os.chmod(os.path.join(rootfs, "sbin/vm-init"), 0o755)
    return rootfs


def build_initramfs(work: str, kdir: str, kver: str, out: str) -> None:
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
    for rel in module_closure(kdir, kver, BOOT_MODULES):
        name = os.path.basename(rel)
        shutil.copy2(os.path.join(src, rel), os.path.join(tree, "lib/modules", name))
        order.append(name)
    with open(os.path.join(tree, "modules.order"), "w", encoding="ascii") as f:
        f.write("\n".join(order) + "\n")
    shutil.copy2(os.path.join(HERE, "initramfs-init"), os.path.join(tree, "init"))
    os.chmod(os.path.join(tree, "init"), 0o755)
    files = sh("find", ".", "-print0", cwd=tree)
    cpio = subprocess.run(["cpio", "--null", "-o", "-H", "newc", "--quiet"], cwd=tree, input=files.encode(),
                          capture_output=True, timeout=120, check=True).stdout
    import gzip

    with open(out, "wb") as f:
        f.write(gzip.compress(cpio, 6))


def build(cache: str = CACHE) -> str:
    """The directory holding vmlinux, initrd.img and root.img for the current key (built if needed)."""
    pkg, version = kernel_package()
    key = cache_key(pkg, version)
    out = os.path.join(cache, key)
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(out, "done")):
            return out
        t0 = time.monotonic()
        shutil.rmtree(out, ignore_errors=True)
        work = os.path.join(out, "work")
        os.makedirs(work)
        log(f"building the guest kernel and image in {out} (kernel {pkg} {version})")
        kdir, kver = build_kernel(work)
        extract_vmlinux(os.path.join(kdir, "boot", f"vmlinuz-{kver}"), os.path.join(out, "vmlinux"))
        log(f"kernel {kver} ready after {time.monotonic() - t0:.0f} s; debootstrap next")
        modules = module_closure(kdir, kver, MODULES)
        rootfs = build_rootfs(work, kdir, kver, modules)
        log(f"root tree ready after {time.monotonic() - t0:.0f} s")
        build_initramfs(work, kdir, kver, os.path.join(out, "initrd.img"))
        sh("mkfs.ext4", "-q", "-F", "-L", "vmroot", "-d", rootfs, os.path.join(out, "root.img"), "900M")
        shutil.rmtree(work)
        with open(os.path.join(out, "done"), "w", encoding="ascii") as f:
            f.write(f"{kver}\n{time.monotonic() - t0:.1f}\n")
        log(f"built in {time.monotonic() - t0:.0f} s")
        # Older keys are dead weight (about 300 MB each).
        for old in os.listdir(cache):
            if old != key and not old.startswith(".") and os.path.isdir(os.path.join(cache, old)) \
                    and not old.startswith("run-"):
                shutil.rmtree(os.path.join(cache, old), ignore_errors=True)
        return out


if __name__ == "__main__":
    print(build())
