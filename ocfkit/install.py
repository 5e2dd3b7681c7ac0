"""Install the agents as executables under resource.d, and remove exactly what was installed.

An installed agent is a short stub run by the base interpreter with -I -S and an explicit import
path (see docs/benchmarks.md: a venv interpreter processes site and pyvenv.cfg on every start;
`-I -S` skips it). It loads the agent's start-up bundle (ocf.bundle) from OCF_ROOT/lib/PROVIDER,
one file per agent module, and falls back to plain imports without it. Everything it touches must
be readable by `nobody`, since ocf-tester runs meta-data as that user.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from ocf.bundle import FORMAT as BUNDLE_FORMAT

MANIFEST = ".ocfkit-manifest"


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


def agent_stub(python: str, pkgdir: str, module: str, cls: str, provider: str) -> str:
    """The text of one installed agent executable."""
    from ocfkit import __version__

    return (f"#!{python} -IS\n"
            f"# OCF resource agent ocf:{provider}:{cls}, installed by ocfkit {__version__}.\n"
            f"import sys\nsys.path.insert(0, {pkgdir!r})\n"
            f"import ocf.bundle\nocf.bundle.use({'/' + bundle_rel(provider, module)!r})\n"
            f"from {module} import {cls}\n"
            f"ocf.bundle.finish({cls}.main())\n")


def build_bundles(python: str, pkgdir: str, modules: list[str]) -> dict[str, bytes]:
    """module -> start-up bundle, compiled by the interpreter the stubs run (bytecode is only valid
    for one Python version): in this process when it is that interpreter, else in a child."""
    packages = ("ocf", "agents")
    if os.path.realpath(python) == os.path.realpath(sys.executable) and package_dir() == pkgdir:
        from ocf.freeze import build

        return {m: build([m], packages) for m in modules}
    import marshal
    import subprocess

    code = ("import marshal, sys\nsys.path.insert(0, sys.argv[1])\nfrom ocf.freeze import build\n"
            f"sys.stdout.buffer.write(marshal.dumps({{m: build([m], {packages!r}) for m in sys.argv[2:]}}))")
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


def planned_files(provider: str, python: str, pkgdir: str) -> dict[str, tuple[bytes, int]]:
    """Relative path -> (content, mode) of everything install writes."""
    from agents import AGENTS

    files: dict[str, tuple[bytes, int]] = {}
    for name, spec in sorted(AGENTS.items()):
        module, cls = spec.split(":")
        stub = agent_stub(python, pkgdir, module, cls, provider)
        files[f"usr/lib/ocf/resource.d/{provider}/{name}"] = (stub.encode(), 0o755)
    modules = sorted({spec.split(":")[0] for spec in AGENTS.values()})
    for module, data in build_bundles(python, pkgdir, modules).items():
        files[bundle_rel(provider, module)] = (data, 0o644)
    from heartbeat_legacy.resource_d import wrapper_files

    for rel, content in wrapper_files(provider=provider, python=python, pkgdir=pkgdir).items():
        files[rel] = (content.encode(), 0o755)
    return files


def install(*, destdir: str = "/", provider: str = "ocfkit", python: str | None = None,
            force: bool = False) -> list[str]:
    """Write the agents (and heartbeat wrappers) below destdir; return the paths written."""
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
    manifest_rel = f"usr/lib/ocf/resource.d/{provider}/{MANIFEST}"
    old = _read_manifest(destdir, manifest_rel)
    written = []
    for rel, (content, mode) in list(files.items()):
        full = os.path.join(destdir, rel)
        if os.path.exists(full) and rel not in old and not force:
            with open(full, "rb") as f:
                head = f.read(400)
            foreign = b"installed by ocfkit" not in head and BUNDLE_FORMAT.encode() not in head
            if foreign and rel.startswith("etc/ha.d/resource.d/"):
                # heartbeat's own wrappers stay unless asked: the admin chooses which one haresources runs.
                print(f"ocfkit: keeping {full} (not ocfkit's; --force replaces it)", file=sys.stderr)
                del files[rel]
                continue
            if foreign:
                raise InstallError(f"{full} exists and was not installed by ocfkit (use --force to replace it)")
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        tmp = full + ".ocfkit-tmp"
        with open(tmp, "wb") as f:
            f.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, full)
        written.append(full)
    # Files an earlier install wrote but this one does not (an agent renamed): remove them.
    for rel, digest in old.items():
        if rel not in files:
            _remove_if_unchanged(os.path.join(destdir, rel), digest)
    entries = {rel: hashlib.sha256(content).hexdigest() for rel, (content, _m) in files.items()}
    with open(os.path.join(destdir, manifest_rel), "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=1, sort_keys=True)
    return written


def uninstall(*, destdir: str = "/", provider: str = "ocfkit") -> list[str]:
    """Remove what install wrote (files changed since are kept, with a warning); return removed paths."""
    manifest_rel = f"usr/lib/ocf/resource.d/{provider}/{MANIFEST}"
    entries = _read_manifest(destdir, manifest_rel)
    if not entries and not os.path.exists(os.path.join(destdir, manifest_rel)):
        raise InstallError(f"nothing installed for provider {provider} under {destdir}")
    removed = []
    for rel, digest in sorted(entries.items()):
        full = os.path.join(destdir, rel)
        if _remove_if_unchanged(full, digest):
            removed.append(full)
    os.unlink(os.path.join(destdir, manifest_rel))
    for d in (f"usr/lib/ocf/resource.d/{provider}", f"usr/lib/ocf/lib/{provider}"):
        provider_dir = os.path.join(destdir, d)
        if os.path.isdir(provider_dir) and not os.listdir(provider_dir):
            os.rmdir(provider_dir)
    return removed


def _read_manifest(destdir: str, rel: str) -> dict[str, str]:
    try:
        with open(os.path.join(destdir, rel), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise InstallError(f"corrupt manifest {rel}: {e}") from None


def _remove_if_unchanged(full: str, digest: str) -> bool:
    try:
        with open(full, "rb") as f:
            current = hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return False
    if current != digest:
        print(f"ocfkit: keeping {full}: changed since it was installed", file=sys.stderr)
        return False
    os.unlink(full)
    return True
