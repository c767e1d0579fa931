"""auditctl's rule language -> :class:`AuditRule` (and control commands).

Theory of operation: one :class:`_Builder` per command line walks the tokens
the way auditctl's ``getopt`` loop does, dispatching each option letter through
``_Builder.OPTIONS`` to a method that updates the builder's state, exactly in
the order the options were written -- order is semantic in this language:

* ``-F arch=`` must come before ``-S`` (syscall names are resolved for the arch
  in force when ``-S`` is read; without one, for this machine);
* ``-k`` needs a watch, a syscall, a path/perm field or an exe before it;
* fields are stored in the order given, and all keys are joined with ``\\x01``
  into one final ``key`` field, as auditctl does.

When the tokens are exhausted :meth:`_Builder.finish` applies auditctl's
end-of-line rules (no ``-S`` on a syscall list means ``-S all``) and returns a
:class:`RuleCommand`.

Validation is the union of what auditctl 3.0.9 checks and what the kernel's
``audit_field_valid()``/``audit_to_watch()`` would refuse with a bare
``EINVAL``: better to name the offending token here than to get ``EINVAL``
back. Where auditctl silently truncates or ignores (``uid=99999999999``,
``pid=12abc``), we refuse with "out of range"/"not a number" instead; this is
listed in docs/rules.md.

Environment: the host's machine type (for ``b64``/``b32`` and for ``-S``
without an arch), whether a watched path is a directory, and user/group names
are looked up through a :class:`RuleContext` -- pass your own to parse rules
for another machine or to keep parsing free of any filesystem access.
"""

from __future__ import annotations

import enum
import grp
import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass, field

from trioaudit._tables import msgtype_names as _msgtypes
from trioaudit._tables import rulewords as _words
from trioaudit._tables import syscalls as _syscalls
from trioaudit.rules import _constants as C
from trioaudit.rules._errors import RuleSyntaxError
from trioaudit.rules._model import AuditRule, RuleField, encode_string
from trioaudit.rules._tokens import Dialect, Token, tokenize

__all__ = [
    "CommandKind",
    "ControlSetting",
    "RuleCommand",
    "RuleContext",
    "default_context",
    "parse_command",
    "parse_rule",
]

_INT32_MIN = -(1 << 31)


def _lookup_uid(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except (KeyError, ValueError):  # ValueError: a NUL in the name (found by fuzzing)
        return None


def _lookup_gid(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except (KeyError, ValueError):  # ValueError: a NUL in the name (found by fuzzing)
        return None


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What parsing needs to know about the host (injectable for tests and cross-parsing).

    Attributes:
        machine: ``uname -m`` of the machine the rules are for (``b64``/``b32`` and
            ``-S`` without ``-F arch`` resolve against it).
        is_dir: Whether a watched path is a directory (``-w /etc/`` becomes a ``dir`` watch).
        uid_of: User name -> uid, or None if unknown.
        gid_of: Group name -> gid, or None if unknown.
    """

    machine: str
    is_dir: Callable[[str], bool] = os.path.isdir
    uid_of: Callable[[str], int | None] = _lookup_uid
    gid_of: Callable[[str], int | None] = _lookup_gid


def default_context() -> RuleContext:
    """The context of this host, as auditctl would see it."""
    return RuleContext(machine=os.uname().machine)


class CommandKind(enum.Enum):
    """What a command line asks for."""

    ADD = "add"  # -a, -A, -w
    DELETE = "delete"  # -d, -W
    DELETE_ALL = "delete_all"  # -D [-k key]
    CONTROL = "control"  # -b, -f, -e, -r, --backlog_wait_time, ...


@dataclass(frozen=True, slots=True)
class ControlSetting:
    """A non-rule setting from a rules file (``-b 8192``, ``-f 1``, ``-e 1``...).

    Attributes:
        name: ``backlog_limit``, ``failure``, ``enabled``, ``rate_limit``,
            ``backlog_wait_time``, ``loginuid_immutable``, ``reset_lost``,
            ``ignore_errors`` (``-i``) or ``continue_on_error`` (``-c``).
        value: The number, or None for flag-like settings.
        option: The option as written (``-b``).
    """

    name: str
    value: int | None
    option: str


@dataclass(frozen=True, slots=True)
class RuleCommand:
    """One parsed command line.

    Attributes:
        kind: What to do.
        rule: The rule for ADD/DELETE.
        key: For DELETE_ALL with ``-k``: only rules whose key contains this.
        controls: For CONTROL: the settings, in order.
        line: Line number in a rules file (None for a single command).
        text: The line as written.
        warnings: What auditctl would warn about (a 32/64-bit syscall mismatch
            without ``-F arch``, ``..`` or wildcards in a watched path).
    """

    kind: CommandKind
    rule: AuditRule | None = None
    key: str | None = None
    controls: tuple[ControlSetting, ...] = ()
    line: int | None = None
    text: str = ""
    warnings: tuple[str, ...] = ()


# ---- number parsing (C strtol/strtoul with base 0, but strict) ---------------------------
def _c_int(text: str) -> int | None:
    """Parse like ``strtol(text, NULL, 0)`` but refuse trailing garbage: None if invalid."""
    body = text[1:] if text[:1] in "+-" else text
    if not body.isascii() or "_" in body or body != body.strip():
        return None  # int() would take "٣", "1_0" and blanks; strtol does not
    try:
        if body[:2].lower() == "0x":
            number = int(body[2:], 16) if body[2:] else None
        elif len(body) > 1 and body[0] == "0":
            number = int(body[1:], 8)
        else:
            number = int(body, 10) if body.isdigit() else None
    except ValueError:
        return None
    if number is None:
        return None
    return -number if text[:1] == "-" else number


_CONTROL_OPTIONS: dict[str, tuple[str, bool]] = {
    # option -> (setting name, takes a number)
    "-b": ("backlog_limit", True),
    "-f": ("failure", True),
    "-e": ("enabled", True),
    "-r": ("rate_limit", True),
    "--backlog_wait_time": ("backlog_wait_time", True),
    "--loginuid-immutable": ("loginuid_immutable", False),
    "--reset-lost": ("reset_lost", False),
    "-i": ("ignore_errors", False),
    "-c": ("continue_on_error", False),
}
_ENUM_CONTROLS = {"failure": (0, 1, 2), "enabled": (0, 1, 2)}
#: Options taking an argument (``-F x`` or ``-Fx``).
_WITH_ARGUMENT = frozenset("aAdSFCwWkpbfer")
_NO_ARGUMENT = frozenset("Dic")


@dataclass
class _Builder:
    """Mutable state of one command line while its options are read."""

    text: str
    ctx: RuleContext
    kind: CommandKind | None = None
    filter_list: int | None = None
    action: int | None = None
    prepend: bool = False
    mask: list[int] = field(default_factory=lambda: [0] * C.BITMASK_WORDS)
    fields: list[RuleField] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    key_token: Token | None = None
    arch: int | None = None
    syscall_added: bool = False
    perm_added: bool = False
    exe_added: bool = False
    fs_added: bool = False
    delete_all: bool = False
    delete_all_key: str | None = None
    controls: list[ControlSetting] = field(default_factory=list)
    first: Token | None = None
    first_control: Token | None = None
    warnings: list[str] = field(default_factory=list)

    def fail(self, reason: str, token: Token | None) -> RuleSyntaxError:
        if token is None:
            return RuleSyntaxError(reason, text=self.text)
        return RuleSyntaxError(reason, token=token.text, column=token.column, text=self.text)

    # ---- -a / -A / -d -------------------------------------------------------------------
    def _list_action(self, tok: Token, kind: CommandKind, prepend: bool) -> None:
        if self.kind is not None or self.delete_all:
            raise self.fail("only one of -a, -A, -d, -w, -W is allowed per rule", tok)
        parts = tok.text.split(",")
        if len(parts) != 2:
            raise self.fail("expected LIST,ACTION such as 'always,exit'", tok)
        left, right = tok.sub(0, len(parts[0])), tok.sub(len(parts[0]) + 1)
        for word in (left, right):
            if word.text == "possible":
                raise self.fail("the 'possible' action is deprecated and not supported", word)
        if left.text in C.ACTION_NUMBERS and right.text in C.LIST_NUMBERS:
            action, lst = left, right
        elif left.text in C.LIST_NUMBERS and right.text in C.ACTION_NUMBERS:
            lst, action = left, right
        else:
            bad = right if left.text in C.LIST_NUMBERS or left.text in C.ACTION_NUMBERS else left
            known = ", ".join(sorted(C.LIST_NUMBERS)) + "; actions: always, never"
            raise self.fail(f"unknown list or action (lists: {known})", bad)
        number = C.LIST_NUMBERS[lst.text]
        if number == C.FILTER_TASK and self.syscall_added:
            raise self.fail("syscalls (-S) are not allowed on the task list", lst)
        self.kind, self.prepend = kind, prepend
        self.filter_list, self.action = number, C.ACTION_NUMBERS[action.text]

    def opt_a(self, tok: Token) -> None:
        self._list_action(tok, CommandKind.ADD, False)

    def opt_A(self, tok: Token) -> None:
        self._list_action(tok, CommandKind.ADD, True)

    def opt_d(self, tok: Token) -> None:
        self._list_action(tok, CommandKind.DELETE, False)

    # ---- -S ------------------------------------------------------------------------------
    def _syscall_machine(self) -> str:
        if self.filter_list == C.FILTER_URING_EXIT:
            return "io_uring"
        if self.arch is not None:
            return _syscalls.ARCH_BY_AUDIT_ARCH[self.arch]
        return self.ctx.machine

    def opt_S(self, tok: Token) -> None:
        if self.filter_list in (C.FILTER_TASK, C.FILTER_USER, C.FILTER_FS, C.FILTER_EXCLUDE):
            name = C.LIST_NAMES[self.filter_list]
            raise self.fail(f"syscalls (-S) are not allowed on the {name} list", tok)
        machine = self._syscall_machine()
        if _syscalls.syscall_table_for_machine(machine) is None:
            raise self.fail(f"no syscall table for machine {machine!r}", tok)
        offset = 0
        for item in tok.text.split(","):
            part = tok.sub(offset, offset + len(item))
            offset += len(item) + 1
            if not item:
                continue
            if item == "all":
                self.mask = [C.U32_MAX] * C.BITMASK_WORDS
                continue
            number = _syscalls.syscall_number(machine, item)
            if number is None and item[0].isdigit():
                number = _c_int(item)
                if number is None:
                    raise self.fail("syscall number is not a number", part)
                if number > C.MAX_SYSCALL:
                    raise self.fail(f"syscall number out of range (0-{C.MAX_SYSCALL})", part)
            if number is None:
                raise self.fail(f"unknown syscall for {machine}", part)
            self.mask[number // 32] |= 1 << (number % 32)
        self.syscall_added = True
        if self.arch is None and self.kind is not None:
            self._warn_mismatch(tok, machine)

    def _warn_mismatch(self, tok: Token, machine: str) -> None:
        """auditctl's "32/64 bit syscall mismatch": the names mean other numbers in 32-bit."""
        compat = C.COMPAT_32.get(machine)
        if compat is None:
            return
        for item in tok.text.split(","):
            if not item or item == "all" or item[0].isdigit():
                continue
            if _syscalls.syscall_number(compat, item) != _syscalls.syscall_number(machine, item):
                self.warnings.append(
                    f"32/64 bit syscall mismatch for {item!r}: add -F arch=b64 or -F arch=b32"
                )
                return

    # ---- -F ------------------------------------------------------------------------------
    def opt_F(self, tok: Token) -> None:
        if self.kind is None:
            raise self.fail("-F needs a list first (-a/-A/-d LIST,ACTION)", tok)
        if tok.text.startswith("key="):
            self._add_key(tok.sub(4))
            return
        self._check_room(tok)
        name, op, value = self._split_pair(tok)
        number = C.FIELD_NUMBERS.get(name.text)
        if number is None:
            raise self.fail("unknown field", name)
        self._check_list(number, name)
        self._check_operator(number, op, name)
        self.fields.append(self._convert(number, op, name, value))

    def _check_room(self, tok: Token) -> None:
        if len(self.fields) >= C.MAX_USER_FIELDS:
            raise self.fail(f"too many fields (a rule holds at most {C.MAX_FIELDS})", tok)

    def _split_pair(self, tok: Token) -> tuple[Token, int, Token]:
        for symbol, bits in C.OPERATOR_SEARCH_ORDER:
            index = tok.text.find(symbol)
            if index >= 0:
                name, value = tok.sub(0, index), tok.sub(index + len(symbol))
                if not name.text:
                    raise self.fail("missing field name before the operator", tok)
                if not value.text:
                    raise self.fail(f"missing value after the operator for {name.text}", tok)
                return name, bits, value
        raise self.fail("missing operator (one of = != < > <= >= & &=)", tok)

    def _check_list(self, number: int, name: Token) -> None:
        lst = self.filter_list
        list_name = C.LIST_NAMES.get(lst if lst is not None else -1, "?")
        if lst == C.FILTER_EXCLUDE and number not in C.EXCLUDE_FIELDS:
            raise self.fail(
                "field not allowed on the exclude list "
                "(only msgtype, pid, uid, gid, auid, exe and subj_*)",
                name,
            )
        if lst == C.FILTER_FS and number not in C.FS_FIELDS:
            raise self.fail("field not allowed on the filesystem list (only fstype)", name)
        if number == C.F_MSGTYPE and lst not in (C.FILTER_EXCLUDE, C.FILTER_USER):
            raise self.fail(
                f"msgtype is only allowed on the exclude and user lists, not {list_name}", name
            )
        if number == C.F_FSTYPE and lst != C.FILTER_FS:
            raise self.fail(f"fstype is only allowed on the filesystem list, not {list_name}", name)
        if number == C.F_SESSIONID and lst not in (C.FILTER_EXCLUDE, C.FILTER_USER, C.FILTER_EXIT):
            raise self.fail(
                f"sessionid is only allowed on the exit and user lists, not {list_name}", name
            )
        if number in C.EXIT_ONLY_FIELDS and lst != C.FILTER_EXIT:
            uring_ok = lst == C.FILTER_URING_EXIT and number not in (C.F_WATCH, C.F_DIR, C.F_PERM)
            if not uring_ok:
                raise self.fail(f"field is only allowed on the exit list, not {list_name}", name)

    def _check_operator(self, number: int, op: int, name: Token) -> None:
        symbol = C.OPERATOR_SYMBOLS[op]
        if number in (C.F_PERM, C.F_WATCH, C.F_DIR) and op != C.OP_EQUAL:
            raise self.fail(f"operator {symbol} not allowed for {name.text} (only =)", name)
        eq_ne = number in C.EQ_NE_ONLY_FIELDS or number == C.F_INODE
        if eq_ne and op not in (C.OP_EQUAL, C.OP_NOT_EQUAL):
            raise self.fail(f"operator {symbol} not allowed for {name.text} (only = and !=)", name)
        if number not in C.ALL_OPS_FIELDS and op in (C.OP_BIT_MASK, C.OP_BIT_TEST):
            raise self.fail(
                f"operator {symbol} not allowed for {name.text} "
                "(bit operators only apply to a0-a3, pers and devminor)",
                name,
            )

    # value converters, one per field class ------------------------------------------------
    def _u32(self, number: int | None, value: Token, what: str) -> int:
        if number is None:
            raise self.fail(f"{what}: not a number", value)
        if not _INT32_MIN <= number <= C.U32_MAX:
            raise self.fail(f"{what}: value out of range (-2147483648..4294967295)", value)
        return number & C.U32_MAX

    def _signed_or_unsigned(self, value: Token, what: str) -> int | None:
        """Digits -> unsigned, ``-digits`` -> signed, else None (a name)."""
        text = value.text
        if text[:1].isdigit() or (len(text) >= 2 and text[0] == "-" and text[1].isdigit()):
            return self._u32(_c_int(text), value, what)
        return None

    def _convert(self, number: int, op: int, name: Token, value: Token) -> RuleField:
        if number in C.STRING_FIELDS:
            return self._string_field(number, op, name, value)
        converter = _CONVERTERS.get(number, _Builder._conv_number)
        return RuleField(number, op, converter(self, number, name, value))

    # One converter per field class; _CONVERTERS (below the class) maps fields to them.
    def _conv_uid(self, number: int, name: Token, value: Token) -> int:
        converted = self._signed_or_unsigned(value, name.text)
        if converted is None:
            converted = C.UNSET if value.text == "unset" else self.ctx.uid_of(value.text)
            if converted is None:
                raise self.fail("unknown user", value)
        return converted

    def _conv_gid(self, number: int, name: Token, value: Token) -> int:
        converted = self._signed_or_unsigned(value, name.text)
        if converted is None:
            converted = C.UNSET if value.text == "unset" else self.ctx.gid_of(value.text)
            if converted is None:
                raise self.fail("unknown group", value)
        return converted

    def _conv_exit(self, number: int, name: Token, value: Token) -> int:
        converted = self._signed_or_unsigned(value, name.text)
        if converted is None:
            negative = value.text.startswith("-")
            errno = _syscalls.errno_number(value.text[1:] if negative else value.text)
            if errno is None:
                raise self.fail("unknown errno name", value)
            converted = (-errno if negative else errno) & C.U32_MAX
        return converted

    def _conv_msgtype(self, number: int, name: Token, value: Token) -> int:
        if value.text[:1].isdigit():
            return self._u32(_c_int(value.text), value, name.text)
        converted = _msgtypes.MSGTYPE_NUMBERS.get(value.text)
        if not converted:
            raise self.fail("unknown message type", value)
        return converted

    def _conv_arch(self, number: int, name: Token, value: Token) -> int:
        return self._arch(value)

    def _conv_perm(self, number: int, name: Token, value: Token) -> int:
        self.perm_added = True
        return self._perm(value)

    def _conv_filetype(self, number: int, name: Token, value: Token) -> int:
        # Names as auditctl; numbers too, because auditctl -l prints numbers.
        if value.text[:1].isdigit():
            converted = self._u32(_c_int(value.text), value, name.text)
            if converted & ~C.S_IFMT:
                raise self.fail("filetype: not a file type (S_IF* bits only)", value)
            return converted
        found = _words.FILETYPE_NUMBERS.get(value.text)
        if found is None:
            known = ", ".join(sorted(_words.FILETYPE_NUMBERS))
            raise self.fail(f"unknown file type (one of {known})", value)
        return found

    def _conv_fstype(self, number: int, name: Token, value: Token) -> int:
        self.fs_added = True
        if value.text[:1].isdigit():
            return self._u32(_c_int(value.text), value, name.text)
        found = _words.FSTYPE_NUMBERS.get(value.text)
        if found is None:
            raise self.fail("unknown file system type", value)
        return found

    def _conv_arg(self, number: int, name: Token, value: Token) -> int:
        converted = self._signed_or_unsigned(value, name.text)
        if converted is None:
            raise self.fail(f"{name.text}: value should be a number", value)
        return converted

    def _conv_sessionid(self, number: int, name: Token, value: Token) -> int:
        converted = self._signed_or_unsigned(value, name.text)
        if converted is None:
            if value.text != "unset":
                raise self.fail(f"{name.text}: value should be a number or 'unset'", value)
            converted = C.UNSET
        return converted

    def _conv_saddr_fam(self, number: int, name: Token, value: Token) -> int:
        converted = self._u32(_c_int(value.text), value, name.text)
        if converted >= C.AF_MAX:
            raise self.fail(
                f"{name.text}: value is too large (address families < {C.AF_MAX})", value
            )
        return converted

    def _conv_number(self, number: int, name: Token, value: Token) -> int:
        """pid, ppid, pers, devmajor/minor, inode, success, loginuid_set, field_compare."""
        if not value.text[:1].isdigit():
            raise self.fail(f"{name.text}: value should be a number", value)
        converted = self._u32(_c_int(value.text), value, name.text)
        if number == C.F_LOGINUID_SET and converted not in (0, 1):
            raise self.fail("loginuid_set: value must be 0 or 1", value)
        if number == C.F_FIELD_COMPARE and converted not in C.COMPARISONS:
            raise self.fail("field_compare: unknown comparison number", value)
        return converted

    def _string_field(self, number: int, op: int, name: Token, value: Token) -> RuleField:
        size = len(encode_string(value.text))
        if size > C.MAX_STRING_LEN:
            raise self.fail(f"{name.text}: string value too long (max {C.MAX_STRING_LEN})", value)
        if number in (C.F_WATCH, C.F_DIR):
            self._check_path(value)
            self.perm_added = True
        if number == C.F_EXE:
            self.exe_added = True
        return RuleField(number, op, string=value.text)

    def _check_path(self, value: Token) -> None:
        path = value.text
        if len(encode_string(path)) >= C.MAX_STRING_LEN:
            raise self.fail("watch path too long", value)
        if not path.startswith("/"):
            raise self.fail("relative watch path: the path must start with '/'", value)
        if ".." in path:
            self.warnings.append(f"relative path notation is not supported: {path}")
        if "*" in path or "?" in path:
            self.warnings.append(f"wildcard notation is not supported: {path}")
        base = os.path.basename(path.rstrip("/")) or "/"
        if len(encode_string(base)) > C.MAX_NAME_LEN:
            raise self.fail(f"watch path's last component is longer than {C.MAX_NAME_LEN}", value)

    def _perm(self, value: Token) -> int:
        if len(value.text) > 4:
            raise self.fail("permission is too long (at most 4 of r, w, x, a)", value)
        bits = 0
        letters = dict(C.PERM_LETTERS)
        for i, ch in enumerate(value.text):
            bit = letters.get(ch.lower())
            if bit is None:
                raise self.fail("permission can only contain r, w, x and a", value.sub(i, i + 1))
            bits |= bit
        return bits

    def _arch(self, value: Token) -> int:
        if self.syscall_added:
            raise self.fail("-F arch must come before -S", value)
        text = value.text
        if text[:1].isdigit():
            number = _c_int(text)
            if number is None or number not in _syscalls.ARCH_BY_AUDIT_ARCH:
                raise self.fail("unknown audit arch number", value)
            self.arch = number
            return number
        lowered = text.lower()
        bits: int | None = None
        if lowered in ("b64", "b32"):
            bits = 64 if lowered == "b64" else 32
            machine = self.ctx.machine
        elif lowered in _syscalls.MACHINE_NAMES:
            machine = lowered
        else:
            try:
                elf = int(text, 16)
            except ValueError:
                raise self.fail(
                    "unknown machine type (try b64, b32, x86_64, i386...)", value
                ) from None
            if elf not in _syscalls.ARCH_BY_AUDIT_ARCH:
                raise self.fail("unknown machine type", value)
            machine = _syscalls.ARCH_BY_AUDIT_ARCH[elf]
        if bits == 32:
            machine = C.COMPAT_32.get(machine, machine)
        elf_value = _syscalls.audit_arch_for_machine(machine)
        if elf_value is None:
            raise self.fail(f"unknown machine type {machine!r}", value)
        if bits is not None and bool(elf_value & _syscalls.AUDIT_ARCH_64BIT) != (bits == 64):
            raise self.fail(f"{machine} does not support {bits}-bit syscalls", value)
        self.arch = elf_value
        return elf_value

    # ---- -C ------------------------------------------------------------------------------
    def opt_C(self, tok: Token) -> None:
        self._check_room(tok)
        index = tok.text.find("!=")
        if index >= 0:
            op, width = C.OP_NOT_EQUAL, 2
        else:
            index, op, width = tok.text.find("="), C.OP_EQUAL, 1
        if index < 0:
            raise self.fail("-C takes FIELD=FIELD or FIELD!=FIELD", tok)
        left, right = tok.sub(0, index), tok.sub(index + width)
        if not left.text:
            raise self.fail("-C missing field name before the operator", tok)
        if not right.text:
            raise self.fail("-C missing field name after the operator", tok)
        a = C.FIELD_NUMBERS.get(left.text)
        if a is None:
            raise self.fail("-C unknown field", left)
        b = C.FIELD_NUMBERS.get(right.text)
        if b is None:
            raise self.fail("-C unknown field", right)
        if self.filter_list != C.FILTER_EXIT:
            raise self.fail("-C can only be used with the exit list", tok)
        number = C.COMPARISON_BY_PAIR.get(frozenset({a, b}))
        if number is None:
            raise self.fail(f"-C cannot compare {left.text} with {right.text}", tok)
        self.fields.append(RuleField(C.F_FIELD_COMPARE, op, number))

    # ---- -w / -W / -p --------------------------------------------------------------------
    def _watch(self, tok: Token, kind: CommandKind) -> None:
        if self.kind is not None or self.delete_all:
            raise self.fail("a watch (-w/-W) cannot be combined with -a, -A or -d", tok)
        if self.fields:
            raise self.fail("-w must come before -F and -C", tok)
        self._check_path(tok)
        path = tok.text
        if len(path) > 2:
            path = path.rstrip("/") or "/"
        field_number = C.F_DIR if self.ctx.is_dir(path) else C.F_WATCH
        self.kind, self.filter_list, self.action = kind, C.FILTER_EXIT, C.ACTION_ALWAYS
        self.mask = [C.U32_MAX] * C.BITMASK_WORDS
        self.fields = [
            RuleField(field_number, C.OP_EQUAL, string=path),
            RuleField(C.F_PERM, C.OP_EQUAL, C.PERM_ALL),
        ]
        self.syscall_added = self.perm_added = True

    def opt_w(self, tok: Token) -> None:
        self._watch(tok, CommandKind.ADD)

    def opt_W(self, tok: Token) -> None:
        self._watch(tok, CommandKind.DELETE)

    def opt_p(self, tok: Token) -> None:
        if self.kind is None:
            raise self.fail("-p needs a watch (-w) or a list (-a) before it", tok)
        if not self.fields:
            raise self.fail("-p must follow a path or other fields", tok)
        bits = self._perm(tok)
        updated = False
        for i, f in enumerate(self.fields):
            if f.field == C.F_PERM:
                self.fields[i] = RuleField(C.F_PERM, f.op, bits)
                updated = True
        if not updated:
            self._check_room(tok)
            self.fields.append(RuleField(C.F_PERM, C.OP_EQUAL, bits))
        self.perm_added = True

    # ---- -k / -D ---------------------------------------------------------------------------
    def opt_k(self, tok: Token) -> None:
        if self.delete_all:
            if self.delete_all_key is not None:
                raise self.fail("-D takes a single -k", tok)
            self.delete_all_key = tok.text
            return
        has_anchor = self.syscall_added or self.perm_added or self.exe_added or self.fs_added
        if self.kind is None or not has_anchor:
            raise self.fail(
                "-k needs a watch, a syscall (-S), a path/perm or exe field before it", tok
            )
        self._add_key(tok)

    def _add_key(self, tok: Token) -> None:
        if C.KEY_SEPARATOR in tok.text:
            raise self.fail("key contains the separator byte \\x01", tok)
        if not tok.text:
            return
        joined = C.KEY_SEPARATOR.join([*self.keys, tok.text])
        if len(encode_string(joined)) > C.MAX_KEY_LEN:
            raise self.fail(f"key too long (all keys together at most {C.MAX_KEY_LEN} bytes)", tok)
        self.keys.append(tok.text)
        if self.key_token is None:
            self.key_token = tok

    def opt_D(self, tok: Token) -> None:
        if self.kind is not None or self.fields or self.delete_all:
            raise self.fail("-D cannot be combined with a rule", tok)
        self.delete_all = True

    # ---- control options -------------------------------------------------------------------
    def control(self, option: Token, argument: Token | None) -> None:
        name, numeric = _CONTROL_OPTIONS[option.text]
        value: int | None = None
        if numeric:
            assert argument is not None
            if not argument.text[:1].isdigit():
                raise self.fail(f"{option.text} needs a number", argument)
            value = _c_int(argument.text)
            if value is None or value > C.U32_MAX:
                raise self.fail(f"{option.text}: not a number in 0..{C.U32_MAX}", argument)
            allowed = _ENUM_CONTROLS.get(name)
            if allowed is not None and (value not in allowed or argument.text not in "012"):
                raise self.fail(f"{option.text} must be 0, 1 or 2", argument)
        self.controls.append(ControlSetting(name, value, option.text))
        if self.first_control is None:
            self.first_control = option

    # ---- end of line ------------------------------------------------------------------------
    def finish(self) -> RuleCommand:
        rule_given = self.kind is not None or self.fields or self.syscall_added or self.keys
        if self.controls and (rule_given or self.delete_all):
            raise self.fail(
                "control options (-b, -e, -f, -r...) cannot be mixed with a rule",
                self.first_control,
            )
        if self.controls:
            return RuleCommand(CommandKind.CONTROL, controls=tuple(self.controls), text=self.text)
        if self.delete_all:
            return RuleCommand(CommandKind.DELETE_ALL, key=self.delete_all_key, text=self.text)
        if self.kind is None or self.filter_list is None or self.action is None:
            raise self.fail("no list given: use -a/-A/-d LIST,ACTION or -w/-W PATH", self.first)
        if self.keys:
            if not (self.syscall_added or self.perm_added or self.exe_added or self.fs_added):
                raise self.fail(
                    "a key needs a watch, a syscall (-S), a path/perm or exe field", self.key_token
                )
            if self.filter_list == C.FILTER_EXCLUDE:
                raise self.fail("keys are not allowed on the exclude list", self.key_token)
            if len(self.fields) >= C.MAX_USER_FIELDS:
                raise self.fail(
                    f"too many fields (a rule holds at most {C.MAX_FIELDS})", self.key_token
                )
            joined = C.KEY_SEPARATOR.join(self.keys)
            self.fields.append(RuleField(C.F_FILTERKEY, C.OP_EQUAL, string=joined))
        mask = self.mask
        if self.filter_list != C.FILTER_TASK and not self.syscall_added:
            mask = [C.U32_MAX] * C.BITMASK_WORDS
        flags = self.filter_list | (C.FILTER_PREPEND if self.prepend else 0)
        rule = AuditRule(flags, self.action, tuple(mask), tuple(self.fields))
        return RuleCommand(self.kind, rule=rule, text=self.text, warnings=tuple(self.warnings))


_Converter = Callable[[_Builder, int, Token, Token], int]
#: Field number -> value converter; fields not listed are plain numbers (``_conv_number``).
_CONVERTERS: dict[int, _Converter] = {
    **{field: _Builder._conv_uid for field in C.UID_FIELDS},
    **{field: _Builder._conv_gid for field in C.GID_FIELDS},
    **{field: _Builder._conv_arg for field in C.ARG_FIELDS},
    C.F_EXIT: _Builder._conv_exit,
    C.F_MSGTYPE: _Builder._conv_msgtype,
    C.F_ARCH: _Builder._conv_arch,
    C.F_PERM: _Builder._conv_perm,
    C.F_FILETYPE: _Builder._conv_filetype,
    C.F_FSTYPE: _Builder._conv_fstype,
    C.F_SESSIONID: _Builder._conv_sessionid,
    C.F_SADDR_FAM: _Builder._conv_saddr_fam,
}

#: Option letter -> the builder method handling it (table-driven dispatch).
_OPTIONS: dict[str, Callable[[_Builder, Token], None]] = {
    "a": _Builder.opt_a,
    "A": _Builder.opt_A,
    "d": _Builder.opt_d,
    "S": _Builder.opt_S,
    "F": _Builder.opt_F,
    "C": _Builder.opt_C,
    "w": _Builder.opt_w,
    "W": _Builder.opt_W,
    "p": _Builder.opt_p,
    "k": _Builder.opt_k,
}


def _parse_tokens(text: str, tokens: list[Token], ctx: RuleContext) -> RuleCommand:
    builder = _Builder(text=text, ctx=ctx)
    if tokens and tokens[0].text == "auditctl":
        tokens = tokens[1:]
    if not tokens:
        raise RuleSyntaxError("empty rule", text=text)
    builder.first = tokens[0]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        word = tok.text
        if word.startswith("--"):
            name, eq, _ = word.partition("=")
            if name not in _CONTROL_OPTIONS:
                raise builder.fail("unsupported option", tok)
            argument: Token | None = None
            if _CONTROL_OPTIONS[name][1]:
                if eq:
                    argument = tok.sub(len(name) + 1)
                elif i < len(tokens):
                    argument, i = tokens[i], i + 1
                else:
                    raise builder.fail(f"{name} needs a value", tok)
            builder.control(Token(name, tok.column), argument)
            continue
        if len(word) < 2 or word[0] != "-":
            raise builder.fail("parameter given without an option", tok)
        letter = word[1]
        option = Token(word[:2], tok.column)
        if letter in _WITH_ARGUMENT:
            if len(word) > 2:
                argument = tok.sub(2)
            elif i < len(tokens):
                argument, i = tokens[i], i + 1
            else:
                raise builder.fail(f"option {option.text} needs a value", tok)
            if option.text in _CONTROL_OPTIONS:
                builder.control(option, argument)
            else:
                _OPTIONS[letter](builder, argument)
        elif letter in _NO_ARGUMENT and len(word) == 2:
            if letter == "D":
                builder.opt_D(tok)
            else:
                builder.control(option, None)
        else:
            raise builder.fail("unsupported option", tok)
    return builder.finish()


def parse_command(
    text: str, *, context: RuleContext | None = None, dialect: Dialect = "shell"
) -> RuleCommand:
    """Parse one auditctl command line: a rule, ``-D [-k key]`` or control options.

    Raises:
        RuleSyntaxError: Naming the offending token and its column.
    """
    ctx = context if context is not None else default_context()
    return _parse_tokens(text, tokenize(text, dialect), ctx)


def parse_rule(
    text: str, *, context: RuleContext | None = None, dialect: Dialect = "shell"
) -> AuditRule:
    """Parse one auditctl rule (``-a``/``-A``/``-d``/``-w``/``-W`` ...) into an :class:`AuditRule`.

    The text is what follows ``auditctl`` on a command line (a leading ``auditctl`` word
    is ignored), with shell quoting: ``-w '/srv/my dir' -p wa``.

    Args:
        text: The rule.
        context: Host facts to resolve against; defaults to this machine.
        dialect: ``"shell"`` quoting (default) or ``"auditctl"`` rules-file splitting.

    Raises:
        RuleSyntaxError: Naming the offending token and its column.
    """
    command = parse_command(text, context=context, dialect=dialect)
    if command.rule is None:
        raise RuleSyntaxError(
            f"not a rule ({command.kind.value}); use parse_command() for control lines", text=text
        )
    return command.rule
