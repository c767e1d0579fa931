"""Fuzz the netlink codec: arbitrary datagrams may only raise AuditProtocolError.

Also checks, for every datagram that decodes, that re-encoding each control
message gives back a datagram that decodes to the same messages (round trip),
and that NLMSG_ERROR payloads decode without surprises.

Run: ``.venv/bin/python fuzz/fuzz_netlink.py -atheris_runs=1000000``
"""

from __future__ import annotations

import struct

import atheris

with atheris.instrument_imports(include=["trioaudit"]):
    from trioaudit._errors import AuditProtocolError
    from trioaudit._wire.netlink import (
        NLMSG_HEADER,
        NetlinkMessageType,
        decode_datagram,
        decode_error_payload,
        encode_message,
        record_text,
    )

import contextlib

from _common import run


def test_one_input(data: bytes) -> None:
    try:
        messages = decode_datagram(data)
    except AuditProtocolError:
        return
    assert messages, "a datagram that decodes yields at least one message"
    for message in messages:
        if message.is_record:
            assert message is messages[-1], "a record ends the datagram"
            record_text(message.payload)
            continue
        if message.type == NetlinkMessageType.ERROR:
            with contextlib.suppress(AuditProtocolError):
                decode_error_payload(message)
        again = decode_datagram(
            encode_message(
                message.type, message.payload, seq=message.seq, flags=message.flags, pid=message.pid
            )
        )
        assert len(again) == 1 and again[0] == message, (message, again)


SEEDS = [
    NLMSG_HEADER.pack(36, 2, 0x100, 7, 0)
    + struct.pack("=i", 0)
    + NLMSG_HEADER.pack(16, 1000, 5, 7, 0),
    NLMSG_HEADER.pack(60, 1000, 0, 7, 0) + bytes(44),
    NLMSG_HEADER.pack(40, 1300, 0, 0, 0) + b"audit(1700000000.123:42): arch=c000003e",
    NLMSG_HEADER.pack(16, 3, 2, 9, 0),
]

if __name__ == "__main__":
    run("netlink", test_one_input, SEEDS)
