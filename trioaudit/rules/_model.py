"""The rule value objects, :class:`RuleField` and :class:`AuditRule`, and their wire form.

An :class:`AuditRule` is a faithful image of the kernel's ``struct
audit_rule_data``: the ``flags`` word (list number, plus the prepend bit for
``-A``), the action, the 64-word syscall bitmap and the ordered fields. Field
order matters -- the kernel keeps it, ``auditctl -l`` prints in it, and the
kernel matches rules for deletion byte for byte -- so fields are a tuple, not a
mapping. String fields (paths, keys, labels) carry their text; their ``value``
is the byte length, as on the wire, and is derived so it can never disagree.

Being that image, the rule converts to and from the wire itself, as
:class:`~trioaudit.AuditStatus` does: :meth:`AuditRule.to_bytes` and
:meth:`AuditRule.from_bytes`. Layout (``include/uapi/linux/audit.h``), native
endianness, no padding::

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

The text forms live above this module, which imports neither: auditctl syntax
is parsed by :func:`trioaudit.rules.parse_rule` (``_parser``) and rendered as
``auditctl -l`` prints it by :func:`trioaudit.rules.render_rule` (``_render``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from trioaudit._errors import AuditProtocolError
from trioaudit.rules import _constants as C

__all__ = ["RULE_HEADER", "AuditRule", "RuleField", "encode_string"]

_N = C.MAX_FIELDS
#: The fixed part of ``struct audit_rule_data`` (1040 bytes).
RULE_HEADER = struct.Struct(f"=3I{C.BITMASK_WORDS}I{_N}I{_N}I{_N}II")


def encode_string(text: str) -> bytes:
    """Encode a string field the way it travels: UTF-8, undecodable bytes preserved."""
    return text.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class RuleField:
    """One ``-F``/``-C``/key/path slot of a rule.

    Attributes:
        field: The ``AUDIT_*`` field number (``C.F_UID``...).
        op: The operator bits (``C.OP_EQUAL``...), as in ``fieldflags``.
        value: The u32 stored in ``values[]``. For string fields it is the length of
            :attr:`string` in bytes and is computed for you.
        string: The text of a string field (path, key, exe, SELinux label), else None.
    """

    field: int
    op: int
    value: int = 0
    string: str | None = None

    def __post_init__(self) -> None:
        if self.string is not None:
            object.__setattr__(self, "value", len(encode_string(self.string)))
        if not 0 <= self.value <= C.U32_MAX:
            raise ValueError(f"field value {self.value} does not fit in 32 bits")

    @property
    def name(self) -> str | None:
        """The auditctl name of the field (``"auid"``), or None if unknown."""
        return C.FIELD_NAMES.get(self.field)

    @property
    def signed_value(self) -> int:
        """:attr:`value` read as the C ``int`` auditctl prints (``-1`` for ``unset``)."""
        return self.value - (1 << 32) if self.value & 0x80000000 else self.value


def _all_syscalls_mask() -> tuple[int, ...]:
    return (C.U32_MAX,) * C.BITMASK_WORDS


@dataclass(frozen=True, slots=True)
class AuditRule:
    """A kernel audit rule, as sent with ``AUDIT_ADD_RULE`` and listed by ``AUDIT_LIST_RULES``.

    Attributes:
        flags: List number (``C.FILTER_EXIT``...) OR-ed with ``C.FILTER_PREPEND`` for ``-A``.
            The kernel never reports the prepend bit back: listed rules have it clear.
        action: ``C.ACTION_ALWAYS`` or ``C.ACTION_NEVER``.
        mask: The 64 u32 words of the syscall bitmap (bit ``n % 32`` of word ``n // 32``).
        fields: The fields, in order.
    """

    flags: int
    action: int
    mask: tuple[int, ...] = field(default_factory=_all_syscalls_mask)
    fields: tuple[RuleField, ...] = ()

    def __post_init__(self) -> None:
        if len(self.mask) != C.BITMASK_WORDS:
            raise ValueError(f"mask must have {C.BITMASK_WORDS} words, not {len(self.mask)}")
        if len(self.fields) > C.MAX_FIELDS:
            raise ValueError(f"a rule holds at most {C.MAX_FIELDS} fields")

    # ---- views -------------------------------------------------------------------------
    @property
    def filter_list(self) -> int:
        """The list number (``flags`` without the prepend bit)."""
        return self.flags & ~C.FILTER_PREPEND

    @property
    def list_name(self) -> str | None:
        """``"exit"``, ``"user"``... or None for a list number libaudit does not name."""
        return C.LIST_NAMES.get(self.filter_list)

    @property
    def action_name(self) -> str | None:
        """``"always"``/``"never"`` or None."""
        return C.ACTION_NAMES.get(self.action)

    @property
    def prepend(self) -> bool:
        """True for a rule added with ``-A`` (insert at the head of its list)."""
        return bool(self.flags & C.FILTER_PREPEND)

    @property
    def all_syscalls(self) -> bool:
        """True when the bitmap is ``-S all`` (as ``auditctl -l`` decides: first 63 words)."""
        return all(word == C.U32_MAX for word in self.mask[: C.BITMASK_WORDS - 1])

    @property
    def syscalls(self) -> frozenset[int]:
        """The syscall numbers whose bit is set."""
        return frozenset(
            index * 32 + bit
            for index, word in enumerate(self.mask)
            if word
            for bit in range(32)
            if word >> bit & 1
        )

    @property
    def keys(self) -> tuple[str, ...]:
        """The rule's keys (``-k``), split at the separator byte."""
        out: list[str] = []
        for f in self.fields:
            if f.field == C.F_FILTERKEY and f.string is not None:
                out.extend(k for k in f.string.split(C.KEY_SEPARATOR) if k)
        return tuple(out)

    def matches_key(self, key: str) -> bool:
        """True when *key* selects this rule for ``auditctl -l -k KEY`` / ``-D -k KEY``.

        auditctl's ``key_match()``: ``strstr`` of KEY in the rule's whole key
        field as the kernel stores it -- several keys joined by
        :data:`~trioaudit.rules._constants.KEY_SEPARATOR`, read as a C string --
        not a match against each key alone. So ``"ab"`` selects a rule keyed
        ``"xaby"``, ``"a\\x01b"`` one keyed ``a`` and ``b``, and ``""`` every rule
        with a key field. A rule without one never matches.
        """
        return any(
            key in (f.string or "").partition("\0")[0]
            for f in self.fields
            if f.field == C.F_FILTERKEY
        )

    @property
    def arch(self) -> int | None:
        """The value of the ``arch`` field, or None."""
        for f in self.fields:
            if f.field == C.F_ARCH:
                return f.value
        return None

    def without_prepend(self) -> AuditRule:
        """This rule without the prepend bit (``-A`` turned into ``-a``)."""
        return AuditRule(self.filter_list, self.action, self.mask, self.fields)

    def as_listed(self) -> AuditRule:
        """This rule as ``AUDIT_LIST_RULES`` will report it after ``AUDIT_ADD_RULE``.

        The kernel keeps neither the prepend bit nor the top
        :data:`~trioaudit.rules._constants.SYSCALL_CLASS_BITS` bits of the bitmap:
        those are *syscall class* requests that it expands into the class's
        syscalls (``audit_to_entry_common``) and then clears. For ``-S all`` the
        expansion adds nothing, so clearing them is exact; a rule that names one of
        syscall numbers 2032..2047 explicitly would also get the class's syscalls,
        which are arch tables we do not model.
        """
        mask = list(self.mask)
        mask[-1] &= ~C.SYSCALL_CLASS_MASK & C.U32_MAX
        return AuditRule(self.filter_list, self.action, tuple(mask), self.fields)

    # ---- wire form ---------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Encode as ``struct audit_rule_data`` (native endianness) followed by ``buf``.

        This is the payload of ``AUDIT_ADD_RULE`` and ``AUDIT_DEL_RULE``.
        """
        fields = [0] * _N
        values = [0] * _N
        ops = [0] * _N
        buf = bytearray()
        for i, f in enumerate(self.fields):
            fields[i] = f.field
            values[i] = f.value
            ops[i] = f.op
            if f.string is not None:
                buf += encode_string(f.string)
        head = RULE_HEADER.pack(
            self.flags,
            self.action,
            len(self.fields),
            *self.mask,
            *fields,
            *values,
            *ops,
            len(buf),
        )
        return head + bytes(buf)

    @classmethod
    def from_bytes(cls, data: bytes) -> AuditRule:
        """Decode a ``struct audit_rule_data`` blob (an ``AUDIT_LIST_RULES`` reply payload).

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
        return cls(flags, action, mask, tuple(out))
