"""Machines, syscall names and errno names, as libauparse prints them.

The per-architecture syscall and errno tables live in :mod:`trioaudit._tables.syscalls`
(generated once from the kernel's syscall tables, shared with the rule encoder).
This module adapts them to what interpretation needs:

* ``arch=c000003e`` -> a machine key for syscall lookups, and the *name libauparse
  prints* for it. Those differ in one place: libauparse 3.0.9 calls every 32-bit
  ARM machine ``armeb`` (the first name in its machine table), so we do too.
* libauparse 3.0.9 does not know riscv64 (it prints ``unknown-elf-type(...)``);
  we print ``riscv64`` and name its syscalls -- the one deliberate divergence.
"""

from __future__ import annotations

import errno as _errno
import importlib
import os
from functools import cache
from typing import Any

__all__ = [
    "AUPARSE_MACHINE_NAMES",
    "auparse_name",
    "errno_name",
    "local_machine",
    "machine_for_arch",
    "syscall_name",
]

#: AUDIT_ARCH_* value -> machine name as libauparse prints it.
AUPARSE_MACHINE_NAMES: dict[int, str] = {
    0x40000003: "i386",
    0xC000003E: "x86_64",
    0x80000015: "ppc64",
    0xC0000015: "ppc64le",
    0x00000014: "ppc",
    0x80000016: "s390x",
    0x00000016: "s390",
    0x40000028: "armeb",
    0xC00000B7: "aarch64",
    0xC00000F3: "riscv64",
}

# uname machine -> AUDIT_ARCH (libaudit's audit_detect_machine, for records
# that carry a syscall number but no arch).
_UNAME_ARCH = {
    "x86_64": 0xC000003E, "i386": 0x40000003, "i486": 0x40000003, "i586": 0x40000003,
    "i686": 0x40000003, "ppc64": 0x80000015, "ppc64le": 0xC0000015, "ppc": 0x14,
    "s390x": 0x80000016, "s390": 0x16, "armv7l": 0x40000028, "armv6l": 0x40000028,
    "armv5tel": 0x40000028, "aarch64": 0xC00000B7, "armv8l": 0xC00000B7,
    "riscv64": 0xC00000F3,
}  # fmt: skip

_tables: Any
try:  # The shared tables (another module of this package, generated separately).
    _tables = importlib.import_module("trioaudit._tables.syscalls")
except ImportError:  # pragma: no cover - only while the tree is being assembled
    _tables = None


def _machine_key(arch: int) -> str | None:
    if _tables is not None:
        key = _tables.ARCH_BY_AUDIT_ARCH.get(arch)
        if key is not None:
            return str(key)
    return AUPARSE_MACHINE_NAMES.get(arch)


@cache
def _printed_names() -> dict[str, str]:
    out: dict[str, str] = {}
    for arch, printed in AUPARSE_MACHINE_NAMES.items():
        key = _machine_key(arch)
        if key is not None:
            out[key] = printed
    return out


@cache
def machine_for_arch(arch: int) -> str | None:
    """The machine key of an ``AUDIT_ARCH_*`` value, ``None`` when unknown."""
    if arch not in AUPARSE_MACHINE_NAMES:
        return None
    return _machine_key(arch)


def auparse_name(machine: str) -> str:
    """The name libauparse prints for a machine key."""
    return _printed_names().get(machine, machine)


@cache
def local_machine() -> str:
    """This machine's key (libaudit's ``audit_detect_machine``), ``""`` if unknown."""
    arch = _UNAME_ARCH.get(os.uname().machine)
    if arch is None:
        return ""
    return machine_for_arch(arch) or ""


@cache
def syscall_name(machine: str, number: int) -> str | None:
    """The syscall name for a machine key and number, ``None`` if unknown."""
    if _tables is None or number < 0:
        return None
    name = _tables.syscall_name(machine, number)
    return str(name) if name else None


@cache
def errno_name(number: int) -> str | None:
    """``EACCES`` for 13; ``None`` when libaudit has no name for it."""
    if _tables is not None:
        name = _tables.errno_name(number)
        return str(name) if name else None
    return _errno.errorcode.get(number)
