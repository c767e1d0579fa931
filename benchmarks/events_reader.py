"""A minimal trio application reading ``client.events()``, for the drain benchmark.

Registers as the audit daemon (unicast), counts events, their records and the
syscall events among them (the storm's), and
appends a progress line to OUT every PROGRESS_EVERY events (so the orchestrator
sees it still draining). Interrupted with SIGINT, it leaves the client cleanly
(unregistering its pid) and prints ``events=<n> records=<n> keyed=<n> last=<monotonic>``.

usage: python events_reader.py OUT
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
#: Events between two progress lines.
PROGRESS_EVENTS = 1024


async def main(out: TextIO) -> None:
    events = records = keyed = 0
    last = 0.0
    try:
        async with (
            trioaudit.open_audit_client(mode="unicast") as client,
            client.events() as stream,
        ):
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


if __name__ == "__main__":
    with open(sys.argv[1], "w") as progress, contextlib.suppress(KeyboardInterrupt):
        trio.run(main, progress)
