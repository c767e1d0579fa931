"""Property tests (hypothesis) of the sans-IO core: netlink codec, status struct, protocol.

The atheris harnesses under ``fuzz/`` run the same invariants for millions of
inputs; these keep a modest number of examples in the suite so a regression
is caught by ``pytest`` too.

Invariants:

* codec: any list of control messages survives encode -> concatenate ->
  decode unchanged; an audit record always ends the datagram and its text
  round-trips byte for byte (``surrogateescape``); arbitrary bytes, or a valid
  datagram with bytes flipped, raise nothing but :class:`AuditProtocolError`.
* status: every ``AUDIT_SET`` payload decodes to the values that were set;
  any byte string decodes or raises :class:`AuditProtocolError`.
* protocol (a state machine): each request completes exactly once, with its
  own type, the right errno and its own replies, whatever order ACKs, replies
  and records arrive in, and whatever the caller forgot (cancelled).
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from trioaudit import AuditProtocolError
from trioaudit._wire.netlink import (
    FIRST_RECORD_TYPE,
    LOW_RECORD_TYPES,
    NLMSG_HEADER,
    NetlinkMessage,
    decode_datagram,
    decode_error_payload,
    encode_message,
    record_text,
)
from trioaudit._wire.protocol import AuditProtocol, RecordReceived, RequestCompleted
from trioaudit._wire.status import STATUS_FIELDS, AuditStatus, StatusMask, encode_status_request

control_types = st.integers(0, FIRST_RECORD_TYPE - 1).filter(lambda t: t not in LOW_RECORD_TYPES)
record_types = st.integers(FIRST_RECORD_TYPE, 0xFFFF) | st.sampled_from(sorted(LOW_RECORD_TYPES))
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)

control_messages = st.builds(
    NetlinkMessage,
    type=control_types,
    flags=u16,
    seq=u32,
    pid=u32,
    payload=st.binary(max_size=64),
)


def encode(message: NetlinkMessage) -> bytes:
    return encode_message(
        message.type, message.payload, seq=message.seq, flags=message.flags, pid=message.pid
    )


@settings(max_examples=300)
@given(st.lists(control_messages, min_size=1, max_size=6))
def test_control_messages_round_trip_in_one_datagram(messages: list[NetlinkMessage]) -> None:
    assert decode_datagram(b"".join(encode(message) for message in messages)) == messages


@settings(max_examples=300)
@given(
    st.lists(control_messages, max_size=3),
    record_types,
    st.binary(max_size=300).filter(lambda b: not b.endswith((b"\0", b"\n"))),
    u32,
)
def test_a_record_ends_the_datagram_and_its_text_round_trips(
    before: list[NetlinkMessage], msg_type: int, text: bytes, wrong_length: int
) -> None:
    # The record header carries an arbitrary (untrustworthy) nlmsg_len.
    record = NLMSG_HEADER.pack(wrong_length, msg_type, 0, 0, 0) + text + b"\0" * 3
    decoded = decode_datagram(b"".join(encode(message) for message in before) + record)
    assert decoded[:-1] == before
    last = decoded[-1]
    assert last.is_record and last.type == msg_type
    assert record_text(last.payload).encode("utf-8", "surrogateescape") == text


@settings(max_examples=500)
@given(st.lists(control_messages, min_size=1, max_size=3), st.data())
def test_mutated_valid_datagrams_only_raise_protocol_error(
    messages: list[NetlinkMessage], data: st.DataObject
) -> None:
    datagram = bytearray(b"".join(encode(message) for message in messages))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(datagram) - 1))
        datagram[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(datagram)))
    try:
        decoded = decode_datagram(bytes(datagram[:cut]))
    except AuditProtocolError:
        return
    for message in decoded:
        assert len(message.payload) <= cut
        if message.type == 2:
            with contextlib.suppress(AuditProtocolError):
                decode_error_payload(message)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_record_text_never_raises_and_is_reversible(payload: bytes) -> None:
    text = record_text(payload)
    assert text.encode("utf-8", "surrogateescape") == payload.rstrip(b"\0\n")


# ---- status -------------------------------------------------------------------------

_SETTABLE = [name for name in STATUS_FIELDS[1:]]


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(_SETTABLE), u32, min_size=1))
def test_status_request_decodes_to_what_was_set(values: dict[str, int]) -> None:
    mask = StatusMask(0)
    for bit in StatusMask:
        if bit.name and bit.name.lower() in values:
            mask |= bit
    status = AuditStatus.from_bytes(encode_status_request(mask, **values))
    assert status.mask == mask
    for name in _SETTABLE:
        assert getattr(status, name) == values.get(name, 0)


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_status_decoder_only_raises_protocol_error(data: bytes) -> None:
    try:
        status = AuditStatus.from_bytes(data)
    except AuditProtocolError:
        assert len(data) < 32
        return
    fields = status.as_dict()
    present = min(len(data), 44) // 4
    assert [value is not None for value in fields.values()] == [
        index < present for index in range(len(STATUS_FIELDS))
    ]


# ---- protocol state machine ---------------------------------------------------------

#: Request types and what they wait for (the protocol's own table, restated).
REQUEST_KINDS = {1000: "reply", 1019: "reply", 1013: "dump", 1001: "ack", 1011: "ack"}
ERRNOS = st.sampled_from([0, 0, 0, -1, -17, -22, 5])


@dataclass
class Expected:
    """What the test expects of one outstanding request."""

    type: int
    errno: int | None = None
    acked: bool = False
    ack: int = 0
    done: bool = False
    replies: list[bytes] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return REQUEST_KINDS[self.type]


class ProtocolMachine(RuleBasedStateMachine):
    """Drive :class:`AuditProtocol` with every order of ACKs, replies and records."""

    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.protocol = AuditProtocol(first_seq=0xFFFFFFF0)  # exercise wrap-around
        self.expect: dict[int, Expected] = {}
        self.records_sent = 0
        self.records_seen = 0

    def feed(self, datagram: bytes, sender: int = 0) -> None:
        for event in self.protocol.receive_datagram(datagram, sender):
            if isinstance(event, RecordReceived):
                self.records_seen += 1
                continue
            assert isinstance(event, RequestCompleted)
            assert event.seq in self.expect, "completion for a request nobody waits for"
            state = self.expect.pop(event.seq)
            assert event.request_type == state.type
            if state.errno is not None:
                assert event.error == state.errno and event.replies == ()
            else:
                assert state.acked and (state.kind == "ack" or state.done)
                assert event.error == state.ack
                assert [reply.payload for reply in event.replies] == state.replies

    @rule(target=requests, msg_type=st.sampled_from(sorted(REQUEST_KINDS)))
    def send(self, msg_type: int) -> int:
        seq, wire = self.protocol.build_request(msg_type)
        (sent,) = decode_datagram(wire)
        assert sent.seq == seq != 0 and sent.type == msg_type
        assert seq not in self.expect
        self.expect[seq] = Expected(msg_type)
        return seq

    @rule(seq=requests, code=ERRNOS)
    def ack(self, seq: int, code: int) -> None:
        state = self.expect.get(seq)
        if state is None or state.acked:
            return
        echoed = NLMSG_HEADER.pack(16, state.type, 5, seq, 0)
        if code < 0:
            state.errno = code
        else:
            state.acked, state.ack = True, code
        self.feed(encode_message(2, struct.pack("=i", code) + echoed, seq=seq, flags=0x100))

    @rule(seq=requests, payload=st.binary(min_size=1, max_size=24))
    def reply(self, seq: int, payload: bytes) -> None:
        state = self.expect.get(seq)
        if state is None or state.kind == "ack" or state.done:
            return
        state.replies.append(payload)
        state.done = state.kind == "reply"
        flags = 0x2 if state.kind == "dump" else 0
        self.feed(encode_message(state.type, payload, seq=seq, flags=flags))

    @rule(seq=requests)
    def done(self, seq: int) -> None:
        state = self.expect.get(seq)
        if state is None or state.kind != "dump" or state.done:
            return
        state.done = True
        self.feed(encode_message(3, b"\0\0\0\0", seq=seq, flags=0x2))

    @rule(seq=consumes(requests))
    def forget(self, seq: int) -> None:
        self.protocol.forget(seq)
        self.expect.pop(seq, None)

    @rule(text=st.binary(max_size=40), msg_type=record_types)
    def record(self, text: bytes, msg_type: int) -> None:
        self.records_sent += 1
        self.feed(NLMSG_HEADER.pack(len(text), msg_type, 0, 0, 0) + text)

    @rule(seq=u32)
    def stray_ack(self, seq: int) -> None:
        if seq in self.expect:
            return
        before = self.protocol.stats.unmatched
        self.feed(
            encode_message(
                2, struct.pack("=i", 0) + NLMSG_HEADER.pack(16, 1000, 5, seq, 0), seq=seq
            )
        )
        assert self.protocol.stats.unmatched == before + 1

    @precondition(lambda self: bool(self.expect))
    @rule(data=st.data())
    def spoofed(self, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from(sorted(self.expect)))
        echoed = NLMSG_HEADER.pack(16, 1000, 5, seq, 0)
        self.feed(encode_message(2, struct.pack("=i", -1) + echoed, seq=seq), sender=4242)

    @rule(tail=st.binary(max_size=40), msg_type=control_types, short=st.booleans())
    def malformed(self, tail: bytes, msg_type: int, short: bool) -> None:
        # Either shorter than a header, or a control message claiming more than is there.
        datagram = (
            tail[:15] if short else NLMSG_HEADER.pack(len(tail) + 17, msg_type, 0, 1, 0) + tail
        )
        pending = self.protocol.pending
        try:
            self.feed(datagram)
        except AuditProtocolError:
            assert self.protocol.pending == pending
        else:
            raise AssertionError("malformed datagram accepted")

    @invariant()
    def bookkeeping(self) -> None:
        assert self.records_seen == self.records_sent
        assert set(self.expect) == set(self.protocol.pending)


TestProtocolMachine = ProtocolMachine.TestCase
TestProtocolMachine.settings = settings(
    max_examples=150, stateful_step_count=30, suppress_health_check=[HealthCheck.too_slow]
)
