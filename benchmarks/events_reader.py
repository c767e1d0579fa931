"""A minimal trio application reading ``client.open_events()``, for the drain benchmark.

Registers as the audit daemon (unicast), counts events, their records and the
syscall events among them (the storm's), and
appends a progress line to OUT every PROGRESS_EVERY events (so the orchestrator
sees it still draining). Interrupted with SIGINT, it leaves the client cleanly
(unregistering its pid) and prints ``events=<n> records=<n> keyed=<n> last=<monotonic>``.

With ``records`` as second argument it reads ``client.records()`` instead (raw
records, no parsing): the transport's own ceiling; ``records-batched`` does the
same taking every queued record per wakeup.

usage: python events_reader.py OUT [events|records|records-batched]
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import TextIO

import trio

import trioaudit

#: The storm's events are syscall events; counted apart from other traffic.
SYSCALL = 1300
#: The benchmark rule's key as it appears in a storm event's SYSCALL record.
KEY_MARK = 'key="trioaudit-bench"'
#: Events between two progress lines.
PROGRESS_EVENTS = 1024


async def main(out: TextIO, what: str) -> None:
    if what in ("records", "records-batched"):
        await count_records(out, batched=what == "records-batched")
        return
    events = records = keyed = 0
    last = 0.0
    client_: trioaudit.AuditClient | None = None
    try:
        async with (
            trioaudit.open_audit_client(mode="unicast") as client,
            client.open_events() as stream,
        ):
            client_ = client
            async for event in stream:
                events += 1
                records += len(event.records)
                if any(record.type == SYSCALL for record in event.records):
                    keyed += 1
                last = time.monotonic()
                if events % PROGRESS_EVENTS == 0:
                    out.write(f"{events}\n")
                    out.flush()
    finally:
        print(f"events={events} records={records} keyed={keyed} last={last:.6f}", flush=True)
        _report_statistics(client_)


async def count_records(out: TextIO, *, batched: bool) -> None:
    """The transport alone: raw records from ``client.records()``, not parsed.

    ``batched`` takes everything queued per wakeup (``receive_nowait``);
    unbatched takes one ``receive()`` per step, which the client's
    ``RecordStream`` serves from its buffer (a scheduler yield every
    256 records; with a plain trio memory channel it was one round per record).
    """
    records = keyed = 0
    last = 0.0
    client_: trioaudit.AuditClient | None = None
    try:
        async with (
            trioaudit.open_audit_client(mode="unicast") as client,
            client.records() as stream,
        ):
            client_ = client
            while True:
                try:
                    batch = [await stream.receive()]
                except trio.EndOfChannel:
                    break
                while batched:
                    try:
                        batch.append(stream.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                for record in batch:
                    records += 1
                    if record.type == SYSCALL and KEY_MARK in record.text:
                        keyed += 1
                last = time.monotonic()
                out.write(f"{records}\n")
                out.flush()
    finally:
        print(f"events=0 records={records} keyed={keyed} last={last:.6f}", flush=True)
        _report_statistics(client_)


def _report_statistics(client: trioaudit.AuditClient | None) -> None:
    """The client's own loss counters, on stderr (the benchmark shows them as notes)."""
    if client is None:
        return
    stats = client.statistics()
    print(
        f"client: {stats.records_received} received, {stats.records_dropped} dropped "
        f"(queue full), {stats.overflows} overflows (ENOBUFS)",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    with open(sys.argv[1], "w") as progress, contextlib.suppress(KeyboardInterrupt):
        trio.run(main, progress, sys.argv[2] if len(sys.argv) > 2 else "events")
