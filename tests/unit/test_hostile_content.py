"""Hostile content without a kernel: the parser and the ``trioaudit parse`` command.

Audit logs are attacker-influenced. Each test feeds crafted records and
asserts that the text output is neutralised (only printable characters reach
the terminal), the JSON is valid and faithful, and nothing raises or takes
super-linear time:

* terminal escape sequences, C1 controls, bidi overrides and CR/LF inside
  values (the kernel hex-encodes them; auditd's ``msg='...'`` does not);
* bytes that are not UTF-8 and embedded NUL bytes;
* records at and beyond the size limits (the kernel's 8560-byte user text, an
  8970-byte auditd line, the parser's 64 KiB cap);
* an EXECVE record with thousands of arguments;
* a user message crafted to look like extra ``key=value`` pairs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trioaudit._output.formats import render_event
from trioaudit._records.model import AuditEvent
from trioaudit._records.parse import (
    MAX_RECORD_LENGTH,
    RecordParseError,
    parse_kernel_record,
    parse_log_line,
)
from trioaudit._records.reassembly import Reassembler

STAMP = "audit(1795714536.840:4771): "
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b[31m\r\n\x9b1m\u202e\u2028"
CLI = [sys.executable, "-m", "trioaudit.cli.main"]
#: The kernel keeps an EXECVE record's argument text under this many characters.
EXECVE_RECORD_TEXT = 7500
#: Seconds a hostile record may take to parse and render (it is linear, so this is generous).
TIME_LIMIT = 1.0


def events_of(*records: object) -> list[AuditEvent]:
    reassembler = Reassembler()
    events: list[AuditEvent] = []
    for record in records:
        events += reassembler.feed(record, 0.0)  # type: ignore[arg-type]
    return events + reassembler.flush_all()


def check_outputs(event: AuditEvent) -> dict:
    for raw in (False, True):
        text = render_event(event, "json", raw=raw)
        assert UNSAFE.search(text) is None
        json.loads(text.encode("utf-8"))
        for line in render_event(event, "text", raw=raw).split("\n"):
            assert line.isprintable(), line
    return json.loads(render_event(event, "json"))


def test_escape_sequences_in_a_user_message_are_neutralised_but_kept() -> None:
    # auditd writes a user message's text verbatim inside msg='...'.
    message = f'op=login acct="bob{ESCAPES}" res=failed'
    record = parse_log_line(f"type=USER_LOGIN msg={STAMP.strip()} pid=1 uid=0 msg='{message}'")
    (event,) = events_of(record)
    document = check_outputs(event)
    assert document["records"][0]["msg"] == message  # faithful: the JSON keeps every character
    text = render_event(event, "text")
    assert "[2J" in text and "\x1b" not in text  # shown escaped (libauparse's \\033), not acted on


def test_forged_fields_in_a_user_message_cannot_override_the_kernels() -> None:
    forged = 'pid=1 uid=0 auid=0 ses=1 op=PAM:authentication acct="root" res=success'
    body = f"pid=4242 uid=1000 auid=1000 ses=7 msg='{forged}' extra=1"
    record = parse_kernel_record(1100, STAMP + body)
    (event,) = events_of(record)
    assert (record.raw_fields["pid"], record.raw_fields["uid"]) == ("4242", "1000")
    assert (record.raw_fields["auid"], record.raw_fields["ses"]) == ("1000", "7")
    assert event.pid == 4242
    document = check_outputs(event)
    assert document["records"][0]["msg"] == forged
    assert document["records"][0]["fields"]["pid"] == "4242"


def test_a_message_closing_its_own_quote_stays_inside_msg() -> None:
    forged = "x' pid=1 uid=0 res=success msg='"
    body = f"pid=4242 uid=1000 auid=1000 ses=7 msg='{forged}'"
    record = parse_kernel_record(1100, STAMP + body)
    assert record.raw_fields["pid"] == "4242" and record.raw_fields["uid"] == "1000"
    check_outputs(events_of(record)[0])


def test_invalid_utf8_and_nul_bytes_round_trip() -> None:
    payload = (STAMP + 'pid=1 comm="ok" ').encode() + b"name=\xff\xfe\x00\xc3\x28 msg='a\x00b'\0\0"
    record = parse_kernel_record(1302, payload)
    (event,) = events_of(record)
    check_outputs(event)
    assert record.raw.encode("utf-8", "surrogateescape") == payload.rstrip(b"\0")


@pytest.mark.parametrize("size", [8560, 8970, MAX_RECORD_LENGTH - 100])
def test_records_up_to_the_limits_parse_and_render_in_linear_time(size: int) -> None:
    head = STAMP + "pid=1 uid=0 msg='"
    text = head + ("A" * 50 + " k=v ") * ((size - len(head)) // 55) + "'"
    started = time.perf_counter()
    record = parse_kernel_record(1100, text)
    (event,) = events_of(record)
    check_outputs(event)
    assert time.perf_counter() - started < TIME_LIMIT


def test_records_beyond_the_parser_cap_are_refused_not_truncated() -> None:
    with pytest.raises(RecordParseError):
        parse_kernel_record(1100, STAMP + "x=" + "A" * MAX_RECORD_LENGTH)
    with pytest.raises(RecordParseError):
        parse_log_line(f"type=USER msg={STAMP.strip()} x=" + "A" * MAX_RECORD_LENGTH)


def test_execve_with_thousands_of_arguments() -> None:
    count = 5000
    args = [
        f"arg{i}".encode() if i % 7 else f"\x1b[{i}m\xff".encode("latin-1") for i in range(count)
    ]
    parts = [f"argc={count}"]
    for index, arg in enumerate(args):
        plain = all(0x21 <= b <= 0x7E and b != 0x22 for b in arg)
        parts.append(f'a{index}="{arg.decode()}"' if plain else f"a{index}={arg.hex().upper()}")
    # Like the kernel: argc in the first record, arguments spread over records of
    # at most EXECVE_RECORD_TEXT characters, all with the same stamp.
    records_text: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + 1 + len(part) > EXECVE_RECORD_TEXT:
            records_text.append(current)
            current = ""
        current = f"{current} {part}" if current else part
    records_text.append(current)
    started = time.perf_counter()
    records = [parse_kernel_record(1309, STAMP + text) for text in records_text]
    (event,) = events_of(*records)
    assert len(event.records) == len(records_text) > 5
    assert event.argv is not None
    assert [arg.encode("utf-8", "surrogateescape") for arg in event.argv] == args
    document = check_outputs(event)
    assert len(document["records"][0]["argv"]) == count
    assert time.perf_counter() - started < 5 * TIME_LIMIT


def test_parse_command_output_is_neutralised_and_valid(tmp_path: Path) -> None:
    evil = (ESCAPES.encode() + b"\xff").hex().upper()
    log = tmp_path / "audit.log"
    log.write_bytes(
        (
            f"type=SYSCALL msg={STAMP.strip()} arch=c000003e syscall=59 success=yes exit=0 "
            f"pid=1 uid=0 comm={evil} exe={evil} key={evil}\n"
            f'type=EXECVE msg={STAMP.strip()} argc=2 a0={evil} a1="ok"\n'
            "type=USER_LOGIN msg=audit(1795714536.841:4772): pid=1 uid=0 "
            f"msg='op=x acct=\"{ESCAPES}\"'\n"
            f"type=EOE msg={STAMP.strip()}\n"
        ).encode()
        + b"type=USER msg=audit(1795714536.842:4773): pid=1 msg='\xff\xfe\x1b[5m'\n"
    )
    env = {**os.environ, "TZ": "UTC"}
    for fmt in ("json", "records", "text"):
        result = subprocess.run(
            [*CLI, "parse", "--format", fmt, str(log)], capture_output=True, env=env, timeout=60
        )
        assert result.returncode == 0, result.stderr
        out = result.stdout.decode("utf-8")  # valid UTF-8
        lines = out.split("\n")
        assert len(lines) > 2
        for line in lines:
            assert UNSAFE.search(line) is None, line
            if fmt != "text" and line:
                json.loads(line)
        assert b"Traceback" not in result.stderr
