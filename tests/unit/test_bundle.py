"""Start-up bundles (ocf.bundle, ocf.freeze): built from a package made in tmp_path, used in-process."""

import itertools
import marshal
import sys

import pytest

from ocf import bundle
from ocf.freeze import build, plan

_names = itertools.count()

# Each module records that it ran, so the order of execution can be compared with a plain import.
MODULES = {
    "__init__.py": "",
    "trail.py": "RAN = []\n",
    "b.py": "from {p}.trail import RAN\nRAN.append(__name__)\nVALUE = 'b'\n",
    "sub/__init__.py": "from {p}.trail import RAN\nRAN.append(__name__)\n",
    "sub/c.py": "from {p}.trail import RAN\nRAN.append(__name__)\n",
    "lazy.py": "from {p}.trail import RAN\nRAN.append(__name__)\nVALUE = 42\n",
    "a.py": ("from __future__ import annotations\n\nfrom {p}.trail import RAN\nfrom . import b\n"
             "from {p}.sub import c\n\nRAN.append(__name__)\n\n\n"
             "def f(x: int | None) -> int:\n    from {p} import lazy\n\n    return lazy.VALUE\n"),
}


@pytest.fixture
def pkg(tmp_path):
    """A fresh package (unique name) on sys.path; imports, finders and path restored afterwards."""
    name = f"bndl{next(_names)}"
    for rel, text in MODULES.items():
        f = tmp_path / name / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text.format(p=name))
    saved_path, saved_meta = list(sys.path), list(sys.meta_path)
    sys.path.insert(0, str(tmp_path))
    yield name, tmp_path / name
    sys.path[:], sys.meta_path[:] = saved_path, saved_meta
    for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[m]


def _forget(name: str) -> None:
    """Unload the package (building imports its packages to find their submodules)."""
    for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[m]


def _write_bundle(tmp_path, name: str, root: str = "a"):
    path = tmp_path / f"{root}.bundle"
    path.write_bytes(build([f"{name}.{root}"], (name,)))
    _forget(name)
    return str(path)


def _from_bundle(module) -> bool:
    return isinstance(getattr(module, "__loader__", None), bundle.BundleFinder)


def test_plan_preloads_module_level_imports_in_the_order_python_runs_them(pkg):
    name, _ = pkg
    preload, modules = plan([f"{name}.a"], (name,))
    _forget(name)
    __import__(f"{name}.a")
    assert set(preload) == {m for m in sys.modules if m.startswith(name)}
    # RAN lists the modules in the order their code finished, which is the order preload runs them.
    ran = sys.modules[f"{name}.trail"].RAN
    assert [m for m in preload if m in ran] == ran == [f"{name}.b", f"{name}.sub", f"{name}.sub.c", f"{name}.a"]
    assert preload[:2] == [name, f"{name}.trail"]
    assert f"{name}.lazy" in modules and f"{name}.lazy" not in preload  # imported inside a function


def test_bundle_runs_the_modules_in_the_same_order_as_a_plain_import(pkg, tmp_path):
    name, _ = pkg
    path = _write_bundle(tmp_path, name)
    plain = __import__(f"{name}.trail", fromlist=["RAN"])
    __import__(f"{name}.a")
    order = list(plain.RAN)
    _forget(name)
    assert bundle.use(path)
    trail = sys.modules[f"{name}.trail"]
    assert order == trail.RAN and _from_bundle(trail)


def test_bundle_serves_the_agent_and_its_lazy_imports_from_one_file(pkg, tmp_path):
    name, src = pkg
    path = _write_bundle(tmp_path, name)
    assert bundle.use(path)
    assert isinstance(sys.meta_path[0], bundle.BundleFinder)
    a = __import__(f"{name}.a", fromlist=["f"])
    assert _from_bundle(a) and a.__file__ == str(src / "a.py")
    assert sys.modules[f"{name}.sub"].__path__ == [str(src / "sub")]
    assert a.f(None) == 42
    assert _from_bundle(sys.modules[f"{name}.lazy"])
    # The __future__ import became a compiler flag: annotations stay strings, no name bound.
    assert a.f.__annotations__ == {"x": "int | None", "return": "int"}
    assert "annotations" not in vars(a)


def test_a_changed_source_is_read_from_disk_and_the_rest_from_the_bundle(pkg, tmp_path):
    name, src = pkg
    path = _write_bundle(tmp_path, name)
    (src / "b.py").write_text((src / "b.py").read_text().replace("'b'", "'edited'"))
    assert bundle.use(path)
    a = __import__(f"{name}.a")
    b = sys.modules[f"{name}.b"]
    assert b.VALUE == "edited" and not _from_bundle(b)
    assert _from_bundle(sys.modules[f"{name}.a"]) and _from_bundle(sys.modules[f"{name}.sub.c"])
    assert a is sys.modules[name]


def test_a_removed_source_is_not_served_from_the_bundle(pkg, tmp_path):
    name, src = pkg
    path = _write_bundle(tmp_path, name)
    (src / "lazy.py").unlink()
    assert bundle.use(path)
    a = __import__(f"{name}.a", fromlist=["f"])
    with pytest.raises(ImportError):  # as without a bundle
        a.f(None)


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "other python", "other format"])
def test_an_unusable_bundle_changes_nothing(pkg, tmp_path, damage):
    name, _ = pkg
    path = _write_bundle(tmp_path, name)
    with open(path, "rb") as f:
        data = f.read()
    fmt, magic, preload, modules, documents = marshal.loads(data)
    broken = {"missing": None, "garbage": b"\x00not a bundle", "truncated": data[:len(data) // 2],
              "other python": marshal.dumps((fmt, b"\x00\x00\r\n", preload, modules, documents)),
              "other format": marshal.dumps(("ocfkit-bundle-0", magic, preload, modules, documents))}[damage]
    if broken is None:
        path = str(tmp_path / "nothing.bundle")
    else:
        with open(path, "wb") as f:
            f.write(broken)
    meta = list(sys.meta_path)
    assert bundle.use(path) is False
    assert sys.meta_path == meta and not any(m.startswith(name) for m in sys.modules)


def test_a_module_failing_while_preloaded_is_not_left_half_imported(pkg, tmp_path):
    name, src = pkg
    (src / "bad.py").write_text(f"import {name}.b\nraise RuntimeError('broken at import')\n")
    (src / "root.py").write_text(f"from {name} import bad\n")
    path = _write_bundle(tmp_path, name, root="root")
    assert bundle.use(path)
    assert f"{name}.bad" not in sys.modules and f"{name}.root" not in sys.modules
    with pytest.raises(RuntimeError, match="broken at import"):
        __import__(f"{name}.root")


def test_only_the_named_packages_go_into_the_bundle(pkg, tmp_path):
    name, src = pkg
    (src / "uses_stdlib.py").write_text(f"import json\nimport {name}.b\n")
    preload, modules = plan([f"{name}.uses_stdlib"], (name,))
    assert set(modules) == {name, f"{name}.b", f"{name}.trail", f"{name}.uses_stdlib"}
    assert "json" not in preload


# ----- the real agents ---------------------------------------------------------------------------

@pytest.mark.parametrize("module", sorted({spec.split(":")[0] for spec in __import__("agents").AGENTS.values()}))
def test_every_agent_bundle_preloads_the_framework_and_not_the_lazy_parts(module):
    preload, modules = plan([module], ("ocf", "agents"))
    assert preload[-1] == module and "ocf.agent" in preload
    # Logging, meta-data and (for agents that spawn nothing on their monitor) the command seam are
    # imported where used, never by importing the agent.
    assert not {"ocf.log", "ocf.metadata", "ocf.freeze", "ocf.bundle"} & set(preload)
    assert {"ocf.log", "ocf.metadata"} <= set(modules)
    if module in ("agents.dummy", "agents.portblock", "agents.ipaddr2"):
        assert "ocf.exec" not in preload


# ----- meta-data from the bundle ------------------------------------------------------------------

def _dummy_bundle():
    _fmt, _tag, _preload, modules, documents = marshal.loads(
        build(["agents.dummy"], ("ocf", "agents"), {"Dummy": "agents.dummy:Dummy"}))
    return modules, documents


@pytest.mark.parametrize(("major", "minor"), [(None, None), ("1", "0"), ("1", "1"), ("2", "0"), ("1", ""),
                                              ("", "1"), ("x", "1"), ("1", "y"), ("0", "9")])
def test_a_bundle_answers_meta_data_exactly_as_the_agent_renders_it(major, minor):
    from agents.dummy import Dummy
    from ocf.metadata import render

    modules, documents = _dummy_bundle()
    env = {k: v for k, v in (("OCF_RA_VERSION_MAJOR", major), ("OCF_RA_VERSION_MINOR", minor)) if v is not None}
    raw = {k.encode(): v.encode() for k, v in env.items()}
    assert bundle.meta_data(documents, modules, "Dummy", raw) == render(Dummy, env)


def test_a_bundle_leaves_meta_data_to_the_agent_when_a_source_changed_or_the_name_is_not_its_own():
    modules, documents = _dummy_bundle()
    assert bundle.meta_data(documents, modules, "IPaddr2", {}) is None
    name, (origin, pkg_, mtime_ns, size, code) = next(iter(modules.items()))
    modules[name] = (origin, pkg_, mtime_ns + 1, size, code)
    assert bundle.meta_data(documents, modules, "Dummy", {}) is None
    modules[name] = (origin + ".gone", pkg_, mtime_ns, size, code)
    assert bundle.meta_data(documents, modules, "Dummy", {}) is None


def test_an_older_bundle_format_is_not_used(tmp_path):
    path = tmp_path / "old.bundle"
    path.write_bytes(marshal.dumps(("ocfkit-bundle-1", bundle.magic(), [], {})))
    before = list(sys.meta_path)
    assert bundle.use(str(path)) is False
    assert sys.meta_path == before
