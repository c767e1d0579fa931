"""The request/reply state machine, driven with canned datagrams (no sockets)."""

from __future__ import annotations

import struct

import pytest

from trioaudit import AuditProtocolError
from trioaudit._wire.netlink import NLMSG_HEADER, NetlinkFlag, encode_message
from trioaudit._wire.protocol import AuditProtocol, RecordReceived, RequestCompleted


def ack(seq: int, request_type: int, error: int = 0) -> bytes:
    echoed = NLMSG_HEADER.pack(16, request_type, 5, seq, 0)
    return encode_message(2, struct.pack("=i", error) + echoed, seq=seq, flags=0x100)


def record(text: bytes, msg_type: int = 1300) -> bytes:
    return NLMSG_HEADER.pack(len(text), msg_type, 0, 0, 0) + text  # the unicast length quirk


def test_get_waits_for_ack_and_reply_in_either_order() -> None:
    for order in ("ack-first", "reply-first"):
        proto = AuditProtocol()
        seq, data = proto.build_request(1000)
        assert NLMSG_HEADER.unpack_from(data)[2] == NetlinkFlag.REQUEST | NetlinkFlag.ACK
        reply = encode_message(1000, b"\0" * 44, seq=seq, flags=0)
        first, second = (ack(seq, 1000), reply) if order == "ack-first" else (reply, ack(seq, 1000))
        assert proto.receive_datagram(first) == []
        (done,) = proto.receive_datagram(second)
        assert isinstance(done, RequestCompleted)
        assert done.seq == seq and not done.failed and len(done.replies) == 1
        assert proto.pending == frozenset()


def test_set_completes_on_ack_and_keeps_positive_ack_value() -> None:
    proto = AuditProtocol()
    seq, _ = proto.build_request(1001)
    (done,) = proto.receive_datagram(ack(seq, 1001, error=1234))
    assert isinstance(done, RequestCompleted) and done.error == 1234 and not done.failed


def test_ack_value_past_2_31_is_a_value_not_an_errno() -> None:
    # reset-lost returns the old lost count in the ACK's signed error field: a
    # count of 2**31 or more arrives negative but is no errno (> MAX_ERRNO).
    proto = AuditProtocol()
    seq, _ = proto.build_request(1001)
    (done,) = proto.receive_datagram(ack(seq, 1001, error=-(2**31)))
    assert isinstance(done, RequestCompleted) and not done.failed and done.error == 2**31
    seq, _ = proto.build_request(1001)
    (done,) = proto.receive_datagram(ack(seq, 1001, error=-4095))
    assert isinstance(done, RequestCompleted) and done.failed


def test_negative_errno_fails_at_once() -> None:
    proto = AuditProtocol()
    seq, _ = proto.build_request(1000)
    (done,) = proto.receive_datagram(ack(seq, 1000, error=-1))
    assert isinstance(done, RequestCompleted) and done.failed and done.error == -1


def test_dump_collects_until_done_and_ack() -> None:
    proto = AuditProtocol()
    seq, data = proto.build_request(1013)
    assert NLMSG_HEADER.unpack_from(data)[2] & NetlinkFlag.DUMP == NetlinkFlag.DUMP
    assert proto.receive_datagram(ack(seq, 1013)) == []
    parts = b"".join(
        encode_message(1013, bytes([i]) * 8, seq=seq, flags=NetlinkFlag.MULTI) for i in range(3)
    )
    assert proto.receive_datagram(parts) == []
    (done,) = proto.receive_datagram(encode_message(3, b"\0" * 4, seq=seq, flags=2))
    assert isinstance(done, RequestCompleted)
    assert [m.payload[0] for m in done.replies] == [0, 1, 2]


def test_records_interleaved_with_replies_are_never_swallowed() -> None:
    proto = AuditProtocol()
    seq, _ = proto.build_request(1000)
    events = proto.receive_datagram(record(b"audit(1.000:1): a=b"))
    assert isinstance(events[0], RecordReceived)
    proto.receive_datagram(ack(seq, 1000))
    events = proto.receive_datagram(record(b"audit(1.000:2): c=d", 1320))
    assert isinstance(events[0], RecordReceived) and events[0].message.type == 1320
    assert seq in proto.pending


def test_concurrent_requests_match_by_sequence_number() -> None:
    proto = AuditProtocol()
    seqs = [proto.build_request(1001)[0] for _ in range(5)]
    assert len(set(seqs)) == 5
    completed = []
    for seq in reversed(seqs):
        completed += proto.receive_datagram(ack(seq, 1001))
    assert [c.seq for c in completed if isinstance(c, RequestCompleted)] == list(reversed(seqs))


def test_foreign_sender_and_unmatched_reply_are_counted_and_ignored() -> None:
    proto = AuditProtocol()
    seq, _ = proto.build_request(1001)
    assert proto.receive_datagram(ack(seq, 1001), sender=4321) == []
    assert proto.stats.foreign_senders == 1
    proto.forget(seq)
    assert proto.receive_datagram(ack(seq, 1001)) == []
    assert proto.stats.unmatched == 1


def test_sequence_numbers_wrap_and_skip_zero_and_pending() -> None:
    proto = AuditProtocol(first_seq=0xFFFFFFFF)
    first, _ = proto.build_request(1001)
    second, _ = proto.build_request(1001)
    assert (first, second) == (0xFFFFFFFF, 1)


def test_malformed_datagram_raises_and_leaves_state_usable() -> None:
    proto = AuditProtocol()
    seq, _ = proto.build_request(1001)
    with pytest.raises(AuditProtocolError):
        proto.receive_datagram(b"\x01\x02")
    (done,) = proto.receive_datagram(ack(seq, 1001))
    assert isinstance(done, RequestCompleted)
