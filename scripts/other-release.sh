#!/bin/sh
# The unit and system tests on the other Debian release than the host's (12 <-> 13), as root.
#
# The other release lives in a debootstrapped root, built once and cached under
# $OCFKIT_ROOT_CACHE (default /var/tmp/ocfkit-root) as <release>-<key>, where the key hashes the
# release, the mirror, scripts/packages.txt (the list scripts/setup.sh installs on the host),
# setup.cfg/pyproject.toml (the venv's dependencies) and this script's build steps: a change to any
# of them builds a new root. A root is built in a .build-* directory and renamed only when complete,
# so a partly built root is never entered (a failed build is removed; a stale one on the next run).
#
# Each run enters the cached root read-only under a tmpfs overlay, so nothing a run does (the
# ocfkit install, the tests' files) outlives it, in new mount, PID, network, UTS and IPC namespaces:
# private /proc, fresh /sys, the host's /dev bound in (loop and device-mapper devices), tmpfs on
# /run (with /run/netns for `ip netns`) and /tmp. No mount is ever made in the host's namespace.
# The kernel is the host's: network namespaces, loop devices, nft and iptables work as on the host.
#
# Inside, ocfkit is installed as on the host: a copy of the work tree pip-installed into the venv
# under /opt/ocfkit (its dependencies are in the cached root), then `ocfkit install`; then pytest
# runs the unit and system tests (not the guest tier). Extra arguments go to pytest;
# `--exec CMD ARG...` runs CMD there instead (in /tmp/ocfkit, ocfkit installed), for debugging;
# `--print-root` prints the cached root's path (built or not) and exits.
# The last line printed is `== Debian <version> (<codename>): <pytest's summary>`.
#
# Environment: OCFKIT_OTHER_RELEASE (bookworm|trixie; default: the one the host is not),
# OCFKIT_MIRROR (default http://deb.debian.org/debian), OCFKIT_ROOT_CACHE, OCFKIT_KEEP_ROOTS=1 to
# keep roots of older keys (default: removed after a new one is built).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${OCFKIT_ROOT_CACHE:-/var/tmp/ocfkit-root}
mirror=${OCFKIT_MIRROR:-http://deb.debian.org/debian}
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

host_major=$(cut -d. -f1 /etc/debian_version)
case "${OCFKIT_OTHER_RELEASE:-$host_major}" in
    12) release=trixie ;;
    13) release=bookworm ;;
    bookworm|trixie) release=$OCFKIT_OTHER_RELEASE ;;
    *) echo "other-release: host Debian $host_major is neither 12 nor 13; set OCFKIT_OTHER_RELEASE" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "other-release: run as root" >&2; exit 2; }

# "codename:" lines of the list are for that release only.
packages=$(sed 's/#.*//' "$here/scripts/packages.txt" |
    awk -v r="$release:" '$1 ~ /:$/ { if ($1 != r) next; $1 = "" } { print }' | tr -s ' \n\t' ' ')
# Bump when the build steps below change in a way the inputs do not show.
build_steps=3
key=$( { echo "$release $mirror $build_steps"; echo "$packages";
         cat "$here/setup.cfg" "$here/pyproject.toml"; } | sha256sum | cut -c1-16)
root=$cache/$release-$key
buildlog=$cache/.log-$release

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Commands in a private mount namespace with the root's /proc, /sys and /dev mounted (for the build).
build_chroot() {
    r=$1; shift
    unshare --mount --propagation private --fork --pid sh -eu -c '
        r=$1; shift
        mount -t proc proc "$r/proc"
        mount -t sysfs sysfs "$r/sys"
        mount --rbind /dev "$r/dev"
        mount -t tmpfs tmpfs "$r/tmp"
        exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"' build "$r" "$@"
}

build_root() {
    tmp=$cache/.build-$release-$key-$$
    trap 'rm -rf "$tmp"' EXIT INT TERM
    started=$(now)
    echo "other-release: building the Debian $release root in $root (once; cached)" >&2
    # debootstrap mounts /proc and /sys in the target: keep those mounts in a private namespace.
    unshare --mount --propagation private \
        debootstrap --variant=minbase --include=ca-certificates "$release" "$tmp" "$mirror" >"$buildlog" 2>&1 || {
        tail -20 "$buildlog" >&2; exit 1; }
    boot=$(elapsed "$started")
    echo "other-release: debootstrap took $boot s" >&2
    security=${mirror%/debian}/debian-security
    cat >"$tmp/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $release $release-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $release-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -f "$tmp/etc/apt/sources.list"
    # Daemons must not start from package scripts (the tests start their own).
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"; chmod 755 "$tmp/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"
    # The root trusts the certificate authorities the host's admin added (a TLS-inspecting proxy's),
    # and pip reads the host's configuration, so it reaches the package index the host reaches.
    mkdir -p "$tmp/usr/local/share/ca-certificates"
    cp -r /usr/local/share/ca-certificates/. "$tmp/usr/local/share/ca-certificates/" 2>/dev/null || true
    [ -f /etc/pip.conf ] && cp /etc/pip.conf "$tmp/etc/pip.conf"
    # shellcheck disable=SC2086
    build_chroot "$tmp" sh -eu -c 'apt-get update -q && apt-get install -y -q --no-install-recommends "$@" && apt-get clean' \
        apt $packages >>"$buildlog" 2>&1 || { tail -30 "$buildlog" >&2; exit 1; }
    # The venv with ocfkit's dependencies (ocfkit itself is installed from the tree on each run).
    mkdir -p "$tmp/root/deps/ocfkit"
    cp "$here/setup.cfg" "$here/pyproject.toml" "$tmp/root/deps/"
    echo '__version__ = "0"' >"$tmp/root/deps/ocfkit/__init__.py"
    touch "$tmp/root/deps/README.md" "$tmp/root/deps/LICENSE"
    build_chroot "$tmp" sh -eu -c '
        update-ca-certificates >/dev/null
        /usr/bin/python3 -m venv /opt/ocfkit
        /opt/ocfkit/bin/pip install -q --upgrade pip setuptools wheel
        cd /root/deps
        /opt/ocfkit/bin/pip install -q ".[test]"
        /opt/ocfkit/bin/pip uninstall -q -y ocfkit
        cd / && rm -rf /root/deps /root/.cache
        chmod -R o+rX /opt/ocfkit' >>"$buildlog" 2>&1 || { tail -30 "$buildlog" >&2; exit 1; }
    touch "$tmp/.ocfkit-root-complete"
    mv "$tmp" "$root"
    trap - EXIT INT TERM
    echo "other-release: root built in $(elapsed "$started") s (debootstrap $boot s); $(du -sh "$root" | cut -f1)" >&2
    if [ "${OCFKIT_KEEP_ROOTS:-0}" != 1 ]; then
        for old in "$cache/$release"-*; do
            [ "$old" = "$root" ] || rm -rf "$old"
        done
    fi
}

if [ "${1:-}" = --print-root ]; then
    echo "$root"
    exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/.lock-$release"
flock 9
for stale in "$cache"/.build-*; do
    [ -e "$stale" ] && rm -rf "$stale"
done
[ -e "$root/.ocfkit-root-complete" ] || { rm -rf "$root"; build_root; }
# Runs share the root; a build (exclusive) waits for them.
flock -s 9

version=$(cat "$root/etc/debian_version")
label="Debian $version ($release)"
# pid 1 of the run's PID namespace: starts the command, reaps every orphan (daemons the tests stop
# by PID must not linger as zombies), forwards SIGINT/SIGTERM, exits with the command's status;
# it closes every descriptor but 0-2 first.
reaper='import os, signal, sys
os.closerange(3, 65536)  # the host shell lock and saved descriptors stay outside (lvm warns of them)
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, lambda n, f: os.kill(pid, n))
rc = 1
while True:
    try:
        p, status = os.wait()
    except ChildProcessError:
        break
    except InterruptedError:
        continue
    if p == pid:
        rc = os.waitstatus_to_exitcode(status)
        break
sys.exit(rc if rc >= 0 else 128 - rc)'
# In the root: ocfkit from a copy of the tree (the bind mount is read-only), then pytest.
inner='# /run is a fresh tmpfs, as on a booted system: its directories from tmpfiles.d (heartbeat needs
# /run/heartbeat), as systemd-tmpfiles would make them at boot.
chmod 1777 /run/lock
for f in /usr/lib/tmpfiles.d/*.conf /etc/tmpfiles.d/*.conf; do
    [ -f "$f" ] || continue
    while read -r type path mode user group _rest; do
        case "$type:$path" in
            d:/run/*|D:/run/*)
                mkdir -p "$path"
                [ "$mode" = - ] || chmod "$mode" "$path"
                [ "$user" = - ] && user=root
                [ "$group" = - ] && group=root
                chown "$user:$group" "$path" 2>/dev/null || true ;;
        esac
    done <"$f"
done
mkdir /tmp/ocfkit
tar -C /src --exclude=./.git --exclude=./build --exclude="*.egg-info" --exclude=__pycache__ -cf - . | tar -C /tmp/ocfkit -xf -
cd /tmp/ocfkit
/opt/ocfkit/bin/pip install -q --no-deps --no-build-isolation --no-index . >/tmp/pip.log 2>&1 || { cat /tmp/pip.log; exit 1; }
mkdir -p /opt/ocfkit/share/ocfkit && cp -r examples /opt/ocfkit/share/ocfkit/examples  # as scripts/setup.sh does
/opt/ocfkit/bin/ocfkit install --provider ocfkit >/tmp/install.log 2>&1 || { cat /tmp/install.log; exit 1; }
echo "other-release: ready $(date +%s.%N)"
if [ "${1:-}" = --exec ]; then shift; exec "$@"; fi
[ $# -gt 0 ] || set -- tests
exec /opt/ocfkit/bin/python3 -m pytest -p no:cacheprovider -p tests.release.summary --ignore=tests/guest "$@"'
# Host side of the run, in the new namespaces: the overlay, the private mounts, then chroot.
enter='root=$1 ovl=$2 here=$3 reaper=$4 inner=$5; shift 5
mount -t tmpfs -o mode=755 ocfkit-run "$ovl"
mkdir "$ovl/upper" "$ovl/work" "$ovl/root"
mount -t overlay overlay -o "lowerdir=$root,upperdir=$ovl/upper,workdir=$ovl/work" "$ovl/root"
m=$ovl/root
mount -t proc proc "$m/proc"
mount -t sysfs sysfs "$m/sys"
if grep -qw configfs /proc/filesystems && [ -d "$m/sys/kernel/config" ]; then
    mount -t configfs configfs "$m/sys/kernel/config"
fi
mount --rbind /dev "$m/dev"
mount -t tmpfs -o mode=1777 shm "$m/dev/shm"
mount -t tmpfs -o mode=755 run "$m/run"
mkdir -p "$m/run/netns" "$m/run/lock"
mount -t tmpfs -o mode=1777 tmp "$m/tmp"
# The shared schemas the tests look for beside the repository (tests/system/test_framework_system.py).
for d in "$here/../shared" /work/shared; do
    if [ -d "$d/schemas" ]; then
        mkdir -p "$m/tmp/shared"
        cp -r "$d/schemas" "$m/tmp/shared/"
        break
    fi
done
mkdir -p "$m/src"
mount --bind "$here" "$m/src"
mount -o remount,bind,ro "$m/src"
if [ -d "/lib/modules/$(uname -r)" ]; then
    mkdir -p "$m/lib/modules/$(uname -r)"
    mount --bind -o ro "/lib/modules/$(uname -r)" "$m/lib/modules/$(uname -r)"
fi
cp /etc/hosts "$m/etc/hosts"
ip link set lo up
# pivot_root, not chroot alone: a process that enters a mount namespace (nsenter -m, setns) gets that
# namespace root as its root, and it must be this one, never the host tree. The host tree is then
# detached from this namespace.
mkdir -p "$m/.oldroot"
cd "$m"
pivot_root . .oldroot
exec chroot . /bin/sh -c '"'"'umount -l /.oldroot && rmdir /.oldroot && exec "$@"'"'"' pivot /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    TERM="${TERM:-dumb}" CI="${CI:-}" OCFKIT_STRICT="${OCFKIT_STRICT:-}" OCFKIT_OTHER_RELEASE_RUN=1 \
    OCFKIT_TEST_PROVIDER=ocfkit \
    /usr/bin/python3 -c "$reaper" /bin/sh -eu -c "$inner" inner "$@"'

ovl=$cache/.run-$$
mkdir -p "$ovl"
log=$cache/.run-$$.log
started=$(now)
echo "other-release: $label, unit and system tests in $root"
rcfile=$cache/.run-$$.rc
{ rc=0; unshare --mount --propagation private --pid --fork --net --uts --ipc \
      sh -eu -c "$enter" enter "$root" "$ovl" "$here" "$reaper" "$inner" "$@" || rc=$?; echo "$rc" >"$rcfile"; } 2>&1 |
    tee "$log"
rc=$(cat "$rcfile")
ready=$(sed -n 's/^other-release: ready //p' "$log" | head -1)
line=$(grep -E '^== Debian [^ ]+ \([a-z]+\): ' "$log" | tail -1)
summary=$(grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)[ ,].* in [0-9.]+s' "$log" |
    tail -1 | sed -E 's/^=+ //; s/ =+$//')
rmdir "$ovl" 2>/dev/null || true
rm -f "$log" "$rcfile"
entry=$( [ -n "$ready" ] && awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.1f", b - a }' || echo "?")
echo "other-release: entered $label and installed ocfkit in $entry s; whole run $(elapsed "$started") s"
if [ -n "$line" ]; then
    echo "$line"
else
    echo "== $label: ${summary:-no pytest summary (exit $rc)}"
fi
exit "$rc"
