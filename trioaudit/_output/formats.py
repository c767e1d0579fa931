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
    ``ausearch -i``: a ``----`` line per event, then one
    ``type=NAME msg=audit(MM/DD/YY HH:MM:SS.mmm:serial) : name=value ...`` line
    per record, last record first, in local time.

``ausearch -i`` does not print libauparse's field list: its
``output_interpreted_record`` (audit-userspace 3.0.9, ``src/ausearch-report.c``)
walks each record's *text*, and so does ``text`` (our own code; the algorithm and
its quirks are ausearch's):

* the header is ``type=NAME msg=audit(MM/DD/YY HH:MM:SS.mmm:serial) `` (the
  event's stamp; the logged text up to ``(`` when the type has no name), after
  ``node=NAME `` for multi-host logs;
* then, for every ``=`` in the rest of the text, everything before it is printed
  verbatim (free words, punctuation, double spaces) -- the field's name is what
  follows the last space -- and the value is printed interpreted, followed by a
  space. A value runs to its closing quote when it starts with ``'`` or ``"``
  (the character after the quote is swallowed), else to the next space, or to a
  comma that comes first (a MAC label keeps its commas; an unclassified value
  keeps the comma, any other value loses it). ``msg=`` right after a space (the
  user-space message) is skipped so that its first field is interpreted; when
  free text or a double space comes before it, the whole message is one
  uninterpreted value;
* text after the last value is dropped -- unless that value ended at a comma, or
  the record has no ``=`` at all (``policy loaded``), in which case it is printed
  followed by an empty line;
* unclassified values are printed as logged (control characters escaped the way
  libauparse escapes them, where ausearch prints them raw), TTY data without the
  trailing space, several rule keys as ``key=a key=b``;
* an event whose last record is a ``DAEMON_*`` type prints that record only; the
  event's ``EOE`` record, when it had one, comes first: ``type=EOE msg=audit(...) : ``
  and an empty line.

Every value is interpreted by the project's one interpreter (the same memoised
pipeline, enrichment and escaping as the JSON), fed with the values the walk
found. Most records are plain single-spaced ``name=value`` lists, for which the
walk amounts to splitting at spaces: :func:`_simple_fields` takes that path with
memoised tokens (the tests hold it to :func:`_walk`). Where ``text`` departs from
ausearch, and why: docs/events.md ("--format text").

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
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring as _json_string
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from .._context import ProcessEntry
from .._normalize import normalize as normalize_event
from .._normalize.data import message_of
from .._records.interpret import default_interpreter, field_class
from .._records.interpret.printers import escape_tty, print_escaped
from .._records.model import AuditEvent, AuditRecord, format_timestamp
from .._records.parse import ENRICHMENT_SEPARATOR
from .._records.values import KEY_SEPARATOR, decode_value
from .._tables.msgtype_names import LOG_NAMES
from .._tables.msgtypes import AuditMessageType as _T

__all__ = [
    "FORMATS",
    "OutputFormat",
    "event_json",
    "events_text",
    "json_dumps",
    "neutralise",
    "reference_event_json",
    "reference_record_lines",
    "reference_text",
    "render_event",
]

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


def _record_tail(record: AuditRecord, repeats: bool, raw: bool = False) -> str:
    """What follows a record's ``"fields"`` in its JSON: ``"repeated"``, the extras
    (interpreted only) and ``"msg"``, in :meth:`AuditRecord.to_dict`'s key order."""
    part = ""
    if repeats:
        repeated = record.repeated_fields(raw)
        if repeated:
            part += ',"repeated":' + _encode(repeated)
    if not raw:
        part += _interpreted_extras(record, repeats)
    if " msg='" in record.raw:
        message = record.message
        if message is not None:
            part += ',"msg":' + _json_string(message)
    return part


def event_json(event: AuditEvent, raw: bool = False) -> str:
    """``json_dumps(event.to_dict(raw))``, the same text, built faster.

    The compiled core renders events when it is there, interpreted or raw (and hands
    any event it cannot take to :func:`reference_event_json`);
    ``tests/unit/test_native.py`` holds its text to the reference's.
    """
    renderer = _event_renderer()
    if renderer is not None:
        text: str = renderer.raw_event_json(event) if raw else renderer.event_json(event)
        return text
    return reference_event_json(event, raw)


def reference_event_json(event: AuditEvent, raw: bool = False) -> str:
    """:func:`event_json` on the pure-Python path (the reference the core is held to).

    The fields come as finished JSON text from :meth:`Interpreter.fields_json`
    (or, raw, from per-field memoised fragments of the decoded values); the
    rest is concatenated here in :meth:`AuditEvent.to_dict`'s key order. Events
    whose argument vector spans several EXECVE records (rare) take the
    slow path.
    """
    records = event.records
    if not raw and sum(1 for record in records if record.type == _EXECVE) > 1:
        return json_dumps(event.to_dict())
    fields_json = _raw_fields_json if raw else default_interpreter().fields_json
    parts: list[str] = []
    for record in records:
        fields, repeats = fields_json(record)
        part = '{"type":' + _json_string(record.type_name) + ',"fields":' + fields
        parts.append(part + _record_tail(record, repeats, raw) + "}")
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


def events_text(
    events: Sequence[AuditEvent],
    fmt: OutputFormat = "json",
    *,
    raw: bool = False,
    normalize: bool = False,
    ancestry: Callable[[AuditEvent], list[ProcessEntry]] | None = None,
) -> str:
    """Every event rendered, each followed by a newline: what a writer of many events
    wants (the core renders a whole batch of interpreted JSON lines in one call).

    normalize: each JSON event also carries its normalised members (category, summary,
    ECS ...: :func:`trioaudit.normalize_event`, ids resolved to names) after its records;
    ancestry: gives an event's process chain (``ProcessTable.event_ancestry``), written
    as its ``ancestry`` member (docs/context.md). JSON only.
    """
    if normalize or ancestry is not None:
        if fmt != "json":
            raise ValueError("normalized events and their context are written as JSON only")
        lines = events_text(events, raw=raw).split("\n")
        # Ids resolved to names as Auditbeat does, by the database the fields use.
        names = default_interpreter().db
        for index, event in enumerate(events):
            parts = []
            if normalize:
                members = _members_json(event, names)
                if members:
                    parts.append(members)
            chain = ancestry(event) if ancestry is not None else None
            if chain:
                parts.append('"ancestry":[' + ",".join(map(_entry_json, chain)) + "]")
            if parts:
                # The line is one JSON object: the members go before its closing brace.
                lines[index] = lines[index][:-1] + "," + ",".join(parts) + "}"
        return "\n".join(lines)
    if fmt == "text":
        renderer = _text_renderer()
        if renderer is not None:
            text_lines_out: str = renderer.text_events(events, raw)
            return text_lines_out
    elif fmt in ("json", "records"):
        renderer = _event_renderer()
        if renderer is not None:
            text: str
            if fmt == "records":
                text = renderer.records_text(events, raw)
            else:
                text = renderer.raw_events_json(events) if raw else renderer.events_json(events)
            return text
    return "".join(render_event(event, fmt, raw=raw) + "\n" for event in events)


# The core's renderer of the default interpreter, with formats' hooks set (or None).
_renderer_of: list[Any] = [None, None]


def _event_renderer() -> Any | None:
    interpreter = default_interpreter()
    if _renderer_of[0] is not interpreter:
        renderer = interpreter.native_renderer
        if renderer is not None:
            renderer.set_event_hooks(
                _record_tail, reference_event_json, _EXECVE, int(_T.PROCTITLE), _SOCKADDR
            )
            renderer.set_raw_hooks(_raw_fields_json, _RAW_FRAGMENTS)
            renderer.set_records_hook(reference_record_lines)
        _renderer_of[:] = [interpreter, renderer]
    return _renderer_of[1]


def _members_json(event: AuditEvent, names: Any) -> str:
    """The normalised members' JSON text without its braces ("" when none), memoised
    under the records' types and texts after the stamp -- all normalisation reads -- so
    that a repeated event costs one lookup (a flood of the same call, a busy daemon)."""
    key = (id(names), tuple((r.type, message_of(r.raw)) for r in event.records))
    found = _MEMBERS_JSON.get(key)
    if found is None or found[0] is not names:
        members = normalize_event(event, names=names)
        found = (names, json_dumps(members)[1:-1] if members else "")
        if len(_MEMBERS_JSON) >= _MEMBERS_JSON_LIMIT:
            _MEMBERS_JSON.clear()
        _MEMBERS_JSON[key] = found
    return found[1]


_MEMBERS_JSON: dict[tuple[Any, ...], tuple[Any, str]] = {}
_MEMBERS_JSON_LIMIT = 1 << 12


def _entry_json(entry: ProcessEntry) -> str:
    """A process entry's JSON text, kept on the entry until it changes."""
    text = entry.rendered
    if text is None:
        text = entry.rendered = json_dumps(entry.to_dict())
    return text


# The core's renderer of the text format for the default interpreter (or None).
_text_renderer_of: list[Any] = [None, None]


def _text_renderer() -> Any | None:
    interpreter = default_interpreter()
    if _text_renderer_of[0] is not interpreter:
        renderer = interpreter.native_text_renderer
        if renderer is not None:
            renderer.set_text_hooks(reference_text, LOG_NAMES, _DAEMON_FIRST, _DAEMON_END)
        _text_renderer_of[:] = [interpreter, renderer]
    return _text_renderer_of[1]


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


def reference_record_lines(event: AuditEvent, raw: bool = False) -> str:
    """The event in the records format: one JSON object per record, newline-separated.

    The reference of the compiled core's ``records_text`` (which hands back here any
    event it cannot render exactly); ``tests/unit/test_native.py`` compares the two.
    """
    return "\n".join(json_dumps(_record_line(event, r, raw)) for r in event.records)


def _record_line(event: AuditEvent, record: AuditRecord, raw: bool) -> dict[str, Any]:
    data = dict(record.raw_fields if raw else record.fields)
    line = {
        "timestamp": format_timestamp(record.timestamp),
        "sequence": record.sequence,
        "node": record.node,
        "record_type": record.type_name,
        "record_type_number": record.type,
        "data": data,
    }
    if len(data) != len(record.items):  # a name repeats (or several keys)
        repeated = record.repeated_fields(raw)
        if repeated:
            line["repeated"] = repeated  # as in the json format
    return line


# ---- text: ausearch -i, line for line (the algorithm: see the module docstring) ----

_DAEMON_FIRST, _DAEMON_END = int(_T.DAEMON_START), int(_T.SYSCALL)  # 1200 <= type < 1300


def _ausearch_time(timestamp: float) -> str:
    """``MM/DD/YY HH:MM:SS.mmm`` in local time, as ausearch prints a stamp."""
    ms = round(timestamp * 1000)
    seconds, millis = divmod(ms, 1000)
    # ausearch prints strftime("%x %T") in the C locale: two-digit year.
    return time.strftime("%m/%d/%y %H:%M:%S", time.localtime(seconds)) + f".{millis:03d}"


class _Walked(NamedTuple):
    """A record as the walk saw it: what :class:`Interpreter` reads (a ``RecordView``),
    with the values the walk found in place of the tokeniser's."""

    type: int
    raw: str
    items: tuple[tuple[str, str], ...]
    enriched: Mapping[str, str]


class _Slot(NamedTuple):
    """One value found by the walk: where its text goes in the line's pieces."""

    piece: int
    name: str  # as report_interpret sees it: leading spaces and "(" removed
    value: str  # as logged (quotes, hex)
    comma: bool  # the value ended at a comma


def _walk(body: str, rtype: int) -> tuple[list[str], list[_Slot], bool]:
    """Split the text after the stamp as ``output_interpreted_record`` does.

    Returns the pieces of the line (verbatim text, and an empty placeholder per
    value), the values, and whether an empty line follows (ausearch's
    ``safe_print_string(str, 1)`` ends its text with a newline of its own).
    Linear: the next comma and space are searched again only once passed.
    """
    pieces: list[str] = []
    slots: list[_Slot] = []
    end = len(body)
    pos = 0
    comma = False
    next_comma = next_space = -2  # not searched yet
    while pos < end:
        eq = body.find("=", pos)
        if eq == -1:
            if not slots and not pieces:  # no '=' at all: the text as is
                return [escape_tty(body[pos:])], slots, True
            break
        comma = False
        chunk = body[pos:eq]
        space = chunk.rfind(" ")
        name = chunk[space:] if space != -1 else chunk  # the space is kept
        pieces.append(chunk + "=")
        if name == "msg":  # msg='uid=500 ...: the real field is the next one
            pos = eq + 1
            continue
        if name[:1] == "'":
            name = name[1:]
        start = eq + 1
        quote = body[start : start + 1]
        if quote in ("'", '"'):
            close = body.find(quote, start + 1)
            if close == -1:
                value, pos = body[start:], end
            else:
                value = body[start : close + 1]
                pos = close + 2  # the character after the quote is swallowed
        else:
            if next_comma != -1 and next_comma < start:
                next_comma = body.find(",", start)
            if next_space != -1 and next_space < start:
                next_space = body.find(" ", start)
            if next_comma != -1 and (next_space == -1 or next_comma < next_space):
                # ausearch asks for the type of the value *from the space on*
                # (or of the rest); only a MAC label keeps its commas.
                rest = body[next_space:] if next_space != -1 else body[start:]
                if field_class(rtype, name, rest) == "MAC_LABEL":
                    stop = next_space if next_space != -1 else end
                else:
                    stop = next_comma
                    comma = True
                value, pos = body[start:stop], stop + 1
            elif next_space != -1:
                value, pos = body[start:next_space], next_space + 1
            else:
                value, pos = body[start:], end
        name = name.lstrip(" (")
        if name == "acct" and value[-1:] == ":":
            value = value[:-1]
        slots.append(_Slot(len(pieces), name, value, comma))
        pieces.append("")
    if comma:  # the last value ended at a comma: the rest as is
        pieces.append(escape_tty(body[pos:]))
        return pieces, slots, True
    return pieces, slots, False


def _interpreted(record: AuditRecord, slots: list[_Slot]) -> list[str]:
    """The printed text of each value, as ``report_interpret`` prints it."""
    walked = _Walked(
        record.type, record.raw, tuple((s.name, s.value) for s in slots), record.enriched
    )
    rtype = record.type
    out: list[str] = []
    for slot, (_, text) in zip(slots, default_interpreter().interpret_items(walked), strict=True):
        cls = field_class(rtype, slot.name, slot.value)
        if cls == "UNCLASSIFIED":
            out.append(text + ("," if slot.comma else " "))
        elif slot.name == "key":
            keys = print_escaped(slot.value)
            if KEY_SEPARATOR in keys:
                text = " key=".join(escape_tty(key) for key in keys.split(KEY_SEPARATOR))
            out.append(text + " ")
        elif cls == "TTY_DATA":
            out.append(text)
        else:
            out.append(text + " ")
    return out


def _decoded(record: AuditRecord, slots: list[_Slot]) -> list[str]:
    """``--raw``: each value decoded (quotes removed, hex decoded), not interpreted."""
    rtype = record.type
    return [decode_value(s.name, s.value, rtype) + ("," if s.comma else " ") for s in slots]


def _simple_pair(token: str) -> tuple[str, ...]:
    """``(name, value)`` when the walk would take this space-free token as one
    field printed ``name=<interpreted> `` -- else ``()``."""
    eq = token.find("=")
    if eq <= 0:
        return ()  # free text (or an empty token: a double space)
    name, value = token[:eq], token[eq + 1 :]
    if name in _WALKED_NAMES or name[0] in "'(" or "," in value:
        return ()
    first = value[:1]
    if first == "'" or (first == '"' and value.find('"', 1) != len(value) - 1):
        return ()
    if name == "key" and first not in ('"', "("):
        return ()  # hex: perhaps several keys
    return (name, value)


#: Names the walk treats specially (msg= skipped, acct's ':' trimmed, TTY data).
_WALKED_NAMES = frozenset({"msg", "acct", "data"})
#: Tokens memoised by :func:`_simple_fields` (bounded as ``values``' token memo).
_TEXT_MEMO_LIMIT = 1 << 14
_TEXT_MEMO_TOKEN_LENGTH = 128
_SIMPLE_TOKENS: dict[str, tuple[str, ...]] = {}
_NOT_SIMPLE_TOKENS: dict[str, bool] = {}


def _simple_fields(fields: str) -> tuple[tuple[str, str], ...] | None:
    """The fields after ``: `` when the walk would split them at single spaces
    only, else ``None``.

    Most records (``: arch=c000003e syscall=59 ... key="exec"``) are such lists:
    for them the walk amounts to ``str.split``, and each token's verdict is
    memoised (values repeat), so only C-level calls remain.
    ``tests/unit/test_text_format.py`` holds it to :func:`_walk`.
    """
    tokens = fields.split(" ")
    if tokens[-1] == "":
        tokens.pop()  # one trailing space ends the last value
    if not tokens:
        return None
    try:  # the common case: every token memoised as simple
        return tuple(map(_SIMPLE_TOKENS.__getitem__, tokens))  # type: ignore[arg-type]
    except KeyError:
        found = tuple(map(_simple_token, tokens))
    return found if all(found) else None  # type: ignore[return-value]


def _simple_token(token: str) -> tuple[str, ...]:
    """:func:`_simple_pair`, memoised in :data:`_SIMPLE_TOKENS` (simple tokens) or
    :data:`_NOT_SIMPLE_TOKENS` (the others)."""
    found = _SIMPLE_TOKENS.get(token)
    if found is not None:
        return found
    if token in _NOT_SIMPLE_TOKENS:
        return ()
    found = _simple_pair(token)
    if len(token) <= _TEXT_MEMO_TOKEN_LENGTH:
        if len(_SIMPLE_TOKENS) + len(_NOT_SIMPLE_TOKENS) >= _TEXT_MEMO_LIMIT:
            _SIMPLE_TOKENS.clear()
            _NOT_SIMPLE_TOKENS.clear()
        if found:
            _SIMPLE_TOKENS[token] = found
        else:
            _NOT_SIMPLE_TOKENS[token] = True
    return found


def _add_record(lines: list[str], record: AuditRecord, node: str, stamp: str, raw: bool) -> None:
    """Append the record's line(s) as ``output_interpreted_record`` prints them.

    ``node`` is the event's ``node=NAME `` prefix or ``""``, ``stamp`` the
    ``audit(...) `` text.
    """
    text = record.raw
    end = text.find(ENRICHMENT_SEPARATOR)
    if end == -1:
        end = len(text)
    start = 0
    if node:
        space = text.find(" ", 0, end)
        if space != -1:
            start = space + 1
    paren = text.find("(", start, end)
    close = text.find(")", paren + 1, end)
    if paren == -1 or close == -1:
        return  # no stamp: ausearch prints nothing (our parser never makes one)
    name = LOG_NAMES.get(record.type)
    if name is not None:
        head = f"{node}type={name} msg={stamp}"
    elif text.startswith("audit(", start):  # a kernel record
        head = f"{node}type={record.type_name} msg={stamp}"
    else:  # a type we cannot name: the logged text up to the stamp
        head = f"{node}{text[start:paren]}{stamp[5:]}"
    if text.startswith(": ", close + 1):
        fields = _simple_fields(text[close + 3 : end])
        if fields is not None:
            if raw:
                rtype = record.type
                pairs = [(name, decode_value(name, value, rtype)) for name, value in fields]
            else:
                walked = _Walked(record.type, text, fields, record.enriched)
                pairs = default_interpreter().interpret_items(walked)
            lines.append(neutralise(f"{head}: {' '.join(map('='.join, pairs))} "))
            return
    pieces, slots, blank = _walk(text[close + 1 : end], record.type)
    if slots:
        for slot, printed in zip(
            slots, (_decoded if raw else _interpreted)(record, slots), strict=True
        ):
            pieces[slot.piece] = printed
    lines.append(neutralise(head + "".join(pieces)))
    if blank:
        lines.append("")


def text_lines(event: AuditEvent, raw: bool = False) -> list[str]:
    """The lines ``ausearch -i`` prints for the event (``--raw``: values not interpreted)."""
    stamp = f"audit({_ausearch_time(event.timestamp)}:{event.sequence}) "
    node = f"node={event.node} " if event.node else ""
    lines = ["----"]
    records = event.records
    if event.eoe:
        lines += [f"{node}type=EOE msg={stamp}: ", ""]  # the kernel's EOE text
    elif records and _DAEMON_FIRST <= records[-1].type < _DAEMON_END:
        records = records[-1:]  # ausearch prints only the last record of such events
    for record in reversed(records):
        _add_record(lines, record, node, stamp, raw)
    return lines


def reference_text(event: AuditEvent, raw: bool = False) -> str:
    """The event in the text format: :func:`text_lines` joined. The reference of the
    compiled core's ``text_events`` (which hands back here any event it cannot render
    exactly); ``tests/unit/test_native.py`` compares the two."""
    return "\n".join(text_lines(event, raw))


def render_event(event: AuditEvent, fmt: OutputFormat = "json", *, raw: bool = False) -> str:
    """Render one event in the given format (may be several lines, no trailing newline)."""
    if fmt == "json":
        return event_json(event, raw)
    if fmt == "records":
        return reference_record_lines(event, raw)
    if fmt == "text":
        return reference_text(event, raw)
    raise ValueError(f"unknown output format {fmt!r}")
