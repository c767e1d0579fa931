"""The speed-ups must give exactly what the reference code gives.

``trioaudit tail`` and ``parse`` render JSON through memoised fast paths
(docs/benchmarks.md explains why): per-token pairs in ``split_fields``,
per-field JSON fragments in ``Interpreter.fields_json``, shared enrichment
mappings, and a plain-digits shortcut in ``strtoul``. Each is compared here with
the straightforward code it replaces -- on the committed corpora, on the
synthetic corpus that covers every interpretation class, and on generated
hostile records -- including after the memos have been cleared mid-stream.
Interpretation is held to ``json.dumps`` of what an interpreter that memoises
nothing (``memoise=False``) gives: the fields are computed by one pipeline, so
what can drift is what it remembers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.support.synthetic import corpus_line_sets
from trioaudit._errors import AuditProtocolError
from trioaudit._output import formats as _output
from trioaudit._output.formats import event_json, render_event
from trioaudit._records import interpret as _interpret
from trioaudit._records import parse as _records
from trioaudit._records import values as _values
from trioaudit._records.interpret import Interpreter, StaticSystemDatabase, SystemDatabase
from trioaudit._records.interpret import cnum as _cnum
from trioaudit._records.logread import LogParser
from trioaudit._records.model import AuditEvent
from trioaudit._wire.netlink import NLMSG_HEADER, decode_datagram, record_of_datagram

# ---- the reference JSON: json.dumps plus the documented post-processing -----------

_SURROGATE = re.compile("[\udc80-\udcff]")
_ANY_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def reference_json(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if _ANY_SURROGATE.search(text):
        text = _SURROGATE.sub(lambda m: f"\\\\x{ord(m.group()) - 0xDC00:02x}", text)
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def reference_event_json(event: AuditEvent, interpreter: Interpreter) -> str:
    """The event's JSON as ``json_dumps(event.to_dict())`` gives it, the fields
    interpreted by ``interpreter`` -- one that memoises nothing, see :func:`reference`."""
    data = event.to_dict()
    for record, shape in zip(event.records, data["records"], strict=True):
        shape["fields"] = interpreter.interpret(record)
    return reference_json(data)


def reference(db: SystemDatabase | None = None, **options: bool) -> Interpreter:
    """An interpreter that memoises nothing: every field computed afresh.

    The fast paths share the interpreter's per-field steps; what can go wrong in
    them is the memoising (a result kept under a key that misses something it
    depends on), so the reference must not memoise.
    """
    if db is None:
        db = _interpret.default_interpreter().db
    return Interpreter(db, memoise=False, **options)


def events_of(lines: Iterator[str] | list[str]) -> list[AuditEvent]:
    return list(LogParser().parse(line.encode("utf-8", "surrogateescape") for line in lines))


def corpus_events() -> list[AuditEvent]:
    return [event for lines in corpus_line_sets() for event in events_of(lines)]


@pytest.fixture(scope="module")
def events() -> list[AuditEvent]:
    found = corpus_events()
    assert len(found) > 1000
    return found


def test_event_json_equals_the_reference_on_every_corpus(events: list[AuditEvent]) -> None:
    interpreter = reference()
    mismatches = [
        e.sequence for e in events if event_json(e) != reference_event_json(e, interpreter)
    ]
    assert mismatches == []
    # And twice: the second pass is served from the memos.
    assert all(event_json(e) == reference_event_json(e, interpreter) for e in events)


def test_render_event_json_uses_the_fast_path_and_agrees(events: list[AuditEvent]) -> None:
    for event in events[:500]:
        assert render_event(event, "json") == reference_json(event.to_dict())


def test_fields_json_survives_memo_clearing(
    events: list[AuditEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny limits: the memos are cleared again and again while rendering.
    monkeypatch.setattr(_interpret, "MEMO_LIMIT", 3)
    monkeypatch.setattr(_interpret, "_OVERRIDES_LIMIT", 2)
    monkeypatch.setattr(_values, "MEMO_TOKENS", 5)
    monkeypatch.setattr(_records, "MEMO_ENRICHMENTS", 2)
    interpreter = Interpreter(StaticSystemDatabase())
    expected = reference(StaticSystemDatabase())
    for event in events[:3000]:
        for record in event.records:
            text, repeats = interpreter.fields_json(record)
            assert text == json.dumps(
                expected.interpret(record), ensure_ascii=False, separators=(",", ":")
            )
            assert interpreter.interpret(record) == expected.interpret(record)
            assert repeats == (len({n for n, _ in record.items}) != len(record.items))


def test_without_enrichment_the_fast_path_still_agrees(events: list[AuditEvent]) -> None:
    interpreter = Interpreter(StaticSystemDatabase(), use_enrichment=False, escape=False)
    expected = reference(StaticSystemDatabase(), use_enrichment=False, escape=False)
    for event in events[:3000]:
        for record in event.records:
            assert interpreter.fields_json(record)[0] == json.dumps(
                expected.interpret(record), ensure_ascii=False, separators=(",", ":")
            )


def test_memos_stay_bounded_under_unique_values() -> None:
    interpreter = Interpreter(StaticSystemDatabase())
    for serial in range(_interpret.MEMO_LIMIT + 500):
        record = _records.parse_kernel_record(
            1300, f"audit(1.000:{serial}): arch=c000003e syscall=0 pid={serial} uid={serial}"
        )
        interpreter.fields_json(record)
        interpreter.interpret_items(record)
    for memos in (interpreter._json, interpreter._pairs):
        assert all(len(memo) <= _interpret.MEMO_LIMIT for memo in memos.by_type.values())
        assert len(memos.calls) <= _interpret.MEMO_LIMIT
    assert len(_values._TOKEN_PAIRS) <= _values.MEMO_TOKENS
    long_value = "a" * (_values.MEMO_TOKEN_LENGTH + 1)
    _values.split_fields(f"x={long_value}")
    assert f"x={long_value}" not in _values._TOKEN_PAIRS


def test_the_reference_memoises_nothing(events: list[AuditEvent]) -> None:
    unmemoised = reference(StaticSystemDatabase())
    for event in events[:500]:
        for record in event.records:
            unmemoised.fields_json(record)
            unmemoised.interpret_items(record)
    for memos in (unmemoised._json, unmemoised._pairs):
        assert not any(memos.by_type.values())
        assert not memos.calls
        assert not memos.overrides
    assert not unmemoised._sites


def test_a_syscall_printed_verbatim_is_memoised_under_its_value() -> None:
    # An unparsable arch leaves no machine: print_syscall gives the value as
    # logged, so "01" and "1" (the same syscall number) must not share a memo.
    interpreter = Interpreter(StaticSystemDatabase())
    for value in ("1", "01", "1"):
        record = _records.parse_kernel_record(
            1300, f"audit(1.000:1): arch=fffffffffffffffffffffff syscall={value}"
        )
        assert json.loads(interpreter.fields_json(record)[0])["syscall"] == value
        assert interpreter.interpret(record)["syscall"] == value


# ---- generated input ---------------------------------------------------------------

_NAMES = st.sampled_from(
    ["arch", "syscall", "a0", "a1", "a2", "uid", "auid", "key", "comm", "exe", "mode", "saddr",
     "name", "proctitle", "exit", "success", "ses", "perm", "cap_fp", "msg", "acct", "x", "(uid"]
)  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(["0", "-1", "?", "(null)", "(none)", "c000003e", "3b", "4294967295",
                     '"quoted"', "6C73", "0100644", "0x1f", "", "a:", "b,", "c'", "d)"]),
    st.text(alphabet="0123456789abcdefABCDEF\"'():,=x(\x1b\x7f\u2028é\udcff", max_size=12),
)  # fmt: skip
_TOKENS = st.one_of(
    st.tuples(_NAMES, _VALUES).map(lambda nv: f"{nv[0]}={nv[1]}"),
    st.text(alphabet="ab=( )\x01", max_size=6),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_TOKENS, max_size=12), st.sampled_from([1300, 1302, 1306, 1327, 1400, 1121]))
def test_generated_records_render_like_the_reference(tokens: list[str], record_type: int) -> None:
    body = " ".join(tokens)
    try:
        record = _records.parse_kernel_record(record_type, f"audit(1.000:7): {body}")
    except _records.RecordParseError:
        return
    event = AuditEvent(sequence=7, timestamp=1.0, node=None, records=(record,))
    assert event_json(event) == reference_event_json(event, reference())
    assert event_json(event) == event_json(event)  # memoised second time, same text


@settings(max_examples=600, deadline=None)
@given(st.lists(_TOKENS, max_size=12), st.sampled_from([0, 1300, 1302]))
def test_split_fields_token_memo_equals_whole_body_scan(tokens: list[str], rtype: int) -> None:
    body = " ".join(tokens)
    if "msg=" in body:
        return  # the other path, not memoised
    # _token_pairs on the whole body is the former whole-body scan.
    assert _values.split_fields(body, rtype) == list(_values._token_pairs(body))


@settings(max_examples=3000, deadline=None)
@given(
    st.text(alphabet="0123456789abcdefABCDEFxX+- \t_\u0663", max_size=25),
    st.sampled_from([8, 10, 16]),
)
def test_strtoul_fast_path_equals_the_general_parser(text: str, base: int) -> None:
    def outcome(parse: Any) -> object:
        try:
            return parse(text, base)
        except _cnum.ConversionError:
            return "ERANGE"

    assert outcome(_cnum.strtoul) == outcome(_cnum.strtoul_general)


def test_enriched_records_share_one_read_only_mapping() -> None:
    line = (
        'type=SYSCALL msg=audit(1.000:{}): arch=c000003e syscall=0 uid=0\x1dARCH=x86_64 UID="root"'
    )
    first = _records.parse_log_line(line.format(1))
    second = _records.parse_log_line(line.format(2))
    assert first.enriched is second.enriched
    assert dict(first.enriched) == {"ARCH": "x86_64", "UID": '"root"'}
    with pytest.raises(TypeError):
        first.enriched["UID"] = "x"  # type: ignore[index]


_ENRICHED_LINES = [
    # Translations that differ from what this machine would say: they must win.
    "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0 uid=1000 "
    'auid=1000 gid=1000 key=(null)\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="alice" '
    'GID="staff"',
    # unknown-... translations are retried locally; repeated names keep the last.
    "type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=59 uid=1000 auid=1000 "
    'uid=5\x1dUID="unknown-1000" AUID="bob" AUID="carol" Uid="dave"',
    # A translation for a field the record does not have is ignored.
    'type=PATH msg=audit(1.000:3): item=0 name="/x" ouid=7 ogid=8\x1dOUID="svc" OGID="unknown-8" '
    'NOPE="x"',
    "type=SOCKADDR msg=audit(1.000:4): saddr=0200003582D8A1FE0000000000000000\x1dSADDR={ "
    "saddr_fam=inet laddr=130.216.161.254 lport=53 }",
    "type=USER_LOGIN msg=audit(1.000:5): pid=1 uid=0 auid=1000 ses=2 msg='op=login id=1000 "
    'exe="/usr/sbin/sshd" res=success\'\x1dUID="root" AUID="eve" ID="eve"',
]


@pytest.mark.parametrize("use_enrichment", [True, False])
def test_enrichment_overrides_match_the_reference(use_enrichment: bool) -> None:
    interpreter = Interpreter(StaticSystemDatabase(), use_enrichment=use_enrichment)
    unmemoised = reference(StaticSystemDatabase(), use_enrichment=use_enrichment)
    for line in _ENRICHED_LINES * 2:  # the second round comes from the memos
        record = _records.parse_log_line(line)
        expected = unmemoised.interpret(record)
        assert interpreter.fields_json(record)[0] == json.dumps(
            expected, ensure_ascii=False, separators=(",", ":")
        )
    record = _records.parse_log_line(_ENRICHED_LINES[0])
    assert json.loads(interpreter.fields_json(record)[0])["uid"] == (
        "alice" if use_enrichment else "unknown(1000)"
    )


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(_NAMES, _VALUES), min_size=1, max_size=8),
    st.lists(
        st.tuples(
            st.sampled_from(["UID", "AUID", "ARCH", "SYSCALL", "KEY", "MODE", "Uid", "X"]),
            st.sampled_from(['"root"', '"alice"', "unknown-5", "x86_64", '"a\x1bb"', ""]),
        ),
        max_size=6,
    ),
)
def test_generated_enrichment_renders_like_the_reference(
    fields: list[tuple[str, str]], translations: list[tuple[str, str]]
) -> None:
    body = " ".join(f"{name}={value}" for name, value in fields)
    extra = " ".join(f"{name}={value}" for name, value in translations)
    try:
        record = _records.parse_log_line(f"type=SYSCALL msg=audit(1.000:9): {body}\x1d{extra}")
    except _records.RecordParseError:
        return
    interpreter = Interpreter(StaticSystemDatabase({0: "root"}))
    expected = reference(StaticSystemDatabase({0: "root"}))
    for _ in range(2):
        assert interpreter.fields_json(record)[0] == json.dumps(
            expected.interpret(record), ensure_ascii=False, separators=(",", ":")
        )


_RECORD_HEADERS = st.builds(
    lambda length, kind, rest: NLMSG_HEADER.pack(length, kind, 0, 0, 0) + rest,
    st.integers(0, 2**32 - 1),
    st.one_of(
        st.sampled_from([1, 2, 3, 1000, 1005, 1006, 1300, 1320, 1329, 2100]),
        st.integers(0, 2**16 - 1),
    ),
    st.binary(max_size=64),
)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_RECORD_HEADERS, st.binary(max_size=40)))
@example(NLMSG_HEADER.pack(25, 1, 0, 0, 0) + bytes(17) + b"\x05" + bytes(10))
def test_reader_fast_path_agrees_with_the_datagram_decoder(data: bytes) -> None:
    fast = record_of_datagram(data)
    try:
        messages = decode_datagram(data)
    except AuditProtocolError:
        assert fast is None
        return
    if fast is None:
        # Not a record datagram: the reader's general path takes it (a record
        # may still follow a control message in one datagram; that path finds it).
        assert not messages or not messages[0].is_record
    else:
        assert [(m.type, m.payload, m.is_record) for m in messages] == [(*fast, True)]


def test_raw_event_json_equals_the_reference(
    events: list[AuditEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    for event in events:
        assert render_event(event, "json", raw=True) == reference_json(event.to_dict(raw=True))
    monkeypatch.setattr(_output, "_RAW_MEMO_LIMIT", 3)  # cleared again and again
    for event in events[:3000]:
        assert event_json(event, raw=True) == reference_json(event.to_dict(raw=True))


@settings(max_examples=400, deadline=None)
@given(st.lists(_TOKENS, max_size=12), st.sampled_from([1300, 1309, 1327, 1005, 1121]))
def test_generated_records_render_raw_like_the_reference(tokens: list[str], rtype: int) -> None:
    try:
        record = _records.parse_kernel_record(rtype, f"audit(1.000:7): {' '.join(tokens)}")
    except _records.RecordParseError:
        return
    event = AuditEvent(sequence=7, timestamp=1.0, node=None, records=(record,))
    assert event_json(event, raw=True) == reference_json(event.to_dict(raw=True))
