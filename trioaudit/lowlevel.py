"""The sans-IO layer, for callers who do their own I/O.

Nothing here opens a socket or imports trio: feed it bytes, get messages;
give it requests, get bytes.
"""

from ._wire.netlink import (
    AUDIT_NLGRP_READLOG,
    NETLINK_AUDIT,
    NLMSG_HDRLEN,
    NLMSG_HEADER,
    NetlinkErrorPayload,
    NetlinkFlag,
    NetlinkMessage,
    NetlinkMessageType,
    decode_datagram,
    decode_error_payload,
    encode_message,
    record_text,
)
from ._wire.protocol import AuditProtocol, ProtocolEvent, RecordReceived, RequestCompleted
from ._wire.status import encode_status_request

__all__ = [
    "AUDIT_NLGRP_READLOG",
    "NETLINK_AUDIT",
    "NLMSG_HDRLEN",
    "NLMSG_HEADER",
    "AuditProtocol",
    "NetlinkErrorPayload",
    "NetlinkFlag",
    "NetlinkMessage",
    "NetlinkMessageType",
    "ProtocolEvent",
    "RecordReceived",
    "RequestCompleted",
    "decode_datagram",
    "decode_error_payload",
    "encode_message",
    "encode_status_request",
    "record_text",
]
