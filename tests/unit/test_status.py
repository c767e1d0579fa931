"""struct audit_status decoding across kernel vintages, and AUDIT_SET encoding."""

from __future__ import annotations

import struct

import pytest

from trioaudit import AuditProtocolError, AuditStatus, FeatureBitmap, StatusMask
from trioaudit._wire.status import encode_status_request

FIELDS = [0, 1, 1, 4242, 100, 8192, 7, 3, 0x7F, 15000, 12]


def test_full_struct() -> None:
    status = AuditStatus.from_bytes(struct.pack("=11I", *FIELDS))
    assert status.pid == 4242 and status.lost == 7 and status.backlog_wait_time_actual == 12
    assert FeatureBitmap.LOST_RESET in status.features


@pytest.mark.parametrize(
    ("count", "absent"),
    [
        (8, ["feature_bitmap", "backlog_wait_time", "backlog_wait_time_actual"]),
        (9, ["backlog_wait_time", "backlog_wait_time_actual"]),
        (10, ["backlog_wait_time_actual"]),
    ],
)
def test_older_shorter_structs_mark_missing_fields_absent(count: int, absent: list[str]) -> None:
    status = AuditStatus.from_bytes(struct.pack(f"={count}I", *FIELDS[:count]))
    assert status.backlog == 3
    for name in absent:
        assert getattr(status, name) is None


def test_newer_longer_struct_is_accepted() -> None:
    status = AuditStatus.from_bytes(struct.pack("=13I", *FIELDS, 99, 98))
    assert status.backlog_wait_time_actual == 12


def test_too_short_is_a_protocol_error() -> None:
    with pytest.raises(AuditProtocolError):
        AuditStatus.from_bytes(b"\0" * 28)


def test_encode_set_request() -> None:
    data = encode_status_request(StatusMask.RATE_LIMIT, rate_limit=50)
    assert data == struct.pack("=11I", 8, 0, 0, 0, 50, 0, 0, 0, 0, 0, 0)


def test_encode_requires_value_for_each_mask_bit() -> None:
    with pytest.raises(ValueError, match="RATE_LIMIT"):
        encode_status_request(StatusMask.RATE_LIMIT | StatusMask.ENABLED, enabled=1)
    with pytest.raises(ValueError, match="32 bits"):
        encode_status_request(StatusMask.PID, pid=-1)
    with pytest.raises(ValueError, match="unknown"):
        encode_status_request(StatusMask.PID, pid=1, bogus=2)
