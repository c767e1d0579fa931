"""The generated syscall/errno/machine tables and the lazy lookup API."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trioaudit._tables import syscalls as sc


@pytest.mark.parametrize(
    ("machine", "number", "name"),
    [
        ("x86_64", 59, "execve"),
        ("x86_64", 322, "execveat"),
        ("i386", 11, "execve"),
        ("i686", 5, "open"),
        ("aarch64", 221, "execve"),
        ("armv7l", 11, "execve"),
        ("ppc64le", 11, "execve"),
        ("s390x", 11, "execve"),
        ("riscv64", 56, "openat"),
        ("riscv32", 221, "execve"),
    ],
)
def test_syscall_lookups_both_ways(machine: str, number: int, name: str) -> None:
    assert sc.syscall_name(machine, number) == name
    assert sc.syscall_number(machine, name) == number


def test_unknown_machine_and_syscall() -> None:
    assert sc.syscall_name("vax", 1) is None
    assert sc.syscall_number("vax", "open") is None
    assert sc.syscall_name("x86_64", 99999) is None
    assert sc.syscall_number("x86_64", "no_such_call") is None


def test_arch_numbers_print_like_ausearch() -> None:
    assert sc.ARCH_BY_AUDIT_ARCH[0xC000003E] == "x86_64"
    assert sc.ARCH_BY_AUDIT_ARCH[0x40000003] == "i386"
    assert sc.ARCH_BY_AUDIT_ARCH[0xC00000B7] == "aarch64"
    assert sc.ARCH_BY_AUDIT_ARCH[0x40000028] == "armeb"  # libaudit's first MACH_ARM name
    assert sc.ARCH_BY_AUDIT_ARCH[0xC0000015] == "ppc64le"
    assert sc.audit_arch_for_machine("i686") == 0x40000003
    assert sc.audit_arch_for_machine("riscv64") == 0xC00000F3
    assert sc.audit_arch_for_machine("b64") is None


def test_errnos_first_name_wins() -> None:
    assert sc.errno_name(13) == "EACCES"
    assert sc.errno_name(-13) == "EACCES"
    assert sc.errno_name(11) == "EAGAIN"
    assert sc.errno_number("EWOULDBLOCK") == 11
    assert sc.errno_name(0) is None
    assert sc.errno_number("ENOPE") is None


def test_syscall_tables_load_lazily() -> None:
    code = (
        "import sys, trioaudit._tables.syscalls as s\n"
        "assert not any(m.startswith('trioaudit._tables.syscalls_') for m in sys.modules)\n"
        "s.syscall_name('aarch64', 1)\n"
        "print(sorted(m for m in sys.modules if m.startswith('trioaudit._tables.syscalls_')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "['trioaudit._tables.syscalls_aarch64']"
