"""Filesystem and iSCSITarget/iSCSILogicalUnit monitor: ocfkit against the ClusterLabs agents.

Run as root: python3 -m bench.storage_iscsi [--pairs N]. Builds a loop device in a private mount
namespace and a tgtd with a private socket; removes everything at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

from bench.common import HEADER, compare


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
