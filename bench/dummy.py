"""Dummy monitor: ocf:ocfkit:Dummy against ocf:heartbeat:Dummy on the same state file, and the floor.

Usage (root, agents installed): python3 -m bench.dummy [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from bench.common import HEADER, compare


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--provider", default=os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit"))
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="ocfk-bench-")
    state = f"{d}/dummy.state"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "b",
           "OCF_RESKEY_state": state, "OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESKEY_CRM_meta_timeout": "20000",
           "HA_RSCTMP": d}
    ours = f"/usr/lib/ocf/resource.d/{args.provider}/Dummy"
    theirs = "/usr/lib/ocf/resource.d/heartbeat/Dummy"
    with open(state, "w"):
        pass
    py = open(ours).readline()[2:].split()[0]
    rows = [
        compare("Dummy monitor (running)", ([ours, "monitor"], env), ([theirs, "monitor"], env), pairs=args.pairs),
        compare("floor: python3 -I -S -c pass vs Dummy (shell)", ([py, "-I", "-S", "-c", "pass"], env),
                ([theirs, "monitor"], env), pairs=args.pairs),
        compare("framework cost: Dummy monitor vs python3 -I -S -c pass", ([ours, "monitor"], env),
                ([py, "-I", "-S", "-c", "pass"], env), pairs=args.pairs),
    ]
    os.unlink(state)
    rows.append(compare("Dummy monitor (stopped, rc 7)", ([ours, "monitor"], env), ([theirs, "monitor"], env),
                        pairs=args.pairs, expect_rc=7))
    os.rmdir(d)
    print(HEADER)
    for r in rows:
        print(r.row())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
