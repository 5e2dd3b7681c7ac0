#!/bin/sh
# Prepare a Debian 12 machine (as root): the Debian packages ocfkit's agents, tests and demo use,
# and ocfkit itself in a venv under /opt (agents run as nobody, so not under /root), with the
# agents installed under /usr/lib/ocf/resource.d/ocfkit.
# Environment: OCFKIT_VENV (default /opt/ocfkit), OCFKIT_EDITABLE=1 for a development install.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${OCFKIT_VENV:-/opt/ocfkit}
export DEBIAN_FRONTEND=noninteractive

# The package list is shared with scripts/other-release.sh; "codename:" lines are for that release only.
release=$(. /etc/os-release && echo "$VERSION_CODENAME")
packages=$(sed 's/#.*//' "$here/scripts/packages.txt" |
    awk -v r="$release:" '$1 ~ /:$/ { if ($1 != r) next; $1 = "" } { print }')
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    # Daemons must not start from package scripts (no init system here; tests start their own).
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
    rm -f /usr/sbin/policy-rc.d
fi

if [ ! -x "$venv/bin/python3" ]; then
    /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
# setuptools reuses build/lib when its files look newer than the sources: never let a stale
# build directory stand in for the tree.
rm -rf "$here/build"
if [ "${OCFKIT_EDITABLE:-0}" = 1 ]; then
    "$venv/bin/pip" install -q -e "$here[test]"
else
    "$venv/bin/pip" install -q "$here[test]"
fi
# The examples (the demo's cluster description among them) beside the venv: pip installs only the
# Python packages, and `ocfkit demo` looks for examples/demo.toml in $venv/share/ocfkit too.
mkdir -p "$venv/share/ocfkit"
rm -rf "$venv/share/ocfkit/examples"
cp -r "$here/examples" "$venv/share/ocfkit/examples"
chmod -R o+rX "$venv"
"$venv/bin/ocfkit" install --provider "${OCFKIT_PROVIDER:-ocfkit}" >/dev/null
[ "$venv" = /opt/ocfkit ] && ln -sf "$venv/bin/ocfkit" /usr/local/bin/ocfkit
echo "ocfkit installed in $venv; agents in /usr/lib/ocf/resource.d/${OCFKIT_PROVIDER:-ocfkit}"
