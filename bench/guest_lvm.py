"""LVM and LVM-activate monitor on a really active VG: ocfkit against the ClusterLabs agents, in a guest.

This machine has no device-mapper, so the active case can only be measured in the guest tier's qemu
guest (Debian's kernel). The ClusterLabs agents are not in the guest image: this script copies the
host's installed ones (resource-agents' LVM, LVM-activate and their shell libraries) into the guest's
control share at run time, next to ocfkit's agents installed from the source share. Both sides are
then timed inside the guest, alternately, with bench.common. Software emulation (TCG) makes every
figure slower than on hardware; the ratios are what compare.

Run as root: python3 -m bench.guest_lvm [--pairs N]. Boots one guest, stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

SHELL_AGENTS = "/usr/lib/ocf/resource.d/heartbeat"
SHELL_LIB = "/usr/lib/ocf/lib/heartbeat"

# Runs inside the guest: a VG with two active LVs, both agents timed against each other.
INSIDE = r"""
import json, os, subprocess, sys
sys.path.insert(0, "/src")
from bench.common import compare

pairs = int(sys.argv[1])
base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf", "HA_RSCTMP": "/run/resource-agents",
        "OCF_RESKEY_CRM_meta_timeout": "30000"}
ours, theirs = "/usr/lib/ocf/resource.d/ocfkit", "/usr/lib/ocf/resource.d/heartbeat"
lvm_env = dict(base, OCF_RESOURCE_INSTANCE="vg", OCF_RESKEY_volgrpname="benchvg",
               OCF_RESKEY_CRM_meta_interval="10000")
act_env = dict(base, OCF_RESOURCE_INSTANCE="lv", OCF_RESKEY_vgname="benchvg", OCF_RESKEY_lvname="lv1",
               OCF_RESKEY_vg_access_mode="system_id", OCF_RESKEY_activation_mode="exclusive",
               OCF_RESKEY_CRM_meta_interval="10000")
rows = []
subprocess.run(["vgchange", "-ay", "benchvg"], check=True, capture_output=True)
for side in (ours, theirs):  # a failing side says why before any timing
    for name, env in (("LVM", lvm_env), ("LVM-activate", act_env)):
        r = subprocess.run([f"{side}/{name}", "monitor"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{side}/{name} monitor: rc {r.returncode}\n{r.stdout}{r.stderr}")
rows.append(compare("LVM monitor, VG active (2 LVs)", ([f"{ours}/LVM", "monitor"], lvm_env),
                    ([f"{theirs}/LVM", "monitor"], lvm_env), pairs=pairs))
rows.append(compare("LVM-activate monitor, LV active", ([f"{ours}/LVM-activate", "monitor"], act_env),
                    ([f"{theirs}/LVM-activate", "monitor"], act_env), pairs=pairs))
subprocess.run(["vgchange", "-an", "benchvg"], check=True, capture_output=True)
probe = {"OCF_RESKEY_CRM_meta_interval": "0"}
rows.append(compare("LVM probe, VG inactive", ([f"{ours}/LVM", "monitor"], dict(lvm_env, **probe)),
                    ([f"{theirs}/LVM", "monitor"], dict(lvm_env, **probe)), pairs=pairs, expect_rc=7))
rows.append(compare("LVM-activate probe, LV inactive", ([f"{ours}/LVM-activate", "monitor"], dict(act_env, **probe)),
                    ([f"{theirs}/LVM-activate", "monitor"], dict(act_env, **probe)), pairs=pairs, expect_rc=7))
print(json.dumps([r.row() for r in rows]))
"""

SETUP = """
set -e
mkdir -p /usr/lib/ocf/resource.d/heartbeat /usr/lib/ocf/lib/heartbeat
cp /ctl/shell/agents/* /usr/lib/ocf/resource.d/heartbeat/
cp -r /ctl/shell/lib/. /usr/lib/ocf/lib/heartbeat/
# resource-agents calls gawk; the guest image has only mawk (if anything, faster for the shell side).
command -v gawk >/dev/null || ln -s "$(readlink -f "$(command -v awk)")" /usr/bin/gawk
printf 'global { system_id_source = "uname" }\\n' > /etc/lvm/lvmlocal.conf
pvcreate -q /dev/vdb
vgcreate -q benchvg /dev/vdb
lvcreate -q -L 8M -n lv1 benchvg
lvcreate -q -L 8M -n lv2 benchvg
"""


def main() -> None:
    from bench.common import HEADER
    from tests.guest import build, vm
    from tests.guest.common import PREPARE

    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=20)
    args = ap.parse_args()
    for p in (f"{SHELL_AGENTS}/LVM", f"{SHELL_AGENTS}/LVM-activate", f"{SHELL_LIB}/ocf-shellfuncs"):
        if not os.path.exists(p):
            raise SystemExit(f"{p} is missing: install resource-agents on the host")
    image = build.build()
    os.makedirs(vm.CACHE_RUNS, exist_ok=True)
    rundir = tempfile.mkdtemp(prefix="bench-", dir=vm.CACHE_RUNS)
    g = vm.Guest(image, rundir, "bench", disks_mb=[64])
    try:
        g.boot()
        g.sh(PREPARE)
        shell = os.path.join(g.dir, "ctl", "shell")
        os.makedirs(os.path.join(shell, "agents"))
        for name in ("LVM", "LVM-activate"):
            shutil.copy2(f"{SHELL_AGENTS}/{name}", os.path.join(shell, "agents"))
        shutil.copytree(SHELL_LIB, os.path.join(shell, "lib"))
        g.sh(SETUP, timeout=300)
        with open(os.path.join(g.dir, "ctl", "inside.py"), "w", encoding="utf-8") as f:
            f.write(INSIDE)
        out = g.sh(f"python3 /ctl/inside.py {args.pairs}", timeout=3600)
    finally:
        g.stop()
        shutil.rmtree(rundir, ignore_errors=True)
    import json

    print(f"accelerator: {vm.accelerator_name()}")
    print(HEADER)
    for row in json.loads(out.strip().splitlines()[-1]):
        print(row)


if __name__ == "__main__":
    main()
