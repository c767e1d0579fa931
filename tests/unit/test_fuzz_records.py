"""Property tests (hypothesis): record parser, interpretation, output of hostile data.

The kernel encodes an untrusted string (``comm``, ``exe``, ``name``,
``proctitle``, EXECVE ``aN``...) quoted when every byte is in 0x21..0x7e and
none is ``"``, otherwise as upper-case hex. These tests generate arbitrary
bytes, encode them *the way the kernel does* (:func:`kernel_value`), and check
that trioaudit gives back exactly those bytes -- faithful -- and that every
output format stays safe:

* the JSON is valid, valid UTF-8, and decodes back to the original bytes;
* the text output holds no control character, no bidi override, no line
  separator, whatever the bytes were;
* interpretation and ``sockaddr``/``argv`` extraction never raise.

The atheris harness ``fuzz/fuzz_records.py`` runs the same invariants for
millions of inputs.
"""

from __future__ import annotations

import json
import re
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from trioaudit._output.formats import json_dumps, neutralise, render_event
from trioaudit._records.interpret import Interpreter, StaticSystemDatabase, decode_sockaddr
from trioaudit._records.model import AuditEvent
from trioaudit._records.parse import RecordParseError, parse_kernel_record, parse_log_line
from trioaudit._records.reassembly import Reassembler

STAMP = "audit(1795714536.840:4771): "
SYSCALL, EXECVE, PROCTITLE, SOCKADDR, USER = 1300, 1309, 1327, 1306, 1005
#: What a terminal must never receive from audit data.
UNSAFE_FOR_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
INTERPRETER = Interpreter(StaticSystemDatabase({0: "root"}, {0: "root"}), use_enrichment=False)
#: The kernel splits EXECVE arguments longer than this into ``aN[i]`` chunks.
EXECVE_CHUNK = 7500 // 2

hostile_bytes = st.one_of(
    st.binary(max_size=64),
    st.lists(
        st.sampled_from(
            [b"\x1b[31m", b"\x1b]0;pwned\x07", b"\r", b"\n", b"\x00", b"\xff", b"\xc3\x28",
             b'"', b"'", b" ", b"=", b"key=", b"\xe2\x80\xae", b"\xe2\x80\xa8", b"\x9b", b"a"]
        ),
        max_size=12,
    ).map(b"".join),
)  # fmt: skip


def kernel_value(data: bytes) -> str:
    """Encode an untrusted string as ``audit_log_untrustedstring`` does."""
    if all(0x21 <= byte <= 0x7E and byte != 0x22 for byte in data):  # "" when empty
        return f'"{data.decode("ascii")}"'
    return data.hex().upper()


def from_surrogates(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def one_event(record_type: int, body: str) -> AuditEvent:
    record = parse_kernel_record(record_type, STAMP + body)
    reassembler = Reassembler()
    events = reassembler.feed(record, 0.0) + reassembler.flush_all()
    (event,) = events
    return event


def check_outputs(event: AuditEvent) -> dict:
    """Every format renders; JSON is valid; text is terminal-safe. Returns the JSON."""
    document = None
    for raw in (False, True):
        text = render_event(event, "json", raw=raw)
        text.encode("utf-8")  # valid UTF-8: no lone surrogate survives
        # JSON goes to terminals too (``trioaudit tail``): nothing a terminal acts on.
        assert "\n" not in text and UNSAFE_FOR_TERMINAL.search(text) is None, text
        parsed = json.loads(text)
        if not raw:
            document = parsed
        for line in render_event(event, "records", raw=raw).split("\n"):
            assert UNSAFE_FOR_TERMINAL.search(line) is None, line
            json.loads(line)
        for line in render_event(event, "text", raw=raw).split("\n"):
            assert UNSAFE_FOR_TERMINAL.search(line) is None, line
            line.encode("utf-8")
    assert document is not None
    return document


def json_bytes(text: str) -> bytes:
    """Undo the ``\\xNN`` escaping json_dumps applies to non-UTF-8 bytes."""
    out = bytearray()
    index = 0
    while index < len(text):
        if text.startswith("\\x", index) and re.fullmatch(
            "[0-9a-f]{2}", text[index + 2 : index + 4]
        ):
            out.append(int(text[index + 2 : index + 4], 16))
            index += 4
        else:
            out += text[index].encode("utf-8")
            index += 1
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(comm=hostile_bytes, exe=hostile_bytes, key=hostile_bytes)
def test_untrusted_syscall_strings_are_faithful_and_neutralised(
    comm: bytes, exe: bytes, key: bytes
) -> None:
    body = (
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 "
        f"pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 "
        f"ses=1 comm={kernel_value(comm)} exe={kernel_value(exe)} key={kernel_value(key)}"
    )
    event = one_event(SYSCALL, body)
    record = event.records[0]
    if comm:
        assert from_surrogates(record.raw_fields["comm"]) == comm
    if exe:
        assert from_surrogates(record.raw_fields["exe"]) == exe
    document = check_outputs(event)
    raw_document = json.loads(render_event(event, "json", raw=True))
    if comm and b"\\x" not in comm:
        assert json_bytes(raw_document["records"][0]["fields"]["comm"]) == comm
    assert document["records"][0]["type"] == "SYSCALL"


@settings(max_examples=200, deadline=None)
@given(st.lists(hostile_bytes, min_size=1, max_size=8), st.integers(0, 3))
def test_execve_argv_is_faithful_in_every_kernel_form(argv: list[bytes], split_at: int) -> None:
    parts = [f"argc={len(argv)}"]
    for index, arg in enumerate(argv):
        if index == split_at and arg:
            # The long-argument form: a<i>_len=N a<i>[0]=HEX a<i>[1]=HEX ...
            encoded = arg.hex().upper()
            half = max(2, (len(encoded) // 4) * 2)
            chunks = [encoded[:half], encoded[half:]] if encoded[half:] else [encoded]
            parts.append(f"a{index}_len={len(encoded)}")
            parts += [f"a{index}[{n}]={chunk}" for n, chunk in enumerate(chunks)]
        else:
            parts.append(f"a{index}={kernel_value(arg)}")
    event = one_event(EXECVE, " ".join(parts))
    argv_seen = event.records[0].argv
    assert argv_seen is not None
    assert [from_surrogates(arg) for arg in argv_seen] == argv
    check_outputs(event)


@settings(max_examples=200, deadline=None)
@given(st.lists(hostile_bytes.filter(lambda b: b"\0" not in b), min_size=1, max_size=6))
def test_proctitle_argv_is_faithful(argv: list[bytes]) -> None:
    title = b"\0".join(argv)
    if not title:
        return
    event = one_event(PROCTITLE, f"proctitle={kernel_value(title)}")
    argv_seen = event.records[0].argv
    assert argv_seen is not None
    assert b"\0".join(from_surrogates(arg) for arg in argv_seen) == title.rstrip(b"\0")
    check_outputs(event)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_sockaddr_of_any_bytes_decodes_without_raising(data: bytes) -> None:
    decoded = decode_sockaddr(data)
    json.loads(json_dumps(decoded))
    event = one_event(SOCKADDR, f"saddr={data.hex().upper() or '00'}")
    check_outputs(event)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([2, 10, 1, 16]), st.binary(min_size=30, max_size=30))
def test_sockaddr_families_decode_to_their_fields(family: int, rest: bytes) -> None:
    decoded = decode_sockaddr(struct.pack("<H", family) + rest)
    expected = {2: "address", 10: "address", 1: "path", 16: "netlink_pid"}[family]
    assert expected in decoded


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_user_message_text_cannot_forge_fields_or_break_outputs(message: str) -> None:
    # A user-space message as the kernel logs it: the text is not escaped at all.
    body = f"pid=42 uid=1000 auid=1000 ses=3 msg='{message}'"
    try:
        record = parse_kernel_record(USER, STAMP + body)
    except RecordParseError:
        return
    assert record.raw_fields["pid"] == "42"  # what precedes msg= cannot be overridden
    reassembler = Reassembler()
    (event,) = reassembler.feed(record, 0.0) + reassembler.flush_all()
    check_outputs(event)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["uid", "gid", "auid", "syscall", "arch", "mode", "perm", "exit", "a0", "a1",
                 "saddr", "proctitle", "cap_fp", "ouid", "res", "success", "flags", "proto",
                 "family", "sig", "name", "cwd", "inode", "dev", "ogid", "prot", "oflag"]
            ),
            st.one_of(
                st.text(alphabet="0123456789abcdefABCDEF-x", max_size=20),
                st.text(max_size=20).filter(lambda t: " " not in t and "=" not in t and t),
            ),
        ),
        max_size=10,
    ),
    st.sampled_from([1300, 1302, 1306, 1309, 1327, 1400, 1100, 1112, 1124, 1324]),
)  # fmt: skip
def test_interpretation_never_raises_and_is_terminal_safe(
    items: list[tuple[str, str]], record_type: int
) -> None:
    body = "arch=c000003e syscall=2 " + " ".join(f"{name}={value}" for name, value in items)
    try:
        record = parse_kernel_record(record_type, STAMP + body)
    except RecordParseError:
        return
    for _name, text in INTERPRETER.interpret_items(record):
        assert "\n" not in text and "\x1b" not in text, text
    reassembler = Reassembler()
    (event,) = reassembler.feed(record, 0.0) + reassembler.flush_all()
    check_outputs(event)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_neutralise_leaves_nothing_a_terminal_acts_on(text: str) -> None:
    assert UNSAFE_FOR_TERMINAL.search(neutralise(text)) is None


@settings(max_examples=200, deadline=None)
@given(hostile_bytes, st.sampled_from(["", "node=host ", "node=\x1b[2J "]))
def test_log_lines_with_hostile_values_render_safely(value: bytes, node: str) -> None:
    line = f'{node}type=SYSCALL msg={STAMP.strip()} comm={kernel_value(value) or "00"} exe="/x"'
    try:
        record = parse_log_line(line)
    except RecordParseError:
        return
    reassembler = Reassembler()
    (event,) = reassembler.feed(record, 0.0) + reassembler.flush_all()
    check_outputs(event)


# ---- regressions found by the atheris harnesses ------------------------------------


def test_regression_sockaddr6_with_out_of_range_flowinfo() -> None:
    # fuzz/fuzz_interpret.py: sin6_flowinfo > 20 bits made getnameinfo() raise OverflowError.
    data = bytes.fromhex("0a000000000002800000000000000000") + b"\xff" * 48
    event = one_event(SOCKADDR, f"saddr={data.hex().upper()}")
    fields = INTERPRETER.interpret(event.records[0])
    assert fields["saddr"].startswith("{ saddr_fam=inet6 laddr=") and "lport=0" in fields["saddr"]
    check_outputs(event)


def test_regression_huge_negative_exit_is_wrapped_like_libauparse() -> None:
    # fuzz/fuzz_records.py: os.strerror() raised OverflowError; libauparse passes a C int
    # (checked against python3-audit: -4294967297 -> EPERM, -3000000000000 -> Unknown error).
    body = "arch=c000003e syscall=2 success=no exit={} a0=1 items=0 pid=1"
    for value, expected in (
        ("-4294967297", "EPERM(Operation not permitted)"),
        ("-3000000000000", "(null)(Unknown error 2112827392)"),
        ("-2", "ENOENT(No such file or directory)"),
    ):
        event = one_event(SYSCALL, body.format(value))
        assert INTERPRETER.interpret(event.records[0])["exit"] == expected
        check_outputs(event)


def test_regression_unicode_digits_are_not_digits() -> None:
    # hypothesis: "²" passes str.isdigit() but int() refuses it; C isdigit() is ASCII-only.
    event = one_event(SYSCALL, "arch=c000003e syscall=2 success=no exit=² a0=1 items=0")
    assert INTERPRETER.interpret(event.records[0])["exit"] == "²"  # as logged, like libauparse
    check_outputs(event)
    execve = one_event(1309, "argc=² a0=6C73")
    assert execve.records[0].argv is None
    check_outputs(execve)
    for line in ("type=² msg=audit(1.000:1): a=1", "type=UNKNOWN[²] msg=audit(1.000:1): a=1"):
        record = parse_log_line(line)  # an unknown type, kept: not a crash
        assert record.type == 0 and record.type_name == line[5 : line.index(" ")]
