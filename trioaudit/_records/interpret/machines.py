"""Machines, syscall names and errno names, as libauparse prints them.

The data is the generated tables' (:mod:`trioaudit._tables.machines`,
:mod:`trioaudit._tables.syscalls` and the per-architecture syscall tables), shared
with the rule encoder; the lookups over them are :mod:`trioaudit._tables.syscalls`'.
This module only adapts them to what interpretation needs:

* ``arch=c000003e`` -> the machine name, which is also the name ausearch prints
  (the first alias of libaudit's machine table: every 32-bit ARM is ``armeb``);
* a machine for records that carry a syscall number but no ``arch``: this host's,
  found as libaudit's ``audit_detect_machine`` finds it (``uname -m`` looked up in
  the same machine table);
* negative syscall numbers name nothing.

libauparse 3.0.9 does not know riscv32/riscv64 (it prints ``unknown-elf-type(...)``);
we print their names and name their syscalls -- a deliberate divergence
(docs/events.md).
"""

from __future__ import annotations

import os
from functools import cache

from ..._tables import syscalls as _syscalls

__all__ = ["errno_name", "local_machine", "machine_for_arch", "syscall_name"]

#: The machine name of an ``AUDIT_ARCH_*`` value, ``None`` when unknown.
machine_for_arch = _syscalls.ARCH_BY_AUDIT_ARCH.get

#: ``EACCES`` for 13 (sign ignored); ``None`` when libaudit has no name for it.
errno_name = _syscalls.errno_name


@cache
def local_machine() -> str:
    """This machine's name as ausearch prints it, ``""`` if libaudit does not know it."""
    arch = _syscalls.audit_arch_for_machine(os.uname().machine)
    if arch is None:
        return ""
    return machine_for_arch(arch) or ""


@cache
def syscall_name(machine: str, number: int) -> str | None:
    """The syscall name for a machine and number, ``None`` if unknown."""
    if number < 0:
        return None
    return _syscalls.syscall_name(machine, number)
