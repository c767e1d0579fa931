"""What one daemon output sends: events turned into messages in the output's format.

An output of ``trioaudit daemon`` (a file, stdout, a syslog or RELP destination) is
given events and hands on *messages*, one line each, no newline:

* ``raw``      -- one message per record: auditd's RAW log line
  (``type=SYSCALL msg=audit(...): ...``), what ``audisp-syslog`` forwards;
* ``enriched`` -- one per record: auditd's ENRICHED line (RAW, ``\\x1d``, translations);
* ``json``     -- one per event: the JSON line ``trioaudit tail`` prints (with
  ``normalize``, go-libaudit's normalised members too).

Each message keeps its event's timestamp, which a syslog header carries: a message
replayed from the spool an hour later still says when it happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .._records.model import AuditEvent
from .auditlog import enriched_line, raw_line
from .formats import events_text

__all__ = ["MESSAGE_FORMATS", "MessageFormat", "event_messages"]

MessageFormat = Literal["raw", "enriched", "json"]
MESSAGE_FORMATS: tuple[MessageFormat, ...] = ("raw", "enriched", "json")


def event_messages(
    events: Sequence[AuditEvent],
    fmt: MessageFormat,
    *,
    node: str | None = None,
    normalize: bool = False,
) -> tuple[list[float], list[bytes]]:
    """The messages of *events* in *fmt*, and the timestamp of each (two lists of one
    length, in order)."""
    if fmt == "json":
        if not events:
            return [], []
        text = events_text(events, "json", normalize=normalize)
        # One line per event; JSON lines hold no raw newline and are valid UTF-8.
        lines = text.encode("utf-8").split(b"\n")
        lines.pop()  # after the last newline
        return [event.timestamp for event in events], lines
    if normalize:
        raise ValueError("normalized events are written as JSON only")
    line = enriched_line if fmt == "enriched" else raw_line
    stamps: list[float] = []
    messages: list[bytes] = []
    for event in events:
        for record in event.records:
            stamps.append(event.timestamp)
            messages.append(line(record, node))
    return stamps, messages
