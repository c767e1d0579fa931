"""Byte-for-byte tests of the sans-IO netlink codec."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioaudit import AuditProtocolError
from trioaudit._wire.netlink import (
    NLMSG_HDRLEN,
    NLMSG_HEADER,
    NetlinkFlag,
    NetlinkMessage,
    decode_datagram,
    decode_error_payload,
    encode_message,
    record_text,
)

# An ACK for an AUDIT_GET (seq 1) as this machine's kernel sent it.
REAL_ACK = bytes.fromhex(
    "24000000020000010100000000000000" + "00000000" + "10000000e80305000100000000000000"
)
# The AUDIT_GET reply that followed it (a 6.18 kernel: 44-byte audit_status).
REAL_STATUS = bytes.fromhex(
    "3c000000e803000001000000000000000000000000000000010000000000000000000000"
    "4000000000000000000000007f000000983a000000000000"
)
RECORD_TEXT = b"audit(1795716761.598:2): op=set audit_rate_limit=123 old=0 res=1"
#: struct nlmsghdr written out here, not taken from trioaudit: these tests check the
#: codec's layout against it (and the real kernel bytes above), so they can fail.
NLMSGHDR = struct.Struct("=IHHII")


def test_the_public_header_struct_is_struct_nlmsghdr() -> None:
    assert NLMSG_HEADER.format == NLMSGHDR.format
    assert NLMSG_HEADER.size == NLMSG_HDRLEN == 16
    assert NLMSG_HEADER.unpack_from(REAL_ACK) == (36, 2, 0x100, 1, 0)


def test_encode_request_is_padded_and_counts_header_plus_payload() -> None:
    data = encode_message(1000, b"\x01\x02\x03", seq=7)
    assert data == NLMSGHDR.pack(19, 1000, 5, 7, 0) + b"\x01\x02\x03\x00"
    assert len(data) % 4 == 0


def test_encode_rejects_out_of_range_type() -> None:
    with pytest.raises(ValueError):
        encode_message(70000, seq=1)


def test_real_ack_decodes() -> None:
    (message,) = decode_datagram(REAL_ACK)
    assert (message.type, message.flags, message.seq) == (2, 0x100, 1)
    error = decode_error_payload(message)
    assert (error.error, error.request_type, error.request_seq) == (0, 1000, 1)


def test_real_status_reply_decodes() -> None:
    (message,) = decode_datagram(REAL_STATUS)
    assert message.type == 1000 and message.seq == 1
    assert len(message.payload) == 44
    assert not message.is_record


def test_unicast_event_length_excludes_header_and_is_repaired() -> None:
    # Kernel quirk: nlmsg_len = payload length for records sent to the daemon.
    datagram = NLMSGHDR.pack(len(RECORD_TEXT), 1305, 0, 0, 0) + RECORD_TEXT
    (message,) = decode_datagram(datagram)
    assert message.payload == RECORD_TEXT
    assert message.length_repaired
    assert message.is_record


def test_multicast_event_length_is_honest() -> None:
    datagram = NLMSGHDR.pack(16 + len(RECORD_TEXT), 1305, 0, 0, 0) + RECORD_TEXT
    (message,) = decode_datagram(datagram)
    assert message.payload == RECORD_TEXT
    assert not message.length_repaired


def test_event_with_absurd_length_still_yields_whole_datagram() -> None:
    datagram = NLMSGHDR.pack(0xFFFFFFFF, 1300, 0, 0, 0) + RECORD_TEXT
    (message,) = decode_datagram(datagram)
    assert message.payload == RECORD_TEXT


def test_multipart_dump_in_one_datagram() -> None:
    first = encode_message(1013, b"A" * 5, seq=9, flags=NetlinkFlag.MULTI)
    second = encode_message(1013, b"B" * 8, seq=9, flags=NetlinkFlag.MULTI)
    done = encode_message(3, b"\0\0\0\0", seq=9, flags=NetlinkFlag.MULTI)
    messages = decode_datagram(first + second + done)
    assert [m.type for m in messages] == [1013, 1013, 3]
    assert [m.payload for m in messages] == [b"AAAAA", b"B" * 8, b"\0\0\0\0"]


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\x10\x00\x00",
        NLMSGHDR.pack(200, 1000, 0, 1, 0) + b"x" * 8,  # claims more than it has
        NLMSGHDR.pack(8, 2, 0, 1, 0),  # shorter than its own header
    ],
    ids=["empty", "truncated-header", "length-past-end", "length-below-header"],
)
def test_malformed_control_datagrams_raise_protocol_error(datagram: bytes) -> None:
    with pytest.raises(AuditProtocolError):
        decode_datagram(datagram)


def test_stray_trailing_bytes_are_rejected_but_zero_padding_is_fine() -> None:
    good = encode_message(1000, b"abc", seq=1)
    assert len(decode_datagram(good + b"\0\0\0\0")) == 1
    with pytest.raises(AuditProtocolError):
        decode_datagram(good + b"junk")


def test_error_payload_without_echoed_header_uses_message_seq() -> None:
    message = NetlinkMessage(2, 0, 42, 0, struct.pack("=i", -1))
    error = decode_error_payload(message)
    assert (error.error, error.request_seq) == (-1, 42)
    with pytest.raises(AuditProtocolError):
        decode_error_payload(NetlinkMessage(2, 0, 1, 0, b"\x00"))


def test_record_text_strips_nuls_and_keeps_invalid_utf8_recoverable() -> None:
    payload = b"audit(1.000:1): comm=\xff\xfe\0\0"
    text = record_text(payload)
    assert text.endswith("comm=\udcff\udcfe")
    assert text.encode("utf-8", "surrogateescape") == payload.rstrip(b"\0")


@settings(max_examples=300)
@given(st.integers(0, 0xFFFF), st.binary(max_size=300), st.integers(0, 0xFFFFFFFF))
def test_round_trip(msg_type: int, payload: bytes, seq: int) -> None:
    (message,) = decode_datagram(encode_message(msg_type, payload, seq=seq))
    assert message.type == msg_type and message.seq == seq
    if message.is_record:  # >= 1100, and USER/LOGIN (1005/1006)
        # Records take the rest of the datagram, alignment padding included.
        assert message.payload.rstrip(b"\0") == payload.rstrip(b"\0")
    else:
        assert message.payload == payload


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_protocol_error(data: bytes) -> None:
    try:
        messages = decode_datagram(data)
    except AuditProtocolError:
        return
    for message in messages:
        if message.type == 2:
            with contextlib.suppress(AuditProtocolError):
                decode_error_payload(message)
