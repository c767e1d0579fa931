"""audit.log files -> events, streaming, in constant memory.

Theory of operation
-------------------
The same parser and reassembler as live events, fed from lines. auditd does not
write ``EOE`` records, so events complete by timeout -- measured in *log time*
(the records' own timestamps are passed as ``now``), which makes parsing a file
deterministic and independent of how fast it is read; each ``node=`` has its own
clock (see :mod:`.reassembly`). Events come out in ``(timestamp, serial)`` order,
ties in order of first appearance -- the order libauparse and ``ausearch`` give
(their ``au_get_ready_event``: the lowest stamp in flight, once complete) -- not
in the order they complete, which a live ``tail`` keeps for latency. Memory is
bounded by the reassembler's ``max_open`` (open and held-back events together)
whatever the file size. Lines that are not audit records are skipped and
counted (a log can be truncated mid-line by rotation).

:func:`open_log` opens plain files, ``.gz`` files and ``-`` (stdin) as binary
line iterators; lines stay bytes until the parser decodes them (invalid UTF-8
is kept as surrogate escapes, never an exception).
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from .._native import core
from .model import AuditEvent, AuditRecord
from .parse import RecordParseError, reference_parse_log_line
from .reassembly import DEFAULT_MAX_OPEN, DEFAULT_TIMEOUT, make_reassembler

__all__ = ["LogParser", "open_log", "parse_log"]

#: The core's batch line parser (``parse_log_line`` of each line, ``None`` where it
#: declines), when there is a core.
_native_parse_lines = core.parse_lines if core is not None else None


class LogParser:
    """Incremental audit.log parser with counters.

    Args:
        timeout: Log-time seconds an event may stay open.
        max_open: Most events open or held back (for stamp order) at once.
        on_error: Called with ``(line_number, error)`` for lines that are not records.
        fields: ``False`` groups lines into events without splitting their fields
            (records carry only type, stamp, node and the line; see
            :func:`~trioaudit._records.parse_log_line`).
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_open: int = DEFAULT_MAX_OPEN,
        on_error: Callable[[int, RecordParseError], None] | None = None,
        fields: bool = True,
    ) -> None:
        self.reassembler = make_reassembler(timeout=timeout, max_open=max_open, stamp_order=True)
        self.lines = 0
        self.records = 0
        self.bad_lines = 0
        self._on_error = on_error
        self._fields = fields

    def feed_line(self, line: str | bytes) -> list[AuditEvent]:
        """Parse one line; return the events it completed."""
        return self.feed_lines([line])

    def feed_lines(self, lines: Iterable[str | bytes]) -> list[AuditEvent]:
        """:meth:`feed_line` of each line, the events they completed in one list
        (one call per batch of lines: what ``trioaudit parse`` feeds)."""
        batch = lines if isinstance(lines, list) else list(lines)
        # The core parses the whole batch in one call; what it declines (None: blank
        # lines, uncommon forms, lines that are not records) gets the reference.
        parsed: list[AuditRecord | None] = (
            _native_parse_lines(batch) if _native_parse_lines is not None and self._fields else []
        )
        records: list[AuditRecord] = []
        first = self.lines + 1
        self.lines += len(batch)
        if parsed and None not in parsed:
            records = parsed  # type: ignore[assignment]
        else:
            for index, line in enumerate(batch):
                record = parsed[index] if parsed else None
                if record is None:
                    if not line or line.isspace():  # not line.strip(), without the copy
                        continue
                    try:
                        record = reference_parse_log_line(line, fields=self._fields)
                    except RecordParseError as exc:
                        self.bad_lines += 1
                        if self._on_error is not None:
                            self._on_error(first + index, exc)
                        continue
                records.append(record)
        self.records += len(records)
        return self.reassembler.feed_records(records, None)

    def finish(self) -> list[AuditEvent]:
        """End of input: complete everything still open."""
        return self.reassembler.flush_all()

    def parse(self, lines: Iterable[str | bytes]) -> Iterator[AuditEvent]:
        """Parse all lines, yielding events as they complete, then the rest."""
        for line in lines:
            yield from self.feed_line(line)
        yield from self.finish()


def parse_log(
    lines: Iterable[str | bytes],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_open: int = DEFAULT_MAX_OPEN,
) -> Iterator[AuditEvent]:
    """Parse audit.log lines into events (pure, streaming, constant memory).

    Example::

        with trioaudit.open_log("/var/log/audit/audit.log") as lines:
            for event in trioaudit.parse_log(lines):
                print(event.syscall, event.key)
    """
    return LogParser(timeout=timeout, max_open=max_open).parse(lines)


@contextmanager
def open_log(path: str) -> Iterator[BinaryIO]:
    """Open an audit log for reading lines as bytes: plain, ``.gz``, or ``-`` for stdin."""
    if path == "-":
        yield sys.stdin.buffer
        return
    with open(path, "rb") as raw:
        magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        if path.endswith(".gz") or magic == b"\x1f\x8b":
            with gzip.open(raw, "rb") as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            yield raw
