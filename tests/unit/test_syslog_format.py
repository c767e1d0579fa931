"""RFC 5424 messages, RFC 6587 octet counting and syslog URLs, byte for byte."""

from __future__ import annotations

import re

import pytest

from trioaudit._output.syslog import (
    DEFAULT_PORTS,
    FACILITIES,
    MAX_WRITE_SIZE,
    RSYSLOG_DEFAULT_MAX_MESSAGE_SIZE,
    SEVERITIES,
    SyslogTarget,
    clean_header_field,
    octet_counted,
    octet_counted_chunks,
    parse_syslog_url,
    rfc5424_message,
    rfc5424_timestamp,
)

STAMP = 1795714536.840  # 2026-11-26T17:35:36.840Z, an audit stamp (milliseconds)


def message(payload: bytes = b"hello", **fields: object) -> bytes:
    kwargs: dict[str, object] = {"timestamp": STAMP, "hostname": "host.example"}
    kwargs.update(fields)
    return rfc5424_message(payload, **kwargs)  # type: ignore[arg-type]


# ---- PRI, VERSION, the whole header -----------------------------------------------


def test_default_message_is_authpriv_info_with_nil_fields() -> None:
    assert message() == (b"<86>1 2026-11-26T17:35:36.840000Z host.example trioaudit - - - hello")


def test_every_field_in_its_place() -> None:
    got = message(
        b"type=EXECVE msg=audit(1795714536.840:4771): argc=1",
        app_name="trioaudit",
        procid="4242",
        msgid="audit",
        facility=FACILITIES["local3"],
        severity=SEVERITIES["notice"],
    )
    assert got == (
        b"<157>1 2026-11-26T17:35:36.840000Z host.example trioaudit 4242 audit - "
        b"type=EXECVE msg=audit(1795714536.840:4771): argc=1"
    )


@pytest.mark.parametrize(
    ("facility", "severity", "pri"),
    [(0, 0, b"<0>"), (0, 7, b"<7>"), (1, 0, b"<8>"), (10, 6, b"<86>"), (23, 7, b"<191>")],
)
def test_pri_is_facility_times_eight_plus_severity(
    facility: int, severity: int, pri: bytes
) -> None:
    assert message(facility=facility, severity=severity).startswith(pri + b"1 ")


@pytest.mark.parametrize(("facility", "severity"), [(24, 0), (-1, 0), (0, 8), (0, -1), (True, 0)])
def test_pri_out_of_range_is_an_error(facility: int, severity: int) -> None:
    with pytest.raises(ValueError, match=r"^syslog (facility|severity) must be"):
        message(facility=facility, severity=severity)


def test_name_tables_are_rfc5424s_codes() -> None:
    assert [FACILITIES[n] for n in ("kern", "user", "daemon", "auth", "authpriv")] == [
        0,
        1,
        3,
        4,
        10,
    ]
    assert [FACILITIES[f"local{n}"] for n in range(8)] == list(range(16, 24))
    assert sorted(set(FACILITIES.values())) == list(range(24))
    assert [SEVERITIES[n] for n in ("emerg", "alert", "crit", "err")] == [0, 1, 2, 3]
    assert [SEVERITIES[n] for n in ("warning", "notice", "info", "debug")] == [4, 5, 6, 7]


# ---- TIMESTAMP --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "text"),
    [
        (0.0, "1970-01-01T00:00:00.000000Z"),
        (STAMP, "2026-11-26T17:35:36.840000Z"),  # 0.840 is 0.83999… as a float: rounded
        (1.0000004, "1970-01-01T00:00:01.000000Z"),
        (1.0000006, "1970-01-01T00:00:01.000001Z"),
        (1700000000.123456, "2023-11-14T22:13:20.123456Z"),
        (1700000000.9999996, "2023-11-14T22:13:21.000000Z"),  # rounds into the next second
        (-1.5, "1969-12-31T23:59:58.500000Z"),
        (-62135596800.0, "0001-01-01T00:00:00.000000Z"),  # four digits, zero-padded
        (253402300799.0, "9999-12-31T23:59:59.000000Z"),
    ],
)
def test_timestamp_is_utc_with_microseconds(stamp: float, text: str) -> None:
    assert rfc5424_timestamp(stamp) == text
    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text.encode())


@pytest.mark.parametrize(
    "stamp", [float("nan"), float("inf"), float("-inf"), 1e300, -1e20, 253402300800.0]
)
def test_timestamp_that_has_no_form_is_nil(stamp: float) -> None:
    assert rfc5424_timestamp(stamp) == "-"
    assert message(timestamp=stamp) == b"<86>1 - host.example trioaudit - - - hello"


# ---- header fields ----------------------------------------------------------------


def test_hostile_hostname_cannot_forge_fields() -> None:
    evil = "evil host\n<0>1 2000-01-01T00:00:00Z forged app - - - lie"
    got = message(hostname=evil)
    assert got == (
        b"<86>1 2026-11-26T17:35:36.840000Z "
        b"evil_host_<0>1_2000-01-01T00:00:00Z_forged_app_-_-_-_lie trioaudit - - - hello"
    )
    assert got.count(b" ") == 7  # PRI+VERSION, 5 fields, SD, MSG: no extra separators


@pytest.mark.parametrize(
    ("hostname", "field"),
    [
        ("bücher.example", b"xn--bcher-kva.example"),  # IDNA, the way DNS spells it
        ("BÜCHER.example", b"xn--bcher-kva.example"),
        ("exa\u200bmple.ü", b"exa_mple._"),  # IDNA would drop the ZWSP: a forgery
        ("höst\tname", b"h_st_name"),  # controls: no IDNA, every odd character replaced
        ("a..ü", b"a.._"),  # not a valid IDN (an empty label)
        ("tab\there", b"tab_here"),
        ("del\x7fhost", b"del_host"),
        ("\x00", b"_"),
        ("", b"-"),
        ("-", b"-"),
        ("[::1]", b"[::1]"),
    ],
)
def test_hostname_is_cleaned(hostname: str, field: bytes) -> None:
    got = message(hostname=hostname)
    assert got.split(b" ")[2] == field


def test_header_field_lengths_are_rfc5424s() -> None:
    got = message(hostname="h" * 300, app_name="a" * 60, procid="p" * 200, msgid="m" * 40)
    fields = got.split(b" ")
    assert fields[2:6] == [b"h" * 255, b"a" * 48, b"p" * 128, b"m" * 32]


def test_empty_header_fields_are_nil() -> None:
    assert message(hostname="", app_name="", procid="", msgid="") == (
        b"<86>1 2026-11-26T17:35:36.840000Z - - - - - hello"
    )


def test_non_ascii_app_name_procid_msgid_are_replaced_not_punycoded() -> None:
    got = message(app_name="trïo", procid="１２", msgid="ms g")
    assert got.split(b" ")[3:6] == [b"tr_o", b"__", b"ms_g"]


def test_clean_header_field_directly() -> None:
    assert clean_header_field("ok", 5) == "ok"
    assert clean_header_field("toolong", 3) == "too"
    assert clean_header_field("  ", 3) == "__"
    assert clean_header_field("bücher", 10) == "b_cher"  # IDNA for host names only
    assert clean_header_field("bücher", 255, hostname=True) == "xn--bcher-kva"


# ---- MSG ---------------------------------------------------------------------------


def test_payload_is_kept_byte_for_byte_without_bom() -> None:
    payload = b"a\nb\r\n]\"'\\\x00\xff\xfe\xc3( \xef\xbb\xbf"
    got = message(payload)
    assert got == b"<86>1 2026-11-26T17:35:36.840000Z host.example trioaudit - - - " + payload
    assert b"- \xef\xbb\xbf" not in got[: -len(payload)]  # no BOM of ours


def test_empty_payload_has_no_msg_and_no_trailing_space() -> None:
    assert message(b"") == b"<86>1 2026-11-26T17:35:36.840000Z host.example trioaudit - - -"


# ---- octet counting ----------------------------------------------------------------


def test_octet_counted_is_length_space_message() -> None:
    assert octet_counted(b"") == b"0 "
    assert octet_counted(b"abc") == b"3 abc"
    assert octet_counted(b"a\nb") == b"3 a\nb"
    assert octet_counted("é".encode()) == b"2 \xc3\xa9"  # octets, not characters
    big = b"x" * 20480
    assert octet_counted(big) == b"20480 " + big


def test_chunks_hold_whole_frames_up_to_the_bound() -> None:
    messages = [b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10]
    # each frame is "10 " + 10 bytes = 13 bytes; 26 fits two, 27 too, 39 three.
    assert list(octet_counted_chunks(messages, 26)) == [
        (b"10 aaaaaaaaaa10 bbbbbbbbbb", 2),
        (b"10 cccccccccc10 dddddddddd", 2),
    ]
    assert [count for _, count in octet_counted_chunks(messages, 39)] == [3, 1]
    assert [count for _, count in octet_counted_chunks(messages, 12)] == [1, 1, 1, 1]


def test_a_frame_bigger_than_the_bound_is_its_own_chunk() -> None:
    big = b"x" * (MAX_WRITE_SIZE + 1)
    chunks = list(octet_counted_chunks([b"s", big, b"t"]))
    assert chunks == [(b"1 s", 1), (octet_counted(big), 1), (b"1 t", 1)]


def test_chunks_of_a_real_batch_concatenate_to_the_frames() -> None:
    messages = [bytes([n % 251]) * (n * 37 % 9000) for n in range(400)]
    chunks = list(octet_counted_chunks(messages))
    assert b"".join(chunk for chunk, _ in chunks) == b"".join(map(octet_counted, messages))
    assert sum(count for _, count in chunks) == 400
    assert all(len(chunk) <= MAX_WRITE_SIZE for chunk, _ in chunks)
    assert len(chunks) > 1
    assert list(octet_counted_chunks([])) == []


# ---- URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "transport", "host", "port"),
    [
        ("syslog+udp://127.0.0.1:5514", "udp", "127.0.0.1", 5514),
        ("syslog+tcp://logs.example", "tcp", "logs.example", 514),
        ("syslog+udp://logs.example", "udp", "logs.example", 514),
        ("syslog+tls://logs.example", "tls", "logs.example", 6514),
        ("syslog+tls://Logs.Example:7000/", "tls", "logs.example", 7000),
        ("SYSLOG+TCP://h:1", "tcp", "h", 1),
        ("syslog+tcp://[::1]:514", "tcp", "::1", 514),
        ("syslog+tcp://[::1]", "tcp", "::1", 514),
        ("syslog+tcp://[2001:DB8::0:1]:65535", "tcp", "2001:db8::1", 65535),
        ("syslog+tcp://[fe80::1%25eth0]:514", "tcp", "fe80::1%eth0", 514),
        ("syslog+tcp://my_host-1.example.:514", "tcp", "my_host-1.example.", 514),
    ],
)
def test_good_urls(url: str, transport: str, host: str, port: int) -> None:
    target = parse_syslog_url(url)
    assert (target.transport, target.host, target.port) == (transport, host, port)
    assert (target.facility, target.severity, target.verify) == (10, 6, True)
    assert (target.ca, target.cert, target.key, target.server_name) == (None,) * 4
    assert target.max_message_size == RSYSLOG_DEFAULT_MAX_MESSAGE_SIZE == 8096


def test_url_property_is_canonical_and_has_no_options() -> None:
    assert parse_syslog_url("syslog+tcp://H.example").url == "syslog+tcp://h.example:514"
    assert parse_syslog_url("syslog+tls://[::1]?ca=/x").url == "syslog+tls://[::1]:6514"
    assert DEFAULT_PORTS == {"udp": 514, "tcp": 514, "tls": 6514}


def test_tls_options() -> None:
    target = parse_syslog_url(
        "syslog+tls://10.0.0.1:6514?ca=/etc/ca%20dir/ca+1.pem&cert=/c.pem&key=/k.pem"
        "&verify=true&server_name=logs.example&facility=LOCAL7&severity=warning"
    )
    assert target == SyslogTarget(
        "tls",
        "10.0.0.1",
        6514,
        facility=23,
        severity=4,
        ca="/etc/ca dir/ca+1.pem",  # percent-decoded, '+' kept
        cert="/c.pem",
        key="/k.pem",
        verify=True,
        server_name="logs.example",
    )
    assert parse_syslog_url("syslog+tls://h?verify=false").verify is False
    assert parse_syslog_url("syslog+tls://h?verify=0").verify is False
    assert parse_syslog_url("syslog+tls://h?verify=ON").verify is True
    assert parse_syslog_url("syslog+tls://h?cert=/both.pem").key is None  # key in the file


def test_numeric_facility_severity_and_udp_size() -> None:
    target = parse_syslog_url("syslog+udp://h?facility=0&severity=7&max_message_size=480")
    assert (target.facility, target.severity, target.max_message_size) == (0, 7, 480)
    assert parse_syslog_url("syslog+udp://h?max_message_size=65507").max_message_size == 65507


def test_with_tls_options_from_the_config_file() -> None:
    base = parse_syslog_url("syslog+tls://h?server_name=a.example")
    changed = base.with_tls_options(ca="/ca.pem", cert=None, key=None, verify=False)
    assert (changed.ca, changed.cert, changed.verify, changed.server_name) == (
        "/ca.pem",
        None,
        False,
        "a.example",
    )
    with pytest.raises(ValueError, match="key: given without cert"):
        base.with_tls_options(key="/k.pem")
    with pytest.raises(ValueError, match="only for syslog\\+tls"):
        parse_syslog_url("syslog+tcp://h").with_tls_options(ca="/ca.pem")
    with pytest.raises(ValueError, match="ca: empty"):
        base.with_tls_options(ca=" ")


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("", "empty"),
        ("http://h:514", "scheme must be"),
        ("syslog://h:514", "scheme must be"),
        ("syslog+relp://h", "scheme must be"),
        ("syslog+tcp:h:514", "no host"),
        ("syslog+tcp://", "no host"),
        ("syslog+tcp://:514", "not a host name"),
        ("syslog+tcp://h:", "port '' is not a number"),
        ("syslog+tcp://h:0", "port 0 is not 1-65535"),
        ("syslog+tcp://h:65536", "port 65536 is not 1-65535"),
        ("syslog+tcp://h:-1", "port '-1' is not a number"),
        ("syslog+tcp://h:５１４", "is not a number"),
        ("syslog+tcp://h:514x", "is not a number"),
        ("syslog+tcp://::1:514", "must be in brackets"),
        ("syslog+tcp://[::1:514", "in brackets must be an IPv6 address, closed by"),
        ("syslog+tcp://[::g]:514", "in brackets must be an IPv6 address"),
        ("syslog+tcp://[1.2.3.4]:514", "in brackets must be an IPv6 address"),
        ("syslog+tcp://[::1]x:514", "expected ':PORT'"),
        ("syslog+tcp://1.2.3.256", "not a host name or address"),
        ("syslog+tcp://ex%20ample", "not a host name"),
        ("syslog+tcp://bad-.example", "not a host name"),
        ("syslog+tcp://bücher.example", "not a host name"),
        ("syslog+tcp://h h", "spaces or control characters"),
        ("syslog+tcp://h\n:514", "spaces or control characters"),
        ("syslog+tcp://user@h", "user name"),
        ("syslog+tcp://user:pw@h", "user name"),
        ("syslog+tcp://h/path", "a path"),
        ("syslog+tcp://h#frag", "a fragment"),
        ("syslog+tcp://h?facility=24", "facility: '24' is not 0-23"),
        ("syslog+tcp://h?facility=bogus", "facility: 'bogus'"),
        ("syslog+tcp://h?severity=8", "severity: '8' is not 0-7"),
        ("syslog+tcp://h?severity=", "severity: '' is not"),
        ("syslog+tcp://h?colour=red", "unknown option 'colour'"),
        ("syslog+tcp://h?facility", "has no value"),
        ("syslog+tcp://h?facility=user&facility=kern", "given twice"),
        ("syslog+tcp://h?ca=/ca.pem", "ca: only for syslog\\+tls"),
        ("syslog+udp://h?verify=false", "verify: only for syslog\\+tls"),
        ("syslog+tcp://h?max_message_size=9000", "only for syslog\\+udp"),
        ("syslog+udp://h?max_message_size=479", "must be 480-65507"),
        ("syslog+udp://h?max_message_size=65508", "must be 480-65507"),
        ("syslog+udp://h?max_message_size=8k", "not a number"),
        ("syslog+tls://h?verify=maybe", "verify must be true or false"),
        ("syslog+tls://h?ca=", "ca: empty"),
        ("syslog+tls://h?ca=%ff", "not UTF-8"),
        ("syslog+tls://h?key=/k.pem", "key: given without cert"),
        ("syslog+tls://h?server_name=a%20b", "server_name: 'a b' is not a host name"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_syslog_url(url)


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"transport": "relp"}, "transport must be"),
        ({"host": ""}, "host: empty"),
        ({"port": 0}, "port: 0 is out of range"),
        ({"port": 70000}, "port: 70000 is out of range"),
        ({"port": "514"}, "port: must be an integer"),
        ({"facility": 24}, "facility: 24 is out of range"),
        ({"severity": True}, "severity: must be an integer"),
        ({"max_message_size": 100_000}, "max_message_size must be 480-65507"),
    ],
)
def test_target_built_by_hand_is_checked_too(fields: dict[str, object], complaint: str) -> None:
    arguments: dict[str, object] = {"transport": "udp", "host": "h", "port": 514, **fields}
    with pytest.raises(ValueError, match=complaint):
        SyslogTarget(**arguments)  # type: ignore[arg-type]


def test_target_is_frozen() -> None:
    target = parse_syslog_url("syslog+tcp://h")
    with pytest.raises(AttributeError):
        target.port = 1  # type: ignore[misc]
