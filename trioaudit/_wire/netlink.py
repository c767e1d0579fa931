"""Netlink framing for NETLINK_AUDIT, with no I/O (sans-IO).

Theory of operation
===================

Every netlink message starts with a 16-byte ``struct nlmsghdr``::

    0               4       6       8               12              16
    +---------------+-------+-------+---------------+---------------+----------
    | nlmsg_len u32 | type  | flags | nlmsg_seq u32 | nlmsg_pid u32 | payload...
    +---------------+-------+-------+---------------+---------------+----------

in host byte order, each message padded to a multiple of 4 bytes. A datagram
may carry several messages (replies to control requests, multipart dumps).

The audit subsystem bends these rules, and this module is where the bending
is absorbed, so nothing above it needs to know:

1. **Event records lie about their length.** ``audit_log_end()`` stores the
   *payload* length in ``nlmsg_len`` (the header is excluded) for records sent
   to the registered daemon. The multicast copy is corrected by the kernel.
   The kernel never packs two event records in one datagram, so for any
   audit *event* type (>= 1100, plus USER 1005 and LOGIN 1006 -- see
   :data:`LOW_RECORD_TYPES`) we treat the datagram as exactly one message and
   take everything after the header as payload, whatever ``nlmsg_len`` says.
   We note whether the length had to be repaired (``length_repaired``).
2. **Payload text may be NUL-terminated or padded.** Event payloads are text;
   trailing NULs are stripped by :func:`record_text`.
3. **Control replies are honest** (ACKs, ``AUDIT_GET`` replies, rule dumps):
   for those we trust ``nlmsg_len`` but check it against the datagram and
   raise :class:`~trioaudit.AuditProtocolError` rather than read out of bounds.

``NLMSG_ERROR`` carries a signed ``int error`` followed by the header of the
request it answers; ``error == 0`` is an ACK. The audit subsystem also uses a
*positive* value to hand back an old counter when ``lost`` is reset, so the
error is kept as a signed integer, not just "ok or errno".

Non-goals: generic netlink attribute (TLV) parsing -- audit does not use it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from .._errors import AuditProtocolError

__all__ = [
    "AUDIT_NLGRP_READLOG",
    "NETLINK_AUDIT",
    "NLMSG_HDRLEN",
    "NLMSG_HEADER",
    "NetlinkErrorPayload",
    "NetlinkFlag",
    "NetlinkMessage",
    "NetlinkMessageType",
    "decode_datagram",
    "decode_error_payload",
    "encode_message",
    "record_text",
]

#: Netlink protocol number of the audit subsystem (``socket(AF_NETLINK, SOCK_RAW, 9)``).
NETLINK_AUDIT = 9
#: Multicast group that receives a read-only copy of every audit record.
AUDIT_NLGRP_READLOG = 1
#: ``struct nlmsghdr`` in host byte order: ``nlmsg_len``, ``nlmsg_type``,
#: ``nlmsg_flags``, ``nlmsg_seq``, ``nlmsg_pid`` (see the diagram above). The one
#: definition of the layout: encode, decode and tests that build datagrams use it.
NLMSG_HEADER = struct.Struct("=IHHII")
#: Size of ``struct nlmsghdr``.
NLMSG_HDRLEN = NLMSG_HEADER.size
#: Netlink messages are aligned to 4 bytes.
NLMSG_ALIGNTO = 4
#: First message type that is an audit *record* rather than a control message.
FIRST_RECORD_TYPE = 1100
#: Record types below 1100 that the kernel emits as events, never as replies:
#: ``AUDIT_USER`` (1005, an old-style user message, logged under its own type)
#: and ``AUDIT_LOGIN`` (1006, a loginuid change). They carry the unicast length quirk too.
LOW_RECORD_TYPES = frozenset({1005, 1006})


def is_record_type(msg_type: int) -> bool:
    """True for the message types the kernel sends as audit records (events)."""
    return msg_type >= FIRST_RECORD_TYPE or msg_type in LOW_RECORD_TYPES


_ERROR = struct.Struct("=i")


class NetlinkMessageType(IntEnum):
    """The generic netlink control message types (``NLMSG_*``)."""

    NOOP = 1
    ERROR = 2
    DONE = 3
    OVERRUN = 4


class NetlinkFlag(IntFlag):
    """``nlmsg_flags`` bits used with audit."""

    REQUEST = 0x1
    MULTI = 0x2
    ACK = 0x4
    ECHO = 0x8
    DUMP_INTR = 0x10
    ROOT = 0x100
    MATCH = 0x200
    DUMP = ROOT | MATCH


def nlmsg_align(length: int) -> int:
    """Round *length* up to the netlink alignment (4 bytes)."""
    return (length + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1)


@dataclass(frozen=True, slots=True)
class NetlinkMessage:
    """One decoded netlink message.

    Attributes:
        type: ``nlmsg_type`` (an audit message type or an ``NLMSG_*`` value).
        flags: ``nlmsg_flags``.
        seq: ``nlmsg_seq``; replies echo the sequence number of their request.
        pid: ``nlmsg_pid`` as written in the header (not the sender address).
        payload: The bytes after the header, as long as the message really is.
        length_repaired: True when ``nlmsg_len`` disagreed with the datagram
            and was overridden (the audit event-record quirk).
    """

    type: int
    flags: int
    seq: int
    pid: int
    payload: bytes
    length_repaired: bool = False

    @property
    def is_record(self) -> bool:
        """True for audit event records (types >= 1100, USER, LOGIN), False for control traffic."""
        return is_record_type(self.type)


@dataclass(frozen=True, slots=True)
class NetlinkErrorPayload:
    """The payload of an ``NLMSG_ERROR`` message.

    Attributes:
        error: Signed value: ``0`` is an ACK, negative is ``-errno``; audit uses
            positive values to return an old counter (``lost`` reset).
        request_type: ``nlmsg_type`` of the request being answered.
        request_seq: ``nlmsg_seq`` of the request being answered.
    """

    error: int
    request_type: int
    request_seq: int


def encode_message(
    msg_type: int,
    payload: bytes = b"",
    *,
    seq: int,
    flags: int = NetlinkFlag.REQUEST | NetlinkFlag.ACK,
    pid: int = 0,
) -> bytes:
    """Encode one netlink message, padded to the 4-byte alignment.

    Args:
        msg_type: The ``nlmsg_type``.
        payload: The bytes after the header.
        seq: Sequence number; the kernel echoes it in replies.
        flags: ``nlmsg_flags``; defaults to a request that wants an ACK.
        pid: ``nlmsg_pid``; 0 lets the kernel fill in the sender.

    Returns:
        The bytes to send. ``nlmsg_len`` counts header and payload, not padding.
    """
    length = NLMSG_HDRLEN + len(payload)
    if length > 0xFFFFFFFF or not 0 <= msg_type <= 0xFFFF or not 0 <= flags <= 0xFFFF:
        raise ValueError("netlink message field out of range")
    header = NLMSG_HEADER.pack(length, msg_type, flags, seq & 0xFFFFFFFF, pid)
    return header + payload + b"\0" * (nlmsg_align(length) - length)


def decode_datagram(data: bytes) -> list[NetlinkMessage]:
    """Split one received datagram into netlink messages.

    Args:
        data: Exactly what one ``recv`` returned.

    Returns:
        The messages, in order. An audit event record always comes back as a
        single message whose payload is the rest of the datagram.

    Raises:
        AuditProtocolError: The datagram is truncated or a control message's
            length points outside it.
    """
    size = len(data)
    if size < NLMSG_HDRLEN:
        raise AuditProtocolError(f"datagram of {size} bytes is shorter than a netlink header", data)
    messages: list[NetlinkMessage] = []
    offset = 0
    while size - offset >= NLMSG_HDRLEN:
        length, msg_type, flags, seq, pid = NLMSG_HEADER.unpack_from(data, offset)
        if is_record_type(msg_type):
            # Quirk 1: one datagram, one record; nlmsg_len is not to be trusted.
            payload = data[offset + NLMSG_HDRLEN :]
            repaired = length != size - offset
            messages.append(NetlinkMessage(msg_type, flags, seq, pid, payload, repaired))
            return messages
        if length < NLMSG_HDRLEN or length > size - offset:
            raise AuditProtocolError(
                f"netlink message type {msg_type} claims {length} bytes at offset {offset} "
                f"of a {size}-byte datagram",
                data,
            )
        payload = data[offset + NLMSG_HDRLEN : offset + length]
        messages.append(NetlinkMessage(msg_type, flags, seq, pid, payload))
        offset += nlmsg_align(length)
    # What is left (< 16 bytes) can only be alignment padding.
    if any(data[offset:]):
        raise AuditProtocolError(f"{size - offset} stray bytes after the last message", data)
    return messages


_TYPE = struct.Struct("=H")


def record_of_datagram(data: bytes) -> tuple[int, bytes] | None:
    """``(type, payload)`` when the datagram is one audit record, else ``None``.

    The reader's fast path: what :func:`decode_datagram` returns for a record
    datagram, without building message objects (records are nearly all the
    traffic, hundreds of thousands per second). Anything else -- control
    messages, runts -- returns ``None`` and takes :func:`decode_datagram`.
    """
    if len(data) < NLMSG_HDRLEN:
        return None
    (msg_type,) = _TYPE.unpack_from(data, 4)
    if is_record_type(msg_type):
        return msg_type, data[NLMSG_HDRLEN:]
    return None


def decode_error_payload(message: NetlinkMessage) -> NetlinkErrorPayload:
    """Decode the payload of an ``NLMSG_ERROR`` message.

    Raises:
        AuditProtocolError: The payload is too short to hold the error code.
    """
    payload = message.payload
    if len(payload) < _ERROR.size:
        raise AuditProtocolError("NLMSG_ERROR without an error code", payload)
    (error,) = _ERROR.unpack_from(payload)
    if len(payload) >= _ERROR.size + NLMSG_HDRLEN:
        _len, request_type, _flags, request_seq, _pid = NLMSG_HEADER.unpack_from(
            payload, _ERROR.size
        )
    else:
        # Without the echoed header, the message's own seq names the request.
        request_type, request_seq = 0, message.seq
    return NetlinkErrorPayload(error, request_type, request_seq)


def record_text(payload: bytes) -> str:
    """Decode an audit record payload to text.

    Trailing NULs and newlines (padding, C string terminators) are removed.
    Bytes that are not valid UTF-8 are kept as lone surrogates
    (``surrogateescape``) so nothing is lost and the original bytes can be
    recovered with ``text.encode("utf-8", "surrogateescape")``.
    """
    return payload.rstrip(b"\0\n").decode("utf-8", "surrogateescape")
