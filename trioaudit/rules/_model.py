"""The rule value objects: :class:`RuleField` and :class:`AuditRule`.

An :class:`AuditRule` is a faithful image of the kernel's ``struct
audit_rule_data``: the ``flags`` word (list number, plus the prepend bit for
``-A``), the action, the 64-word syscall bitmap and the ordered fields. Field
order matters -- the kernel keeps it, ``auditctl -l`` prints in it, and the
kernel matches rules for deletion byte for byte -- so fields are a tuple, not a
mapping. String fields (paths, keys, labels) carry their text; their ``value``
is the byte length, as on the wire, and is derived so it can never disagree.

Conversions live in sibling modules and are reached through methods here:
:meth:`AuditRule.to_bytes`/:meth:`AuditRule.from_bytes` (``_codec``) and
``str(rule)`` (``_render``). Parsing text is :func:`trioaudit.rules.parse_rule`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trioaudit.rules import _constants as C

__all__ = ["AuditRule", "RuleField", "encode_string"]


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

    # ---- conversions -------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Encode as ``struct audit_rule_data`` (native endianness) followed by ``buf``."""
        from trioaudit.rules._codec import encode_rule

        return encode_rule(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> AuditRule:
        """Decode a ``struct audit_rule_data`` blob (an ``AUDIT_LIST_RULES`` reply payload).

        Raises:
            AuditProtocolError: The blob is truncated or inconsistent.
        """
        from trioaudit.rules._codec import decode_rule

        return decode_rule(data)

    def render(self, *, machine: str | None = None, carried_arch: int | None = None) -> str:
        """Render as ``auditctl -l`` would; see :func:`trioaudit.rules.render_rule`."""
        from trioaudit.rules._render import render_rule

        return render_rule(self, machine=machine, carried_arch=carried_arch)

    def __str__(self) -> str:
        return self.render()
