"""The grammar of an audit record's text, with no record model.

Theory of operation
-------------------
A record body is a space-separated list of ``name=value`` tokens. Values are:

* ``"quoted"`` -- a literal string (the kernel quotes a value only when it holds no
  space, no control byte, no ``"`` and nothing above 0x7e);
* unquoted upper-case hex -- an untrusted string that needed encoding (``comm``,
  ``exe``, ``name``, ``proctitle``, ``key``, EXECVE ``aN``, ...), decoded here;
* bare tokens: numbers, ``(null)``, ``(none)``, ``?``;
* ``msg='...'`` -- user-space records nest their own ``name=value`` list inside
  single quotes; it is flattened into the record, as libauparse does.

Tokens without ``=`` (SELinux's ``avc: denied { read }``, old LOGIN's ``login``)
are skipped, as are empty values. Token boundaries follow libauparse exactly
(including its trimming of a trailing ``:``, ``,``, ``'`` and ``)``), because
interpretation must give the same strings libauparse gives for the same values.

Where we part from libauparse's token list, on purpose:

* **old/new.** Old kernels (RHEL 5-7 era) log a login as ``login pid=6513 uid=0
  old auid=4294967295 new auid=0 old ses=4294967295 new ses=3``: the bare words
  ``old``/``new`` qualify the ``name=value`` right after them. Today's kernels
  write ``old-auid=4294967295 auid=0 old-ses=4294967295 ses=3``, so the old form
  gets the modern names: ``old NAME=V`` is ``old-NAME=V`` and ``new NAME=V`` is
  ``NAME=V`` (for any NAME). libauparse keeps ``auid`` twice, and a consumer
  looking a name up gets the old value, the opposite of what happened.
* **AVC ``key``.** In ``AVC`` and ``USER_AVC`` records ``key=`` is the decimal IPC
  key of the object (``key=1291864389``) or ``(null)``, not a rule key: it is
  neither split into rule keys nor hex-decoded (libauparse 3.0.9 does both, and
  prints five bytes of garbage).
* **A stray quote after a hex key.** A hex ``key`` followed by a lone ``"``
  (``key=65786563013634626974"``, written by some kernels) is split into its rule
  keys as libauparse splits it (it decodes the hex digits and ignores the rest),
  not kept as one undecodable value.

This module knows only strings and numbers: :func:`split_fields` turns a body into
``(name, value)`` pairs as logged, :func:`decode_value` / :func:`decode_fields` turn
values into the strings they stand for, :func:`type_name` / :func:`type_number`
translate record types. The record model (:mod:`.model`), interpretation
(:mod:`.interpret`) and the line parser (:mod:`.parse`) build on it; it imports none
of them. Scanning is linear: a single pass over the body with ``str.split`` and
``str.find``, no backtracking construct that could make a hostile line take
super-linear time.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from .._errors import AuditProtocolError
from .._tables.msgtype_names import LOG_NAMES, LOG_NUMBERS
from .._tables.msgtypes import AuditMessageType as _T

__all__ = [
    "AVC_TYPES",
    "KEY_SEPARATOR",
    "RecordParseError",
    "decode_fields",
    "decode_value",
    "split_fields",
    "type_name",
    "type_number",
]

_EXECVE = int(_T.EXECVE)
#: Records whose leading words are SELinux's (``avc:  denied  { ... }``) and whose
#: ``key=`` is an IPC key: AVC and USER_AVC.
AVC_TYPES = frozenset({int(_T.AVC), int(_T.USER_AVC)})

#: Largest record type: a netlink message type is 16 bits.
_MAX_TYPE = 0xFFFF

#: Separator of several rule keys inside one ``key`` value.
KEY_SEPARATOR = "\x01"

_HEX = re.compile(r"[0-9A-Fa-f]+")

# Field names whose unquoted values are hex-encoded untrusted strings (libauparse's
# ESCAPED/ESCAPED_FILE/ESCAPED_KEY/PROCTITLE/TTY_DATA classes, see typetab.h).
_ESCAPED_NAMES = frozenset(
    {
        "path", "comm", "exe", "file", "name", "watch", "cwd", "cmd", "acct", "dir",
        "key", "vm", "old-chardev", "new-chardev", "old-disk", "new-disk", "old-fs",
        "new-fs", "old-net", "new-net", "device", "cgroup", "old-rng", "new-rng", "ocomm",
        "grp", "new_group", "invalid_context", "sw", "root_dir", "proctitle", "data",
        "apparmor", "operation", "denied_mask", "info", "profile", "requested_mask",
    }
)  # fmt: skip


class RecordParseError(AuditProtocolError):
    """The text is not an audit record (no ``audit(sec.ms:serial)`` stamp, too long...)."""


def type_name(number: int) -> str:
    """The name auditd logs for a record type (``UNKNOWN[n]`` when unknown)."""
    name = LOG_NAMES.get(number)
    return name if name is not None else f"UNKNOWN[{number}]"


def type_number(name: str) -> int:
    """The number of a logged type name (``UNKNOWN[n]`` and decimal strings accepted).

    Raises:
        RecordParseError: The name is not a known record type.
    """
    number = LOG_NUMBERS.get(name)
    if number is not None:
        return number
    digits = name[8:-1] if name.startswith("UNKNOWN[") and name.endswith("]") else name
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if len(digits) <= 5 and digits.isascii() and digits.isdigit() and int(digits) <= _MAX_TYPE:
        return int(digits)
    raise RecordParseError(f"unknown record type {name[:40]!r}")


def decode_value(name: str, value: str, record_type: int = 0) -> str:
    """Turn a value as logged into the string it stands for.

    Quotes are removed; an unquoted hex value of a field that carries untrusted
    strings is decoded (bytes that are not UTF-8 survive as surrogate escapes).
    """
    if value[:1] == '"':
        end = value.find('"', 1)
        return value[1:end] if end != -1 else value[1:]
    if name in _ESCAPED_NAMES or (
        record_type == _EXECVE and name[:1] == "a" and name != "argc" and "_len" not in name
    ):
        if name == "key" and record_type in AVC_TYPES:
            return value  # the decimal IPC key (module doc)
        try:
            return bytes.fromhex(value).decode("utf-8", "surrogateescape")
        except ValueError:
            return value
    return value


def decode_fields(record_type: int, items: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Decoded values by name (first wins; several ``key`` items are joined)."""
    raw_fields: dict[str, str] = {}
    keys: list[str] = []
    for key, value in items:
        if key == "key":
            keys.append(decode_value(key, value, record_type))
        if key not in raw_fields:
            raw_fields[key] = decode_value(key, value, record_type)
    if len(keys) > 1:
        # One hex value held several keys; expose them joined, as logged.
        raw_fields["key"] = KEY_SEPARATOR.join(keys)
    return raw_fields


def _trim(value: str) -> str:
    # libauparse trims one trailing ':' then ',' then "'" then ')' (keeping
    # "(none)"/"(null)" intact); do the same so values compare equal.
    if value[-1:] == ":":
        value = value[:-1]
    if value[-1:] == ",":
        value = value[:-1]
    if value[-1:] == "'":
        value = value[:-1]
    if value[-1:] == ")" and value not in ("(none)", "(null)"):
        value = value[:-1]
    return value


def split_fields(body: str, record_type: int = 0) -> list[tuple[str, str]]:
    """Split a record body into ``(name, value)`` pairs, values as logged.

    One linear pass. Tokens are separated by spaces only -- even inside double
    quotes, exactly like libauparse (the kernel never puts a space in a quoted
    value; libaudit hex-encodes such values); ``msg='`` opens a nested list that
    is flattened. A hex ``key`` holding several keys becomes several ``key`` items.
    """
    avc = record_type in AVC_TYPES
    if not avc and "msg=" not in body:
        # Fast path (most kernel records): tokens repeat from record to record
        # (uid=0, arch=c000003e, success=yes), so each token's pairs are
        # memoised; one C-level map() looks them all up.
        tokens = body.split(" ")
        cache = _TOKEN_PAIRS
        parts = list(map(cache.get, tokens))
        if None in parts:
            index = parts.index(None)
            while True:
                token = tokens[index]
                if token in _QUALIFIERS:
                    # Never memoised, so they always land here: "old"/"new"
                    # qualify the next token, which the full scan below handles.
                    break
                found = _token_pairs(token)
                parts[index] = found
                if len(token) <= MEMO_TOKEN_LENGTH:
                    if len(cache) >= MEMO_TOKENS:
                        cache.clear()
                    cache[token] = found
                try:
                    index = parts.index(None, index + 1)
                except ValueError:
                    return list(_chain(parts))  # type: ignore[arg-type]
        else:
            return list(_chain(parts))  # type: ignore[arg-type]
    items: list[tuple[str, str]] = []
    append = items.append
    tokens = body.split(" ")
    index = -1
    qualifier = ""  # "old" or "new" just before a name=value (see the module doc)
    for token in tokens:
        index += 1
        eq = token.find("=")
        if eq < 0:
            if token in _QUALIFIERS:
                qualifier = token
                continue
            if token:
                qualifier = ""
            if avc and eq == -1 and token and len(items) < 2:
                _avc_token(token, tokens, index, items)
            continue
        if eq == 3 and token.startswith("msg="):
            nxt = token[4:5]
            if nxt == "a":
                continue
            if nxt == "'":
                token = token[5:]
                eq = token.find("=")
                if eq < 0:
                    qualifier = token if token in _QUALIFIERS else ""
                    continue
        name = token[:eq]
        if name[:1] == "(":
            name = name[1:]  # an empty name is kept, as libauparse keeps it
        if qualifier:
            if qualifier == "old":
                name = "old-" + name
            qualifier = ""
        _keep_pair(append, name, token[eq + 1 :], not avc)
    return items


def _keep_pair(
    append: Callable[[tuple[str, str]], None], name: str, value: str, rule_keys: bool = True
) -> None:
    """Add one ``name=value`` as libauparse keeps it: empty values dropped,
    a trailing ``:,')`` trimmed, a hex ``key`` split into its keys (unless
    *rule_keys* is false: an AVC's ``key`` is an IPC key)."""
    if not value:
        return
    if value[-1] in _TRIMMED and value[0] != '"':
        value = _trim(value)
        if not value:
            return
    if rule_keys and name == "key" and value[0] not in '"(':
        _append_keys(append, value)
        return
    append((name, value))


def _token_pairs(token: str) -> tuple[tuple[str, str], ...]:
    """The pairs one space-free token gives on the fast path of :func:`split_fields`.

    The pattern only matches at a token start and never crosses a space, so
    scanning a body token by token gives exactly what scanning it whole gives.
    """
    items: list[tuple[str, str]] = []
    for name, value in _PAIR.findall(token):
        _keep_pair(items.append, name, value)
    return tuple(items)


#: Tokens memoised by :func:`split_fields`, and the longest one memoised (longer
#: tokens -- hex paths, proctitles -- rarely repeat; the bound keeps memory small
#: whatever the input: at most MEMO_TOKENS x MEMO_TOKEN_LENGTH characters).
MEMO_TOKENS = 1 << 14
MEMO_TOKEN_LENGTH = 128
_TOKEN_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {}
_chain = itertools.chain.from_iterable

_TRIMMED = frozenset(":,')")
_QUALIFIERS = frozenset({"old", "new"})
# name=value at a token start; a leading "(" is not part of the name (libauparse).
_PAIR = re.compile(r"(?<![^ ])\(?([^ =]*+)=([^ ]*+)")


def _avc_token(token: str, tokens: list[str], index: int, items: list[tuple[str, str]]) -> None:
    # SELinux AVC records do not label their first words; libauparse names them:
    # "avc:  denied  { read write } for ..." -> seresult=denied seperms=read,write.
    if not items:
        if not token.startswith("avc"):
            items.append(("seresult", token))
    elif len(items) == 1 and token == "{":
        perms: list[str] = []
        for word in tokens[index + 1 :]:
            if not word:
                continue
            if word.startswith("}"):
                break
            perms.append(word)
        items.append(("seperms", ",".join(perms)))
        # The words inside the braces have no '=' and are skipped by the caller.


def _quote_or_hex(text: str) -> str:
    # How the kernel would log one string: quoted if safe, else upper-case hex.
    raw = text.encode("utf-8", "surrogateescape")
    if any(b == 0x22 or b < 0x21 or b > 0x7E for b in raw):
        return raw.hex().upper()
    return f'"{text}"'


def _append_keys(append: Callable[[tuple[str, str]], None], value: str) -> None:
    digits = value[:-1] if value[-1] == '"' else value  # a stray quote (module doc)
    if len(digits) % 2 or not _HEX.fullmatch(digits):
        append(("key", value))
        return
    joined = bytes.fromhex(digits).split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
    parts = [part for part in joined.split(KEY_SEPARATOR) if part]
    if not parts:
        append(("key", value))
    for part in parts:
        append(("key", _quote_or_hex(part)))
