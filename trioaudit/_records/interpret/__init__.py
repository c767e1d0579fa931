"""Field interpretation equivalent to libauparse's ``auparse_interpret_field``.

Theory of operation
-------------------
``ausearch -i`` turns ``uid=0 syscall=59 mode=0100644`` into ``uid=root
syscall=execve mode=file,644``. Users know those strings, so :class:`Interpreter`
produces the same ones, field by field:

1. Classify the field the way libauparse does: by name (the generated
   ``FIELD_TYPES`` table from ``typetab.h``), corrected for a few record types
   (EXECVE ``aN`` are strings, ``acct`` is a string only when quoted or hex, ...).
2. If the record came from an ENRICHED audit.log and auditd already wrote a
   translation for that field (``UID="root"``), use it -- it was true on the
   machine and at the time the record was written. (``unknown-...`` translations
   are retried, as libauparse does.)
3. Otherwise print the value with the class's printer (``printers.PRINTERS``),
   using per-record context libauparse also uses: the machine from ``arch``, the
   ``syscall`` number, ``a0``/``a1`` (taken from the same field positions
   libauparse reads them from).
4. Escape control characters as ``\\ooo`` (libauparse's default TTY escaping).

Audit values repeat, so results are memoised -- as far as each row of ``PRINTERS``
says its output depends on the value alone (or on the value and the call). The
``(name, text)`` pairs of :meth:`Interpreter.interpret_items` and the JSON text of
:meth:`Interpreter.fields_json` come out of one pipeline, which differs only in
how it writes a finished field; ``Interpreter(memoise=False)`` runs the same steps
remembering nothing, the reference the tests hold the memoised results to.

User, group and protocol names come from an injectable
:class:`~trioaudit._records.interpret.sysdb.SystemDatabase`; the rest is pure.

Structured extras beside the strings: :func:`execve_argv` and :func:`proctitle_argv`
(the argument vector as a list) and :func:`saddr_sockaddr` (``saddr`` as a dict).

This package knows the record text's grammar (:mod:`trioaudit._records.values`) and the
generated tables, nothing else: it reads a record through :class:`RecordView` (the few
attributes :class:`~trioaudit._records.model.AuditRecord` has) and never calls back
into the model.
"""

from __future__ import annotations

import itertools
import socket
import struct
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring as _json_string
from operator import itemgetter
from typing import Any, Generic, Protocol, TypeVar

from ..._native import core
from ..._tables import auparse as _T
from ..._tables.msgtypes import AuditMessageType as _M
from ..values import AVC_TYPES, decode_value
from . import printers as _printers
from .cnum import ConversionError, strtoul
from .machines import machine_for_arch
from .printers import Context, Memo, escape_tty, print_escaped
from .sysdb import LocalSystemDatabase, StaticSystemDatabase, SystemDatabase

__all__ = [
    "Interpreter",
    "LocalSystemDatabase",
    "RecordView",
    "StaticSystemDatabase",
    "SystemDatabase",
    "decode_sockaddr",
    "default_interpreter",
    "execve_argv",
    "proctitle_argv",
    "saddr_sockaddr",
    "set_default_interpreter",
]


class RecordView(Protocol):
    """What interpretation reads of a record (an :class:`AuditRecord` has it all)."""

    @property
    def type(self) -> int:
        """The record type number."""
        ...

    @property
    def raw(self) -> str:
        """The record's whole text."""
        ...

    @property
    def items(self) -> tuple[tuple[str, str], ...]:
        """Every ``(name, value)`` pair, values as logged."""
        ...

    @property
    def enriched(self) -> Mapping[str, str]:
        """auditd's ENRICHED translations, keyed by upper-case name."""
        ...


_FIELD_CLASS: dict[str, str] = {}
for _name, _cls in _T.FIELD_TYPES:
    _FIELD_CLASS.setdefault(_name, _cls)

# Record type numbers whose fields libauparse reclassifies.
_EXECVE, _AVC, _USER_TTY = int(_M.EXECVE), int(_M.AVC), int(_M.USER_TTY)
_NETFILTER_PKT, _PATH, _MQ_OPEN = int(_M.NETFILTER_PKT), int(_M.PATH), int(_M.MQ_OPEN)
_CRYPTO_KEY_USER, _TRUSTED_APP = int(_M.CRYPTO_KEY_USER), int(_M.TRUSTED_APP)
_KERN_MODULE, _PROCTITLE = int(_M.KERN_MODULE), int(_M.PROCTITLE)
_GROUP_RECORDS = frozenset(map(int, (_M.ADD_GROUP, _M.GRP_MGMT, _M.DEL_GROUP)))
_HEXCHARS = frozenset("0123456789abcdefABCDEF")


def _is_hex(value: str) -> bool:
    return all(ch in _HEXCHARS for ch in value)


#: Most memoised results of one kind kept per interpreter before starting afresh.
MEMO_LIMIT = 1 << 16
#: Longest value memoised: long values (hex paths, proctitles) rarely repeat, and
#: the bound caps the memo's memory whatever the input (MEMO_LIMIT x this).
MEMO_VALUE_LENGTH = 256
# Names whose class depends on the value or the record type in ways not cacheable by name.
_VALUE_DEPENDENT = frozenset({"acct"})
_CLASS_CACHE: dict[tuple[int, str], str] = {}


def _cached_class(record_type: int, name: str, value: str) -> str:
    key = (record_type, name)
    cls = _CLASS_CACHE.get(key)
    if cls is not None:
        return cls
    cls = field_class(record_type, name, value)
    if (
        name not in _VALUE_DEPENDENT
        and record_type != _TRUSTED_APP
        and len(_CLASS_CACHE) < MEMO_LIMIT
    ):
        _CLASS_CACHE[key] = cls
    return cls


def field_class(record_type: int, name: str, value: str) -> str:
    """The libauparse class of a field (``"UID"``, ``"ESCAPED"``, ...)."""
    if record_type == _EXECVE and name[:1] == "a" and name != "argc" and "_len" not in name:
        return "ESCAPED"
    if name == "acct":
        return "ESCAPED" if value[:1] == '"' or _is_hex(value) else "UNCLASSIFIED"
    if name == "saddr":
        if record_type == _AVC:
            return "UNCLASSIFIED"
        if record_type == _NETFILTER_PKT:
            return "ADDR"
    elif name == "msg" and record_type == _USER_TTY:
        return "ESCAPED"
    elif name == "flags" and record_type == _PATH:
        return "FLAGS"
    elif name == "mode" and record_type == _MQ_OPEN:
        return "MODE_SHORT"
    elif name == "fp" and record_type == _CRYPTO_KEY_USER:
        return "UNCLASSIFIED"
    elif name == "id" and record_type in _GROUP_RECORDS:
        return "GID"
    elif name == "key" and record_type in AVC_TYPES:
        # The object's IPC key, in decimal, or (null): printed as is. A deliberate
        # departure from libauparse 3.0.9, which takes it for a hex-encoded rule
        # key (ESCAPED_KEY) and prints the bytes "1291864389" would encode.
        return "UNCLASSIFIED"
    if record_type == _TRUSTED_APP:
        if value[:1] == '"':
            return "ESCAPED"
        if value.isascii() and value.isdigit():  # C isdigit(): ASCII only
            return "UNCLASSIFIED"
        return "ESCAPED" if _is_hex(value) else "UNCLASSIFIED"
    if record_type == _KERN_MODULE and name == "name":
        return "ESCAPED"
    return _FIELD_CLASS.get(name, "UNCLASSIFIED")


def _context(record: RecordView, db: SystemDatabase) -> Context:
    ctx = Context(db=db, record_type=record.type)
    items = record.items
    count = len(items)
    # libauparse reads these from fixed positions (SYSCALL records, and the
    # later positions of SECCOMP-like records); do the same.
    for index, name in ((0, "arch"), (9, "arch")):
        if index < count and items[index][0] == name:
            try:
                ctx.machine = machine_for_arch(strtoul(items[index][1], 16) & 0xFFFFFFFF)
            except ConversionError:
                ctx.machine = ""
    for index in (1, 10):
        if index < count and items[index][0] == "syscall":
            try:
                ctx.syscall = strtoul(items[index][1], 10) & 0xFFFFFFFF
                if ctx.syscall >= 1 << 31:
                    ctx.syscall -= 1 << 32
            except ConversionError:
                ctx.syscall = -1
    if count > 4 and items[4][0] == "a0":
        try:
            ctx.a0 = strtoul(items[4][1], 16)
        except ConversionError:
            ctx.a0 = (1 << 64) - 1
    if count > 5 and items[5][0] == "a1":
        try:
            ctx.a1 = strtoul(items[5][1], 16)
        except ConversionError:
            ctx.a1 = (1 << 64) - 1
    return ctx


_Done = TypeVar("_Done")
#: How a field's result is finished: a ``(name, text)`` pair, or its JSON fragment.
_Finish = Callable[[str, str], _Done]


def _pair(name: str, text: str) -> tuple[str, str]:
    return (name, text)


def _fragment(name: str, text: str) -> str:
    return _json_string(name) + ":" + _json_string(text)


def _text_field(name: str, text: str) -> str:
    return name + "=" + text


class _Memos(Generic[_Done]):
    """One interpreter's memos for one way of finishing fields (pairs or JSON).

    ``by_type``: record type -> ``(name, value)`` -> finished field, for classes
    whose output depends on the value alone (:class:`Memo` ``VERBATIM``/``VALUE``);
    ``calls``: finished ``syscall``/``aN`` fields under their call;
    ``overrides``: auditd's translations, per shared enrichment mapping.
    """

    __slots__ = ("by_type", "calls", "finish", "overrides")

    def __init__(self, finish: _Finish[_Done]) -> None:
        self.finish = finish
        self.by_type: dict[int, dict[tuple[str, str], _Done]] = {}
        self.calls: dict[tuple[object, ...], _Done] = {}
        self.overrides: dict[tuple[int, int], tuple[Mapping[str, str], dict[str, _Done]]] = {}


class Interpreter:
    """Turns a record's raw values into libauparse's interpreted strings.

    Args:
        db: Where user, group and protocol names come from (default: this
            machine's, cached).
        use_enrichment: Prefer auditd's ENRICHED translations when present.
        escape: Apply libauparse's TTY escaping of control characters.
        memoise: ``False`` computes every field afresh, remembering nothing
            between records: the same steps without the shortcuts, which is what
            the tests compare the memoised results with.

    One pipeline gives both :meth:`interpret_items` (``(name, text)`` pairs) and
    :meth:`fields_json` (the same as JSON text): the per-field steps and the memo
    rules are the same code; only how a finished field is written differs.
    """

    __slots__ = (
        "_db",
        "_escape",
        "_json",
        "_memoise",
        "_native",
        "_native_kinds",
        "_native_text",
        "_pairs",
        "_sites",
        "_text",
        "_use_enrichment",
    )

    def __init__(
        self,
        db: SystemDatabase | None = None,
        *,
        use_enrichment: bool = True,
        escape: bool = True,
        memoise: bool = True,
    ) -> None:
        self._db: SystemDatabase = db if db is not None else LocalSystemDatabase()
        self._use_enrichment = use_enrichment
        self._escape = escape
        self._memoise = memoise
        self._pairs: _Memos[tuple[str, str]] = _Memos(_pair)
        self._json: _Memos[str] = _Memos(_fragment)
        self._text: _Memos[str] = _Memos(_text_field)
        self._sites: dict[tuple[object, ...], tuple[str | None, int, str]] = {}
        self._native_kinds: dict[int, dict[str, int]] = {}
        # The compiled core runs this pipeline when it is there (the memoised, escaping
        # one: the core knows no other); it declines what it cannot take.
        self._native: Any | None = None
        self._native_text: Any | None = None
        if core is not None and memoise and escape:
            self._native = self._make_native_renderer(self._json, text=False)
            self._native_text = self._make_native_renderer(self._text, text=True)

    @property
    def db(self) -> SystemDatabase:
        """The system database in use."""
        return self._db

    def interpret_items(self, record: RecordView) -> list[tuple[str, str]]:
        """Every field (duplicates included, keys split) with its interpretation."""
        return self._finished(record, self._pairs)[0]

    def interpret(self, record: RecordView) -> dict[str, str]:
        """Interpreted fields by name; when a name repeats the first one wins."""
        out: dict[str, str] = {}
        for name, text in self.interpret_items(record):
            if name not in out:
                out[name] = text
        return out

    def fields_json(self, record: RecordView) -> tuple[str, bool]:
        """The interpreted fields as a JSON object: the text of
        ``json.dumps(self.interpret(record), ensure_ascii=False, separators=(",", ":"))``,
        and whether a field name repeats in the record.

        Why not that expression: rendering JSON lines is what ``trioaudit tail``
        and ``parse`` spend their time on, and audit values repeat (the same uid,
        arch, syscall, comm, exe, key). Each field's finished JSON fragment is
        memoised when its interpretation depends on nothing else in the record,
        so a typical record costs one C-level dict lookup per field (``map``) and
        a join, instead of interpretation, a dict copy and a JSON encoder walk.
        ``tests/unit/test_fast_paths.py`` checks the text against ``json.dumps``
        of an interpreter that memoises nothing, on every corpus and on generated
        records.
        """
        if self._native is not None:
            done: tuple[str, bool] | None = self._native.fields_json(record)
            if done is not None:
                return done
        return self.reference_fields_json(record)

    def reference_fields_json(self, record: RecordView) -> tuple[str, bool]:
        """:meth:`fields_json` on the pure-Python path (the reference the core is held to)."""
        fragments, repeats = self._finished(record, self._json)
        if repeats:
            # The first one wins, as in interpret().
            seen: set[str] = set()
            unique: list[str] = []
            for (name, _), kept in zip(record.items, fragments, strict=True):
                if name not in seen:
                    seen.add(name)
                    unique.append(kept)
            fragments = unique
        return "{" + ",".join(fragments) + "}", repeats

    @property
    def native_renderer(self) -> Any | None:
        """The compiled core's renderer bound to this interpreter (``None`` on the
        reference path): its ``fields_json`` is this interpreter's, and
        :mod:`trioaudit._output.formats` renders whole events with it."""
        return self._native

    @property
    def native_text_renderer(self) -> Any | None:
        """The core's renderer of ``name=text`` fields (``None`` on the reference path):
        :mod:`trioaudit._output.formats` renders the ``text`` format (``ausearch -i``
        lines) with it. Its memos are its own; the fields are :meth:`interpret_items`'s."""
        return self._native_text

    def _make_native_renderer(self, memos: _Memos[str], *, text: bool) -> Any:
        """The core's renderer, bound to these memos (JSON fragments, or ``name=text``
        when *text*) and this interpreter's fill step."""
        assert core is not None
        fill = self._fill
        call_site = self._call_site
        if text:
            multiplexed = tuple(f"syscall={name}" for name in _MULTIPLEXERS)
        else:
            multiplexed = tuple(f'{_json_string("syscall")}:"{name}' for name in _MULTIPLEXERS)

        def site_of(record: RecordView) -> tuple[int, str | None, int]:
            # What the record's call decides (the core memoises it per call site):
            # which of a0..a3 print as 0x<value>; the finished syscall= field at index 1
            # unless socketcall/ipc make it read a0 too; and which of a0..a3 the core may
            # remember under the call site once filled (their printer reads nothing but
            # the value: what _fill memoises under the printer).
            syscall_name = call_site(record)[2]
            mask = by_value = 0
            for index in range(4):
                argument = _printers.argument_printer(index, syscall_name)
                if argument is _printers.print_hex_argument:
                    mask |= 1 << index
                elif argument not in _printers.ARGUMENT_DEPENDENT:
                    by_value |= 1 << index
            items = record.items
            fragment: str | None = None
            if len(items) > 1 and items[1][0] == "syscall":
                cls = _cached_class(record.type, "syscall", items[1][1])
                if cls == "SYSCALL" and len(items[1][1]) <= MEMO_VALUE_LENGTH:
                    finished: list[str | None] = [""] * len(items)
                    finished[1] = None
                    fill(record, finished, memos.by_type.setdefault(record.type, {}), memos)
                    text = finished[1]
                    if text is not None and not text.startswith(multiplexed):
                        fragment = text
            return mask, fragment, by_value

        def fill_json(record: RecordView, finished: list[str | None], cache: Any) -> None:
            fill(record, finished, cache, memos)

        def overrides(rtype: int, enriched: Mapping[str, str]) -> dict[str, str]:
            return self._overrides(rtype, enriched, memos)

        return core.Renderer(
            memos.by_type,
            self._native_kinds,
            _native_kind,
            {},
            site_of,
            fill_json,
            overrides if self._use_enrichment else None,
            text,
        )

    # ---- the pipeline ----------------------------------------------------------

    def _finished(self, record: RecordView, memos: _Memos[_Done]) -> tuple[list[_Done], bool]:
        """Every field of the record finished by ``memos.finish``, in order, and
        whether a name repeats: memoised fields first, auditd's translations
        over them, then :meth:`_fill` for the rest."""
        items = record.items
        rtype = record.type
        repeats = len(set(map(_first, items))) != len(items)
        cache = memos.by_type.get(rtype)
        if cache is None:
            cache = memos.by_type[rtype] = {}
        finished: list[_Done | None] = list(map(cache.get, items))
        if self._use_enrichment and record.enriched:
            # auditd's translations win over ours; they are the same for every
            # record that shares the mapping, so they are finished once.
            overrides = self._overrides(rtype, record.enriched, memos)
            if overrides and not repeats:
                get = dict(zip(map(_first, items), itertools.count())).get
                for name, override in overrides.items():
                    index = get(name)
                    if index is not None:
                        finished[index] = override
            elif overrides:  # a name repeats (rare): override every occurrence
                for index, (name, _) in enumerate(items):
                    found = overrides.get(name)
                    if found is not None:
                        finished[index] = found
        if None in finished:
            self._fill(record, finished, cache, memos)
        return finished, repeats  # type: ignore[return-value]

    def _fill(
        self,
        record: RecordView,
        finished: list[_Done | None],
        cache: dict[tuple[str, str], _Done],
        memos: _Memos[_Done],
    ) -> None:
        """Interpret the fields no memo had, memoising what :data:`PRINTERS` allows."""
        items = record.items
        rtype = record.type
        escape = self._escape
        memoise = self._memoise
        finish = memos.finish
        needs_escape = _printers.CONTROL_SEARCH
        ctx: Context | None = None
        site: tuple[str | None, int, str] | None = None
        index = finished.index(None)
        while True:
            item = items[index]
            name, value = item
            cls = _cached_class(rtype, name, value) if memoise else field_class(rtype, name, value)
            printer, memo = _printers.PRINTERS[cls]
            call_key: tuple[object, ...] = ()
            if memo is Memo.VERBATIM:
                text = escape_tty(value) if escape and needs_escape(value) is not None else value
                done = finish(name, text)
            else:
                if memo is Memo.CALL and memoise:
                    # syscall=, a0..a3: printed from the call (machine, syscall number);
                    # memoised under it unless the printer also reads a0/a1.
                    if site is None:
                        site = self._call_site(record)
                    machine, number, syscall_name = site
                    if cls == "SYSCALL":
                        call_key = (name, value, machine, number)
                    else:
                        argument = _printers.argument_printer(_ARG_INDEX[cls], syscall_name)
                        if argument not in _printers.ARGUMENT_DEPENDENT:
                            call_key = (name, value, argument)
                cached = memos.calls.get(call_key) if call_key else None
                if cached is not None:
                    done = cached
                else:
                    if ctx is None:
                        ctx = _context(record, self._db)
                    text = printer(value, ctx)
                    if escape and needs_escape(text) is not None:
                        text = escape_tty(text)
                    done = finish(name, text)
                    # print_syscall reads a0 for socketcall/ipc only.
                    if (
                        call_key
                        and len(value) <= MEMO_VALUE_LENGTH
                        and not (cls == "SYSCALL" and text.startswith(_MULTIPLEXERS))
                    ):
                        if len(memos.calls) >= MEMO_LIMIT:
                            memos.calls.clear()
                        memos.calls[call_key] = done
            finished[index] = done
            if memoise and memo in _BY_VALUE and len(value) <= MEMO_VALUE_LENGTH:
                if len(cache) >= MEMO_LIMIT:
                    cache.clear()
                cache[item] = done
            try:
                index = finished.index(None, index + 1)
            except ValueError:
                return

    def _call_site(self, record: RecordView) -> tuple[str | None, int, str]:
        """(machine, syscall number, syscall name or "") of a record, memoised
        under the items :func:`_context` reads them from."""
        items = record.items
        count = len(items)
        key = (
            items[0] if count > 0 else None,
            items[1] if count > 1 else None,
            items[9] if count > 9 and items[9][0] == "arch" else None,
            items[10] if count > 10 and items[10][0] == "syscall" else None,
        )
        site = self._sites.get(key)
        if site is None:
            ctx = _context(record, self._db)
            site = (ctx.machine, ctx.syscall, _printers.syscall_name_of(ctx) or "")
            if len(self._sites) >= _SITES_LIMIT:
                self._sites.clear()
            self._sites[key] = site
        return site

    def _overrides(
        self, rtype: int, enriched: Mapping[str, str], memos: _Memos[_Done]
    ) -> dict[str, _Done]:
        """Field name -> auditd's translation, finished, for one mapping.

        The parser shares one read-only mapping among records with the same
        translation text, so this is keyed by the mapping's identity (checked:
        the entry holds the mapping, so its id cannot be reused meanwhile).
        """
        key = (rtype, id(enriched))
        entry = memos.overrides.get(key)
        if entry is not None and entry[0] is enriched:
            return entry[1]
        escape = self._escape
        overrides: dict[str, _Done] = {}
        lowered = {upper.lower(): found for upper, found in enriched.items()}
        for name, found in lowered.items():
            if found.startswith("unknown-"):
                continue  # retried here, as libauparse does
            # Only the UID/GID decision matters here, and it never depends on the value.
            text = print_escaped(found) if field_class(rtype, name, "") in _ID_CLASSES else found
            overrides[name] = memos.finish(name, escape_tty(text) if escape else text)
        if self._memoise:
            if len(memos.overrides) >= _OVERRIDES_LIMIT:
                memos.overrides.clear()
            memos.overrides[key] = (enriched, overrides)
        return overrides


def _native_kind(record_type: int, name: str) -> int:
    """What the core may finish by itself of this field, whatever its value: 1 when it
    prints as logged (``Memo.VERBATIM``), 2 for ``syscall`` (its text is shared per
    call site), 10 + i when it is syscall argument i (printed by the generic hex printer
    where the call says so), 0 for the rest."""
    if name in _VALUE_DEPENDENT or record_type == _TRUSTED_APP:
        return 0
    cls = field_class(record_type, name, "")
    if _printers.PRINTERS[cls][1] is Memo.VERBATIM:
        return 1
    if cls == "SYSCALL":
        return 2
    index = _ARG_INDEX.get(cls)
    return 10 + index if index is not None else 0


_first = itemgetter(0)
_OVERRIDES_LIMIT = 1 << 12
_SITES_LIMIT = 1 << 12
_BY_VALUE = frozenset({Memo.VERBATIM, Memo.VALUE})
_ARG_INDEX = {"A0": 0, "A1": 1, "A2": 2, "A3": 3}
_MULTIPLEXERS = ("socketcall", "ipc")
_ID_CLASSES = frozenset({"UID", "GID"})

_default: Interpreter | None = None


def default_interpreter() -> Interpreter:
    """The process-wide interpreter used by :attr:`AuditRecord.fields`."""
    global _default
    if _default is None:
        _default = Interpreter()
    return _default


def set_default_interpreter(interpreter: Interpreter) -> None:
    """Replace the process-wide interpreter (e.g. with a :class:`StaticSystemDatabase`)."""
    global _default
    _default = interpreter


# ---- structured extras ---------------------------------------------------------


def execve_argv(fields: Mapping[str, str]) -> tuple[str, ...] | None:
    """``argc`` + ``aN`` (or the split ``aN_len``/``aN[i]`` form) -> the argument vector.

    The kernel splits a long argument across several EXECVE records of one event;
    pass the fields of all of them merged (:attr:`AuditEvent.argv` does). Stops at
    the first missing argument.
    """
    argc_text = fields.get("argc", "")
    if not (argc_text.isascii() and argc_text.isdigit()):
        return None
    argv: list[str] = []
    for i in range(min(int(argc_text), MAX_ARGC)):
        value = fields.get(f"a{i}")
        if value is None and f"a{i}_len" in fields:
            parts: list[str] = []
            j = 0
            while (part := fields.get(f"a{i}[{j}]")) is not None:
                parts.append(part)
                j += 1
            value = "".join(parts)
        if value is None:
            break
        argv.append(value)
    return tuple(argv)


#: Most arguments decoded into ``argv`` (the kernel caps records, not argc).
MAX_ARGC = 65536


def proctitle_argv(items: tuple[tuple[str, str], ...]) -> tuple[str, ...] | None:
    """The argument vector of a PROCTITLE record, from its items (values as logged)."""
    # Only the one field: decoding every field (raw_fields) costs 3x more.
    for name, value in items:
        if name == "proctitle":
            title = decode_value(name, value, _PROCTITLE)
            return tuple(title.rstrip("\x00").split("\x00"))
    return None


def saddr_sockaddr(value: str | None) -> dict[str, Any] | None:
    """A SOCKADDR record's decoded ``saddr`` as a dict, ``None`` when not hex.

    ``{"family": "inet", "address": "127.0.0.1", "port": 9}``.
    """
    if not value or not _is_hex(value):
        return None
    return decode_sockaddr(bytes.fromhex(value if len(value) % 2 == 0 else value + "0"))


def decode_sockaddr(data: bytes) -> dict[str, Any]:
    """Decode a ``struct sockaddr`` into a JSON-friendly dict."""
    if len(data) < 2:
        return {"family": None, "raw": data.hex()}
    family_number = struct.unpack_from("<H", data)[0]
    family = _printers.FAMILIES.get(family_number, f"unknown({family_number})")
    out: dict[str, Any] = {"family": family}
    if family_number == 1:
        path = data[2:110]
        abstract = path[:1] == b"\x00"
        raw_path = path[1:] if abstract else path
        out["path"] = raw_path.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
        out["abstract"] = abstract
    elif family_number == 2 and len(data) >= 8:
        out["address"] = socket.inet_ntop(socket.AF_INET, data[4:8])
        out["port"] = struct.unpack_from(">H", data, 2)[0]
    elif family_number == 10 and len(data) >= 24:
        out["address"] = socket.inet_ntop(socket.AF_INET6, data[8:24])
        out["port"] = struct.unpack_from(">H", data, 2)[0]
        if len(data) >= 28:
            out["scope_id"] = struct.unpack_from("<I", data, 24)[0]
    elif family_number == 16 and len(data) >= 12:
        out["netlink_pid"] = struct.unpack_from("<I", data, 4)[0]
        out["netlink_groups"] = struct.unpack_from("<I", data, 8)[0]
    else:
        out["raw"] = data.hex()
    return out
