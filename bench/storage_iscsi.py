"""Filesystem, LVM and iSCSITarget/iSCSILogicalUnit monitor: ocfkit against the ClusterLabs agents.

Run as root: python3 -m bench.storage_iscsi [--pairs N]. Builds a loop device in a private mount
namespace, a VG on a second loop device seen only through a private LVM_SYSTEM_DIR, and a tgtd with
a private socket; removes everything at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

from bench.common import HEADER, compare


def lvm_case(d: str, base: dict[str, str], ours: str, theirs: str, pairs: int):
    """LVM monitor of an inactive VG (rc 7 on both sides: there is no device-mapper here to activate
    it). LVM-activate is not compared: the shell agent runs dmsetup first, which fails without
    device-mapper, so it never reaches the same check."""
    img = f"{d}/pv.img"
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    loop = subprocess.run(["losetup", "--find", "--show", img], check=True, capture_output=True,
                          text=True).stdout.strip()
    from tests.system.support import isolated_lvm_conf

    conf = isolated_lvm_conf(f"{d}/lvmconf", loop)
    had_control = os.path.exists("/dev/mapper/control")
    lvm_env = dict(base, LVM_SYSTEM_DIR=conf, LVM_SUPPRESS_FD_WARNINGS="1")
    vg = f"benchvg{os.getpid() % 10000}"
    no_activation = ["--config", "global { activation = 0 }"]

    def lvm(*argv: str) -> None:
        subprocess.run(["lvm", *argv], env=lvm_env, check=True, capture_output=True, timeout=60)

    try:
        lvm("pvcreate", "-q", loop)
        lvm("vgcreate", "-q", vg, loop)
        lvm("lvcreate", "-q", *no_activation, "-an", "-Zn", "-L", "8M", "-n", "benchlv", vg)
        env = dict(lvm_env, OCF_RESOURCE_INSTANCE="vg", OCF_RESKEY_volgrpname=vg)
        return compare("LVM monitor, VG inactive (rc 7)", ([f"{ours}/LVM", "monitor"], env),
                       ([f"{theirs}/LVM", "monitor"], env), pairs=pairs, expect_rc=7)
    finally:
        subprocess.run(["lvm", "vgremove", "-q", "-y", *no_activation, vg], env=lvm_env, check=False,
                       capture_output=True)
        subprocess.run(["lvm", "pvremove", "-q", "-y", loop], env=lvm_env, check=False, capture_output=True)
        subprocess.run(["losetup", "-d", loop], check=False)
        if not had_control and os.path.exists("/dev/mapper/control"):
            os.unlink("/dev/mapper/control")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--provider", default=os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit"))
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="ocfk-bench-")
    ours, theirs = f"/usr/lib/ocf/resource.d/{args.provider}", "/usr/lib/ocf/resource.d/heartbeat"
    img = f"{d}/fs.img"
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True)
    loop = subprocess.run(["losetup", "--find", "--show", img], check=True, capture_output=True,
                          text=True).stdout.strip()
    holder = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sleep", "3600"])
    time.sleep(0.3)
    tgtd = None
    rows = []
    try:
        enter = ["nsenter", "-t", str(holder.pid), "-m"]
        base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf", "HA_RSCTMP": d,
                "OCF_RESKEY_CRM_meta_interval": "20000", "OCF_RESKEY_CRM_meta_timeout": "20000"}
        fs = dict(base, OCF_RESOURCE_INSTANCE="fs", OCF_RESKEY_device=loop, OCF_RESKEY_directory=f"{d}/mnt",
                  OCF_RESKEY_fstype="ext4")
        subprocess.run([*enter, f"{ours}/Filesystem", "start"], env=fs, check=True, capture_output=True)
        for level in ("0", "10", "20"):
            env = dict(fs, OCF_CHECK_LEVEL=level)
            rows.append(compare(f"Filesystem monitor, depth {level}", ([*enter, f"{ours}/Filesystem", "monitor"], env),
                                ([*enter, f"{theirs}/Filesystem", "monitor"], env), pairs=args.pairs))
        subprocess.run([*enter, f"{ours}/Filesystem", "stop"], env=fs, check=True, capture_output=True)

        rows.append(lvm_case(d, base, ours, theirs, args.pairs))

        sock = f"{d}/tgt/socket"
        os.makedirs(os.path.dirname(sock))
        tgtd = subprocess.Popen(["tgtd", "-f", "--iscsi", "portal=127.0.0.1:3269"],
                                env={"TGT_IPC_SOCKET": sock, "PATH": base["PATH"]},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(sock + ".0"):
            time.sleep(0.05)
        lun = f"{d}/lun.img"
        with open(lun, "wb") as f:
            f.truncate(16 << 20)
        iqn = "iqn.2024-01.bench.ocfkit:t"
        ta = dict(base, TGT_IPC_SOCKET=sock, OCF_RESOURCE_INSTANCE="ta", OCF_RESKEY_implementation="tgt",
                  OCF_RESKEY_iqn=iqn, OCF_RESKEY_tid="1")
        lu = dict(base, TGT_IPC_SOCKET=sock, OCF_RESOURCE_INSTANCE="lu", OCF_RESKEY_implementation="tgt",
                  OCF_RESKEY_target_iqn=iqn, OCF_RESKEY_lun="1", OCF_RESKEY_path=lun)
        subprocess.run([f"{ours}/iSCSITarget", "start"], env=ta, check=True, capture_output=True)
        subprocess.run([f"{ours}/iSCSILogicalUnit", "start"], env=lu, check=True, capture_output=True)
        rows.append(compare("iSCSITarget monitor (tgt)", ([f"{ours}/iSCSITarget", "monitor"], ta),
                            ([f"{theirs}/iSCSITarget", "monitor"], ta), pairs=args.pairs))
        rows.append(compare("iSCSILogicalUnit monitor (tgt)", ([f"{ours}/iSCSILogicalUnit", "monitor"], lu),
                            ([f"{theirs}/iSCSILogicalUnit", "monitor"], lu), pairs=args.pairs))
        subprocess.run([f"{ours}/iSCSILogicalUnit", "stop"], env=lu, check=True, capture_output=True)
        subprocess.run([f"{ours}/iSCSITarget", "stop"], env=ta, check=True, capture_output=True)
    finally:
        if tgtd is not None:
            subprocess.run(["tgtadm", "--lld", "iscsi", "--op", "delete", "--mode", "system"],
                           env={"TGT_IPC_SOCKET": f"{d}/tgt/socket", "PATH": "/usr/sbin:/usr/bin"}, check=False,
                           capture_output=True)
            time.sleep(0.5)
            tgtd.kill()
            tgtd.wait()
        holder.kill()
        holder.wait()
        subprocess.run(["losetup", "-d", loop], check=False)
        subprocess.run(["rm", "-rf", d], check=False)
    print(HEADER)
    for r in rows:
        print(r.row())


if __name__ == "__main__":
    main()
