"""Hostile inputs for every CLI reader: haresources, ha.cf, authkeys (`heartbeat check`, `migrate`), the
description TOML (`generate`), the CIB (`crm graph`, `crm check`).

Each reader must finish within a time bound and fail with one clear line, never a traceback, never a
hang: hypothesis-generated text for the parsers, hand-picked files (huge, binary, a FIFO, a
directory, deep nesting) for the commands. The in-process tests start no process; the ones that run
`ocfkit` as a process (the real entry point, and `crm check`, which runs xmllint and crm_verify) are
system tests, each bounded by a timeout and an address-space limit.
"""

from __future__ import annotations

import gc
import os
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heartbeat_legacy import authkeys, hacf, haresources
from heartbeat_legacy.files import split_lines
from tests.campaign.profile import PROFILE, examples

# ----- the parsers, on anything ------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)
_LINES = st.lists(st.one_of(
    _TEXT,
    st.sampled_from(["castor Dummy::a \\", "\\", "#", "pollux 10.0.0.5/24/eth0", "node castor", "bcast eth0",
                     "mcast eth0 239.0.0.1 694 1 0", "deadtime 1e400", "keepalive nan", "auth 1", "1 sha1 k",
                     "auth \u00b2", "\u00b2 md5 k", "respawn hacluster /\x00x", "udpport 694", "auto_failback x",
                     "castor ::", "castor a::::b", "x" * 3000, "9" * 5000, "initdead -1"]),
), max_size=40).map("\n".join)


@settings(PROFILE, max_examples=examples(300))
@given(text=_LINES)
def test_haresources_parser_raises_only_its_own_error(text):
    try:
        groups = haresources.parse(text)
    except haresources.HaresourcesError as e:
        assert e.line >= 1 and "\n" not in str(e)
        return
    assert haresources.parse(haresources.dump(groups)) is not None


@settings(PROFILE, max_examples=examples(300))
@given(text=_LINES)
def test_ha_cf_parser_and_checker_give_findings_never_exceptions(text):
    cf = hacf.parse(text)
    for f in hacf.validate(cf, hostname="castor", root="/nonexistent-campaign-root"):
        assert f.severity in ("error", "warning")
    assert hacf.dump(cf) == "".join(line + "\n" for line in split_lines(text))


@settings(PROFILE, max_examples=examples(300))
@given(text=_LINES, key=st.text(st.characters(blacklist_categories=("Cs", "Z", "Cc")), min_size=8, max_size=20))
def test_authkeys_parser_and_checker_give_findings_and_never_show_a_key(text, key):
    secret = "S3cr3tMark" + key
    ak = authkeys.parse(text + f"\n2 sha1 {secret}\n{secret}\n1 {secret}\n")
    for f in authkeys.validate(ak, mode=0o100644):
        assert "S3cr3tMark" not in str(f)


@pytest.mark.parametrize("make", [
    lambda n: "castor " + "Dummy::a \\\n" * n + "Dummy::b\n",
    lambda n: "castor Dummy::x\n" * 0 + "".join(f"n{i} D::{i}\n" for i in range(n)),
    lambda n: "#" * (10 * n) + "\n",
    lambda n: "castor " + " " * (10 * n) + "D::a\n",
], ids=["continued", "many-groups", "long-comment", "long-blank"])
def test_haresources_parser_is_linear(make):
    """Doubling the input at most ~doubles the time (quadratic would quadruple it)."""
    def took(n):
        text = make(n)
        gc.disable()  # the cyclic GC's full passes grow with every live object: not the parser's time
        t = time.perf_counter()
        try:
            haresources.parse(text)
        except haresources.HaresourcesError:
            pass
        finally:
            elapsed = time.perf_counter() - t
            gc.enable()
        return elapsed

    small, large = min(took(4000) for _ in range(3)), min(took(32000) for _ in range(3))
    # 8x the input: linear is ~8x, quadratic ~64x (the old parser: about a minute for "continued");
    # 24x and a 0.2 s floor leave room for a noisy, loaded machine.
    assert large < max(24 * small, 0.2), (small, large)


# ----- the commands, in-process: a FIFO must not hang them --------------------------------------

def _bounded(func, seconds: float, release: str | None = None):
    out: dict = {}

    def body():
        try:
            out["rc"] = func()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(seconds)
    hung = t.is_alive()
    if hung and release:
        try:  # a reader blocked in open() of the FIFO is released by a writer that closes at once
            os.close(os.open(release, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        t.join(5)
    assert not hung, f"still running after {seconds}s: it blocks on the input"
    if "error" in out:
        raise out["error"]
    return out["rc"]


READERS = {
    "heartbeat check": lambda p, tmp: ["heartbeat", "check", "--dir", os.path.dirname(p), "--node", "castor"],
    "migrate": lambda p, tmp: ["migrate", "--haresources", p, "--ha-cf", p],
    "generate": lambda p, tmp: ["generate", p, "--out", f"{tmp}/out"],
    "crm graph": lambda p, tmp: ["crm", "graph", p],
}

@pytest.mark.parametrize("reader", list(READERS))
def test_a_fifo_as_input_is_refused_not_waited_on(reader, tmp_path, capsys):
    from ocfkit.cli import main

    name = "haresources" if reader == "heartbeat check" else "input"
    fifo = str(tmp_path / name)
    os.mkfifo(fifo)
    if reader == "heartbeat check":
        for other in ("ha.cf", "authkeys"):
            (tmp_path / other).write_text("")
    rc = _bounded(lambda: main(READERS[reader](fifo, str(tmp_path))), 5, release=fifo)
    err = capsys.readouterr()
    assert rc != 0
    assert "FIFO" in err.out + err.err and "Traceback" not in err.err


# ----- the commands as processes (the real entry point), hand-picked hostile files --------------

def _hostile_file(kind: str, tmp, *, toml: bool, xml: bool) -> str:
    p = str(tmp / f"input-{kind}")
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "directory":
        os.mkdir(p)
    elif kind == "huge":
        # 32 MiB that every reader could take as valid text (comments): a bounded reader refuses it
        # at once; one that reads it to the end needs seconds to minutes.
        with open(p, "w") as f:
            if xml:
                f.write('<cib validate-with="pacemaker-3.9">\n')
            for _ in range(32):
                f.write(("<!-- x -->\n" if xml else "# comment\n") * (1 << 17))
            if xml:
                f.write("</cib>\n")
    elif kind == "binary":
        with open(p, "wb") as f:
            f.write(bytes(range(256)) * 64)
    elif kind == "deep":
        with open(p, "w") as f:
            f.write("a = " + "[" * 100000 + "]" * 100000 + "\n" if toml else
                    "<cib>" + "<a>" * 100000 + "</a>" * 100000 + "</cib>\n")
    return p


PROCESS_READERS = dict(READERS, **{"crm check": lambda p, tmp: ["crm", "check", p]})
HUGE_BOUND = 2.0  # seconds for a huge input: a size check answers in well under one


def _process_cases():
    for reader in PROCESS_READERS:
        for kind in ("fifo", "directory", "huge", "binary", "deep"):
            yield pytest.param(reader, kind, marks=[pytest.mark.system], id=f"{reader.replace(' ', '-')}-{kind}")


@pytest.mark.parametrize(("reader", "kind"), list(_process_cases()))
def test_every_cli_reader_refuses_a_hostile_file_quickly_with_one_line(reader, kind, tmp_path):
    import resource
    import subprocess
    import sys

    path = _hostile_file(kind, tmp_path, toml=reader == "generate", xml=reader.startswith("crm"))
    argv = [sys.executable, "-m", "ocfkit", *PROCESS_READERS[reader](path, str(tmp_path))]
    if reader == "heartbeat check":
        for other in ("ha.cf", "authkeys", "haresources"):
            target = tmp_path / other
            if not target.exists():
                os.symlink(path, target)

    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # a runaway reader fails, the host does not

    bound = HUGE_BOUND if kind == "huge" else 5.0
    t = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=bound + 1, preexec_fn=limits, check=False,
                           cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{reader} on a {kind} input ran for more than {bound + 1:.0f} s")
    finally:
        if kind == "huge":
            os.unlink(path)  # 32 MiB: not for pytest's kept temporary directories
    took = time.monotonic() - t
    if kind != "deep":  # deep nesting is well-formed: an answer is fine, as long as it comes in time
        assert r.returncode != 0, (r.returncode, r.stdout[-300:], r.stderr[-300:])
    assert "Traceback" not in r.stderr, r.stderr[-1000:]
    assert took < bound, f"{reader} took {took:.1f}s on a {kind} input"
    if r.returncode and reader not in ("heartbeat check", "crm check"):  # those print a report, others a line
        assert r.stderr.startswith("ocfkit: error: ") and r.stderr.count("\n") == 1, r.stderr[-500:]


@pytest.mark.system
def test_ocfkit_run_names_a_misspelled_parameter(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, HA_RSCTMP=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "ocfkit", "run", "Dummy", "monitor", f"sttae={tmp_path}/x"],
                       capture_output=True, text=True, timeout=30, env=env, check=False,
                       cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert "Traceback" not in r.stderr
    assert "sttae" in r.stderr, r.stderr
