#!/usr/bin/env python3
"""Generate trioaudit/_tables/auparse.py from audit-userspace's lookup tables.

The interpretation layer must print exactly what libauparse prints, so its lookup
tables (capabilities, socket families, open/clone/mmap flags, signals, ...) are
taken from the same source libauparse is built from: the ``auparse/*tab.h`` and
``lib/ftypetab.h`` headers of audit-userspace, read from a git checkout at a tag.

Each header is a list of ``_S(value, "name")`` lines. Values are C integer
expressions: literals (decimal, octal ``0NNN``, hex, ``U``/``ULL`` suffixes),
``|``/``<<`` combinations and a few symbolic constants (``AF_INET``,
``SYS_SOCKET``, ``MS_RDONLY``...). The symbols' values are listed below (from the
Linux UAPI headers ``linux/net.h``, ``linux/ipc.h``, ``linux/mount.h``,
``linux/personality.h`` and the kernel's ``include/linux/socket.h``) and the
expressions are evaluated with a tiny AST walker that allows nothing else.

Tables keep the header's order: libauparse prints flag sets in table order.

Usage:
    scripts/gen_interpret_tables.py [--repo GITDIR] [--ref v3.0.9] [--output PATH]
"""

from __future__ import annotations

import argparse
import ast
import pathlib
import re
import subprocess

DEFAULT_REPO = "/work/.mirror/linux-audit+audit-userspace/repo"
DEFAULT_REF = "v3.0.9"
DEFAULT_OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "trioaudit/_tables/auparse.py"

# Address families (kernel include/linux/socket.h).
_AF = {
    "AF_LOCAL": 1, "AF_INET": 2, "AF_AX25": 3, "AF_IPX": 4, "AF_APPLETALK": 5,
    "AF_NETROM": 6, "AF_BRIDGE": 7, "AF_ATMPVC": 8, "AF_X25": 9, "AF_INET6": 10,
    "AF_ROSE": 11, "AF_DECnet": 12, "AF_NETBEUI": 13, "AF_SECURITY": 14, "AF_KEY": 15,
    "AF_NETLINK": 16, "AF_PACKET": 17, "AF_ASH": 18, "AF_ECONET": 19, "AF_ATMSVC": 20,
    "AF_RDS": 21, "AF_SNA": 22, "AF_IRDA": 23, "AF_PPPOX": 24, "AF_WANPIPE": 25,
    "AF_LLC": 26, "AF_IB": 27, "AF_MPLS": 28, "AF_CAN": 29, "AF_TIPC": 30,
    "AF_BLUETOOTH": 31, "AF_IUCV": 32, "AF_RXRPC": 33, "AF_ISDN": 34, "AF_PHONET": 35,
    "AF_IEEE802154": 36, "AF_CAIF": 37, "AF_ALG": 38, "AF_NFC": 39, "AF_VSOCK": 40,
    "AF_KCM": 41, "AF_QIPCRTR": 42, "AF_SMC": 43, "AF_XDP": 44, "AF_MCTP": 45,
}  # fmt: skip
# socketcall numbers (linux/net.h).
_SYS = {
    "SYS_SOCKET": 1, "SYS_BIND": 2, "SYS_CONNECT": 3, "SYS_LISTEN": 4, "SYS_ACCEPT": 5,
    "SYS_GETSOCKNAME": 6, "SYS_GETPEERNAME": 7, "SYS_SOCKETPAIR": 8, "SYS_SEND": 9,
    "SYS_RECV": 10, "SYS_SENDTO": 11, "SYS_RECVFROM": 12, "SYS_SHUTDOWN": 13,
    "SYS_SETSOCKOPT": 14, "SYS_GETSOCKOPT": 15, "SYS_SENDMSG": 16, "SYS_RECVMSG": 17,
    "SYS_ACCEPT4": 18, "SYS_RECVMMSG": 19, "SYS_SENDMMSG": 20,
}  # fmt: skip
# ipc() call numbers (linux/ipc.h).
_IPC = {
    "SEMOP": 1, "SEMGET": 2, "SEMCTL": 3, "SEMTIMEDOP": 4, "MSGSND": 11, "MSGRCV": 12,
    "MSGGET": 13, "MSGCTL": 14, "SHMAT": 21, "SHMDT": 22, "SHMGET": 23, "SHMCTL": 24,
}  # fmt: skip
# mount flags (linux/mount.h).
_MS = {
    "MS_RDONLY": 1, "MS_NOSUID": 2, "MS_NODEV": 4, "MS_NOEXEC": 8, "MS_SYNCHRONOUS": 16,
    "MS_REMOUNT": 32, "MS_MANDLOCK": 64, "MS_DIRSYNC": 128, "MS_NOSYMFOLLOW": 256,
    "MS_NOATIME": 1024, "MS_NODIRATIME": 2048, "MS_BIND": 4096, "MS_MOVE": 8192,
    "MS_REC": 16384, "MS_SILENT": 32768, "MS_POSIXACL": 1 << 16, "MS_UNBINDABLE": 1 << 17,
    "MS_PRIVATE": 1 << 18, "MS_SLAVE": 1 << 19, "MS_SHARED": 1 << 20, "MS_RELATIME": 1 << 21,
    "MS_KERNMOUNT": 1 << 22, "MS_I_VERSION": 1 << 23, "MS_STRICTATIME": 1 << 24,
    "MS_LAZYTIME": 1 << 25, "MS_ACTIVE": 1 << 30, "MS_NOUSER": 1 << 31,
}  # fmt: skip
# personality modifiers (linux/personality.h).
_PER = {
    "UNAME26": 0x0020000, "ADDR_NO_RANDOMIZE": 0x0040000, "FDPIC_FUNCPTRS": 0x0080000,
    "MMAP_PAGE_ZERO": 0x0100000, "ADDR_COMPAT_LAYOUT": 0x0200000, "READ_IMPLIES_EXEC": 0x0400000,
    "ADDR_LIMIT_32BIT": 0x0800000, "SHORT_INODE": 0x1000000, "WHOLE_SECONDS": 0x2000000,
    "STICKY_TIMEOUTS": 0x4000000, "ADDR_LIMIT_3GB": 0x8000000,
}  # fmt: skip
# file types (sys/stat.h).
_FTYPE = {
    "S_IFSOCK": 0o140000, "S_IFLNK": 0o120000, "S_IFREG": 0o100000, "S_IFBLK": 0o060000,
    "S_IFDIR": 0o040000, "S_IFCHR": 0o020000, "S_IFIFO": 0o010000,
}  # fmt: skip
SYMBOLS: dict[str, int] = {**_AF, **_SYS, **_IPC, **_MS, **_PER, **_FTYPE}

# (python name, header path, description)
TABLES: list[tuple[str, str, str]] = [
    ("CAPABILITIES", "auparse/captab.h", "capability number -> name"),
    ("FAMILIES", "auparse/famtab.h", "socket address family -> name"),
    ("OPEN_FLAGS", "auparse/open-flagtab.h", "open(2) flag bits (O_RDONLY handled in code)"),
    ("CLONE_FLAGS", "auparse/clone-flagtab.h", "clone(2) flag bits"),
    ("MMAP_FLAGS", "auparse/mmaptab.h", "mmap(2) flag bits"),
    ("PROT_FLAGS", "auparse/prottab.h", "mmap/mprotect protection bits"),
    ("SIGNALS", "auparse/signaltab.h", "signal number -> name"),
    ("SOCKETCALLS", "auparse/socktab.h", "socketcall(2) call -> name"),
    ("SOCKET_TYPES", "auparse/socktypetab.h", "socket type -> name"),
    ("IPC_CALLS", "auparse/ipctab.h", "ipc(2) call -> name"),
    ("PATH_FLAGS", "auparse/flagtab.h", "old PATH record flags"),
    ("PERSONALITIES", "auparse/persontab.h", "personality -> name"),
    ("SECCOMP_ACTIONS", "auparse/seccomptab.h", "seccomp return action -> name"),
    ("ACCESS_MODES", "auparse/accesstab.h", "access(2) mode bits"),
    ("FCNTL_COMMANDS", "auparse/fcntl-cmdtab.h", "fcntl command -> name"),
    ("MOUNT_FLAGS", "auparse/mounttab.h", "mount(2) flag bits"),
    ("UMOUNT_FLAGS", "auparse/umounttab.h", "umount2(2) flag bits"),
    ("RECV_FLAGS", "auparse/recvtab.h", "send/recv flag bits"),
    ("RLIMITS", "auparse/rlimittab.h", "resource -> name"),
    ("SCHED_POLICIES", "auparse/schedtab.h", "scheduler policy -> name"),
    ("SEEK_WHENCE", "auparse/seektab.h", "lseek whence -> name"),
    ("SHM_MODES", "auparse/shm_modetab.h", "shmget mode bits"),
    ("IPC_CMD_FLAGS", "auparse/ipccmdtab.h", "IPC_CREAT etc. bits"),
    ("PTRACE_REQUESTS", "auparse/ptracetab.h", "ptrace request -> name"),
    ("PRCTL_OPTIONS", "auparse/prctl-opt-tab.h", "prctl option -> name"),
    ("EPOLL_CTL_OPS", "auparse/epoll_ctl.h", "epoll_ctl op -> name"),
    ("CLOCK_IDS", "auparse/clocktab.h", "clock id -> name"),
    ("NF_PROTOCOLS", "auparse/nfprototab.h", "netfilter protocol family -> name"),
    ("ICMP_TYPES", "auparse/icmptypetab.h", "ICMP type -> name"),
    ("INET_HOOKS", "auparse/inethooktab.h", "netfilter hook -> name"),
    ("NET_ACTIONS", "auparse/netactiontab.h", "netfilter verdict -> name"),
    ("SOCKOPT_LEVELS", "auparse/sockleveltab.h", "sockopt level -> name"),
    ("SOCKOPT_NAMES", "auparse/sockoptnametab.h", "SOL_SOCKET option -> name"),
    ("IP_OPTION_NAMES", "auparse/ipoptnametab.h", "IPPROTO_IP option -> name"),
    ("IP6_OPTION_NAMES", "auparse/ip6optnametab.h", "IPPROTO_IPV6 option -> name"),
    ("TCP_OPTION_NAMES", "auparse/tcpoptnametab.h", "IPPROTO_TCP option -> name"),
    ("PACKET_OPTION_NAMES", "auparse/pktoptnametab.h", "SOL_PACKET option -> name"),
    ("IOCTL_REQUESTS", "auparse/ioctlreqtab.h", "ioctl request -> name"),
    ("BPF_COMMANDS", "auparse/bpftab.h", "bpf(2) command -> name"),
    ("OPENAT2_RESOLVE", "auparse/openat2-resolvetab.h", "openat2 resolve bits"),
    ("FILE_TYPES", "lib/ftypetab.h", "S_IFMT value -> file type name"),
]

_ENTRY = re.compile(r"^\s*_S\(\s*(?P<value>[^,]+?)\s*,\s*\"(?P<name>[^\"]*)\"\s*\)", re.M)
_FIELD = re.compile(r"^\s*_S\(\s*AUPARSE_TYPE_(?P<type>\w+)\s*,\s*\"(?P<name>[^\"]+)\"\s*\)", re.M)
_TTY_KEY = re.compile(r'^E\("(?P<seq>(?:[^"\\]|\\.)*)",\s*"(?P<name>[^"]*)"\)', re.M)


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def evaluate(expr: str) -> int:
    """Evaluate a C integer constant expression from a table header."""
    expr = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr.strip())
    expr = re.sub(r"\b0([0-7]+)\b", r"0o\1", expr)
    tree = ast.parse(expr, mode="eval")

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return SYMBOLS[node.id]
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.BitOr):
                return left | right
            if isinstance(node.op, ast.LShift):
                return left << right
            if isinstance(node.op, ast.Add):
                return left + right
        raise ValueError(f"unsupported expression {expr!r}")

    return walk(tree)


def git_show(repo: str, ref: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, "show", f"{ref}:{path}"], check=True, capture_output=True, text=True
    ).stdout


def _c_unescape(seq: str) -> str:
    return seq.encode("latin-1").decode("unicode_escape")


def generate(repo: str, ref: str) -> str:
    out = [
        f'"""Lookup tables of libauparse {ref} (generated by scripts/gen_interpret_tables.py).',
        "",
        "Do not edit: re-run the generator. Each table is a tuple of (value, name) pairs in",
        "the header's order, because libauparse prints flag sets in table order.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    for pyname, path, description in TABLES:
        text = _strip_comments(git_show(repo, ref, path))
        pairs = [(evaluate(m["value"]), m["name"]) for m in _ENTRY.finditer(text)]
        out.append(f"# {description} ({path})")
        out.append(f"{pyname}: tuple[tuple[int, str], ...] = (")
        out.extend(f"    ({value:#x}, {name!r})," for value, name in pairs)
        out.append(")")
        out.append("")
    typetab = git_show(repo, ref, "auparse/typetab.h")
    apparmor = typetab[typetab.index("#ifdef WITH_APPARMOR") : typetab.index("#endif")]
    text = _strip_comments(typetab)
    out.append("# field name -> AUPARSE_TYPE_* (without the prefix) (auparse/typetab.h)")
    out.append("FIELD_TYPES: tuple[tuple[str, str], ...] = (")
    out.extend(f"    ({m['name']!r}, {m['type']!r})," for m in _FIELD.finditer(text))
    out.append(")")
    out.append("")
    out.append("# fields typetab.h only lists when libauparse is built WITH_APPARMOR")
    out.append("APPARMOR_FIELDS: frozenset[str] = frozenset({")
    out.extend(f"    {m['name']!r}," for m in _FIELD.finditer(apparmor))
    out.append("})")
    out.append("")
    keys = git_show(repo, ref, "auparse/tty_named_keys.h")
    out.append("# TTY byte sequence -> key name, first match wins (auparse/tty_named_keys.h)")
    out.append("TTY_NAMED_KEYS: tuple[tuple[str, str], ...] = (")
    out.extend(f"    ({_c_unescape(m['seq'])!r}, {m['name']!r})," for m in _TTY_KEY.finditer(keys))
    out.append(")")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=DEFAULT_REPO, help="audit-userspace git dir")
    parser.add_argument("--ref", default=DEFAULT_REF, help="tag or commit (default %(default)s)")
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    args.output.write_text(generate(args.repo, args.ref))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
