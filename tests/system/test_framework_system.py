"""The framework against the real system: the command seam, installed agents, ocf-tester, crm_resource."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from agents import AGENTS
from ocf.errors import CommandTimeout, NotInstalledError
from ocf.exec import run
from tests.system.support import BUNDLE_PROBE, PROVIDER, agent_path, ocf_env, run_agent, sh

pytestmark = pytest.mark.system

SCHEMA_DTD_DIR = "/usr/share/resource-agents"
RNG_1_1 = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "schemas", "ra-api-1.1.rng")
FORBIDDEN = ("logging", "xml", "typing", "dataclasses", "inspect", "argparse", "enum", "re", "json", "subprocess",
             "psutil", "plumbum", "pyroute2")


def rng_1_1() -> str:
    for p in (os.environ.get("OCFKIT_RNG_1_1", ""), RNG_1_1, "/work/shared/schemas/ra-api-1.1.rng"):
        if p and os.path.exists(p):
            return os.path.abspath(p)
    pytest.skip("the OCF 1.1 schema (shared/schemas/ra-api-1.1.rng) is not beside the repository")


# ----- the command seam ------------------------------------------------------------------------

def test_seam_passes_stdin_and_captures_both_streams():
    r = run(["sh", "-c", "cat; echo oops >&2; exit 4"], ok=(4,), timeout=10, input="data")
    assert (r.returncode, r.stdout, r.stderr) == (4, "data", "oops\n")


def test_seam_kills_a_command_at_its_timeout():
    t = time.monotonic()
    with pytest.raises(CommandTimeout, match="timed out"):
        run(["sleep", "30"], timeout=0.5)
    assert time.monotonic() - t < 3


def test_seam_does_not_wait_for_a_daemon_that_inherited_its_pipes():
    t = time.monotonic()
    r = run(["sh", "-c", "sleep 5 & echo started"], timeout=10)
    assert r.stdout == "started\n" and time.monotonic() - t < 2


def test_seam_waits_for_the_exit_of_a_command_that_closed_its_pipes_early():
    # The pipes reach EOF long before the child can be reaped: its status must still be the real one.
    t = time.monotonic()
    r = run(["sh", "-c", "echo early; exec >&- 2>&-; sleep 0.3; exit 3"], ok=(3,), timeout=10)
    assert (r.returncode, r.stdout) == (3, "early\n") and 0.3 <= time.monotonic() - t < 3


def test_seam_reaps_a_quick_command_without_sleeping():
    # A command that exits at once is reaped when it exits, not at the next 5 ms poll of waitpid.
    run(["true"], timeout=5)
    times = []
    for _ in range(30):
        t = time.perf_counter()
        run(["true"], timeout=5)
        times.append(time.perf_counter() - t)
    bare = []
    for _ in range(30):
        t = time.perf_counter()
        subprocess.run(["true"], check=True)
        bare.append(time.perf_counter() - t)
    times.sort()
    bare.sort()
    # The slowest quarter: with a reaping sleep, about one run in six paid 5 ms more.
    assert times[-8] < bare[-8] + 0.004, (times, bare)


def test_seam_reports_a_missing_tool_as_not_installed():
    with pytest.raises(NotInstalledError) as e:
        run(["no-such-tool-ocfkit"], timeout=5)
    assert e.value.rc == 5


def test_children_get_the_c_locale_and_no_instance_parameters(monkeypatch):
    monkeypatch.setenv("OCF_RESKEY_passwd", "secret")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    env = dict(line.split("=", 1) for line in run(["env"], timeout=5).stdout.splitlines())
    assert env["LC_ALL"] == "C" and "OCF_RESKEY_passwd" not in env and env["LANG"] == "C"


# ----- import budget -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(AGENTS))
def test_importing_an_agent_loads_no_expensive_module(name):
    module = AGENTS[name].split(":")[0]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__import__("ocf").__file__)))
    code = ("import sys\nsys.path.insert(0, %r)\nbefore = set(sys.modules)\nimport %s\n"
            "print(' '.join(sorted(set(sys.modules) - before)))" % (root, module))
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = out.split()
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert not bad, f"importing {module} loaded {bad}"


# The agents whose monitor is measured against a shell agent that does almost nothing: their monitor
# path must not even load os (~1.5 ms of imports; the posix module is already there).
LEAN_MONITORS = {
    "Dummy": {},
    "portblock": {"protocol": "tcp", "portno": "3260", "action": "block", "ip": "10.99.0.1", "firewall": "nft"},
    "IPaddr2": {"ip": "10.99.0.150", "cidr_netmask": "24", "nic": "lo"},
}


@pytest.mark.parametrize("name", sorted(LEAN_MONITORS))
def test_monitor_of_a_lean_agent_does_not_load_os(name, tmp_path):
    module, cls = AGENTS[name].split(":")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__import__("ocf").__file__)))
    code = ("import sys\nsys.path.insert(0, %r)\nfrom %s import %s as A\n"
            "rc = A.main([%r, 'monitor'])\nprint(rc, 'os' in sys.modules)" % (root, module, cls, name))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP": str(tmp_path), "OCF_RESOURCE_INSTANCE": "lean",
           "OCF_ROOT": "/usr/lib/ocf", "OCF_RESKEY_CRM_meta_interval": "10000",
           **{f"OCF_RESKEY_{k}": v for k, v in LEAN_MONITORS[name].items()}}
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, env=env,
                         timeout=30)
    assert out.stdout.split() == ["7", "False"], out.stdout + out.stderr


def test_running_a_command_does_not_load_os():
    # The seam spawns through the posix module: an agent whose monitor runs one command (portblock
    # with iptables, LVM, the iSCSI agents) does not pay for os either.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__import__("ocf").__file__)))
    code = ("import sys\nsys.path.insert(0, %r)\nfrom ocf.exec import run, which\n"
            "r = run(['sh', '-c', 'echo out; echo err >&2; exit 3'], ok=(3,), timeout=5, input='x')\n"
            "print(r.returncode, r.stdout.strip(), r.stderr.strip(), bool(which('sh')), 'os' in sys.modules)" % root)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["3", "out", "err", "True", "False"], out.stdout + out.stderr


@pytest.fixture
def fresh_install():
    """Agents installed for a provider of their own (bundles built from the tree as it is now)."""
    from ocfkit.install import install, uninstall

    provider = f"ocfkit-bundle{os.getpid()}"
    install(provider=provider)
    yield provider
    uninstall(provider=provider)


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_installed_agents_run_their_modules_from_the_bundle(name, fresh_install):
    stub = agent_path(name, fresh_install)
    with open(stub) as f:
        python = f.readline()[2:].split()[0]
    out = subprocess.run([python, "-I", "-S", "-c", BUNDLE_PROBE, stub],
                         capture_output=True, text=True, timeout=30, check=True).stdout.split("\n")
    bundled, imported = out[0].split(), out[1].split()
    module = AGENTS[name].split(":")[0]
    assert module in bundled and "ocf.agent" in bundled and "ocf.params" in bundled
    # Only the package and the bundle's own loader come through the normal import system.
    assert set(imported) == {"ocf", "ocf.bundle"}
    r = run_agent(name, "meta-data", {"PATH": "/usr/bin:/bin"}, provider=fresh_install)
    assert r.returncode == 0 and "<resource-agent" in r.stdout


def test_bundles_are_built_by_the_interpreter_the_stubs_run(tmp_path):
    # A --python that is not this interpreter compiles the bundles itself (bytecode is per version).
    from ocfkit.install import build_bundles, package_dir

    wrapper = tmp_path / "python"
    wrapper.write_text(f"#!/bin/sh\necho ran >> {tmp_path}/ran\nexec {os.path.realpath(sys.executable)} \"$@\"\n")
    wrapper.chmod(0o755)
    got = build_bundles(str(wrapper), package_dir(), ["agents.dummy"])
    assert (tmp_path / "ran").exists()
    import marshal

    fmt, magic, preload, modules, documents = marshal.loads(got["agents.dummy"])
    ref = marshal.loads(build_bundles(sys.executable, package_dir(), ["agents.dummy"])["agents.dummy"])
    assert (fmt, magic, preload, sorted(modules), documents) == (ref[0], ref[1], ref[2], sorted(ref[3]), ref[4])


_FINISH = """
import atexit, sys, threading, time
sys.path.insert(0, sys.argv[1])
import ocf.bundle

class Noisy:
    def __del__(self):
        print("teardown ran")

keep = Noisy()  # a module global is only freed by the interpreter's teardown
atexit.register(lambda: print("atexit ran"))
sys.stdout.write("buffered, no newline")
sys.stderr.write("to stderr")
if sys.argv[2] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.3), print(" thread done"))).start()
ocf.bundle.finish(int(sys.argv[3]))
"""


@pytest.mark.parametrize("rc", [0, 1, 7])
def test_finish_flushes_runs_atexit_and_skips_the_teardown(rc):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__import__("ocf").__file__)))
    out = subprocess.run([sys.executable, "-I", "-S", "-c", _FINISH, root, "-", str(rc)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == rc
    assert out.stdout == "buffered, no newlineatexit ran\n" and out.stderr == "to stderr"


def test_finish_waits_for_a_running_thread_like_sys_exit():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__import__("ocf").__file__)))
    out = subprocess.run([sys.executable, "-I", "-S", "-c", _FINISH, root, "thread", "7"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 7 and "thread done" in out.stdout and "atexit ran" in out.stdout


def test_installed_agents_end_through_finish(fresh_install):
    for name in AGENTS:
        with open(agent_path(name, fresh_install)) as f:
            assert f.read().rstrip().endswith(f"ocf.bundle.finish({AGENTS[name].split(':')[1]}.main())")


def test_an_agent_that_fails_to_import_reports_one_reason_and_no_traceback():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__import__("ocf").__file__)))
    code = ("import sys\nsys.path.insert(0, %r)\nimport ocf.bundle\nocf.bundle.use('/nonexistent.bundle')\n"
            "from ocf.agent import Agent\nfrom ocf.params import Param\n"
            "class Bad(Agent):\n    run = Param()\n" % root)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("ocf-exit-reason:Bad.run: a parameter may not shadow the framework's 'run'")
    assert out.stderr.count("\n") == 1


def test_environment_without_os_reads_like_os_environ():
    # The hot path decodes posix.environ itself; os.environ (loaded afterwards) must agree, including on
    # bytes that are not UTF-8 (surrogateescape), and os must not have been loaded by the first read.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__import__("ocf").__file__)))
    code = ("import sys\nsys.path.insert(0, %r)\nfrom ocf.agent import environ\ne = dict(environ())\n"
            "loaded = 'os' in sys.modules\nimport os\nprint(loaded, e == dict(os.environ), "
            "e['OCFK_RAW'] == '\\udcffok')" % root)
    env = {b"PATH": b"/usr/bin:/bin", b"OCFK_RAW": b"\xffok", b"OCF_RESKEY_x": "ü".encode()}
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, env=env, timeout=30)
    assert out.stdout.split() == [b"False", b"True", b"True"], out.stdout + out.stderr


# ----- meta-data ---------------------------------------------------------------------------------

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

@pytest.mark.parametrize("name", sorted(AGENTS))
def test_meta_data_passes_all_three_schemas(name, tmp_path):
    path = agent_path(name)
    compat = subprocess.run([path, "meta-data"], capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin"}).stdout
    ocf11 = subprocess.run([path, "meta-data"], capture_output=True, text=True, check=True,
                           env={"PATH": "/usr/bin:/bin", "OCF_RA_VERSION_MAJOR": "1",
                                "OCF_RA_VERSION_MINOR": "1"}).stdout
    # ocf-tester's own check: DTD validation of stdin from the DTD's directory.
    r = subprocess.run(["xmllint", "--noout", "--valid", "-"], input=compat, cwd=SCHEMA_DTD_DIR,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for text, schema in ((compat, f"{SCHEMA_DTD_DIR}/metadata.rng"), (compat, rng_1_1()), (ocf11, rng_1_1())):
        f = tmp_path / "md.xml"
        f.write_text(text)
        r = subprocess.run(["xmllint", "--noout", "--relaxng", schema, str(f)], capture_output=True, text=True)
        assert r.returncode == 0, f"{schema}: {r.stderr}"


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_the_installed_agent_answers_meta_data_from_its_bundle_as_it_renders_it(name):
    # Pacemaker asks before every start: the stub answers from the bundle without importing the agent,
    # and the document is the one the agent renders (both OCF versions); an edited source is re-read.
    for version in ({}, {"OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1"}):
        env = dict(version, PATH="/usr/bin:/bin")
        fast = subprocess.run([agent_path(name), "meta-data"], capture_output=True, text=True, check=True,
                              env=env, timeout=30).stdout
        code = ("import sys\nsys.path.insert(0, sys.argv[1])\nimport os\nfrom agents import agent_class\n"
                "from ocf.metadata import render\nsys.stdout.write(render(agent_class(sys.argv[2]), os.environ))")
        slow = subprocess.run([sys.executable, "-I", "-c", code, _ROOT, name], capture_output=True, text=True,
                              check=True, env=env, timeout=30).stdout
        assert fast == slow
    with open(agent_path(name)) as f:
        python = f.readline()[2:].split()[0]
    r = subprocess.run([python, "-X", "importtime", "-I", "-S", agent_path(name), "meta-data"], capture_output=True,
                       text=True, check=True, env={"PATH": "/usr/bin:/bin"}, timeout=30)
    assert "<resource-agent" in r.stdout
    assert AGENTS[name].partition(":")[0] not in r.stderr  # the agent's module was never imported


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_meta_data_runs_as_nobody(name):
    r = subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", f"{agent_path(name)} meta-data"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "<resource-agent" in r.stdout


# ----- Dummy end to end ----------------------------------------------------------------------------

def test_ocf_tester_passes_on_the_installed_dummy(tmp_path):
    # HA_RSCTMP of our own: Dummy records its parameters there after a start (for reload-agent).
    r = subprocess.run(["ocf-tester", "-n", "t", "-o", f"state={tmp_path}/d.state", agent_path("Dummy")],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, HA_RSCTMP=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "passed all tests" in r.stdout
    # ocf-tester ends with migrate_from, which starts Dummy again: stop it.
    run_agent("Dummy", "stop", ocf_env("t", {"state": f"{tmp_path}/d.state"}, rsctmp=str(tmp_path)))
    assert not (tmp_path / "d.state").exists()


def test_dummy_lifecycle_and_the_state_file(tmp_path):
    env = ocf_env("d1", {}, rsctmp=str(tmp_path), interval_ms=10000)
    state = tmp_path / "Dummy-d1.state"
    assert run_agent("Dummy", "monitor", env).returncode == 7
    assert run_agent("Dummy", "start", env).returncode == 0 and state.exists()
    assert run_agent("Dummy", "start", env).returncode == 0
    assert run_agent("Dummy", "monitor", env).returncode == 0
    assert run_agent("Dummy", "stop", env).returncode == 0 and not state.exists()
    assert run_agent("Dummy", "stop", env).returncode == 0


def test_misconfigured_agent_probe_7_stop_0_validate_6_naming_every_parameter(tmp_path):
    params = {"state": "relative/path", "op_sleep": "soon"}
    probe = run_agent("Dummy", "monitor", ocf_env("bad", params, rsctmp=str(tmp_path), interval_ms=0))
    assert probe.returncode == 7
    assert run_agent("Dummy", "stop", ocf_env("bad", params, rsctmp=str(tmp_path))).returncode == 0
    v = run_agent("Dummy", "validate-all", ocf_env("bad", params, rsctmp=str(tmp_path)))
    assert v.returncode == 6
    reason = [ln for ln in v.stderr.splitlines() if ln.startswith("ocf-exit-reason:")]
    assert len(reason) == 1 and "state" in reason[0] and "op_sleep" in reason[0]
    mon = run_agent("Dummy", "monitor", ocf_env("bad", params, rsctmp=str(tmp_path), interval_ms=10000))
    assert mon.returncode == 1


@pytest.mark.parametrize("params", [{"state": "/\udcff"}, {"op_sleep": "\x01\x02"}, {"fake": "x" * 100000},
                                    {"state": "/nonexistent-dir/x/y"}])
def test_no_input_produces_a_traceback(tmp_path, params):
    env = ocf_env("fuzz", {}, rsctmp=str(tmp_path))
    env.update({"OCF_RESKEY_" + k: v.encode("utf-8", "surrogateescape").decode("latin-1") for k, v in params.items()})
    for action in ("start", "monitor", "stop", "validate-all", "meta-data", "reload-agent", "nonsense", ""):
        r = run_agent("Dummy", action, env)
        assert "Traceback" not in r.stderr, r.stderr
        assert r.returncode in (0, 1, 2, 3, 5, 6, 7)
        if r.returncode not in (0, 7):
            assert "ocf-exit-reason:" in r.stderr
    run_agent("Dummy", "stop", env)


def test_trace_ra_writes_commands_and_masks_secrets(tmp_path):
    trace = tmp_path / "trace.out"
    env = ocf_env("tr", {"passwd": "topsecret"}, rsctmp=str(tmp_path),
                  extra={"OCF_TRACE_RA": "1", "OCF_TRACE_FILE": str(trace)})
    assert run_agent("Dummy", "start", env).returncode == 0
    text = trace.read_text()
    assert "Dummy start" in text and "topsecret" not in text and "OCF_RESKEY_passwd=***" in text
    assert trace.stat().st_mode & 0o777 == 0o600
    run_agent("Dummy", "stop", env)


def test_trace_dir_and_file_of_the_installed_agent_are_private(tmp_path):
    env = ocf_env("tr2", {"passwd": "topsecret", "trace_ra": "1", "trace_dir": f"{tmp_path}/traces"},
                  rsctmp=str(tmp_path))
    assert run_agent("Dummy", "monitor", env).returncode == 7
    [trace] = list((tmp_path / "traces" / "Dummy").iterdir())
    assert trace.stat().st_mode & 0o777 == 0o600 and (tmp_path / "traces").stat().st_mode & 0o777 == 0o700
    assert "topsecret" not in trace.read_text()


def test_an_os_error_in_a_stop_is_one_reason_line_and_a_failed_stop_without_traceback(tmp_path):
    # The state file is a directory: the stop cannot remove it, so it must not say stopped.
    (tmp_path / "state").mkdir()
    env = ocf_env("oe", {"state": f"{tmp_path}/state"}, rsctmp=str(tmp_path), extra={"HA_debug": "1"})
    r = run_agent("Dummy", "stop", env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    reasons = [ln for ln in r.stderr.splitlines() if ln.startswith("ocf-exit-reason:")]
    assert reasons == [f"ocf-exit-reason:cannot access {tmp_path}/state: Is a directory"], r.stderr


# ----- Pacemaker's tools ---------------------------------------------------------------------------

def test_crm_resource_validate_runs_the_agent():
    ok = sh("crm_resource", "--validate", "--class", "ocf", "--provider", PROVIDER, "--agent", "Dummy",
            "--option", "fake=x", check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = sh("crm_resource", "--validate", "--class", "ocf", "--provider", PROVIDER, "--agent", "Dummy",
             "--option", "op_sleep=never", check=False)
    assert bad.returncode == 6
    assert "op_sleep" in bad.stdout + bad.stderr


def test_crm_resource_force_start_check_stop_with_a_file_cib(tmp_path):
    cib = tmp_path / "cib.xml"
    cib.write_text(sh("cibadmin", "--empty").stdout)
    state = tmp_path / "dummy.state"
    env = dict(os.environ, CIB_file=str(cib))
    primitive = (f'<primitive id="p_dummy" class="ocf" provider="{PROVIDER}" type="Dummy">'
                 f'<instance_attributes id="p_dummy-ia"><nvpair id="p_dummy-state" name="state" value="{state}"/>'
                 '</instance_attributes></primitive>')
    subprocess.run(["cibadmin", "-C", "-o", "resources", "-X", primitive], env=env, check=True, capture_output=True)

    def force(what):
        return subprocess.run(["crm_resource", "-r", "p_dummy", f"--force-{what}"], env=env, capture_output=True,
                              text=True, timeout=60)

    assert force("check").returncode == 7
    assert force("start").returncode == 0 and state.exists()
    assert force("check").returncode == 0
    assert force("stop").returncode == 0 and not state.exists()


def test_ocfkit_run_passes_the_exit_code_through_and_shows_the_reason(tmp_path):
    ocfkit = os.path.join(os.path.dirname(sys.executable), "ocfkit")
    r = subprocess.run([ocfkit, "run", "Dummy", "start", "op_sleep=later"], capture_output=True, text=True,
                       env=dict(os.environ, HA_RSCTMP=str(tmp_path)), timeout=60)
    assert r.returncode == 6
    assert "ocf-exit-reason:parameter op_sleep='later'" in r.stderr and "rc 6 (OCF_ERR_CONFIGURED)" in r.stderr
    r = subprocess.run([ocfkit, "run", "Dummy", "start", f"state={tmp_path}/s"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and (tmp_path / "s").exists()
    r = subprocess.run([ocfkit, "run", "Dummy", "stop", f"state={tmp_path}/s"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and not (tmp_path / "s").exists()
    r = subprocess.run([ocfkit, "run"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_ocfkit_run_refuses_a_misspelled_parameter_unless_forced(tmp_path):
    ocfkit = os.path.join(os.path.dirname(sys.executable), "ocfkit")
    env = dict(os.environ, HA_RSCTMP=str(tmp_path))
    r = subprocess.run([ocfkit, "run", "Dummy", "start", "stat=/x"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 2 and "did you mean state?" in r.stderr and not list(tmp_path.iterdir())
    r = subprocess.run([ocfkit, "run", "--force", "Dummy", "start", "stat=/x"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0 and (tmp_path / "Dummy-dummy.state").exists()
    subprocess.run([ocfkit, "run", "Dummy", "stop"], env=env, timeout=60, check=True, capture_output=True)
