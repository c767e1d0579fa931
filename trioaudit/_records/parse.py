"""Parse kernel payloads and audit.log lines into :class:`~trioaudit._records.model.AuditRecord`.

Theory of operation
-------------------
Two sources deliver the same record body:

* the kernel, over netlink: ``audit(1795714536.840:4771): arch=c000003e syscall=59 ...``
  (the message type is the netlink message type; trailing NULs/newline possible);
* auditd's log: ``[node=HOST ]type=SYSCALL msg=audit(...): ...`` optionally followed by
  ``\\x1d`` and auditd's ENRICHED translations (``UID="root" ARCH=x86_64``).

This module reads what surrounds the body -- the header and its ``audit(sec.ms:serial)``
stamp, the node, the enrichment -- and leaves the body's ``name=value`` grammar to
:mod:`.values`. The header is matched by one anchored regular expression: there is
no backtracking construct that could make a hostile line take super-linear time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from .model import AuditRecord
from .values import RecordParseError, split_fields, type_name, type_number

__all__ = [
    "MAX_RECORD_LENGTH",
    "MAX_TIMESTAMP",
    "UNKNOWN_TYPE_NUMBER",
    "RecordParseError",
    "parse_kernel_record",
    "parse_log_line",
    "record_body",
]


#: Longest record text accepted (auditd's own limit is 8970 bytes; the kernel's
#: ``AUDIT_MESSAGE_TEXT_MAX`` is 8560). Longer input is rejected, not truncated.
MAX_RECORD_LENGTH = 64 * 1024

#: The separator auditd's ENRICHED format puts before its translations.
ENRICHMENT_SEPARATOR = "\x1d"


#: ``type`` of log records whose type name we do not know (the name is kept).
UNKNOWN_TYPE_NUMBER = 0

#: Latest record time accepted (9999-12-31T23:59:59Z): beyond it a stamp cannot be
#: rendered as a date, and no kernel clock gets there.
MAX_TIMESTAMP = 253402300799
_MAX_SECONDS_DIGITS = 12


_STAMP = re.compile(r"audit\((\d+)\.(\d+):(\d+)\):?")
_LOG_HEADER = re.compile(r"(?:node=(\S*) )?type=(\S+) msg=audit\((\d+)\.(\d+):(\d+)\):?")


def _split_enrichment(text: str) -> tuple[str, Mapping[str, str]]:
    sep = text.find(ENRICHMENT_SEPARATOR)
    if sep == -1:
        return text, _NO_ENRICHMENT
    extra = text[sep + 1 :]
    # auditd writes the same translations again and again (UID="root" ...):
    # records share one read-only mapping per distinct translation text.
    cached = _ENRICHMENTS.get(extra)
    if cached is None:
        cached = MappingProxyType(_parse_enrichment(extra))
        if len(extra) <= MEMO_ENRICHMENT_LENGTH:
            if len(_ENRICHMENTS) >= MEMO_ENRICHMENTS:
                _ENRICHMENTS.clear()
            _ENRICHMENTS[extra] = cached
    return text[:sep], cached


_NO_ENRICHMENT: Mapping[str, str] = MappingProxyType({})
_ENRICHMENTS: dict[str, Mapping[str, str]] = {}
MEMO_ENRICHMENTS = 1 << 12
MEMO_ENRICHMENT_LENGTH = 512


def _parse_enrichment(extra: str) -> dict[str, str]:
    enriched: dict[str, str] = {}
    if extra.startswith("SADDR="):
        brace = extra.find("{")
        if brace != -1:
            enriched["SADDR"] = extra[brace:].rstrip()
    else:
        for token in extra.split():
            name, eq, value = token.partition("=")
            if eq:
                enriched.setdefault(name, value)
    return enriched


def _make_record(
    msg_type: int,
    name: str,
    sec: str,
    ms: str,
    serial: str,
    node: str | None,
    body: str,
    raw: str,
    enriched: Mapping[str, str],
) -> AuditRecord:
    if len(sec) > _MAX_SECONDS_DIGITS or int(sec) > MAX_TIMESTAMP or len(serial) > 20:
        raise RecordParseError(f"audit stamp out of range: {sec[:30]}.{ms[:3]}:{serial[:30]}")
    items = split_fields(body, msg_type) if body else ()
    return AuditRecord(
        type=msg_type,
        type_name=name,
        timestamp=int(sec) + int(ms[:3].ljust(3, "0")) / 1000,
        sequence=int(serial),
        node=node,
        raw=raw,
        items=tuple(items),
        enriched=enriched,
    )


def record_body(raw: str) -> str:
    """The ``name=value`` part of a record's text (no stamp, no enrichment)."""
    match = _LOG_HEADER.match(raw) or _STAMP.match(raw)
    start = match.end() if match is not None else 0
    return raw[start:].split(ENRICHMENT_SEPARATOR, 1)[0].strip()


def _as_text(data: str | bytes) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "surrogateescape")
    return data


def parse_kernel_record(
    msg_type: int, text: str | bytes, *, node: str | None = None, fields: bool = True
) -> AuditRecord:
    """Parse the payload of an audit netlink message.

    Args:
        msg_type: The netlink message type (the record type number).
        text: The payload after the 16-byte netlink header; trailing NULs and
            newlines are ignored.
        node: Node name to attach (live records have none).
        fields: ``False`` parses the stamp only (every check included) and
            leaves ``items``/``enriched`` empty, as :func:`parse_log_line`.

    Raises:
        RecordParseError: The payload has no ``audit(sec.ms:serial)`` stamp or is
            longer than :data:`MAX_RECORD_LENGTH`.
    """
    raw = _as_text(text).rstrip("\x00\n")
    if len(raw) > MAX_RECORD_LENGTH:
        raise RecordParseError(f"record longer than {MAX_RECORD_LENGTH} characters")
    match = _STAMP.match(raw)
    if match is None:
        raise RecordParseError(f"no audit(...) stamp in {raw[:60]!r}")
    sec, ms, serial = match.groups()
    if not fields:
        return _make_record(
            msg_type, type_name(msg_type), sec, ms, serial, node, "", raw, _NO_ENRICHMENT
        )
    body, enriched = _split_enrichment(raw[match.end() :])
    return _make_record(msg_type, type_name(msg_type), sec, ms, serial, node, body, raw, enriched)


def parse_log_line(line: str | bytes, *, fields: bool = True) -> AuditRecord:
    """Parse one audit.log line (RAW or ENRICHED format, optional ``node=`` prefix).

    Args:
        line: The line, with or without its newline.
        fields: ``False`` parses the header only (type, stamp, node: what
            reassembly needs), with every check of a full parse, and leaves
            ``items`` and ``enriched`` empty -- for grouping lines into events
            before parsing them elsewhere (``trioaudit parse --jobs``).

    Raises:
        RecordParseError: The line is not an audit record.
    """
    raw = _as_text(line).rstrip("\r\n\x00")
    if len(raw) > MAX_RECORD_LENGTH:
        raise RecordParseError(f"line longer than {MAX_RECORD_LENGTH} characters")
    match = _LOG_HEADER.match(raw)
    if match is None:
        raise RecordParseError(f"not an audit.log record: {raw[:60]!r}")
    node, name, sec, ms, serial = match.groups()
    try:
        number = type_number(name)
    except RecordParseError:
        # A type this version does not know (newer auditd/kernel): keep the
        # record under its logged name, with number UNKNOWN_TYPE_NUMBER.
        number = UNKNOWN_TYPE_NUMBER
    if not fields:
        return _make_record(number, name, sec, ms, serial, node, "", raw, _NO_ENRICHMENT)
    body, enriched = _split_enrichment(raw[match.end() :])
    return _make_record(number, name, sec, ms, serial, node, body, raw, enriched)
