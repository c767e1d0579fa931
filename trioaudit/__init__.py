"""trioaudit: the Linux audit framework, spoken natively from Python with trio."""

from ._errors import (
    AuditDaemonRunning,
    AuditError,
    AuditPermissionError,
    AuditProtocolError,
    AuditUsageError,
    NetlinkError,
)
from ._msgtypes import AuditMessageType
from ._version import __version__

__all__ = [
    "AuditDaemonRunning",
    "AuditError",
    "AuditMessageType",
    "AuditPermissionError",
    "AuditProtocolError",
    "AuditUsageError",
    "NetlinkError",
    "__version__",
]
