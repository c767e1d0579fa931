"""Interpretation: libauparse's strings, field by field, with a fixed user database."""

from __future__ import annotations

from pathlib import Path

import pytest

from trioaudit import Interpreter, StaticSystemDatabase
from trioaudit._records.interpret import set_default_interpreter
from trioaudit._records.interpret.cnum import ConversionError, strtol, strtoul
from trioaudit._records.parse import parse_kernel_record, parse_log_line

DATA = Path(__file__).parents[1] / "data"
DB = StaticSystemDatabase(
    users={65534: "nobody", 1000: "alice"},
    groups={65534: "nogroup", 1000: "alice"},
    protocols={6: "tcp", 17: "udp", 0: "ip"},
)
INTERP = Interpreter(DB, use_enrichment=False)


def interp(line: str) -> dict[str, str]:
    return INTERP.interpret(parse_log_line(line))


def syscall(arch: str, nr: int, *args: str, extra: str = "") -> dict[str, str]:
    a = (*args, "0", "0", "0", "0")[:4]
    return interp(
        f"type=SYSCALL msg=audit(1.000:1): arch={arch} syscall={nr} success=no exit=-13 "
        f"a0={a[0]} a1={a[1]} a2={a[2]} a3={a[3]} items=0 ppid=1 pid=2 auid=1000 uid=0 "
        "gid=65534 euid=4294967295 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) "
        f'ses=4294967295 comm="x" exe="/x" key=(null){extra}'
    )


def test_real_syscall_record_is_interpreted_like_ausearch() -> None:
    line = next(
        x
        for x in (DATA / "audit_enriched.log").read_text().splitlines()
        if x.startswith("type=SYSCALL") and 'key="openfail"' in x
    )
    fields = INTERP.interpret(parse_log_line(line))
    assert fields["arch"] == "x86_64"
    assert fields["syscall"] == "openat"
    assert fields["exit"] in ("EACCES(Permission denied)", "ENOENT(No such file or directory)")
    assert fields["a0"] == "AT_FDCWD"
    assert fields["a2"].startswith("O_RDONLY")
    assert fields["uid"] == "nobody"
    assert fields["auid"] == "unset"
    assert fields["key"] == "openfail"


@pytest.mark.parametrize(
    ("arch", "nr", "name"),
    [
        ("c000003e", 59, "execve"),
        ("40000003", 11, "execve"),
        ("c00000b7", 221, "execve"),
        ("40000028", 11, "execve"),
        ("c0000015", 11, "execve"),
        ("80000016", 11, "execve"),
        ("c00000f3", 221, "execve"),
        ("400000f3", 221, "execve"),  # riscv32, as docs/events.md says
    ],
)
def test_syscall_names_for_every_arch(arch: str, nr: int, name: str) -> None:
    assert syscall(arch, nr)["syscall"] == name


def test_arch_names() -> None:
    assert syscall("c000003e", 0)["arch"] == "x86_64"
    assert syscall("40000028", 0)["arch"] == "armeb"  # libauparse's first ARM alias
    assert syscall("c00000f3", 0)["arch"] == "riscv64"  # beyond libauparse 3.0.9
    assert syscall("400000f3", 0)["arch"] == "riscv32"  # likewise
    assert syscall("16", 0)["arch"] == "s390"
    assert syscall("1234", 0)["arch"] == "unknown-elf-type(1234)"


def test_identities() -> None:
    fields = syscall("c000003e", 59)
    assert fields["auid"] == "alice"
    assert fields["uid"] == "root"
    assert fields["gid"] == "nogroup"
    assert fields["euid"] == "unset"
    assert fields["ses"] == "unset"
    odd = interp("type=LOGIN msg=audit(1.000:1): pid=1 uid=? old-auid=77 auid=-1")
    assert odd["uid"] == "root"  # strtoul("?") is 0, exactly as libauparse
    assert odd["old-auid"] == "unknown(77)"
    assert odd["auid"] == "unset"


def test_socketcall_and_arguments() -> None:
    assert syscall("40000003", 102, "3")["syscall"] == "socketcall(connect)"
    sock = syscall("c000003e", 41, "a", "80802", "6")
    assert (sock["a0"], sock["a1"], sock["a2"]) == ("inet6", "SOCK_DGRAM", "tcp")
    assert syscall("c000003e", 62, "10", "9")["a1"] == "SIGKILL"
    assert syscall("c000003e", 90, "0", "1ed")["a1"] == "0755"
    mm = syscall("c000003e", 9, "0", "1000", "5", "22")
    assert (mm["a2"], mm["a3"]) == ("PROT_READ|PROT_EXEC", "MAP_PRIVATE|MAP_ANONYMOUS")
    assert syscall("c000003e", 56, "1200011")["a0"] == "0x1200011"
    assert syscall("c000003e", 56, "0", "0", "1200011")["a2"] == (
        "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
    )
    assert syscall("c000003e", 257, "ffffff9c", "0", "80241")["a2"] == (
        "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC"
    )
    assert syscall("c000003e", 0, "ffffffffffffffff")["a0"] == "0xffffffffffffffff"


def test_exit_values() -> None:
    assert syscall("c000003e", 59)["exit"] == "EACCES(Permission denied)"
    ok = interp("type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=1 success=yes exit=12")
    assert (ok["exit"], ok["success"]) == ("12", "yes")


def test_modes_and_perms() -> None:
    path = interp('type=PATH msg=audit(1.000:1): item=0 name="/a" mode=0104755 ouid=1000 ogid=1000')
    assert path["mode"] == "file,suid,755"
    assert path["ouid"] == "alice"
    assert interp("type=PATH msg=audit(1.000:1): mode=040700")["mode"] == "dir,700"
    assert interp("type=CONFIG_CHANGE msg=audit(1.000:1): perm=6")["perm"] == "read,write"
    assert interp("type=CONFIG_CHANGE msg=audit(1.000:1): perm=0")["perm"] == (
        "read,write,exec,attr"
    )


def test_capabilities() -> None:
    fields = interp("type=CAPSET msg=audit(1.000:1): pid=1 cap_pi=0 cap_pp=3000 cap_pe=1")
    assert fields["cap_pi"] == "none"
    assert fields["cap_pp"] == "net_admin,net_raw"
    assert fields["cap_pe"] == "chown"


def test_sockaddr_families() -> None:
    def saddr(hexed: str) -> str:
        return interp(f"type=SOCKADDR msg=audit(1.000:1): saddr={hexed}")["saddr"]

    assert saddr("0200000A7F0000010000000000000000") == (
        "{ saddr_fam=inet laddr=127.0.0.1 lport=10 }"
    )
    assert saddr("0A000016000000000000000000000000000000000000000100000000") == (
        "{ saddr_fam=inet6 laddr=::1 lport=22 }"
    )
    assert saddr("01002F746D702F736F636B00") == "{ saddr_fam=local path=/tmp/sock }"
    assert saddr("10000000000000000000000000000000") == (
        "{ saddr_fam=netlink nlnk-fam=16 nlnk-pid=0 }"
    )
    assert saddr("0200") == "{ saddr_fam=inet sockaddr len too short }"
    assert saddr("FFFF") == "unknown-family(65535)"


def test_structured_sockaddr_and_argv() -> None:
    record = parse_log_line(
        "type=SOCKADDR msg=audit(1.000:1): saddr=0200000A7F0000010000000000000000"
    )
    assert record.sockaddr == {"family": "inet", "address": "127.0.0.1", "port": 10}
    title = parse_kernel_record(1327, "audit(1.000:1): proctitle=7368002D630065636801")
    assert title.argv == ("sh", "-c", "ech\x01")
    assert INTERP.interpret(title)["proctitle"] == "sh -c ech\\001"


def test_control_characters_are_escaped_like_libauparse() -> None:
    hexed = b"ev\x1b[31mil".hex().upper()
    fields = interp(f"type=SYSCALL msg=audit(1.000:1): comm={hexed} exe={hexed}")
    assert fields["comm"] == "ev\\033[31mil"


def test_enrichment_is_preferred_when_present() -> None:
    line = 'type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 uid=5\x1dUID="someone"'
    assert Interpreter(DB).interpret(parse_log_line(line))["uid"] == "someone"
    assert INTERP.interpret(parse_log_line(line))["uid"] == "unknown(5)"


def test_multiple_keys() -> None:
    joined = b"k1\x01k2".hex().upper()
    items = INTERP.interpret_items(parse_log_line(f"type=SYSCALL msg=audit(1.000:1): key={joined}"))
    assert items == [("key", "k1"), ("key", "k2")]


def test_multi_key_with_a_stray_quote_interprets_like_libauparse() -> None:
    record = parse_log_line('type=SYSCALL msg=audit(1.000:1): key=65786563013634626974"')
    assert INTERP.interpret_items(record) == [("key", "exec"), ("key", "64bit")]


@pytest.mark.parametrize("kind", ["AVC", "USER_AVC"])
@pytest.mark.parametrize("key", ["1291864389", "0102", "(null)"])
def test_avc_key_is_the_ipc_key_as_a_number(kind: str, key: str) -> None:
    # libauparse 3.0.9 hex-decodes it (b"\x12\x91\x86C\x89"); we print it as logged.
    fields = interp(
        f"type={kind} msg=audit(1.000:1): avc:  denied  {{ create }} for  pid=1 key={key} "
        "tclass=sem"
    )
    assert fields["key"] == key
    # A SYSCALL's key is still a rule key, hex-decoded.
    assert interp("type=SYSCALL msg=audit(1.000:1): key=6162")["key"] == "ab"


def test_login_old_and_new_values_like_libauparse_on_modern_records() -> None:
    modern = interp(
        "type=LOGIN msg=audit(1.000:1): pid=6513 uid=0 old-auid=4294967295 auid=1000 "
        "tty=(none) old-ses=4294967295 ses=3 res=1"
    )
    old = interp(
        "type=LOGIN msg=audit(1.000:1): login pid=6513 uid=0 old auid=4294967295 new auid=1000 "
        "old ses=4294967295 new ses=3"
    )
    expected = {"old-auid": "unset", "auid": "alice", "old-ses": "4294967295", "ses": "3"}
    for fields in (modern, old):
        assert {name: fields[name] for name in expected} == expected


def test_tty_data() -> None:
    data = b"ls\r\x1b[A".hex().upper()
    fields = interp(f'type=TTY msg=audit(1.000:1): tty pid=1 comm="bash" data={data}')
    assert fields["data"] == '"ls",<ret>,<up>'


def test_default_interpreter_is_injectable() -> None:
    record = parse_log_line("type=SYSCALL msg=audit(1.000:1): uid=1000")
    set_default_interpreter(Interpreter(StaticSystemDatabase(users={1000: "bob"})))
    try:
        assert record.fields["uid"] == "bob"
    finally:
        set_default_interpreter(Interpreter())


def test_c_number_parsing() -> None:
    assert strtoul("-1", 10) == (1 << 64) - 1
    assert strtoul("12abc", 10) == 12
    assert strtoul("?", 10) == 0
    with pytest.raises(ConversionError):
        strtoul("99999999999999999999", 10)
    with pytest.raises(ConversionError):
        strtol("ffffffffffffffff", 16)
    assert strtol("-5", 10) == -5
