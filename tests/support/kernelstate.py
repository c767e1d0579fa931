"""Save and restore the kernel's audit state, independently of trioaudit.

The restore path must not depend on the code under test: if the client is
broken, the kernel must still be put back. So this module speaks netlink with
a plain blocking socket and ``struct`` only.
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
NLMSG_ERROR = 2
NLMSG_DONE = 3
#: struct nlmsghdr and struct audit_status, defined here and not imported from trioaudit
#: (the point of this module). The support code that must speak netlink without
#: trioaudit -- hardening_helpers.py, the daemon_holder.py process -- shares these.
HEADER = struct.Struct("=IHHII")
STATUS = struct.Struct("=11I")
MASK_ENABLED, MASK_FAILURE, MASK_PID, MASK_RATE, MASK_BACKLOG, MASK_WAIT = 1, 2, 4, 8, 16, 32


@dataclass(frozen=True)
class KernelState:
    """What the tests must put back: status settings and the rule blobs."""

    enabled: int
    failure: int
    pid: int
    rate_limit: int
    backlog_limit: int
    backlog_wait_time: int
    rules: tuple[bytes, ...]


class RawAudit:
    """A minimal blocking NETLINK_AUDIT speaker for fixtures and assertions."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        self.sock.bind((0, 0))
        self.sock.settimeout(5)
        self.seq = 1000

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawAudit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, msg_type: int, payload: bytes, flags: int) -> int:
        self.seq += 1
        self.sock.send(HEADER.pack(16 + len(payload), msg_type, flags, self.seq, 0) + payload)
        return self.seq

    def _collect(self, seq: int, want_reply: bool, dump: bool) -> list[bytes]:
        replies: list[bytes] = []
        acked = False
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, mtype, _flags, mseq, _pid = HEADER.unpack_from(data, offset)
                if mtype >= 1100:  # an event record; not ours
                    break
                body = data[offset + 16 : offset + length]
                offset += (length + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", body)
                    if err < 0:
                        raise OSError(-err, f"audit request failed: {os.strerror(-err)}")
                    acked = True
                elif mtype == NLMSG_DONE:
                    dump = False
                else:
                    replies.append(body)
                    if want_reply and not dump:
                        want_reply = False
            if acked and not want_reply and not dump:
                return replies

    def request(self, msg_type: int, payload: bytes = b"") -> list[bytes]:
        want_reply = msg_type == AUDIT_GET
        dump = msg_type == AUDIT_LIST_RULES
        flags = 0x1 | 0x4 | (0x300 if dump else 0)
        seq = self._send(msg_type, payload, flags)
        return self._collect(seq, want_reply, dump)

    def status(self) -> dict[str, int]:
        (reply,) = self.request(AUDIT_GET)
        padded = reply[: STATUS.size].ljust(STATUS.size, b"\0")
        names = [
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
        ]
        return dict(zip(names, STATUS.unpack(padded), strict=True))

    def set_status(self, mask: int, **values: int) -> None:
        order = ("enabled", "failure", "pid", "rate_limit", "backlog_limit")
        fields = [mask] + [values.get(name, 0) for name in order] + [0, 0, 0]
        fields += [values.get("backlog_wait_time", 0), 0]
        self.request(AUDIT_SET, STATUS.pack(*fields))

    def rules(self) -> list[bytes]:
        return self.request(AUDIT_LIST_RULES)

    def delete_all_rules(self) -> None:
        for blob in self.rules():
            try:
                self.request(AUDIT_DEL_RULE, blob)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise


def save() -> KernelState:
    with RawAudit() as audit:
        status = audit.status()
        return KernelState(
            enabled=status["enabled"],
            failure=status["failure"],
            pid=status["pid"],
            rate_limit=status["rate_limit"],
            backlog_limit=status["backlog_limit"],
            backlog_wait_time=status["backlog_wait_time"],
            rules=tuple(audit.rules()),
        )


def restore(state: KernelState) -> None:
    """Put rules and settings back; unregister a pid that is ours or dead.

    The status is restored even if putting the rules back fails, and a rule
    that is already loaded again (``EEXIST``) is not an error.
    """
    with RawAudit() as audit:
        try:
            audit.delete_all_rules()
            for blob in state.rules:
                try:
                    audit.request(AUDIT_ADD_RULE, blob)
                except OSError as exc:
                    if exc.errno != errno.EEXIST:
                        raise
        finally:
            _restore_status(audit, state)


def _restore_status(audit: RawAudit, state: KernelState) -> None:
    current = audit.status()
    if current["enabled"] == 2:
        raise RuntimeError("audit became IMMUTABLE during the tests: reboot needed")
    audit.set_status(
        MASK_FAILURE | MASK_RATE | MASK_BACKLOG | MASK_WAIT,
        failure=state.failure,
        rate_limit=state.rate_limit,
        backlog_limit=state.backlog_limit,
        backlog_wait_time=state.backlog_wait_time,
    )
    holder = current["pid"]
    if holder and holder != state.pid and not _alive(holder):
        # A test's daemon died without unregistering. Only the holder may
        # unregister, but a dead holder can be replaced: take the pid (the
        # kernel's liveness probe of the dead one fails), then give it back.
        audit.set_status(MASK_PID, pid=os.getpid())
        audit.set_status(MASK_PID, pid=0)
    audit.set_status(MASK_ENABLED, enabled=state.enabled)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def can_talk_to_kernel() -> str | None:
    """Return None when live tests can run, else the reason they cannot."""
    if os.geteuid() != 0:
        return "live audit tests need root"
    try:
        with RawAudit() as audit:
            audit.status()
    except OSError as exc:
        return f"NETLINK_AUDIT unavailable: {exc}"
    return None


def foreign_daemon() -> int | None:
    """The pid of a live audit daemon that is not part of the test run, if any."""
    with RawAudit() as audit:
        pid = audit.status()["pid"]
    return pid if pid and _alive(pid) else None
