"""Building start-up bundles (ocf.bundle): run by `ocfkit install`, never on an agent's path."""

from __future__ import annotations

import marshal
import posix

from ocf.bundle import FORMAT, magic


def _imports(node, package: str) -> list[str]:
    """The module names an import statement may load (a `from` import's names may be submodules)."""
    import ast

    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:  # relative: resolved against the importing module's package
        parts = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
    return [base] + [f"{base}.{a.name}" for a in node.names if a.name != "*"]


def plan(roots, packages) -> tuple[list[str], dict[str, str]]:
    """(preload, modules) for the bundle of roots: modules maps every module under the top-level
    packages that roots can import (lazy imports inside functions included) to its source;
    preload lists, in the order Python runs them, those that importing roots runs (the parent
    packages and the module-level imports, followed depth-first)."""
    import ast
    from importlib.util import find_spec

    origins: dict[str, str] = {}
    eager: dict[str, list[str]] = {}

    def scan(name: str) -> bool:
        if name in origins:
            return True
        if name.partition(".")[0] not in packages:
            return False
        try:
            spec = find_spec(name)
        except (ImportError, AttributeError, ValueError):  # `from module import function`
            return False
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return False
        origins[name] = spec.origin
        with open(spec.origin, "rb") as f:
            tree = ast.parse(f.read(), spec.origin)
        parent = name.rpartition(".")[0]
        package = name if spec.submodule_search_locations is not None else parent
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        eager[name] = [parent] if parent else []
        for stmt in top:
            eager[name] += _imports(stmt, package)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for dep in _imports(node, package):
                    scan(dep)
        if parent:
            scan(parent)
        return True

    preload: list[str] = []

    def visit(name: str) -> None:
        if name in preload or name not in origins or name in seen:
            return
        seen.add(name)
        for dep in eager[name]:
            visit(dep)
        preload.append(name)

    seen: set[str] = set()
    for root in roots:
        scan(root)
        visit(root)
    return preload, origins


def compile_module(origin: str):
    """The module's code, compiled as the import system would, except that `from __future__`
    statements become compiler flags (no runtime import of __future__; the semantics are the same)."""
    import __future__

    import ast

    with open(origin, "rb") as f:
        tree = ast.parse(f.read(), origin)
    flags = 0
    body = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                flags |= getattr(__future__, alias.name).compiler_flag
            continue
        body.append(node)
    tree.body = body
    return compile(tree, origin, "exec", flags=flags, dont_inherit=True)


def build(roots, packages, agents=None) -> bytes:
    """The bundle of roots (module names) and every module of packages they can import, with the
    meta-data documents (OCF 1.0 and 1.1) of agents ({OCF type: "module:Class"}, those of roots)."""
    preload, origins = plan(roots, packages)
    modules = {}
    for name, origin in sorted(origins.items()):
        st = posix.stat(origin)
        code = compile_module(origin)
        modules[name] = (origin, origin.endswith("/__init__.py"), st.st_mtime_ns, st.st_size,
                         code if name in preload else marshal.dumps(code))
    documents = {}
    if agents:
        from ocf import load
        from ocf.metadata import render

        for ocf_type, spec in sorted(agents.items()):
            cls = load(spec)
            documents[ocf_type] = tuple(render(cls, {"OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": minor})
                                        for minor in ("0", "1"))
    return marshal.dumps((FORMAT, magic(), preload, modules, documents))
