"""Names of the audit rule language: fields, operators, lists, actions, file types.

Source: audit-userspace HEAD (ea8550209d556fdf44a2c13d4b54a9803dd07442),
lib/*tab.h and lib/*_table.h.
Do not edit: re-run scripts/gen_tables.py.
"""

from __future__ import annotations

# rule field (lib/fieldtab.h)
FIELD_NAMES: dict[int, str] = {
    0: "pid",
    1: "uid",
    2: "euid",
    3: "suid",
    4: "fsuid",
    5: "gid",
    6: "egid",
    7: "sgid",
    8: "fsgid",
    9: "auid",
    10: "pers",
    11: "arch",
    12: "msgtype",
    13: "subj_user",
    14: "subj_role",
    15: "subj_type",
    16: "subj_sen",
    17: "subj_clr",
    18: "ppid",
    19: "obj_user",
    20: "obj_role",
    21: "obj_type",
    22: "obj_lev_low",
    23: "obj_lev_high",
    25: "sessionid",
    26: "fstype",
    100: "devmajor",
    101: "devminor",
    102: "inode",
    103: "exit",
    104: "success",
    105: "path",
    106: "perm",
    107: "dir",
    108: "filetype",
    109: "obj_uid",
    110: "obj_gid",
    111: "field_compare",
    112: "exe",
    113: "saddr_fam",
    200: "a0",
    201: "a1",
    202: "a2",
    203: "a3",
    210: "key",
}

FIELD_NUMBERS: dict[str, int] = {
    "a0": 200,
    "a1": 201,
    "a2": 202,
    "a3": 203,
    "arch": 11,
    "auid": 9,
    "devmajor": 100,
    "devminor": 101,
    "dir": 107,
    "egid": 6,
    "euid": 2,
    "exe": 112,
    "exit": 103,
    "field_compare": 111,
    "filetype": 108,
    "fsgid": 8,
    "fstype": 26,
    "fsuid": 4,
    "gid": 5,
    "inode": 102,
    "key": 210,
    "loginuid": 9,
    "msgtype": 12,
    "obj_gid": 110,
    "obj_lev_high": 23,
    "obj_lev_low": 22,
    "obj_role": 20,
    "obj_type": 21,
    "obj_uid": 109,
    "obj_user": 19,
    "path": 105,
    "perm": 106,
    "pers": 10,
    "pid": 0,
    "ppid": 18,
    "saddr_fam": 113,
    "sessionid": 25,
    "sgid": 7,
    "subj_clr": 17,
    "subj_role": 14,
    "subj_sen": 16,
    "subj_type": 15,
    "subj_user": 13,
    "success": 104,
    "suid": 3,
    "uid": 1,
}

# rule operator (lib/optab.h)
OPERATOR_NAMES: dict[int, str] = {
    0x8000000: "&",
    0x10000000: "<",
    0x20000000: ">",
    0x30000000: "!=",
    0x40000000: "=",
    0x48000000: "&=",
    0x50000000: "<=",
    0x60000000: ">=",
}

OPERATOR_NUMBERS: dict[str, int] = {
    "!=": 0x30000000,
    "&": 0x8000000,
    "&=": 0x48000000,
    "<": 0x10000000,
    "<=": 0x50000000,
    "=": 0x40000000,
    ">": 0x20000000,
    ">=": 0x60000000,
}

# filter list (lib/flagtab.h)
LIST_NAMES: dict[int, str] = {
    0: "user",
    1: "task",
    4: "exit",
    5: "exclude",
    6: "filesystem",
    7: "io_uring",
}

LIST_NUMBERS: dict[str, int] = {
    "exclude": 5,
    "exit": 4,
    "filesystem": 6,
    "io_uring": 7,
    "task": 1,
    "user": 0,
}

# rule action (lib/actiontab.h)
ACTION_NAMES: dict[int, str] = {
    0: "never",
    1: "possible",
    2: "always",
}

ACTION_NUMBERS: dict[str, int] = {
    "always": 2,
    "never": 0,
    "possible": 1,
}

# -F filetype= (lib/ftypetab.h)
FILETYPE_NAMES: dict[int, str] = {
    4096: "fifo",
    8192: "character",
    16384: "dir",
    24576: "block",
    32768: "file",
    40960: "link",
    49152: "socket",
}

FILETYPE_NUMBERS: dict[str, int] = {
    "block": 24576,
    "character": 8192,
    "dir": 16384,
    "fifo": 4096,
    "file": 32768,
    "link": 40960,
    "socket": 49152,
}

# -F fstype= (lib/fstypetab.h)
FSTYPE_NAMES: dict[int, str] = {
    0x27E0EB: "cgroup",
    0x63677270: "cgroup2",
    0x64626720: "debugfs",
    0x74726163: "tracefs",
}

FSTYPE_NUMBERS: dict[str, int] = {
    "cgroup": 0x27E0EB,
    "cgroup2": 0x63677270,
    "debugfs": 0x64626720,
    "tracefs": 0x74726163,
}
