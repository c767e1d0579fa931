"""Render rules exactly as ``auditctl -l`` (audit-userspace 3.0.9) prints them.

Theory of operation: auditctl's printer has a few rules worth knowing because
they are observable, and we reproduce them on purpose:

* A rule is shown as a *watch* (``-w PATH -p PERMS -k KEY``) when its only
  fields are path/dir/perm/key, it has a perm field, and its syscall bitmap is
  ``all`` (or it sits on a list without syscalls).
* Otherwise ``-a ACTION,LIST`` comes first, then the arch field (``b64``/``b32``
  when the arch is known, else hex), then ``-S`` (names for the rule's arch, or
  the machine's when there is no arch field), then the other fields in order.
* Numbers are printed as the C ``int`` they are (``uid=-1`` for unset), except
  ``inode`` (unsigned) and ``a0``..``a3`` (``0x%X``); ``exit`` prints a negative
  errno by name (``-EACCES``); msgtype and fstype print by name when known;
  several keys come out as several ``-F key=`` (or ``-k``) options.
* ``exe`` always prints with ``=`` even for ``!=`` (an auditctl 3.0.9 bug
  we reproduce, in :func:`render_rule` as in :func:`render_rules`).
* Fields libaudit cannot name come out as ``fN=V`` (no ``-F``), unknown
  operators as ``(null)`` -- that is what C's printf does with NULL.
* ``auditctl -l`` remembers the arch of the previous rule when the next one has
  none (a global it never resets between rules); :func:`render_rules` reproduces
  that, while :func:`render_rule` renders a rule on its own.

One addition: a rule carrying the prepend bit (only ever ours, the kernel never
lists it) renders as ``-A`` so that ``parse_rule(render_rule(rule)) == rule``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from trioaudit._tables import msgtype_names as _msgtypes
from trioaudit._tables import rulewords as _words
from trioaudit._tables import syscalls as _syscalls
from trioaudit.rules import _constants as C
from trioaudit.rules._model import AuditRule, RuleField

__all__ = ["field_text", "render_rule", "render_rules"]

_NULL = "(null)"
_WATCH_FIELDS = frozenset({C.F_PERM, C.F_FILTERKEY, C.F_DIR, C.F_WATCH})
_NO_SYSCALL_LISTS = frozenset({C.FILTER_USER, C.FILTER_TASK, C.FILTER_EXCLUDE, C.FILTER_FS})


def _sym(op: int) -> str:
    return C.OPERATOR_SYMBOLS.get(op & C.OPERATORS, _NULL)


def _int(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def is_watch(rule: AuditRule) -> bool:
    """auditctl's notion of a watch rule (see the module docstring)."""
    perm = False
    for f in rule.fields:
        field = f.field & ~C.OPERATORS
        if field == C.F_PERM:
            perm = True
        if field not in _WATCH_FIELDS:
            return False
    if (rule.flags & C.FILTER_MASK) in _NO_SYSCALL_LISTS:
        return perm
    return perm and rule.all_syscalls


def _arch_text(value: int, op: int) -> str:
    if value not in _syscalls.ARCH_BY_AUDIT_ARCH:
        return f" -F arch{_sym(op)}0x{value:X}"
    bits = "b64" if value & _syscalls.AUDIT_ARCH_64BIT else "b32"
    return f" -F arch{_sym(op)}{bits}"


def _syscall_text(rule: AuditRule, machine: str | None) -> str:
    if (rule.flags & C.FILTER_MASK) in _NO_SYSCALL_LISTS:
        return ""
    if rule.all_syscalls:
        return " -S all"
    names: list[str] = []
    for number in sorted(rule.syscalls):
        name = _syscalls.syscall_name(machine, number) if machine else None
        names.append(name if name is not None else str(number))
    return f" -S {','.join(names)}" if names else ""


def field_text(f: RuleField, *, watch: bool = False) -> str:
    """One field as ``auditctl -l`` prints it (with its leading space), e.g. `` -F auid>=1000``."""
    if f.field & ~C.OPERATORS == C.F_ARCH:
        return _arch_text(f.value, f.op)
    return _field_text(f, watch)


def _field_text(f: RuleField, watch: bool) -> str:
    field = f.field & ~C.OPERATORS
    op = _sym(f.op)
    name = C.FIELD_NAMES.get(field)
    if name is None or field == C.F_LOGINUID_SET:  # libaudit has no name for it
        return f" f{_int(f.field)}{op}{_int(f.value)}"
    text = f.string if f.string is not None else ""
    if field == C.F_MSGTYPE:
        msg = _msgtypes.MSGTYPE_NAMES.get(f.value)
        return f" -F {name}{op}{msg if msg else _int(f.value)}"
    if field == C.F_WATCH:
        return f"-w {text}" if watch else f" -F path={text}"
    if field == C.F_DIR:
        return f"-w {text}" if watch else f" -F dir={text}"
    if field == C.F_EXE:  # auditctl prints "=" whatever the operator (sic)
        return f" -F exe={text}"
    if field in C.STRING_FIELDS and field != C.F_FILTERKEY:
        return f" -F {name}{op}{text}"
    if field == C.F_FILTERKEY:
        option = " -k " if watch else " -F key="
        return "".join(option + k for k in text.split(C.KEY_SEPARATOR) if k)
    if field == C.F_PERM:
        perms = "".join(letter for letter, bit in C.PERM_LETTERS if f.value & bit)
        return f" -p {perms}" if watch else f" -F perm={perms}"
    if field == C.F_INODE:
        return f" -F {name}{op}{f.value}"
    if field == C.F_FIELD_COMPARE:
        pair = C.COMPARISONS.get(f.value)
        return f" -C {pair[0]}{op}{pair[1]}" if pair else ""
    if field in C.ARG_FIELDS:
        return f" -F {name}{op}0x{f.value:X}"
    if field == C.F_EXIT:
        value = _int(f.value)
        err = _syscalls.errno_name(value)
        if value < 0 and err:
            return f" -F {name}{op}-{err}"
        return f" -F {name}{op}{value}"
    if field == C.F_FSTYPE:
        fs = _words.FSTYPE_NAMES.get(f.value)
        return f" -F {name}{op}{fs if fs else _int(f.value)}"
    return f" -F {name}{op}{_int(f.value)}"


def render_rule(
    rule: AuditRule, *, machine: str | None = None, carried_arch: int | None = None
) -> str:
    """One rule as one ``auditctl -l`` line (without the newline).

    Args:
        rule: The rule.
        machine: Machine whose syscall table names ``-S`` when the rule has no arch
            field; defaults to this host's (``uname -m``), as auditctl does.
        carried_arch: Arch inherited from a previous rule (see :func:`render_rules`).
    """
    if machine is None:
        machine = os.uname().machine
    watch = is_watch(rule)
    parts: list[str] = []
    if not watch:
        action = C.ACTION_NAMES.get(rule.action, _NULL)
        lst = C.LIST_NAMES.get(rule.flags & ~C.FILTER_PREPEND, _NULL)
        parts.append(f"{'-A' if rule.prepend else '-a'} {action},{lst}")
        arch = carried_arch
        for f in rule.fields:
            if f.field & ~C.OPERATORS == C.F_ARCH:
                parts.append(_arch_text(f.value, f.op))
                arch = f.value
        if arch is not None:
            machine = _syscalls.ARCH_BY_AUDIT_ARCH.get(arch)
        if rule.flags & C.FILTER_MASK == C.FILTER_URING_EXIT:
            machine = "io_uring"  # the io_uring list filters io_uring operations
        parts.append(_syscall_text(rule, machine))
    for f in rule.fields:
        if f.field & ~C.OPERATORS == C.F_ARCH:
            continue
        parts.append(_field_text(f, watch))
    return "".join(parts)


def render_rules(rules: Iterable[AuditRule], *, machine: str | None = None) -> str:
    """All rules as ``auditctl -l`` prints them, including its arch carry-over quirk.

    Returns ``"No rules\\n"`` for an empty list, like auditctl.
    """
    lines: list[str] = []
    carried: int | None = None
    for rule in rules:
        lines.append(render_rule(rule, machine=machine, carried_arch=carried))
        if not is_watch(rule):
            arch = rule.arch
            if arch is not None:
                carried = arch
    return "".join(line + "\n" for line in lines) if lines else "No rules\n"
