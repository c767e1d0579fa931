"""A record's fields as go-libaudit's auparse sees them (``AuditMessage.Data()``).

Normalisation follows go-libaudit's ``aucoalesce``, and its rules read auparse's view of
each record, not libauparse's: a lenient ``name=value`` scan of the message text (the
last of a repeated name wins, ``msg='...'`` is scanned again inside, useless values such
as ``?`` and ``(null)`` are dropped), then a handful of enrichments -- ``success``/``res``
become ``result``, unset ids become ``unset``, ``subj`` is split into its SELinux parts,
negative ``exit`` codes become errno names, the rule ``key`` becomes the record's tags,
``arch`` and ``syscall`` are named, hex ``exe``/``cwd``/``proctitle``/``name``/EXECVE
arguments are decoded, and a SOCKADDR's ``saddr`` is unpacked. This module reproduces
those rules (read from auparse/auparse.go, hex.go and sockaddr.go of go-libaudit,
Apache-2.0) in its own code, so that the normalised events carry aucoalesce's values.

Like auparse, some records have no data at all: a SYSCALL without ``arch``, ``syscall``
or ``exe``, a SOCKADDR whose address does not parse, a PROCTITLE without its title. The
view then carries the error instead, and the normaliser records a warning.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import signal
from dataclasses import dataclass, field

from .._records.model import AuditRecord
from .._tables import syscalls as _syscalls
from .._tables.msgtypes import AuditMessageType as _T
from .._tables.normalizations import ARCH_NAMES
from .._tables.uringops import URINGOP_NAMES

__all__ = ["RecordData", "message_of", "record_data"]

# auparse's kvRegex; \s there is RE2's ASCII white space.
_KV = re.compile(r"""([a-z0-9_-]+)=((?:[^"'\t\n\f\r ]+)|'(?:\\'|[^'])*'|"(?:\\"|[^"])*")""")
# avc:  denied  { read } for  -- \w and \s as RE2 has them (ASCII).
_S = r"[\t\n\f\r ]"
_SELINUX_AVC = re.compile(rf"avc:{_S}+([0-9A-Za-z_]+){_S}+\{{{_S}*(.*){_S}*\}}{_S}+for{_S}+")
_USELESS = frozenset({"", "?", "?,", "(null)"})
_UPPER_HEX = re.compile(r"(?:[0-9A-F]{2})*")
_SELINUX_PARTS = ("_user", "_role", "_domain", "_level", "_category")

_SYSCALL, _PATH, _SOCKADDR, _EXECVE = (
    int(_T.SYSCALL),
    int(_T.PATH),
    int(_T.SOCKADDR),
    int(_T.EXECVE),
)
_SECCOMP, _PROCTITLE, _USER_CMD = int(_T.SECCOMP), int(_T.PROCTITLE), int(_T.USER_CMD)
_TTY_TYPES = frozenset({int(_T.TTY), int(_T.USER_TTY)})
_USER_LOGIN, _AVC, _LOGIN = int(_T.USER_LOGIN), int(_T.AVC), int(_T.LOGIN)
_HOSTNAME_IN_PARENS = frozenset({int(_T.CRED_DISP), int(_T.USER_START), int(_T.USER_END)})
_URINGOP = int(_T.URINGOP)
_APPARMOR_FIRST, _APPARMOR_LAST = int(_T.APPARMOR_AUDIT), int(_T.APPARMOR_ERROR)


class DataError(ValueError):
    """The record has no data in auparse's view (why: the message)."""


@dataclass(slots=True)
class _Field:
    orig: str  # as logged, quotes included
    value: str  # unquoted, then enriched


@dataclass(slots=True)
class RecordData:
    """``data``: name -> value (None when auparse would have none: see ``error``);
    ``tags``: the rule keys."""

    data: dict[str, str] | None
    tags: list[str] = field(default_factory=list)
    error: str | None = None


def record_data(record: AuditRecord) -> RecordData:
    """auparse's ``Data()`` and ``Tags()`` of one record. The answer is shared between
    records with the same type and text after the stamp (memoised, bounded): callers
    must not change it."""
    message = message_of(record.raw)
    key = (record.type, message)
    found = _MEMO.get(key)
    if found is None:
        found = _record_data(record.type, message)
        if len(_MEMO) >= _MEMO_LIMIT:
            _MEMO.clear()
        _MEMO[key] = found
    return found


#: record_data's answers by (type, text after the stamp): records repeat (the same
#: process's calls, the same paths), and the scan is most of normalisation's cost.
_MEMO: dict[tuple[int, str], RecordData] = {}
_MEMO_LIMIT = 1 << 12


def _record_data(rtype: int, message: str) -> RecordData:
    fields: dict[str, _Field] = {}
    tags: list[str] = []
    try:
        _extract(_normalize_message(rtype, message), fields)
        _enrich(rtype, fields, tags)
    except DataError as exc:
        return RecordData(None, tags, str(exc))
    return RecordData({name: f.value for name, f in fields.items()}, tags)


def message_of(raw: str) -> str:
    """The text after the ``audit(...)`` stamp (the stamp has no ``=``, so where the
    scan starts within it does not matter); the ENRICHED tail is scanned too, as
    auparse does (its upper-case names never match)."""
    start = raw.find("audit(")
    text = raw[start:] if start != -1 else raw
    end = text.find(")")
    return text[end + 1 :] if end != -1 else text


def _normalize_message(rtype: int, msg: str) -> str:
    if rtype == _AVC:
        found = _SELINUX_AVC.search(msg)
        if found is None:
            return msg  # an AppArmor AVC: plain name=value pairs
        perms = ",".join(found.group(2).split())
        return f"seresult={found.group(1)} seperms={perms} {msg[found.end() :]}"
    if rtype == _LOGIN:
        return msg.replace("old ", "old_", 2).replace("new ", "new_", 2)
    if rtype in _HOSTNAME_IN_PARENS:
        return msg.replace(" (hostname=", " hostname=", 2).rstrip(")'")
    return msg


def _extract(msg: str, fields: dict[str, _Field]) -> None:
    for name, orig in _KV.findall(msg):
        value = orig.strip("'\" ")
        if value in _USELESS:
            continue
        if name == "msg":
            _extract(value, fields)
            continue
        fields[name] = _Field(orig, value)


def _set(fields: dict[str, _Field], name: str, value: str) -> None:
    if name in fields:
        fields[name].value = value


def _enrich(rtype: int, fields: dict[str, _Field], tags: list[str]) -> None:
    for name in ("auid", "old-auid", "ses"):
        if name in fields and fields[name].value in ("4294967295", "-1"):
            fields[name].value = "unset"
    _split_selinux(fields, "subj")
    _result(fields)
    _exit(fields)
    _rule_key(fields, tags)
    _hex_decode(fields, "cwd")
    if rtype == _SECCOMP:
        _signal_name(fields)
    if rtype in (_SECCOMP, _SYSCALL):
        _arch(fields)
        _syscall_name(fields)
        _hex_decode(fields, "exe", required=True)
    elif rtype == _SOCKADDR:
        _saddr(fields)
    elif rtype == _PROCTITLE:
        _hex_decode(fields, "proctitle", required=True)
    elif rtype == _USER_CMD:
        _hex_decode(fields, "cmd", required=True)
    elif rtype in _TTY_TYPES:
        _hex_decode(fields, "data", required=True)
    elif rtype == _EXECVE:
        _execve_args(fields)
    elif rtype == _PATH:
        _split_selinux(fields, "obj")
        _hex_decode(fields, "name")
    elif rtype == _USER_LOGIN:
        _hex_decode(fields, "acct")
    # Beyond auparse (record types go-libaudit does not normalise; extensions.py):
    elif rtype == _URINGOP:
        _uring_op_name(fields)
    elif _APPARMOR_FIRST <= rtype <= _APPARMOR_LAST:
        _hex_decode(fields, "name")
        _hex_decode(fields, "name2")


def _uring_op_name(fields: dict[str, _Field]) -> None:
    found = fields.get("uring_op")
    number = _go_int(found.value) if found is not None else None
    if found is not None and number is not None:
        found.value = URINGOP_NAMES.get(number, found.value)


def _split_selinux(fields: dict[str, _Field], name: str) -> None:
    found = fields.pop(name, None)
    if found is None:
        return
    for suffix, part in zip(_SELINUX_PARTS, found.value.split(":", 4), strict=False):
        fields[name + suffix] = _Field(part, part)


def _result(fields: dict[str, _Field]) -> None:
    # SYSCALL records say success=, the others res=.
    found = fields.pop("success", None)
    if found is None:
        found = fields.pop("res", None)
        if found is None:
            return
    value = found.value.lower()
    ok = value in ("yes", "1") or value.startswith("suc")
    fields["result"] = _Field("", "success" if ok else "fail")


def _go_int(text: str) -> int | None:
    """strconv.Atoi: optional sign, ASCII digits, within 64 bits."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    number = int(text)
    return number if -(1 << 63) <= number < (1 << 63) else None


def _exit(fields: dict[str, _Field]) -> None:
    found = fields.get("exit")
    if found is None:
        return
    code = _go_int(found.value)
    if code is None or code >= 0:
        return
    name = _syscalls.errno_name(-code)
    if name is not None:
        found.value = name


def _upper_hex(text: str) -> bytes | None:
    """decodeUppercaseHexString: even length, digits and A-F only."""
    if _UPPER_HEX.fullmatch(text) is None:
        return None
    return bytes.fromhex(text)


def _rule_key(fields: dict[str, _Field], tags: list[str]) -> None:
    found = fields.pop("key", None)
    if found is None:
        return
    decoded = _upper_hex(found.orig)
    if decoded is not None:
        tags.extend(_text(decoded).split("\x01"))
        return
    parts = found.value.split("=", 1)
    tags.extend(parts[-1:])  # key="net" -> net; key="key=net" -> net


def _text(data: bytes) -> str:
    # Go strings hold any bytes; encoding/json writes invalid UTF-8 as U+FFFD.
    return data.decode("utf-8", "replace")


def _hex_decode(fields: dict[str, _Field], name: str, *, required: bool = False) -> None:
    found = fields.get(name)
    if found is None:
        if required:
            raise DataError(f"{name} key not found")
        return
    decoded = _upper_hex(found.orig)
    if decoded is not None:
        found.value = " ".join(_text(decoded).split("\x00"))


def _arch(fields: dict[str, _Field]) -> None:
    found = fields.get("arch")
    if found is None:
        raise DataError("arch key not found")
    try:
        number = int(found.value, 16)
    except ValueError:
        raise DataError(f"failed to parse arch: {found.value!r}") from None
    found.value = ARCH_NAMES.get(number & 0xFFFFFFFF, f"unknown[{number & 0xFFFFFFFF:x}]")


def _required_number(fields: dict[str, _Field], name: str) -> tuple[_Field, int]:
    """A field auparse cannot do without, as an integer (strconv.Atoi), or DataError."""
    found = fields.get(name)
    if found is None:
        raise DataError(f"{name} key not found")
    number = _go_int(found.value)
    if number is None:
        raise DataError(f"failed to parse {name}: {found.value!r}")
    return found, number


def _syscall_name(fields: dict[str, _Field]) -> None:
    found, number = _required_number(fields, "syscall")
    arch = fields.get("arch")
    if arch is None:
        raise DataError("arch key not found so syscall cannot be translated to a name")
    machine = _MACHINE_OF_ARCH.get(arch.value)
    name = _syscalls.syscall_name(machine, number) if machine is not None else None
    if name is not None:
        found.value = name


#: go-libaudit's arch names -> the machine names of our syscall tables.
_MACHINE_OF_ARCH = {
    ARCH_NAMES[number]: machine
    for number, machine in _syscalls.ARCH_BY_AUDIT_ARCH.items()
    if number in ARCH_NAMES
}


def _signal_name(fields: dict[str, _Field]) -> None:
    found, number = _required_number(fields, "sig")
    # unix.SignalName: the classic names 1..31 (no name for real-time signals).
    if 1 <= number <= 31:
        with contextlib.suppress(ValueError):
            found.value = signal.Signals(number).name


def _execve_args(fields: dict[str, _Field]) -> None:
    argc, count = _required_number(fields, "argc")
    if not 0 <= count < (1 << 32):  # strconv.ParseUint(argc, 10, 32)
        raise DataError(f"failed to convert argc={argc.value!r} to number")
    for index in range(count):
        found = fields.get(f"a{index}")
        if found is None:
            raise DataError(f"failed to find arg a{index}")
        decoded = _upper_hex(found.orig)
        if decoded is not None:
            found.value = _text(decoded.split(b"\x00", 1)[0])


def _saddr(fields: dict[str, _Field]) -> None:
    found = fields.get("saddr")
    if found is None:
        raise DataError("saddr key not found")
    parsed = _sockaddr(found.value)
    del fields["saddr"]
    for name, value in parsed.items():
        fields[name] = _Field(value, value)


def _hex_int(text: str) -> int:
    """hexToDec: strconv.ParseInt(h, 16, 32)."""
    try:
        number = int(text, 16)
    except ValueError:
        raise DataError(f"invalid hex {text!r}") from None
    if not text or text[0] in "+-_" or "_" in text or number >= 1 << 31:
        raise DataError(f"invalid hex {text!r}")
    return number


def _sockaddr(text: str) -> dict[str, str]:
    if len(text) < 4:
        raise DataError(f"invalid family: too short: {len(text)}")
    family = _hex_int(text[2:4] + text[0:2])
    if family == 1:  # AF_UNIX
        path = _upper_hex(text[4:])
        if path is None:
            raise DataError("invalid unix socket path")
        return {"family": "unix", "path": _text(path.split(b"\x00", 1)[0])}
    if family == 2:  # AF_INET
        if len(text) < 16:
            raise DataError(f"invalid socket address size family=ipv4: {len(text)}")
        port = _hex_int(text[4:8])
        ip = ".".join(str(_hex_int(text[i : i + 2])) for i in range(8, 16, 2))
        return {"family": "ipv4", "addr": ip, "port": str(port)}
    if family == 10:  # AF_INET6
        if len(text) < 48:
            raise DataError(f"invalid socket address size family=ipv6: {len(text)}")
        port = _hex_int(text[4:8])
        flow = _hex_int(text[8:16])
        try:
            address = ipaddress.IPv6Address(bytes.fromhex(text[16:48]))
        except ValueError:
            raise DataError("invalid ipv6 address") from None
        # Go's net.IP prints an IPv4-mapped address in dotted form.
        mapped = address.ipv4_mapped
        ip = str(mapped) if mapped is not None else str(address)
        out = {"family": "ipv6", "addr": ip, "port": str(port)}
        if flow > 0:
            out["flow"] = str(flow)
        return out
    if family == 16:  # AF_NETLINK
        return {"family": "netlink", "saddr": text}
    return {"family": str(family), "saddr": text}
