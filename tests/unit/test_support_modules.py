import os

import pytest

from ocf import log, promotion
from ocf.errors import CommandError, OcfError
from ocf.notify import Notification
from ocf.quoting import quote_argv
from ocf.state import Lock, StateFile
from ocf.testing import FakeRunner


def test_quote_argv_quotes_like_a_shell():
    assert quote_argv(["ip", "addr", "add", "10.0.0.1/24"]) == "ip addr add 10.0.0.1/24"
    assert quote_argv(["echo", "a b", "it's", ""]) == "echo 'a b' 'it'\"'\"'s' ''"


def test_command_error_names_the_command_status_and_stderr():
    e = CommandError(["tgtadm", "--op", "show"], 22, "can't find the target\n")
    assert str(e) == "tgtadm --op show: exit 22: can't find the target"
    assert e.rc == 1


@pytest.mark.parametrize(("value", "on"), [(None, False), ("", False), ("0", False), ("1", True), ("yes", True)])
def test_ha_debug_zero_means_off(value, on):
    env = {} if value is None else {"HA_debug": value}
    assert log.debug_enabled(env) is on


def test_log_lines_carry_the_ocf_log_tag_and_go_to_ha_logfile(tmp_path):
    f = tmp_path / "ha.log"
    lg = log.Logger({"HA_LOGFILE": str(f), "OCF_RESOURCE_INSTANCE": "vip"}, "IPaddr2")
    lg.info("hello")
    lg.debug("hidden")
    text = f.read_text()
    assert f"IPaddr2(vip)[{os.getpid()}]: INFO: hello" in text
    assert "hidden" not in text


def test_debug_log_gets_debug_lines_when_ha_debug_is_on(tmp_path):
    f, d = tmp_path / "ha.log", tmp_path / "debug.log"
    lg = log.Logger({"HA_LOGFILE": str(f), "HA_DEBUGLOG": str(d), "HA_debug": "1"}, "X", "i")
    lg.debug("details")
    assert "DEBUG: details" in d.read_text() and "DEBUG: details" in f.read_text()


def test_without_logfile_or_facility_lines_go_to_stderr(capsys):
    log.Logger({}, "X", "i").warning("careful")
    assert "X(i)[" in capsys.readouterr().err


def test_secrets_are_masked_in_log_lines(tmp_path):
    f = tmp_path / "ha.log"
    log.add_secret("hunter2")
    log.Logger({"HA_LOGFILE": str(f)}, "X", "i").info("password is hunter2")
    assert "hunter2" not in f.read_text() and "password is ***" in f.read_text()


def test_state_file_write_read_remove(tmp_path):
    s = StateFile(str(tmp_path / "sub" / "x.state"))
    assert not s.exists() and s.read() is None
    s.write("abc")
    assert s.exists() and s.read() == "abc"
    s.remove()
    s.remove()
    assert not s.exists()


def test_lock_times_out_with_a_reason_while_held(tmp_path):
    p = str(tmp_path / "lock")
    with Lock(p, timeout=1), pytest.raises(OcfError, match="timed out waiting for lock"):
        Lock(p, timeout=0.05).__enter__()
    with Lock(p, timeout=0.05):
        pass


def test_promotion_uses_crm_attribute_from_feature_set_3_10():
    env = {"OCF_RESKEY_crm_feature_set": "3.16.2", "OCF_RESOURCE_INSTANCE": "drbd0"}
    r = FakeRunner().expect(["crm_attribute", "--promotion=drbd0", "-l", "reboot", "-v", "10000"])
    promotion.set_score(r, env, 10000)
    r.assert_done()


def test_notification_pairs_resources_with_nodes():
    n = Notification({"OCF_RESKEY_CRM_meta_notify_type": "pre", "OCF_RESKEY_CRM_meta_notify_operation": "promote",
                      "OCF_RESKEY_CRM_meta_notify_promote_resource": "d:0 ",
                      "OCF_RESKEY_CRM_meta_notify_promote_uname": "alice",
                      "OCF_RESKEY_CRM_meta_notify_master_uname": "bob"})
    assert n.key == "pre-promote"
    assert n.pairs("promote") == [("d:0", "alice")]
    assert n.nodes("promoted") == ["bob"]
