"""The public model of audit records and events.

Theory of operation
-------------------
The kernel emits one *record* per netlink message (``SYSCALL``, ``PATH``,
``CWD``, ``EOE``...). Records that share a ``(timestamp, serial)`` stamp belong
to one *event*. The parser (:mod:`.parse`) builds :class:`AuditRecord` objects;
the reassembler (:mod:`.reassembly`) groups them into :class:`AuditEvent` objects.
This module sits between them and what it builds on: the text grammar
(:mod:`.values`) and interpretation (:mod:`.interpret`), which never call back
into it -- they read a record through the few attributes it has.

Both are frozen slotted dataclasses built only by trioaudit's own parsers, so
construction does no validation (h11's ``_parsed`` idea): parsing must stay at
hundreds of thousands of records per second.

Interpretation (``uid=0`` -> ``root``, ``syscall=59`` -> ``execve``) is costly
and most consumers filter before they look, so :attr:`AuditRecord.fields` is
computed lazily on first access and cached inside the (otherwise frozen)
record. Interpretation is done by the process-wide default
:class:`~trioaudit._records.interpret.Interpreter`; callers that need another user
database (tests, offline analysis of a foreign machine's logs) call
:meth:`AuditRecord.interpret` with their own interpreter.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .._tables.msgtypes import AuditMessageType as _T
from .interpret import (
    Interpreter,
    default_interpreter,
    execve_argv,
    proctitle_argv,
    saddr_sockaddr,
)
from .values import AVC_TYPES, KEY_SEPARATOR, decode_fields, decode_value

__all__ = ["AuditEvent", "AuditRecord", "KernelRecord", "format_timestamp"]

_EXECVE, _PROCTITLE, _SOCKADDR = int(_T.EXECVE), int(_T.PROCTITLE), int(_T.SOCKADDR)


_last_second: list[Any] = [None, ""]


def format_timestamp(timestamp: float) -> str:
    """Render epoch seconds as ISO 8601 UTC with milliseconds (``...T17:20:31.123Z``)."""
    ms = round(timestamp * 1000)
    seconds, millis = divmod(ms, 1000)
    # Consecutive events share their second: remember the last one formatted.
    if _last_second[0] != seconds:
        moment = _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)
        _last_second[0] = seconds
        _last_second[1] = f"{moment:%Y-%m-%dT%H:%M:%S}"
    return f"{_last_second[1]}.{millis:03d}Z"


@dataclass(frozen=True, slots=True, eq=False)
class AuditRecord:
    """One audit record, as the kernel (or an audit.log line) delivered it.

    Attributes:
        type: The record type number (``1300``).
        type_name: Its name as auditd logs it (``"SYSCALL"``, ``"UNKNOWN[1999]"``).
        timestamp: Epoch seconds with millisecond precision, from ``audit(sec.ms:serial)``.
        sequence: The serial number shared by all records of one event.
        node: The ``node=`` prefix of audit.log lines (``None`` for live records).
        raw: The original text (the netlink payload or the whole log line).
        items: Every ``(name, value)`` pair in order, duplicates included, with
            the value exactly as it appeared (quoted or hex) -- what
            interpretation works from.
        enriched: Upper-case translations from auditd's ENRICHED log format
            (``UID="root"``), keyed by their upper-case name.
    """

    type: int
    type_name: str
    timestamp: float
    sequence: int
    node: str | None
    raw: str
    items: tuple[tuple[str, str], ...] = ()
    enriched: Mapping[str, str] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def raw_fields(self) -> Mapping[str, str]:
        """Field values with quoting removed and hex decoded, as strings.

        Bytes that are not UTF-8 are kept with ``surrogateescape``. When a name
        repeats, the first value wins (as libauparse's ``find_field``); several
        rule keys are joined with ``\\x01`` as the kernel logs them. Computed on
        first access (parsing stays cheap for records that are filtered out).
        """
        cached = self._cache.get("raw")
        if cached is None:
            cached = MappingProxyType(decode_fields(self.type, self.items))
            self._cache["raw"] = cached
        return cached

    @property
    def fields(self) -> Mapping[str, str]:
        """Interpreted field values: the strings libauparse's ``interpret_field`` gives.

        Computed on first access with the default interpreter, then cached.
        """
        cached = self._cache.get("fields")
        if cached is None:
            cached = MappingProxyType(default_interpreter().interpret(self))
            self._cache["fields"] = cached
        return cached

    def repeated_fields(self, raw: bool = False) -> dict[str, list[str]]:
        """The later values of each field name that repeats, in order: what
        :attr:`fields` (first wins) leaves out. Interpreted, or decoded when
        ``raw``; rule keys are left to ``keys`` (and the joined raw ``key``).

        ``pid=2166 ... auditd pid=21`` -> ``{"pid": ["21"]}``; ``{}`` when no name
        repeats (nearly always).
        """
        items = self.items
        if len({name for name, _ in items}) == len(items):
            return {}
        if raw:
            pairs = [(name, decode_value(name, value, self.type)) for name, value in items]
        else:
            pairs = default_interpreter().interpret_items(self)
        seen: set[str] = set()
        later: dict[str, list[str]] = {}
        for name, value in pairs:
            if name not in seen:
                seen.add(name)
            elif name != "key":
                later.setdefault(name, []).append(value)
        return later

    def interpret(self, interpreter: Interpreter) -> Mapping[str, str]:
        """Interpret the fields with a specific interpreter (not cached)."""
        return interpreter.interpret(self)

    @property
    def argv(self) -> tuple[str, ...] | None:
        """The argument vector of an ``EXECVE`` or ``PROCTITLE`` record, else ``None``.

        For an EXECVE split over several records this is only this record's part;
        :attr:`AuditEvent.argv` assembles the whole vector.
        """
        if self.type == _EXECVE:
            return execve_argv(self.raw_fields)
        if self.type == _PROCTITLE:
            return proctitle_argv(self.items)
        return None

    @property
    def sockaddr(self) -> dict[str, Any] | None:
        """The decoded ``saddr`` of a ``SOCKADDR`` record, else ``None``."""
        if self.type != _SOCKADDR:
            return None
        return saddr_sockaddr(self.raw_fields.get("saddr"))

    @property
    def message(self) -> str | None:
        """The whole ``msg='...'`` text of a user-space record, else ``None``.

        Interpretation splits it into fields on spaces, as libauparse does, which
        loses free text (``auditctl -m "two words"``); this keeps it.
        """
        start = self.raw.find(" msg='")
        if start == -1:
            return None
        body = self.raw[start + 6 :].split("\x1d", 1)[0]
        end = body.rfind("'")
        return body[:end] if end != -1 else body

    def to_dict(self, raw: bool = False) -> dict[str, Any]:
        """The JSON shape of one record inside an event (see docs/events.md)."""
        out: dict[str, Any] = {
            "type": self.type_name,
            "fields": dict(self.raw_fields if raw else self.fields),
        }
        repeated = self.repeated_fields(raw)
        if repeated:
            out["repeated"] = repeated
        if not raw:
            argv = self.argv
            if argv is not None:
                out["argv"] = list(argv)
            saddr = self.sockaddr
            if saddr is not None:
                out["sockaddr"] = saddr
            keys = [value for name, value in self.items if name == "key"]
            if len(keys) > 1:
                # One rule matched under several keys: "fields" shows the first
                # (as libauparse's find_field), "keys" lists them all.
                out["keys"] = self.raw_fields["key"].split(KEY_SEPARATOR)
        message = self.message
        if message is not None:
            out["msg"] = message
        return out


@dataclass(frozen=True, slots=True, eq=False)
class AuditEvent:
    """All records sharing one ``(timestamp, serial)`` stamp, in arrival order.

    Attributes:
        sequence: The serial number.
        timestamp: Epoch seconds (millisecond precision).
        node: The originating node name, if the log carried one.
        records: The records, in the order they arrived (the reassembler keeps
            no ``EOE`` record: it has no fields).
        eoe: Whether an ``EOE`` record ended the event -- the kernel's own "that
            was all", which ``ausearch`` prints as a ``type=EOE`` line. ``False``
            for events completed by timeout, by their type or early.
    """

    sequence: int
    timestamp: float
    node: str | None
    records: tuple[AuditRecord, ...]
    eoe: bool = False

    @property
    def type_name(self) -> str:
        """The type name of the first record (the event's "kind")."""
        return self.records[0].type_name if self.records else ""

    @property
    def type(self) -> int:
        """The type number of the first record."""
        return self.records[0].type if self.records else 0

    @property
    def type_names(self) -> tuple[str, ...]:
        """Every record type in the event, in order."""
        return tuple(r.type_name for r in self.records)

    @property
    def iso_timestamp(self) -> str:
        """The timestamp as ISO 8601 UTC with milliseconds."""
        return format_timestamp(self.timestamp)

    def record(self, type_name: str) -> AuditRecord | None:
        """The first record of the given type name, or ``None``."""
        for rec in self.records:
            if rec.type_name == type_name:
                return rec
        return None

    def raw_value(self, name: str) -> str | None:
        """The first raw (decoded, uninterpreted) value of a field in any record."""
        for rec in self.records:
            value = rec.raw_fields.get(name)
            if value is not None:
                return value
        return None

    def value(self, name: str) -> str | None:
        """The first interpreted value of a field in any record."""
        for rec in self.records:
            if name in rec.raw_fields:
                return rec.fields.get(name)
        return None

    @property
    def key(self) -> str | None:
        """The rule key (``-k``), decoded; ``None`` when absent or ``(null)``.

        An ``AVC``'s ``key`` is the object's IPC key, not a rule key: skipped.
        """
        for rec in self.records:
            if rec.type not in AVC_TYPES:
                value = rec.raw_fields.get("key")
                if value is not None:
                    return None if value == "(null)" else value
        return None

    @property
    def keys(self) -> tuple[str, ...]:
        """All rule keys (several keys are joined by ``\\x01`` in the record)."""
        value = self.key
        return tuple(value.split(KEY_SEPARATOR)) if value else ()

    @property
    def syscall(self) -> str | None:
        """The syscall name (interpreted) of the SYSCALL record, if any."""
        rec = self.record("SYSCALL")
        return rec.fields.get("syscall") if rec is not None else None

    @property
    def success(self) -> bool | None:
        """Whether the syscall / user operation succeeded (``None`` if unknown)."""
        value = self.raw_value("success")
        if value is not None:
            return value == "yes"
        res = self.raw_value("res")
        if res is not None:
            return res in ("1", "success", "yes")
        return None

    @property
    def comm(self) -> str | None:
        """The command name (decoded)."""
        return self.raw_value("comm")

    @property
    def exe(self) -> str | None:
        """The executable path (decoded)."""
        return self.raw_value("exe")

    @property
    def pid(self) -> int | None:
        """The process id, if any record has one."""
        value = self.raw_value("pid")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def uid(self) -> str | None:
        """The interpreted ``uid`` (a user name when known)."""
        return self.value("uid")

    @property
    def auid(self) -> str | None:
        """The interpreted login uid (``unset`` when not logged in)."""
        return self.value("auid")

    @property
    def argv(self) -> tuple[str, ...] | None:
        """The full argument vector of the event's EXECVE record(s), else ``None``.

        The kernel splits long arguments across several EXECVE records; their
        fields are merged before decoding.
        """
        execs = [r for r in self.records if r.type == _EXECVE]
        if not execs:
            return None
        if len(execs) == 1:
            return execs[0].argv
        merged: dict[str, str] = {}
        for rec in execs:
            for name, value in rec.raw_fields.items():
                merged.setdefault(name, value)
        return execve_argv(merged)

    def to_dict(self, raw: bool = False) -> dict[str, Any]:
        """The JSON shape of one event (see docs/events.md)."""
        records = [rec.to_dict(raw) for rec in self.records]
        if not raw:
            execs = [i for i, rec in enumerate(self.records) if rec.type == _EXECVE]
            if len(execs) > 1:
                # One argv for the whole event, on the first EXECVE record.
                argv = self.argv
                for i in execs[1:]:
                    records[i].pop("argv", None)
                if argv is not None:
                    records[execs[0]]["argv"] = list(argv)
        return {
            "timestamp": format_timestamp(self.timestamp),
            "sequence": self.sequence,
            "node": self.node,
            "records": records,
        }


@dataclass(frozen=True, slots=True)
class KernelRecord:
    """One audit record as the kernel sent it, before any parsing.

    What the trio client's reader queues for :meth:`AuditClient.records`: it
    belongs to the record model (the parser turns its text into an
    :class:`AuditRecord`), not to the client that happens to receive it.

    Attributes:
        type: The audit message type number (e.g. 1300 for SYSCALL).
        text: The payload text, e.g. ``"audit(1700000000.123:42): arch=..."``;
            bytes that are not UTF-8 are kept as surrogate escapes.
        received: Wall-clock time (``time.time()``) the reader received it.
    """

    type: int
    text: str
    received: float

    @property
    def type_name(self) -> str:
        """The record type's name (``"SYSCALL"``), or ``"UNKNOWN[n]"``.

        The :class:`~trioaudit.AuditMessageType` member name, which differs
        from the name auditd logs for a few types (1500 is ``AA`` here and
        ``APPARMOR`` in :attr:`AuditRecord.type_name`).
        """
        try:
            return _T(self.type).name
        except ValueError:
            return f"UNKNOWN[{self.type}]"
