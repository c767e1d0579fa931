"""Output formatters for events: JSON lines, flat records, ausearch-like text.

Theory of operation
-------------------
Three shapes, each with an interpreted and a ``raw`` variant:

``json`` (default)
    One event per line: ``{"timestamp", "sequence", "node", "records": [{"type",
    "fields", ("argv"), ("sockaddr")}...]}`` -- see docs/events.md.
``records``
    One record per line, flat, in the spirit of go-libaudit's ``auparse`` output:
    ``{"timestamp", "sequence", "node", "record_type", "record_type_number", "data"}``.
``text``
    ``ausearch -i``-like: a ``----`` line per event, then one
    ``type=NAME msg=audit(MM/DD/YY HH:MM:SS.mmm:serial) : name=value ...`` line
    per record, last record first (local time, byte for byte like ``ausearch -i``
    for the same event).

Audit data is attacker-controlled (a process can name itself with escape
sequences), so:

* JSON is always valid JSON *and* valid UTF-8: bytes that were not UTF-8 reach us
  as surrogate escapes and are written as the four characters ``\\xNN`` (so the
  JSON string ``"ev\\\\xffil"`` stands for the bytes ``ev<0xff>il``). The encoding is
  lossless for every input except a literal backslash followed by ``xNN`` in the
  data, which reads the same -- documented, and rare (the kernel hex-encodes
  unusual values, and interpreted values keep libauparse's ``\\ooo`` escapes).
* Text output keeps only printable characters: controls (C0, DEL, C1), format
  characters (bidi overrides, zero-width spaces), separators other than the space
  and undecodable bytes become ``\\xNN``/``\\uNNNN`` escapes.
"""

from __future__ import annotations

import json
import re
import time
from json.encoder import encode_basestring as _json_string
from operator import itemgetter
from typing import Any, Literal

from .._records.interpret import default_interpreter
from .._records.model import AuditEvent, AuditRecord, format_timestamp
from .._records.parse import record_body
from .._records.values import KEY_SEPARATOR, decode_value, split_fields
from .._tables.msgtypes import AuditMessageType as _T

__all__ = ["FORMATS", "OutputFormat", "event_json", "json_dumps", "neutralise", "render_event"]

OutputFormat = Literal["json", "records", "text"]
FORMATS: tuple[OutputFormat, ...] = ("json", "records", "text")

_SURROGATE = re.compile("[\udc80-\udcff]")
_ANY_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_to_hex(match: re.Match[str]) -> str:
    return f"\\\\x{ord(match.group()) - 0xDC00:02x}"


#: Left raw by json.dumps, but acted on by terminals or line splitters.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _json_unicode_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _make_safe(text: str) -> str:
    # The post-processing of json_dumps, on JSON text however it was built.
    if text.isascii():  # the common case, decided in C at memory speed
        if "\x7f" in text:
            return _JSON_UNSAFE.sub(_json_unicode_escape, text)
        return text
    if _ANY_SURROGATE.search(text) is not None:
        text = _SURROGATE.sub(_surrogate_to_hex, text)
        # Anything else unencodable (a lone surrogate outside the escape range).
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if _JSON_UNSAFE.search(text) is not None:
        text = _JSON_UNSAFE.sub(_json_unicode_escape, text)
    return text


def json_dumps(obj: Any) -> str:
    """Compact JSON that is valid UTF-8 whatever bytes the audit data held.

    JSON lines end up on terminals (``trioaudit tail``): characters a terminal
    or a line splitter acts on that ``json.dumps`` leaves raw (DEL, C1 controls,
    line/paragraph separators, bidi overrides) are written as ``\\uNNNN``
    escapes, which decode to the same string.
    """
    return _make_safe(_encode(obj))


# One encoder for every call: json.dumps() with non-default options builds a new
# JSONEncoder per call, which costs more than encoding a small value.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


_EXECVE, _SOCKADDR = int(_T.EXECVE), int(_T.SOCKADDR)
_ARGV_TYPES = frozenset({_EXECVE, int(_T.PROCTITLE)})


def _raw_fields_json(record: AuditRecord) -> tuple[str, bool]:
    # json of record.raw_fields: decoding depends only on (type, name, value),
    # so each field's fragment is memoised like Interpreter.fields_json's.
    items = record.items
    if len(set(map(_first, items))) != len(items):
        return _encode(dict(record.raw_fields)), True  # first wins, keys joined
    rtype = record.type
    cache = _RAW_FRAGMENTS.get(rtype)
    if cache is None:
        cache = _RAW_FRAGMENTS[rtype] = {}
    fragments = list(map(cache.get, items))
    if None in fragments:
        index = fragments.index(None)
        while True:
            item = items[index]
            fragment = _json_string(item[0]) + ":" + _json_string(decode_value(*item, rtype))
            fragments[index] = fragment
            if len(item[1]) <= _RAW_MEMO_VALUE_LENGTH:
                if len(cache) >= _RAW_MEMO_LIMIT:
                    cache.clear()
                cache[item] = fragment
            try:
                index = fragments.index(None, index + 1)
            except ValueError:
                break
    return "{" + ",".join(fragments) + "}", False  # type: ignore[arg-type]


_RAW_FRAGMENTS: dict[int, dict[tuple[str, str], str]] = {}
_RAW_MEMO_LIMIT = 1 << 16
_RAW_MEMO_VALUE_LENGTH = 256
_first = itemgetter(0)


def _interpreted_extras(record: AuditRecord, repeats: bool) -> str:
    # "argv", "sockaddr" and "keys", as AuditRecord.to_dict() adds them.
    rtype = record.type
    extras = ""
    if rtype in _ARGV_TYPES:
        argv = record.argv
        if argv is not None:
            extras = ',"argv":' + _encode(list(argv))
    elif rtype == _SOCKADDR:
        saddr = record.sockaddr
        if saddr is not None:
            extras = ',"sockaddr":' + _encode(saddr)
    if repeats and sum(1 for name, _ in record.items if name == "key") > 1:
        extras += ',"keys":' + _encode(record.raw_fields["key"].split(KEY_SEPARATOR))
    return extras


def event_json(event: AuditEvent, raw: bool = False) -> str:
    """``json_dumps(event.to_dict(raw))``, the same text, built faster.

    The fields come as finished JSON text from :meth:`Interpreter.fields_json`
    (or, raw, from per-field memoised fragments of the decoded values); the
    rest is concatenated here in :meth:`AuditEvent.to_dict`'s key order. Events
    whose argument vector spans several EXECVE records (rare) take the
    reference path.
    """
    records = event.records
    if not raw and sum(1 for record in records if record.type == _EXECVE) > 1:
        return json_dumps(event.to_dict())
    fields_json = _raw_fields_json if raw else default_interpreter().fields_json
    parts: list[str] = []
    for record in records:
        fields, repeats = fields_json(record)
        part = '{"type":' + _json_string(record.type_name) + ',"fields":' + fields
        if not raw:
            part += _interpreted_extras(record, repeats)
        if " msg='" in record.raw:
            message = record.message
            if message is not None:
                part += ',"msg":' + _json_string(message)
        parts.append(part + "}")
    node = "null" if event.node is None else _json_string(event.node)
    return _make_safe(
        '{"timestamp":"'
        + format_timestamp(event.timestamp)
        + '","sequence":'
        + str(event.sequence)
        + ',"node":'
        + node
        + ',"records":['
        + ",".join(parts)
        + "]}"
    )


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def neutralise(text: str) -> str:
    """Make audit text safe for a terminal: only printable characters survive.

    Everything ``str.isprintable`` rejects (C0/C1 controls, DEL, format characters
    such as bidi overrides and zero-width spaces, separators other than the space,
    surrogate-escaped bytes, unassigned code points) becomes an escape.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def _record_line(event: AuditEvent, record: AuditRecord, raw: bool) -> dict[str, Any]:
    return {
        "timestamp": format_timestamp(record.timestamp),
        "sequence": record.sequence,
        "node": record.node,
        "record_type": record.type_name,
        "record_type_number": record.type,
        "data": dict(record.raw_fields if raw else record.fields),
    }


def _ausearch_time(timestamp: float) -> str:
    ms = round(timestamp * 1000)
    seconds, millis = divmod(ms, 1000)
    # ausearch prints strftime("%x %T") in the C locale: two-digit year.
    return time.strftime("%m/%d/%y %H:%M:%S", time.localtime(seconds)) + f".{millis:03d}"


def _text_lines(event: AuditEvent, raw: bool) -> list[str]:
    lines = ["----"]
    stamp = f"{_ausearch_time(event.timestamp)}:{event.sequence}"
    # ausearch lists an event's records last to first, each line ending in a space.
    for record in reversed(event.records):
        head = f"type={record.type_name} msg=audit({stamp}) :"
        if event.node:
            head = f"node={event.node} {head}"
        if raw:
            pairs = list(record.raw_fields.items())
            body = "".join(f"{name}={value} " for name, value in pairs)
        else:
            pairs = default_interpreter().interpret_items(record)
            if record.message is None:
                body = "".join(f"{name}={value} " for name, value in pairs)
            else:
                body = _user_message_body(record, pairs)
        if record.raw[record.raw.find("): ") + 3 :][:1] == " ":
            body = " " + body  # continuation EXECVE records start with a space
        lines.append(neutralise(f"{head} {body}"))
    return lines


def _user_message_body(record: AuditRecord, pairs: list[tuple[str, str]]) -> str:
    # ausearch keeps a user-space record's msg='...' together, free words included:
    # walk the logged tokens, substituting each field with its interpretation.
    out: list[str] = []
    index = 0
    inside = False
    for token in record_body(record.raw).split(" "):
        if not token:
            continue
        prefix = ""
        if not inside and token.startswith("msg='"):
            inside = True
            prefix = "msg='"
            token = token[5:]
        count = len(split_fields(token, record.type)) if token else 0
        if count and index + count <= len(pairs):
            text = " ".join(f"{n}={v}" for n, v in pairs[index : index + count])
            index += count
        else:
            text = token.rstrip("'") if inside else token
        out.append(prefix + text)
    body = " ".join(out)
    return f"{body}' " if inside else f"{body} "


def render_event(event: AuditEvent, fmt: OutputFormat = "json", *, raw: bool = False) -> str:
    """Render one event in the given format (may be several lines, no trailing newline)."""
    if fmt == "json":
        return event_json(event, raw)
    if fmt == "records":
        return "\n".join(json_dumps(_record_line(event, r, raw)) for r in event.records)
    if fmt == "text":
        return "\n".join(_text_lines(event, raw))
    raise ValueError(f"unknown output format {fmt!r}")
