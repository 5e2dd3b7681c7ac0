"""Start-up bundles: the code of an agent's own modules in one file, loaded by its installed stub.

Importing an agent runs about ten modules of ours; through the import system each costs a path
search, stats, a .pyc read and the import machinery's own work, and `from __future__ import
annotations` loads the __future__ module. `ocfkit install` writes one bundle per agent module
(ocf.freeze builds it): the code of every module of ours that the agent can import, compiled with
the __future__ features as compiler flags. The stub calls use(), which puts a finder for the bundle
first on sys.meta_path and runs, in Python's own order, the modules that importing the agent runs;
modules imported later (inside functions) come from the bundle through the finder.

A module is served from the bundle only while its source still has the size and mtime it had when
the bundle was built (the rule .pyc files follow), so an upgraded or edited tree is read from its
sources until the next install. Every other import, and every import when the bundle is missing,
unreadable or made by another Python version, takes the normal path.

The stub ends through finish(), which skips the interpreter's teardown (see there).

Every installed agent imports this module first: keep it cheap (no __future__ import, only
built-in modules at module level, the building side in ocf.freeze).
"""

import marshal
import posix
import sys

FORMAT = "ocfkit-bundle-2"  # 2: the meta-data documents of the agents it serves


def magic() -> bytes:
    """The running interpreter's bytecode magic number (bytecode is only valid for that one)."""
    ext = sys.modules.get("_frozen_importlib_external")  # loaded by every CPython at start-up
    if ext is not None:
        return ext.MAGIC_NUMBER
    from importlib.util import MAGIC_NUMBER

    return MAGIC_NUMBER


def unchanged(entry) -> bool:
    """Whether a bundle entry's source still has the size and mtime it had when the bundle was built."""
    origin, _is_package, mtime_ns, size, _code = entry
    try:
        st = posix.stat(origin)
    except OSError:
        return False
    return st.st_mtime_ns == mtime_ns and st.st_size == size


class BundleFinder:
    """Meta path finder and loader for the modules of one bundle."""

    def __init__(self, path: str, modules: dict) -> None:
        self.path = path
        # name -> (origin, is_package, mtime_ns, size, code): a code object for the modules that
        # importing the agent runs, marshalled bytes (loaded on demand) for the others.
        self.modules = modules

    def find_spec(self, name, path=None, target=None):
        entry = self.modules.get(name)
        if entry is None:
            return None
        origin, is_package, _mtime_ns, _size, code = entry
        if not unchanged(entry):
            return None  # changed since install (or gone): the path finder compiles the source as usual
        spec = type(sys.__spec__)(name, self, origin=origin, loader_state=code, is_package=is_package)
        if is_package:
            spec.submodule_search_locations.append(origin.rpartition("/")[0])
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        code = module.__spec__.loader_state
        if isinstance(code, bytes):
            code = marshal.loads(code)
        module.__file__ = module.__spec__.origin  # scripts next to a module are found from it
        exec(code, module.__dict__)  # noqa: S102 - our own code, from a root-owned file

    def preload(self, name: str) -> bool:
        """Run one module as `import name` would, without the import system's per-module work (locks,
        spec handling: ~25 us a module). Modules it imports that are not loaded yet are imported as
        usual, so the order only matters for speed. False if the bundle cannot serve the module."""
        if name in sys.modules:
            return True
        spec = self.find_spec(name)
        if spec is None:
            return False
        module = type(sys)(name)
        module.__spec__, module.__package__ = spec, spec.parent
        module.__loader__ = self  # type: ignore[assignment] # a loader by protocol (exec_module)
        if spec.submodule_search_locations is not None:
            module.__path__ = spec.submodule_search_locations
        sys.modules[name] = module
        try:
            self.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, module)
        return True


def meta_data(documents: dict, modules: dict, name: str, environ: dict) -> str | None:
    """The meta-data document that agent name (the stub's file name) would print, rendered when the
    bundle was built, for the caller's OCF version (OCF_RA_VERSION_MAJOR/MINOR in environ, bytes as
    in posix.environ); None when the bundle has none for name or any of its modules' sources changed
    since (the agent then renders it itself)."""
    docs = documents.get(name)
    if docs is None:
        return None
    if not all(unchanged(entry) for entry in modules.values()):
        return None
    try:  # ocf.metadata.wants_ocf_1_1, on bytes
        version = (int(environ.get(b"OCF_RA_VERSION_MAJOR", b"1") or b"1"),
                   int(environ.get(b"OCF_RA_VERSION_MINOR", b"0") or b"0"))
    except ValueError:
        version = (1, 0)
    return docs[1] if version >= (1, 1) else docs[0]


def report_uncaught(kind, value, tb) -> None:
    """sys.excepthook of an installed agent: what escapes Agent.main (an agent module that fails to
    import, a broken stub) reaches the cluster as one exit-reason line, its cause first; the
    traceback goes to HA_DEBUGLOG only. The exit status stays 1 (unknown state: never success)."""
    try:
        from ocf import environ
        from ocf.agent import describe

        env = environ()
        reason = describe(value).replace("\n", " ")
        debuglog = env.get("HA_DEBUGLOG")
        if debuglog:
            import traceback

            with open(debuglog, "a", encoding="utf-8") as f:
                f.write("".join(traceback.format_exception(kind, value, tb)))
        prefix = env.get("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
    except BaseException:  # noqa: BLE001 - even the framework may be what is broken
        reason, prefix = f"{kind.__name__} (internal error)", "ocf-exit-reason:"
    try:
        sys.stderr.write(f"{prefix}{reason}\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass


def use(path: str, *, answer_meta_data: bool = True) -> bool:
    """Put the bundle at path first on sys.meta_path and run the modules that importing its agent
    runs; False (nothing changed) if the bundle cannot be used. Either way, an exception that the
    stub does not catch is reported as an exit reason, never as a traceback (report_uncaught).
    answer_meta_data: answer `STUB meta-data` from the bundle's documents (an agent's stub); a heartbeat
    wrapper passes False (its meta-data is its agent's for OCF 1.0, whatever the environment says)."""
    sys.excepthook = report_uncaught
    try:
        with open(path, "rb") as f:
            fmt, tag, *rest = marshal.loads(f.read())
        if fmt != FORMAT or tag != magic():
            return False
        preload, modules, documents = rest
    except (OSError, ValueError, EOFError, TypeError):
        return False
    if answer_meta_data and len(sys.argv) == 2 and sys.argv[1] == "meta-data":
        doc = meta_data(documents, modules, sys.argv[0].rpartition("/")[2], posix.environ)
        if doc is not None:
            # Pacemaker asks for the meta-data before every start: answered without importing the
            # agent (about half an agent's start-up), exactly as the agent would render it.
            sys.stdout.write(doc)
            finish(0)
    finder = BundleFinder(path, modules)
    sys.meta_path.insert(0, finder)
    try:
        for name in preload:
            if not finder.preload(name):
                break  # a source changed: the rest is imported (from the bundle where still valid) as usual
    except Exception:  # noqa: BLE001 - the agent's own import raises it again, where the stub reports it
        pass
    return True


def finish(rc: int) -> None:
    """End the process with exit status rc, as sys.exit(rc) would, but without tearing down the
    interpreter.

    The teardown (clearing every module, a garbage collection, freeing every object) costs an
    agent about 1.4 ms here, a seventh of a whole monitor, and does nothing an agent needs: its
    files are closed where it writes them and its background work runs in child processes. What an
    exit must still do is done here: the atexit functions run and standard output and error are
    flushed. While another thread is alive the normal exit is taken, since that waits for it."""
    import atexit  # built in

    threading = sys.modules.get("threading")
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None or (threading is not None and threading.active_count() > 1):
        raise SystemExit(rc)
    run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # closed or gone: the exit status still counts
            pass
    posix._exit(rc)
