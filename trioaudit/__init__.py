"""trioaudit: the Linux audit framework, spoken natively from Python with trio.

The public API lives here; implementation modules are private (``_name``).
``trioaudit.lowlevel`` re-exports the sans-IO codec for people who bring
their own I/O.
"""

from ._errors import (
    AuditDaemonRunning,
    AuditError,
    AuditPermissionError,
    AuditProtocolError,
    AuditUsageError,
    NetlinkError,
)
from ._output.filter import FilterSyntaxError, compile_filter
from ._records.interpret import (
    Interpreter,
    LocalSystemDatabase,
    StaticSystemDatabase,
    SystemDatabase,
)
from ._records.logread import open_log, parse_log
from ._records.model import AuditEvent, AuditRecord
from ._records.parse import RecordParseError, parse_kernel_record, parse_log_line
from ._records.reassembly import Reassembler, ReassemblerStatistics
from ._tables.msgtypes import AuditMessageType
from ._trio.client import (
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
from ._version import __version__
from ._wire.control import (
    AuditFeature,
    AuditFeatures,
    AuditUnsupported,
    FeatureState,
    SignalInfo,
    TtyAuditStatus,
)
from ._wire.status import AuditStatus, EnabledState, FailureMode, FeatureBitmap, StatusMask
from .rules import (
    AuditRule,
    RuleSyntaxError,
    parse_rule,
    parse_rules_file,
    render_rule,
    render_rules,
)

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
    "render_rule",
    "render_rules",
]
