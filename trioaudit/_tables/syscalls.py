"""Syscall, errno and machine lookups shared by the rules and interpretation layers.

Theory of operation: the data lives in :mod:`trioaudit._tables`, generated from
audit-userspace's headers by ``scripts/gen_tables.py`` and committed as plain
literals. The small tables (machines, errnos) are imported eagerly; each
per-architecture syscall table (~15-20 kB of source) is imported on first use
with :func:`importlib.import_module` and cached, so ``import trioaudit`` never
pays for nine syscall tables it may not need.

Machine names are the ``uname -m`` spellings libaudit knows (``x86_64``,
``i686``, ``armv7l``, ``ppc64le``, ...); every alias maps to one syscall table
(``ppc64``/``ppc64le``/``ppc`` share one, as in libaudit). Audit arch numbers
(``AUDIT_ARCH_*``, the ``arch=`` field of SYSCALL records) map back to the name
ausearch prints, which is the *first* alias of that machine in libaudit's table
(so ``AUDIT_ARCH_ARM`` prints as ``armeb``, exactly like ausearch).

Pure: no I/O beyond importing our own modules, no trio.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

from trioaudit._tables import errnos as _errnos
from trioaudit._tables import machines as _machines

__all__ = [
    "ARCH_BY_AUDIT_ARCH",
    "AUDIT_ARCH_64BIT",
    "AUDIT_ARCH_LE",
    "MACHINE_NAMES",
    "audit_arch_for_machine",
    "errno_name",
    "errno_number",
    "syscall_name",
    "syscall_number",
    "syscall_table_for_machine",
]

#: ``__AUDIT_ARCH_64BIT`` / ``__AUDIT_ARCH_LE`` bits of an ``AUDIT_ARCH_*`` value.
AUDIT_ARCH_64BIT = 0x80000000
AUDIT_ARCH_LE = 0x40000000

#: Audit arch number -> machine name as ausearch prints it.
ARCH_BY_AUDIT_ARCH: dict[int, str] = dict(_machines.ARCH_BY_AUDIT_ARCH)

#: Every machine name (alias) libaudit accepts, in libaudit's table order.
MACHINE_NAMES: tuple[str, ...] = tuple(_machines.AUDIT_ARCH_BY_MACHINE)

# Pseudo-machine for io_uring operation names (the io_uring filter list).
_URING = "io_uring"


def audit_arch_for_machine(name: str) -> int | None:
    """Return the ``AUDIT_ARCH_*`` number of a machine name or alias, or None."""
    return _machines.AUDIT_ARCH_BY_MACHINE.get(name)


def syscall_table_for_machine(name: str) -> str | None:
    """Return the syscall table suffix (``"ppc"`` for ``ppc64le``) or None if unknown."""
    if name == _URING:
        return _URING
    return _machines.SYSCALL_TABLE_BY_MACHINE.get(name)


@functools.cache
def _table(table: str) -> ModuleType:
    if table == _URING:
        return importlib.import_module("trioaudit._tables.uringops")
    return importlib.import_module(f"trioaudit._tables.syscalls_{table}")


def syscall_name(machine: str, number: int) -> str | None:
    """Name of syscall ``number`` on ``machine`` (any alias), or None if unknown.

    ``machine`` may also be ``"io_uring"`` for io_uring operation names.
    """
    table = syscall_table_for_machine(machine)
    if table is None:
        return None
    module = _table(table)
    names: dict[int, str] = module.URINGOP_NAMES if table == _URING else module.SYSCALL_NAMES
    return names.get(number)


def syscall_number(machine: str, name: str) -> int | None:
    """Number of syscall ``name`` on ``machine`` (any alias), or None if unknown."""
    table = syscall_table_for_machine(machine)
    if table is None:
        return None
    module = _table(table)
    numbers: dict[str, int] = module.URINGOP_NUMBERS if table == _URING else module.SYSCALL_NUMBERS
    return numbers.get(name)


def errno_name(number: int) -> str | None:
    """Linux errno name for ``number`` (sign ignored, like libaudit), None for 0/unknown."""
    return _errnos.ERRNO_NAMES.get(abs(number))


def errno_number(name: str) -> int | None:
    """Positive errno number for a name such as ``"EPERM"``, or None if unknown."""
    return _errnos.ERRNO_NUMBERS.get(name)
