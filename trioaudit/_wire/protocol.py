"""The audit request/reply state machine, with no I/O (sans-IO, h11-style).

Theory of operation
===================

:class:`AuditProtocol` turns requests into bytes and received datagrams into
:data:`ProtocolEvent` objects. It owns sequence numbers and the table of
requests still waiting for the kernel. The caller (the trio client, a test, or
anybody with their own socket) does the sending and receiving.

Rule 1: **what a request waits for is decided by its type**, from the table
``_EXPECTED_REPLIES``:

* ``AUDIT_GET``, ``AUDIT_GET_FEATURE``, ``AUDIT_SIGNAL_INFO``, ``AUDIT_TTY_GET``
  -> an ACK *and* one data reply. The kernel sends the ACK first (the reply is
  built by a separate kernel thread), but we accept either order.
* ``AUDIT_LIST_RULES`` -> an ACK and a multipart dump ending in ``NLMSG_DONE``.
* everything else -> the ACK alone.

Rule 2: an ``NLMSG_ERROR`` with a negative value ends its request at once with
that errno. A zero or positive value is an ACK (positive values carry an old
counter back when ``lost`` is reset).

Rule 3: **records are never swallowed.** Any audit record (type >= 1100) that
arrives while requests are pending is reported as :class:`RecordReceived`,
because the kernel interleaves events with replies on a unicast socket.

Rule 4: messages from anyone but the kernel (sender port id != 0) are ignored
and counted, as libaudit does: only the kernel may speak on this socket.

Rule 5: replies for sequence numbers we are not waiting for (the caller gave up,
e.g. cancelled) are counted as ``unmatched`` and dropped.

Malformed datagrams raise :class:`~trioaudit.AuditProtocolError` from
:meth:`AuditProtocol.receive_datagram`; the protocol object stays usable (the
bad datagram is simply not applied), because one corrupt datagram must not
take down a long-running audit reader.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .._tables.msgtypes import AuditMessageType as T
from .netlink import (
    NetlinkFlag,
    NetlinkMessage,
    NetlinkMessageType,
    decode_datagram,
    decode_error_payload,
    encode_message,
)

__all__ = [
    "AuditProtocol",
    "ProtocolEvent",
    "RecordReceived",
    "RequestCompleted",
]

#: Largest errno (the kernel's MAX_ERRNO): ACK values below -MAX_ERRNO are not errors.
MAX_ERRNO = 4095
_REPLY = "reply"
_DUMP = "dump"
_ACK = "ack"
_EXPECTED_REPLIES: dict[int, str] = {
    T.GET: _REPLY,
    T.GET_FEATURE: _REPLY,
    T.SIGNAL_INFO: _REPLY,
    T.TTY_GET: _REPLY,
    T.LIST_RULES: _DUMP,
}

#: Sequence numbers wrap at 32 bits; 0 is skipped so "no sequence" stays recognisable.
_SEQ_MODULUS = 1 << 32


@dataclass(frozen=True, slots=True)
class RecordReceived:
    """An audit record arrived (never a reply to a request)."""

    message: NetlinkMessage


@dataclass(frozen=True, slots=True)
class RequestCompleted:
    """The kernel finished answering the request with sequence number ``seq``.

    Attributes:
        seq: The request's sequence number.
        request_type: The request's message type.
        error: ``-errno`` when the kernel refused it, else the ACK value
            (0, or an old counter for ``lost`` resets).
        replies: Data messages received for it (empty for plain ACKs).
    """

    seq: int
    request_type: int
    error: int
    replies: tuple[NetlinkMessage, ...]

    @property
    def failed(self) -> bool:
        """True when the kernel answered with a negative errno."""
        return self.error < 0


ProtocolEvent = RecordReceived | RequestCompleted


@dataclass(slots=True)
class _Pending:
    request_type: int
    expects: str
    acked: bool = False
    ack_value: int = 0
    finished_data: bool = False
    replies: list[NetlinkMessage] = field(default_factory=list)

    def complete(self) -> bool:
        if not self.acked:
            return False
        return self.expects == _ACK or self.finished_data


@dataclass(slots=True)
class ProtocolStatistics:
    """Counters of unusual traffic the protocol absorbed."""

    foreign_senders: int = 0
    unmatched: int = 0
    noops: int = 0


class AuditProtocol:
    """Sequence numbers, pending requests and reply matching for one socket."""

    def __init__(self, *, first_seq: int = 1) -> None:
        self._next_seq = first_seq % _SEQ_MODULUS or 1
        self._pending: dict[int, _Pending] = {}
        self.stats = ProtocolStatistics()

    # ---- sending -------------------------------------------------------------------
    def build_request(self, msg_type: int, payload: bytes = b"") -> tuple[int, bytes]:
        """Register a request and return ``(seq, bytes_to_send)``.

        The request always asks for an ACK (so failures are never silent); a
        dump request also sets ``NLM_F_DUMP``.
        """
        seq = self._allocate_seq()
        expects = _EXPECTED_REPLIES.get(msg_type, _ACK)
        flags = NetlinkFlag.REQUEST | NetlinkFlag.ACK
        if expects == _DUMP:
            flags |= NetlinkFlag.DUMP
        self._pending[seq] = _Pending(msg_type, expects)
        return seq, encode_message(msg_type, payload, seq=seq, flags=flags)

    def forget(self, seq: int) -> None:
        """Stop waiting for *seq* (its caller went away); late answers are dropped."""
        self._pending.pop(seq, None)

    @property
    def pending(self) -> frozenset[int]:
        """Sequence numbers still waiting for the kernel."""
        return frozenset(self._pending)

    def _allocate_seq(self) -> int:
        while True:
            seq = self._next_seq
            self._next_seq = (seq + 1) % _SEQ_MODULUS or 1
            if seq not in self._pending:
                return seq

    # ---- receiving -----------------------------------------------------------------
    def receive_datagram(self, data: bytes, sender: int = 0) -> list[ProtocolEvent]:
        """Apply one received datagram.

        Args:
            data: The datagram.
            sender: The netlink port id it came from (0 = the kernel).

        Returns:
            Records and completed requests, in arrival order.

        Raises:
            AuditProtocolError: The datagram is malformed; nothing was applied.
        """
        if sender != 0:
            self.stats.foreign_senders += 1
            return []
        events: list[ProtocolEvent] = []
        for message in decode_datagram(data):
            if message.is_record:
                events.append(RecordReceived(message))
            else:
                self._apply_control(message, events)
        return events

    def _apply_control(self, message: NetlinkMessage, events: list[ProtocolEvent]) -> None:
        if message.type == NetlinkMessageType.NOOP:
            self.stats.noops += 1
            return
        if message.type == NetlinkMessageType.ERROR:
            error = decode_error_payload(message)
            seq = error.request_seq
            pending = self._pending.get(seq)
            if pending is None:
                self.stats.unmatched += 1
                return
            if error.error < -MAX_ERRNO:
                # Not an errno: an unsigned reply value past 2**31 read as a
                # signed int (the old lost count the kernel returns on reset).
                error = dataclasses.replace(error, error=error.error & 0xFFFFFFFF)
            if error.error < 0:
                del self._pending[seq]
                events.append(RequestCompleted(seq, pending.request_type, error.error, ()))
                return
            pending.acked = True
            pending.ack_value = error.error
        else:
            seq = message.seq
            pending = self._pending.get(seq)
            if pending is None:
                self.stats.unmatched += 1
                return
            if message.type == NetlinkMessageType.DONE:
                pending.finished_data = True
            else:
                pending.replies.append(message)
                if pending.expects == _REPLY:
                    pending.finished_data = True
        if pending.complete():
            del self._pending[seq]
            events.append(
                RequestCompleted(
                    seq, pending.request_type, pending.ack_value, tuple(pending.replies)
                )
            )
