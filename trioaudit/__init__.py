"""trioaudit: the Linux audit framework, spoken natively from Python with trio.

The public API lives here; implementation modules are private (``_name``).
``trioaudit.lowlevel`` re-exports the sans-IO codec for people who bring
their own I/O.
"""

from ._client import (
    DEFAULT_QUEUE_SIZE,
    DEFAULT_REPLY_TIMEOUT,
    AuditClient,
    AuditReplyTimeout,
    ClientMode,
    ClientStatistics,
    KernelRecord,
    NetlinkPermissionError,
    open_audit_client,
)
from ._errors import (
    AuditDaemonRunning,
    AuditError,
    AuditPermissionError,
    AuditProtocolError,
    AuditUsageError,
    NetlinkError,
)
from ._msgtypes import AuditMessageType
from ._status import AuditStatus, EnabledState, FailureMode, FeatureBitmap, StatusMask
from ._version import __version__

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_REPLY_TIMEOUT",
    "AuditClient",
    "AuditDaemonRunning",
    "AuditError",
    "AuditMessageType",
    "AuditPermissionError",
    "AuditProtocolError",
    "AuditReplyTimeout",
    "AuditStatus",
    "AuditUsageError",
    "ClientMode",
    "ClientStatistics",
    "EnabledState",
    "FailureMode",
    "FeatureBitmap",
    "KernelRecord",
    "NetlinkError",
    "NetlinkPermissionError",
    "StatusMask",
    "__version__",
    "open_audit_client",
]
