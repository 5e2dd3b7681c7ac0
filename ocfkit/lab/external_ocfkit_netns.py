#!/usr/bin/python3
"""external/ocfkit_netns: cluster-glue STONITH plugin (for heartbeat's stonith_host) over
fence_ocfkit_netns, so heartbeat fences lab nodes through the same power switch as Pacemaker.

cluster-glue's "external" plugin interface: the command is the first argument (gethosts, on, off,
reset, status, getconfignames, getinfo-*), the host the second, the configuration in environment
variables named by getconfignames (here power_switch). Exit 0 on success. Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys

AGENT = "/usr/sbin/fence_ocfkit_netns"
INFO = {
    "getinfo-devid": "ocfkit lab power switch",
    "getinfo-devname": "ocfkit lab power switch",
    "getinfo-devdescr": "Powers ocfkit namespace lab nodes off and on through the lab's power switch",
    "getinfo-devurl": "https://github.com/ClusterLabs/cluster-glue",
    "getinfo-xml": ('<parameters>\n<parameter name="power_switch" unique="1" required="1">\n'
                    '<content type="string" />\n<shortdesc lang="en">Path of the lab\'s power switch socket'
                    '</shortdesc>\n</parameter>\n</parameters>'),
}
ACTIONS = {"on": "on", "off": "off", "reset": "reboot"}


def agent(action: str, host: str = "") -> subprocess.CompletedProcess:
    switch = os.environ.get("power_switch", "")  # noqa: SIM112 - cluster-glue names it after the parameter
    stdin = f"action={action}\npower_switch={switch}\n"
    if host:
        stdin += f"plug={host}\n"
    return subprocess.run([AGENT], input=stdin, capture_output=True, text=True, timeout=60, check=False)


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "getconfignames":
        print("power_switch")
        return 0
    if cmd in INFO:
        print(INFO[cmd])
        return 0
    if cmd == "gethosts":
        r = agent("list")
        print("\n".join(line.split(",")[0] for line in r.stdout.splitlines() if line))
        return r.returncode
    if cmd == "status":
        return agent("monitor").returncode
    if cmd in ACTIONS and len(argv) > 2:
        r = agent(ACTIONS[cmd], argv[2].lower())
        sys.stderr.write(r.stderr)
        return r.returncode
    sys.stderr.write(f"usage: {os.path.basename(argv[0])} gethosts|on|off|reset|status HOST|getconfignames|getinfo-*\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
