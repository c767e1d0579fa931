#!/usr/bin/env python3
"""Generate trioaudit/_tables/*.py from audit-userspace's lookup-table headers.

auditctl and ausearch translate syscall names, errno names, machine names,
field names, operators and file types with tables compiled from
``lib/*tab.h`` / ``lib/*_table.h`` in audit-userspace. Each header is a list of
``_S(value, "name")`` lines; the values are integer literals or symbolic
constants. We read the headers from a bare git mirror at a given ref and resolve
the symbols from:

* the kernel UAPI headers (``/usr/include/linux/audit.h``,
  ``/usr/include/linux/elf-em.h``, ``/usr/include/asm-generic/errno*.h``; Debian's
  ``linux-libc-dev``) for ``AUDIT_*``, ``EM_*`` and ``E*`` constants;
* ``lib/audit-records.h`` and ``lib/libaudit.h`` at the same ref for the user-space message types;
* :mod:`stat` for the ``S_IF*`` file-type bits (a stable Linux ABI).

Which ref: **HEAD** of the mirror by default. Syscall and errno numbers are kernel
ABI, so HEAD's tables are a strict superset of v3.0.9's and additionally carry
riscv32/riscv64 (absent from v3.0.9), newer syscalls, the ``io_uring`` filter
list and the cgroup file-system magic numbers. The byte-exact tests against
auditctl 3.0.9 only use names both versions know. The ref and commit used are
recorded in each generated module.

Lookup semantics follow audit-userspace's ``gen_tables.c``: number -> name picks
the *first* entry of the header with that number (``EAGAIN`` over
``EWOULDBLOCK``, ``i386`` over ``i686``); name -> number is unique per table.

Usage:
    scripts/gen_tables.py [--repo GITDIR] [--ref HEAD] [--output-dir trioaudit/_tables]
"""

from __future__ import annotations

import argparse
import ast
import operator
import pathlib
import re
import stat
import subprocess
from collections.abc import Callable, Iterable

DEFAULT_REPO = "/work/.mirror/linux-audit+audit-userspace/repo"
DEFAULT_REF = "HEAD"
DEFAULT_OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "trioaudit/_tables"
KERNEL_HEADERS = (
    "/usr/include/linux/audit.h",
    "/usr/include/linux/elf-em.h",
    "/usr/include/asm-generic/errno-base.h",
    "/usr/include/asm-generic/errno.h",
)

# Syscall tables, by the header's base name.
SYSCALL_TABLES = ("x86_64", "i386", "aarch64", "arm", "ppc", "s390", "s390x", "riscv32", "riscv64")

# libaudit's machine enum -> (syscall table, AUDIT_ARCH_* constant). The pairing
# of machine and audit arch is libaudit's ``elftab`` (lib/lookup_table.c); note
# that AUDIT_ARCH_ARM is the only ARM entry, so ausearch prints it "armeb" (the
# first MACH_ARM name of machinetab.h).
MACHINE_KINDS = {
    "MACH_X86": ("i386", "AUDIT_ARCH_I386"),
    "MACH_86_64": ("x86_64", "AUDIT_ARCH_X86_64"),
    "MACH_PPC64": ("ppc", "AUDIT_ARCH_PPC64"),
    "MACH_PPC64LE": ("ppc", "AUDIT_ARCH_PPC64LE"),
    "MACH_PPC": ("ppc", "AUDIT_ARCH_PPC"),
    "MACH_S390X": ("s390x", "AUDIT_ARCH_S390X"),
    "MACH_S390": ("s390", "AUDIT_ARCH_S390"),
    "MACH_ARM": ("arm", "AUDIT_ARCH_ARM"),
    "MACH_AARCH64": ("aarch64", "AUDIT_ARCH_AARCH64"),
    "MACH_RISCV32": ("riscv32", "AUDIT_ARCH_RISCV32"),
    "MACH_RISCV64": ("riscv64", "AUDIT_ARCH_RISCV64"),
}

_ENTRY = re.compile(r'^\s*_S\(\s*([^,]+?)\s*,\s*"([^"]*)"\s*\)', re.MULTILINE)
_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+([^\n]+?)[ \t]*$", re.M)
_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|[0-9]+)[uU]?[lL]{0,2}\b")
_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_BINOPS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.LShift: operator.lshift,
    ast.Add: operator.add,
    ast.Sub: operator.sub,
}


def git_show(repo: str, ref: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, "show", f"{ref}:{path}"], check=True, capture_output=True, text=True
    ).stdout


def strip_comments(text: str) -> str:
    return _COMMENTS.sub(" ", text)


class Symbols:
    """C ``#define`` constants resolved lazily with a tiny, restrictive evaluator."""

    def __init__(self) -> None:
        self.raw: dict[str, str] = {}

    def add_header(self, text: str) -> None:
        for name, value in _DEFINE.findall(strip_comments(text)):
            self.raw.setdefault(name, value)

    def value(self, expr: str) -> int:
        expr = _SUFFIX.sub(r"\1", expr.strip())
        return self._eval(ast.parse(expr, mode="eval").body, 0)

    def _eval(self, node: ast.expr, depth: int) -> int:
        if depth > 20:
            raise ValueError("symbol recursion too deep")
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in self.raw:
                raise KeyError(node.id)
            text = _SUFFIX.sub(r"\1", self.raw[node.id])
            text = re.sub(r"\b0([0-7]+)\b", r"0o\1", text)
            return self._eval(ast.parse(text, mode="eval").body, depth + 1)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](
                self._eval(node.left, depth + 1), self._eval(node.right, depth + 1)
            )
        raise ValueError(f"unsupported expression: {ast.dump(node)}")


def entries(text: str, symbols: Symbols) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for expr, name in _ENTRY.findall(strip_comments(text)):
        out.append((symbols.value(expr), name))
    return out


def first_by_number(pairs: Iterable[tuple[int, str]]) -> dict[int, str]:
    out: dict[int, str] = {}
    for number, name in pairs:
        out.setdefault(number, name)
    return dict(sorted(out.items()))


def first_by_name(pairs: Iterable[tuple[int, str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for number, name in pairs:
        out.setdefault(name, number)
    return dict(sorted(out.items()))


def _literal(value: int | str) -> str:
    """A ruff-format-stable literal: hex for flag-like numbers, double-quoted strings."""
    if isinstance(value, int):
        return f"0x{value:X}" if value > 0xFFFF else str(value)
    assert '"' not in value and "\\" not in value
    return f'"{value}"'


def render_dict(name: str, annotation: str, mapping: dict[int, str] | dict[str, int]) -> str:
    lines = [f"{name}: {annotation} = {{"]
    for key, value in mapping.items():
        k, v = _literal(key), _literal(value)
        lines.append(f"    {k}: {v},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_module(path: pathlib.Path, doc: str, provenance: str, body: list[str]) -> None:
    text = f'"""{doc}\n\n{provenance}\nDo not edit: re-run scripts/gen_tables.py.\n"""\n\n'
    text += "from __future__ import annotations\n\n" + "\n".join(body)
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=DEFAULT_REPO, help="audit-userspace git dir")
    parser.add_argument("--ref", default=DEFAULT_REF, help="git ref to read (default HEAD)")
    parser.add_argument("--output-dir", type=pathlib.Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    repo, ref, out = args.repo, args.ref, args.output_dir
    commit = subprocess.run(
        ["git", "-C", repo, "rev-parse", ref], check=True, capture_output=True, text=True
    ).stdout.strip()
    provenance = f"Source: audit-userspace {ref} ({commit}),\nlib/*tab.h and lib/*_table.h."
    out.mkdir(parents=True, exist_ok=True)

    symbols = Symbols()
    for header in KERNEL_HEADERS:
        symbols.add_header(pathlib.Path(header).read_text())
    for lib_header in ("lib/audit-records.h", "lib/libaudit.h"):
        symbols.add_header(git_show(repo, ref, lib_header))
    for name in ("S_IFSOCK", "S_IFLNK", "S_IFREG", "S_IFBLK", "S_IFDIR", "S_IFCHR", "S_IFIFO"):
        symbols.raw[name] = str(getattr(stat, name))
    # libaudit's machine enum (lib/libaudit.h): positional values.
    libaudit = strip_comments(git_show(repo, ref, "lib/libaudit.h"))
    enum_body = re.search(r"typedef\s+enum\s*\{([^}]*MACH_X86[^}]*)\}", libaudit)
    assert enum_body is not None, "machine enum not found in libaudit.h"
    for index, member in enumerate(m.strip() for m in enum_body.group(1).split(",")):
        if member:
            symbols.raw[member.split("=")[0].strip()] = str(index)

    # ---- syscalls --------------------------------------------------------------
    for table in SYSCALL_TABLES:
        pairs = entries(git_show(repo, ref, f"lib/{table}_table.h"), symbols)
        write_module(
            out / f"syscalls_{table}.py",
            f"Syscall numbers of the {table} table.",
            provenance,
            [
                render_dict("SYSCALL_NAMES", "dict[int, str]", first_by_number(pairs)),
                render_dict("SYSCALL_NUMBERS", "dict[str, int]", first_by_name(pairs)),
            ],
        )
    uring = entries(git_show(repo, ref, "lib/uringop_table.h"), symbols)
    write_module(
        out / "uringops.py",
        "io_uring operation numbers (the io_uring filter list's 'syscalls').",
        provenance,
        [
            render_dict("URINGOP_NAMES", "dict[int, str]", first_by_number(uring)),
            render_dict("URINGOP_NUMBERS", "dict[str, int]", first_by_name(uring)),
        ],
    )

    # ---- machines --------------------------------------------------------------
    mach_text = git_show(repo, ref, "lib/machinetab.h")
    mach_entries = _ENTRY.findall(strip_comments(mach_text))
    syscall_table: dict[str, str] = {}
    audit_arch_of: dict[str, int] = {}
    by_arch: dict[int, str] = {}
    for kind, name in mach_entries:
        if kind not in MACHINE_KINDS:  # MACH_IO_URING is not an architecture
            continue
        table, arch_symbol = MACHINE_KINDS[kind]
        arch = symbols.value(arch_symbol)
        syscall_table[name] = table
        audit_arch_of[name] = arch
        by_arch.setdefault(arch, name)
    write_module(
        out / "machines.py",
        "Machine names (uname -m spellings) and their audit architectures.",
        provenance + "\nArch numbers: AUDIT_ARCH_* of linux/audit.h, paired as libaudit's elftab.",
        [
            "# machine name -> syscall table module suffix",
            render_dict("SYSCALL_TABLE_BY_MACHINE", "dict[str, str]", syscall_table),
            "# machine name (any alias) -> AUDIT_ARCH_* value",
            render_dict("AUDIT_ARCH_BY_MACHINE", "dict[str, int]", audit_arch_of),
            "# AUDIT_ARCH_* value -> machine name as ausearch / auditctl -l print it",
            render_dict("ARCH_BY_AUDIT_ARCH", "dict[int, str]", dict(sorted(by_arch.items()))),
        ],
    )

    # ---- errnos ----------------------------------------------------------------
    errs = entries(git_show(repo, ref, "lib/errtab.h"), symbols)
    write_module(
        out / "errnos.py",
        "Linux errno names as libaudit spells them (lib/errtab.h).",
        provenance,
        [
            render_dict("ERRNO_NAMES", "dict[int, str]", first_by_number(errs)),
            render_dict("ERRNO_NUMBERS", "dict[str, int]", first_by_name(errs)),
        ],
    )

    # Message types (lib/msg_typetab.h) are scripts/gen_msgtypes.py's: one writer
    # for the enum and the names (trioaudit/_tables/msgtype_names.py derives them).

    # ---- small rule-language tables --------------------------------------------
    body: list[str] = []
    for header, stem, what in (
        ("fieldtab.h", "FIELD", "rule field"),
        ("optab.h", "OPERATOR", "rule operator"),
        ("flagtab.h", "LIST", "filter list"),
        ("actiontab.h", "ACTION", "rule action"),
        ("ftypetab.h", "FILETYPE", "-F filetype="),
        ("fstypetab.h", "FSTYPE", "-F fstype="),
    ):
        pairs = entries(git_show(repo, ref, f"lib/{header}"), symbols)
        body.append(f"# {what} (lib/{header})")
        body.append(render_dict(f"{stem}_NAMES", "dict[int, str]", first_by_number(pairs)))
        body.append(render_dict(f"{stem}_NUMBERS", "dict[str, int]", first_by_name(pairs)))
    write_module(
        out / "rulewords.py",
        "Names of the audit rule language: fields, operators, lists, actions, file types.",
        provenance,
        body,
    )

    init = out / "__init__.py"
    init.write_text(
        '"""Data tables generated by scripts/gen_tables.py from audit-userspace.\n\n'
        "Plain literals so that importing them is cheap; the per-architecture syscall\n"
        "tables are imported lazily by :mod:`trioaudit._tables.syscalls`.\n"
        "Message types are scripts/gen_msgtypes.py's (msgtypes.py; msgtype_names.py\n"
        "derives the name tables from it).\n"
        f"{provenance}\n"
        '"""\n\n'
        f'SOURCE_REF = "{ref}"\nSOURCE_COMMIT = "{commit}"\n'
    )


if __name__ == "__main__":
    main()
