#!/bin/sh
# The main job on a fresh Debian 12 machine, as root: install ocfkit and its agents, then run
# `ocfkit demo`: the reference HA iSCSI SAN (config filesystem, VIP, portblock, tgt target and LUN)
# on two nodes in network namespaces, with an iSCSI client writing a checksummed stream while the
# group fails over three times. Extra arguments go to `ocfkit demo` (e.g. --json).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
exec /opt/ocfkit/bin/ocfkit demo "$@"
