"""Fuzz the record parser, interpretation, filter and formatters.

Arbitrary bytes, as a kernel payload and as an audit.log line, may only raise
RecordParseError; whatever parses must interpret, reassemble and render (JSON
that is valid UTF-8 and parses back; text without control characters).

Run: ``.venv/bin/python fuzz/fuzz_records.py -atheris_runs=1000000``
"""

from __future__ import annotations

import json
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["trioaudit"]):
    from trioaudit._output.filter import FilterSyntaxError, compile_filter
    from trioaudit._output.formats import render_event
    from trioaudit._records.model import AuditEvent
    from trioaudit._records.parse import RecordParseError, parse_kernel_record, parse_log_line
    from trioaudit._records.reassembly import Reassembler

import contextlib

from _common import run

_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "audit_enriched.log"


def test_one_input(data: bytes) -> None:
    records = []
    with contextlib.suppress(RecordParseError):
        records.append(parse_kernel_record(1300 + data[0] if data else 1300, data[1:]))
    with contextlib.suppress(RecordParseError):
        records.append(parse_log_line(data))
    reassembler = Reassembler(max_open=2)
    events: list[AuditEvent] = []
    for record in records:
        dict(record.raw_fields)
        dict(record.fields)
        events.extend(reassembler.feed(record, 0.0))
    events.extend(reassembler.flush_all())
    for event in events:
        json.loads(render_event(event, "json").encode("utf-8"))
        for line in render_event(event, "text").splitlines():
            assert line.isprintable(), line
    try:
        predicate = compile_filter(data.decode("utf-8", "replace")[:200])
    except FilterSyntaxError:
        return
    for event in events:
        predicate(event)


if __name__ == "__main__":
    run("records", test_one_input, _CORPUS.read_bytes().splitlines()[:50])
