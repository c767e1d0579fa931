"""``struct audit_status``: the kernel's audit configuration and counters.

Theory of operation
===================

``AUDIT_GET`` answers with a ``struct audit_status`` of ``__u32`` fields; the
struct grew over the years (``feature_bitmap`` in 3.12, ``backlog_wait_time``
in 3.14, ``backlog_wait_time_actual`` in 5.10), so the kernel's reply may be
shorter or longer than the struct we know. We decode by length: fields the
reply does not carry are ``None`` (not 0 -- "absent" and "zero" differ, and
``auditctl -s`` prints ``backlog_wait_time_actual`` only when it is present);
extra trailing bytes from a newer kernel are ignored.

``AUDIT_SET`` sends the same struct; only the fields named in ``mask`` are
applied by the kernel, so a set request is built from a mask and the values
for those bits, all other fields zero.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from .._errors import AuditProtocolError

__all__ = [
    "AuditStatus",
    "EnabledState",
    "FailureMode",
    "FeatureBitmap",
    "StatusMask",
    "encode_status_request",
]

#: The fields of ``struct audit_status`` in wire order.
STATUS_FIELDS = (
    "mask",
    "enabled",
    "failure",
    "pid",
    "rate_limit",
    "backlog_limit",
    "lost",
    "backlog",
    "feature_bitmap",
    "backlog_wait_time",
    "backlog_wait_time_actual",
)
#: The oldest kernels answer with the first eight fields only.
MIN_STATUS_SIZE = 8 * 4
#: ``sizeof(struct audit_status)`` on current kernels.
STATUS_SIZE = len(STATUS_FIELDS) * 4
_FULL = struct.Struct(f"={len(STATUS_FIELDS)}I")
#: Upper bound of ``backlog_wait_time`` the kernel accepts: ``10 * 60 * HZ`` at HZ=1000.
MAX_BACKLOG_WAIT_TIME = 10 * 60 * 1000


class StatusMask(IntFlag):
    """Which fields of an ``AUDIT_SET`` request the kernel should apply."""

    ENABLED = 0x1
    FAILURE = 0x2
    PID = 0x4
    RATE_LIMIT = 0x8
    BACKLOG_LIMIT = 0x10
    BACKLOG_WAIT_TIME = 0x20
    LOST = 0x40
    BACKLOG_WAIT_TIME_ACTUAL = 0x80


class FeatureBitmap(IntFlag):
    """``feature_bitmap``: what this kernel's audit subsystem supports."""

    BACKLOG_LIMIT = 0x1
    BACKLOG_WAIT_TIME = 0x2
    EXECUTABLE_PATH = 0x4
    EXCLUDE_EXTEND = 0x8
    SESSIONID_FILTER = 0x10
    LOST_RESET = 0x20
    FILTER_FS = 0x40


class FailureMode(IntEnum):
    """What the kernel does when it cannot log a record (``-f`` in auditctl)."""

    SILENT = 0
    PRINTK = 1
    PANIC = 2


class EnabledState(IntEnum):
    """``enabled``: 2 means locked until reboot (every change then fails with EPERM)."""

    DISABLED = 0
    ENABLED = 1
    IMMUTABLE = 2


@dataclass(frozen=True, slots=True)
class AuditStatus:
    """The kernel's audit status, as ``AUDIT_GET`` reports it.

    Attributes:
        mask: Echo of the request mask (0 in ``AUDIT_GET`` replies).
        enabled: 0 disabled, 1 enabled, 2 immutable (see :class:`EnabledState`).
        failure: Failure mode (see :class:`FailureMode`).
        pid: Pid of the registered audit daemon, 0 if none.
        rate_limit: Records per second before the kernel drops; 0 = unlimited.
        backlog_limit: Records the kernel queues for the daemon before dropping or waiting.
        lost: Records the kernel dropped since boot or the last reset.
        backlog: Records queued right now.
        feature_bitmap: Supported features (see :class:`FeatureBitmap`); None on old kernels.
        backlog_wait_time: How long (jiffies) an audited task waits for backlog space.
        backlog_wait_time_actual: Total jiffies tasks actually waited; None before 5.10.
    """

    mask: int = 0
    enabled: int = 0
    failure: int = 0
    pid: int = 0
    rate_limit: int = 0
    backlog_limit: int = 0
    lost: int = 0
    backlog: int = 0
    feature_bitmap: int | None = None
    backlog_wait_time: int | None = None
    backlog_wait_time_actual: int | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> AuditStatus:
        """Decode an ``AUDIT_GET`` reply payload of any kernel vintage.

        Raises:
            AuditProtocolError: Fewer bytes than the oldest struct had.
        """
        if len(data) < MIN_STATUS_SIZE:
            raise AuditProtocolError(
                f"audit_status reply of {len(data)} bytes (need at least {MIN_STATUS_SIZE})", data
            )
        present = min(len(data), STATUS_SIZE) // 4
        padded = bytes(data[: present * 4]) + b"\0" * (STATUS_SIZE - present * 4)
        values: list[int | None] = list(_FULL.unpack(padded))
        for index in range(present, len(STATUS_FIELDS)):
            values[index] = None
        return cls(*values)  # type: ignore[arg-type]

    @property
    def features(self) -> FeatureBitmap:
        """``feature_bitmap`` as flags (empty when the kernel did not report it)."""
        return FeatureBitmap(self.feature_bitmap or 0)

    def as_dict(self) -> dict[str, int | None]:
        """The fields as a plain dict, in wire order (for JSON output)."""
        return {name: getattr(self, name) for name in STATUS_FIELDS}


def encode_status_request(mask: StatusMask, **values: int) -> bytes:
    """Build the payload of an ``AUDIT_SET`` request.

    Args:
        mask: The fields to change; each must have a value in *values*.
        **values: Field name -> new value.

    Returns:
        A full-size ``struct audit_status`` (the kernel copies at most what it
        knows, so sending the full struct is safe on older kernels).

    Raises:
        ValueError: A masked field lacks a value, a value does not fit in 32
            bits, or an unknown field name was given.
    """
    unknown = set(values) - set(STATUS_FIELDS[1:])
    if unknown:
        raise ValueError(f"unknown audit_status field(s): {', '.join(sorted(unknown))}")
    fields = [0] * len(STATUS_FIELDS)
    fields[0] = int(mask)
    for bit, name in _MASK_FIELDS:
        if mask & bit and name not in values:
            raise ValueError(f"mask has {bit.name} but no value for {name!r}")
    for name, value in values.items():
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{name}={value} does not fit in 32 bits")
        fields[STATUS_FIELDS.index(name)] = value
    return _FULL.pack(*fields)


_MASK_FIELDS: tuple[tuple[StatusMask, str], ...] = (
    (StatusMask.ENABLED, "enabled"),
    (StatusMask.FAILURE, "failure"),
    (StatusMask.PID, "pid"),
    (StatusMask.RATE_LIMIT, "rate_limit"),
    (StatusMask.BACKLOG_LIMIT, "backlog_limit"),
    (StatusMask.BACKLOG_WAIT_TIME, "backlog_wait_time"),
    (StatusMask.LOST, "lost"),
    (StatusMask.BACKLOG_WAIT_TIME_ACTUAL, "backlog_wait_time_actual"),
)
