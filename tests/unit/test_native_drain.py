"""The compiled core's socket drain decodes datagrams as the reference decoder does.

``_core.Drain`` (trioaudit/_native/live.c) reads, parses and reassembles in one C call;
:class:`~trioaudit._trio.eventstream.DatagramDecoder` is the Python reference of the same
contract. Both get the same datagrams -- every corpus record as the kernel sends it,
hostile and malformed datagrams, generated ones -- and must give equal events (every
record's every field), the same other traffic in the same order, and the same counters.
``drain(fd)`` is checked against ``take()`` over a real datagram socket.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.peer.logs import ALL as LOGS
from tests.support.synthetic import synthetic_lines
from trioaudit import _native
from trioaudit._records.model import AuditEvent, AuditRecord
from trioaudit._records.parse import (
    MAX_RECORD_LENGTH,
    RecordParseError,
    parse_log_line,
    reference_parse_kernel_record,
)
from trioaudit._records.reassembly import Reassembler, make_reassembler
from trioaudit._trio.eventstream import (
    DatagramDecoder,
    DecodedBatch,
    NativeDatagramDecoder,
    make_datagram_decoder,
)
from trioaudit._trio.transport import Overflow
from trioaudit._wire.netlink import record_text

pytestmark = pytest.mark.skipif(
    _native.core is None, reason=f"no compiled core: {_native.CORE_PROBLEM}"
)

_HEADER = struct.Struct("=IHHII")


def datagram(msg_type: int, payload: bytes, *, length: int | None = None) -> bytes:
    """A netlink message as kauditd sends a record (nlmsg_len without the header)."""
    size = len(payload) if length is None else length
    return _HEADER.pack(size, msg_type, 0, 0, 0) + payload


class _Parser:
    """The decoders' parse hook: the reference parser, unparsable records counted."""

    def __init__(self) -> None:
        self.unparsable = 0

    def __call__(self, msg_type: int, payload: bytes) -> AuditRecord | None:
        try:
            return reference_parse_kernel_record(msg_type, record_text(payload))
        except RecordParseError:
            self.unparsable += 1
            return None


def _record_view(r: AuditRecord) -> tuple[Any, ...]:
    return (r.type, r.type_name, r.timestamp, r.sequence, r.node, r.raw, r.items, r.enriched)


def _events_view(events: list[AuditEvent]) -> list[tuple[Any, ...]]:
    return [
        (e.sequence, e.timestamp, e.node, e.eoe, [_record_view(r) for r in e.records])
        for e in events
    ]


def _batch_view(batch: DecodedBatch) -> tuple[Any, ...]:
    return (_events_view(batch.events), *batch[1:])


class _Pair:
    """The reference decoder (Python reassembler) and the core's, fed alike."""

    def __init__(self, **options: Any) -> None:
        self.reference_parse, self.native_parse = _Parser(), _Parser()
        self.reference = DatagramDecoder(Reassembler(**options), self.reference_parse)
        self.native_reassembler = make_reassembler(**options)
        native = make_datagram_decoder(self.native_reassembler, self.native_parse)
        assert isinstance(native, NativeDatagramDecoder)
        self.native = native
        self.reference_reassembler = self.reference._reassembler

    def take(self, items: list[Any], clock: float) -> DecodedBatch:
        expected = self.reference.take(items, clock)
        got = self.native.take(items, clock)
        assert _batch_view(got) == _batch_view(expected)
        assert all(type(e) is AuditEvent for e in got.events)
        assert self.native_parse.unparsable == self.reference_parse.unparsable
        assert self.native_reassembler.statistics() == self.reference_reassembler.statistics()
        return got

    def finish(self) -> None:
        assert _events_view(self.native_reassembler.flush_all()) == _events_view(
            self.reference_reassembler.flush_all()
        )


def _corpus_payloads() -> Iterator[tuple[int, bytes]]:
    """Every corpus record as the kernel would send it: (type, b"audit(...): body")."""
    for log in LOGS:
        with open(log, "rb") as lines:
            for line in lines:
                try:
                    record = parse_log_line(line)
                except RecordParseError:
                    continue
                if record.node is None:
                    yield record.type, line[line.index(b"audit(") :].split(b"\x1d")[0]
    for text in synthetic_lines():
        with_bytes = text.encode("utf-8", "surrogateescape")
        try:
            record = parse_log_line(with_bytes)
        except RecordParseError:
            continue
        yield record.type, with_bytes[with_bytes.index(b"audit(") :]


_PAYLOADS = list(_corpus_payloads())


@pytest.mark.parametrize("batch", [1, 7, 2048])
def test_every_corpus_record_decodes_the_same(batch: int) -> None:
    assert len(_PAYLOADS) > 15_000
    pair = _Pair()
    items: list[Any] = [(datagram(kind, payload + b"\0"), 0) for kind, payload in _PAYLOADS]
    events = records = 0
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        got = pair.take(chunk, 1000.0 + start / 1000)
        events += len(got.events)
        records += got.records
        assert got.datagrams == len(chunk) and not got.others
    pair.finish()
    assert records == len(_PAYLOADS) and events > 5_000


_STAMP = b"audit(1700000000.123:42): "

#: Each is one datagram the reader may meet; none may crash either decoder.
_HOSTILE: list[Any] = [
    b"",
    b"\x10\x00",  # a runt
    _HEADER.pack(20, 2, 0, 1, 0) + struct.pack("=i", 0),  # an ACK (NLMSG_ERROR, errno 0)
    _HEADER.pack(0, 1000, 0, 0, 0) + b"\0" * 40,  # an AUDIT_GET reply
    datagram(1329, b"1234"),  # AUDIT_REPLACE: ignored, not a record
    datagram(1300, b""),  # no stamp
    datagram(1300, b"no stamp here"),
    datagram(1300, _STAMP + b"comm=\xff\xfe exe=\xc3"),  # not UTF-8: the reference's
    datagram(1300, _STAMP + b"a=1\0\0\n\n\0"),  # trailing NULs and newlines
    datagram(1300, _STAMP + b"a=" + b"x" * MAX_RECORD_LENGTH),  # too long
    datagram(1300, b"audit(99999999999999999999.000:1): a=1"),  # a stamp out of range
    datagram(1300, b"audit(1.000:184467440737095516160000): a=1"),  # a serial beyond 64 bits
    datagram(1005, _STAMP + b"msg='old user message'"),  # AUDIT_USER
    datagram(1006, _STAMP + b"pid=1 old-auid=4294967295 auid=0"),  # AUDIT_LOGIN
    datagram(1320, _STAMP),  # an EOE
    datagram(1400, _STAMP + b'apparmor="DENIED" operation="open"'),
    datagram(1107, _STAMP + b"pid=1 msg='op=x res=success'"),
    datagram(60000, _STAMP + b"unknown=type"),
    datagram(1300, _STAMP + b"a=1", length=3),  # a wrong nlmsg_len: not looked at
    _HEADER.pack(16, 1300, 0, 0, 0)[:15],
    "not a datagram",
    Overflow(),
]


@pytest.mark.parametrize("sender", [0, 4242])
def test_hostile_datagrams_decode_the_same(sender: int) -> None:
    pair = _Pair()
    items = [(d, sender) if isinstance(d, bytes) else d for d in _HOSTILE]
    got = pair.take(items, 5.0)
    pair.take(items, 6.0)  # again: late and repeated records, remembered names
    pair.finish()
    if sender == 0:
        assert got.records == 14
        assert pair.native_parse.unparsable == 2 * 5
    else:
        assert got.records == 0 and len(got.others) == len(items)
    assert got.datagrams == sum(isinstance(d, bytes) for d in _HOSTILE)
    assert got.bytes == sum(len(d) for d in _HOSTILE if isinstance(d, bytes))


def test_odd_items_are_handed_back_untouched() -> None:
    pair = _Pair()
    odd: list[Any] = [(b"x" * 20, "port"), (b"y" * 20,), ("text", 0), (b"z" * 20, -1), (b"", 2**40)]
    got = pair.take(odd, 1.0)
    assert got.others[:4] == odd[:4]


_TYPES = st.sampled_from(
    [1300, 1302, 1307, 1309, 1320, 1327, 1105, 1112, 1400, 1005, 1329, 2, 1000]
)
_BODIES = st.one_of(
    st.binary(max_size=80),
    st.builds(lambda b: _STAMP + b, st.binary(max_size=80)),
    st.builds(
        lambda s, n, b: b"audit(%d.%03d:%d): " % (s, n % 1000, n) + b,
        st.integers(0, 2**40),
        st.integers(0, 2**70),
        st.binary(max_size=40),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_TYPES, _BODIES, st.sampled_from([0, 0, 0, 7])), max_size=40))
def test_generated_datagrams_decode_the_same(steps: list[tuple[int, bytes, int]]) -> None:
    pair = _Pair(timeout=0.5)
    for i, (kind, body, sender) in enumerate(steps):
        pair.take([(datagram(kind, body), sender)], i / 4)
    pair.finish()


def _socket_pair() -> tuple[socket.socket, socket.socket]:
    reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader.setblocking(False)
    return reader, writer


def test_draining_a_socket_is_taking_its_datagrams() -> None:
    """Over a real socket (AF_UNIX here: its peer counts as the kernel, sender 0).

    Datagrams go in by eights (an AF_UNIX datagram queue holds ten by default) and come
    out three per call, so that ``full`` is seen and the rest waits for the next call.
    """
    reader, writer = _socket_pair()
    items = [(datagram(kind, payload), 0) for kind, payload in _PAYLOADS[:3000]]
    took = _Pair()
    drained = NativeDatagramDecoder(make_reassembler(), _Parser())
    events: list[AuditEvent] = []
    expected: list[AuditEvent] = []
    full = 0
    with reader, writer:
        for start in range(0, len(items), 8):
            chunk = items[start : start + 8]
            for data, _ in chunk:
                writer.send(data)
            for _ in range(len(chunk) + 1):
                got = drained.drain(reader.fileno(), 3, 7.0)
                assert got.error == 0 and got.overflows == 0 and not got.others
                events += got.events
                full += got.full
                if not got.datagrams:
                    break
            else:
                pytest.fail("the socket never came out empty")
            expected += took.take(chunk, 7.0).events
        assert _events_view(events) == _events_view(expected) and len(events) > 500
        assert full > 0
        empty = drained.drain(reader.fileno(), 64, 8.0)
        assert empty == DecodedBatch([], [], 0, 0, 0, 0, False, 0)


def test_a_read_error_is_returned_after_the_batch() -> None:
    reader, writer = _socket_pair()
    decoder = NativeDatagramDecoder(make_reassembler(), _Parser())
    with writer:
        fd = reader.detach()
        os.close(fd)
        got = decoder.drain(fd, 16, 1.0)
    assert got.error == errno.EBADF and got.datagrams == 0


def test_the_fallback_decoder_is_chosen_without_the_core_reassembler() -> None:
    assert isinstance(make_datagram_decoder(Reassembler(), _Parser()), DatagramDecoder)
    native = make_reassembler()
    assert isinstance(make_datagram_decoder(native, _Parser(), parse_fields=False), DatagramDecoder)


# ---- the reader's wake-up timer ------------------------------------------------------


def test_the_wake_timer_fires_once_after_its_delay_and_at_once_when_rearmed() -> None:
    assert _native.core is not None
    timer = _native.core.WakeTimer()
    try:
        assert select.select([timer], [], [], 0)[0] == []  # not armed: never readable
        started = time.monotonic()
        timer.arm(0.05)
        assert select.select([timer], [], [], 5)[0] == [timer]
        assert time.monotonic() - started >= 0.045
        timer.clear()
        assert select.select([timer], [], [], 0.1)[0] == []  # consumed: quiet again
        timer.arm(30.0)
        timer.arm(0.0)  # what a request does: fire now, whatever was armed
        assert select.select([timer], [], [], 1)[0] == [timer]
        timer.clear()
        timer.clear()  # nothing to consume: no error
    finally:
        timer.close()
    timer.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        timer.arm(0.01)
    with pytest.raises(ValueError, match="closed"):
        timer.fileno()
