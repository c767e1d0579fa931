"""Fuzz the request/reply state machine and the status struct decoder.

The input is split into a few requests (types chosen by the fuzzer) and a
sequence of datagrams, some built from valid headers that echo pending
sequence numbers so the matching logic is reached, some raw. Invariants:

* ``receive_datagram`` raises nothing but AuditProtocolError;
* a request completes at most once, and only requests we sent complete;
* every record in a datagram is reported (never swallowed);
* ``AuditStatus.from_bytes`` raises nothing but AuditProtocolError.

Run: ``.venv/bin/python fuzz/fuzz_protocol.py -atheris_runs=1000000``
"""

from __future__ import annotations

import struct

import atheris

with atheris.instrument_imports(include=["trioaudit"]):
    from trioaudit._errors import AuditProtocolError
    from trioaudit._wire.netlink import NLMSG_HEADER
    from trioaudit._wire.protocol import AuditProtocol, RecordReceived, RequestCompleted
    from trioaudit._wire.status import AuditStatus

from _common import run

_REQUEST_TYPES = (1000, 1001, 1010, 1011, 1012, 1013, 1016, 1019)
_REPLY_TYPES = (1, 2, 3, 1000, 1013, 1019, 1300, 1305, 1320)


def _datagram(fdp: atheris.FuzzedDataProvider, seqs: list[int]) -> bytes:
    if fdp.ConsumeBool():
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))
    parts = []
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        msg_type = fdp.PickValueInList(list(_REPLY_TYPES))
        seq = (
            fdp.PickValueInList(seqs)
            if seqs and fdp.ConsumeBool()
            else fdp.ConsumeInt(4) & 0xFFFFFFFF
        )
        if msg_type == 2:
            code = fdp.PickValueInList([0, -1, -17, -22, 5])
            echoed = NLMSG_HEADER.pack(16, fdp.PickValueInList(list(_REQUEST_TYPES)), 5, seq, 0)
            body = struct.pack("=i", code) + (echoed if fdp.ConsumeBool() else b"")
        else:
            body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 48))
        length = 16 + len(body)
        if fdp.ConsumeIntInRange(0, 9) == 0:
            length = fdp.ConsumeInt(4) & 0xFFFFFFFF
        padded = body + b"\0" * (-len(body) % 4)
        parts.append(
            NLMSG_HEADER.pack(length, msg_type, fdp.ConsumeInt(2) & 0xFFFF, seq, 0) + padded
        )
    return b"".join(parts)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    protocol = AuditProtocol(first_seq=fdp.ConsumeInt(4))
    sent: dict[int, int] = {}
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        msg_type = fdp.PickValueInList(list(_REQUEST_TYPES))
        seq, _wire = protocol.build_request(msg_type)
        sent[seq] = msg_type
    completed: set[int] = set()
    for _ in range(fdp.ConsumeIntInRange(0, 6)):
        datagram = _datagram(fdp, list(sent))
        sender = 0 if fdp.ConsumeIntInRange(0, 7) else fdp.ConsumeIntInRange(1, 5)
        try:
            events = protocol.receive_datagram(datagram, sender)
        except AuditProtocolError:
            continue
        records = sum(isinstance(event, RecordReceived) for event in events)
        assert records <= 1
        for event in events:
            if isinstance(event, RequestCompleted):
                assert event.seq in sent and event.seq not in completed, event
                assert event.request_type == sent[event.seq]
                completed.add(event.seq)
    assert protocol.pending <= set(sent)
    try:
        status = AuditStatus.from_bytes(fdp.ConsumeBytes(fdp.remaining_bytes()))
    except AuditProtocolError:
        return
    status.as_dict()


SEEDS = [bytes(64), bytes(range(256)), b"\x01" * 100]

if __name__ == "__main__":
    run("protocol", test_one_input, SEEDS)
