"""Value printers: one function per libauparse field class, same output strings.

Theory of operation
-------------------
libauparse classifies each field by name (``typetab.h``; a few record types
override it) and prints it with one ``print_*`` function per class. The functions
here reproduce those outputs -- including the odd corners (``uid=?`` is ``root``
because ``strtoul("?")`` is 0; ``mode`` is read in octal, ``a0`` in hex) -- since
the point of interpretation is that ``ausearch -i`` users recognise every string.

Each printer takes the field value exactly as logged (quoted, hex or bare) and a
:class:`Context` carrying what libauparse keeps per record (machine, syscall, a0,
a1) plus the :class:`~trioaudit._records.interpret.sysdb.SystemDatabase`. Lookup tables
come from the generated ``_tables`` package.

The syscall-argument printers (``a0``..``a3``) depend on the syscall name; the
decision of which printer applies is computed once per (argument, syscall name)
and cached.
"""

from __future__ import annotations

import enum
import os
import re
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from ..._tables import auparse as T
from . import machines as _machines
from .cnum import ConversionError, as_int32, as_uint32, strtol, strtoul
from .sysdb import SystemDatabase

__all__ = [
    "PRINTERS",
    "Context",
    "FieldPrinter",
    "Memo",
    "escape_tty",
    "print_escaped",
    "unescape_hex",
]

#: ``sin6_flowinfo`` carries a 20-bit flow label.
_FLOW_LABEL_MASK = 0xFFFFF


@dataclass(slots=True)
class Context:
    """Per-record state libauparse consults while printing a field.

    Attributes:
        db: User/group/protocol names.
        machine: Machine name from the record's ``arch`` (``None`` if absent,
            ``""`` if unparsable).
        syscall: Syscall number from the record (-1 if absent).
        a0: First syscall argument (0 if absent).
        a1: Second syscall argument (0 if absent).
        record_type: The record type number.
    """

    db: SystemDatabase
    machine: str | None = None
    syscall: int = -1
    a0: int = 0
    a1: int = 0
    record_type: int = 0


Printer = Callable[[str, Context], str]

_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def _i2s(table: tuple[tuple[int, str], ...]) -> dict[int, str]:
    out: dict[int, str] = {}
    for value, name in table:
        out.setdefault(value, name)
    return out


CAPS = _i2s(T.CAPABILITIES)
FAMILIES = _i2s(T.FAMILIES)
SIGNALS = _i2s(T.SIGNALS)
SOCKETCALLS = _i2s(T.SOCKETCALLS)
IPC_CALLS = _i2s(T.IPC_CALLS)
SOCKET_TYPES = _i2s(T.SOCKET_TYPES)
FILE_TYPES = _i2s(T.FILE_TYPES)
_LISTS = {1: "task", 4: "exit", 0: "user", 5: "exclude", 6: "filesystem"}
#: Highest capability number libauparse 3.0.9 (built on Linux 6.1 headers) prints.
CAP_LAST_CAP = 40
_S_IFMT = 0o170000


def _conv_error(value: str) -> str:
    return f"conversion error({value})"


def unescape_hex(value: str) -> bytes:
    """Decode like libauparse's ``au_unescape``: hex prefix, ``(...)`` kept verbatim.

    The result stops at the first NUL, as the C string it is in libauparse.
    """
    if value[:1] == "(":
        end = value.find(")")
        return value[: end + 1].encode("utf-8", "surrogateescape") if end != -1 else b""
    return _unhex_prefix(value).split(b"\x00", 1)[0]


def _unhex_prefix(value: str) -> bytes:
    n = 0
    for ch in value:
        if ch not in _HEXDIGITS:
            break
        n += 1
    digits = value[:n]
    if len(digits) % 2:
        digits += "0"
    return bytes.fromhex(digits)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def print_escaped(value: str) -> str:
    """Quoted -> the text inside; hex -> decoded; ``(null)`` -> as is."""
    if value[:1] == '"':
        end = value.find('"', 1)
        return value[1:end] if end != -1 else " "
    if value[:2] == "00":
        value = value[2:]  # abstract AF_UNIX name
    if value[:1] != "(":
        n = 0
        for ch in value:
            if ch not in _HEXDIGITS:
                break
            n += 1
        if n < 2:
            return value
    return _text(unescape_hex(value))


_CONTROL = re.compile("[\x00-\x1f]")
#: ``CONTROL_SEARCH(text)`` is not None when the text holds a C0 control character.
CONTROL_SEARCH = _CONTROL.search


def has_no_control(text: str) -> bool:
    """True when the text holds no C0 control character."""
    return _CONTROL.search(text) is None


def escape_tty(text: str) -> str:
    """libauparse's TTY escaping: control characters become ``\\ooo`` octal."""
    if _CONTROL.search(text) is None:
        return text
    return "".join(f"\\{ord(ch):03o}" if ch < " " else ch for ch in text)


# ---- identities ----------------------------------------------------------------


def _uid_name(uid: int, ctx: Context) -> str:
    if uid == -1:
        return "unset"
    if uid == 0:
        return "root"
    name = ctx.db.user_name(as_uint32(uid))
    return name if name is not None else f"unknown({uid})"


def _gid_name(gid: int, ctx: Context) -> str:
    if gid == -1:
        return "unset"
    if gid == 0:
        return "root"
    name = ctx.db.group_name(as_uint32(gid))
    return name if name is not None else f"unknown({gid})"


def _print_uid(value: str, ctx: Context, base: int = 10) -> str:
    try:
        return _uid_name(as_int32(strtoul(value, base)), ctx)
    except ConversionError:
        return _conv_error(value)


def _print_gid(value: str, ctx: Context, base: int = 10) -> str:
    try:
        return _gid_name(as_int32(strtoul(value, base)), ctx)
    except ConversionError:
        return _conv_error(value)


def _uid16(value: str, ctx: Context) -> str:
    return _print_uid(value, ctx, 16)


def _gid16(value: str, ctx: Context) -> str:
    return _print_gid(value, ctx, 16)


# ---- arch / syscall / exit ----------------------------------------------------------


def print_arch(value: str, ctx: Context) -> str:
    try:
        elf = as_uint32(strtoul(value, 16))
    except ConversionError:
        return f"conversion error({value}) "
    machine = _machines.machine_for_arch(elf)
    if machine is None:
        return f"unknown-elf-type({value})"
    return machine


def _syscall_name(ctx: Context) -> str | None:
    if not ctx.machine:
        return None
    return _machines.syscall_name(ctx.machine, ctx.syscall)


def print_syscall(value: str, ctx: Context) -> str:
    machine = ctx.machine if ctx.machine is not None else _machines.local_machine()
    if not machine:
        return value
    name = _machines.syscall_name(machine, ctx.syscall)
    if name is None:
        return f"unknown-syscall({ctx.syscall})"
    func = None
    if ctx.a0 == as_int32(ctx.a0):
        if name == "socketcall":
            func = SOCKETCALLS.get(ctx.a0)
        elif name == "ipc":
            func = IPC_CALLS.get(ctx.a0)
    return f"{name}({func})" if func else name


def print_exit(value: str, ctx: Context) -> str:
    text = value.strip()
    negative = text.startswith("-")
    digits = text[1:] if negative or text.startswith("+") else text
    number = 0
    for ch in digits:
        if ch not in "0123456789":  # C isdigit(): "²" is not a digit there
            break
        number = number * 10 + int(ch)
    if number > (1 << 63) - 1 + negative:
        return _conv_error(value)
    if negative and number:
        # libauparse passes the value to C ``int`` parameters: wrap as C does
        # (found by fuzzing: os.strerror raised OverflowError on huge values).
        code = as_int32(number)
        name = _machines.errno_name(code)
        return f"{name if name else '(null)'}({os.strerror(code)})"
    return value


# ---- strings --------------------------------------------------------------------


def _print_escaped(value: str, ctx: Context) -> str:
    return print_escaped(value)


def print_proctitle(value: str, ctx: Context) -> str:
    if value[:1] == '"':
        return print_escaped(value)
    if value[:2] == "00" or value[:1] == "(":
        return print_escaped(value)
    data = _unhex_prefix(value)
    if len(data) < 1 or len(value) < 2:
        return value
    return _text(data.replace(b"\x00", b" "))


def print_tty_data(value: str, ctx: Context) -> str:
    if not value or not all(ch in _HEXDIGITS for ch in value):
        return value
    data = _unhex_prefix(value)[: len(value) // 2]
    data = data.split(b"\x00", 1)[0]
    out: list[str] = []
    in_printable = False
    pos = 0
    while pos < len(data):
        name = _tty_named_key(data, pos)
        if name is not None:
            key, length = name
            if in_printable:
                out.append('"')
                in_printable = False
            if out:
                out.append(",")
            out.append(f"<{key}>")
            pos += length
            continue
        if not in_printable:
            if out:
                out.append(",")
            out.append('"')
            in_printable = True
        byte = data[pos]
        if byte < 0x20 or byte > 0x7E:
            out.append(f"\\{byte:03o}")
        else:
            if byte in (0x5C, 0x22):
                out.append("\\")
            out.append(chr(byte))
        pos += 1
    if in_printable:
        out.append('"')
    return "".join(out)


_TTY_KEYS = tuple((seq.encode("latin-1"), name) for seq, name in T.TTY_NAMED_KEYS)


def _tty_named_key(data: bytes, pos: int) -> tuple[str, int] | None:
    first = data[pos]
    if first >= 0x20 and (first < 0x7F or first >= 0xA0):
        return None
    for seq, name in _TTY_KEYS:
        if data.startswith(seq, pos):
            return name, len(seq)
    return None


# ---- permissions and modes ------------------------------------------------------------


def print_perm(value: str, ctx: Context) -> str:
    try:
        perm = as_int32(strtol(value, 10))
    except ConversionError:
        return _conv_error(value)
    if perm == 0:
        perm = 0x0F
    words = [w for bit, w in ((1, "exec"), (2, "write"), (4, "read"), (8, "attr")) if perm & bit]
    order = {"read": 0, "write": 1, "exec": 2, "attr": 3}
    return ",".join(sorted(words, key=order.__getitem__))


def _mode_text(mode: int) -> str:
    name = FILE_TYPES.get(mode & _S_IFMT)
    parts = [name if name is not None else f"{(mode & _S_IFMT) // 0o10000:03o}"]
    if mode & 0o4000:
        parts.append("suid")
    if mode & 0o2000:
        parts.append("sgid")
    if mode & 0o1000:
        parts.append("sticky")
    parts.append(f"{mode & 0o777:03o}")
    return ",".join(parts)


def _print_mode(value: str, base: int) -> str:
    try:
        mode = as_uint32(strtoul(value, base))
    except ConversionError:
        return _conv_error(value)
    return _mode_text(mode)


def print_mode(value: str, ctx: Context) -> str:
    return _print_mode(value, 8)


def _mode16(value: str, ctx: Context) -> str:
    return _print_mode(value, 16)


def _mode_short_text(mode: int) -> str:
    parts = [w for bit, w in ((0o4000, "suid"), (0o2000, "sgid"), (0o1000, "sticky")) if mode & bit]
    parts.append(f"0{mode & 0o777:03o}")
    return ",".join(parts)


def _print_mode_short(value: str, base: int) -> str:
    try:
        mode = as_uint32(strtoul(value, base))
    except ConversionError:
        return _conv_error(value)
    return _mode_short_text(mode)


def print_mode_short(value: str, ctx: Context) -> str:
    return _print_mode_short(value, 8)


def _mode_short16(value: str, ctx: Context) -> str:
    return _print_mode_short(value, 16)


# ---- generic table helpers ---------------------------------------------------------


def _flags(
    value: str,
    table: tuple[tuple[int, str], ...],
    *,
    base: int = 16,
    sep: str = "|",
    initial: tuple[str, ...] = (),
    fallback: str | None = None,
    limit: int | None = None,
) -> str:
    try:
        bits = strtoul(value, base)
    except ConversionError:
        return _conv_error(value)
    bits = as_uint32(bits)
    names = list(initial)
    for bit, name in table[:limit]:
        if bit & bits:
            names.append(name)
    if not names:
        return fallback if fallback is not None else f"0x{value}"
    return sep.join(names)


def _lookup(
    value: str,
    table: dict[int, str],
    unknown: str,
    *,
    base: int = 16,
    mask: int | None = None,
    signed: bool = True,
) -> str:
    try:
        number = strtoul(value, base)
    except ConversionError:
        return _conv_error(value)
    number = as_int32(number) if signed else as_uint32(number)
    if mask is not None:
        number &= mask
    name = table.get(number)
    return name if name is not None else unknown.format(value=value, number=number)


# ---- sockets ----------------------------------------------------------------------


def decode_sockaddr(value: str) -> tuple[bytes, int | None]:
    """The raw bytes of a hex ``saddr`` and its family (``None`` if too short)."""
    data = _unhex_prefix(value)
    if len(data) < 2:
        return data, None
    return data, struct.unpack_from("<H", data)[0]


def print_sockaddr(value: str, ctx: Context) -> str:
    slen = len(value) // 2
    if not value or not all(ch in _HEXDIGITS for ch in value[:2]) or len(value) < 2:
        return f"malformed-host({value})"
    data = _unhex_prefix(value)
    data = data + b"\x00" * max(0, 128 - len(data))
    family = struct.unpack_from("<H", data)[0]
    fam = FAMILIES.get(family)
    if fam is None:
        return f"unknown-family({family})"
    if family == 1:
        if slen < 4:
            return f"{{ saddr_fam={fam} sockaddr len too short }}"
        path = data[2:110]
        if path[:1] == b"\x00":
            path = path[1:]
        path = path.split(b"\x00", 1)[0][:108]
        return f"{{ saddr_fam={fam} path={_text(path)} }}"
    if family == 2:
        if slen < 16:
            return f"{{ saddr_fam={fam} sockaddr len too short }}"
        port = struct.unpack_from(">H", data, 2)[0]
        addr = socket.inet_ntop(socket.AF_INET, data[4:8])
        return f"{{ saddr_fam={fam} laddr={addr} lport={port} }}"
    if family == 10:
        if slen < 28:
            return f"{{ saddr_fam={fam} sockaddr6 len too short }}"
        port = struct.unpack_from(">H", data, 2)[0]
        flow, scope = struct.unpack_from("<II", data, 4)[0], struct.unpack_from("<I", data, 24)[0]
        # Only the 20-bit flow label is meaningful (Python refuses wider values);
        # it does not change a numeric host anyway.
        flow &= _FLOW_LABEL_MASK
        addr = socket.inet_ntop(socket.AF_INET6, data[8:24])
        try:
            host, _ = socket.getnameinfo(
                (addr, port, flow, scope), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
            )
        except (OSError, OverflowError):
            return f"{{ saddr_fam={fam} (error resolving addr) }}"
        return f"{{ saddr_fam={fam} laddr={host} lport={port} }}"
    if family == 16:
        if slen < 12:
            return f"{{ saddr_fam={fam} len too short }}"
        nl_family, nl_pid = struct.unpack_from("<H2xI", data)
        return f"{{ saddr_fam={fam} nlnk-fam={nl_family} nlnk-pid={nl_pid} }}"
    return f"{{ saddr_fam={fam} (unsupported) }}"


def _socket_domain(value: str, ctx: Context) -> str:
    return _lookup(value, FAMILIES, "unknown-family(0x{value})")


def _socket_type(value: str, ctx: Context) -> str:
    return _lookup(value, SOCKET_TYPES, "unknown-type({value})", mask=0xFF, signed=False)


def _socket_proto(value: str, ctx: Context) -> str:
    try:
        number = as_uint32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    name = ctx.db.protocol_name(number)
    return name if name is not None else f"unknown-proto({value})"


def print_protocol(value: str, ctx: Context) -> str:
    try:
        number = as_int32(strtoul(value, 10))
    except ConversionError:
        return _conv_error(value)
    name = ctx.db.protocol_name(number) if number >= 0 else None
    return name if name is not None else "undefined protocol"


def _sockopt_level(value: str, ctx: Context) -> str:
    try:
        level = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    if level == 1:
        return "SOL_SOCKET"
    name = ctx.db.protocol_name(level) if level >= 0 else None
    if name is not None:
        return name
    name = _i2s(T.SOCKOPT_LEVELS).get(level)
    return name if name is not None else f"unknown-sockopt-level(0x{value})"


_SOCKOPT_NAMES = _i2s(T.SOCKOPT_NAMES)


def _sockopt_name(value: str, ctx: Context) -> str:
    try:
        opt = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    if ctx.machine in ("ppc64", "ppc64le", "ppc") and 16 <= opt <= 21:
        opt += 100
    name = _SOCKOPT_NAMES.get(opt)
    return name if name is not None else f"unknown-sockopt-name(0x{value})"


def _udp_opt(value: str, ctx: Context) -> str:
    try:
        opt = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    return {1: "UDP_CORK", 100: "UDP_ENCAP"}.get(opt, f"unknown-udpopt-name(0x{value})")


def _table_printer(
    table: tuple[tuple[int, str], ...], unknown: str, **kwargs: int | bool | None
) -> Printer:
    mapping = _i2s(table)

    def printer(value: str, ctx: Context) -> str:
        return _lookup(value, mapping, unknown, **kwargs)  # type: ignore[arg-type]

    return printer


_ip_opt = _table_printer(T.IP_OPTION_NAMES, "unknown-ipopt-name(0x{value})")
_ip6_opt = _table_printer(T.IP6_OPTION_NAMES, "unknown-ip6opt-name(0x{value})")
_tcp_opt = _table_printer(T.TCP_OPTION_NAMES, "unknown-tcpopt-name(0x{value})")
_pkt_opt = _table_printer(T.PACKET_OPTION_NAMES, "unknown-pktopt-name(0x{value})")


def _recv_flags(value: str, ctx: Context) -> str:
    return _flags(value, T.RECV_FLAGS)


# ---- flags -----------------------------------------------------------------------


def print_open_flags(value: str, ctx: Context) -> str:
    try:
        bits = as_uint32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    initial = ("O_RDONLY",) if bits & 0o3 == 0 else ()
    return _flags(value, T.OPEN_FLAGS, initial=initial)


def print_clone_flags(value: str, ctx: Context) -> str:
    try:
        bits = as_uint32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    names = [name for bit, name in T.CLONE_FLAGS if bit & bits]
    sig = bits & 0xFF
    if sig and sig < 32:
        signame = SIGNALS.get(sig)
        if signame is not None:
            names.append(signame)
    return "|".join(names) if names else f"0x{bits:x}"


def _prot(value: str, is_mmap: bool) -> str:
    try:
        bits = as_uint32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    if bits & 0x07 == 0:
        return "PROT_NONE"
    return _flags(value, T.PROT_FLAGS, limit=4 if is_mmap else 3)


def _prot_mmap(value: str, ctx: Context) -> str:
    return _prot(value, True)


def _prot_mprotect(value: str, ctx: Context) -> str:
    return _prot(value, False)


def print_mmap(value: str, ctx: Context) -> str:
    try:
        bits = as_uint32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    initial = ("MAP_FILE",) if bits & 0x0F == 0 else ()
    return _flags(value, T.MMAP_FLAGS, initial=initial)


def print_path_flags(value: str, ctx: Context) -> str:
    try:
        bits = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    if bits == 0:
        return "none"
    return _flags(value, T.PATH_FLAGS, sep=",")


def _access(value: str, ctx: Context) -> str:
    try:
        mode = strtoul(value, 16)
    except ConversionError:
        return _conv_error(value)
    if mode & 0xF == 0:
        return "F_OK"
    return _flags(value, T.ACCESS_MODES, limit=3)


def _mount(value: str, ctx: Context) -> str:
    return _flags(value, T.MOUNT_FLAGS)


def _umount(value: str, ctx: Context) -> str:
    return _flags(value, T.UMOUNT_FLAGS)


def print_resolve(value: str, ctx: Context) -> str:
    return _flags(value, T.OPENAT2_RESOLVE)


def _shm_flags(value: str, ctx: Context) -> str:
    try:
        bits = as_uint32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    names = [n for b, n in T.IPC_CMD_FLAGS if b & (bits & 0o3000)]
    names += [n for b, n in T.SHM_MODES if b & (bits & 0o14000)]
    names.append(_mode_short_text(bits & 0o777))
    return "|".join(names)


# ---- capabilities, signals, misc lookups ------------------------------------------------


def _capability(value: str, base: int) -> str:
    try:
        cap = as_int32(strtoul(value, base))
    except ConversionError:
        return _conv_error(value)
    name = CAPS.get(cap)
    if name is not None:
        return name
    return f"unknown-capability({'0x' if base == 16 else ''}{value})"


def print_capability(value: str, ctx: Context) -> str:
    return _capability(value, 10)


def _capability16(value: str, ctx: Context) -> str:
    return _capability(value, 16)


def print_cap_bitmap(value: str, ctx: Context) -> str:
    try:
        bits = strtoul(value, 16)
    except ConversionError:
        return _conv_error(value)
    names = []
    found = False
    for i in range(CAP_LAST_CAP + 1):
        if bits & (1 << i):
            found = True
            name = CAPS.get(i)
            if name is not None:
                names.append(name)
    return ",".join(names) if found else "none"


def _signal(value: str, base: int) -> str:
    try:
        sig = as_int32(strtoul(value, base))
    except ConversionError:
        return _conv_error(value)
    if 0 <= sig < 32:
        name = SIGNALS.get(sig)
        if name is not None:
            return name
    return f"unknown-signal({'0x' if base == 16 else ''}{value})"


def print_signal(value: str, ctx: Context) -> str:
    return _signal(value, 10)


def _signal16(value: str, ctx: Context) -> str:
    return _signal(value, 16)


def print_success(value: str, ctx: Context) -> str:
    if not value[:1].isdigit():
        return value
    try:
        res = as_int32(strtoul(value, 10))
    except ConversionError:
        return _conv_error(value)
    return {0: "no", 1: "yes"}.get(res, "unset")


def print_session(value: str, ctx: Context) -> str:
    return "unset" if value == "4294967295" else value


def print_promisc(value: str, ctx: Context) -> str:
    try:
        return "no" if as_int32(strtol(value, 10)) == 0 else "yes"
    except ConversionError:
        return _conv_error(value)


def print_list(value: str, ctx: Context) -> str:
    return _lookup(value, _LISTS, "unknown-list({value})", base=10)


def print_personality(value: str, ctx: Context) -> str:
    try:
        pers = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    name = _i2s(T.PERSONALITIES).get(pers & 0x00FF)
    if name is not None:
        return f"{name}|~ADDR_NO_RANDOMIZE" if pers & 0x0040000 else name
    return f"unknown-personality(0x{value})"


_seccomp_actions = _i2s(T.SECCOMP_ACTIONS)


def print_seccomp(value: str, ctx: Context) -> str:
    try:
        code = strtoul(value, 16)
    except ConversionError:
        return _conv_error(value)
    name = _seccomp_actions.get(code & 0x7FFF0000)
    return name if name is not None else f"unknown-seccomp-code({value})"


def print_fanotify(value: str, ctx: Context) -> str:
    if not value[:1].isdigit():
        return value
    try:
        res = as_int32(strtoul(value, 10))
    except ConversionError:
        return _conv_error(value)
    return {1: "allow", 2: "deny"}.get(res, "unknown")


def print_nlmcgrp(value: str, ctx: Context) -> str:
    try:
        group = strtoul(value, 16)
    except ConversionError:
        return _conv_error(value)
    return "audit-netlink-multicast" if group == 1 else "audit-none"


def print_macproto(value: str, ctx: Context) -> str:
    try:
        proto = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    return {0x0800: "IP", 0x0806: "ARP"}.get(proto, "UNKNOWN")


def _ioctl(value: str, ctx: Context) -> str:
    try:
        req = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    name = _i2s(T.IOCTL_REQUESTS).get(req)
    return name if name is not None else f"0x{as_uint32(req):x}"


def _dirfd(value: str, ctx: Context) -> str:
    try:
        fd = as_uint32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    return "AT_FDCWD" if fd == 0xFFFFFF9C else f"0x{value}"


def _exit_syscall(value: str, ctx: Context) -> str:
    return {"0": "EXIT_SUCCESS", "1": "EXIT_FAILURE"}.get(value, "UNKNOWN")


def _sched(value: str, ctx: Context) -> str:
    try:
        pol = as_uint32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    name = _i2s(T.SCHED_POLICIES).get(pol & 0x0F)
    if name is None:
        return f"unknown-scheduler-policy(0x{value})"
    return f"{name}|SCHED_RESET_ON_FORK" if pol & 0x40000000 else name


def _rlimit(value: str, ctx: Context) -> str:
    try:
        res = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    name = _i2s(T.RLIMITS).get(res) if res < 17 else None
    return name if name is not None else f"unknown-rlimit(0x{value})"


def _clock(value: str, ctx: Context) -> str:
    try:
        clk = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    name = _i2s(T.CLOCK_IDS).get(clk) if clk < 7 else None
    return name if name is not None else f"unknown-clk_id(0x{value})"


def _seek(value: str, ctx: Context) -> str:
    return _lookup(value, _i2s(T.SEEK_WHENCE), "unknown-whence({value})", mask=0xFF)


def _signed_lookup(value: str, table: dict[int, str], unknown: str) -> str:
    try:
        number = as_int32(strtol(value, 16))
    except ConversionError:
        return _conv_error(value)
    name = table.get(number)
    return name if name is not None else unknown.format(value=value)


def _socketcall(value: str, ctx: Context) -> str:
    return _signed_lookup(value, SOCKETCALLS, "unknown-socketcall({value})")


def _ipccall(value: str, ctx: Context) -> str:
    return _signed_lookup(value, IPC_CALLS, "unknown-ipccall({value})")


_ptrace = _table_printer(T.PTRACE_REQUESTS, "unknown-ptrace(0x{value})")
_prctl = _table_printer(T.PRCTL_OPTIONS, "unknown-prctl-option(0x{value})")
_fcntl = _table_printer(T.FCNTL_COMMANDS, "unknown-fcntl-command({number})")
_epoll = _table_printer(T.EPOLL_CTL_OPS, "unknown-epoll_ctl-operation({number})")
_bpf = _table_printer(T.BPF_COMMANDS, "unknown-bpf-cmd({value})", signed=False)
print_nfproto = _table_printer(T.NF_PROTOCOLS, "unknown-netfilter-protocol({value})", base=10)
print_icmptype = _table_printer(T.ICMP_TYPES, "unknown-icmp-type({value})", base=10)
print_hook = _table_printer(T.INET_HOOKS, "unknown-hook({value})")
print_netaction = _table_printer(T.NET_ACTIONS, "unknown-action({value})")


def _hex(value: str, ctx: Context) -> str:
    return f"0x{value}"


# ---- syscall arguments --------------------------------------------------------------

_PR_SET_PDEATHSIG, _PR_CAPBSET_READ, _PR_CAPBSET_DROP = 1, 23, 24
_F_SETFD, _F_SETOWN, _FD_CLOEXEC = 2, 8, 1
_O_CREAT = 0o100


def _a1_prctl(value: str, ctx: Context) -> str:
    if ctx.a0 in (_PR_CAPBSET_READ, _PR_CAPBSET_DROP):
        return _capability16(value, ctx)
    if ctx.a0 == _PR_SET_PDEATHSIG:
        return _signal16(value, ctx)
    return _hex(value, ctx)


def _a2_fcntl(value: str, ctx: Context) -> str:
    try:
        arg = as_int32(strtoul(value, 16))
    except ConversionError:
        return _conv_error(value)
    if ctx.a1 == _F_SETOWN:
        return _uid16(value, ctx)
    if ctx.a1 == _F_SETFD and arg == _FD_CLOEXEC:
        return "FD_CLOEXEC"
    return _hex(value, ctx)


def _a2_sockopt(value: str, ctx: Context) -> str:
    printer = {0: _ip_opt, 1: _sockopt_name, 6: _tcp_opt, 17: _udp_opt, 41: _ip6_opt}.get(
        ctx.a1, _pkt_opt if ctx.a1 == 263 else _hex
    )
    return printer(value, ctx)


def _a2_open(value: str, ctx: Context) -> str:
    return _mode_short16(value, ctx) if ctx.a1 & _O_CREAT else _hex(value, ctx)


_A0_BY_FIRST: dict[str, dict[str, Printer]] = {
    "r": {"rt_sigaction": _signal16, "readlinkat": _dirfd},
    "c": {"clock_settime": _clock},
    "p": {"personality": print_personality, "ptrace": _ptrace, "prctl": _prctl},
    "m": {"mkdirat": _dirfd, "mknodat": _dirfd},
    "f": {"fchownat": _dirfd, "futimesat": _dirfd, "fchmodat": _dirfd, "futimensat": _dirfd},
    "u": {"unshare": print_clone_flags, "unlinkat": _dirfd, "utimensat": _dirfd},
    "s": {
        "setuid": _uid16, "setreuid": _uid16, "setresuid": _uid16, "setfsuid": _uid16,
        "setgid": _gid16, "setregid": _gid16, "setresgid": _gid16, "socket": _socket_domain,
        "setfsgid": _gid16, "socketcall": _socketcall,
    },
}  # fmt: skip
_A0_OTHER: dict[str, Printer] = {
    "linkat": _dirfd, "newfstatat": _dirfd, "name_to_handle_at": _dirfd,
    "ipccall": _ipccall, "bpf": _bpf,
}  # fmt: skip


def _choose_a0(sys: str) -> Printer:
    # Mirrors libauparse's decision order: first letter, then the *etrlimit
    # special case (so setrlimit never reaches the "s" table), then the rest.
    first = sys[0]
    if first in "rcpmfu":
        if (first == "r" and sys.startswith("renameat")) or (
            first == "f" and sys.startswith("faccessat")
        ):
            return _dirfd
        return _A0_BY_FIRST[first].get(sys, _hex)
    if sys[1:] == "etrlimit":
        return _rlimit
    if first == "s":
        return _A0_BY_FIRST["s"].get(sys, _hex)
    if sys.startswith("openat"):
        return _dirfd
    if sys.startswith("exit"):
        return _exit_syscall
    return _A0_OTHER.get(sys, _hex)


_A1_EXACT: dict[str, Printer] = {
    "fchmod": _mode_short16, "chmod": _mode_short16, "creat": _mode_short16,
    "setreuid": _uid16, "setresuid": _uid16, "setregid": _gid16, "setresgid": _gid16,
    "socket": _socket_type, "setns": print_clone_flags, "sched_setscheduler": _sched,
    "mkdir": _mode_short16, "mknod": _mode16, "mq_open": print_open_flags,
    "open": print_open_flags, "access": _access, "epoll_ctl": _epoll, "kill": _signal16,
    "prctl": _a1_prctl, "tkill": _signal16, "umount2": _umount, "ioctl": _ioctl,
}  # fmt: skip


def _choose_a1(sys: str) -> Printer:
    first = sys[0]
    if first == "f":
        if sys == "fchmod":
            return _mode_short16
        if sys.startswith("fcntl"):
            return _fcntl
    elif first == "c":
        if sys in ("chmod", "creat"):
            return _mode_short16
        if "chown" in sys:
            return _uid16
    if sys[1:] == "etsockopt":
        return _sockopt_level
    if first == "s":
        return _A1_EXACT.get(sys, _hex) if sys in (
            "setreuid", "setresuid", "setregid", "setresgid", "socket", "setns",
            "sched_setscheduler",
        ) else _hex  # fmt: skip
    if first == "m":
        return _A1_EXACT.get(sys, _hex) if sys in ("mkdir", "mknod", "mq_open") else _hex
    if sys in ("open", "access", "epoll_ctl", "kill", "prctl", "tkill", "umount2", "ioctl"):
        return _A1_EXACT[sys]
    return _hex


def _choose_a2(sys: str) -> Printer:
    first = sys[0]
    if sys.startswith("fcntl"):
        return _a2_fcntl
    if sys[1:] == "etsockopt":
        return _a2_sockopt
    table: dict[str, Printer] = {}
    if first == "o":
        table = {"openat": print_open_flags, "open": _a2_open,
                 "open_by_handle_at": print_open_flags}  # fmt: skip
    elif first == "f":
        if sys.startswith("faccessat"):
            return _access
        table = {"fchmodat": _mode_short16}
    elif first == "s":
        table = {"setresuid": _uid16, "setresgid": _gid16, "socket": _socket_proto,
                 "sendmsg": _recv_flags, "shmget": _shm_flags}  # fmt: skip
    elif first == "m":
        table = {"mmap": _prot_mmap, "mkdirat": _mode_short16, "mknodat": _mode_short16,
                 "mprotect": _prot_mprotect, "mq_open": _a2_open}  # fmt: skip
    elif first == "r":
        if sys.startswith("renameat"):
            return _dirfd
        table = {"recvmsg": _recv_flags, "readlinkat": _dirfd}
    elif first == "l":
        table = {"linkat": _dirfd, "lseek": _seek}
    elif first == "c":
        table = {"clone": print_clone_flags, "clone2": print_clone_flags}
    elif "chown" in sys:
        return _gid16
    elif sys == "tgkill":
        return _signal16
    return table.get(sys, _hex)


def _choose_a3(sys: str) -> Printer:
    table: dict[str, Printer] = {
        "mmap": print_mmap, "mount": _mount, "recv": _recv_flags, "recvfrom": _recv_flags,
        "recvmmsg": _recv_flags, "send": _recv_flags, "sendto": _recv_flags,
        "sendmmsg": _recv_flags,
    }  # fmt: skip
    return table.get(sys, _hex)


_CHOOSERS = (_choose_a0, _choose_a1, _choose_a2, _choose_a3)


@cache
def _arg_printer(index: int, sys: str) -> Printer:
    return _CHOOSERS[index](sys) if sys else _hex


#: The printer of argument *index* (0-3) of a syscall ("" when unknown), memoised.
argument_printer = _arg_printer
#: The generic argument printer, ``0x`` + the value (the compiled core knows it).
print_hex_argument = _hex
#: The syscall name the argument printers choose by (None: no machine).
syscall_name_of = _syscall_name


#: Argument printers that read the call's a0/a1 besides their own value: their
#: output cannot be memoised per (value, printer).
ARGUMENT_DEPENDENT: frozenset[Printer] = frozenset({_a1_prctl, _a2_fcntl, _a2_sockopt, _a2_open})


def _arg(index: int) -> Printer:
    def printer(value: str, ctx: Context) -> str:
        sys = _syscall_name(ctx)
        return _arg_printer(index, sys or "")(value, ctx)

    return printer


def _unclassified(value: str, ctx: Context) -> str:
    return value


class Memo(enum.Enum):
    """What a printer's output depends on: whether, and under what, it may be memoised.

    The interpreter memoises what it may (``Interpreter.fields_json`` and
    ``interpret_items``), reading this from :data:`PRINTERS` -- nowhere else says
    which printers are pure.
    """

    #: No printer: the value as logged (control characters escaped). Memoised per value.
    VERBATIM = "verbatim"
    #: The value alone (and the interpreter's database). Memoised per value.
    VALUE = "value"
    #: The value and the call it belongs to (machine, syscall number; some argument
    #: printers and socketcall/ipc also read a0/a1, see ARGUMENT_DEPENDENT). Memoised
    #: per call, where the call decides it.
    CALL = "call"
    #: Other fields of the record. Never memoised.
    RECORD = "record"


class FieldPrinter(NamedTuple):
    """One row of :data:`PRINTERS`: the printer of a field class and what it reads."""

    print: Printer
    memo: Memo


#: Printer per libauparse field class (AUPARSE_TYPE_* without the prefix), with
#: what its output depends on (which decides whether it may be memoised).
PRINTERS: dict[str, FieldPrinter] = {
    "UID": FieldPrinter(lambda v, c: _print_uid(v, c), Memo.VALUE),
    "GID": FieldPrinter(lambda v, c: _print_gid(v, c), Memo.VALUE),
    "SYSCALL": FieldPrinter(print_syscall, Memo.CALL),
    "ARCH": FieldPrinter(print_arch, Memo.VALUE),
    "EXIT": FieldPrinter(print_exit, Memo.VALUE),
    "ESCAPED": FieldPrinter(_print_escaped, Memo.VALUE),
    "ESCAPED_FILE": FieldPrinter(_print_escaped, Memo.VALUE),
    "ESCAPED_KEY": FieldPrinter(_print_escaped, Memo.VALUE),
    "PERM": FieldPrinter(print_perm, Memo.VALUE),
    "MODE": FieldPrinter(print_mode, Memo.VALUE),
    "MODE_SHORT": FieldPrinter(print_mode_short, Memo.VALUE),
    "SOCKADDR": FieldPrinter(print_sockaddr, Memo.VALUE),
    "FLAGS": FieldPrinter(print_path_flags, Memo.VALUE),
    "PROMISC": FieldPrinter(print_promisc, Memo.VALUE),
    "CAPABILITY": FieldPrinter(print_capability, Memo.VALUE),
    "SUCCESS": FieldPrinter(print_success, Memo.VALUE),
    "A0": FieldPrinter(_arg(0), Memo.CALL),
    "A1": FieldPrinter(_arg(1), Memo.CALL),
    "A2": FieldPrinter(_arg(2), Memo.CALL),
    "A3": FieldPrinter(_arg(3), Memo.CALL),
    "SIGNAL": FieldPrinter(print_signal, Memo.VALUE),
    "LIST": FieldPrinter(print_list, Memo.VALUE),
    "TTY_DATA": FieldPrinter(print_tty_data, Memo.VALUE),
    "SESSION": FieldPrinter(print_session, Memo.VALUE),
    "CAP_BITMAP": FieldPrinter(print_cap_bitmap, Memo.VALUE),
    "NFPROTO": FieldPrinter(print_nfproto, Memo.VALUE),
    "ICMPTYPE": FieldPrinter(print_icmptype, Memo.VALUE),
    "PROTOCOL": FieldPrinter(print_protocol, Memo.VALUE),
    "ADDR": FieldPrinter(_unclassified, Memo.VERBATIM),
    "PERSONALITY": FieldPrinter(print_personality, Memo.VALUE),
    "SECCOMP": FieldPrinter(print_seccomp, Memo.VALUE),
    "OFLAG": FieldPrinter(print_open_flags, Memo.VALUE),
    "MMAP": FieldPrinter(print_mmap, Memo.VALUE),
    "PROCTITLE": FieldPrinter(print_proctitle, Memo.VALUE),
    "HOOK": FieldPrinter(print_hook, Memo.VALUE),
    "NETACTION": FieldPrinter(print_netaction, Memo.VALUE),
    "MACPROTO": FieldPrinter(print_macproto, Memo.VALUE),
    "IOCTL_REQ": FieldPrinter(_ioctl, Memo.VALUE),
    "FANOTIFY": FieldPrinter(print_fanotify, Memo.VALUE),
    "NLMCGRP": FieldPrinter(print_nlmcgrp, Memo.VALUE),
    "RESOLVE": FieldPrinter(print_resolve, Memo.VALUE),
    "MAC_LABEL": FieldPrinter(_unclassified, Memo.VERBATIM),
    "UNCLASSIFIED": FieldPrinter(_unclassified, Memo.VERBATIM),
}
