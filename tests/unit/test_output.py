"""Formatters: JSON validity whatever the bytes, terminal safety of text output."""

from __future__ import annotations

import json
from pathlib import Path

from trioaudit import parse_log
from trioaudit._output.formats import json_dumps, neutralise, render_event
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
