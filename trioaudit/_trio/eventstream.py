"""From kernel datagrams to a channel of reassembled events: the live event path.

Theory of operation
===================

While :meth:`AuditClient.open_events` is open, the client's reader task hands every
batch of datagrams it receives to the stream's :class:`EventFeed`, which parses the
records, feeds them to the reassembler and queues the events that completed -- all
in that one turn of the reader, with no per-record object between the socket and the
parser and no task switch in between. The events go into a **bounded** memory
channel with ``send_nowait``: the reader never waits for the consumer (a blocked
reader lets the kernel's queue fill, and the kernel then drops records or stalls
audited processes); an event that does not fit is dropped and counted, its records
in the client's ``records_dropped`` and the event in the stream's ``dropped``.

The decoding itself -- datagrams in, events and the non-record traffic out -- is
sans-IO, with two implementations of one contract:

* :class:`DatagramDecoder`, the reference in Python: the rules of
  :func:`~trioaudit._wire.netlink.record_of_datagram`,
  :func:`~trioaudit._wire.netlink.record_text` and
  :func:`~trioaudit._records.parse.parse_kernel_record`, then
  :meth:`Reassembler.feed <trioaudit._records.reassembly.Reassembler.feed>`;
* the compiled core's ``Drain`` (``trioaudit/_native/live.c``), which also reads the
  socket itself: one C call per wake-up reads, parses and reassembles everything the
  socket holds (up to a batch), so the Python work left is per batch, not per record.

:func:`make_datagram_decoder` picks the core's when it is there;
``tests/unit/test_native_drain.py`` feeds both the same datagrams and compares every
event. Replies, ACKs and anything else that is not a kernel record come back to the
reader in arrival order for the :class:`~trioaudit._wire.protocol.AuditProtocol`.

Events that never get an EOE (``CONFIG_CHANGE``, records outside a syscall) are
completed by the stream's timer task ``timeout`` seconds after their last record,
not when traffic resumes: it sleeps until the reassembler's next deadline, and the
reader wakes it when records arrive while it has none. When the client closes, the
open events are completed and queued (as far as there is room) and the channel ends.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import NamedTuple

import trio

from .._native import core
from .._records.model import AuditEvent, AuditRecord, KernelRecord
from .._records.parse import (
    RecordParseError,
    parse_kernel_record,
    reference_parse_kernel_record,
)
from .._records.reassembly import Reassembler
from .._records.values import type_name
from .._tables.msgtypes import AuditMessageType
from .._wire.netlink import record_of_datagram, record_text
from .streams import EventCounters, EventStream, RecordCounters
from .transport import Datagram, Overflow

__all__ = [
    "DatagramDecoder",
    "DecodedBatch",
    "EventFeed",
    "make_datagram_decoder",
    "open_event_stream",
]

log = logging.getLogger("trioaudit")

_REPLACE = int(AuditMessageType.REPLACE)


class DecodedBatch(NamedTuple):
    """What decoding one batch of datagrams gave.

    Attributes:
        events: Events the batch's records completed, in completion order.
        others: Everything that was not a kernel record -- ``(bytes, sender)``
            datagrams for the protocol, and the transport's :class:`Overflow`
            markers -- in arrival order.
        datagrams: Datagrams decoded (records and others alike).
        bytes: Their size in bytes.
        overflows: ``ENOBUFS`` reported while the core read the socket itself.
        records: Audit records among them (``AUDIT_REPLACE`` probes not counted).
        full: The core read as many datagrams as it was allowed: more may wait.
        error: An errno the core's read stopped on (0: none); the batch's events
            were taken before it.
    """

    events: list[AuditEvent]
    others: list[Datagram | Overflow]
    datagrams: int
    bytes: int
    overflows: int
    records: int
    full: bool
    error: int


class DatagramDecoder:
    """The reference decoder: datagrams in, reassembled events out, in Python.

    Args:
        reassembler: Where the records go.
        parse: ``parse(type, payload)``: the record, or ``None`` for one that does
            not parse (the function counts and logs it).
    """

    def __init__(
        self, reassembler: Reassembler, parse: Callable[[int, bytes], AuditRecord | None]
    ) -> None:
        self._reassembler = reassembler
        self._parse = parse

    def take(self, items: Sequence[Datagram | Overflow], clock: float) -> DecodedBatch:
        """Decode datagrams already received (see :class:`DecodedBatch`)."""
        events: list[AuditEvent] = []
        others: list[Datagram | Overflow] = []
        datagrams = size = records = 0
        feed = self._reassembler.feed
        for item in items:
            if not (
                isinstance(item, tuple)
                and len(item) == 2
                and isinstance(item[0], bytes)
                and isinstance(item[1], int)
                and item[1] >= 0
            ):
                others.append(item)  # an Overflow marker, or something for the protocol
                continue
            data, sender = item
            datagrams += 1
            size += len(data)
            record = record_of_datagram(data) if sender == 0 else None
            if record is None:
                others.append(item)
                continue
            msg_type, payload = record
            if msg_type == _REPLACE:
                continue  # the kernel probing whether we are alive; its payload is a pid
            records += 1
            parsed = self._parse(msg_type, payload)
            if parsed is not None:
                events += feed(parsed, clock)
        return DecodedBatch(events, others, datagrams, size, 0, records, False, 0)


class NativeDatagramDecoder:
    """The compiled core's decoder (``_core.Drain``), which can also read the socket."""

    def __init__(
        self, reassembler: Reassembler, parse: Callable[[int, bytes], AuditRecord | None]
    ) -> None:
        assert core is not None
        self._drain = core.Drain(reassembler, type_name, parse)

    def take(self, items: Sequence[Datagram | Overflow], clock: float) -> DecodedBatch:
        """Decode datagrams already received (see :class:`DecodedBatch`)."""
        return DecodedBatch._make(self._drain.take(items, clock))

    def drain(self, fd: int, max_batch: int, clock: float) -> DecodedBatch:
        """Read the non-blocking socket *fd* until it is empty or *max_batch* datagrams."""
        return DecodedBatch._make(self._drain.drain(fd, max_batch, clock))


def make_datagram_decoder(
    reassembler: Reassembler,
    parse: Callable[[int, bytes], AuditRecord | None],
    *,
    parse_fields: bool = True,
) -> DatagramDecoder | NativeDatagramDecoder:
    """The core's decoder when it is there (and the reassembler is the core's too)."""
    if core is not None and parse_fields and isinstance(reassembler, core.Reassembler):
        return NativeDatagramDecoder(reassembler, parse)
    return DatagramDecoder(reassembler, parse)


class EventFeed:
    """The live event path's state: what the client's reader hands each batch to.

    Owned by one :class:`EventStream`; the reader calls :meth:`deliver` and
    :meth:`take_record` (never waiting), the stream's timer task
    :func:`expire_events`, and the client :meth:`finish` when it closes.
    """

    def __init__(
        self,
        send: trio.MemorySendChannel[AuditEvent],
        reassembler: Reassembler,
        counters: EventCounters,
        record_counters: RecordCounters,
        *,
        parse_fields: bool = True,
    ) -> None:
        self._send = send
        self.reassembler = reassembler
        self.counters = counters
        self._record_counters = record_counters
        self._parse_fields = parse_fields
        self.decoder = make_datagram_decoder(
            reassembler, self._parse_declined, parse_fields=parse_fields
        )
        #: Set by the reader when records arrive while the timer has no deadline.
        self.activity = trio.Event()
        self.timer_idle = False
        self.finished = False

    # ---- parsing ---------------------------------------------------------------
    def _parse(
        self, msg_type: int, text: str, parse: Callable[..., AuditRecord]
    ) -> AuditRecord | None:
        """*parse* the record, or count and log it unparsable (``None``)."""
        try:
            return parse(msg_type, text, fields=self._parse_fields)
        except RecordParseError as exc:
            self.counters.unparsable += 1
            log.warning("skipped an unparsable %s record: %s", type_name(msg_type), exc)
            return None

    def _parse_declined(self, msg_type: int, payload: bytes) -> AuditRecord | None:
        """The decoders' hook: the reference parser, for what the core declines."""
        return self._parse(msg_type, record_text(payload), reference_parse_kernel_record)

    def _wake_timer(self) -> None:
        """Records arrived: the timer, if it waits with no deadline, has one to compute --
        unless every event they began is complete already (the common case: EOE or a
        single record), which spares a scheduler round per batch."""
        if self.timer_idle and self.reassembler.next_deadline() is not None:
            self.timer_idle = False
            self.activity.set()

    # ---- what the reader calls ---------------------------------------------------
    def account(self, decoded: DecodedBatch) -> None:
        """Count a decoded batch's records and queue its events."""
        self.counters.records += decoded.records
        self._record_counters.received += decoded.records
        if decoded.records:
            self._wake_timer()
        self.deliver(decoded.events)

    def take_record(self, msg_type: int, payload: bytes, clock: float) -> None:
        """A record that came through the protocol's slow path (not a plain datagram)."""
        if msg_type != _REPLACE:
            self._record_counters.received += 1
            self._take_text(msg_type, record_text(payload), clock)

    def _take_text(self, msg_type: int, text: str, clock: float) -> None:
        self.counters.records += 1
        record = self._parse(msg_type, text, parse_kernel_record)
        if record is not None:
            self.deliver(self.reassembler.feed(record, clock))
            self._wake_timer()

    def deliver(self, events: list[AuditEvent]) -> None:
        """Queue *events* for the consumer; drop (counted) what does not fit. Never waits."""
        if not events:
            return
        send = self._send.send_nowait
        counters = self.counters
        for event in events:
            try:
                send(event)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                # Full: the consumer is behind. Broken/closed: it left while the
                # batch in hand was being applied. Counted, never a crash.
                counters.dropped += 1
                self._record_counters.dropped += len(event.records)
                continue
            counters.events += 1

    def absorb(self, queued: list[KernelRecord], clock: float) -> None:
        """Feed records that waited in the client's record queue before the stream opened."""
        for record in queued:  # counted as received when they were queued
            self._take_text(record.type, record.text, clock)

    def finish(self) -> None:
        """The client closes: complete the open events, queue them, end the channel."""
        if self.finished:
            return
        self.finished = True
        self.deliver(self.reassembler.flush_all())
        self._send.close()


async def expire_events(feed: EventFeed) -> None:
    """Complete events whose last record is ``timeout`` seconds old, as their time comes."""
    reassembler = feed.reassembler
    while True:
        deadline = reassembler.next_deadline()
        if deadline is None:
            feed.timer_idle = True
            await feed.activity.wait()
            feed.activity = trio.Event()
            continue
        await trio.sleep_until(deadline)
        feed.deliver(reassembler.flush_expired(trio.current_time()))


@contextlib.asynccontextmanager
async def open_event_stream(
    attach: Callable[[EventFeed | None], list[KernelRecord]],
    reassembler: Reassembler,
    record_counters: RecordCounters,
    *,
    queue_size: int,
    parse_fields: bool = True,
) -> AsyncIterator[EventStream]:
    """Attach an :class:`EventFeed` to the client's reader; yield its :class:`EventStream`.

    Args:
        attach: The client's hook: ``attach(feed)`` makes the reader hand its
            batches to *feed* and returns the records already queued for
            ``records()`` (they are fed first); ``attach(None)`` detaches.
        reassembler: The stream's reassembler.
        record_counters: The client's record counters (received, dropped).
        queue_size: Events buffered for the consumer before drops are counted.
        parse_fields: ``False`` parses the stamps only (see ``open_events``).

    Leaving the block detaches the feed and stops the timer; the stream's counters
    stay readable.
    """
    send, receive = trio.open_memory_channel[AuditEvent](queue_size)
    counters = EventCounters()
    feed = EventFeed(send, reassembler, counters, record_counters, parse_fields=parse_fields)
    feed.absorb(attach(feed), trio.current_time())
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(functools.partial(expire_events, feed), name="trioaudit event timer")
            try:
                yield EventStream(receive, counters, reassembler)
            finally:
                nursery.cancel_scope.cancel("event stream closed")
    finally:
        attach(None)
