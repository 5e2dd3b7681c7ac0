"""Install the agents as executables under resource.d, and remove exactly what was installed.

An installed agent is a short stub run by the base interpreter with -I -S and an explicit import
path (see docs/benchmarks.md: a venv interpreter processes site and pyvenv.cfg on every start;
`-I -S` skips it). It loads the agent's start-up bundle (ocf.bundle) from OCF_ROOT/lib/PROVIDER,
one file per agent module, and falls back to plain imports without it. Everything it touches must
be readable by `nobody`, since ocf-tester runs meta-data as that user.

Two layouts: install() for a venv (stubs with the venv's package directory, bundles written beside
them, a manifest with the digest of every file so that uninstall() removes exactly what was
written), and install_system() for the Debian package (stubs for /usr/bin/python3 and dist-packages,
wrappers named ocfkit-NAME, no manifest: dpkg owns the files; install_bundles() builds the bundles
on the machine). docs/packaging.md describes the package.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from ocf.bundle import FORMAT as BUNDLE_FORMAT

# What every bundle format carries near its start (ocfkit-bundle-1, -2...): an older install's bundle is ours too.
BUNDLE_MARK = BUNDLE_FORMAT.rpartition("-")[0].encode() + b"-"

MANIFEST = ".ocfkit-manifest"
MANIFEST_FORMAT = "ocfkit-manifest-2"
WRAPPER_DIR = "etc/ha.d/resource.d"
DISPLACED = "var/lib/ocfkit/displaced"

# The Debian package's layout (install_system, install_bundles): the unversioned interpreter that
# every Python upgrade keeps, the version-independent directory pybuild installs pure modules into,
# bundles as a regenerable cache, and wrappers named apart from heartbeat's own (docs/packaging.md).
SYSTEM_PYTHON = "/usr/bin/python3"
SYSTEM_PKGDIR = "/usr/lib/python3/dist-packages"
SYSTEM_BUNDLES = "/var/cache/ocfkit"
SYSTEM_WRAPPER_PREFIX = "ocfkit-"


class InstallError(Exception):
    """Installation cannot proceed; the message says why."""


def package_dir() -> str:
    """The directory that holds the ocf and agents packages in use."""
    import ocf

    return os.path.dirname(os.path.dirname(os.path.abspath(ocf.__file__)))


def default_python() -> str:
    """The interpreter behind this one (a venv's python resolved to its base executable)."""
    return os.path.realpath(sys.executable)


def bundle_rel(provider: str, module: str) -> str:
    """Where (below the root) the start-up bundle of an agent module is installed."""
    return f"usr/lib/ocf/lib/{provider}/{module.rpartition('.')[2]}.bundle"


def agent_stub(python: str, pkgdir: str, module: str, cls: str, provider: str, *, bundle: str | None = None,
               system: bool = False) -> str:
    """The text of one installed agent executable. system: pkgdir is the system's dist-packages,
    searched after the standard library (as site would), instead of a venv's, searched first."""
    from ocfkit import __version__

    bundle = bundle or "/" + bundle_rel(provider, module)
    path = f"sys.path.append({pkgdir!r})" if system else f"sys.path.insert(0, {pkgdir!r})"
    return (f"#!{python} -IS\n"
            f"# OCF resource agent ocf:{provider}:{cls}, installed by ocfkit {__version__}.\n"
            f"import sys\n{path}\n"
            f"import ocf.bundle\nocf.bundle.use({bundle!r})\n"
            f"from {module} import {cls}\n"
            f"ocf.bundle.finish({cls}.main())\n")


def wrapper_stub(python: str, pkgdir: str, name: str, provider: str, *, file_name: str | None = None,
                 system: bool = False, bundle: str | None = None) -> str:
    """The text of one heartbeat resource.d wrapper (heartbeat_legacy.resource_d.main does the work).
    It starts as the agent's own stub does: the start-up bundle of its agent's module first (bundle:
    its path; default, where install() writes it), then the wrapper, and it ends without the
    interpreter's teardown (ocf.bundle.finish). heartbeat runs a wrapper twice for every resource it
    acquires (status, then start): each start-up counts. A wrapper left behind without ocfkit (a kept
    conffile, a deleted venv) says so in one line."""
    from agents import AGENTS
    from heartbeat_legacy.resource_d import WRAPPERS
    from ocfkit import __version__

    path = f"sys.path.append({pkgdir!r})" if system else f"sys.path.insert(0, {pkgdir!r})"
    shown = file_name or name
    module = AGENTS[WRAPPERS[name][0]].partition(":")[0]
    bundle = bundle or "/" + bundle_rel(provider, module)
    return (f"#!{python} -IS\n"
            f"# heartbeat resource.d wrapper {shown} for ocf:{provider}:{WRAPPERS[name][0]}, installed by ocfkit "
            f"{__version__}.\n"
            f"import sys\n{path}\n"
            "try:\n"
            "    import ocf.bundle\n"
            f"    ocf.bundle.use({bundle!r}, answer_meta_data=False)\n"
            "    from heartbeat_legacy.resource_d import main\n"
            "except ImportError:\n"
            f"    sys.stderr.write('{shown}: ocfkit is not installed (this wrapper was left behind)\\n')\n"
            "    sys.exit(5)\n"
            f"ocf.bundle.finish(main({name!r}, sys.argv[1:]))\n")


def wrapper_files(*, provider: str, python: str, pkgdir: str) -> dict[str, str]:
    """etc/ha.d/resource.d/NAME -> wrapper text, for every wrapper whose agent exists (the lab's nodes)."""
    from heartbeat_legacy.resource_d import available

    return {f"etc/ha.d/resource.d/{name}": wrapper_stub(python, pkgdir, name, provider) for name in sorted(available())}


def build_bundles(python: str, pkgdir: str, modules: list[str]) -> dict[str, bytes]:
    """module -> start-up bundle, compiled by the interpreter the stubs run (bytecode is only valid
    for one Python version): in this process when it is that interpreter, else in a child."""
    packages = ("ocf", "agents")
    if os.path.realpath(python) == os.path.realpath(sys.executable) and package_dir() == pkgdir:
        from agents import AGENTS
        from ocf.freeze import build

        return {m: build([m], packages, {t: s for t, s in AGENTS.items() if s.partition(":")[0] == m})
                for m in modules}
    import marshal
    import subprocess

    code = ("import marshal, sys\nsys.path.insert(0, sys.argv[1])\nfrom ocf.freeze import build\n"
            "from agents import AGENTS\n"
            f"sys.stdout.buffer.write(marshal.dumps({{m: build([m], {packages!r}, "
            "{t: s for t, s in AGENTS.items() if s.partition(':')[0] == m}) for m in sys.argv[2:]}))")
    r = subprocess.run([python, "-I", "-S", "-c", code, pkgdir, *modules], check=False, capture_output=True,
                       timeout=120)
    if r.returncode != 0:
        last = (r.stderr.decode(errors="replace").strip().splitlines() or [f"exit {r.returncode}"])[-1]
        raise InstallError(f"{python} cannot build the start-up bundles: {last}")
    return marshal.loads(r.stdout)


def _readable_by_all(path: str) -> str | None:
    """None if others can reach path (search every directory, read or run the file), else the culprit."""
    p = os.path.abspath(path)
    while True:
        try:
            mode = os.stat(p).st_mode
        except OSError:
            return p
        need = 0o001 if os.path.isdir(p) or p == os.path.abspath(path) and os.access(p, os.X_OK) else 0o004
        if not mode & need:
            return p
        parent = os.path.dirname(p)
        if parent == p:
            return None
        p = parent


def planned_files(provider: str, python: str, pkgdir: str, *, system: bool = False) -> dict[str, tuple[bytes, int]]:
    """Relative path -> (content, mode) of everything install writes. system: the Debian package's
    layout (no bundles: postinst builds them on the machine, see install_bundles; wrappers named
    ocfkit-NAME beside heartbeat's own)."""
    from agents import AGENTS
    from heartbeat_legacy.resource_d import WRAPPERS, available

    files: dict[str, tuple[bytes, int]] = {}
    for name, spec in sorted(AGENTS.items()):
        module, cls = spec.split(":")
        bundle = f"{SYSTEM_BUNDLES}/{module.rpartition('.')[2]}.bundle" if system else None
        stub = agent_stub(python, pkgdir, module, cls, provider, bundle=bundle, system=system)
        files[f"usr/lib/ocf/resource.d/{provider}/{name}"] = (stub.encode(), 0o755)
    if not system:
        for module, data in build_bundles(python, pkgdir, agent_modules()).items():
            files[bundle_rel(provider, module)] = (data, 0o644)
    for name in sorted(available()):
        file_name = SYSTEM_WRAPPER_PREFIX + name if system else name
        bundle = f"{SYSTEM_BUNDLES}/{AGENTS[WRAPPERS[name][0]].partition(':')[0].rpartition('.')[2]}.bundle" \
            if system else None
        text = wrapper_stub(python, pkgdir, name, provider, file_name=file_name, system=system, bundle=bundle)
        files[f"{WRAPPER_DIR}/{file_name}"] = (text.encode(), 0o755)
    return files


def agent_modules() -> list[str]:
    """The modules that hold the agents (one start-up bundle each)."""
    from agents import AGENTS

    return sorted({spec.split(":")[0] for spec in AGENTS.values()})


def install_system(*, destdir: str, provider: str = "ocfkit") -> list[str]:
    """Write the Debian package's agents and wrappers below destdir (the package build's staging
    directory): stubs run /usr/bin/python3, which every Python upgrade keeps, with the system's
    dist-packages on the path. dpkg owns these files, so no manifest is written."""
    if os.path.abspath(destdir) == "/":
        raise InstallError("--system writes the Debian package's files: give --destdir (the package's "
                           "staging directory), or install the package")
    written = []
    for rel, (content, mode) in planned_files(provider, SYSTEM_PYTHON, SYSTEM_PKGDIR, system=True).items():
        full = os.path.join(destdir, rel)
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        _write(full, content, mode)
        written.append(full)
    return written


def install_bundles(*, directory: str = SYSTEM_BUNDLES, python: str = SYSTEM_PYTHON,
                    pkgdir: str = SYSTEM_PKGDIR) -> list[str]:
    """(Re)build the start-up bundles of the packaged agents in directory (a cache: the agents are
    correct without it, only slower to start). The package's postinst runs this, and its dpkg
    trigger on /usr/bin/python3 after every Python upgrade, since a bundle only serves the
    interpreter that built it. Bundles of modules that no longer exist are removed."""
    bundles = build_bundles(python, pkgdir, agent_modules())
    os.makedirs(directory, mode=0o755, exist_ok=True)
    written = []
    for module, data in sorted(bundles.items()):
        full = os.path.join(directory, module.rpartition(".")[2] + ".bundle")
        _write(full, data, 0o644)
        written.append(full)
    for stale in sorted(set(os.listdir(directory)) - {os.path.basename(w) for w in written}):
        path = os.path.join(directory, stale)
        if stale.endswith(".bundle") and _is_bundle(path):
            os.unlink(path)
    return written


def _is_bundle(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return BUNDLE_MARK in f.read(64)
    except OSError:
        return False


def _write(full: str, content: bytes, mode: int) -> None:
    """Replace full atomically with content."""
    tmp = full + ".ocfkit-tmp"
    with open(tmp, "wb") as f:
        f.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, full)


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


def _owner(path: str) -> str:
    """Who wrote a file, as far as its first lines tell: for a message only, never for a decision."""
    try:
        with open(path, "rb") as f:
            head = f.read(400).decode(errors="replace")
    except OSError:
        return "unreadable"
    if "installed by ocfkit" in head and " for ocf:" in head:
        return "ocf:" + head.split(" for ocf:", 1)[1].split(",", 1)[0] + "'s"
    return "another package's or the admin's"


def install(*, destdir: str = "/", provider: str = "ocfkit", python: str | None = None,
            force: bool = False) -> list[str]:
    """Write the agents (and heartbeat wrappers) below destdir; return the paths written.

    The provider's own directories (resource.d/PROVIDER, lib/PROVIDER) are its alone: its files are
    replaced, a file without ocfkit's mark is refused. The heartbeat wrappers share one directory
    with heartbeat's own scripts and other providers' wrappers: one is written only where nothing
    is, or where this provider's last install wrote exactly what is there now (its manifest
    digest). Anything else is kept, with a warning; --force replaces it and keeps the original in
    var/lib/ocfkit/displaced/PROVIDER/, which uninstall puts back."""
    python = python or default_python()
    pkgdir = package_dir()
    if not os.access(python, os.X_OK):
        raise InstallError(f"{python} is not executable")
    if destdir == "/":
        for what in (python, pkgdir):
            bad = _readable_by_all(what)
            if bad:
                raise InstallError(f"{bad} is not readable by other users: agents must run as nobody "
                                   "(install ocfkit into a venv under /opt or /usr/local, see README)")
    files = planned_files(provider, python, pkgdir)
    old, displaced = _read_manifest(destdir, provider)
    written = []
    for rel, (content, mode) in list(files.items()):
        full = os.path.join(destdir, rel)
        current = _digest(full)
        if rel.startswith(WRAPPER_DIR + "/"):
            if current is not None and current != old.get(rel):
                if not force:
                    print(f"ocfkit: keeping {full} ({_owner(full)}; --force replaces it)", file=sys.stderr)
                    del files[rel]
                    continue
                if rel not in displaced:
                    displaced[rel] = _displace(destdir, provider, rel)
        elif current is not None and rel not in old and not force:
            with open(full, "rb") as f:
                head = f.read(400)
            if b"installed by ocfkit" not in head and BUNDLE_MARK not in head:
                raise InstallError(f"{full} exists and was not installed by ocfkit (use --force to replace it)")
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        _write(full, content, mode)
        written.append(full)
    # Files an earlier install wrote but this one does not (an agent renamed, a wrapper now someone
    # else's): remove them if they are still what was written, putting back what they displaced.
    for rel, digest in old.items():
        if rel not in files:
            _release(destdir, provider, rel, digest, displaced)
    entries = {rel: hashlib.sha256(content).hexdigest() for rel, (content, _m) in files.items()}
    _write_manifest(destdir, provider, entries, {r: b for r, b in displaced.items() if r in entries})
    return written


def uninstall(*, destdir: str = "/", provider: str = "ocfkit") -> list[str]:
    """Remove what install wrote (files changed since are kept, with a warning) and put back what
    it displaced; return removed paths."""
    path = os.path.join(destdir, manifest_rel(provider))
    if not os.path.exists(path):
        raise InstallError(f"nothing installed for provider {provider} under {destdir}")
    entries, displaced = _read_manifest(destdir, provider)
    removed = []
    for rel, digest in sorted(entries.items()):
        if _release(destdir, provider, rel, digest, displaced):
            removed.append(os.path.join(destdir, rel))
    os.unlink(path)
    for d in (f"usr/lib/ocf/resource.d/{provider}", f"usr/lib/ocf/lib/{provider}", f"{DISPLACED}/{provider}"):
        _prune(destdir, d)
    return removed


def manifest_rel(provider: str) -> str:
    return f"usr/lib/ocf/resource.d/{provider}/{MANIFEST}"


def _read_manifest(destdir: str, provider: str) -> tuple[dict[str, str], dict[str, str]]:
    """(path -> sha256 of what install wrote, path -> where its displaced original is kept)."""
    rel = manifest_rel(provider)
    try:
        with open(os.path.join(destdir, rel), encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}, {}
    except ValueError as e:
        raise InstallError(f"corrupt manifest {rel}: {e}") from None
    if not isinstance(data, dict):
        raise InstallError(f"corrupt manifest {rel}: not an object")
    if data.get("format") != MANIFEST_FORMAT:  # the first form: a plain path -> digest object
        return dict(data), {}
    return dict(data.get("files", {})), dict(data.get("displaced", {}))


def _write_manifest(destdir: str, provider: str, files: dict[str, str], displaced: dict[str, str]) -> None:
    full = os.path.join(destdir, manifest_rel(provider))
    os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
    data = {"format": MANIFEST_FORMAT, "files": files, "displaced": displaced}
    _write(full, json.dumps(data, indent=1, sort_keys=True).encode(), 0o644)


def _displace(destdir: str, provider: str, rel: str) -> str:
    """Move the file at rel aside (for --force); return where it went, relative to destdir."""
    backup = f"{DISPLACED}/{provider}/{rel}"
    full = os.path.join(destdir, backup)
    os.makedirs(os.path.dirname(full), mode=0o700, exist_ok=True)
    os.replace(os.path.join(destdir, rel), full)
    print(f"ocfkit: moved {os.path.join(destdir, rel)} to {full} (uninstall puts it back)", file=sys.stderr)
    return backup


def _release(destdir: str, provider: str, rel: str, digest: str, displaced: dict[str, str]) -> bool:
    """Remove rel if it still holds what install wrote, and put back what it displaced."""
    full = os.path.join(destdir, rel)
    current = _digest(full)
    backup = displaced.get(rel)
    if current is not None and current != digest:
        print(f"ocfkit: keeping {full}: changed since it was installed", file=sys.stderr)
        if backup:
            print(f"ocfkit: its original stays in {os.path.join(destdir, backup)}", file=sys.stderr)
        return False
    if current is not None:
        os.unlink(full)
    if backup and os.path.exists(os.path.join(destdir, backup)):
        os.replace(os.path.join(destdir, backup), full)
    return current is not None


def _prune(destdir: str, rel: str) -> None:
    """Remove the empty directories of the tree at rel, then its empty parents up to the shared ones."""
    top = os.path.join(destdir, rel)
    if not os.path.isdir(top):
        return
    for d, _subdirs, _files in os.walk(top, topdown=False):
        if not os.listdir(d):
            os.rmdir(d)
    keep = {"usr/lib/ocf/resource.d", "usr/lib/ocf/lib", "var/lib"}
    rel = os.path.dirname(rel)
    while rel and rel not in keep and rel.startswith(("usr/lib/ocf/", "var/lib/")):
        full = os.path.join(destdir, rel)
        if not os.path.isdir(full) or os.listdir(full):
            return
        os.rmdir(full)
        rel = os.path.dirname(rel)
