"""Numbers of the audit rule ABI (``include/uapi/linux/audit.h``) and their classes.

Everything the parser, codec and renderer agree on lives here: field numbers,
operator bits, filter lists, and the *classes* of fields (which take strings,
which are uid-like, which only make sense on the exit list...). The classes are
the table-driven heart of the parser: a field's behaviour is looked up, never
decided by a chain of ``if``s scattered across modules.
"""

from __future__ import annotations

from trioaudit._tables import rulewords as _words

# ---- limits (audit.h / limits.h) ---------------------------------------------------------
#: ``AUDIT_MAX_FIELDS``: slots in ``struct audit_rule_data``.
MAX_FIELDS = 64
#: libaudit refuses a field once ``field_count >= MAX_FIELDS - 1`` (it keeps one spare slot
#: for the key); we enforce the same bound so a rule that loads here loads with auditctl.
MAX_USER_FIELDS = MAX_FIELDS - 1
#: ``AUDIT_MAX_KEY_LEN``: total length of all keys joined by :data:`KEY_SEPARATOR`.
MAX_KEY_LEN = 256
#: ``PATH_MAX``: longest string value (path, exe, label) auditctl and the kernel accept.
MAX_STRING_LEN = 4096
#: ``NAME_MAX``: longest last component of a watched path.
MAX_NAME_LEN = 255
#: ``AUDIT_BITMASK_SIZE``: u32 words of the syscall bitmap.
BITMASK_WORDS = 64
#: Syscall numbers representable in the bitmap.
MAX_SYSCALL = BITMASK_WORDS * 32 - 1
#: ``AUDIT_SYSCALL_CLASSES``: the top bits of the bitmap select syscall classes.
SYSCALL_CLASS_BITS = 16
#: Those bits within the last bitmap word.
SYSCALL_CLASS_MASK = ((1 << SYSCALL_CLASS_BITS) - 1) << (32 - SYSCALL_CLASS_BITS)
#: ``AF_MAX`` of the kernel headers this was generated against (AF_MCTP + 1).
AF_MAX = 46
#: Several keys on one rule are joined with this byte (``AUDIT_KEY_SEPARATOR``).
KEY_SEPARATOR = "\x01"
#: Largest value a rule slot holds.
U32_MAX = 0xFFFFFFFF
#: ``AUDIT_UID_UNSET`` / ``AUDIT_SID_UNSET``: what ``unset`` means.
UNSET = U32_MAX

# ---- filter lists and flags --------------------------------------------------------------
FILTER_USER = 0x00
FILTER_TASK = 0x01
FILTER_ENTRY = 0x02  # deprecated; the kernel refuses it
FILTER_WATCH = 0x03
FILTER_EXIT = 0x04
FILTER_EXCLUDE = 0x05
FILTER_FS = 0x06
FILTER_URING_EXIT = 0x07
#: ``AUDIT_FILTER_PREPEND``: insert at the head of the list (``-A``).
FILTER_PREPEND = 0x10
#: Low bits of ``flags`` naming the list.
FILTER_MASK = 0x07

#: List name -> number (``-a exit,always``); from libaudit's flagtab.
LIST_NUMBERS: dict[str, int] = dict(_words.LIST_NUMBERS)
LIST_NAMES: dict[int, str] = dict(_words.LIST_NAMES)

ACTION_NEVER = 0
ACTION_POSSIBLE = 1  # deprecated; auditctl refuses it
ACTION_ALWAYS = 2
ACTION_NUMBERS: dict[str, int] = {"never": ACTION_NEVER, "always": ACTION_ALWAYS}
ACTION_NAMES: dict[int, str] = dict(_words.ACTION_NAMES)

# ---- operators ----------------------------------------------------------------------------
OP_BIT_MASK = 0x08000000
OP_LESS_THAN = 0x10000000
OP_GREATER_THAN = 0x20000000
OP_NOT_EQUAL = 0x30000000
OP_EQUAL = 0x40000000
OP_BIT_TEST = OP_BIT_MASK | OP_EQUAL
OP_LESS_THAN_OR_EQUAL = OP_LESS_THAN | OP_EQUAL
OP_GREATER_THAN_OR_EQUAL = OP_GREATER_THAN | OP_EQUAL
#: ``AUDIT_OPERATORS``: the operator bits of ``fieldflags``.
OPERATORS = OP_EQUAL | OP_NOT_EQUAL | OP_BIT_MASK

#: Operator symbol -> bits, in libaudit's *search* order: two-character operators are looked
#: for first, so ``a0&=4`` is "bit test", not "bit mask" of ``=4``.
OPERATOR_SEARCH_ORDER: tuple[tuple[str, int], ...] = (
    ("!=", OP_NOT_EQUAL),
    (">=", OP_GREATER_THAN_OR_EQUAL),
    ("<=", OP_LESS_THAN_OR_EQUAL),
    ("&=", OP_BIT_TEST),
    ("=", OP_EQUAL),
    (">", OP_GREATER_THAN),
    ("<", OP_LESS_THAN),
    ("&", OP_BIT_MASK),
)
OPERATOR_SYMBOLS: dict[int, str] = {bits: sym for sym, bits in OPERATOR_SEARCH_ORDER}

# ---- fields -------------------------------------------------------------------------------
F_PID = 0
F_UID = 1
F_EUID = 2
F_SUID = 3
F_FSUID = 4
F_GID = 5
F_EGID = 6
F_SGID = 7
F_FSGID = 8
F_LOGINUID = 9
F_PERS = 10
F_ARCH = 11
F_MSGTYPE = 12
F_SUBJ_USER = 13
F_SUBJ_ROLE = 14
F_SUBJ_TYPE = 15
F_SUBJ_SEN = 16
F_SUBJ_CLR = 17
F_PPID = 18
F_OBJ_USER = 19
F_OBJ_ROLE = 20
F_OBJ_TYPE = 21
F_OBJ_LEV_LOW = 22
F_OBJ_LEV_HIGH = 23
F_LOGINUID_SET = 24
F_SESSIONID = 25
F_FSTYPE = 26
F_DEVMAJOR = 100
F_DEVMINOR = 101
F_INODE = 102
F_EXIT = 103
F_SUCCESS = 104
F_WATCH = 105
F_PERM = 106
F_DIR = 107
F_FILETYPE = 108
F_OBJ_UID = 109
F_OBJ_GID = 110
F_FIELD_COMPARE = 111
F_EXE = 112
F_SADDR_FAM = 113
F_ARG0 = 200
F_ARG1 = 201
F_ARG2 = 202
F_ARG3 = 203
F_FILTERKEY = 210

#: Field name -> number. libaudit's fieldtab, plus ``loginuid_set`` which the kernel knows
#: but auditctl 3.0.9 cannot spell (we accept it; see docs/rules.md).
FIELD_NUMBERS: dict[str, int] = {**_words.FIELD_NUMBERS, "loginuid_set": F_LOGINUID_SET}
#: Field number -> canonical name (``auid`` for 9, as auditctl prints it).
FIELD_NAMES: dict[int, str] = {**_words.FIELD_NAMES, F_LOGINUID_SET: "loginuid_set"}

UID_FIELDS = frozenset({F_UID, F_EUID, F_SUID, F_FSUID, F_LOGINUID, F_OBJ_UID})
GID_FIELDS = frozenset({F_GID, F_EGID, F_SGID, F_FSGID, F_OBJ_GID})
#: Fields whose value is a string carried in ``buf`` (``values[i]`` is its length).
STRING_FIELDS = frozenset(
    {F_SUBJ_USER, F_SUBJ_ROLE, F_SUBJ_TYPE, F_SUBJ_SEN, F_SUBJ_CLR}
    | {F_OBJ_USER, F_OBJ_ROLE, F_OBJ_TYPE, F_OBJ_LEV_LOW, F_OBJ_LEV_HIGH}
    | {F_WATCH, F_DIR, F_FILTERKEY, F_EXE}
)
ARG_FIELDS = frozenset({F_ARG0, F_ARG1, F_ARG2, F_ARG3})
#: Fields auditctl only allows on the exit list.
EXIT_ONLY_FIELDS = frozenset(
    {F_OBJ_USER, F_OBJ_ROLE, F_OBJ_TYPE, F_OBJ_LEV_LOW, F_OBJ_LEV_HIGH, F_WATCH, F_DIR}
    | {F_EXIT, F_PERM, F_FILETYPE, F_DEVMAJOR, F_DEVMINOR, F_INODE, F_SUCCESS, F_PPID}
    | {F_FIELD_COMPARE}
)
#: Fields the kernel accepts on the exclude list (``AUDIT_FEATURE_BITMAP_EXCLUDE_EXTEND``).
EXCLUDE_FIELDS = frozenset(
    {F_PID, F_UID, F_GID, F_LOGINUID, F_MSGTYPE, F_EXE}
    | {F_SUBJ_USER, F_SUBJ_ROLE, F_SUBJ_TYPE, F_SUBJ_SEN, F_SUBJ_CLR}
)
#: Fields allowed on the filesystem list.
FS_FIELDS = frozenset({F_FSTYPE, F_FILTERKEY})
#: Fields for which the kernel accepts only ``=`` and ``!=`` (``audit_field_valid``).
EQ_NE_ONLY_FIELDS = frozenset(
    {F_SUBJ_USER, F_SUBJ_ROLE, F_SUBJ_TYPE, F_OBJ_USER, F_OBJ_ROLE, F_OBJ_TYPE}
    | {F_WATCH, F_DIR, F_FILTERKEY, F_LOGINUID_SET, F_ARCH, F_FSTYPE, F_PERM}
    | {F_FILETYPE, F_FIELD_COMPARE, F_EXE}
)
#: Fields on which every operator is valid; all others refuse the bit operators.
ALL_OPS_FIELDS = frozenset({F_ARG0, F_ARG1, F_ARG2, F_ARG3, F_PERS, F_DEVMINOR})

#: ``S_IFMT``: the file-type bits a ``filetype`` value may use.
S_IFMT = 0o170000

# ---- permissions ---------------------------------------------------------------------------
PERM_EXEC = 1
PERM_WRITE = 2
PERM_READ = 4
PERM_ATTR = 8
PERM_ALL = PERM_EXEC | PERM_WRITE | PERM_READ | PERM_ATTR
#: Letter -> bit, and the order ``auditctl -l`` prints them in.
PERM_LETTERS: tuple[tuple[str, int], ...] = (
    ("r", PERM_READ),
    ("w", PERM_WRITE),
    ("x", PERM_EXEC),
    ("a", PERM_ATTR),
)

# ---- -C comparisons -------------------------------------------------------------------------
#: ``AUDIT_COMPARE_*`` number -> (left, right) field names as ``auditctl -l`` prints them.
COMPARISONS: dict[int, tuple[str, str]] = {
    1: ("uid", "obj_uid"),
    2: ("gid", "obj_gid"),
    3: ("euid", "obj_uid"),
    4: ("egid", "obj_gid"),
    5: ("auid", "obj_uid"),
    6: ("suid", "obj_uid"),
    7: ("sgid", "obj_gid"),
    8: ("fsuid", "obj_uid"),
    9: ("fsgid", "obj_gid"),
    10: ("uid", "auid"),
    11: ("uid", "euid"),
    12: ("uid", "fsuid"),
    13: ("uid", "suid"),
    14: ("auid", "fsuid"),
    15: ("auid", "suid"),
    16: ("auid", "euid"),
    17: ("euid", "suid"),
    18: ("euid", "fsuid"),
    19: ("suid", "fsuid"),
    20: ("gid", "egid"),
    21: ("gid", "fsgid"),
    22: ("gid", "sgid"),
    23: ("egid", "fsgid"),
    24: ("egid", "sgid"),
    25: ("sgid", "fsgid"),
}
#: Unordered pair of field numbers -> comparison number (``-C`` accepts either order).
COMPARISON_BY_PAIR: dict[frozenset[int], int] = {
    frozenset({FIELD_NUMBERS[a], FIELD_NUMBERS[b]}): n for n, (a, b) in COMPARISONS.items()
}

# ---- 32/64-bit machine pairs (libaudit's audit_determine_machine) ---------------------------
#: 64-bit machine -> its 32-bit personality, for ``-F arch=b32``.
COMPAT_32: dict[str, str] = {
    "x86_64": "i386",
    "ppc64": "ppc",
    "s390x": "s390",
    "aarch64": "arm",
    "riscv64": "riscv32",
}
