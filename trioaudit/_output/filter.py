"""A small filter language over events, shared by ``trioaudit tail/parse --filter`` and the TUI.

Theory of operation
-------------------
Grammar (whitespace separates terms; implicit AND binds tighter than ``or``)::

    expr   := and ( "or" and )*
    and    := unary+
    unary  := "not" unary | "(" expr ")" | term
    term   := NAME OP VALUES | WORD
    OP     := "=" | "!=" | "~" | "!~"
    VALUES := VALUE ( "," VALUE )*          -- any of them matches
    VALUE  := bare text | "double quoted"

``=`` compares whole values, ``~`` looks for a substring (both case-insensitive);
the ``!`` forms negate. Field names with special meaning:

* ``type`` -- any record's type name (``SYSCALL``) or number;
* ``key`` -- any of the event's rule keys;
* ``syscall`` -- the syscall name (or number);
* ``success`` -- ``yes``/``no`` (also ``true``/``false``, ``1``/``0``);
* any other name (``comm``, ``exe``, ``uid``, ``auid``, ``pid``, ``name``...) --
  matches if *any* record has that field with a matching raw value or
  interpreted value (so ``uid=0`` and ``uid=root`` both work);
* the normalised members (docs/normalize.md), by their dotted path in the
  normalised event (``summary.action``, ``process.exe``, ``ecs.event.category``; any
  element of a list) and by the short names ``category``, ``action`` (the summary's),
  ``actor``, ``object`` (the primary ones), ``object.type`` and ``how`` -- each also
  matches a record field of the same name, should one have it;
* with the process context (``--context``, the TUI: docs/context.md): ``container`` (the
  event's process's container id or runtime), ``unit`` (its systemd unit) and
  ``ancestry.MEMBER`` (``exe``, ``name``, ``args``, ``pid``, ``ppid``, ``container``,
  ``unit`` of any process of the chain: ``ancestry.exe=/usr/sbin/sshd``).

A bare ``WORD`` matches events whose raw text contains it (case-insensitive).

The compiled predicate is a tree of small closures: no ``eval``, no regular
expressions built from user input, evaluation linear in the event size.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._context import ProcessEntry
from .._errors import AuditUsageError
from .._normalize import MEMBERS, resolve_ids
from .._normalize import normalize as normalize_event
from .._records.interpret import default_interpreter
from .._records.model import AuditEvent

__all__ = ["FilterSyntaxError", "Predicate", "compile_filter"]

Predicate = Callable[[AuditEvent], bool]

#: Longest filter expression accepted.
MAX_FILTER_LENGTH = 4096

_OPERATORS = ("!=", "!~", "=", "~")
_TRUE = frozenset({"yes", "true", "1", "success"})
_FALSE = frozenset({"no", "false", "0", "failed", "failure"})


class FilterSyntaxError(AuditUsageError):
    """The filter text does not parse.

    Attributes:
        position: 0-based character offset of the problem.
        text: The filter text.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(f"{message} at position {position}: {text!r}")
        self.position = position
        self.text = text


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "word", "term", "(", ")", "or", "not"
    text: str
    position: int
    name: str = ""
    op: str = ""
    values: tuple[str, ...] = ()


def _read_value(text: str, i: int) -> tuple[list[str], int]:
    values: list[str] = []
    n = len(text)
    while True:
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end == -1:
                raise FilterSyntaxError("unterminated quote", text, i)
            values.append(text[i + 1 : end])
            i = end + 1
        else:
            start = i
            while i < n and text[i] not in ' \t,()"':
                i += 1
            values.append(text[start:i])
        if i < n and text[i] == ",":
            i += 1
            continue
        return values, i


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in " \t":
            i += 1
            continue
        if ch in "()":
            tokens.append(_Token(ch, ch, i))
            i += 1
            continue
        start = i
        if ch == '"':
            values, i = _read_value(text, i)
            tokens.append(_Token("word", values[0], start))
            continue
        while i < n and text[i] not in ' \t()=~!"':
            i += 1
        word = text[start:i]
        op = next((o for o in _OPERATORS if text.startswith(o, i)), "")
        if op and word:
            values, i = _read_value(text, i + len(op))
            if any(v == "" for v in values):
                raise FilterSyntaxError(f"missing value after {word}{op}", text, i)
            tokens.append(_Token("term", text[start:i], start, word.lower(), op, tuple(values)))
            continue
        if op or (i < n and text[i] == "!"):
            raise FilterSyntaxError("operator without a field name", text, i)
        lowered = word.lower()
        kind = lowered if lowered in ("or", "not", "and") else "word"
        tokens.append(_Token(kind, word, start))
    return tokens


#: Where a filter finds an event's process ancestry (``ProcessTable.event_ancestry``).
Ancestry = Callable[[AuditEvent], list[ProcessEntry]]


class _Parser:
    def __init__(self, text: str, ancestry: Ancestry | None = None) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.ancestry = ancestry

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda event: True
        pred = self.expr()
        tok = self.peek()
        if tok is not None:
            raise FilterSyntaxError(f"unexpected {tok.text!r}", self.text, tok.position)
        return pred

    def expr(self) -> Predicate:
        parts = [self.conjunction()]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.pos += 1
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda event: any(p(event) for p in parts)

    def conjunction(self) -> Predicate:
        parts: list[Predicate] = []
        while (tok := self.peek()) is not None and tok.kind not in ("or", ")"):
            if tok.kind == "and":
                self.pos += 1
                continue
            parts.append(self.unary())
        if not parts:
            where = tok.position if tok is not None else len(self.text)
            raise FilterSyntaxError("expected a condition", self.text, where)
        if len(parts) == 1:
            return parts[0]
        return lambda event: all(p(event) for p in parts)

    def unary(self) -> Predicate:
        tok = self.peek()
        assert tok is not None
        self.pos += 1
        if tok.kind == "not":
            if self.peek() is None:
                raise FilterSyntaxError("'not' needs a condition", self.text, len(self.text))
            inner = self.unary()
            return lambda event: not inner(event)
        if tok.kind == "(":
            inner = self.expr()
            close = self.peek()
            if close is None or close.kind != ")":
                raise FilterSyntaxError("missing ')'", self.text, tok.position)
            self.pos += 1
            return inner
        if tok.kind == ")":
            raise FilterSyntaxError("unbalanced ')'", self.text, tok.position)
        if tok.kind == "term":
            if tok.name in _CONTEXT_NAMES or tok.name.startswith("ancestry."):
                return _context_term(tok, self.text, self.ancestry)
            return _term(tok.name, tok.op, tok.values)
        return _word(tok.text)


def _word(word: str) -> Predicate:
    needle = word.lower()

    def match(event: AuditEvent) -> bool:
        return any(needle in rec.raw.lower() for rec in event.records)

    return match


def _matcher(op: str, values: tuple[str, ...]) -> Callable[[str], bool]:
    wanted = tuple(v.lower() for v in values)
    if op in ("=", "!="):
        return lambda candidate: candidate.lower() in wanted
    return lambda candidate: any(w in candidate.lower() for w in wanted)


def _term(name: str, op: str, values: tuple[str, ...]) -> Predicate:
    matches = _matcher(op, values)
    negate = op.startswith("!")
    get: Callable[[AuditEvent], list[str]]
    if name == "type":

        def get(event: AuditEvent) -> list[str]:
            return [c for r in event.records for c in (r.type_name, str(r.type))]

    elif name == "key":

        def get(event: AuditEvent) -> list[str]:
            return list(event.keys)

    elif name == "success":
        wanted_true = any(v.lower() in _TRUE for v in values)
        wanted_false = any(v.lower() in _FALSE for v in values)

        def success(event: AuditEvent) -> bool:
            result = event.success
            hit = (result is True and wanted_true) or (result is False and wanted_false)
            return hit != negate

        return success
    elif name in _SHORT_NAMES or name.split(".", 1)[0] in _MEMBERS:
        path = _SHORT_NAMES.get(name, tuple(name.split(".")))
        fields = _record_values(name)  # a record may have a field of that name too

        def get(event: AuditEvent) -> list[str]:
            # The members with ids as numbers and as names (uid=0 and uid=root, as for
            # record fields), then any record field of that name.
            members = normalize_event(event)
            if members is None:
                return fields(event)
            named = resolve_ids(copy.deepcopy(members), default_interpreter().db)
            found = _normalised_values(members, path) + _normalised_values(named, path)
            return found + fields(event)

    else:
        get = _record_values(name)

    def predicate(event: AuditEvent) -> bool:
        hit = any(matches(candidate) for candidate in get(event))
        return hit != negate

    return predicate


#: Short names of normalised members -> their path in the normalised event.
_SHORT_NAMES: dict[str, tuple[str, ...]] = {
    "category": ("category",),
    "action": ("summary", "action"),
    "actor": ("summary", "actor", "primary"),
    "object": ("summary", "object", "primary"),
    "object.type": ("summary", "object", "type"),
    "how": ("summary", "how"),
}
_MEMBERS = frozenset(MEMBERS)


def _normalised_values(members: dict[str, Any] | None, path: tuple[str, ...]) -> list[str]:
    """The strings at path in the normalised event (each element of a list)."""
    node: Any = members
    for step in path:
        if not isinstance(node, dict):
            return []
        node = node.get(step)
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [item for item in node if isinstance(item, str)]
    return []


def _record_values(name: str) -> Callable[[AuditEvent], list[str]]:
    """Every raw and interpreted value of the field name in any record."""

    def get(event: AuditEvent) -> list[str]:
        out: list[str] = []
        for rec in event.records:
            raw = rec.raw_fields.get(name)
            if raw is not None:
                out.append(raw)
                out.append(rec.fields.get(name, raw))
        return out

    return get


#: The process-context names: the event's own process's container and unit.
_CONTEXT_NAMES = frozenset({"container", "unit"})
_ANCESTRY_MEMBERS = frozenset({"pid", "ppid", "exe", "name", "args", "container", "unit"})


def _context_term(tok: _Token, text: str, ancestry: Ancestry | None) -> Predicate:
    """``container``/``unit`` (the event's process) and ``ancestry.MEMBER`` (any process
    of the chain): they need the process table (``--context``, the TUI)."""
    name = tok.name
    if ancestry is None:
        raise FilterSyntaxError(f"{name} needs the process context (--context)", text, tok.position)
    member = name.split(".", 1)[1] if name.startswith("ancestry.") else name
    if member not in _ANCESTRY_MEMBERS:
        raise FilterSyntaxError(f"unknown ancestry member {member!r}", text, tok.position)
    matches = _matcher(tok.op, tok.values)
    negate = tok.op.startswith("!")
    whole_chain = name.startswith("ancestry.")

    def values(entry: ProcessEntry) -> list[str]:
        if member == "container":
            return [entry.container, entry.runtime or ""] if entry.container else []
        if member == "args":
            return [" ".join(entry.args)] if entry.args is not None else []
        value = getattr(entry, member)
        return [] if value is None else [str(value)]

    def predicate(event: AuditEvent) -> bool:
        chain = ancestry(event)
        entries = chain if whole_chain else chain[:1]
        hit = any(matches(v) for entry in entries for v in values(entry))
        return hit != negate

    return predicate


def compile_filter(text: str, *, ancestry: Ancestry | None = None) -> Predicate:
    """Compile a filter expression into a predicate over :class:`AuditEvent`.

    ancestry: where ``container``, ``unit`` and ``ancestry.*`` terms find an event's
    process chain (a ``ProcessTable``'s ``event_ancestry``); without it they are refused.

    Raises:
        FilterSyntaxError: The expression does not parse (with the position).
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterSyntaxError("filter too long", text[:40], MAX_FILTER_LENGTH)
    return _Parser(text, ancestry).parse()
