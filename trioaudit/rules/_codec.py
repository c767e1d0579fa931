"""``struct audit_rule_data`` <-> :class:`AuditRule`.

Wire layout (``include/uapi/linux/audit.h``), native endianness, no padding::

    u32 flags, action, field_count
    u32 mask[64]            syscall bitmap
    u32 fields[64]          field numbers
    u32 values[64]          values (string fields: byte length)
    u32 fieldflags[64]      operators
    u32 buflen
    char buf[buflen]        string values, concatenated in field order, no NULs

Unused slots are zero. Decoding is strict: a blob whose string lengths overrun
``buf`` or whose ``field_count`` exceeds 64 is an :class:`AuditProtocolError`,
never a silently short rule.
"""

from __future__ import annotations

import struct

from trioaudit._errors import AuditProtocolError
from trioaudit.rules import _constants as C
from trioaudit.rules._model import AuditRule, RuleField, encode_string

__all__ = ["RULE_HEADER", "decode_rule", "encode_rule"]

_N = C.MAX_FIELDS
#: The fixed part of ``struct audit_rule_data`` (1040 bytes).
RULE_HEADER = struct.Struct(f"=3I{C.BITMASK_WORDS}I{_N}I{_N}I{_N}II")


def encode_rule(rule: AuditRule) -> bytes:
    """Pack ``rule`` for ``AUDIT_ADD_RULE``/``AUDIT_DEL_RULE``."""
    fields = [0] * _N
    values = [0] * _N
    flags = [0] * _N
    buf = bytearray()
    for i, f in enumerate(rule.fields):
        fields[i] = f.field
        values[i] = f.value
        flags[i] = f.op
        if f.string is not None:
            buf += encode_string(f.string)
    head = RULE_HEADER.pack(
        rule.flags,
        rule.action,
        len(rule.fields),
        *rule.mask,
        *fields,
        *values,
        *flags,
        len(buf),
    )
    return head + bytes(buf)


def decode_rule(data: bytes) -> AuditRule:
    """Unpack one rule blob.

    Raises:
        AuditProtocolError: Truncated blob, impossible field count, or string overrun.
    """
    if len(data) < RULE_HEADER.size:
        raise AuditProtocolError(
            f"audit_rule_data needs {RULE_HEADER.size} bytes, got {len(data)}", data[:64]
        )
    words = RULE_HEADER.unpack_from(data)
    flags, action, count = words[0:3]
    base = 3
    mask = tuple(words[base : base + C.BITMASK_WORDS])
    base += C.BITMASK_WORDS
    fields = words[base : base + _N]
    values = words[base + _N : base + 2 * _N]
    ops = words[base + 2 * _N : base + 3 * _N]
    buflen = words[-1]
    if count > _N:
        raise AuditProtocolError(f"audit_rule_data field_count {count} > {_N}", data[:64])
    buf = data[RULE_HEADER.size :]
    if len(buf) < buflen:
        raise AuditProtocolError(
            f"audit_rule_data buflen {buflen} but only {len(buf)} bytes follow", data[:64]
        )
    offset = 0
    out: list[RuleField] = []
    for i in range(count):
        if fields[i] in C.STRING_FIELDS:
            end = offset + values[i]
            if end > buflen:
                raise AuditProtocolError(
                    f"string field {fields[i]} overruns buf ({end} > {buflen})", data[:64]
                )
            text = buf[offset:end].decode("utf-8", "surrogateescape")
            offset = end
            out.append(RuleField(fields[i], ops[i], string=text))
        else:
            out.append(RuleField(fields[i], ops[i], values[i]))
    return AuditRule(flags, action, mask, tuple(out))
