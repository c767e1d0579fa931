"""The channels :meth:`AuditClient.records` and :meth:`AuditClient.open_events` hand out.

Both are :class:`~trioaudit._trio.batching.BatchingReceiveChannel` objects (the
hot path: a plain ``async for`` keeps up with the socket reader) that also
answer ``statistics()``, in the spirit of trio's
``MemoryReceiveChannel.statistics()``: a frozen snapshot of counters, so a
consumer can tell what it missed without reaching into the client.

The counters themselves are written by the producers -- the client's reader
task (:class:`RecordCounters`; :class:`EventCounters` with the event stream's
timer) -- and only read here.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from .._records.model import AuditEvent, KernelRecord
from .._records.reassembly import Reassembler, ReassemblerStatistics
from .batching import BatchingReceiveChannel

__all__ = [
    "EventCounters",
    "EventStream",
    "EventStreamStatistics",
    "RecordCounters",
    "RecordStream",
    "RecordStreamStatistics",
]


@dataclass(slots=True)
class RecordCounters:
    """What the client's reader did with the records it received (it alone writes these)."""

    received: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class RecordStreamStatistics:
    """Counters of a client's record queue.

    Attributes:
        received: Records the reader took off the socket, since the client opened.
        dropped: Records dropped because the queue was full (the consumer fell
            behind) -- client side, not counted in the kernel's ``lost``.
        queued: Records waiting for the consumer right now.
        queue_size: The queue's capacity (``queue_size`` of ``open_audit_client``).
    """

    received: int
    dropped: int
    queued: int
    queue_size: int


class RecordStream(BatchingReceiveChannel[KernelRecord]):
    """Raw audit records as the kernel sent them (:class:`~trioaudit.KernelRecord`).

    What ``async with client.records() as records`` gives: a trio
    ``ReceiveChannel`` (``async for``, ``receive()``, ``receive_nowait()``)
    plus :meth:`receive_batch` and :meth:`statistics`. One stream per client,
    fed by its reader task whether or not it is open, so records that arrived
    before ``records()`` was entered are waiting in it.
    """

    def __init__(
        self, inner: trio.MemoryReceiveChannel[KernelRecord], counters: RecordCounters
    ) -> None:
        super().__init__(inner)
        self._counters = counters

    def statistics(self) -> RecordStreamStatistics:
        """A snapshot of the queue's counters."""
        queued, queue_size = self._queue_state()
        return RecordStreamStatistics(
            received=self._counters.received,
            dropped=self._counters.dropped,
            queued=queued,
            queue_size=queue_size,
        )


@dataclass(slots=True)
class EventCounters:
    """What the live event path did (the client's reader and the stream's timer write these)."""

    records: int = 0
    unparsable: int = 0
    events: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class EventStreamStatistics:
    """Counters of one event stream.

    Attributes:
        records: Records the stream's event path took (from the socket, and those
            already waiting in the client's record queue when it opened).
        unparsable: Records skipped because they did not parse (each logged).
        events: Events completed and queued for the consumer.
        dropped: Completed events dropped because the queue was full (the
            consumer fell behind); their records count in the client's
            ``records_dropped``.
        queued: Events waiting for the consumer right now.
        queue_size: The event queue's capacity.
        reassembly: The reassembler's counters (open events, completions by
            EOE / timeout / eviction, serial gaps...).
    """

    records: int
    unparsable: int
    events: int
    dropped: int
    queued: int
    queue_size: int
    reassembly: ReassemblerStatistics


class EventStream(BatchingReceiveChannel[AuditEvent]):
    """Parsed, reassembled audit events (:class:`~trioaudit.AuditEvent`).

    What ``async with client.open_events() as events`` gives: a trio
    ``ReceiveChannel`` plus :meth:`receive_batch` and :meth:`statistics`.
    The counters stay readable after the stream closed (its final figures).
    """

    def __init__(
        self,
        inner: trio.MemoryReceiveChannel[AuditEvent],
        counters: EventCounters,
        reassembler: Reassembler,
    ) -> None:
        super().__init__(inner)
        self._counters = counters
        self._reassembler = reassembler

    def complete_open_events(self) -> list[AuditEvent]:
        """Complete every event still open (waiting for its EOE or its timeout) and
        return them, in order: for a consumer that is stopping and must not lose the
        records it already received (``trioaudit daemon`` on SIGTERM). The events
        queued in the channel are not among them: read those first."""
        return self._reassembler.flush_all()

    def statistics(self) -> EventStreamStatistics:
        """A snapshot of the stream's and its reassembler's counters."""
        queued, queue_size = self._queue_state()
        counters = self._counters
        return EventStreamStatistics(
            records=counters.records,
            unparsable=counters.unparsable,
            events=counters.events,
            dropped=counters.dropped,
            queued=queued,
            queue_size=queue_size,
            reassembly=self._reassembler.statistics(),
        )
