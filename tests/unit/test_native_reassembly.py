"""The compiled core's reassembler is the reference's: same events, same counters.

Both are fed the same records and the same clock, step by step; after every step the
completed events (their stamp, node, ``eoe`` flag and the very record objects, in
order), the counters and the next deadline must be equal. On every real log, in both
emission orders and with a tiny ``max_open`` (evictions, out-of-turn releases), and on
generated streams that mix nodes, late and repeated records, EOEs, serial gaps, resets
and serials beyond 64 bits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.peer.logs import ALL as LOGS
from tests.support.synthetic import synthetic_lines
from trioaudit import _native
from trioaudit._records import reassembly
from trioaudit._records.model import AuditEvent, AuditRecord
from trioaudit._records.parse import RecordParseError, parse_log_line
from trioaudit._records.reassembly import Reassembler, make_reassembler

pytestmark = pytest.mark.skipif(
    _native.core is None, reason=f"no compiled core: {_native.CORE_PROBLEM}"
)


def _view(events: list[AuditEvent]) -> list[tuple[Any, ...]]:
    return [
        (e.sequence, type(e.sequence), e.timestamp, e.node, e.eoe, tuple(map(id, e.records)))
        for e in events
    ]


class _Pair:
    """The reference and the core's reassembler, driven together."""

    def __init__(self, **options: Any) -> None:
        self.reference = Reassembler(**options)
        self.native = make_reassembler(**options)
        assert type(self.native) is not Reassembler

    def check(self, done: list[AuditEvent], native_done: list[AuditEvent]) -> None:
        assert _view(native_done) == _view(done)
        assert all(type(e) is AuditEvent for e in native_done)
        assert self.native.statistics() == self.reference.statistics()
        assert self.native.next_deadline() == self.reference.next_deadline()

    def feed(self, record: AuditRecord, now: float) -> None:
        self.check(self.reference.feed(record, now), self.native.feed(record, now))

    def flush_expired(self, now: float) -> None:
        self.check(self.reference.flush_expired(now), self.native.flush_expired(now))

    def flush_all(self) -> None:
        self.check(self.reference.flush_all(), self.native.flush_all())


def _records() -> Iterator[AuditRecord]:
    for log in LOGS:
        with open(log, "rb") as lines:
            for line in lines:
                with contextlib.suppress(RecordParseError):
                    yield parse_log_line(line)
    for text in synthetic_lines():
        with contextlib.suppress(RecordParseError):
            yield parse_log_line(text)


_ALL = list(_records())


@pytest.mark.parametrize("stamp_order", [True, False], ids=["stamp-order", "as-completed"])
@pytest.mark.parametrize("max_open", [1024, 3])
@pytest.mark.parametrize("timeout", [2.0, 0.0])
def test_every_log_reassembles_the_same(stamp_order: bool, max_open: int, timeout: float) -> None:
    assert len(_ALL) > 18_000
    pair = _Pair(timeout=timeout, max_open=max_open, stamp_order=stamp_order)
    for record in _ALL:
        pair.feed(record, record.timestamp)
    pair.flush_all()
    stats = pair.native.statistics()
    assert stats.completed > 5_000 and stats.gaps > 0 and stats.late > 0
    if max_open == 3:
        assert stats.evicted > 0


def test_feed_records_is_feed_of_each() -> None:
    native = make_reassembler(stamp_order=True)
    reference = Reassembler(stamp_order=True)
    done = native.feed_records(_ALL, None) + native.flush_all()
    expected = reference.feed_records(_ALL, None) + reference.flush_all()
    assert _view(done) == _view(expected)
    clocked = make_reassembler()
    assert _view(clocked.feed_records(_ALL[:500], 5.0)) == _view(
        Reassembler().feed_records(_ALL[:500], 5.0)
    )


def test_nodes_beyond_the_limit_are_forgotten_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    pair = _Pair(max_open=10_000)
    count = reassembly.MAX_NODES + 40
    for i in range(count):
        for kind in ("SYSCALL", "PATH"):
            line = f"node=n{i % (count - 3)} type={kind} msg=audit(10.{i % 1000:03d}:{i}): a=1"
            pair.feed(parse_log_line(line), 10.0 + i / 1000)
    pair.flush_all()
    assert pair.native.statistics().evicted > 0


_TYPES = st.sampled_from(
    ["SYSCALL", "PATH", "CWD", "EOE", "PROCTITLE", "USER_LOGIN", "DAEMON_START", "AVC"]
)
_SERIALS = st.sampled_from(
    [1, 2, 3, 4, 9, 40, 1 << 21, 2**63 - 2, 2**63 - 1, 2**63, 2**63 + 2, 2**64 - 1, 2**64 + 5, 7]
)
_STAMPS = st.sampled_from(["1.000", "1.500", "2.000", "4.250", "9.999", "0.001"])
_NODES = st.sampled_from(["", "node=a ", "node=b ", "node=c "])
_STEP = st.one_of(
    st.tuples(st.just("feed"), _NODES, _TYPES, _STAMPS, _SERIALS, st.floats(0, 12)),
    st.tuples(st.just("expire"), st.floats(0, 12)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_STEP, max_size=60),
    st.sampled_from([0.0, 0.5, 2.0]),
    st.sampled_from([1, 2, 4, 1024]),
    st.booleans(),
)
def test_generated_streams_reassemble_the_same(
    steps: list[tuple[Any, ...]], timeout: float, max_open: int, stamp_order: bool
) -> None:
    pair = _Pair(timeout=timeout, max_open=max_open, stamp_order=stamp_order)
    for step in steps:
        if step[0] == "expire":
            pair.flush_expired(step[1])
            continue
        _, node, kind, stamp, serial, now = step
        record = parse_log_line(f"{node}type={kind} msg=audit({stamp}:{serial}): x=1")
        pair.feed(record, now)
    pair.flush_all()


def test_a_bad_record_is_an_error_not_a_crash() -> None:
    native = make_reassembler()
    with pytest.raises(AttributeError):
        native.feed(object(), 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        native.feed(parse_log_line("type=PATH msg=audit(1.0:1): a=1"), "soon")  # type: ignore[arg-type]
    assert native.statistics().open == 0
