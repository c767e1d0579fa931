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
:mod:`.values`. The header is matched by anchored regular expressions with
possessive repeats: there is no backtracking construct that could make a hostile
line take super-linear time.

Log lines: what is accepted
---------------------------
When no audit daemon runs, the kernel prints records to its log, and people read
them from ``dmesg``, ``journalctl`` or syslog. A line is a record when it is
``[node=HOST ]type=TYPE [msg=]audit(sec.ms:serial):[ body]``, where:

* ``msg=`` may be missing, as the kernel prints it (``type=SYSCALL audit(...)``;
  libauparse reads that too);
* ``TYPE`` is a name auditd logs (``SYSCALL``), a number (``1300``, as the kernel
  prints it) or ``UNKNOWN[n]`` (what auditd logs for a type it cannot name); a
  number names the record from our tables -- ``type=1300`` and
  ``type=UNKNOWN[1334]`` are ``SYSCALL`` and ``BPF``, as libauparse and today's
  auditd name them -- and a number we cannot name reads ``UNKNOWN[n]``, as
  ``ausearch`` prints it. A name we do not know is kept as logged, with number
  :data:`UNKNOWN_TYPE_NUMBER`;
* the header may follow a **prefix** that contains no ``=`` and ends in a space
  or a ``:`` -- so the line's first ``=`` is the header's ``node=`` or ``type=``.
  That covers syslog (``Oct 28 21:34:13 host kernel: ``, ``host prog[pid]: ``),
  ISO-stamped syslog and ``journalctl -o short-iso``
  (``2019-10-28T21:34:13.690000+00:00 host kernel: ``), ``dmesg``
  (``[  123.456789] ``), the kernel's own ``audit: `` and ``kernel: `` and ``grep
  -H`` (``audit.log:``), and any mix of them. Requiring the first ``=`` to be the
  header's is what keeps a record's body from being taken for a header: every
  body that could carry a ``type=... audit(...)`` of its own (a ``msg='...'``
  text, a value) comes after at least one ``name=value`` of its record;
* old kernels' AppArmor form, the stamp before the type, with the same prefixes:
  ``audit(1189201672.746:537): type=1503 operation=...``.

``raw`` keeps the whole line, prefix included; :func:`record_body` finds the body
behind any accepted header. (Records read from a syslog are as trustworthy as the
syslog: anyone allowed to write to it can write a line of this form.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from .._native import core
from .._tables.msgtype_names import LOG_NUMBERS
from .._tables.msgtypes import AuditMessageType
from .model import AuditEvent, AuditRecord
from .values import RecordParseError, split_fields, type_name, type_number

__all__ = [
    "MAX_RECORD_LENGTH",
    "MAX_TIMESTAMP",
    "UNKNOWN_TYPE_NUMBER",
    "RecordParseError",
    "parse_kernel_record",
    "parse_log_line",
    "record_body",
    "reference_parse_kernel_record",
    "reference_parse_log_line",
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


_STAMP = re.compile(r"audit\((\d++)\.(\d++):(\d++)\):?")
_LOG_HEADER = re.compile(r"(?:node=(\S*+) )?type=(\S++) (?:msg=)?audit\((\d++)\.(\d++):(\d++)\):?")
# Old kernels' AppArmor lines: "audit(sec.ms:serial): type=1503 operation=...".
_STAMP_FIRST = re.compile(r"audit\((\d++)\.(\d++):(\d++)\):? type=(\S++)")
#: What may end the prefix before a header (see the module doc).
_PREFIX_ENDS = frozenset(" :")

#: ``(node, type name, sec, ms, serial, end of header)``.
_Header = tuple["str | None", str, str, str, str, int]


def _log_header(raw: str) -> _Header | None:
    """The header of a log line, in any form the module doc accepts, or ``None``."""
    match = _LOG_HEADER.match(raw)
    if match is None:
        return _prefixed_header(raw)
    node, name, sec, ms, serial = match.groups()
    return node, name, sec, ms, serial, match.end()


def _prefixed_header(raw: str) -> _Header | None:
    """The header of a line that does not start with one: after a prefix."""
    eq = raw.find("=")
    start = eq - 4
    if start < 0 or (start and raw[start - 1] not in _PREFIX_ENDS):
        return None
    match = _LOG_HEADER.match(raw, start)
    if match is not None:
        node, name, sec, ms, serial = match.groups()
        return node, name, sec, ms, serial, match.end()
    stamp = raw.rfind("audit(", 0, start)
    if stamp == -1 or (stamp and raw[stamp - 1] not in _PREFIX_ENDS):
        return None
    old = _STAMP_FIRST.match(raw, stamp)
    if old is None or old.start(4) != eq + 1:
        return None
    sec, ms, serial, name = old.groups()
    return None, name, sec, ms, serial, old.end()


def _split_enrichment(text: str) -> tuple[str, Mapping[str, str]]:
    sep = text.find(ENRICHMENT_SEPARATOR)
    if sep == -1:
        return text, _NO_ENRICHMENT
    return text[:sep], _enrichment_for(text[sep + 1 :])


def _enrichment_for(extra: str) -> Mapping[str, str]:
    """The read-only translations of one ENRICHED tail (after the separator)."""
    # auditd writes the same translations again and again (UID="root" ...):
    # records share one read-only mapping per distinct translation text.
    cached = _ENRICHMENTS.get(extra)
    if cached is None:
        cached = MappingProxyType(_parse_enrichment(extra))
        if len(extra) <= MEMO_ENRICHMENT_LENGTH:
            if len(_ENRICHMENTS) >= MEMO_ENRICHMENTS:
                _ENRICHMENTS.clear()
            _ENRICHMENTS[extra] = cached
    return cached


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
    header = _log_header(raw)
    if header is not None:
        start = header[5]
    else:
        match = _STAMP.match(raw)
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
    if _native_parse_kernel is not None and fields and isinstance(text, str):
        record = _native_parse_kernel(msg_type, type_name(msg_type), text, node)
        if record is not None:
            return record
    return reference_parse_kernel_record(msg_type, text, node=node, fields=fields)


def reference_parse_kernel_record(
    msg_type: int, text: str | bytes, *, node: str | None = None, fields: bool = True
) -> AuditRecord:
    """:func:`parse_kernel_record` on the pure-Python path (the core's reference)."""
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
    """Parse one audit.log line (RAW or ENRICHED format, optional ``node=`` prefix),
    or a record line from the kernel log (see the module doc for what is accepted).

    The compiled core (:mod:`trioaudit._native`) takes the common forms when it is
    there; it gives the record this function's reference code gives
    (:func:`reference_parse_log_line`), or declines and leaves the line to it.

    Args:
        line: The line, with or without its newline.
        fields: ``False`` parses the header only (type, stamp, node: what
            reassembly needs), with every check of a full parse, and leaves
            ``items`` and ``enriched`` empty -- for grouping lines into events
            before parsing them elsewhere (``trioaudit parse --jobs``).

    Raises:
        RecordParseError: The line is not an audit record.
    """
    if _native_parse_line is not None and fields:
        record = _native_parse_line(line)
        if record is not None:
            return record
    return reference_parse_log_line(line, fields=fields)


def reference_parse_log_line(line: str | bytes, *, fields: bool = True) -> AuditRecord:
    """:func:`parse_log_line` on the pure-Python path (the reference the core is held to)."""
    raw = _as_text(line).rstrip("\r\n\x00")
    if len(raw) > MAX_RECORD_LENGTH:
        raise RecordParseError(f"line longer than {MAX_RECORD_LENGTH} characters")
    match = _LOG_HEADER.match(raw)
    if match is not None:  # inline: the usual case, for speed
        node, name, sec, ms, serial = match.groups()
        end = match.end()
    else:
        header = _prefixed_header(raw)
        if header is None:
            raise RecordParseError(f"not an audit.log record: {raw[:60]!r}")
        node, name, sec, ms, serial, end = header
    number = LOG_NUMBERS.get(name)
    if number is None:
        try:
            # A number or UNKNOWN[n]: named from the number when we can.
            number = type_number(name)
            name = type_name(number)
        except RecordParseError:
            # A type this version does not know (newer auditd/kernel): keep the
            # record under its logged name, with number UNKNOWN_TYPE_NUMBER.
            number = UNKNOWN_TYPE_NUMBER
    if not fields:
        return _make_record(number, name, sec, ms, serial, node, "", raw, _NO_ENRICHMENT)
    body, enriched = _split_enrichment(raw[end:])
    return _make_record(number, name, sec, ms, serial, node, body, raw, enriched)


def _configure_native() -> Callable[[str | bytes], AuditRecord | None] | None:
    """Hand the compiled core what records are made of; its line parser, if any."""
    if core is None:
        return None
    core.configure(
        AuditRecord,
        AuditEvent,
        dict(LOG_NUMBERS),
        _enrichment_for,
        _NO_ENRICHMENT,
        int(AuditMessageType.AVC),
        int(AuditMessageType.USER_AVC),
        MAX_RECORD_LENGTH,
        MAX_TIMESTAMP,
    )
    parse_line: Callable[[str | bytes], AuditRecord | None] = core.parse_line
    return parse_line


_native_parse_line = _configure_native()
_native_parse_kernel: Callable[[int, str, str, str | None], AuditRecord | None] | None = (
    core.parse_kernel if _native_parse_line is not None else None  # type: ignore[union-attr]
)
