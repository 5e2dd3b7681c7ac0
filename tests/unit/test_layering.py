"""The floors of the tree (docs/framework.md): every import points down, and no module imports itself
back through others. Function-local imports count: they are arrows too."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Top to bottom; a package may import only itself and the packages below it.
FLOORS = ["ocfkit", "crm", "heartbeat_legacy", "agents", "ocf"]


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for top in FLOORS:
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: pathlib.Path, known: dict[str, pathlib.Path]) -> set[str]:
    """The modules of ours that name's code imports anywhere (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known] or [base]
        else:
            continue
        for imported in names:
            module = imported
            while module and module not in known:
                module = module.rpartition(".")[0]
            if module and module != name:
                found.add(module)
    return found


GRAPH = {name: _imports(name, path, _modules()) for name, path in _modules().items()}


def test_every_import_points_down_the_floors():
    up = [f"{a} -> {b}" for a, deps in GRAPH.items() for b in deps
          if FLOORS.index(b.partition(".")[0]) < FLOORS.index(a.partition(".")[0])]
    assert up == []


def test_no_module_imports_itself_back_through_others():
    # A module's own package __init__ is run before it by Python anyway; the arrow to it is no circle.
    def deps(name: str) -> set[str]:
        return {d for d in GRAPH[name] if not name.startswith(d + ".")}

    circles = []
    for start in GRAPH:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for d in deps(node):
                if d == start:
                    circles.append(" -> ".join([*path, d]))
                elif d not in seen:
                    seen.add(d)
                    stack.append((d, [*path, d]))
    assert circles == []
