#!/bin/sh
# The whole test suite on a fresh Debian 12 or 13 machine, as root: installs what it needs, then
#  1. the unit and system tests on the other Debian release (13 on a 12 host, 12 on a 13 host), in a
#     debootstrapped root built once and cached (scripts/other-release.sh, docs/releases.md);
#  2. every tier on this machine's release: unit, system and the guest tier (which boots its own
#     Debian 12 and 13 guest kernels, so it runs here only, never twice).
# Both parts always run; the exit status is 0 only when both passed. The last lines name the release
# each part ran on. Extra arguments go to both pytest runs.
# Environment: OCFKIT_VENV (default /opt/ocfkit), OCFKIT_OTHER_RELEASE (bookworm|trixie, or none to
# skip part 1 by hand; CI never sets none), OCFKIT_OTHER_RELEASE_TIMEOUT (seconds for part 1, root
# build included; default 2400), and scripts/other-release.sh's variables.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
venv=${OCFKIT_VENV:-/opt/ocfkit}
cd "$here"
# Every prerequisite a test could skip for is installed by setup.sh (and in the root): a test that
# would skip for a missing tool fails instead (tests/system/test_debian_package.py).
export OCFKIT_STRICT=1
now() { date +%s; }
lines=$(mktemp)
trap 'rm -f "$lines" "$lines.other" "$lines.rc" "$lines.host"' EXIT INT TERM

other=0
if [ "${OCFKIT_OTHER_RELEASE:-}" = none ]; then
    echo "== other Debian release: not run (OCFKIT_OTHER_RELEASE=none)" >"$lines"
else
    started=$(now)
    # Bounded (a hung run must not eat CI's 90 minutes): timeout signals its whole process group, the
    # root's PID 1 included, and the kernel then ends every process of the run's PID namespace.
    { rc=0; timeout "${OCFKIT_OTHER_RELEASE_TIMEOUT:-2400}" sh "$here/scripts/other-release.sh" "$@" tests || rc=$?
      echo "$rc" >"$lines.rc"; } | tee "$lines.other"
    other=$(cat "$lines.rc")
    line=$(grep -E '^== Debian ' "$lines.other" | tail -1 || true)
    echo "${line:-== other Debian release: no summary (exit $other)}, in a root, $(( $(now) - started )) s" >"$lines"
fi

# The Debian package test (tests/system/test_debian_package.py) builds, checks and installs the
# package with the other release's own tools in an overlay of its root, from here: inside a root
# run, `ocfkit demo`'s overlays would stack deeper than the kernel allows.
root=$(sh "$here/scripts/other-release.sh" --print-root 2>/dev/null || true)
if [ "${OCFKIT_OTHER_RELEASE:-}" != none ] && [ -e "$root/.ocfkit-root-complete" ]; then
    export OCFKIT_DEBIAN_ROOTS="$root"
fi
started=$(now)
host=0
OCFKIT_RELEASE_SUMMARY="$lines.host" "$venv/bin/python3" -m pytest -p no:cacheprovider -p tests.release.summary \
    "$@" tests || host=$?
if [ -s "$lines.host" ]; then
    sed "s/\$/, on this machine, $(( $(now) - started )) s/" "$lines.host" >>"$lines"
else
    echo "== this machine's release: no summary (exit $host)" >>"$lines"
fi
rm -f "$lines.host"

echo "== test.sh: both Debian releases"
cat "$lines"
if [ "$other" -ne 0 ] || [ "$host" -ne 0 ]; then
    echo "== test.sh: FAILED (other release exit $other, this machine exit $host)"
    exit 1
fi
echo "== test.sh: passed on both releases"
