"""Group audit records into events (sans-IO: time is passed in).

Theory of operation
-------------------
Every record carries a stamp ``audit(sec.ms:serial)``; records with the same
stamp and node form one event. The kernel sends an event's records one by one,
possibly interleaved with other events' records, and ends multi-record events
with an ``EOE`` record. So:

* A record opens an event (keyed by ``(timestamp, serial, node)``) or joins the
  open event of its key.
* ``EOE`` completes its event (the EOE record itself is not kept: it has no
  fields; the event says it was ended so, :attr:`AuditEvent.eoe`). An EOE with no
  open event -- its event already completed, or never seen -- is dropped and
  counted nowhere, as libauparse and ausearch "eat standalone EOE".
* User-space records (types 1100-1299 and 2100-2999: ``USER_*``, ``DAEMON_*``,
  ``LOGIN``-less messages...) are always single-record and complete at once.
* Anything else completes ``timeout`` seconds after its latest record (records the
  kernel emits outside a syscall, like ``CONFIG_CHANGE`` with no rule matching,
  never get an EOE; auditd's logs contain no EOE at all).
* **Late records.** A record whose event already completed (by a single-record
  type such as systemd's ``SERVICE_START`` sharing its stamp with the kernel's
  ``SYSCALL``, by the timeout, or by ``max_open``) opens a new event of that stamp,
  and the records of that stamp that follow join it; it completes by the same
  rules. libauparse and ausearch do the same. Each such record is counted
  ``late`` (recognised through a ring of the last :data:`RECENT_COMPLETED`
  completed stamps; an older stamp's records just open an event).
* **Repeated events.** A stamp names one event of one node, but logs merged
  from several copies, or a host logging an event twice, repeat it. In one
  event the kernel emits each of ``SYSCALL``, ``SOCKADDR``, ``CWD``, ``FD_PAIR``
  and ``PROCTITLE`` at most once (``kernel/auditsc.c``: ``audit_log_exit``
  writes each once, EOE last); everything else may repeat within an event
  (``AVC``, ``PATH``, ``OBJ_PID``, ``URINGOP`` from io_uring work inside a
  syscall, ``EXECVE``, which a long argument list spreads over several
  records). So a record of one of those five types for an open event that
  already has one completes that event (counted ``repeated``) and opens a new
  one: a ``SYSCALL``+``AVC`` pair logged twice is two events, not one with
  duplicated records. (Within one copy the kernel writes ``AVC`` before its
  ``SYSCALL``; a repeat of ``AVC, SYSCALL`` therefore splits after the second
  ``AVC``: the rule never merges, at worst it leaves one record with the wrong
  copy.)
* At most ``max_open`` events are open; a new one beyond that completes the least
  recently active early (counted as ``evicted``), so a flood can never grow memory.

**One clock per node.** Logs merged from several hosts (``node=``) carry each
host's own clock, and hosts disagree, by seconds or by years. Each node has its
own clock: the latest ``now`` passed with one of its records (clamped, never
decreasing), and a node's events time out on its clock only. A host whose clock
is ahead never completes another host's events early, and one whose clock is
behind never keeps them open. (libauparse has one clock for all nodes.) Live
callers pass a clock common to all nodes: :meth:`Reassembler.flush_expired`
advances every node's clock to it. At most :data:`MAX_NODES` nodes are tracked;
a new node beyond that makes the least recently active node forgotten: its open
events complete (counted ``evicted``) and its clock and serial tracking start
afresh if it comes back.

Each node's open events live in a dict ordered by last activity (a record moves
its event to the end), and a node's clock never decreases, so expiry pops from
the front: every operation is O(1) amortised, there is no sort per record.
Eviction beyond ``max_open`` takes the least recently active event of the least
recently active node that has open events.

**Emission order.** By default events are returned as they complete: the lowest
latency, what a live ``tail`` wants. With ``stamp_order=True`` (log files,
:mod:`.logread`) they come in ``(timestamp, serial)`` order, ties in order of
first appearance, as libauparse (``au_get_ready_event``) and ausearch emit them:
a complete event is held until no open event of any node has a lower stamp. Held
events count against ``max_open`` (open + held <= ``max_open``); when there is no
room for a new event, the lowest held event is released ahead of its turn (the
order yields, an event is never split for it), and only when none is held is an
open event evicted. The open events' places are kept in a run sorted by
appending (events open in stamp order, mostly: O(1)) and a heap for the others;
held events in a heap; closed places are pruned when they reach the front, and
both are rebuilt when they hold more than twice the open events: O(log n) per
event at worst, and a held event is rare when the log is in order.

Serial gaps: the kernel's serial counter is global, so a jump from N to N+k means
k-1 serials were not seen -- lost (``lost`` in AUDIT_GET), filtered by rules, or
not meant for us. They are counted as a *hint* (``lost_estimate``), reduced again
when a missing serial shows up late. A serial far below the highest seen, or a
jump far above it, is a counter reset (reboot, another log), not a loss: it is
counted in ``resets`` and re-bases the count -- no wrap-around blow-up. auditd's
own ``DAEMON_*`` records use auditd's counter, not the kernel's, and are ignored
for gap tracking. Serials are tracked per node.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from .._native import core
from .._tables.msgtypes import AuditMessageType as _T
from . import parse  # noqa: F401  (configures the compiled core with the record classes)
from .model import AuditEvent, AuditRecord

__all__ = [
    "DEFAULT_MAX_OPEN",
    "DEFAULT_TIMEOUT",
    "GAP_RESET_WINDOW",
    "MAX_NODES",
    "Reassembler",
    "ReassemblerStatistics",
    "make_reassembler",
]

#: Seconds an event may wait for its EOE (auditd's ``end_of_event_timeout`` is 2).
DEFAULT_TIMEOUT = 2.0
#: Most events kept open (plus, in stamp order, held) at once.
DEFAULT_MAX_OPEN = 1024
#: Completed stamps remembered to recognise late records.
RECENT_COMPLETED = 4096
#: Missing serials remembered individually (beyond it, gaps are only counted).
MAX_TRACKED_MISSING = 8192
#: A serial this far from the highest seen is a counter reset, not a gap.
GAP_RESET_WINDOW = 1 << 20
#: Most nodes whose clock and serials are tracked at once.
MAX_NODES = 4096

_EOE = int(_T.EOE)
# AUDIT_FIRST_DAEMON..AUDIT_LAST_DAEMON and the user-space ranges (AUDIT_FIRST_USER_MSG..
# AUDIT_LAST_USER_MSG, AUDIT_FIRST_USER_MSG2..AUDIT_LAST_USER_MSG2) of linux/audit.h:
# range markers, not message types, so they are not AuditMessageType members.
_DAEMON_FIRST, _DAEMON_LAST = 1200, 1299

#: Record types the kernel writes at most once per event (see the module doc),
#: each with its bit in ``_Pending.once``.
_ONCE_PER_EVENT: dict[int, int] = {
    int(kind): 1 << bit
    for bit, kind in enumerate((_T.SYSCALL, _T.SOCKADDR, _T.CWD, _T.FD_PAIR, _T.PROCTITLE))
}

Key = tuple[float, int, "str | None"]
# An event's place in stamp order: (timestamp, serial, arrival). Arrival numbers
# are unique, so heap entries (order, ...) never compare past their order.
_Order = tuple[float, int, int]


def _single_record(record_type: int) -> bool:
    return 1100 <= record_type <= 1299 or 2100 <= record_type <= 2999


@dataclass(frozen=True, slots=True)
class ReassemblerStatistics:
    """Counters since the reassembler was created.

    Attributes:
        open: Events currently waiting for more records.
        completed: Events emitted (all causes).
        by_eoe: Events completed by their EOE record.
        timed_out: Events completed by the timeout.
        evicted: Events completed early because ``max_open`` (or
            :data:`MAX_NODES`) was reached.
        late: Records that arrived after their event was emitted (each opened, or
            joined, a new event of their stamp).
        gaps: Serial-number gaps seen (each a run of missing serials).
        lost_estimate: Serials currently believed missing (a hint, see module doc).
        resets: Serial counter resets detected.
        repeated: Events completed because a record the kernel writes once per
            event (``SYSCALL``...) came again with the same stamp: the start of a
            repeated copy of the event.
        held: Complete events held back to be emitted in stamp order (always 0
            without ``stamp_order``).
    """

    open: int
    completed: int
    by_eoe: int
    timed_out: int
    evicted: int
    late: int
    gaps: int
    lost_estimate: int
    resets: int
    repeated: int = 0
    held: int = 0


class _Pending:
    """One open event: its records, when it was last active (its node's clock),
    which once-per-event types it has, whether its stamp had already been
    emitted, and (stamp order) its place in the order and whether it completed."""

    __slots__ = ("closed", "created", "key", "late", "once", "order", "records")

    def __init__(self, key: Key, created: float, record: AuditRecord, once: int, late: bool):
        self.key = key
        self.created = created
        self.records = [record]
        self.once = once
        self.late = late
        self.order: _Order | None = None
        self.closed = False


class _Node:
    """What is tracked per node: its open events, its clock, its highest serial."""

    __slots__ = ("events", "highest", "now")

    def __init__(self) -> None:
        self.events: OrderedDict[Key, _Pending] = OrderedDict()
        self.now = float("-inf")
        self.highest: int | None = None


_Stamped = tuple[_Order, _Pending]
_Held = tuple[_Order, AuditEvent]


class Reassembler:
    """Groups :class:`AuditRecord` objects into :class:`AuditEvent` objects.

    Args:
        timeout: Seconds an event waits for more records / its EOE, on its
            node's clock.
        max_open: Most events kept open at once (the least recently active is
            completed early); with ``stamp_order``, open and held together.
        stamp_order: Return events in ``(timestamp, serial)`` order, as
            libauparse and ausearch do, rather than as they complete (see the
            module doc). For reading logs; live consumers want them at once.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_open: int = DEFAULT_MAX_OPEN,
        stamp_order: bool = False,
    ) -> None:
        if timeout < 0 or max_open < 1:
            raise ValueError("timeout must be >= 0 and max_open >= 1")
        self._timeout = timeout
        self._max_open = max_open
        self._stamp_order = stamp_order
        # Nodes in order of last activity (moved when the node changes).
        self._nodes: OrderedDict[str | None, _Node] = OrderedDict()
        self._node_name: str | None = None
        self._node = self._nodes[None] = _Node()
        self._open = 0
        self._recent: deque[Key] = deque()
        self._recent_set: set[Key] = set()
        self._missing: set[tuple[str | None, int]] = set()
        # Stamp order: every open event's place (lazily pruned once closed) --
        # in a run kept sorted by appending (events mostly open in stamp order),
        # else in a heap -- and the complete events waiting for their turn.
        self._run: deque[_Stamped] = deque()
        self._stamps: list[_Stamped] = []
        self._held: list[_Held] = []
        self._arrivals = itertools.count()
        self._completed = 0
        self._by_eoe = 0
        self._timed_out = 0
        self._evicted = 0
        self._late = 0
        self._repeated = 0
        self._gaps = 0
        self._lost = 0
        self._resets = 0

    # ---- public API ----------------------------------------------------------

    def feed(self, record: AuditRecord, now: float) -> list[AuditEvent]:
        """Add one record; return the events that completed (possibly none).

        Args:
            record: The record.
            now: The current time in seconds on the record's node's clock (any
                monotonic clock, or the record timestamps when replaying a log).
                It advances that node's clock only.
        """
        out: list[AuditEvent] = []
        name = record.node
        node = self._node if name == self._node_name else self._switch_node(name, out)
        if now > node.now:
            node.now = now
            self._expire(node, out)
        key: Key = (record.timestamp, record.sequence, name)
        kind = record.type
        events = node.events
        if kind == _EOE:
            pending = events.pop(key, None)
            if pending is not None:
                self._by_eoe += 1
                self._close(pending, out, eoe=True)
            return self._release(out) if self._held else out
        if not _DAEMON_FIRST <= kind <= _DAEMON_LAST:
            self._track_serial(name, node, record.sequence)
        once = _ONCE_PER_EVENT.get(kind, 0)
        pending = events.get(key)
        late = False
        if pending is not None:
            if not pending.once & once:
                pending.records.append(record)
                pending.once |= once
                if pending.late:
                    self._late += 1
                # The timeout runs from the latest record: keep the dict ordered
                # by last activity so expiry still only looks at the front.
                pending.created = node.now
                events.move_to_end(key)
                return out
            # A second SYSCALL (...) for this stamp: a repeated copy begins.
            del events[key]
            self._repeated += 1
            self._close(pending, out)
        elif key in self._recent_set:
            late = True
            self._late += 1
        if _single_record(kind):
            self._emit(key, [record], out)
        else:
            self._make_room(out)
            pending = _Pending(key, node.now, record, once, late)
            events[key] = pending
            self._open += 1
            if self._stamp_order:
                order = pending.order = (key[0], key[1], next(self._arrivals))
                run = self._run
                if not run or run[-1][0] < order:
                    run.append((order, pending))
                else:
                    heapq.heappush(self._stamps, (order, pending))
        return self._release(out) if self._held else out

    def feed_records(self, records: Iterable[AuditRecord], clock: float | None) -> list[AuditEvent]:
        """:meth:`feed` of each record, the completed events in one list: at *clock*,
        or at each record's own timestamp when *clock* is ``None`` (a log's time)."""
        out: list[AuditEvent] = []
        for record in records:
            out += self.feed(record, record.timestamp if clock is None else clock)
        return out

    def flush_expired(self, now: float) -> list[AuditEvent]:
        """Complete the events that waited ``timeout`` seconds or more.

        *now* is a clock common to all nodes (the live trio clock): every node's
        clock advances to it.
        """
        out: list[AuditEvent] = []
        for node in self._nodes.values():
            if now > node.now:
                node.now = now
            self._expire(node, out)
        return self._release(out) if self._held else out

    def flush_all(self) -> list[AuditEvent]:
        """Complete every open event now (end of input, shutdown)."""
        out: list[AuditEvent] = []
        for node in self._nodes.values():
            while node.events:
                self._close(node.events.popitem(last=False)[1], out)
        self._run.clear()
        self._stamps.clear()
        return self._release(out)

    def next_deadline(self) -> float | None:
        """When the least recently active open event times out (``None`` if none).

        On the nodes' clocks, which for live use are one clock.
        """
        fronts = [
            next(iter(node.events.values())).created for node in self._nodes.values() if node.events
        ]
        return min(fronts) + self._timeout if fronts else None

    def statistics(self) -> ReassemblerStatistics:
        """A snapshot of the counters."""
        return ReassemblerStatistics(
            open=self._open,
            completed=self._completed,
            by_eoe=self._by_eoe,
            timed_out=self._timed_out,
            evicted=self._evicted,
            late=self._late,
            gaps=self._gaps,
            lost_estimate=self._lost,
            resets=self._resets,
            repeated=self._repeated,
            held=len(self._held),
        )

    # ---- internals ---------------------------------------------------------------

    def _switch_node(self, name: str | None, out: list[AuditEvent]) -> _Node:
        """The state of node *name* (created if new), now the most recently active."""
        nodes = self._nodes
        node = nodes.get(name)
        if node is None:
            if len(nodes) >= MAX_NODES:
                self._forget_node(out)
            node = nodes[name] = _Node()
        else:
            nodes.move_to_end(name)
        self._node_name = name
        self._node = node
        return node

    def _forget_node(self, out: list[AuditEvent]) -> None:
        name, node = self._nodes.popitem(last=False)
        while node.events:
            self._evicted += 1
            self._close(node.events.popitem(last=False)[1], out)
        self._missing = {m for m in self._missing if m[0] != name}

    def _expire(self, node: _Node, out: list[AuditEvent]) -> None:
        limit = node.now - self._timeout
        events = node.events
        while events:
            pending = next(iter(events.values()))
            if pending.created > limit:
                break
            events.popitem(last=False)
            self._timed_out += 1
            self._close(pending, out)

    def _make_room(self, out: list[AuditEvent]) -> None:
        """Before opening an event: keep open (+ held) below ``max_open``."""
        while self._open + len(self._held) >= self._max_open:
            if self._held:
                # Out of turn: the order yields before an event is split.
                out.append(heapq.heappop(self._held)[1])
                continue
            for node in self._nodes.values():
                if node.events:
                    self._evicted += 1
                    self._close(node.events.popitem(last=False)[1], out)
                    break
            else:
                return  # nothing open: nothing to make room from

    def _close(self, pending: _Pending, out: list[AuditEvent], *, eoe: bool = False) -> None:
        """An event stops being open (already removed from its node) and completes."""
        self._open -= 1
        pending.closed = True
        self._emit(pending.key, pending.records, out, eoe, pending.order)
        run, stamps = self._run, self._stamps
        if len(run) + len(stamps) > 2 * self._open + 64:
            # Closed events deep inside are pruned only when they surface; rebuild
            # now and then so both stay within a constant of the open count.
            self._run = deque(entry for entry in run if not entry[1].closed)
            stamps[:] = [entry for entry in stamps if not entry[1].closed]
            heapq.heapify(stamps)

    def _emit(
        self,
        key: Key,
        records: list[AuditRecord],
        out: list[AuditEvent],
        eoe: bool = False,
        order: _Order | None = None,
    ) -> None:
        """Build the event of *key* and remember its stamp; append it to *out*,
        or in stamp order hold it (*order*: its place, from when it first appeared)."""
        self._completed += 1
        if key not in self._recent_set:
            self._recent.append(key)
            self._recent_set.add(key)
            if len(self._recent) > RECENT_COMPLETED:
                self._recent_set.discard(self._recent.popleft())
        timestamp, sequence, node = key
        event = AuditEvent(
            sequence=sequence, timestamp=timestamp, node=node, records=tuple(records), eoe=eoe
        )
        if not self._stamp_order:
            out.append(event)
            return
        if order is None:
            order = (timestamp, sequence, next(self._arrivals))
        held = self._held
        if not held or order < held[0][0]:
            # Its turn already (the usual case): no lower stamp is open or held.
            lowest = self._lowest_open()
            if lowest is None or order < lowest:
                out.append(event)
                return
        heapq.heappush(held, (order, event))
        if self._open + len(held) > self._max_open:
            out.append(heapq.heappop(held)[1])  # out of turn, as in _make_room

    def _release(self, out: list[AuditEvent]) -> list[AuditEvent]:
        """Stamp order: move held events whose turn has come to *out*."""
        held = self._held
        while held:
            lowest = self._lowest_open()
            if lowest is not None and lowest < held[0][0]:
                break
            out.append(heapq.heappop(held)[1])
        return out

    def _lowest_open(self) -> _Order | None:
        """Stamp order: the place of the lowest open event (pruning closed ones)."""
        run, stamps = self._run, self._stamps
        while run and run[0][1].closed:
            run.popleft()
        while stamps and stamps[0][1].closed:
            heapq.heappop(stamps)
        if not run:
            return stamps[0][0] if stamps else None
        if stamps and stamps[0][0] < run[0][0]:
            return stamps[0][0]
        return run[0][0]

    def _track_serial(self, name: str | None, node: _Node, serial: int) -> None:
        highest = node.highest
        if highest is None:
            node.highest = serial
            return
        if serial > highest:
            jump = serial - highest
            if jump > GAP_RESET_WINDOW:
                self._reset(name, node, serial)
                return
            if jump > 1:
                self._gaps += 1
                self._lost += jump - 1
                if len(self._missing) + jump - 1 <= MAX_TRACKED_MISSING:
                    self._missing.update((name, s) for s in range(highest + 1, serial))
            node.highest = serial
        elif serial < highest:
            if highest - serial > GAP_RESET_WINDOW:
                self._reset(name, node, serial)
                return
            if (name, serial) in self._missing:
                self._missing.discard((name, serial))
                self._lost -= 1

    def _reset(self, name: str | None, node: _Node, serial: int) -> None:
        self._resets += 1
        node.highest = serial
        self._missing = {m for m in self._missing if m[0] != name}


def make_reassembler(
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_open: int = DEFAULT_MAX_OPEN,
    stamp_order: bool = False,
) -> Reassembler:
    """A :class:`Reassembler` -- the compiled core's when it is there.

    The core's (``trioaudit._native._core.Reassembler``) applies the same rules to the
    same records and gives the same events and counters; ``tests/unit/
    test_native_reassembly.py`` feeds both alike and compares. This class stays the
    reference, and what :mod:`trioaudit` exports for those who build their own pipeline.
    """
    if core is None:
        return Reassembler(timeout=timeout, max_open=max_open, stamp_order=stamp_order)
    native = core.Reassembler(
        timeout=timeout,
        max_open=max_open,
        stamp_order=stamp_order,
        statistics_class=ReassemblerStatistics,
        eoe_type=_EOE,
        once_types=tuple(_ONCE_PER_EVENT),
    )
    return cast(Reassembler, native)
