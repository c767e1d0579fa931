"""Record parser: real lines from this machine's kernel (tests/data) and edge cases."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioaudit import AuditEvent, AuditProtocolError
from trioaudit._output.formats import render_event
from trioaudit._records.parse import (
    MAX_RECORD_LENGTH,
    RecordParseError,
    parse_kernel_record,
    parse_log_line,
    record_body,
)
from trioaudit._records.values import split_fields, type_name, type_number

DATA = Path(__file__).parents[1] / "data"
LOG = DATA / "audit_enriched.log"
PAYLOADS = DATA / "kernel_payloads.txt"


def log_lines() -> list[bytes]:
    return LOG.read_bytes().splitlines()


def test_every_corpus_line_parses() -> None:
    records = [parse_log_line(line) for line in log_lines()]
    assert len(records) == len(log_lines()) > 300
    assert {r.type_name for r in records} >= {"SYSCALL", "PATH", "CWD", "EXECVE", "SOCKADDR"}
    for record in records:
        assert record.sequence > 0
        assert record.timestamp > 1.7e9
        assert record.raw_fields


def test_kernel_payloads_match_log_lines() -> None:
    for line in PAYLOADS.read_text().splitlines():
        number, text = line.split("\t", 1)
        record = parse_kernel_record(int(number), text + "\x00\x00\n")
        assert record.type == int(number)
        assert record.type_name == type_name(int(number))
        assert record.node is None
        assert record.raw == text
        again = parse_log_line(f"type={record.type_name} msg={text}")
        assert again.raw_fields == record.raw_fields
        assert again.items == record.items


def test_syscall_record_fields() -> None:
    line = next(x for x in log_lines() if b"type=SYSCALL" in x and b'key="exec"' in x)
    record = parse_log_line(line)
    assert record.type == 1300
    assert record.raw_fields["arch"] == "c000003e"
    assert record.raw_fields["syscall"] == "59"
    assert record.raw_fields["key"] == "exec"
    assert record.raw_fields["comm"] == "setpriv"
    assert record.enriched["ARCH"] == "x86_64"
    assert record.enriched["SYSCALL"] == "execve"
    assert record.enriched["UID"] == '"nobody"'


def test_hex_encoded_escape_sequence_is_decoded() -> None:
    record = next(
        parse_log_line(x) for x in log_lines() if b"type=SYSCALL" in x and b"65761B5B" in x
    )
    assert record.raw_fields["comm"] == "ev\x1b[31mil"
    assert record.raw_fields["exe"].endswith("/ev\x1b[31mil")


def test_execve_arguments_decoded_only_in_execve() -> None:
    record = parse_log_line(
        'type=EXECVE msg=audit(1.000:5): argc=3 a0="ls" a1=74776F20776F726473 '
        "a2_len=4 a2[0]=41424344"
    )
    assert record.raw_fields["a1"] == "two words"
    assert record.raw_fields["a2_len"] == "4"
    assert record.raw_fields["a2[0]"] == "ABCD"
    assert record.argv == ("ls", "two words", "ABCD")
    syscall = parse_log_line("type=SYSCALL msg=audit(1.000:6): arch=c000003e syscall=1 a0=4142")
    assert syscall.raw_fields["a0"] == "4142"


def test_node_prefix_and_unknown_type() -> None:
    record = parse_log_line("node=web1 type=UNKNOWN[1999] msg=audit(1795714536.840:4771): a=b")
    assert record.node == "web1"
    assert record.type == 1999
    assert record.type_name == "UNKNOWN[1999]"
    assert record.timestamp == pytest.approx(1795714536.840)
    assert record.sequence == 4771
    assert record.raw_fields == {"a": "b"}


def test_kernel_record_of_unknown_type_is_kept() -> None:
    record = parse_kernel_record(1999, "audit(1.5:7): x=1")
    assert record.type_name == "UNKNOWN[1999]"
    assert record.timestamp == 1.5


def test_nested_user_message_is_flattened() -> None:
    line = next(x for x in log_lines() if x.startswith(b"type=USER "))
    record = parse_log_line(line)
    assert record.raw_fields["pid"].isdigit()
    assert record.raw_fields["exe"] == "/usr/sbin/auditctl"
    assert record.raw_fields["res"] == "success"
    assert record.raw_fields["text"] == "trioaudit"  # libauparse splits on spaces too


def test_null_none_and_question_mark_values() -> None:
    record = parse_log_line(
        "type=SYSCALL msg=audit(1.000:1): tty=(none) key=(null) hostname=? empty= x=1"
    )
    assert record.raw_fields["tty"] == "(none)"
    assert record.raw_fields["key"] == "(null)"
    assert record.raw_fields["hostname"] == "?"
    assert "empty" not in record.raw_fields


def test_multiple_keys_become_several_key_items() -> None:
    joined = b"a\x01b c".hex().upper()
    record = parse_log_line(f"type=SYSCALL msg=audit(1.000:1): key={joined}")
    assert record.raw_fields["key"] == "a\x01b c"
    assert [v for n, v in record.items if n == "key"] == ['"a"', "622063"]


def test_invalid_utf8_survives_as_surrogates() -> None:
    record = parse_log_line(b'type=PATH msg=audit(1.000:1): name="caf\xe9" item=0')
    assert record.raw_fields["name"] == "caf\udce9"
    hexed = parse_log_line("type=PATH msg=audit(1.000:1): name=FF00")
    assert hexed.raw_fields["name"] == "\udcff\x00"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        "type=SYSCALL msg=audit(abc): x=1",
        "type=SYSCALL msg=audit(1.2): x=1",
    ],
)
def test_garbage_raises_record_parse_error(line: str) -> None:
    with pytest.raises(RecordParseError):
        parse_log_line(line)


def test_parse_error_is_a_protocol_error() -> None:
    with pytest.raises(AuditProtocolError):
        parse_kernel_record(1300, "no stamp here")


def test_overlong_record_rejected() -> None:
    with pytest.raises(RecordParseError):
        parse_kernel_record(1300, "audit(1.000:1): x=" + "A" * MAX_RECORD_LENGTH)


def test_type_number_roundtrip() -> None:
    assert type_number("SYSCALL") == 1300
    assert type_number("APPARMOR") == 1500
    assert type_number("1300") == 1300
    assert type_name(1320) == "EOE"


def test_split_is_linear_on_hostile_input() -> None:
    body = "a" * 60000 + " " + "=" * 3000 + " " + "x=" * 2000
    start = time.perf_counter()
    split_fields(body)
    assert time.perf_counter() - start < 0.5


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_log_parser_never_raises_anything_else(text: str) -> None:
    for candidate in (text, "type=SYSCALL msg=audit(1.000:1): " + text):
        try:
            record = parse_log_line(candidate)
        except RecordParseError:
            continue
        assert isinstance(record.raw_fields, Mapping)
        record.fields  # noqa: B018 - interpretation must not raise either


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=65535))
def test_kernel_parser_never_raises_anything_else(data: bytes, msg_type: int) -> None:
    for candidate in (data, b"audit(1795714536.840:4771): " + data):
        try:
            record = parse_kernel_record(msg_type, candidate)
        except RecordParseError:
            continue
        dict(record.fields)
        record.argv  # noqa: B018
        record.sockaddr  # noqa: B018


_TOKENS = st.sampled_from(
    ["a0=", "key=", "msg='", "msg=audit(", "'", '"', "(", ")", ":", ",", " ", "  ", "=",
     "41", "FF00", "01", "(null)", "(none)", "?", "\x1d", "UID=", "SADDR={ x }", "avc:",
     "{", "}", "argc=", "a1[0]=", "a1_len=", "saddr=", "0200", "proctitle=", "\x00", "é"]
)  # fmt: skip


@settings(max_examples=400, deadline=timedelta(seconds=2))
@given(
    st.sampled_from(["SYSCALL", "EXECVE", "AVC", "USER_AVC", "USER_LOGIN", "SOCKADDR", "TTY"]),
    st.lists(_TOKENS, max_size=60),
)
def test_structured_garbage_never_escapes_or_hangs(type_name: str, tokens: list[str]) -> None:
    line = f"node=n type={type_name} msg=audit(1795714536.840:4771): " + "".join(tokens)
    try:
        record = parse_log_line(line)
    except RecordParseError:
        return
    dict(record.raw_fields)
    dict(record.fields)
    record.argv  # noqa: B018
    record.sockaddr  # noqa: B018
    record.message  # noqa: B018
    event = AuditEvent(record.sequence, record.timestamp, record.node, (record,))
    for fmt in ("json", "records", "text"):
        render_event(event, fmt).encode("utf-8")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "stamp", ["99999999999999999999.000:1", "253402300800.000:1", "1.000:" + "9" * 30]
)
def test_absurd_stamps_are_rejected(stamp: str) -> None:
    with pytest.raises(RecordParseError):
        parse_kernel_record(1300, f"audit({stamp}): x=1")
    assert parse_kernel_record(1300, "audit(253402300799.999:1): x=1").sequence == 1


def test_field_mappings_are_read_only() -> None:
    record = parse_log_line('type=CWD msg=audit(1.000:1): cwd="/root"')
    with pytest.raises(TypeError):
        record.raw_fields["cwd"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        record.fields["cwd"] = "x"  # type: ignore[index]


def test_unknown_type_names_are_kept() -> None:
    record = parse_log_line("type=NEWER_THING msg=audit(1.000:1): x=1")
    assert (record.type, record.type_name, record.raw_fields["x"]) == (0, "NEWER_THING", "1")


# ---- records as the kernel log prints them (issue 14, point 4) ---------------------

_BODY = "arch=c00000b7 syscall=222 success=yes exit=0"


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "[  123.456789] ",
        "audit: ",
        "kernel: ",
        "[103975.623545] audit: ",
        "Oct 28 21:34:13 host kernel: ",
        "Oct  8 21:34:13 host kernel: [  123.456789] audit: ",
        "Oct 28 21:34:13 host auditd[815]: ",
        "2019-10-28T21:34:13.690000+00:00 host kernel: ",
        "audit.log:",
    ],
)
@pytest.mark.parametrize(
    "header", ["type=SYSCALL audit(", "type=1300 audit(", "type=1300 msg=audit("]
)
def test_kernel_log_forms_are_records(prefix: str, header: str) -> None:
    line = f"{prefix}{header}1572298453.690:5717): {_BODY}"
    record = parse_log_line(line + "\n")
    assert (record.type, record.type_name) == (1300, "SYSCALL")
    assert (record.timestamp, record.sequence, record.node) == (1572298453.690, 5717, None)
    assert record.items == (("arch", "c00000b7"), ("syscall", "222"), ("success", "yes"),
                            ("exit", "0"))  # fmt: skip
    assert record.raw == line
    assert record_body(line) == _BODY


def test_a_prefix_before_a_node_header() -> None:
    record = parse_log_line(
        f"Oct 28 21:34:13 host audispd: node=web1 type=SYSCALL msg=audit(1.5:9): {_BODY}"
    )
    assert (record.node, record.type_name, record.sequence) == ("web1", "SYSCALL", 9)


def test_old_apparmor_form_with_the_stamp_first() -> None:
    line = (
        "Sep  7 17:47:53 gutsy kernel: audit(1189201672.746:537): type=1503 "
        'operation="file_lock" pid=4316 profile="/usr/sbin/nmbd"'
    )
    record = parse_log_line(line)
    assert (record.type, record.type_name) == (1503, "APPARMOR_DENIED")
    assert (record.timestamp, record.sequence) == (1189201672.746, 537)
    assert record.raw_fields == {
        "operation": "file_lock",
        "pid": "4316",
        "profile": "/usr/sbin/nmbd",
    }
    assert record_body(line) == 'operation="file_lock" pid=4316 profile="/usr/sbin/nmbd"'


@pytest.mark.parametrize(
    "line",
    [
        # The prefix holds an "=": this is a record's body, not a header.
        "pid=1 comm=x type=SYSCALL msg=audit(1.000:1): arch=c000003e",
        'll=59 comm="x" type=SYSCALL audit(1.000:1): arch=c000003e',
        # No space or ':' before the header.
        "xtype=SYSCALL msg=audit(1.000:1): arch=c000003e",
        "[1.2]type=SYSCALL msg=audit(1.000:1): arch=c000003e",
        # A stamp alone, or a type without a stamp.
        "kernel: audit(1.000:1): arch=c000003e",
        "kernel: type=SYSCALL arch=c000003e",
        'Jul 1 host dbus[12]: apparmor="DENIED" operation="dbus_method_call"',
        "kernel: audit(1.000:1): x=1 type=1503 operation=open",
    ],
)
def test_what_is_not_a_kernel_log_record(line: str) -> None:
    with pytest.raises(RecordParseError):
        parse_log_line(line)


def test_a_header_inside_a_body_is_not_the_records_header() -> None:
    record = parse_log_line(
        "type=USER msg=audit(1.000:1): pid=1 msg='text type=SYSCALL msg=audit(2.000:2): x=1'"
    )
    assert (record.type_name, record.timestamp, record.sequence) == ("USER", 1.0, 1)


def test_prefix_search_is_linear_on_hostile_input() -> None:
    line = "[" * 60000 + " type=X audit(1.0:1"
    start = time.perf_counter()
    with pytest.raises(RecordParseError):
        parse_log_line(line)
    assert time.perf_counter() - start < 0.5


# ---- type names from numbers (issue 14, point 5) -----------------------------------


@pytest.mark.parametrize(
    ("logged", "number", "name"),
    [
        ("UNKNOWN[1334]", 1334, "BPF"),
        ("UNKNOWN[1327]", 1327, "PROCTITLE"),
        ("UNKNOWN[1500]", 1500, "APPARMOR"),
        ("1400", 1400, "AVC"),
        ("UNKNOWN[1420]", 1420, "UNKNOWN[1420]"),  # newer than our tables: as ausearch
        ("1420", 1420, "UNKNOWN[1420]"),
        ("SYSCALL", 1300, "SYSCALL"),
        ("UNKNOWN[70000]", 0, "UNKNOWN[70000]"),  # not a 16-bit type: a name
        ("9" * 5000, 0, "9" * 5000),  # longer than int() converts: a name
    ],
    ids=lambda value: str(value)[:20],
)
def test_type_named_from_its_number(logged: str, number: int, name: str) -> None:
    record = parse_log_line(f"type={logged} msg=audit(1.000:1): prog-id=45 op=UNLOAD")
    assert (record.type, record.type_name) == (number, name)


def test_a_numbered_proctitle_is_decoded_as_one() -> None:
    record = parse_log_line("type=UNKNOWN[1327] msg=audit(1.000:1): proctitle=6C73002D6C")
    assert record.argv == ("ls", "-l")


# ---- empty names: kept, as libauparse keeps them ----------------------------------


@pytest.mark.parametrize("extra", ["", " msg=q"], ids=["fast-path", "full-scan"])
def test_an_empty_name_is_kept_and_a_lone_paren_is_not_a_name(extra: str) -> None:
    # libauparse 3.0.9 on this line: a=1, ""=x, ""=y, (d=4, f=5 ("(=" and "e=" have
    # no value and are dropped).
    body = f" a=1 =x (=y (= ((d=4 e= f=5{extra}"
    expected = [("a", "1"), ("", "x"), ("", "y"), ("(d", "4"), ("f", "5")]
    if extra:
        expected.append(("msg", "q"))
    assert split_fields(body, 1123) == expected


# ---- old-format LOGIN: old/new qualifiers (issue 14, point 3) ----------------------


def test_old_and_new_qualifiers_give_the_modern_names() -> None:
    record = parse_log_line(
        "type=LOGIN msg=audit(1300000000.100:78): login pid=6513 uid=0 old auid=4294967295 "
        "new auid=0 old ses=4294967295 new ses=3"
    )
    assert record.items == (
        ("pid", "6513"), ("uid", "0"), ("old-auid", "4294967295"), ("auid", "0"),
        ("old-ses", "4294967295"), ("ses", "3"),
    )  # fmt: skip
    assert record.raw_fields["auid"] == "0" and record.raw_fields["ses"] == "3"


def test_old_and_new_qualify_only_the_next_token() -> None:
    items = split_fields("old x new  y=1 old z=2 w=3 new", 1006)
    assert items == [("y", "1"), ("old-z", "2"), ("w", "3")]
    # In a user record's message too (the general path).
    assert split_fields("pid=1 msg='old a=1 b=2'", 1100) == [
        ("pid", "1"),
        ("old-a", "1"),
        ("b", "2"),
    ]


# ---- AVC key is an IPC key (issue 14, point 6) -------------------------------------


@pytest.mark.parametrize("key", ["1291864389", "0102", "(null)", "65786563013634626974"])
def test_avc_key_is_kept_as_logged(key: str) -> None:
    for kind in ("AVC", "USER_AVC"):
        record = parse_log_line(
            f"type={kind} msg=audit(1.000:1): avc:  denied  {{ create }} for  pid=1 "
            f"key={key}  scontext=a tcontext=b tclass=sem"
        )
        assert [v for n, v in record.items if n == "key"] == [key]
        assert record.raw_fields["key"] == key


def test_event_key_is_the_rule_key_not_the_ipc_key() -> None:
    avc = parse_log_line(
        "type=AVC msg=audit(1.000:1): avc:  denied  { create } for  pid=1 key=1291864389 tclass=sem"
    )
    syscall = parse_log_line('type=SYSCALL msg=audit(1.000:1): arch=c000003e key="ipc"')
    assert AuditEvent(1, 1.0, None, (avc, syscall)).key == "ipc"
    assert AuditEvent(1, 1.0, None, (avc,)).key is None


# ---- a hex multi-key with a stray quote (FINDINGS F4) ------------------------------


def test_hex_multi_key_with_a_stray_trailing_quote_is_split() -> None:
    record = parse_log_line(
        'type=SYSCALL msg=audit(1.000:1): exe="/bin/grep" key=65786563013634626974"'
    )
    assert [v for n, v in record.items if n == "key"] == ['"exec"', '"64bit"']
    assert AuditEvent(1, 1.0, None, (record,)).keys == ("exec", "64bit")
    odd = parse_log_line('type=SYSCALL msg=audit(1.000:1): key=6578656"')
    assert odd.items == (("key", '6578656"'),)  # not hex: kept as logged
