#!/bin/sh
# The whole test suite on a fresh Debian 12 machine, as root: installs what it needs, then runs
# the unit tests and every real-system tier. Extra arguments go to pytest.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
venv=${OCFKIT_VENV:-/opt/ocfkit}
cd "$here"
exec "$venv/bin/python3" -m pytest -p no:cacheprovider "$@" tests
