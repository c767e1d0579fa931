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
from ._control import (
    AuditFeature,
    AuditFeatures,
    AuditUnsupported,
    FeatureState,
    SignalInfo,
    TtyAuditStatus,
)
from ._errors import (
    AuditDaemonRunning,
    AuditError,
    AuditPermissionError,
    AuditProtocolError,
    AuditUsageError,
    NetlinkError,
)
from ._event import AuditEvent, AuditRecord
from ._filter import FilterSyntaxError, compile_filter
from ._interpret import Interpreter, LocalSystemDatabase, StaticSystemDatabase, SystemDatabase
from ._logparse import open_log, parse_log
from ._msgtypes import AuditMessageType
from ._reassembly import Reassembler, ReassemblerStatistics
from ._records import RecordParseError, parse_kernel_record, parse_log_line
from ._status import AuditStatus, EnabledState, FailureMode, FeatureBitmap, StatusMask
from ._version import __version__
from .rules import AuditRule, RuleSyntaxError, parse_rule, parse_rules_file

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_REPLY_TIMEOUT",
    "AuditClient",
    "AuditDaemonRunning",
    "AuditError",
    "AuditEvent",
    "AuditFeature",
    "AuditFeatures",
    "AuditMessageType",
    "AuditPermissionError",
    "AuditProtocolError",
    "AuditRecord",
    "AuditReplyTimeout",
    "AuditRule",
    "AuditStatus",
    "AuditUnsupported",
    "AuditUsageError",
    "ClientMode",
    "ClientStatistics",
    "EnabledState",
    "FailureMode",
    "FeatureBitmap",
    "FeatureState",
    "FilterSyntaxError",
    "Interpreter",
    "KernelRecord",
    "LocalSystemDatabase",
    "NetlinkError",
    "NetlinkPermissionError",
    "Reassembler",
    "ReassemblerStatistics",
    "RecordParseError",
    "RuleSyntaxError",
    "SignalInfo",
    "StaticSystemDatabase",
    "StatusMask",
    "SystemDatabase",
    "TtyAuditStatus",
    "__version__",
    "compile_filter",
    "open_audit_client",
    "open_log",
    "parse_kernel_record",
    "parse_log",
    "parse_log_line",
    "parse_rule",
    "parse_rules_file",
]
