"""Turn a channel of raw kernel records into a channel of reassembled events.

Theory of operation
===================

This is the trio glue between :meth:`AuditClient.records` and the sans-IO
parser and :class:`~trioaudit._records.reassembly.Reassembler`.
:func:`open_event_stream` opens a nursery with one task,
:func:`assemble_events`, which:

* takes the records already queued (one ``receive`` then ``receive_nowait``,
  at most :data:`RECORDS_PER_TURN`), parses each, and feeds it to the
  reassembler with the trio clock as ``now``; then yields to the scheduler.
  The cap matters under a flood: all tasks share one thread, and a turn that
  parsed the whole queue (tens of thousands of records, most of a second)
  would keep the socket reader from running that long -- the kernel's socket
  buffer would overflow and the kernel, not this process, would lose records;
* sleeps no longer than the reassembler's next deadline, so events that never
  get an EOE (``CONFIG_CHANGE``, records outside a syscall) come out
  ``timeout`` seconds after their last record, not when traffic resumes;
* hands completed events over with ``send_nowait`` while the channel has room
  and a blocking ``send`` only when it is full: if the consumer is slow, this
  task waits, the client's bounded record queue fills, and the reader counts
  drops there. The reader itself never waits.

Records that do not parse are counted and logged, never fatal. When the
record channel ends (the client closed), open events are flushed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import AsyncIterator

import trio

from .._records.model import AuditEvent, KernelRecord
from .._records.parse import RecordParseError, parse_kernel_record
from .._records.reassembly import Reassembler
from .batching import BatchingReceiveChannel
from .streams import EventCounters, EventStream

__all__ = ["RECORDS_PER_TURN", "assemble_events", "open_event_stream"]

#: Most records parsed between two checkpoints (about a millisecond of work at
#: the measured parse rate; the reader drains up to 2048 datagrams per turn).
RECORDS_PER_TURN = 256

log = logging.getLogger("trioaudit")


@contextlib.asynccontextmanager
async def open_event_stream(
    records: BatchingReceiveChannel[KernelRecord],
    reassembler: Reassembler,
    *,
    queue_size: int,
    parse_fields: bool = True,
) -> AsyncIterator[EventStream]:
    """Run :func:`assemble_events` over *records* in a nursery; yield its :class:`EventStream`.

    Leaving the block stops the task; the stream's counters stay readable.
    """
    send, receive = trio.open_memory_channel[AuditEvent](queue_size)
    counters = EventCounters()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            functools.partial(
                assemble_events, records, send, reassembler, counters, parse_fields=parse_fields
            ),
            name="trioaudit event assembly",
        )
        try:
            yield EventStream(receive, counters, reassembler)
        finally:
            nursery.cancel_scope.cancel("event stream closed")


async def assemble_events(
    records: BatchingReceiveChannel[KernelRecord] | trio.MemoryReceiveChannel[KernelRecord],
    events: trio.MemorySendChannel[AuditEvent],
    reassembler: Reassembler,
    stats: EventCounters,
    *,
    parse_fields: bool = True,
) -> None:
    """Parse and reassemble until *records* ends; then flush and close *events*."""
    async with events:
        while True:
            deadline = reassembler.next_deadline()
            batch: list[KernelRecord] = []
            with trio.move_on_at(math.inf if deadline is None else deadline):
                try:
                    batch.append(await records.receive())
                except trio.EndOfChannel:
                    break
            while len(batch) < RECORDS_PER_TURN:
                try:
                    batch.append(records.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            now = trio.current_time()
            completed: list[AuditEvent] = []
            for record in batch:
                stats.records += 1
                try:
                    parsed = parse_kernel_record(record.type, record.text, fields=parse_fields)
                except RecordParseError as exc:
                    stats.unparsable += 1
                    log.warning("skipped an unparsable %s record: %s", record.type_name, exc)
                    continue
                completed += reassembler.feed(parsed, now)
            completed += reassembler.flush_expired(now)
            await _deliver(events, completed, stats)
        await _deliver(events, reassembler.flush_all(), stats)


async def _deliver(
    events: trio.MemorySendChannel[AuditEvent],
    completed: list[AuditEvent],
    stats: EventCounters,
) -> None:
    """Hand events over without a scheduler round each while the consumer has room.

    ``await send()`` per event costs one trio checkpoint per event, and under a
    flood that alone starves the pipeline (measured in docs/benchmarks.md);
    ``send_nowait`` fills the channel's free space at once and only a full
    channel makes this task wait (backpressure).
    """
    for event in completed:
        try:
            events.send_nowait(event)
        except trio.WouldBlock:
            await events.send(event)
        stats.events += 1
    await trio.lowlevel.checkpoint()
