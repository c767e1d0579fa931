"""trioaudit: the Linux audit framework, spoken natively from Python with trio.

The public API lives here; implementation modules are private (``_name``).
``trioaudit.lowlevel`` re-exports the sans-IO codec for people who bring
their own I/O, and ``trioaudit.rules`` is the auditctl rule language.

Importing this package does not import trio: the names backed by the trio
layer (:func:`open_audit_client`, :class:`AuditClient` and their companions)
are loaded on first use (PEP 562), so the sans-IO parts -- parsing logs,
rules, the codec -- work where trio is not installed or not wanted.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    AuditDaemonRunning,
    AuditError,
    AuditPermissionError,
    AuditProtocolError,
    AuditUsageError,
    NetlinkError,
)
from ._normalize import normalize as normalize_event
from ._output.filter import FilterSyntaxError, compile_filter
from ._records.interpret import (
    Interpreter,
    LocalSystemDatabase,
    StaticSystemDatabase,
    SystemDatabase,
)
from ._records.logread import open_log, parse_log
from ._records.model import AuditEvent, AuditRecord, KernelRecord
from ._records.parse import RecordParseError, parse_kernel_record, parse_log_line
from ._records.reassembly import Reassembler, ReassemblerStatistics
from ._tables.msgtypes import AuditMessageType
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

if TYPE_CHECKING:
    from ._trio.client import (
        DEFAULT_QUEUE_SIZE,
        DEFAULT_REPLY_TIMEOUT,
        AuditClient,
        AuditReplyTimeout,
        ClientMode,
        ClientStatistics,
        NetlinkPermissionError,
        open_audit_client,
    )
    from ._trio.streams import (
        EventStream,
        EventStreamStatistics,
        RecordStream,
        RecordStreamStatistics,
    )
    from ._trio.transport import (
        OpenTransport,
        Overflow,
        Transport,
    )

#: Public names that live in the trio layer, imported on first attribute access.
_LAZY: dict[str, str] = {
    "DEFAULT_QUEUE_SIZE": "trioaudit._trio.client",
    "DEFAULT_REPLY_TIMEOUT": "trioaudit._trio.client",
    "AuditClient": "trioaudit._trio.client",
    "AuditReplyTimeout": "trioaudit._trio.client",
    "ClientMode": "trioaudit._trio.client",
    "ClientStatistics": "trioaudit._trio.client",
    "NetlinkPermissionError": "trioaudit._trio.client",
    "open_audit_client": "trioaudit._trio.client",
    "EventStream": "trioaudit._trio.streams",
    "EventStreamStatistics": "trioaudit._trio.streams",
    "RecordStream": "trioaudit._trio.streams",
    "RecordStreamStatistics": "trioaudit._trio.streams",
    "OpenTransport": "trioaudit._trio.transport",
    "Overflow": "trioaudit._trio.transport",
    "Transport": "trioaudit._trio.transport",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trioaudit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    "EventStream",
    "EventStreamStatistics",
    "FailureMode",
    "FeatureBitmap",
    "FeatureState",
    "FilterSyntaxError",
    "Interpreter",
    "KernelRecord",
    "LocalSystemDatabase",
    "NetlinkError",
    "NetlinkPermissionError",
    "OpenTransport",
    "Overflow",
    "Reassembler",
    "ReassemblerStatistics",
    "RecordParseError",
    "RecordStream",
    "RecordStreamStatistics",
    "RuleSyntaxError",
    "SignalInfo",
    "StaticSystemDatabase",
    "StatusMask",
    "SystemDatabase",
    "Transport",
    "TtyAuditStatus",
    "__version__",
    "compile_filter",
    "normalize_event",
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
