"""What Pacemaker 3.0 (Debian 13) prints, read as Pacemaker 2.1's was (the fakes quote both releases)."""

from __future__ import annotations

import os

from crm.check import check
from ocf.exec import Result

FIX = os.path.join(os.path.dirname(__file__), "..", "unit", "fixtures", "crm_check")

VERIFY_2_1 = ("error: Resource start-up disabled since no STONITH resources have been defined\n"
              "warning: Node castor is unclean but cannot be fenced\n"
              "crm_verify: Errors found during check: config not valid\n")
VERIFY_3_0 = ("(cluster_status) \twarning: Fencing and resource management disabled due to lack of quorum\n"
              "(unpack_resources) \terror: Resource start-up disabled since no STONITH resources have been defined\n"
              "(schedule_fencing_and_shutdowns) \twarning: Node castor is unclean but cannot be fenced\n"
              "Configuration invalid (with errors)\n")


def fake(verify_text):
    """xmllint accepts, crm_verify answers with verify_text (exit 78), the simulation fails."""

    def run(argv, *, ok=(0,), timeout=None, input=None):  # noqa: A002
        if argv[0] == "xmllint":
            return Result(argv, 0, "", "")
        if argv[0] == "crm_verify":
            return Result(argv, 78, "", verify_text)
        return Result(argv, 1, "", "not simulated here")

    return run


def verdict(tmp_path, text):
    with open(os.path.join(FIX, "sbd-two-node.xml"), encoding="utf-8") as f:
        src = f.read()
    start, end = src.index('<primitive id="st_sbd"'), src.index('<clone id="ms_drbd">')
    cib = tmp_path / "cib.xml"
    cib.write_text(src[:start] + src[end:])
    rep = check(str(cib), run=fake(text))
    return {s: v for s, v, _d in rep.steps}["crm_verify"]


def test_crm_verify_errors_are_errors_in_pacemaker_2_1_and_3_0(tmp_path):
    assert verdict(tmp_path, VERIFY_2_1) == "error"
    assert verdict(tmp_path, VERIFY_3_0) == "error"


def test_crm_verify_warnings_alone_stay_warnings(tmp_path):
    assert verdict(tmp_path, "warning: Node castor is unclean but cannot be fenced\n") == "warning"
