"""Group audit records into events (sans-IO: time is passed in).

Theory of operation
-------------------
Every record carries a stamp ``audit(sec.ms:serial)``; records with the same
stamp (and node) form one event. The kernel sends an event's records one by one,
possibly interleaved with other events' records, and ends multi-record events
with an ``EOE`` record. So:

* A record opens an event (keyed by ``(timestamp, serial, node)``) or joins it.
* ``EOE`` completes its event (the EOE record itself is not kept: it has no fields).
* User-space records (types 1100-1299 and 2100-2999: ``USER_*``, ``DAEMON_*``,
  ``LOGIN``-less messages...) are always single-record and complete at once.
* Anything else completes ``timeout`` seconds after its latest record (records the
  kernel emits outside a syscall, like ``CONFIG_CHANGE`` with no rule matching,
  never get an EOE; auditd's logs contain no EOE at all).
* At most ``max_open`` events are open; a new one beyond that completes the oldest
  early (counted as ``evicted``), so a flood can never grow memory.
* A record for an event that already completed is ``late``: it is emitted alone
  as its own event rather than dropped (a small ring remembers recent stamps).

Open events live in a dict ordered by last activity (a record moves its event to
the end), and activity times never decrease (``now`` is clamped to the latest
seen), so expiry pops from the front: every operation is O(1) amortised, there is
no sort per record. Eviction beyond ``max_open`` takes the least recently active.

Serial gaps: the kernel's serial counter is global, so a jump from N to N+k means
k-1 serials were not seen -- lost (``lost`` in AUDIT_GET), filtered by rules, or
not meant for us. They are counted as a *hint* (``lost_estimate``), reduced again
when a missing serial shows up late. A serial far below the highest seen, or a
jump far above it, is a counter reset (reboot, another log), not a loss: it is
counted in ``resets`` and re-bases the count -- no wrap-around blow-up. auditd's
own ``DAEMON_*`` records use auditd's counter, not the kernel's, and are ignored
for gap tracking.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from .._tables.msgtypes import AuditMessageType as _T
from .model import AuditEvent, AuditRecord

__all__ = [
    "DEFAULT_MAX_OPEN",
    "DEFAULT_TIMEOUT",
    "GAP_RESET_WINDOW",
    "Reassembler",
    "ReassemblerStatistics",
]

#: Seconds an event may wait for its EOE (auditd's ``end_of_event_timeout`` is 2).
DEFAULT_TIMEOUT = 2.0
#: Most events kept open at once.
DEFAULT_MAX_OPEN = 1024
#: Completed stamps remembered to recognise late records.
RECENT_COMPLETED = 4096
#: Missing serials remembered individually (beyond it, gaps are only counted).
MAX_TRACKED_MISSING = 8192
#: A serial this far from the highest seen is a counter reset, not a gap.
GAP_RESET_WINDOW = 1 << 20

_EOE = int(_T.EOE)
# AUDIT_FIRST_DAEMON..AUDIT_LAST_DAEMON and the user-space ranges (AUDIT_FIRST_USER_MSG..
# AUDIT_LAST_USER_MSG, AUDIT_FIRST_USER_MSG2..AUDIT_LAST_USER_MSG2) of linux/audit.h:
# range markers, not message types, so they are not AuditMessageType members.
_DAEMON_FIRST, _DAEMON_LAST = 1200, 1299

Key = tuple[float, int, "str | None"]


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
        evicted: Events completed early because ``max_open`` was reached.
        late: Records that arrived after their event was emitted.
        gaps: Serial-number gaps seen (each a run of missing serials).
        lost_estimate: Serials currently believed missing (a hint, see module doc).
        resets: Serial counter resets detected.
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


class _Pending:
    __slots__ = ("created", "records")  # created: time of the latest record

    def __init__(self, created: float, record: AuditRecord) -> None:
        self.created = created
        self.records = [record]


class Reassembler:
    """Groups :class:`AuditRecord` objects into :class:`AuditEvent` objects.

    Args:
        timeout: Seconds an event waits for more records / its EOE.
        max_open: Most events kept open at once (the oldest is completed early).
    """

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, max_open: int = DEFAULT_MAX_OPEN
    ) -> None:
        if timeout < 0 or max_open < 1:
            raise ValueError("timeout must be >= 0 and max_open >= 1")
        self._timeout = timeout
        self._max_open = max_open
        self._open: OrderedDict[Key, _Pending] = OrderedDict()
        self._recent: deque[Key] = deque()
        self._recent_set: set[Key] = set()
        self._now = float("-inf")
        self._highest: dict[str | None, int] = {}
        self._missing: set[tuple[str | None, int]] = set()
        self._completed = 0
        self._by_eoe = 0
        self._timed_out = 0
        self._evicted = 0
        self._late = 0
        self._gaps = 0
        self._lost = 0
        self._resets = 0

    # ---- public API ----------------------------------------------------------

    def feed(self, record: AuditRecord, now: float) -> list[AuditEvent]:
        """Add one record; return the events that completed (possibly none).

        Args:
            record: The record.
            now: The current time in seconds (any monotonic clock, or the record
                timestamps when replaying a log).
        """
        out = self.flush_expired(now)
        key: Key = (record.timestamp, record.sequence, record.node)
        if record.type == _EOE:
            pending = self._open.pop(key, None)
            if pending is not None:
                self._by_eoe += 1
                out.append(self._complete(key, pending.records))
            return out
        if not _DAEMON_FIRST <= record.type <= _DAEMON_LAST:
            self._track_serial(record.node, record.sequence)
        pending = self._open.get(key)
        if pending is not None:
            pending.records.append(record)
            # The timeout runs from the latest record: keep the dict ordered by
            # last activity so expiry still only looks at the front.
            pending.created = self._now
            self._open.move_to_end(key)
            return out
        if key in self._recent_set:
            self._late += 1
            out.append(self._complete(key, [record], remember=False))
            return out
        if _single_record(record.type):
            out.append(self._complete(key, [record]))
            return out
        if len(self._open) >= self._max_open:
            old_key, old = self._open.popitem(last=False)
            self._evicted += 1
            out.append(self._complete(old_key, old.records))
        self._open[key] = _Pending(self._now, record)
        return out

    def flush_expired(self, now: float) -> list[AuditEvent]:
        """Complete the events that waited ``timeout`` seconds or more."""
        if now > self._now:
            self._now = now
        out: list[AuditEvent] = []
        limit = self._now - self._timeout
        while self._open:
            key, pending = next(iter(self._open.items()))
            if pending.created > limit:
                break
            del self._open[key]
            self._timed_out += 1
            out.append(self._complete(key, pending.records))
        return out

    def flush_all(self) -> list[AuditEvent]:
        """Complete every open event now (end of input, shutdown)."""
        out = [self._complete(key, pending.records) for key, pending in self._open.items()]
        self._open.clear()
        return out

    def next_deadline(self) -> float | None:
        """When the least recently active open event times out (``None`` if none)."""
        if not self._open:
            return None
        return next(iter(self._open.values())).created + self._timeout

    def statistics(self) -> ReassemblerStatistics:
        """A snapshot of the counters."""
        return ReassemblerStatistics(
            open=len(self._open),
            completed=self._completed,
            by_eoe=self._by_eoe,
            timed_out=self._timed_out,
            evicted=self._evicted,
            late=self._late,
            gaps=self._gaps,
            lost_estimate=self._lost,
            resets=self._resets,
        )

    # ---- internals ---------------------------------------------------------------

    def _complete(
        self, key: Key, records: list[AuditRecord], *, remember: bool = True
    ) -> AuditEvent:
        self._completed += 1
        if remember:
            self._recent.append(key)
            self._recent_set.add(key)
            if len(self._recent) > RECENT_COMPLETED:
                self._recent_set.discard(self._recent.popleft())
        timestamp, sequence, node = key
        return AuditEvent(sequence=sequence, timestamp=timestamp, node=node, records=tuple(records))

    def _track_serial(self, node: str | None, serial: int) -> None:
        highest = self._highest.get(node)
        if highest is None:
            self._highest[node] = serial
            return
        if serial > highest:
            jump = serial - highest
            if jump > GAP_RESET_WINDOW:
                self._reset(node, serial)
                return
            if jump > 1:
                self._gaps += 1
                self._lost += jump - 1
                if len(self._missing) + jump - 1 <= MAX_TRACKED_MISSING:
                    self._missing.update((node, s) for s in range(highest + 1, serial))
            self._highest[node] = serial
        elif serial < highest:
            if highest - serial > GAP_RESET_WINDOW:
                self._reset(node, serial)
                return
            if (node, serial) in self._missing:
                self._missing.discard((node, serial))
                self._lost -= 1

    def _reset(self, node: str | None, serial: int) -> None:
        self._resets += 1
        self._highest[node] = serial
        self._missing = {m for m in self._missing if m[0] != node}
