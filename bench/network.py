"""IPaddr2 and portblock monitor: ocfkit against the ClusterLabs agents on the same resource.

Run as root: python3 -m bench.network [--pairs N]. Creates its own namespace, removes it at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile

from bench.common import HEADER, compare


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--provider", default=os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit"))
    args = ap.parse_args()
    ns = f"ocfk-bench{os.getpid()}"
    rsc = tempfile.mkdtemp(prefix="ocfk-bench-")
    sh = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    sh("ip", "netns", "add", ns)
    rows = []
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", f"ob{os.getpid() % 10000}", "type", "veth", "peer", "name", f"oc{os.getpid() % 10000}")
        sh("ip", "link", "set", f"ob{os.getpid() % 10000}", "netns", ns, "name", "veth0")
        sh("ip", "link", "set", f"oc{os.getpid() % 10000}", "netns", ns, "name", "veth1")
        sh("ip", "-n", ns, "link", "set", "veth0", "up")
        sh("ip", "-n", ns, "link", "set", "veth1", "up")
        sh("ip", "-n", ns, "addr", "add", "10.99.0.1/24", "dev", "veth0")
        base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf", "HA_RSCTMP": rsc,
                "OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESKEY_CRM_meta_timeout": "20000"}
        vip = dict(base, OCF_RESOURCE_INSTANCE="vip", OCF_RESKEY_ip="10.99.0.150", OCF_RESKEY_cidr_netmask="24",
                   OCF_RESKEY_nic="veth0")
        ours = f"/usr/lib/ocf/resource.d/{args.provider}"
        theirs = "/usr/lib/ocf/resource.d/heartbeat"
        netns = ["ip", "netns", "exec", ns]
        subprocess.run([*netns, f"{ours}/IPaddr2", "start"], env=vip, check=True, capture_output=True)
        rows.append(compare("IPaddr2 monitor (running, nic and netmask given)",
                            ([*netns, f"{ours}/IPaddr2", "monitor"], vip),
                            ([*netns, f"{theirs}/IPaddr2", "monitor"], vip), pairs=args.pairs))
        auto = {k: v for k, v in vip.items() if k not in ("OCF_RESKEY_cidr_netmask", "OCF_RESKEY_nic")}
        rows.append(compare("IPaddr2 monitor (running, nic and netmask found)",
                            ([*netns, f"{ours}/IPaddr2", "monitor"], auto),
                            ([*netns, f"{theirs}/IPaddr2", "monitor"], auto), pairs=args.pairs))
        subprocess.run([*netns, f"{ours}/IPaddr2", "stop"], env=vip, check=True, capture_output=True)
        pb = dict(base, OCF_RESOURCE_INSTANCE="pb", OCF_RESKEY_protocol="tcp", OCF_RESKEY_portno="3260",
                  OCF_RESKEY_action="block", OCF_RESKEY_ip="10.99.0.1")
        for fw in ("iptables", "nft"):
            env = dict(pb, OCF_RESKEY_firewall=fw)
            # The shell agent cannot see its own rule on iptables 1.8.9 (REFERENCE 6.5); measure both on a
            # stopped resource (monitor runs the same rule check, answers 7) and ours also running.
            rows.append(compare(f"portblock monitor, stopped (ocfkit {fw} vs shell iptables)",
                                ([*netns, f"{ours}/portblock", "monitor"], env),
                                ([*netns, f"{theirs}/portblock", "monitor"], env), pairs=args.pairs, expect_rc=7))
            subprocess.run([*netns, f"{ours}/portblock", "start"], env=env, check=True, capture_output=True)
            rows.append(compare(f"portblock monitor, blocked (ocfkit {fw}) vs shell, stopped",
                                ([*netns, f"{ours}/portblock", "monitor"], env),
                                ([*netns, f"{theirs}/portblock", "monitor"], pb), pairs=args.pairs, expect_rc=None))
            subprocess.run([*netns, f"{ours}/portblock", "stop"], env=env, check=True, capture_output=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        subprocess.run(["rm", "-rf", rsc], check=False)
    print(HEADER)
    for r in rows:
        print(r.row())


if __name__ == "__main__":
    main()
