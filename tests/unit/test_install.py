"""ocfkit install/uninstall: who owns which file, and the Debian package's layout."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sys

import pytest

from ocf.bundle import FORMAT
from ocfkit.install import (
    InstallError,
    install,
    install_bundles,
    install_system,
    package_dir,
    uninstall,
)

PY = "/usr/bin/python3"
HB_IPADDR2 = "#!/bin/sh\n# heartbeat's own IPaddr2 wrapper\n"


def wrappers(root):
    d = root / "etc/ha.d/resource.d"
    return {p.name: p.read_text() for p in sorted(d.iterdir())} if d.exists() else {}


def test_a_second_provider_leaves_the_first_providers_wrappers_alone(tmp_path, capsys):
    install(destdir=str(tmp_path), provider="x", python=PY)
    of_x = wrappers(tmp_path)
    assert "ocf:x:Dummy" in of_x["Dummy"]
    install(destdir=str(tmp_path), provider="y", python=PY)
    assert wrappers(tmp_path) == of_x
    assert "keeping" in capsys.readouterr().err
    # y's uninstall removes y's agents and nothing of x's.
    uninstall(destdir=str(tmp_path), provider="y")
    assert wrappers(tmp_path) == of_x
    assert (tmp_path / "usr/lib/ocf/resource.d/x/Dummy").exists()
    uninstall(destdir=str(tmp_path), provider="x")
    assert wrappers(tmp_path) == {}


def test_a_wrapper_another_provider_took_over_is_neither_rewritten_nor_removed(tmp_path):
    # The state earlier versions left behind: x's manifest lists a wrapper that y has since rewritten.
    install(destdir=str(tmp_path), provider="x", python=PY)
    dummy = tmp_path / "etc/ha.d/resource.d/Dummy"
    taken = dummy.read_text().replace("ocf:x:", "ocf:y:")
    dummy.write_text(taken)
    install(destdir=str(tmp_path), provider="x", python=PY)
    assert dummy.read_text() == taken
    uninstall(destdir=str(tmp_path), provider="x")
    assert dummy.read_text() == taken


def test_heartbeats_own_wrapper_is_kept_and_force_puts_it_back_on_uninstall(tmp_path):
    d = tmp_path / "etc/ha.d/resource.d"
    d.mkdir(parents=True)
    (d / "IPaddr2").write_text(HB_IPADDR2)
    install(destdir=str(tmp_path), provider="x", python=PY)
    assert (d / "IPaddr2").read_text() == HB_IPADDR2
    install(destdir=str(tmp_path), provider="x", python=PY, force=True)
    assert "ocf:x:IPaddr2" in (d / "IPaddr2").read_text()
    install(destdir=str(tmp_path), provider="x", python=PY, force=True)  # again: the original stays saved
    uninstall(destdir=str(tmp_path), provider="x")
    assert (d / "IPaddr2").read_text() == HB_IPADDR2
    assert sorted(p.name for p in d.iterdir()) == ["IPaddr2"]
    assert not (tmp_path / "var/lib/ocfkit").exists()
    assert not (tmp_path / "usr/lib/ocf/resource.d/x").exists()


def test_an_edited_forced_wrapper_is_kept_and_so_is_the_original(tmp_path, capsys):
    d = tmp_path / "etc/ha.d/resource.d"
    d.mkdir(parents=True)
    (d / "IPaddr2").write_text(HB_IPADDR2)
    install(destdir=str(tmp_path), provider="x", python=PY, force=True)
    (d / "IPaddr2").write_text("#!/bin/sh\n# the admin's\n")
    uninstall(destdir=str(tmp_path), provider="x")
    assert (d / "IPaddr2").read_text() == "#!/bin/sh\n# the admin's\n"
    err = capsys.readouterr().err
    assert "changed since it was installed" in err and "its original stays in" in err
    assert (tmp_path / "var/lib/ocfkit/displaced/x/etc/ha.d/resource.d/IPaddr2").read_text() == HB_IPADDR2


def test_a_manifest_of_the_first_form_is_read(tmp_path):
    install(destdir=str(tmp_path), provider="x", python=PY)
    manifest = tmp_path / "usr/lib/ocf/resource.d/x/.ocfkit-manifest"
    manifest.write_text(json.dumps(json.loads(manifest.read_text())["files"]))
    uninstall(destdir=str(tmp_path), provider="x")
    assert wrappers(tmp_path) == {} and not (tmp_path / "usr/lib/ocf/resource.d/x").exists()


def test_the_manifest_holds_the_digest_of_every_file_written(tmp_path):
    written = install(destdir=str(tmp_path), provider="x", python=PY)
    data = json.loads((tmp_path / "usr/lib/ocf/resource.d/x/.ocfkit-manifest").read_text())
    assert sorted(str(tmp_path / r) for r in data["files"]) == sorted(written)
    for rel, digest in data["files"].items():
        assert hashlib.sha256((tmp_path / rel).read_bytes()).hexdigest() == digest


def test_the_package_layout_runs_the_unversioned_system_python(tmp_path):
    install_system(destdir=str(tmp_path), provider="ocfkit")
    stub = (tmp_path / "usr/lib/ocf/resource.d/ocfkit/Dummy").read_text()
    assert stub.startswith("#!/usr/bin/python3 -IS\n")
    assert "sys.path.append('/usr/lib/python3/dist-packages')" in stub and "insert" not in stub
    assert "ocf.bundle.use('/var/cache/ocfkit/dummy.bundle')" in stub
    # heartbeat's own wrappers (a conffile of the heartbeat package) are never touched: ours are named apart.
    names = set(wrappers(tmp_path))
    assert {"ocfkit-IPaddr2", "ocfkit-Filesystem", "ocfkit-portblock", "ocfkit-Dummy"} <= names
    assert all(n.startswith("ocfkit-") for n in names)
    w = wrappers(tmp_path)["ocfkit-IPaddr2"]
    assert w.startswith("#!/usr/bin/python3 -IS\n") and "main('IPaddr2', sys.argv[1:])" in w
    assert "ocf.bundle.use('/var/cache/ocfkit/ipaddr2.bundle', answer_meta_data=False)" in w
    assert not (tmp_path / "usr/lib/ocf/lib").exists()  # bundles are built on the machine
    assert not (tmp_path / "usr/lib/ocf/resource.d/ocfkit/.ocfkit-manifest").exists()  # dpkg owns the files
    assert os.stat(tmp_path / "usr/lib/ocf/resource.d/ocfkit/Dummy").st_mode & 0o777 == 0o755


def test_the_package_layout_is_never_written_into_the_root(tmp_path):
    with pytest.raises(InstallError, match="--destdir"):
        install_system(destdir="/")


def test_bundles_are_rebuilt_in_the_cache_and_stale_ones_removed(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "renamed.bundle").write_bytes(marshal.dumps((FORMAT, b"old", [], {})))
    (cache / "notes.txt").write_text("not ours")
    written = install_bundles(directory=str(cache), python=sys.executable, pkgdir=package_dir())
    assert str(cache / "dummy.bundle") in written
    assert not (cache / "renamed.bundle").exists() and (cache / "notes.txt").exists()
    fmt, magic, preload, _modules, _documents = marshal.loads((cache / "dummy.bundle").read_bytes())
    from ocf.bundle import magic as running_magic

    assert fmt == FORMAT and magic == running_magic() and preload[-1] == "agents.dummy"


def test_a_wrapper_left_without_ocfkit_says_so_in_one_line(tmp_path, capsys):
    install_system(destdir=str(tmp_path))
    text = (tmp_path / "etc/ha.d/resource.d/ocfkit-Dummy").read_text()
    code = compile(text.replace("'/usr/lib/python3/dist-packages'", repr(str(tmp_path / "nothing"))), "w", "exec")
    import importlib.machinery as m

    saved_path, saved_mods, saved_meta = list(sys.path), dict(sys.modules), list(sys.meta_path)
    saved_hook = sys.excepthook  # the wrapper's ocf.bundle.use sets it
    sys.path[:] = [str(tmp_path / "nothing")]
    sys.meta_path[:] = [m.BuiltinImporter, m.FrozenImporter, m.PathFinder]  # no editable-install finder
    for name in [n for n in sys.modules if n.split(".")[0] == "heartbeat_legacy"]:
        del sys.modules[name]
    try:
        with pytest.raises(SystemExit) as e:
            exec(code, {"__name__": "__main__"})  # noqa: S102
    finally:
        sys.path[:], sys.meta_path[:], sys.excepthook = saved_path, saved_meta, saved_hook
        sys.modules.clear()
        sys.modules.update(saved_mods)
    assert e.value.code == 5
    assert capsys.readouterr().err == "ocfkit-Dummy: ocfkit is not installed (this wrapper was left behind)\n"


def test_a_wrapper_starts_from_its_agents_bundle_as_the_agents_stub_does(tmp_path):
    install(destdir=str(tmp_path), provider="x", python=PY)
    for name, module in (("Dummy", "dummy"), ("IPaddr", "ipaddr2"), ("iscsitarget", "daemon"),
                         ("portblock", "portblock")):
        text = (tmp_path / "etc/ha.d/resource.d" / name).read_text()
        assert text.startswith("#!/usr/bin/python3 -IS\n")
        use = text.index(f"    ocf.bundle.use('/usr/lib/ocf/lib/x/{module}.bundle', answer_meta_data=False)\n")
        assert use < text.index("from heartbeat_legacy.resource_d import main")  # the agent's modules first
        assert (tmp_path / f"usr/lib/ocf/lib/x/{module}.bundle").exists()
        assert text.endswith(f"ocf.bundle.finish(main({name!r}, sys.argv[1:]))\n")  # no interpreter teardown


def test_the_command_line_builds_the_package_layout_and_refuses_mixed_options(tmp_path, capsys):
    from ocfkit import cli

    assert cli.main(["install", "--system", "--destdir", str(tmp_path)]) == 0
    assert (tmp_path / "usr/lib/ocf/resource.d/ocfkit/IPaddr2").exists()
    assert (tmp_path / "etc/ha.d/resource.d/ocfkit-IPaddr2").exists()
    capsys.readouterr()
    assert cli.main(["install", "--bundles-only"]) == 2
    assert cli.main(["install", "--system", "--force", "--destdir", str(tmp_path)]) == 2
    assert cli.main(["install", "--system"]) == 1  # never into / (dpkg owns those paths)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith("ocfkit: error: ") for line in err)
