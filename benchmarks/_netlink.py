"""A small blocking NETLINK_AUDIT speaker for the benchmark orchestrator.

Theory of operation
-------------------
The orchestrator must put the kernel back however badly a reader under test
behaves, so it does not use trioaudit to talk to the kernel: this module is a
plain blocking socket plus :mod:`struct`. It can read and set ``struct
audit_status``, dump the rule list as opaque ``audit_rule_data`` blobs, delete
and re-add blobs (to restore rules byte for byte) and tell whether a pid is
registered. Event records that reach this socket (it is never registered, so
normally none do) are skipped.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass

NETLINK_AUDIT = 9
AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_ADD_RULE = 1011
AUDIT_DEL_RULE = 1012
AUDIT_LIST_RULES = 1013
AUDIT_FIRST_EVENT = 1100
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLMSG_HEADER = struct.Struct("=IHHII")
STATUS = struct.Struct("=11I")
ERRNO = struct.Struct("=i")

MASK_ENABLED = 0x1
MASK_FAILURE = 0x2
MASK_PID = 0x4
MASK_RATE_LIMIT = 0x8
MASK_BACKLOG_LIMIT = 0x10
MASK_BACKLOG_WAIT_TIME = 0x20

#: Seconds a control request may take before we give up on the kernel.
REPLY_TIMEOUT = 5.0
#: Large enough for any control reply datagram.
RECV_SIZE = 1 << 16

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


@dataclass(frozen=True, slots=True)
class Status:
    """The kernel's ``struct audit_status`` (missing trailing fields read as 0)."""

    mask: int
    enabled: int
    failure: int
    pid: int
    rate_limit: int
    backlog_limit: int
    lost: int
    backlog: int
    feature_bitmap: int
    backlog_wait_time: int
    backlog_wait_time_actual: int


class AuditControl:
    """Blocking control requests (never registers as the audit daemon)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        self._sock.bind((0, 0))
        self._sock.settimeout(REPLY_TIMEOUT)
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> AuditControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, msg_type: int, payload: bytes = b"") -> list[bytes]:
        """Send one request with ACK; return data replies (a dump's parts, or GET's reply)."""
        self._seq += 1
        seq = self._seq
        dump = msg_type == AUDIT_LIST_RULES
        want_reply = msg_type == AUDIT_GET
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        self._sock.send(NLMSG_HEADER.pack(16 + len(payload), msg_type, flags, seq, 0) + payload)
        replies: list[bytes] = []
        acked = False
        while not acked or want_reply or dump:
            data = self._sock.recv(RECV_SIZE)
            offset = 0
            while offset + NLMSG_HEADER.size <= len(data):
                length, kind, _flags, reply_seq, _pid = NLMSG_HEADER.unpack_from(data, offset)
                if kind >= AUDIT_FIRST_EVENT or length < NLMSG_HEADER.size:
                    break  # an event record (header length quirk): not for us
                body = data[offset + NLMSG_HEADER.size : offset + length]
                offset += (length + 3) & ~3
                if reply_seq != seq:
                    continue
                if kind == NLMSG_ERROR:
                    (code,) = ERRNO.unpack_from(body)
                    if code < 0:
                        raise OSError(-code, f"audit request {msg_type}: {os.strerror(-code)}")
                    acked = True
                elif kind == NLMSG_DONE:
                    dump = False
                else:
                    replies.append(body)
                    want_reply = False
        return replies

    def status(self) -> Status:
        (reply,) = self.request(AUDIT_GET)
        return Status(*STATUS.unpack(reply[: STATUS.size].ljust(STATUS.size, b"\0")))

    def set_status(self, mask: int, **values: int) -> None:
        fields = [values.get(name, 0) for name in STATUS_FIELDS]
        fields[0] = mask
        self.request(AUDIT_SET, STATUS.pack(*fields))

    def rules(self) -> tuple[bytes, ...]:
        return tuple(self.request(AUDIT_LIST_RULES))

    def delete_rule(self, blob: bytes) -> None:
        try:
            self.request(AUDIT_DEL_RULE, blob)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise

    def add_rule(self, blob: bytes) -> None:
        self.request(AUDIT_ADD_RULE, blob)


def restore_own(saved: Status, key: bytes) -> Status:
    """Undo a benchmark's changes only: its rules (found by key) and the status it set.

    Rules loaded by anyone else are left alone, so a benchmark can run beside
    other users of the kernel's audit state. A pid left registered by a dead
    reader is released. Returns the status afterwards.
    """
    with AuditControl() as control:
        for blob in control.rules():
            if key in blob:
                control.delete_rule(blob)
        status = control.status()
        if status.pid and status.pid != saved.pid and not _alive(status.pid):
            # Only the holder may unregister; a dead holder can be displaced.
            control.set_status(MASK_PID, pid=os.getpid())
            control.set_status(MASK_PID, pid=0)
        control.set_status(
            MASK_RATE_LIMIT | MASK_BACKLOG_LIMIT | MASK_BACKLOG_WAIT_TIME,
            rate_limit=saved.rate_limit,
            backlog_limit=saved.backlog_limit,
            backlog_wait_time=saved.backlog_wait_time,
        )
        control.set_status(MASK_ENABLED, enabled=saved.enabled)
        return control.status()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def foreign_daemon() -> int | None:
    """The pid of a live registered audit daemon, if any."""
    with AuditControl() as control:
        pid = control.status().pid
    return pid if pid and _alive(pid) else None
