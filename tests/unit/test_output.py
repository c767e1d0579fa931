"""Formatters: JSON validity whatever the bytes, terminal safety of text output."""

from __future__ import annotations

import json
from pathlib import Path

from trioaudit import parse_log
from trioaudit._output.formats import json_dumps, neutralise, render_event
from trioaudit._records.model import AuditEvent
from trioaudit._records.parse import parse_log_line

DATA = Path(__file__).parents[1] / "data"


def evil_event():  # type: ignore[no-untyped-def]
    comm = b"ev\x1b[31mil\xff\xc3".hex().upper()
    lines = [
        f"type=SYSCALL msg=audit(1795714536.840:4771): arch=c000003e syscall=59 success=yes "
        f"exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=2 auid=0 uid=0 comm={comm} exe={comm}",
        f'type=EXECVE msg=audit(1795714536.840:4771): argc=2 a0={comm} a1="x"',
        "type=PROCTITLE msg=audit(1795714536.840:4771): proctitle=E280AE6162630A",
    ]
    return next(iter(parse_log(lines)))


def test_json_event_shape_and_validity() -> None:
    event = evil_event()
    for raw in (False, True):
        text = render_event(event, "json", raw=raw)
        text.encode("utf-8")  # valid UTF-8, strictly
        data = json.loads(text)
        assert data["timestamp"] == "2026-11-26T17:35:36.840Z"
        assert data["sequence"] == 4771
        assert data["node"] is None
        assert [r["type"] for r in data["records"]] == ["SYSCALL", "EXECVE", "PROCTITLE"]
    data = json.loads(render_event(event, "json"))
    assert data["records"][0]["fields"]["syscall"] == "execve"
    assert data["records"][1]["argv"] == ["ev\x1b[31mil\\xff\\xc3", "x"]
    raw = json.loads(render_event(event, "json", raw=True))
    assert raw["records"][0]["fields"]["comm"] == "ev\x1b[31mil\\xff\\xc3"


def test_json_dumps_of_lone_surrogates() -> None:
    assert json.loads(json_dumps({"a": "x\udcff"})) == {"a": "x\\xff"}
    assert json_dumps("plain") == '"plain"'


def test_records_format_is_one_flat_record_per_line() -> None:
    lines = render_event(evil_event(), "records").splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert first["record_type"] == "SYSCALL"
    assert first["record_type_number"] == 1300
    assert first["data"]["arch"] == "x86_64"


def test_text_output_has_no_control_characters() -> None:
    for raw in (False, True):
        text = render_event(evil_event(), "text", raw=raw)
        lines = text.split("\n")
        assert lines[0] == "----"
        assert len(lines) == 4
        for line in lines:
            assert line.isprintable(), repr(line)
            assert "\u202e" not in line
        assert lines[1].startswith("type=PROCTITLE msg=audit(")  # last record first
        assert lines[3].startswith("type=SYSCALL msg=audit(")


def test_neutralise() -> None:
    assert neutralise("a\x1b[0m\x7f\x85\u202e\udcffb") == "a\\x1b[0m\\x7f\\x85\\u202e\\xffb"
    assert neutralise("ünïcode ok") == "ünïcode ok"


def test_every_corpus_event_renders_in_every_format() -> None:
    with open(DATA / "audit_enriched.log", "rb") as lines:
        for event in parse_log(lines):
            for fmt in ("json", "records", "text"):
                for raw in (False, True):
                    out = render_event(event, fmt, raw=raw)  # type: ignore[arg-type]
                    out.encode("utf-8")
                    if fmt != "text":
                        for line in out.splitlines():
                            json.loads(line)


def test_record_parse_then_dict_roundtrip() -> None:
    record = parse_log_line('type=CWD msg=audit(1.000:1): cwd="/root"')
    assert record.to_dict() == {"type": "CWD", "fields": {"cwd": "/root"}}


def test_several_keys_are_listed() -> None:
    joined = b"k1\x01k2".hex().upper()
    record = parse_log_line(f"type=SYSCALL msg=audit(1.000:1): arch=c000003e key={joined}")
    out = record.to_dict()
    assert out["fields"]["key"] == "k1"
    assert out["keys"] == ["k1", "k2"]


# ---- a repeated field name keeps every value (issue #14, point 3) -----------------

#: auditd's DAEMON_START names its own pid, then the sender's; a USER_LOGIN's message
#: repeats uid. libauparse's find_field (and "fields") gives the first of each.
REPEATED = [
    "type=DAEMON_START msg=audit(1700000000.000:5): op=start ver=3.0.9 pid=2166 uid=0 auid=0"
    " ses=1 res=success auditd pid=21 pid=7",
    "type=USER_LOGIN msg=audit(1700000000.000:5): pid=5 uid=0 auid=0 ses=1 msg='uid=0:"
    ' exe="/usr/sbin/sshd" res=success\'',
]


def test_json_keeps_the_later_values_of_a_repeated_name() -> None:
    daemon, login = (parse_log_line(line) for line in REPEATED)
    event = AuditEvent(5, 1700000000.0, None, (daemon, login))
    records = json.loads(render_event(event, "json"))["records"]
    assert records[0]["fields"]["pid"] == "2166"
    assert records[0]["repeated"] == {"pid": ["21", "7"]}
    assert records[1]["fields"]["uid"] == "root"
    assert records[1]["repeated"] == {"uid": ["root"]}
    assert list(records[1]) == ["type", "fields", "repeated", "msg"]
    raw = json.loads(render_event(event, "json", raw=True))["records"]
    assert raw[0]["repeated"] == {"pid": ["21", "7"]} and raw[1]["repeated"] == {"uid": ["0"]}


def test_records_format_keeps_the_later_values_of_a_repeated_name() -> None:
    event = AuditEvent(5, 1700000000.0, None, (parse_log_line(REPEATED[0]),))
    for raw in (False, True):
        (line,) = render_event(event, "records", raw=raw).split("\n")
        data = json.loads(line)
        assert data["data"]["pid"] == "2166"
        assert data["repeated"] == {"pid": ["21", "7"]}


def test_no_repeated_member_without_a_repeated_name() -> None:
    record = parse_log_line('type=CWD msg=audit(1.000:1): cwd="/root"')
    event = AuditEvent(1, 1.0, None, (record,))
    assert "repeated" not in render_event(event, "json")
    assert "repeated" not in render_event(event, "records")
    # Several rule keys are listed in "keys", not again under "repeated".
    joined = b"k1\x01k2".hex().upper()
    keyed = parse_log_line(f"type=SYSCALL msg=audit(1.000:1): arch=c000003e key={joined}")
    assert "repeated" not in keyed.to_dict() and "repeated" not in keyed.to_dict(raw=True)
