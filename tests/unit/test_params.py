import pytest

from ocf.params import boolean, canonical_ip, choice, duration, integer, ip_address, is_true, parse_duration, path


@pytest.mark.parametrize("text", ["yes", "YES", "True", "true", "1", "on", "ON", "ja"])
def test_boolean_accepts_every_word_ocf_is_true_accepts(text):
    assert boolean.parse(text) is True
    assert is_true(text)


@pytest.mark.parametrize("text", ["no", "False", "0", "off", "nein"])
def test_boolean_false_words(text):
    assert boolean.parse(text) is False
    assert not is_true(text)


def test_boolean_rejects_garbage_with_a_message():
    with pytest.raises(ValueError, match="boolean"):
        boolean.parse("maybe")


def test_integer_range_is_inclusive_and_named_in_errors():
    p = integer(0, 128)
    assert p.parse("0") == 0 and p.parse("128") == 128
    with pytest.raises(ValueError, match="at most 128"):
        p.parse("129")
    with pytest.raises(ValueError, match="integer"):
        p.parse("12a")


@pytest.mark.parametrize(("text", "seconds"), [("10", 10), ("10s", 10), ("500ms", 0.5), ("5m", 300), ("1h", 3600),
                                               ("2min", 120), (" 3 s ", 3)])
def test_durations_take_pacemaker_suffixes(text, seconds):
    assert duration.parse(text) == seconds
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "10x", "-1", "1.2.3s"])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_choice_is_case_insensitive_and_returns_the_declared_spelling():
    p = choice("tcp", "udp")
    assert p.parse("TCP") == "tcp"
    with pytest.raises(ValueError, match="one of tcp, udp"):
        p.parse("sctp")


@pytest.mark.parametrize(("text", "canonical"), [("10.0.0.1", "10.0.0.1"), ("FD00:0:0::1", "fd00::1"),
                                                 ("2001:db8::0:1", "2001:db8::1")])
def test_ip_addresses_are_canonicalised(text, canonical):
    assert ip_address.parse(text) == canonical
    assert canonical_ip(text) == canonical


@pytest.mark.parametrize("text", ["10.0.0", "10.0.0.256", "fd00:::1", "host", "10.0.0.1/24"])
def test_bad_ip_addresses_are_rejected(text):
    with pytest.raises(ValueError):
        ip_address.parse(text)


def test_path_must_be_absolute():
    assert path().parse("/srv/x") == "/srv/x"
    with pytest.raises(ValueError, match="absolute"):
        path().parse("srv/x")
