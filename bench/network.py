"""IPaddr2 and portblock monitor: ocfkit against the ClusterLabs agents on the same resource.

Run as root: python3 -m bench.network [--pairs N] [--through-netns-exec]. Creates its own namespace
and removes it at the end. The timing loop runs inside the namespace (this module re-runs itself
under one `ip netns exec`), so every agent is spawned directly, as pacemaker-execd does; with
--through-netns-exec every single run goes through `ip netns exec` instead (the earlier method: it
adds ~1.5 ms of namespace entry and a sysfs mount to both sides).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from bench.common import HEADER, compare


def measure(ns: str, rsc: str, provider: str, pairs: int, prefix: list[str]) -> list:
    """The comparisons, run in the namespace prepared by main (prefix enters it, or is empty when
    this process already runs inside)."""
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf", "HA_RSCTMP": rsc,
            "OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESKEY_CRM_meta_timeout": "20000"}
    vip = dict(base, OCF_RESOURCE_INSTANCE="vip", OCF_RESKEY_ip="10.99.0.150", OCF_RESKEY_cidr_netmask="24",
               OCF_RESKEY_nic="veth0")
    ours = f"/usr/lib/ocf/resource.d/{provider}"
    theirs = "/usr/lib/ocf/resource.d/heartbeat"
    rows = []
    subprocess.run([*prefix, f"{ours}/IPaddr2", "start"], env=vip, check=True, capture_output=True)
    rows.append(compare("IPaddr2 monitor (running, nic and netmask given)",
                        ([*prefix, f"{ours}/IPaddr2", "monitor"], vip),
                        ([*prefix, f"{theirs}/IPaddr2", "monitor"], vip), pairs=pairs))
    auto = {k: v for k, v in vip.items() if k not in ("OCF_RESKEY_cidr_netmask", "OCF_RESKEY_nic")}
    rows.append(compare("IPaddr2 monitor (running, nic and netmask found)",
                        ([*prefix, f"{ours}/IPaddr2", "monitor"], auto),
                        ([*prefix, f"{theirs}/IPaddr2", "monitor"], auto), pairs=pairs))
    subprocess.run([*prefix, f"{ours}/IPaddr2", "stop"], env=vip, check=True, capture_output=True)
    pb = dict(base, OCF_RESOURCE_INSTANCE="pb", OCF_RESKEY_protocol="tcp", OCF_RESKEY_portno="3260",
              OCF_RESKEY_action="block", OCF_RESKEY_ip="10.99.0.1")
    for fw in ("iptables", "nft"):
        env = dict(pb, OCF_RESKEY_firewall=fw)
        # The shell agent cannot see its own rule on iptables 1.8.9 (REFERENCE 6.5); measure both on a
        # stopped resource (monitor runs the same rule check, answers 7) and ours also running.
        rows.append(compare(f"portblock monitor, stopped (ocfkit {fw} vs shell iptables)",
                            ([*prefix, f"{ours}/portblock", "monitor"], env),
                            ([*prefix, f"{theirs}/portblock", "monitor"], env), pairs=pairs, expect_rc=7))
        subprocess.run([*prefix, f"{ours}/portblock", "start"], env=env, check=True, capture_output=True)
        rows.append(compare(f"portblock monitor, blocked (ocfkit {fw}) vs shell, stopped",
                            ([*prefix, f"{ours}/portblock", "monitor"], env),
                            ([*prefix, f"{theirs}/portblock", "monitor"], pb), pairs=pairs, expect_rc=None))
        subprocess.run([*prefix, f"{ours}/portblock", "stop"], env=env, check=True, capture_output=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--provider", default=os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit"))
    ap.add_argument("--through-netns-exec", action="store_true", help="enter the namespace on every run")
    ap.add_argument("--inside", nargs=2, metavar=("NS", "RSCTMP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        for r in measure(*args.inside, args.provider, args.pairs, []):
            print(r.row())
        return
    ns = f"ocfk-bench{os.getpid()}"
    rsc = tempfile.mkdtemp(prefix="ocfk-bench-")
    sh = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", f"ob{os.getpid() % 10000}", "type", "veth", "peer", "name", f"oc{os.getpid() % 10000}")
        sh("ip", "link", "set", f"ob{os.getpid() % 10000}", "netns", ns, "name", "veth0")
        sh("ip", "link", "set", f"oc{os.getpid() % 10000}", "netns", ns, "name", "veth1")
        sh("ip", "-n", ns, "link", "set", "veth0", "up")
        sh("ip", "-n", ns, "link", "set", "veth1", "up")
        sh("ip", "-n", ns, "addr", "add", "10.99.0.1/24", "dev", "veth0")
        if args.through_netns_exec:
            rows = [r.row() for r in measure(ns, rsc, args.provider, args.pairs, ["ip", "netns", "exec", ns])]
        else:
            here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "bench.network", "--inside", ns,
                                  rsc, "--pairs", str(args.pairs), "--provider", args.provider],
                                 cwd=here, check=True, capture_output=True, text=True, timeout=3600)
            rows = out.stdout.splitlines()
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        subprocess.run(["rm", "-rf", rsc], check=False)
    print(HEADER)
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
