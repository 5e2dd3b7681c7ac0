import pathlib

import pytest

from ocf.agent import Agent, action
from ocf.errors import OcfError, Rc
from ocf.params import Param, integer, string
from ocf.testing import FakeRunner
from tests.unit.framework_agents import Broken, Faulty, Sample

RSCTMP: list[str] = []


@pytest.fixture(autouse=True)
def _rsctmp(tmp_path):
    # Agents with reloadable parameters record them under HA_RSCTMP after a start: never in /run.
    RSCTMP[:] = [str(tmp_path / "rsctmp")]
    yield
    RSCTMP[:] = []


def env(**kw):
    e = {"OCF_RESOURCE_INSTANCE": "s1", "OCF_RESKEY_name_": "obj", "HA_RSCTMP": RSCTMP[0] if RSCTMP else None}
    e.update(kw)
    return {k: v for k, v in e.items() if v is not None}


def main(cls, action, environ, runner=None, capsys=None):
    runner = runner or FakeRunner()
    rc = cls.main(["agent", action], environ, runner)
    runner.assert_done()
    return rc


def test_start_runs_its_command_with_parsed_parameters():
    r = FakeRunner().expect(["tool", "start", "obj", "3"])
    assert main(Sample, "start", env(), r) == Rc.SUCCESS


def test_replaced_parameter_still_feeds_its_successor():
    r = FakeRunner().expect(["tool", "start", "obj", "7"])
    assert main(Sample, "start", env(OCF_RESKEY_old_count="7"), r) == Rc.SUCCESS


def test_start_of_a_misconfigured_resource_is_6_with_every_problem_named(capsys):
    rc = main(Sample, "start", env(OCF_RESKEY_count="99", OCF_RESKEY_mode="bogus", OCF_RESKEY_name_=None))
    assert rc == Rc.ERR_CONFIGURED
    err = capsys.readouterr().err
    reason = [ln for ln in err.splitlines() if ln.startswith("ocf-exit-reason:")]
    assert len(reason) == 1
    assert "count" in reason[0] and "mode" in reason[0] and "name_ is required" in reason[0]


def test_probe_of_a_misconfigured_resource_is_7():
    assert main(Sample, "monitor", env(OCF_RESKEY_count="0")) == Rc.NOT_RUNNING
    assert main(Sample, "monitor", env(OCF_RESKEY_count="0", OCF_RESKEY_CRM_meta_interval="0")) == Rc.NOT_RUNNING


def test_stop_of_a_misconfigured_resource_is_0():
    assert main(Sample, "stop", env(OCF_RESKEY_count="x")) == Rc.SUCCESS


def test_recurring_monitor_of_a_misconfigured_resource_is_1_never_6(capsys):
    rc = main(Sample, "monitor", env(OCF_RESKEY_count="x", OCF_RESKEY_CRM_meta_interval="10000"))
    assert rc == Rc.ERR_GENERIC
    assert "ocf-exit-reason:parameter count='x'" in capsys.readouterr().err


def reasons(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("ocf-exit-reason:")]


@pytest.mark.parametrize(("fault", "rc"), [("notinstalled", Rc.ERR_INSTALLED), ("args", Rc.ERR_ARGS),
                                           ("config", Rc.ERR_CONFIGURED)])
def test_an_environment_error_inside_a_stop_body_is_a_real_stop_failure(fault, rc, capsys):
    # Only the checks before the body prove that nothing can be running; the body may already have
    # found the resource active (issue 20: Filesystem without umount said stopped while mounted).
    assert main(Faulty, "stop", {"OCF_RESKEY_fault": fault}) == rc
    err = capsys.readouterr().err
    assert len(reasons(err)) == 1
    assert "may still be running" in err


def test_stop_when_the_tool_is_not_installed_fails_with_its_reason(capsys):
    assert main(Broken, "stop", {}) == Rc.ERR_INSTALLED
    assert reasons(capsys.readouterr().err) == ["ocf-exit-reason:tool missing"]


@pytest.mark.parametrize("fault", ["notinstalled", "args", "config"])
def test_an_environment_error_inside_a_probe_body_is_7(fault):
    assert main(Faulty, "monitor", {"OCF_RESKEY_fault": fault}) == Rc.NOT_RUNNING


def test_an_environment_error_inside_a_recurring_monitor_is_never_6():
    rec = {"OCF_RESKEY_CRM_meta_interval": "10000"}
    assert main(Faulty, "monitor", dict(rec, OCF_RESKEY_fault="config")) == Rc.ERR_GENERIC
    assert main(Faulty, "monitor", dict(rec, OCF_RESKEY_fault="notinstalled")) == Rc.ERR_INSTALLED


@pytest.mark.parametrize("where", [{"OCF_RESKEY_config_fault": "bug"}, {"OCF_RESKEY_config_fault": "oserror"},
                                   {"OCF_RESKEY_fragile": "boom"}])
def test_an_unexpected_exception_before_the_body_is_never_success_or_not_running(where, capsys):
    # A bug in check_config or a parameter parser, or a broken install on this node, proves neither that
    # the resource is stopped nor that it cannot have been started (it may have started before an
    # upgrade broke an import): rc 1 everywhere (4 for a refused permission), a probe never guesses and
    # a stop never claims success.
    rc = Rc.ERR_PERM if where.get("OCF_RESKEY_config_fault") == "oserror" else Rc.ERR_GENERIC
    assert main(Faulty, "stop", where) == rc
    assert main(Faulty, "monitor", where) == rc
    assert main(Faulty, "validate-all", dict(where, OCF_CHECK_LEVEL="0")) == rc
    assert main(Faulty, "start", where) == rc
    assert main(Faulty, "monitor", dict(where, OCF_RESKEY_CRM_meta_interval="10000")) == rc
    assert "Traceback" not in capsys.readouterr().err


def test_a_broken_install_seen_by_check_config_is_not_read_as_stopped(monkeypatch):
    # The iSCSI agents load their backend in check_config: an ImportError there (a partial upgrade) is
    # not "not configured", so the probe is 1 and the stop is 1, and Pacemaker recovers (fences).
    def broken(self):
        raise ImportError("cannot import name 'Backend' from 'agents.iscsi.tgt'")

    monkeypatch.setattr(Faulty, "check_config", broken)
    assert main(Faulty, "monitor", {}) == Rc.ERR_GENERIC
    assert main(Faulty, "stop", {}) == Rc.ERR_GENERIC


@pytest.mark.parametrize("fault", ["bug", "oserror"])
def test_an_unexpected_exception_inside_a_stop_or_probe_body_is_never_success_or_not_running(fault):
    # We do not know that it stopped, nor whether it runs: a probe never guesses.
    e = {"OCF_RESKEY_fault": fault}
    assert main(Faulty, "stop", e) == Rc.ERR_GENERIC
    assert main(Faulty, "monitor", e) == Rc.ERR_GENERIC
    assert main(Faulty, "monitor", dict(e, OCF_RESKEY_CRM_meta_interval="10000")) == Rc.ERR_GENERIC


def test_an_os_error_becomes_a_reason_naming_the_file_and_the_cause(capsys):
    # A plain OSError at the boundary is the cause and the file, never "internal error: FileNotFoundError";
    # a refused permission is OCF_ERR_PERM (4), any other OS error rc 1.
    assert main(Faulty, "start", {"OCF_RESKEY_fault": "oserror"}) == Rc.ERR_GENERIC
    assert reasons(capsys.readouterr().err) == [
        "ocf-exit-reason:cannot access /nonexistent-ocfkit-dir/state: No such file or directory"]
    assert main(Faulty, "start", {"OCF_RESKEY_config_fault": "oserror"}) == Rc.ERR_PERM
    assert reasons(capsys.readouterr().err) == [
        "ocf-exit-reason:cannot access /etc/ocfkit-test.conf: Permission denied"]


@pytest.mark.parametrize(("error", "rc", "reason"), [
    (FileNotFoundError(2, "No such file or directory", "/run/x.pid"), Rc.ERR_GENERIC,
     "cannot access /run/x.pid: No such file or directory"),
    (PermissionError(13, "Permission denied", "/etc/x.conf"), Rc.ERR_PERM,
     "cannot access /etc/x.conf: Permission denied"),
    (PermissionError(1, "Operation not permitted", "/sys/x", None, "/sys/y"), Rc.ERR_PERM,
     "cannot access /sys/x -> /sys/y: Operation not permitted"),
    (OSError(28, "No space left on device"), Rc.ERR_GENERIC, "No space left on device (OSError at "),
])
def test_a_plain_os_error_from_an_action_body_is_mapped_at_the_boundary(error, rc, reason, capsys):
    from ocf.agent import Agent, action

    class Raises(Agent):
        """Raises an OSError from start."""

        @action(timeout=10)
        def start(self):
            raise error

    assert Raises.main(["Raises", "start"], {}) == rc
    (line,) = reasons(capsys.readouterr().err)
    assert line.startswith("ocf-exit-reason:" + reason) and "internal error" not in line


def test_a_traceback_goes_only_to_the_debug_log(tmp_path, capsys):
    debuglog = tmp_path / "debug.log"
    # HA_debug without a log file would send debug lines to stderr: never the traceback.
    e = {"OCF_RESKEY_fault": "bug", "HA_debug": "1", "HA_DEBUGLOG": str(debuglog)}
    assert main(Faulty, "start", e) == Rc.ERR_GENERIC
    err = capsys.readouterr().err
    assert "Traceback" not in err and 'raise KeyError("bug")' not in err
    assert reasons(err) == [reasons(err)[0]] and reasons(err)[0].startswith("ocf-exit-reason:'bug' (internal error: ")
    text = debuglog.read_text()
    assert "Traceback" in text and 'raise KeyError("bug")' in text
    # The error-level lines (in the log file) carry the one-line reason, not the traceback.
    logfile = tmp_path / "ha.log"
    main(Faulty, "start", {"OCF_RESKEY_fault": "bug", "HA_LOGFILE": str(logfile)})
    assert "Traceback" not in logfile.read_text() and "ERROR: 'bug' (internal error" in logfile.read_text()


def test_meta_data_and_usage_fail_with_one_line_and_no_traceback(monkeypatch, capsys):
    from ocf import params

    monkeypatch.setattr(params._Integer, "hint", lambda self: 1 / 0)
    assert Sample.main(["agent", "meta-data"], env(HA_debug="1"), FakeRunner()) == Rc.ERR_GENERIC
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert reasons(err) and reasons(err)[0].startswith("ocf-exit-reason:division by zero (internal error: ")

    class Closed:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", Closed())
    assert Sample.main(["agent", "usage"], env(), FakeRunner()) == Rc.ERR_GENERIC
    err = capsys.readouterr().err
    assert "Traceback" not in err and reasons(err)[0].startswith("ocf-exit-reason:Broken pipe (BrokenPipeError at ")


def test_unknown_action_is_3_with_a_reason(capsys):
    assert main(Sample, "frobnicate", env()) == Rc.ERR_UNIMPLEMENTED
    assert "ocf-exit-reason:action 'frobnicate' is not implemented" in capsys.readouterr().err


def test_no_action_prints_usage_and_fails(capsys):
    assert Sample.main(["agent"], env(), FakeRunner()) == Rc.ERR_ARGS
    assert "usage: Sample {" in capsys.readouterr().err


def test_help_is_usage_and_success(capsys):
    assert Sample.main(["agent", "--help"], env(), FakeRunner()) == Rc.SUCCESS
    assert "start|stop|monitor" in capsys.readouterr().out


def test_a_bug_is_rc_1_with_one_reason_line_its_cause_first_and_no_traceback(capsys):
    assert main(Broken, "start", {}) == Rc.ERR_GENERIC
    err = capsys.readouterr().err
    [line] = reasons(err)
    assert line.startswith("ocf-exit-reason:'bug' (internal error: KeyError at framework_agents.py:")
    assert "Traceback" not in err


def test_failing_monitor_has_a_reason(capsys):
    assert main(Broken, "monitor", {"OCF_RESKEY_CRM_meta_interval": "10000"}) == Rc.ERR_GENERIC
    assert "ocf-exit-reason:status unknown" in capsys.readouterr().err


def test_exit_reason_prefix_comes_from_the_environment(capsys):
    main(Broken, "monitor", {"OCF_EXIT_REASON_PREFIX": "REASON>", "OCF_RESKEY_CRM_meta_interval": "1"})
    assert "REASON>status unknown" in capsys.readouterr().err


def test_failed_command_becomes_rc_1_with_its_stderr_in_the_reason(capsys):
    r = FakeRunner().expect(["tool", "start", "obj", "3"], stderr="no such object\n", rc=2)
    assert main(Sample, "start", env(), r) == Rc.ERR_GENERIC
    assert "ocf-exit-reason:tool start obj 3: exit 2: no such object" in capsys.readouterr().err


def test_secrets_never_reach_the_exit_reason_or_logs(capsys):
    r = FakeRunner().expect(["tool", "start", "obj", "3"], stderr="login failed for s3cr3t-pw\n", rc=1)
    assert main(Sample, "start", env(OCF_RESKEY_password="s3cr3t-pw"), r) == Rc.ERR_GENERIC
    err = capsys.readouterr().err
    assert "s3cr3t-pw" not in err
    assert "login failed for ***" in err


def test_validate_all_reports_unknown_parameters_and_every_bad_value(capsys):
    rc = main(Sample, "validate-all", env(OCF_RESKEY_count="0", OCF_RESKEY_colour="red", OCF_CHECK_LEVEL="0"))
    assert rc == Rc.ERR_CONFIGURED
    err = capsys.readouterr().err
    assert "count" in err and "unknown parameter colour" in err


def test_validate_all_level_0_does_not_look_at_the_environment():
    assert main(Sample, "validate-all", env(OCF_RESKEY_name_="missing", OCF_CHECK_LEVEL="0")) == Rc.SUCCESS


@pytest.mark.parametrize(("name", "rc"), [("missing", Rc.ERR_ARGS), ("noinstall", Rc.ERR_INSTALLED)])
def test_validate_all_level_10_checks_the_environment(name, rc):
    assert main(Sample, "validate-all", env(OCF_RESKEY_name_=name, OCF_CHECK_LEVEL="10")) == rc
    # Unset level: validate-all checks the environment too, like the shell agents.
    assert main(Sample, "validate-all", env(OCF_RESKEY_name_=name)) == rc


def test_check_level_falls_back_to_the_next_lower_advertised_depth():
    a = Sample(env(OCF_CHECK_LEVEL="15"), FakeRunner())
    a.action = "monitor"
    assert a.check_level == 0
    a = Sample(env(OCF_CHECK_LEVEL="25"), FakeRunner())
    a.action = "monitor"
    assert a.check_level == 20
    a = Sample(env(OCF_RESKEY_OCF_CHECK_LEVEL="20"), FakeRunner())
    a.action = "monitor"
    assert a.check_level == 20


def test_commands_get_the_time_left_before_the_deadline():
    seen = []

    def runner(argv, *, ok, timeout, input=None):  # noqa: A002
        seen.append(timeout)
        from ocf.exec import Result

        return Result(list(argv), 0, "", "")

    Sample.main(["a", "start"], env(OCF_RESKEY_CRM_meta_timeout="10000"), runner)
    Sample.main(["a", "stop"], env(), runner)
    assert 8 < seen[0] <= 9.0  # 10 s less a 1 s margin
    assert 26 < seen[1] <= 27.0  # the declared 30 s less 3 s


def test_notify_failures_are_reported_but_do_not_hide(capsys):
    assert main(Broken, "notify", {}) == Rc.ERR_GENERIC
    assert "notify broke" in capsys.readouterr().err


def test_fake_runner_reports_unexpected_commands():
    r = FakeRunner().expect(["tool", "start", "other", "3"])
    assert Sample.main(["a", "start"], env(), r) == Rc.ERR_GENERIC
    with pytest.raises(AssertionError, match="expected"):
        r.assert_done()


def test_fake_runner_reports_commands_that_never_ran():
    r = FakeRunner().expect(["tool", "start", "obj", "3"]).expect(["tool", "extra"])
    Sample.main(["a", "start"], env(), r)
    with pytest.raises(AssertionError, match="never ran"):
        r.assert_done()


def test_cross_parameter_rules_apply_to_every_action_with_the_context_rules(capsys):
    bad = env(OCF_RESKEY_count="7", OCF_RESKEY_mode="fast")
    assert main(Sample, "start", bad) == Rc.ERR_CONFIGURED
    assert "count 7 cannot be fast" in capsys.readouterr().err
    assert main(Sample, "stop", bad) == Rc.SUCCESS
    assert main(Sample, "monitor", bad) == Rc.NOT_RUNNING
    assert main(Sample, "validate-all", dict(bad, OCF_CHECK_LEVEL="0")) == Rc.ERR_CONFIGURED


def test_fake_runner_effects_follow_only_successful_commands():
    from ocf.errors import CommandError

    seen = []
    r = FakeRunner().expect(["tool", "add"], effect=lambda: seen.append("added"))
    r.expect(["tool", "del"], rc=1, effect=lambda: seen.append("deleted"))
    r(["tool", "add"], timeout=5)
    with pytest.raises(CommandError):
        r(["tool", "del"], timeout=5)
    r.assert_done()
    assert seen == ["added"]


def test_dummy_stop_is_not_failed_by_its_environment_dump(tmp_path, capsys):
    from agents.dummy import Dummy

    state = tmp_path / "d.state"
    state.write_text("")
    e = {"OCF_RESOURCE_INSTANCE": "d", "OCF_RESKEY_state": str(state), "HA_RSCTMP": str(tmp_path),
         "OCF_RESKEY_envfile": str(tmp_path / "missing-dir" / "env")}
    assert main(Dummy, "stop", e) == Rc.SUCCESS
    assert not state.exists()
    assert "cannot write the environment to" in capsys.readouterr().err


SECRET = "Zq9'X v\"K\\w7"  # quotes, a space and a backslash: quoting and repr() change it


def test_trace_file_is_created_0600_in_a_0700_directory_whatever_the_umask(tmp_path):
    import os

    old = os.umask(0)
    try:
        e = {"OCF_RESOURCE_INSTANCE": "t1", "OCF_TRACE_RA": "1", "OCF_RESKEY_trace_dir": str(tmp_path / "tr")}
        assert main(Faulty, "monitor", e) == Rc.SUCCESS
    finally:
        os.umask(old)
    d = tmp_path / "tr" / "Faulty"
    [trace] = list(d.iterdir())
    assert trace.name.startswith("t1.monitor.")
    assert trace.stat().st_mode & 0o777 == 0o600
    assert d.stat().st_mode & 0o777 == 0o700 and (tmp_path / "tr").stat().st_mode & 0o777 == 0o700


def test_an_existing_trace_file_of_ours_is_made_0600(tmp_path):
    trace = tmp_path / "trace"
    trace.write_text("")
    trace.chmod(0o644)
    main(Faulty, "monitor", {"OCF_TRACE_RA": "1", "OCF_TRACE_FILE": str(trace)})
    assert trace.stat().st_mode & 0o777 == 0o600


def test_trace_masks_a_secret_in_the_environment_argv_output_and_log_lines(tmp_path, capsys):
    trace = tmp_path / "trace"
    r = FakeRunner().expect(["tool", "login", "--password", SECRET], stdout=f"welcome {SECRET}\n",
                            stderr=f"warning: {SECRET} is weak\n")
    e = {"OCF_RESKEY_secret": SECRET, "OCF_TRACE_RA": "1", "OCF_TRACE_FILE": str(trace)}
    assert main(Faulty, "start", e, r) == Rc.SUCCESS
    r = FakeRunner().expect(["tool", "login", "--password", SECRET], stderr=f"{SECRET} rejected\n", rc=3)
    assert main(Faulty, "stop", e, r) == Rc.ERR_GENERIC
    text = trace.read_text()
    for piece in ("Zq9", "w7"):
        assert piece not in text, text
        assert piece not in capsys.readouterr().err
    assert "+ env OCF_RESKEY_secret=***" in text
    assert "+ tool login --password '***'" in text or "+ tool login --password ***" in text
    assert "stdout='welcome ***\\n'" in text and "stderr='warning: *** is weak\\n'" in text
    assert "logging in with ***" in text
    assert "  failed: tool login --password '***': exit 3: *** rejected" in text


@pytest.mark.parametrize("action", ["start", "stop"])
def test_a_trace_file_that_cannot_be_written_never_changes_the_result(action):
    # /dev/full: every write fails with ENOSPC, as on a full /var.
    r = FakeRunner().expect(["tool", action, "obj", *(["3"] if action == "start" else [])])
    assert main(Sample, action, env(OCF_TRACE_RA="1", OCF_TRACE_FILE="/dev/full"), r) == Rc.SUCCESS


def test_an_exception_escaping_an_installed_stub_is_one_reason_line(tmp_path, monkeypatch, capsys):
    # An agent module that fails to import (a Param shadowing Agent.run is now a TypeError) never
    # shows the cluster a traceback: ocf.bundle.use() installs this hook first.
    from ocf.bundle import report_uncaught

    debuglog = tmp_path / "debug.log"
    monkeypatch.setenv("HA_DEBUGLOG", str(debuglog))
    try:
        raise TypeError("Bad.run shadows the framework's Agent.run")
    except TypeError as e:
        report_uncaught(type(e), e, e.__traceback__)
    err = capsys.readouterr().err
    assert err.startswith("ocf-exit-reason:Bad.run shadows the framework's Agent.run (internal error: TypeError")
    assert err.count("\n") == 1
    assert "Traceback" in debuglog.read_text()


# ----- OCF 1.1 reload-agent ---------------------------------------------------------------------


class Reloader(Agent):
    """An agent with reloadable and fixed parameters; its commands show what each action did."""

    obj = Param(string, required=True, shortdesc="Object (fixed)")
    level = Param(integer(0, 9), default="1", reloadable=True, shortdesc="Level (reloadable)")
    token = Param(string, secret=True, reloadable=True, shortdesc="Token (reloadable secret)")

    @action(timeout=20)
    def start(self):
        self.run(["tool", "start", self.obj, str(self.level)])

    @action(timeout=20)
    def stop(self):
        self.run(["tool", "stop", self.obj])

    @action(timeout=20, interval=10)
    def monitor(self):
        r = self.run(["tool", "status", self.obj], ok=(0, 3))
        return Rc.SUCCESS if r.returncode == 0 else Rc.NOT_RUNNING

    @action(name="reload-agent", timeout=20)
    def reload_agent(self):
        if self.changed("level"):
            self.run(["tool", "set-level", self.obj, f"{self.previous('level')}->{self.level}"])
        if self.changed("token"):
            self.run(["tool", "set-token", self.obj])


def renv(**kw):
    e = {"OCF_RESOURCE_INSTANCE": "r1", "HA_RSCTMP": RSCTMP[0], "OCF_RESKEY_obj": "o1"}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return {k: v for k, v in e.items() if v is not None}


def started(**kw):
    assert main(Reloader, "start", renv(**kw), FakeRunner().expect(["tool", "start", "o1", kw.get("level", "1")])) == 0


def test_reload_agent_applies_only_what_changed_on_a_running_instance():
    started(level="2")
    r = FakeRunner().expect(["tool", "status", "o1"]).expect(["tool", "set-level", "o1", "2->5"])
    assert main(Reloader, "reload-agent", renv(level="5"), r) == Rc.SUCCESS
    # The reload is recorded: the same values again change nothing.
    assert main(Reloader, "reload-agent", renv(level="5"), FakeRunner().expect(["tool", "status", "o1"])) == 0


def test_reload_agent_of_a_reloadable_parameter_going_back_to_its_default_sees_the_change():
    started(level="4")
    r = FakeRunner().expect(["tool", "status", "o1"]).expect(["tool", "set-level", "o1", "4->1"])
    assert main(Reloader, "reload-agent", renv(), r) == Rc.SUCCESS


def test_reload_agent_of_an_instance_that_is_not_running_fails_without_applying(capsys):
    started()
    r = FakeRunner().expect(["tool", "status", "o1"], rc=3)
    assert main(Reloader, "reload-agent", renv(level="5"), r) == Rc.ERR_GENERIC
    assert reasons(capsys.readouterr().err) == ["ocf-exit-reason:r1 is not running here: nothing to reload"]


def test_reload_agent_refuses_a_change_of_a_parameter_that_is_not_reloadable(capsys):
    started()
    e = renv(level="5")
    e["OCF_RESKEY_obj"] = "o2"
    r = FakeRunner().expect(["tool", "status", "o2"])
    assert main(Reloader, "reload-agent", e, r) == Rc.ERR_GENERIC
    assert reasons(capsys.readouterr().err) == [
        "ocf-exit-reason:parameter obj changed and is not reloadable: a restart is needed"]


def test_reload_agent_without_a_record_of_the_running_parameters_asks_for_a_restart(capsys):
    r = FakeRunner().expect(["tool", "status", "o1"])
    assert main(Reloader, "reload-agent", renv(level="5"), r) == Rc.ERR_GENERIC
    assert "are not recorded" in capsys.readouterr().err


def test_a_failed_reload_keeps_the_old_record_so_the_next_reload_applies_the_change_again():
    started(level="2")
    r = FakeRunner().expect(["tool", "status", "o1"]).expect(["tool", "set-level", "o1", "2->5"], rc=1)
    assert main(Reloader, "reload-agent", renv(level="5"), r) == Rc.ERR_GENERIC
    r = FakeRunner().expect(["tool", "status", "o1"]).expect(["tool", "set-level", "o1", "2->5"])
    assert main(Reloader, "reload-agent", renv(level="5"), r) == Rc.SUCCESS


def test_an_invalid_reloadable_value_is_a_configuration_error_before_anything_runs():
    started()
    assert main(Reloader, "reload-agent", renv(level="77")) == Rc.ERR_CONFIGURED


def test_a_secret_change_is_seen_but_the_secret_is_never_recorded():
    import os

    started(token="old-Secret-1")
    path = f"{RSCTMP[0]}/ocfkit-params/Reloader-r1"
    text = pathlib.Path(path).read_text(encoding="utf-8")
    assert "old-Secret-1" not in text and "token\tsha256:" in text
    assert os.stat(path).st_mode & 0o777 == 0o600
    same = renv(token="old-Secret-1")
    assert main(Reloader, "reload-agent", same, FakeRunner().expect(["tool", "status", "o1"])) == Rc.SUCCESS
    r = FakeRunner().expect(["tool", "status", "o1"]).expect(["tool", "set-token", "o1"])
    assert main(Reloader, "reload-agent", renv(token="new-Secret-2"), r) == Rc.SUCCESS
    assert "new-Secret-2" not in pathlib.Path(path).read_text(encoding="utf-8")


def test_values_with_newlines_and_tabs_are_recorded_exactly():
    from ocf.reload import Record, encode

    rec = Record(encode({"obj": "a\tb\nc\\d", "level": None}, set()))
    assert rec.raw("obj", secret=False) == "a\tb\nc\\d" and rec.raw("level", secret=False) is None
    assert not rec.differs("obj", "a\tb\nc\\d", secret=False) and rec.differs("level", "3", secret=False)


def test_stop_forgets_the_record_and_a_failed_start_records_nothing(capsys):
    import os

    started()
    path = f"{RSCTMP[0]}/ocfkit-params/Reloader-r1"
    assert os.path.exists(path)
    assert main(Reloader, "stop", renv(), FakeRunner().expect(["tool", "stop", "o1"])) == 0
    assert not os.path.exists(path)
    assert main(Reloader, "start", renv(), FakeRunner().expect(["tool", "start", "o1", "1"], rc=1)) == 1
    assert not os.path.exists(path)


def test_changed_and_previous_belong_to_reload_agent():
    a = Reloader(renv(), FakeRunner())
    with pytest.raises(LookupError):
        a.changed("level")


def test_reloadable_parameters_need_a_reload_agent_action_and_the_other_way_round():
    with pytest.raises(TypeError, match="reloadable but the agent has no"):
        type("NoReload", (Agent,), {"x": Param(string, reloadable=True), "__module__": __name__})
    with pytest.raises(TypeError, match="needs parameters declared reloadable"):
        type("NoParams", (Agent,), {"x": Param(string), "__module__": __name__,
                                    "reload_agent": action(name="reload-agent", timeout=5)(lambda self: 0)})


def test_a_reload_body_that_cannot_apply_the_change_fails_with_its_reason(capsys):
    class Stubborn(Reloader):
        @action(name="reload-agent", timeout=20)
        def reload_agent(self):
            raise OcfError("level cannot change while clients are connected")

    assert main(Stubborn, "start", renv(), FakeRunner().expect(["tool", "start", "o1", "1"])) == 0
    assert main(Stubborn, "reload-agent", renv(level="3"), FakeRunner().expect(["tool", "status", "o1"])) == 1
    assert "level cannot change while clients are connected" in capsys.readouterr().err


def test_a_clone_instance_renumbered_by_pacemaker_still_finds_its_record():
    assert main(Reloader, "start", renv() | {"OCF_RESOURCE_INSTANCE": "r1:0"},
                FakeRunner().expect(["tool", "start", "o1", "1"])) == Rc.SUCCESS
    e = renv(level="2") | {"OCF_RESOURCE_INSTANCE": "r1:1"}
    r = FakeRunner().expect(["tool", "status", "o1"]).expect(["tool", "set-level", "o1", "1->2"])
    assert main(Reloader, "reload-agent", e, r) == Rc.SUCCESS
