"""Drive the CPython binding (_core.parse_line, parse_lines, parse_kernel, split_fields,
Renderer.fields_json / event_json / events_json and their --raw forms, the records and
text formats (records_text, text_events), hand-built records with odd items, Reassembler,
Drain.take / drain, WakeTimer) over every real log and the synthetic corpus: what valgrind's
memcheck runs in fuzz/native/run.sh.

    PYTHONMALLOC=malloc valgrind --error-exitcode=1 .venv/bin/python fuzz/native/binding_corpora.py
"""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from tests.support.synthetic import synthetic_lines
from trioaudit._native import core
from trioaudit._output.formats import event_json, events_text
from trioaudit._records import parse  # noqa: F401  (configures the core)
from trioaudit._records.interpret import Interpreter
from trioaudit._records.model import AuditRecord
from trioaudit._records.reassembly import make_reassembler

assert core is not None, "the compiled core is not built"
root = Path(__file__).parents[2] / "tests" / "data"
lines = [line for log in sorted(root.glob("**/*.log")) for line in log.read_bytes().splitlines()]
lines += [text.encode("utf-8", "surrogateescape") for text in synthetic_lines()]
records = [r for r in core.parse_lines(lines) if r is not None]
for record in records:  # the same records as the kernel sends them (the live path)
    text = record.raw[record.raw.find("audit(") :].split("\x1d", 1)[0] + "\x00"
    core.parse_kernel(record.type, record.type_name, text, None)
pairs = sum(len(core.split_fields(line, bool(i & 1))) for i, line in enumerate(lines))
rendered = 0
for enrichment in (True, False):
    interpreter = Interpreter(use_enrichment=enrichment)
    rendered += sum(len(interpreter.fields_json(r)[0]) for r in records * 2)
events = 0
text = 0
for stamp_order, max_open in ((True, 1024), (False, 3)):
    reassembler = make_reassembler(stamp_order=stamp_order, max_open=max_open)
    done = reassembler.feed_records(records, None) + reassembler.flush_all()
    events += len(done)
    text += len(events_text(done)) + sum(len(event_json(e)) for e in done[:2000])
    for _ in range(2):  # --raw: memo misses first, then the memo's fragments
        text += len(events_text(done, raw=True))
    for fmt in ("records", "text"):  # cold memos, then warm; interpreted and --raw
        for raw in (False, False, True):
            text += len(events_text(done, fmt, raw=raw))  # type: ignore[arg-type]
# Records built by hand with items that are not (str, str) pairs: declined, never misread.
odd = [
    AuditRecord(1300, "SYSCALL", 1.0, 1, None, "x", items=items)  # type: ignore[arg-type]
    for items in (((1, 2),), (("uid", 0),), (("uid",),), ("uid=0",))
]
native = Interpreter().native_renderer
for record in odd:
    assert native.fields_json(record) is None
# The live path: every record as a kernel datagram (and runts, replies, foreign senders,
# bytes that are not UTF-8), through Drain.take and, over a real socket, Drain.drain.
header = struct.Struct("=IHHII")
datagrams: list[object] = []
for record in records:
    payload = record.raw[record.raw.find("audit(") :].split("\x1d", 1)[0]
    data = payload.encode("utf-8", "surrogateescape") + b"\x00"
    datagrams.append((header.pack(len(data), record.type, 0, 0, 0) + data, 0))
datagrams += [(b"", 0), (b"\x10", 0), (header.pack(0, 2, 0, 0, 0) + b"\0" * 4, 0)]
datagrams += [(header.pack(4, 1300, 0, 0, 0) + b"audit(1.0:1): \xff\xfe", 0), (b"x" * 40, 7)]


def declined(msg_type: int, payload: bytes) -> None:
    return None


drain = core.Drain(make_reassembler(), lambda number: f"T{number}", declined)
decoded = 0
for start in range(0, len(datagrams), 512):
    decoded += len(drain.take(datagrams[start : start + 512], start / 100)[0])
reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
reader.setblocking(False)
for data, _ in datagrams[:4000]:
    writer.send(data)  # type: ignore[index]
    decoded += len(drain.drain(reader.fileno(), 16, 99.0)[0])
reader.close()
writer.close()
# The reader's wake-up timer: armed, fired, cleared, re-armed at once, closed twice.
timer = core.WakeTimer()
for delay in (0.001, 0.0, -1.0, float("nan")):
    timer.arm(delay)
    timer.clear()
timer.close()
timer.close()
print(
    f"{len(lines)} lines, {len(records)} records built, {pairs} pairs split, "
    f"{rendered} characters of fields JSON, {events} events reassembled, "
    f"{text} characters of event text (json, records, text), {len(datagrams)} datagrams "
    f"drained into {decoded} events"
)
