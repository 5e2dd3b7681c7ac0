"""The Debian package, for real: built with dpkg-buildpackage, checked by lintian, installed,
upgraded, removed and purged with apt.

OCFKIT_DEBIAN_ROOTS names further Debian roots (e.g. a debootstrapped Debian 13 on a Debian 12 host): the
same tests then build with that root's tools and install into an overlay of it.

The package owns /usr/lib/ocf/resource.d/ocfkit, the directory the suite's own venv install of
provider `ocfkit` writes, and installing it changes dpkg's database. So apt never runs on this
machine's root: it runs in a sandbox, a private mount namespace where /usr, /etc and /var are
overlays on the real directories with their upper layers on a tmpfs. Every change the package
makes lands in the tmpfs, the test reads the upper layers to prove what changed, and killing the
namespace's one process (by its PID) throws everything away; that process also ends with the test
process. The real root is never written, so no other test can be affected, even when this one fails
half-way.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from tests.system.support import BUNDLE_PROBE

pytestmark = pytest.mark.system

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
TOOLS = ("dpkg-buildpackage", "lintian", "apt-get", "unshare", "nsenter", "ocf-tester", "man")
# What dpkg, apt, debconf and man-db keep about every install: allowed to differ after a purge.
BOOKKEEPING = ("var/lib/dpkg/", "var/lib/apt/", "var/cache/apt/", "var/cache/debconf/", "var/cache/man/",
               "var/log/",
               # A root's /run is a tmpfs on a booted system (this machine's is outside the sandbox): runtime
               # state such as the demo's `ip netns` directory and resource-agents' HA_RSCTMP, not the package's.
               "run/")
HEARTBEAT_OWN = ("IPaddr2", "IPaddr", "Filesystem", "portblock", "LVM")

def _missing_tools(root: str | None) -> list[str]:
    dirs = CLEAN_ENV["PATH"].split(":")
    return [t for t in TOOLS if not any(os.access(f"{root or ''}{d}/{t}", os.X_OK) for d in dirs)]


def _roots() -> list:
    """This machine's release, and every Debian root named in OCFKIT_DEBIAN_ROOTS (colon-separated
    debootstrapped trees, e.g. a Debian 13 root on a Debian 12 host; docs/packaging.md says how to make one)."""
    extra = [r for r in os.environ.get("OCFKIT_DEBIAN_ROOTS", "").split(":") if r]
    return [pytest.param(None, id="host")] + [pytest.param(r, id=os.path.basename(r.rstrip("/"))) for r in extra]


@pytest.fixture(scope="module", params=_roots())
def target(request):
    """None for this machine's own release, else the path of a Debian root to build and install in."""
    if os.environ.get("OCFKIT_OTHER_RELEASE_RUN"):
        # scripts/test.sh runs this test from the host for this root too (OCFKIT_DEBIAN_ROOTS), with the
        # root's own tools. In here / is an overlay already, the sandbox's /usr another one on it, and
        # `ocfkit demo`'s read-only overlay of /usr/sbin would be a third: more than the kernel stacks (2).
        pytest.skip("run from the host against this root (scripts/test.sh sets OCFKIT_DEBIAN_ROOTS)")
    missing = _missing_tools(request.param)
    if not os.path.exists(f"{request.param or ''}/etc/ha.d/resource.d/IPaddr2"):
        missing.append("heartbeat")
    if missing:
        if os.environ.get("OCFKIT_STRICT"):  # scripts/test.sh: setup.sh and the root install every one of them
            pytest.fail(f"not installed{' in ' + request.param if request.param else ''}: {', '.join(missing)} "
                        "(scripts/packages.txt lists them)")
        pytest.skip(f"not installed{' in ' + request.param if request.param else ''}: {', '.join(missing)}")
    return request.param


def _copy_tree(dest: str) -> None:
    """The worktree as it is (uncommitted changes included), without VCS data or build outputs."""
    ignore = shutil.ignore_patterns(".git", "*.egg-info", "__pycache__", ".ruff_cache", ".pytest_cache", "build",
                                    ".pybuild")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)


def _build(src: str, root: str | None) -> None:
    """dpkg-buildpackage in src, with the tools of root (inside a sandbox of it) or of this machine."""
    if root is None:
        r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=CLEAN_ENV, capture_output=True,
                           text=True, timeout=150)
    else:
        with Sandbox(os.path.join(os.path.dirname(src), "build-sandbox"), root=root,
                     binds=(os.path.dirname(src),)) as sb:
            r = sb.run("sh", "-c", f"cd {src} && dpkg-buildpackage -us -uc -b", timeout=240)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


def _bump(src: str, version: str) -> None:
    """A changelog entry for version on top (what an upload of the next version does)."""
    path = os.path.join(src, "debian/changelog")
    with open(path, encoding="utf-8") as f:
        old = f.read()
    who = re.search(r"^ -- (.+?>)", old, re.M).group(1)
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"ocfkit ({version}) unstable; urgency=medium\n\n  * Test upgrade.\n\n -- {who}  {stamp}\n\n{old}")


@pytest.fixture(scope="module")
def debs(target, tmp_path_factory):
    """{"version", "next", "deb", "next_deb", "changes", "dir"}: the package built twice (version, then
    version+1) for the target release, in a copy of the tree, so the worktree gets no build outputs."""
    top = tmp_path_factory.mktemp("debpkg")
    os.chmod(top, 0o755)
    src = os.path.join(str(top), "ocfkit")
    _copy_tree(src)
    with open(os.path.join(src, "debian/changelog"), encoding="utf-8") as f:
        version = re.match(r"ocfkit \(([^)]+)\)", f.read()).group(1)
    _build(src, target)
    first = os.path.join(str(top), "first")
    os.mkdir(first)
    for name in os.listdir(str(top)):
        if name.startswith(f"ocfkit_{version}_"):
            shutil.move(os.path.join(str(top), name), first)
    changes = os.path.join(first, f"ocfkit_{version}_amd64.changes")
    nxt = f"{version}+1"
    _bump(src, nxt)
    _build(src, target)
    return {"version": version, "next": nxt, "deb": os.path.join(first, f"ocfkit_{version}_all.deb"),
            "next_deb": os.path.join(str(top), f"ocfkit_{nxt}_all.deb"), "changes": changes, "dir": str(top),
            "root": target}


class Sandbox:
    """A private mount namespace in which every change lands on a tmpfs. Without root: /usr, /etc and
    /var are overlays on this machine's own directories. With root (a debootstrapped tree): one overlay
    on the whole tree, with /proc, /sys, /dev and the binds (directories of this machine, at the same
    paths) mounted in it, made the namespace's root with pivot_root (not chroot: a process that enters
    a mount namespace gets the namespace's root, and the lab nodes of `ocfkit demo` enter theirs, so
    with chroot alone they ran this machine's corosync), this machine's tree kept at OLDROOT for the
    test's own reads of the upper layer. Its only process is a `cat` reading a
    pipe from this process, so the namespace ends when the test process does, whatever happens; close()
    kills it by PID, which discards every change."""

    LAYERS = ("usr", "etc", "var")
    OLDROOT = "/.ocfkit-oldroot"

    def __init__(self, base: str, *, root: str | None = None, binds: tuple[str, ...] = ()) -> None:
        self.base, self.root, self.binds = base, root, binds
        self.merged = f"{base}/merged"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Sandbox:
        os.makedirs(self.base, exist_ok=True)
        script = [f"mount -t tmpfs -o mode=0755,size=2g ocfkit-debpkg {self.base}"]
        if self.root is None:
            for d in self.LAYERS:
                up, work = f"{self.base}/{d}/upper", f"{self.base}/{d}/work"
                script += [f"mkdir -p {up} {work}",
                           f"mount -t overlay ocfkit-debpkg-{d} -o lowerdir=/{d},upperdir={up},workdir={work} /{d}"]
        else:
            m = self.merged
            script += [f"mkdir -p {self.base}/upper {self.base}/work {m}",
                       f"mount -t overlay ocfkit-debpkg -o lowerdir={self.root},upperdir={self.base}/upper,"
                       f"workdir={self.base}/work {m}",
                       f"mount -t proc proc {m}/proc", f"mount -t sysfs sysfs {m}/sys", f"mount --rbind /dev {m}/dev"]
            for b in self.binds:
                script += [f"mkdir -p {m}{b}", f"mount --bind {b} {m}{b}"]
            script += [f"mkdir -p {m}{self.OLDROOT}", f"cd {m}", f"pivot_root . .{self.OLDROOT}", "cd /"]
        # The namespace's one process reads our pipe until it closes: it ends with this test process.
        script += ["echo ready", "exec cat >/dev/null"]
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-ec",
                                      "\n".join(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"sandbox did not start: {line} {self.proc.stderr.read()}")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                stream.close()

    def run(self, *argv: str, timeout: float = 60, env: dict[str, str] | None = None, check: bool = False):
        if self.proc.poll() is not None:
            raise RuntimeError(f"the sandbox's process ended (status {self.proc.returncode}): "
                               f"{self.proc.stderr.read()}")
        e = dict(CLEAN_ENV, DEBIAN_FRONTEND="noninteractive")
        e.update(env or {})
        cmd = ["nsenter", "-t", str(self.proc.pid), "-m", "--", "env", "-i",
               *(f"{k}={v}" for k, v in e.items()), *argv]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"{argv}: rc {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        return r

    def sh(self, script: str, **kw):
        return self.run("sh", "-c", script, **kw)

    def read(self, path: str) -> str:
        return self.run("cat", path, check=True).stdout

    def changes(self) -> dict[str, str]:
        """Every entry of the upper layers: relative path -> find's type letter (c: a whiteout, i.e.
        something of the real root deleted)."""
        base = self.base if self.root is None else f"{self.OLDROOT}{self.base}"  # seen from the namespace's root
        uppers = [f"{base}/{d}/upper" for d in self.LAYERS] if self.root is None else [f"{base}/upper"]
        cmd = ["nsenter", "-t", str(self.proc.pid), "-m", "--", "find", *uppers, "-mindepth", "1",
               "-printf", "%y %p\\n"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
        out = {}
        for line in r.stdout.splitlines():
            kind, path = line.split(" ", 1)
            rel = path[len(base) + 1:]
            out[rel.replace("/upper", "", 1) if self.root is None else rel[len("upper/"):]] = kind
        return out

    def lower_isdir(self, rel: str) -> bool:
        """Whether rel is a directory of the tree the sandbox overlays."""
        return os.path.isdir(os.path.join(self.root or "/", rel))

    def apt(self, *args: str):
        return self.run("apt-get", "-y", "-q", "-o", "Dpkg::Options::=--force-confold", *args, timeout=120,
                        check=True)


def _host_cluster_state() -> dict[str, list[str]]:
    """The names in this machine's own cluster directories (its CIB, corosync's state and logs, libqb's
    /dev/shm files of its corosync, the pid file)."""
    dirs = ("/var/lib/pacemaker/cib", "/var/lib/corosync", "/var/log/corosync", "/var/log/pacemaker")
    state = {d: sorted(os.listdir(d)) for d in dirs if os.path.isdir(d)}
    state["/dev/shm"] = sorted(n for n in os.listdir("/dev/shm") if n.startswith("qb-corosync"))
    state["/run"] = sorted(n for n in os.listdir("/run") if n.startswith("corosync"))
    return state


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_package_builds_and_lintian_finds_no_errors(debs):
    argv = ["lintian", "--pedantic", "--fail-on", "error", debs["changes"]]
    if debs["root"] is None:
        r = subprocess.run(argv, env=CLEAN_ENV, capture_output=True, text=True, timeout=120)
    else:  # the target release's lintian
        with Sandbox(os.path.join(debs["dir"], "lintian-sandbox"), root=debs["root"], binds=(debs["dir"],)) as sb:
            r = sb.run(*argv, timeout=180)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert errors == [] and r.returncode == 0, r.stdout + r.stderr
    listing = subprocess.run(["dpkg-deb", "-c", debs["deb"]], capture_output=True, text=True, check=True,
                             timeout=30).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    assert "/usr/lib/ocf/resource.d/ocfkit/IPaddr2" in paths
    assert "/usr/lib/python3/dist-packages/ocf/bundle.py" in paths
    assert "/usr/share/man/man7/ocf_ocfkit_IPaddr2.7.gz" in paths and "/usr/share/man/man8/ocfkit.8.gz" in paths
    assert "/etc/ha.d/resource.d/ocfkit-IPaddr2" in paths
    assert "/usr/share/doc/ocfkit/examples/demo.toml" in paths  # `ocfkit demo` reads it (uncompressed)
    assert not [p for p in paths if p.startswith("/etc/ha.d/resource.d/") and not p.startswith(
        "/etc/ha.d/resource.d/ocfkit-") and p != "/etc/ha.d/resource.d/"], "a name of heartbeat's own"
    assert not [p for p in paths if "/var/cache/ocfkit" in p or p.endswith(".bundle")]  # built on the machine


def _probe(sb: Sandbox, tmp: str, agent: str) -> list[str]:
    probe = os.path.join(tmp, "probe.py")
    with open(probe, "w", encoding="utf-8") as f:
        f.write(BUNDLE_PROBE)
    os.chmod(probe, 0o644)
    return sb.run("/usr/bin/python3", "-I", "-S", probe, f"/usr/lib/ocf/resource.d/ocfkit/{agent}",
                  check=True).stdout.split("\n")[0].split()


def test_install_upgrade_remove_and_purge_leave_the_system_as_an_admin_expects(debs, tmp_path):
    tmp = str(tmp_path)
    os.chmod(tmp, 0o755)  # ocf-tester runs meta-data as nobody
    host_cluster = _host_cluster_state()
    with Sandbox(os.path.join(tmp, "sandbox"), root=debs["root"], binds=(debs["dir"], tmp)) as sb:
        # A fresh machine: the suite's venv install of provider ocfkit is not in the sandbox.
        sb.run("rm", "-rf", "/usr/lib/ocf/resource.d/ocfkit", "/usr/lib/ocf/lib/ocfkit", "/usr/local/bin/ocfkit",
               check=True)
        before = sb.changes()
        status_before = sb.read("/var/lib/dpkg/status")
        triggers_before = sb.read("/var/lib/dpkg/triggers/File")
        heartbeat_before = {n: _sha(sb.read(f"/etc/ha.d/resource.d/{n}")) for n in HEARTBEAT_OWN}
        verify_before = sb.run("dpkg", "--verify", "heartbeat").stdout

        # Install.
        sb.apt("install", "--no-install-recommends", debs["deb"])
        stub = sb.read("/usr/lib/ocf/resource.d/ocfkit/Dummy")
        assert stub.startswith("#!/usr/bin/python3 -IS\n"), stub  # survives Python upgrades
        # ocf-tester leaves the resource running at its end, with the framework's parameter record
        # under HA_RSCTMP: in tmp, not in this machine's /run/resource-agents.
        rsctmp = {"HA_RSCTMP": tmp}
        r = sb.run("ocf-tester", "-n", "t", "-o", f"state={tmp}/dummy.state", "/usr/lib/ocf/resource.d/ocfkit/Dummy",
                   env=rsctmp, timeout=120)
        assert r.returncode == 0 and "passed all tests" in r.stdout, r.stdout + r.stderr
        r = sb.run("/usr/lib/ocf/resource.d/ocfkit/IPaddr2", "meta-data", check=True)
        assert '<resource-agent name="IPaddr2"' in r.stdout
        # IPaddr2 in a network namespace of its own (unshare -n: it dies with the command; a mount
        # namespace below the sandbox's for its own /sys, as ip netns exec does): validate-all of a good
        # and a bad address, then ocf-tester for real.
        ipaddr2 = "/usr/lib/ocf/resource.d/ocfkit/IPaddr2"
        r = sb.run("unshare", "-n", "-m", "--propagation", "unchanged", "sh", "-c",
                   "set -e; mount -t sysfs sysfs /sys; ip link set lo up;"
                   "ip link add v0 type veth peer name v1; ip link set v0 up; ip link set v1 up;"
                   " ip addr add 10.99.7.1/24 dev v0; set +e;"
                   f"OCF_RESKEY_ip=10.99.7.50 {ipaddr2} validate-all; echo validate=$?;"
                   f"OCF_RESKEY_ip=10.99.7.500 {ipaddr2} validate-all 2>&1; echo invalid=$?;"
                   f"ocf-tester -n vip -o ip=10.99.7.50 -o cidr_netmask=24 -o nic=v0 {ipaddr2}; echo tester=$?",
                   env={"HA_RSCTMP": tmp, "OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "vip"}, timeout=150)
        out = r.stdout
        assert "validate=0" in out and "invalid=6" in out and "tester=0" in out, out + r.stderr
        assert "passed all tests" in out and "Traceback" not in out + r.stderr
        assert sb.run("man", "-w", "ocf_ocfkit_Dummy", check=True).stdout.strip() == \
            "/usr/share/man/man7/ocf_ocfkit_Dummy.7.gz"
        assert sb.run("man", "-w", "8", "ocfkit", check=True).stdout.strip() == "/usr/share/man/man8/ocfkit.8.gz"
        r = sb.sh("man --warnings -E UTF-8 -l -Tutf8 -Z /usr/share/man/man7/ocf_ocfkit_IPaddr2.7.gz >/dev/null",
                  check=True)
        assert r.stderr == ""
        assert sb.run("ocfkit", "list", check=True).stdout.count("IPaddr2") >= 1
        # `ocfkit demo` from the package: the packaged command, examples and agents (ocf:ocfkit), two
        # namespace nodes running this release's corosync and Pacemaker; it removes what it creates.
        r = sb.run("ocfkit", "demo", "--json", "--steady", "1", timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-6000:]
        demo = json.loads(r.stdout)
        assert demo["verified"] is True and demo["lost_acknowledged_writes"] == 0, demo
        assert [f["kind"] for f in demo["failovers"]] == ["planned switchover", "planned switchover", "crash"]
        assert demo["manager"] == "pacemaker"
        workdir = os.path.dirname(demo["logs"])  # the demo keeps its files and logs there for the admin
        assert workdir.startswith("/tmp/ocfkit-demo-"), workdir
        sb.run("rm", "-rf", "--", workdir, check=True)
        # The bundles were built by postinst for this release's python3 and serve the agents' modules.
        r = sb.run("/usr/bin/python3", "-c", "import importlib.util, marshal; d = marshal.loads(open("
                   "'/var/cache/ocfkit/dummy.bundle', 'rb').read()); print(d[1] == importlib.util.MAGIC_NUMBER)",
                   check=True)
        assert r.stdout.strip() == "True"
        assert "agents.dummy" in _probe(sb, tmp, "Dummy") and "ocf.agent" in _probe(sb, tmp, "Dummy")
        # heartbeat's own wrappers are untouched; ours sit beside them, as conffiles.
        assert {n: _sha(sb.read(f"/etc/ha.d/resource.d/{n}")) for n in HEARTBEAT_OWN} == heartbeat_before
        assert sb.run("dpkg", "--verify", "heartbeat").stdout == verify_before
        conffiles = sb.run("dpkg-query", "-W", "-f", "${Conffiles}", "ocfkit", check=True).stdout
        assert "/etc/ha.d/resource.d/ocfkit-IPaddr2 " in conffiles
        r = sb.run("/etc/ha.d/resource.d/ocfkit-Dummy", f"{tmp}/hb.state", "start", env=rsctmp, check=True)
        assert "Success" in r.stdout
        r = sb.run("/etc/ha.d/resource.d/ocfkit-Dummy", f"{tmp}/hb.state", "status", env=rsctmp, check=True)
        assert "running" in r.stdout and "not running" not in r.stdout
        sb.run("/etc/ha.d/resource.d/ocfkit-Dummy", f"{tmp}/hb.state", "stop", env=rsctmp, check=True)

        # After a Python upgrade the bundle no longer fits the interpreter: ignored (the agent still
        # works), then rebuilt by the package's trigger on /usr/bin/python3. No second Python exists
        # here, so the bundle is made stale by hand and the trigger activated as dpkg would.
        sb.run("/usr/bin/python3", "-c",
               "import marshal; p='/var/cache/ocfkit/dummy.bundle'; d=marshal.loads(open(p,'rb').read());"
               "open(p,'wb').write(marshal.dumps((d[0], b'\\0\\0\\r\\n', d[2], d[3])))", check=True)
        assert _probe(sb, tmp, "Dummy") == []
        r = sb.run("/usr/lib/ocf/resource.d/ocfkit/Dummy", "monitor",
                   env={"OCF_ROOT": "/usr/lib/ocf", "OCF_RESKEY_state": f"{tmp}/stale.state"})
        assert r.returncode == 7, r.stderr
        sb.run("dpkg-trigger", "--no-await", "/usr/bin/python3", check=True)
        r = sb.run("dpkg", "--triggers-only", "--pending", check=True)
        assert "Processing triggers for ocfkit" in r.stdout
        assert "agents.dummy" in _probe(sb, tmp, "Dummy")

        # Upgrade over an admin's edit of a wrapper: the edit is kept, the agents work, bundles fit again.
        sb.sh("echo '# local edit' >> /etc/ha.d/resource.d/ocfkit-Dummy", check=True)
        sb.apt("install", "--no-install-recommends", debs["next_deb"])
        assert sb.run("dpkg-query", "-W", "-f", "${Version}", "ocfkit", check=True).stdout == debs["next"]
        assert sb.read("/etc/ha.d/resource.d/ocfkit-Dummy").endswith("# local edit\n")
        assert "agents.dummy" in _probe(sb, tmp, "Dummy")
        r = sb.run("ocf-tester", "-n", "t", "-o", f"state={tmp}/dummy2.state", "/usr/lib/ocf/resource.d/ocfkit/Dummy",
                   env=rsctmp, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr

        # Remove: the agents, modules, man pages and bundles go; the conffiles stay (and say what they are).
        sb.apt("remove", "ocfkit")
        gone = ("/usr/lib/ocf/resource.d/ocfkit", "/usr/lib/python3/dist-packages/ocf", "/usr/bin/ocfkit",
                "/var/cache/ocfkit", "/usr/share/man/man7/ocf_ocfkit_Dummy.7.gz")
        for path in gone:
            assert sb.run("test", "-e", path).returncode != 0, f"{path} left after remove"
        assert sb.run("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "ocfkit").stdout.strip() == "rc"
        r = sb.run("/etc/ha.d/resource.d/ocfkit-IPaddr2", "10.99.7.50/24", "status")
        assert r.returncode == 5 and r.stderr.count("\n") == 1 and "ocfkit is not installed" in r.stderr
        assert "running" not in r.stdout

        # Purge: nothing of the package is left, and nothing else changed but dpkg's and apt's books.
        sb.apt("purge", "ocfkit")
        assert sb.run("dpkg-query", "-W", "ocfkit").returncode != 0
        assert sb.read("/var/lib/dpkg/status") == status_before
        assert sb.read("/var/lib/dpkg/triggers/File") == triggers_before
        assert {n: _sha(sb.read(f"/etc/ha.d/resource.d/{n}")) for n in HEARTBEAT_OWN} == heartbeat_before
        after = sb.changes()
        left = {p: k for p, k in after.items() if before.get(p) != k and k != "d" and not p.startswith(BOOKKEEPING)}
        assert left == {}, left
        new_dirs = [p for p, k in after.items() if k == "d" and p not in before and not sb.lower_isdir(p)
                    and not p.startswith(BOOKKEEPING)]
        assert new_dirs == [], new_dirs
    # The real root was never written: the host's dpkg knows no ocfkit package, and none of its files exist.
    assert subprocess.run(["dpkg-query", "-W", "ocfkit"], capture_output=True, timeout=30).returncode != 0
    assert not os.path.exists("/var/cache/ocfkit")
    assert not [n for n in os.listdir("/etc/ha.d/resource.d") if n.startswith("ocfkit-")]
    assert not os.path.exists("/usr/lib/python3/dist-packages/ocf")
    # Nor this machine's cluster state: the demo's nodes ran the sandbox's corosync and Pacemaker, never
    # this machine's (with chroot instead of pivot_root they did, and wrote its CIB and /dev/shm).
    assert _host_cluster_state() == host_cluster
