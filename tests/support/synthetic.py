# ruff: noqa: E501  (long audit record templates read better unsplit)
"""Synthetic audit.log lines that exercise every interpretation class.

The real corpus (tests/data/audit_enriched.log) only covers what one workload on
one x86_64 machine produces. To compare *every* printer with libauparse, this
module builds lines in the kernel's format from real templates, varying the
values: every syscall number of every architecture libauparse 3.0.9 knows, the
argument printers of the syscalls libauparse special-cases, odd numeric values
(``?``, ``-1``, overflow), hex-encoded strings with control bytes, sockaddrs of
several families, multiple keys, user-space records with nested ``msg='...'``...

Deterministic: the same lines every run (no randomness, fixed timestamps).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from trioaudit._tables import syscalls as _syscalls

#: Architectures libauparse 3.0.9 knows (riscv is our extension: compared separately).
ARCHES = {
    "x86_64": "c000003e",
    "i386": "40000003",
    "aarch64": "c00000b7",
    "armeb": "40000028",
    "ppc64le": "c0000015",
    "ppc64": "80000015",
    "ppc": "14",
    "s390x": "80000016",
    "s390": "16",
}
MAX_SYSCALL = 470

_ARG_VALUES = ("0", "1", "2", "3", "9", "f", "41", "241", "802", "1ed", "80000", "101", "ffffff9c",
               "7ffc12345678", "ffffffffffffffff", "40000000", "10000000000000000")  # fmt: skip

_ARG_SYSCALLS = [
    "rt_sigaction",
    "renameat",
    "renameat2",
    "readlinkat",
    "clock_settime",
    "personality",
    "ptrace",
    "prctl",
    "mkdirat",
    "mknodat",
    "fchownat",
    "futimesat",
    "fchmodat",
    "faccessat",
    "faccessat2",
    "futimensat",
    "unshare",
    "unlinkat",
    "utimensat",
    "getrlimit",
    "setrlimit",
    "setuid",
    "setreuid",
    "setresuid",
    "setfsuid",
    "setgid",
    "setregid",
    "setresgid",
    "socket",
    "setfsgid",
    "linkat",
    "newfstatat",
    "openat",
    "openat2",
    "name_to_handle_at",
    "exit",
    "exit_group",
    "bpf",
    "fchmod",
    "fcntl",
    "chmod",
    "chown",
    "fchown",
    "lchown",
    "creat",
    "getsockopt",
    "setsockopt",
    "setns",
    "sched_setscheduler",
    "mkdir",
    "mknod",
    "mq_open",
    "open",
    "access",
    "epoll_ctl",
    "kill",
    "tkill",
    "tgkill",
    "umount2",
    "ioctl",
    "sendmsg",
    "recvmsg",
    "shmget",
    "mmap",
    "mprotect",
    "lseek",
    "clone",
    "mount",
    "recvfrom",
    "sendto",
    "recvmmsg",
    "sendmmsg",
    "execve",
    "read",
    "write",
]

# Syscalls whose a2 printer depends on a1 (or a1's on a0).
_A1_DEPENDENT = frozenset({"fcntl", "getsockopt", "setsockopt", "open", "mq_open", "prctl"})

_SYSCALL_TAIL = (
    "items=0 ppid=1 pid=4242 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
    'fsgid=0 tty=pts0 ses=3 comm="x" exe="/usr/bin/x" key=(null)'
)


def _stamp(serial: int) -> str:
    return f"msg=audit(1795717966.{serial % 1000:03d}:{serial})"


def _syscall_line(serial: int, arch: str, nr: int, a: tuple[str, str, str, str]) -> str:
    return (
        f"type=SYSCALL {_stamp(serial)}: arch={arch} syscall={nr} success=no exit=-13 "
        f"a0={a[0]} a1={a[1]} a2={a[2]} a3={a[3]} {_SYSCALL_TAIL}"
    )


def _hex(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return data.hex().upper()


def _field_lines() -> Iterator[tuple[str, str]]:
    """(record type, body) pairs covering the field classes."""
    for uid in ("0", "1", "65534", "4294967295", "-1", "?", "abc", "99999999999999999999", "7"):
        yield (
            "SYSCALL",
            (
                f"arch=c000003e syscall=2 success=yes exit=3 a0=0 a1=0 a2=0 a3=0 items=0 "
                f"ppid=1 pid=2 auid={uid} uid={uid} gid={uid} euid={uid} suid=0 fsuid=0 egid={uid} "
                f'sgid=0 fsgid=0 tty=(none) ses={uid} comm="a" exe="/b" key=(null)'
            ),
        )
    for exit_value in ("-1", "-2", "-13", "-22", "-110", "-512", "-4095", "0", "5", "-99999"):
        yield (
            "SYSCALL",
            (
                f"arch=c000003e syscall=59 success=no exit={exit_value} a0=0 a1=0 a2=0 a3=0 items=0 "
                f'ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="a" exe="/b" key=(null)'
            ),
        )
    for mode in ("0100644", "040755", "0120777", "020620", "060660", "010600", "0140777", "04755",
                 "02755", "01777", "0107755", "0", "abc", "0170000"):  # fmt: skip
        yield (
            "PATH",
            (
                f'item=0 name="/etc/x" inode=1 dev=08:01 mode={mode} ouid=0 ogid=0 rdev=00:00 '
                "nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
            ),
        )
    for caps in ("0", "1", "3fffffffff", "1ffffffffff", "ffffffffffffffff", "20000000", "x"):
        yield (
            "BPRM_FCAPS",
            (
                f"fver=2 fp={caps} fi=0 fe=1 old_pp=0 old_pi=0 old_pe=0 old_pa=0 pp={caps} "
                f"pi=0 pe={caps} pa=0 frootid=0"
            ),
        )
        yield "CAPSET", f"pid=1 cap_pi={caps} cap_pp={caps} cap_pe=0 cap_pa=0"
    for perm in ("0", "1", "2", "4", "8", "3", "6", "15", "x"):
        yield (
            "CONFIG_CHANGE",
            (f'auid=1000 ses=2 op=add_rule key="k" list=4 res=1 perm={perm} perm_mask={perm}'),
        )
    for lst in ("0", "1", "2", "4", "5", "6", "7"):
        yield "CONFIG_CHANGE", f"auid=0 ses=1 op=remove_rule key=(null) list={lst} res=0"
    for sig in ("0", "9", "15", "31", "32", "64", "-1", "x"):
        yield "OBJ_PID", f'opid=1 oauid=-1 ouid=0 oses=-1 obj=unconfined ocomm="systemd" sig={sig}'
        yield (
            "ANOM_ABEND",
            (
                f'auid=1000 uid=1000 gid=1000 ses=2 pid=12 comm="crash" exe="/bin/crash" sig={sig} res=1'
            ),
        )
    for saddr in (
        "0200000A7F0000010000000000000000",
        "0A000016000000000000000000000000000000000000000100000000",
        "0A000035000000002A0014504001081C000000000000200E00000000",
        "0A000050000000000000000000000000000000000000000003000000",
        "01002F746D702F736F636B00",
        "0100007472696F61756469740000",
        "0100",
        "10000000000000000000000000000000",
        "1000000039300000FFFFFFFF",
        "020000",
        "0A0000",
        "1100000000000000",
        "2A00",
        "FFFF0000",
        "0000",
    ):
        yield "SOCKADDR", f"saddr={saddr}"
    for title in (
        _hex("bash"),
        _hex(b"python3\x00-c\x00print(1)"),
        _hex(b"sh\x00-c\x00echo \x1b[31mred"),
        '"sshd"',
        _hex(b"trailing\x00"),
        _hex("ünïcödé arg"),
    ):
        yield "PROCTITLE", f"proctitle={title}"
    yield "EXECVE", (f'argc=3 a0="ls" a1={_hex("two words")} a2={_hex(chr(27) + "[1mbold")}')
    yield "EXECVE", 'argc=2 a0_len=20 a0[0]=414243 a0[1]=444546 a1="x"'
    for name in (
        '"/etc/passwd"',
        _hex("/tmp/with space"),
        _hex("/tmp/ctrl\x01\x1f\x7f"),
        "(null)",
        _hex("/tmp/../etc/shadow"),
        "00" + _hex("abstract"),
    ):
        yield (
            "PATH",
            (
                f"item=1 name={name} inode=2 dev=fd:00 mode=0100600 ouid=0 ogid=0 rdev=00:00 "
                "nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
            ),
        )
    for key in ('"one"', _hex("a\x01b"), _hex("k1\x01k2\x01with space"), "(null)", _hex("solo")):
        yield (
            "SYSCALL",
            (
                f"arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 "
                f'auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="a" exe="/b" key={key}'
            ),
        )
    for comm in (_hex("ev\x1b[31mil"), _hex("tab\there"), '"plain"', _hex("ÿ bytes")):
        yield (
            "SYSCALL",
            (
                f"arch=c000003e syscall=0 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=2 "
                f"auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 "
                f"comm={comm} exe={comm} key=(null)"
            ),
        )
    yield "CWD", f"cwd={_hex('/home/a b')}"
    yield "CWD", 'cwd="/root"'
    # user-space records with a nested msg='...'
    for res in ("success", "failed", "1", "0", "2"):
        yield (
            "USER_LOGIN",
            (
                "pid=1234 uid=0 auid=1000 ses=5 subj=unconfined "
                f'msg=\'op=login id=1000 exe="/usr/sbin/sshd" hostname=10.0.0.1 addr=10.0.0.1 '
                f"terminal=/dev/pts/1 res={res}'"
            ),
        )
    yield (
        "USER_CMD",
        (
            'pid=99 uid=1000 auid=1000 ses=2 msg=\'cwd="/home/u" '
            f'cmd={_hex("ls -la /root")} exe="/usr/bin/sudo" terminal=pts/0 res=success\''
        ),
    )
    for acct in ('"root"', _hex("some user"), "root", "?"):
        yield (
            "USER_ACCT",
            (
                f"pid=5 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:accounting grantors=pam_permit "
                f'acct={acct} exe="/usr/sbin/cron" hostname=? addr=? terminal=cron res=success\''
            ),
        )
    yield (
        "ADD_GROUP",
        "pid=1 uid=0 auid=0 ses=1 msg='op=add-group id=1000 exe=\"/usr/sbin/groupadd\" hostname=? addr=? terminal=pts/0 res=success'",
    )
    yield "USER", "pid=1 uid=0 auid=0 ses=1 msg='text with no pairs exe=\"/x\" res=success'"
    for data in (_hex("ls\r"), _hex("\x1b[A\x1b[B\x7f\t"), _hex("q\x03\x04"), "zz", _hex('a"b\\c')):
        yield "TTY", f'tty pid=7 uid=0 auid=0 ses=1 major=136 minor=0 comm="bash" data={data}'
    for per in ("0", "8", "40000", "800000", "40008", "ff"):
        yield (
            "SYSCALL",
            (
                f"arch=c000003e syscall=135 success=yes exit=0 a0={per} a1=0 a2=0 a3=0 items=0 ppid=1 "
                f'pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="a" exe="/b" key=(null)'
            ),
        )
    for code in ("0x7fff0000", "0x80000000", "0x0", "0x30000", "0x50001", "0x7ffc0000", "0x1"):
        yield (
            "SECCOMP",
            (
                f'auid=0 uid=0 gid=0 ses=1 subj=unconfined pid=3 comm="b" exe="/b" sig=31 '
                f"arch=c000003e syscall=41 compat=0 ip=0x7f code={code}"
            ),
        )
    for oflag in ("0", "1", "2", "42", "241", "80000", "ffffffff"):
        yield (
            "MQ_OPEN",
            f"oflag={oflag} mode=0644 mq_flags=0x0 mq_maxmsg=10 mq_msgsize=8192 mq_curmsgs=0",
        )
    for flags in ("0", "1", "3", "10", "ff", "x"):
        yield (
            "PATH",
            (
                f'item=0 name="/a" inode=1 dev=00:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 flags={flags}'
            ),
        )
    for flags in ("0x2", "0x812", "0x22", "0x0", "0x100000"):
        yield "MMAP", f"fd=3 flags={flags}"
    for grp in ("0", "1", "2", "x"):
        yield (
            "EVENT_LISTENER",
            f'pid=1 uid=0 auid=0 tty=(none) ses=1 subj=unconfined comm="a" exe="/a" nl-mcgrp={grp} op=connect res=1',
        )
    for prom in ("0", "256", "x"):
        yield "ANOM_PROMISCUOUS", f"dev=eth0 prom={prom} old_prom=0 auid=0 uid=0 gid=0 ses=1"
    for cap in ("0", "21", "40", "41", "x"):
        yield "CAPSET", f"pid=1 capability={cap}"
    for nf in ("0", "1", "2", "3", "7", "10", "12", "99"):
        yield (
            "NETFILTER_PKT",
            (
                f"mark=0x0 saddr=10.0.0.1 daddr=10.0.0.2 proto={nf} family={nf} icmptype={nf} hook={nf} action={nf}"
            ),
        )
        yield "NETFILTER_CFG", f'table=filter family={nf} entries=1 op=xt_register pid=1 comm="nft"'
    for mac in ("800", "806", "86dd"):
        yield "ANOM_LINK", f"macproto={mac}"
    for resp in ("1", "2", "0", "x"):
        yield "FANOTIFY", f"resp={resp} fan_type=0 fan_info=0 subj_trust=2 obj_trust=2"
    for resolve in ("0", "8", "1f", "40"):
        yield "OPENAT2", f"oflag=0100 mode=0 resolve=0x{resolve}"
    for ioctl in ("5401", "4b3a", "1234"):
        yield (
            "SYSCALL",
            (
                f"arch=c000003e syscall=16 success=yes exit=0 a0=3 a1={ioctl} a2=0 a3=0 items=0 ppid=1 "
                f'pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="a" exe="/b" key=(null)'
            ),
        )
    yield (
        "AVC",
        (
            'apparmor="DENIED" operation="open" profile="/usr/sbin/cupsd" name="/etc/shadow" pid=1 '
            'comm="cupsd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0'
        ),
    )
    yield (
        "AVC",
        (
            'avc:  denied  { read write } for  pid=1 comm="httpd" name="index.html" dev="dm-0" '
            "ino=42 scontext=system_u:system_r:httpd_t:s0 tcontext=unconfined_u:object_r:user_home_t:s0 "
            "tclass=file permissive=0"
        ),
    )
    yield (
        "AVC",
        'avc:  granted  { setenforce } for  pid=2 comm="x" saddr=10.0.0.1 src=22 tclass=security',
    )
    yield (
        "USER_AVC",
        (
            "pid=1 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:init_t:s0 "
            'msg=\'avc:  denied  { start } for auid=-1 uid=0 gid=0 cmdline="" scontext=a tcontext=b '
            'tclass=service exe="/usr/lib/systemd/systemd" sauid=0 hostname=? addr=? terminal=?\''
        ),
    )
    yield "UNKNOWN[1999]", "some=field other=2"
    yield "KERN_MODULE", f"name={_hex('nf_tables')}"
    yield "KERN_MODULE", 'name="ext4"'


def synthetic_lines() -> Iterator[str]:
    """All synthetic lines, in the RAW audit.log format."""
    serial = 1000
    for arch_hex in ARCHES.values():
        for nr in range(MAX_SYSCALL):
            serial += 1
            yield _syscall_line(serial, arch_hex, nr, ("1", "2", "3", "4"))
    a1_cycle = ("0", "1", "6", "29", "11", "107", "41", "17", "40", "2", "8", "18", "1a")
    for machine in ("x86_64", "i386"):
        arch_hex = ARCHES[machine]
        for name in (*_ARG_SYSCALLS, "socketcall", "ipc"):
            nr = _syscalls.syscall_number(machine, name)
            if nr is None:
                continue
            a1_values = a1_cycle if name in _A1_DEPENDENT else a1_cycle[:1]
            for i, value in enumerate(_ARG_VALUES):
                for a1 in a1_values:
                    serial += 1
                    yield _syscall_line(serial, arch_hex, nr, (value, a1, value, value))
                serial += 1
                yield _syscall_line(serial, arch_hex, nr, (a1_cycle[i % 13], value, value, value))
    for record_type, body in _field_lines():
        serial += 1
        yield f"type={record_type} {_stamp(serial)}: {body}"


def corpus_line_sets() -> list[list[str]]:
    """Every corpus the suite compares paths on: each committed audit.log
    (tests/data/*.log, undecodable bytes kept as surrogates), then the
    synthetic lines -- one list per source, so each can get its own parser."""
    data = Path(__file__).parents[1] / "data"
    sets = [
        path.read_text("utf-8", "surrogateescape").splitlines()
        for path in sorted(data.glob("*.log"))
    ]
    return [*sets, list(synthetic_lines())]
