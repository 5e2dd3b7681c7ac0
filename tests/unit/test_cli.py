import marshal
import os
import stat

import pytest

from ocf.bundle import FORMAT
from ocfkit import cli
from ocfkit.install import install, uninstall


def test_run_env_sets_up_ocf_variables_and_drops_stray_reskeys():
    env = cli.run_env("Dummy", ["state=/tmp/x", "fake=a=b"], instance=None, provider="ocfkit", timeout=5,
                      interval=None, check_level=10, base={"OCF_RESKEY_leftover": "1", "PATH": "/bin"})
    assert env["OCF_RESKEY_state"] == "/tmp/x" and env["OCF_RESKEY_fake"] == "a=b"
    assert "OCF_RESKEY_leftover" not in env
    assert env["OCF_RESOURCE_INSTANCE"] == "dummy" and env["OCF_RESKEY_CRM_meta_timeout"] == "5000"
    assert env["OCF_CHECK_LEVEL"] == "10"


@pytest.mark.parametrize("bad", ["novalue", "=x", "a b=c"])
def test_run_rejects_malformed_parameters(bad):
    with pytest.raises(cli.UsageError):
        cli.run_env("Dummy", [bad], instance=None, provider="ocfkit", timeout=None, interval=None, check_level=None)


def test_unknown_agent_is_one_line_and_status_2(capsys):
    assert cli.main(["meta-data", "NoSuchAgent"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown agent" in err


def test_meta_data_command_prints_xml(capsys):
    assert cli.main(["meta-data", "dummy", "--ocf-1.1"]) == 0
    assert "<version>1.1</version>" in capsys.readouterr().out


def test_install_then_uninstall_leaves_nothing(tmp_path):
    written = install(destdir=str(tmp_path), provider="t", python="/usr/bin/python3")
    agent = tmp_path / "usr/lib/ocf/resource.d/t/Dummy"
    assert str(agent) in written
    assert os.stat(agent).st_mode & stat.S_IXOTH
    text = agent.read_text()
    assert text.startswith("#!/usr/bin/python3 -IS\n") and "from agents.dummy import Dummy" in text
    # The start-up bundle the stub names is written (readable by all: agents may run as nobody).
    assert "ocf.bundle.use('/usr/lib/ocf/lib/t/dummy.bundle')" in text
    data = (tmp_path / "usr/lib/ocf/lib/t/dummy.bundle").read_bytes()
    fmt, _magic, preload, modules, documents = marshal.loads(data)
    assert fmt == FORMAT and preload[-1] == "agents.dummy" and "ocf.log" in modules and "Dummy" in documents
    assert os.stat(tmp_path / "usr/lib/ocf/lib/t/dummy.bundle").st_mode & 0o777 == 0o644
    uninstall(destdir=str(tmp_path), provider="t")
    assert not (tmp_path / "usr/lib/ocf/resource.d/t").exists()
    assert not (tmp_path / "usr/lib/ocf/lib/t").exists()


def test_install_refuses_to_overwrite_a_foreign_bundle_but_replaces_its_own(tmp_path):
    install(destdir=str(tmp_path), provider="t", python="/usr/bin/python3")
    install(destdir=str(tmp_path), provider="t", python="/usr/bin/python3")  # again: its own files
    uninstall(destdir=str(tmp_path), provider="t")
    f = tmp_path / "usr/lib/ocf/lib/t/lvm.bundle"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"something else")
    with pytest.raises(Exception, match="not installed by ocfkit"):
        install(destdir=str(tmp_path), provider="t", python="/usr/bin/python3")


def test_install_refuses_to_overwrite_a_foreign_file(tmp_path):
    d = tmp_path / "usr/lib/ocf/resource.d/t"
    d.mkdir(parents=True)
    (d / "Dummy").write_text("#!/bin/sh\necho someone else's agent\n")
    with pytest.raises(Exception, match="not installed by ocfkit"):
        install(destdir=str(tmp_path), provider="t", python="/usr/bin/python3")


def test_uninstall_keeps_files_changed_since_install(tmp_path, capsys):
    install(destdir=str(tmp_path), provider="t", python="/usr/bin/python3")
    agent = tmp_path / "usr/lib/ocf/resource.d/t/Dummy"
    agent.write_text(agent.read_text() + "# local edit\n")
    uninstall(destdir=str(tmp_path), provider="t")
    assert agent.exists()
    assert "changed since it was installed" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["list", "--help"], ["run", "--help"], ["install", "--help"],
                                  ["uninstall", "--help"], ["meta-data", "--help"]])
def test_help_works_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 0
    assert "usage: ocfkit" in capsys.readouterr().out


def test_a_bad_command_line_is_an_error_not_a_traceback(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["frobnicate"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_run_rejects_a_misspelled_parameter_naming_the_close_match(capsys):
    # The agent would run with the default state file instead (issue 20); nothing is started.
    assert cli.main(["run", "Dummy", "start", "stat=/tmp/ocfkit-never"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Dummy has no parameter 'stat' (did you mean state?)" in err and "--force" in err


def test_run_lists_the_parameters_when_nothing_is_close(capsys):
    assert cli.main(["run", "Dummy", "monitor", "zzz=1"]) == 2
    assert "Dummy takes: " in capsys.readouterr().err


def test_run_accepts_declared_and_standard_parameters():
    from agents.dummy import Dummy

    assert cli.unknown_params(Dummy, ["state=/x", "trace_ra=1", "passwd=a=b"]) == []
    assert len(cli.unknown_params(Dummy, ["stat=/x", "fak=1"])) == 2
