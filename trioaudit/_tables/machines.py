"""Machine names (uname -m spellings) and their audit architectures.

Source: audit-userspace HEAD (ea8550209d556fdf44a2c13d4b54a9803dd07442),
lib/*tab.h and lib/*_table.h.
Arch numbers: AUDIT_ARCH_* of linux/audit.h, paired as libaudit's elftab.
Do not edit: re-run scripts/gen_tables.py.
"""

from __future__ import annotations

# machine name -> syscall table module suffix
SYSCALL_TABLE_BY_MACHINE: dict[str, str] = {
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
    "x86_64": "x86_64",
    "ppc64": "ppc",
    "ppc64le": "ppc",
    "ppc": "ppc",
    "s390x": "s390x",
    "s390": "s390",
    "armeb": "arm",
    "arm": "arm",
    "armv5tejl": "arm",
    "armv5tel": "arm",
    "armv6l": "arm",
    "armv7l": "arm",
    "aarch64": "aarch64",
    "armv8l": "aarch64",
    "riscv32": "riscv32",
    "riscv64": "riscv64",
}

# machine name (any alias) -> AUDIT_ARCH_* value
AUDIT_ARCH_BY_MACHINE: dict[str, int] = {
    "i386": 0x40000003,
    "i486": 0x40000003,
    "i586": 0x40000003,
    "i686": 0x40000003,
    "x86_64": 0xC000003E,
    "ppc64": 0x80000015,
    "ppc64le": 0xC0000015,
    "ppc": 20,
    "s390x": 0x80000016,
    "s390": 22,
    "armeb": 0x40000028,
    "arm": 0x40000028,
    "armv5tejl": 0x40000028,
    "armv5tel": 0x40000028,
    "armv6l": 0x40000028,
    "armv7l": 0x40000028,
    "aarch64": 0xC00000B7,
    "armv8l": 0xC00000B7,
    "riscv32": 0x400000F3,
    "riscv64": 0xC00000F3,
}

# AUDIT_ARCH_* value -> machine name as ausearch / auditctl -l print it
ARCH_BY_AUDIT_ARCH: dict[int, str] = {
    20: "ppc",
    22: "s390",
    0x40000003: "i386",
    0x40000028: "armeb",
    0x400000F3: "riscv32",
    0x80000015: "ppc64",
    0x80000016: "s390x",
    0xC0000015: "ppc64le",
    0xC000003E: "x86_64",
    0xC00000B7: "aarch64",
    0xC00000F3: "riscv64",
}
