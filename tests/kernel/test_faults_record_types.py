"""Regression: records whose type is below 1100 (USER 1005, LOGIN 1006).

Found by the overflow storm: the kernel logs an old-style user message under
type ``AUDIT_USER`` (1005) and a loginuid change under ``AUDIT_LOGIN`` (1006),
both below the 1100 boundary the codec used to tell records from control
replies. Unicast copies (whose ``nlmsg_len`` excludes the header) were then
rejected as malformed, and multicast copies were taken for unmatched replies
and dropped -- silently losing every login record.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import trio

from tests.support.hardening_helpers import send_user_message
from tests.support.kernelstate import MASK_ENABLED, RawAudit
from trioaudit import AuditMessageType, KernelRecord, open_audit_client
from trioaudit._wire.netlink import NLMSG_HEADER, decode_datagram, record_text
from trioaudit._wire.protocol import AuditProtocol, RecordReceived

TEXT = b"audit(1700000000.123:42): pid=1 uid=0 old-auid=4294967295 auid=1000 res=1"


@pytest.mark.parametrize("msg_type", [AuditMessageType.USER, AuditMessageType.LOGIN])
@pytest.mark.parametrize("length", [len(TEXT), 16 + len(TEXT)], ids=["unicast", "multicast"])
def test_low_record_types_decode_as_records(msg_type: int, length: int) -> None:
    datagram = NLMSG_HEADER.pack(length, msg_type, 0, 0, 0) + TEXT + b"\0" * 3
    (message,) = decode_datagram(datagram)
    assert message.is_record
    assert record_text(message.payload) == TEXT.decode()
    events = AuditProtocol().receive_datagram(datagram)
    assert [type(event) for event in events] == [RecordReceived]


def _set_loginuid(uid: int) -> None:
    code = f"open('/proc/self/loginuid', 'w').write('{uid}')"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=10)


async def _first(
    records: trio.MemoryReceiveChannel[KernelRecord], msg_type: int, needle: str
) -> KernelRecord:
    async for record in records:
        if record.type == msg_type and needle in record.text:
            return record
    raise AssertionError("channel closed")


@pytest.mark.kernel
@pytest.mark.usefixtures("audit_state")
@pytest.mark.parametrize("mode", ["unicast", "multicast"])
async def test_login_and_user_records_arrive_live(mode: str, raw_audit: RawAudit) -> None:
    raw_audit.set_status(MASK_ENABLED, enabled=1)
    tag = f"trioaudit-lowtype-{os.getpid()}-{mode}"
    async with open_audit_client("unicast") as daemon, daemon.records() as daemon_records:
        client_cm = open_audit_client("multicast") if mode == "multicast" else None
        if client_cm is None:
            records = daemon_records
            await _exercise(records, tag)
        else:
            async with client_cm as client, client.records() as records:
                await _exercise(records, tag)
                assert client.statistics().malformed == 0
        assert daemon.statistics().malformed == 0


async def _exercise(records: trio.MemoryReceiveChannel[KernelRecord], tag: str) -> None:
    with trio.fail_after(10):
        await trio.to_thread.run_sync(send_user_message, tag.encode())
        user = await _first(records, AuditMessageType.USER, tag)
        assert f"msg='{tag}'" in user.text
        await trio.to_thread.run_sync(_set_loginuid, 4242)
        login = await _first(records, AuditMessageType.LOGIN, "auid=4242")
        assert login.type_name == "LOGIN"
