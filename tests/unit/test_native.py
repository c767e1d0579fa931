"""The compiled core gives exactly what the pure-Python reference gives.

Every native entry point either returns the reference's result, built in C, or
declines (``None``) and leaves the input to the reference. These tests hold it to
that on every real log, on the synthetic every-class corpus, and on generated and
hostile input (the in-suite fuzz smoke of the native entry points; the long
ASan/UBSan runs are in ``fuzz/native``, figures in docs/hardening.md). End to end,
``trioaudit parse`` prints the same bytes on both cores, in every format.

``./test`` sets ``TRIOAUDIT_REQUIRE_NATIVE=1``: there a core that failed to build
(the build is optional, so ``pip install`` would not fail) fails the suite instead
of silently testing the fallback twice.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.peer.logs import ALL as LOGS
from tests.support.synthetic import synthetic_lines
from trioaudit import _native
from trioaudit._output import formats
from trioaudit._output.formats import (
    _record_tail,
    event_json,
    events_text,
    reference_event_json,
    reference_record_lines,
    reference_text,
)
from trioaudit._records.interpret import Interpreter, default_interpreter
from trioaudit._records.logread import LogParser
from trioaudit._records.model import AuditEvent, AuditRecord
from trioaudit._records.parse import (
    RecordParseError,
    parse_kernel_record,
    parse_log_line,
    reference_parse_kernel_record,
    reference_parse_log_line,
)
from trioaudit._records.values import split_fields, type_name
from trioaudit._tables.msgtypes import AuditMessageType as _T

core = _native.core
needs_core = pytest.mark.skipif(core is None, reason=f"no compiled core: {_native.CORE_PROBLEM}")


def test_the_core_is_built_where_it_is_required() -> None:
    if os.environ.get("TRIOAUDIT_REQUIRE_NATIVE") == "1":
        assert _native.CORE == "native", _native.CORE_PROBLEM


def test_the_environment_variable_forces_the_reference_path() -> None:
    code = (
        "from trioaudit import _native\n"
        "from trioaudit._records import parse\n"
        "print(_native.CORE, parse._native_parse_line)\n"
    )
    env = {**os.environ, "TRIOAUDIT_NO_EXTENSIONS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.split() == ["python", "None"]


def test_version_names_the_core() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "trioaudit.cli.main", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"(core: {_native.CORE}" in out


def _view(record: AuditRecord) -> tuple[Any, ...]:
    """Everything a record holds, with the types of its numbers."""
    return (
        record.type,
        record.type_name,
        record.timestamp,
        type(record.timestamp),
        record.sequence,
        type(record.sequence),
        record.node,
        record.raw,
        record.items,
        dict(record.enriched),
        type(record.enriched),
        record._cache,
    )


def _reference(line: bytes) -> tuple[Any, ...] | str:
    try:
        return _view(reference_parse_log_line(line))
    except RecordParseError as exc:
        return f"error: {exc}"


def _check_line(line: bytes) -> bool:
    """The native result equals the reference's; True when the core took the line."""
    assert core is not None
    record = core.parse_line(line)
    if record is None:
        return False
    assert _view(record) == _reference(line), line
    return True


def _corpus_lines() -> Iterator[bytes]:
    for log in LOGS:
        with open(log, "rb") as lines:
            yield from lines
    for text in synthetic_lines():
        yield text.encode("utf-8", "surrogateescape")


@needs_core
def test_every_corpus_line_parses_the_same() -> None:
    taken = total = 0
    for line in _corpus_lines():
        total += 1
        taken += _check_line(line)
    assert total > 18_000
    # The core takes the common forms: nearly every line of real and synthetic logs.
    assert taken / total > 0.98, (taken, total)


@needs_core
def test_parse_log_line_uses_the_core_and_falls_back() -> None:
    line = b'type=USER_CMD msg=audit(1700000000.100:5): pid=1 cmd=6C73 key="k"\n'
    assert core is not None and core.parse_line(line) is not None
    assert _view(parse_log_line(line)) == _reference(line)
    for declined in (
        b"Oct 28 21:34:13 host kernel: audit: type=1300 audit(1572298453.690:5717): a=1",
        b"type=UNKNOWN[1334] msg=audit(1.2:3): prog-id=1",
        b"type=SYSCALL msg=audit(99999999999999.1:2): a=1",
        b"not a record",
    ):
        assert core.parse_line(declined) is None
        try:
            got: tuple[Any, ...] | str = _view(parse_log_line(declined))
        except RecordParseError as exc:
            got = f"error: {exc}"
        assert got == _reference(declined)
    assert core.parse_line("type=SYSCALL msg=audit(1.2:3): a=1") is None  # str: reference


# ---- generated and hostile input (fuzz smoke) ----------------------------------------

_TOKENS = st.sampled_from(
    [
        "a=1", "uid=0", "key=", 'key="x"', "key=6578656301736563", 'key=657865630136"',
        "key=00", "key=(null)", "msg='", "msg='op=x", "msg=audit(1.2:3):", "old", "new",
        "auid=1", "(=x", "=x", "((d=4", "x=(none)", "x=(null)", "x=a:,')", "x='", "avc:",
        "denied", "{", "}", "read", "}x", "for", "", "saddr=0200", "a\x1db", "é=ü",
        "\udcff=\udcfe", "na\tme=v", "n=v\x00", "x==y", "comm=\"sh\"", "a0=7ffd",
    ]
)  # fmt: skip


#: SYSCALL-shaped fields: arch/syscall at the positions the call is read from, odd args.
_ARGUMENTS = st.sampled_from(
    [
        "arch=c000003e", "arch=40000003", "arch=zz", "syscall=59", "syscall=102", "syscall=2",
        "syscall=-1", "a0=3", "a0=ffffff9c", "a1=7ffd0001", "a1=\x01", "a2=241", "a3=0",
        "a3=é", "success=yes", "exit=-13", "items=2", "pid=1", 'exe="/bin/x"',
    ]
)  # fmt: skip


def _line(header: str, tokens: list[str]) -> bytes:
    return (header + " ".join(tokens)).encode("utf-8", "surrogateescape")


_HEADERS = st.sampled_from(
    [
        "type=SYSCALL msg=audit(1700000000.123:42): ",
        "type=AVC msg=audit(1700000000.123:42): ",
        "type=USER_AVC msg=audit(1.1:1): ",
        "node=host type=LOGIN msg=audit(1.12345:007): ",
        "node= type=PATH audit(1.1:1) ",
        "type=USER_LOGIN msg=audit(253402300799.999:18446744073709551615): ",
        "type=USER_LOGIN msg=audit(253402300800.0:1): ",
        "type=EOE msg=audit(1.1:1):",
        "type=SYSCALL msg=audit(1.1:1)x",
        "type=SYSCALL\tmsg=audit(1.1:1): ",
        "node=h\u00e9 type=SYSCALL msg=audit(1.1:1): ",
        "type=SYSCALL msg=audit(1.\u0661:1): ",
    ]
)


@needs_core
@settings(max_examples=600)
@given(_HEADERS, st.lists(_TOKENS, max_size=14), st.sampled_from(["", "\n", "\r\n\x00", " "]))
@example("type=AVC msg=audit(1.1:1): ", ["avc:", "", "denied", "{", "read", "}"], "")
def test_generated_records_parse_the_same(header: str, tokens: list[str], end: str) -> None:
    _check_line(_line(header, tokens) + end.encode())


@needs_core
@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_the_same_or_are_declined(data: bytes) -> None:
    _check_line(data)
    _check_line(b"type=SYSCALL msg=audit(1.2:3): " + data)


@needs_core
@settings(max_examples=400)
@given(st.lists(_TOKENS, max_size=16), st.booleans())
def test_the_field_splitter_is_the_reference(tokens: list[str], avc: bool) -> None:
    assert core is not None
    body = " ".join(tokens)
    expected = split_fields(body, 1400 if avc else 1300)
    assert core.split_fields(body.encode("utf-8", "surrogateescape"), avc) == expected


@needs_core
def test_a_huge_line_is_left_to_the_reference() -> None:
    assert core is not None
    line = b"type=SYSCALL msg=audit(1.2:3): a=" + b"x" * (64 * 1024)
    assert core.parse_line(line) is None


# ---- end to end: the CLI on both cores ------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "extra"),
    [("json", ()), ("records", ()), ("text", ()), ("json", ("--normalize", "--context"))],
    ids=["json", "records", "text", "normalized"],
)
@pytest.mark.parametrize("raw", [False, True], ids=["interpreted", "raw"])
def test_parse_prints_the_same_bytes_on_both_cores(
    fmt: str, extra: tuple[str, ...], raw: bool
) -> None:
    files = [str(p) for p in LOGS]
    argv = [sys.executable, "-m", "trioaudit.cli.main", "parse", "--format", fmt, *extra, *files]
    if raw:
        argv.append("--raw")
    env = {**os.environ, "TZ": "UTC"}
    native = subprocess.run(argv, capture_output=True, env=env, check=True)
    env["TRIOAUDIT_NO_EXTENSIONS"] = "1"
    reference = subprocess.run(argv, capture_output=True, env=env, check=True)
    assert native.stdout == reference.stdout
    assert native.stderr == reference.stderr
    assert len(native.stdout) > 1_000_000


# ---- fields_json: the interpreter's JSON pipeline ---------------------------------------


def _records_of(lines: list[bytes]) -> list[AuditRecord]:
    out = []
    for line in lines:
        with contextlib.suppress(RecordParseError):
            out.append(reference_parse_log_line(line))
    return out


@needs_core
@pytest.mark.parametrize("enrichment", [True, False], ids=["enriched", "computed"])
def test_fields_json_is_the_reference_on_every_corpus(enrichment: bool) -> None:
    records = _records_of(list(_corpus_lines()))
    native, reference = (
        Interpreter(use_enrichment=enrichment),
        Interpreter(use_enrichment=enrichment),
    )
    assert native.native_renderer is not None
    # Twice: the second pass runs on warm memos (the core's and the reference's).
    for record in records * 2:
        assert native.fields_json(record) == reference.reference_fields_json(record), record.raw


@needs_core
@settings(max_examples=400)
@given(_HEADERS, st.lists(_TOKENS | _ARGUMENTS, max_size=14))
def test_fields_json_is_the_reference_on_generated_records(header: str, tokens: list[str]) -> None:
    try:
        record = reference_parse_log_line(_line(header, tokens))
    except RecordParseError:
        return
    native, reference = Interpreter(), Interpreter()
    for _ in range(2):
        assert native.fields_json(record) == reference.reference_fields_json(record)


def test_interpreters_the_core_does_not_serve_take_the_reference_path() -> None:
    assert Interpreter(memoise=False).native_renderer is None
    assert Interpreter(escape=False).native_renderer is None


@needs_core
@pytest.mark.parametrize(
    "items",
    [
        ((1, 2), (3, 4)),
        (("uid", 0),),
        ((b"uid", "0"),),
        (("uid",),),
        ("uid=0",),
        (("a", "b", "c"),),
    ],
)
def test_records_built_by_hand_with_odd_items_are_declined_not_misread(items: Any) -> None:
    # The renderer reads the parser's (str, str) pairs unchecked; a library user's record
    # with other items must reach the reference (which says what is wrong its own way),
    # never be read as if its items were str.
    record = AuditRecord(1300, "SYSCALL", 1.0, 1, None, "x", items=items)
    renderer = default_interpreter().native_renderer
    assert renderer is not None
    assert renderer.fields_json(record) is None
    event = AuditEvent(1, 1.0, None, (record,))
    for raw in (False, True):
        outcomes = []
        for render in (reference_event_json, event_json):
            try:
                outcomes.append(render(event, raw))
            except Exception as exc:  # the same failure on both paths
                outcomes.append(type(exc).__name__)
        assert outcomes[0] == outcomes[1]


# ---- event_json: whole events rendered in C -------------------------------------------


def _events_of(lines: list[bytes]) -> list[AuditEvent]:
    return list(LogParser().parse(lines))


def _check_events(events: list[AuditEvent]) -> None:
    """The core's event text (one by one and batched) is the reference's, interpreted
    and ``--raw``."""
    for raw in (False, True):
        expected = [reference_event_json(event, raw) for event in events]
        assert [event_json(event, raw) for event in events] == expected
        assert events_text(events, raw=raw) == "".join(text + "\n" for text in expected)
        lines = "".join(reference_record_lines(event, raw) + "\n" for event in events)
        assert events_text(events, "records", raw=raw) == lines
        text = "".join(reference_text(event, raw) + "\n" for event in events)
        assert events_text(events, "text", raw=raw) == text


@needs_core
def test_event_json_is_the_reference_on_every_corpus() -> None:
    events = _events_of(list(_corpus_lines()))
    assert len(events) > 5_000
    _check_events(events)
    _check_events(events)  # warm memos


def _rendered_in_c(lines: list[bytes], *, raw: bool = False) -> str:
    """The first event of *lines* rendered by the core, which must not have asked the
    reference for any of it (neither the whole event, nor a record's tail, nor, raw, a
    record's fields)."""
    events = _events_of(lines)
    renderer = default_interpreter().native_renderer
    assert renderer is not None
    asked: list[object] = []

    def fallback(event: AuditEvent, raw: bool = False) -> str:
        asked.append(event)
        return reference_event_json(event, raw)

    def tail(record: AuditRecord, repeats: bool, raw: bool = False) -> str:
        asked.append(record)
        return _record_tail(record, repeats, raw)

    def raw_fields(record: AuditRecord) -> tuple[str, bool]:
        asked.append(record)
        return formats._raw_fields_json(record)

    events_text(events, raw=raw)  # formats hands the core its hooks (and fills the memo) ...
    renderer.set_event_hooks(tail, fallback, int(_T.EXECVE), int(_T.PROCTITLE), int(_T.SOCKADDR))
    renderer.set_raw_hooks(raw_fields, formats._RAW_FRAGMENTS)
    try:
        text: str = renderer.raw_event_json(events[0]) if raw else renderer.event_json(events[0])
    finally:
        formats._renderer_of[:] = [None, None]  # ... and sets them again on next use
    assert asked == []
    assert text == reference_event_json(events[0], raw)
    return text


@needs_core
def test_event_json_renders_the_common_events_in_c() -> None:
    text = _rendered_in_c(
        [
            b"type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes "
            b'exit=0 a0=55 a1=56 a2=57 a3=0 items=1 ppid=1 pid=2 auid=0 uid=0 comm="sh" '
            b'exe="/bin/sh" key="exec"',
            b'type=CWD msg=audit(1700000000.123:42): cwd="/"',
            b'type=PATH msg=audit(1700000000.123:42): item=0 name="/bin/sh" inode=5 mode=0100755',
            b"type=PROCTITLE msg=audit(1700000000.123:42): proctitle=736800612062007F",
        ]
    )
    assert '"argv":["sh","a b","\\u007f"]' in text


@needs_core
def test_raw_events_are_rendered_in_c_from_the_memo() -> None:
    text = _rendered_in_c(
        [
            b"type=SYSCALL msg=audit(1700000000.123:44): arch=c000003e syscall=59 success=yes "
            b'exit=0 a0=55 items=1 uid=0 comm="sh" exe="/bin/sh" key="exec"',
            b"type=PATH msg=audit(1700000000.123:44): item=0 name=2F746D702F7F inode=5",
            b"type=PROCTITLE msg=audit(1700000000.123:44): proctitle=736800612062",
        ],
        raw=True,
    )
    assert '"name":"/tmp/\\u007f"' in text and '"proctitle":"sh\\u0000a b"' in text
    assert '"argv"' not in text  # raw: no interpreted extras


@needs_core
@pytest.mark.parametrize("raw", [False, True], ids=["interpreted", "raw"])
def test_the_records_format_is_rendered_in_c(raw: bool) -> None:
    events = _events_of(
        [
            b"type=SYSCALL msg=audit(1700000000.123:46): arch=c000003e syscall=59 success=yes "
            b'exit=0 a0=55 a1=56 a2=57 a3=0 items=1 ppid=1 pid=2 auid=0 uid=0 comm="sh" '
            b'exe="/bin/sh" key="exec"',
            b"type=PATH msg=audit(1700000000.123:46): item=0 name=2F746D702F7F inode=5",
            b'node=web1 type=CWD msg=audit(1700000000.124:47): cwd="/"',
        ]
    )
    renderer = default_interpreter().native_renderer
    assert renderer is not None
    expected = "".join(reference_record_lines(event, raw) + "\n" for event in events)
    assert events_text(events, "records", raw=raw) == expected  # hooks set, memos filled
    asked: list[AuditEvent] = []

    def fallback(event: AuditEvent, raw: bool = False) -> str:
        asked.append(event)
        return reference_record_lines(event, raw)

    renderer.set_records_hook(fallback)
    try:
        text: str = renderer.records_text(events, raw)
    finally:
        formats._renderer_of[:] = [None, None]  # formats sets its hooks again on next use
    assert asked == []
    assert text == expected
    assert text.count("\n") == 3 and '"node":"web1"' in text


@needs_core
def test_the_text_format_is_rendered_in_c() -> None:
    events = _events_of(
        [
            b"type=SYSCALL msg=audit(1700000000.123:48): arch=c000003e syscall=59 success=yes "
            b'exit=0 a0=55 a1=56 a2=57 a3=0 items=1 ppid=1 pid=2 auid=0 uid=0 comm="sh" '
            b'exe="/bin/sh" key="exec"',
            b'type=CWD msg=audit(1700000000.123:48): cwd="/"',
            b"type=EOE msg=audit(1700000000.123:48): ",
            b'node=web1 type=CWD msg=audit(1700000000.124:49): cwd="/"',
            b"type=DAEMON_START msg=audit(1700000000.125:50): op=start ver=3.0.9 format=raw "
            b"auid=4294967295 pid=1 uid=0 ses=4294967295 res=success",
        ]
    )
    renderer = default_interpreter().native_text_renderer
    assert renderer is not None
    expected = "".join(reference_text(event) + "\n" for event in events)
    assert events_text(events, "text") == expected  # hooks set, memos filled
    asked: list[AuditEvent] = []

    def fallback(event: AuditEvent, raw: bool = False) -> str:
        asked.append(event)
        return reference_text(event, raw)

    renderer.set_text_hooks(fallback, formats.LOG_NAMES, formats._DAEMON_FIRST, formats._DAEMON_END)
    try:
        text: str = renderer.text_events(events, False)
        # what neutralise() would change, and --raw, are the reference's
        odd = _events_of([b'type=CWD msg=audit(1700000000.126:51): cwd="/tmp/\x7f"'])
        assert renderer.text_events(odd, False) == reference_text(odd[0]) + "\n"
        assert renderer.text_events(events[:1], True) == reference_text(events[0], True) + "\n"
    finally:
        formats._text_renderer_of[:] = [None, None]  # formats sets its hooks again on next use
    assert asked == [*odd, events[0]]
    assert text == expected
    assert "type=EOE msg=audit(" in text and "node=web1 type=CWD" in text
    assert "syscall=execve" in text and "uid=root" in text


@needs_core
def test_execve_argv_is_rendered_in_c_too() -> None:
    text = _rendered_in_c(
        [
            b'type=EXECVE msg=audit(1700000000.123:43): argc=3 a0=6C73 a1="-l" a2=2F746D70',
            b"type=SYSCALL msg=audit(1700000000.123:43): arch=c000003e syscall=59",
        ]
    )
    assert '"argv":["ls","-l","/tmp"]' in text


_PROCTITLES = st.sampled_from(
    [
        "proctitle=736800", "proctitle=7368", "proctitle=736", "proctitle=73 68",
        "proctitle=73\t68", "proctitle=zz", 'proctitle="sh"', 'proctitle="sh', "proctitle=",
        "proctitle=00", "proctitle=0000", "proctitle=22", "proctitle=5c", "proctitle=0a1b7f",
        "proctitle=c3a9", "proctitle=ff", "proctitle=é", "proctitle=0D0A", "x=1",
        "argc=2", 'argc="2"', "argc=x", "argc=", "argc=70000", "argc=02", "a0=6C73",
        'a0="ls"', "a1=2D6C", "a1=zz", "a01=1", "a1_len=4", "a1[0]=6C", "a2=c3a9",
        "a0=7F0A22", "a1=", "a2=5C",
    ]
)  # fmt: skip

_EVENT_HEADERS = st.sampled_from(
    [
        "type=PROCTITLE msg=audit(1700000000.123:42): ",
        "type=EXECVE msg=audit(1700000000.123:42): ",
        "type=SOCKADDR msg=audit(1700000000.123:42): ",
        "type=SYSCALL msg=audit(1700000000.123:42): ",
        "type=USER_CMD msg=audit(1700000000.123:42): ",
        "node=h type=PATH msg=audit(0.0005:18446744073709551616): ",
        "node=hé type=CWD msg=audit(253402300799.9995:1): ",
        "type=CWD msg=audit(1.0005:1): ",
    ]
)


@needs_core
@settings(max_examples=500)
@given(
    st.lists(
        st.tuples(_EVENT_HEADERS, st.lists(_TOKENS | _ARGUMENTS | _PROCTITLES, max_size=8)),
        min_size=1,
        max_size=5,
    )
)
@example([("type=PROCTITLE msg=audit(1.2:3): ", ["proctitle=7f", "msg='x"])])
def test_event_json_is_the_reference_on_generated_events(
    records: list[tuple[str, list[str]]],
) -> None:
    lines = []
    for header, tokens in records:
        line = _line(header, tokens)
        try:
            reference_parse_log_line(line)
        except RecordParseError:
            continue
        lines.append(line)
    _check_events(_events_of(lines))


# ---- netlink records (the live path) -------------------------------------------------


def _kernel_view(msg_type: int, text: str, node: str | None = None) -> tuple[Any, ...] | str:
    try:
        return _view(reference_parse_kernel_record(msg_type, text, node=node))
    except RecordParseError as exc:
        return f"error: {exc}"


def _check_kernel(msg_type: int, text: str, node: str | None = None) -> bool:
    assert core is not None
    record = core.parse_kernel(msg_type, type_name(msg_type), text, node)
    if record is None:
        return False
    assert _view(record) == _kernel_view(msg_type, text, node), text
    return True


@needs_core
def test_every_corpus_record_as_the_kernel_sends_it_parses_the_same() -> None:
    taken = total = 0
    for line in _corpus_lines():
        text = line.decode("utf-8", "surrogateescape").rstrip("\n")
        start = text.find("audit(")
        try:
            record = reference_parse_log_line(line)
        except RecordParseError:
            continue
        payload = text[start:].split("\x1d", 1)[0] + "\x00"
        total += 1
        taken += _check_kernel(record.type or 1300, payload)
    assert total > 17_000 and taken / total > 0.98, (taken, total)


@needs_core
@settings(max_examples=400)
@given(
    st.sampled_from([1300, 1400, 1107, 1320, 9999]),
    st.sampled_from(["audit(1700000000.123:42): ", "audit(1.1:1)", "audit(1.\u0661:1): ", "x"]),
    st.lists(_TOKENS | _ARGUMENTS, max_size=14),
    st.sampled_from(["", "\x00", "\n\x00\x00", "\udcff"]),
    st.sampled_from([None, "host"]),
)
def test_generated_netlink_records_parse_the_same(
    msg_type: int, stamp: str, tokens: list[str], end: str, node: str | None
) -> None:
    _check_kernel(msg_type, stamp + " ".join(tokens) + end, node)


@needs_core
def test_parse_kernel_record_uses_the_core() -> None:
    text = "audit(1700000000.123:42): arch=c000003e syscall=59 success=yes\x00"
    assert core is not None and core.parse_kernel(1300, "SYSCALL", text, None) is not None
    assert _view(parse_kernel_record(1300, text)) == _kernel_view(1300, text)
