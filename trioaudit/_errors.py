"""The exceptions trioaudit raises, grouped by who is to blame.

* :class:`AuditProtocolError` -- the kernel (or whatever fed us bytes) sent
  something that is not valid netlink/audit. Raised by the sans-IO codec.
* :class:`AuditUsageError` -- the caller asked for something we refuse to do
  (a dangerous setting without ``confirm=True``, an out-of-range value).
* :class:`NetlinkError` -- the kernel answered a request with a negative errno.
  It is also an :class:`OSError`, so ``except OSError`` code keeps working.
* :class:`AuditPermissionError` -- the process lacks the capability needed;
  a :class:`PermissionError` with a hint naming the capability.
* :class:`AuditDaemonRunning` -- another live process is registered as the
  audit daemon; we never displace it.
"""

from __future__ import annotations

import errno as _errno

__all__ = [
    "AuditDaemonRunning",
    "AuditError",
    "AuditPermissionError",
    "AuditProtocolError",
    "AuditUsageError",
    "NetlinkError",
]


class AuditError(Exception):
    """Base class of every trioaudit error."""


class AuditProtocolError(AuditError):
    """The peer sent bytes that do not decode as netlink/audit.

    Args:
        message: What was wrong, in words.
        data: The offending bytes (kept for logging; may be truncated by the caller).
    """

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(message)
        self.data = data


class AuditUsageError(AuditError, ValueError):
    """The caller asked for something trioaudit refuses to do."""


def errno_name(code: int) -> str:
    """Return the symbolic name of an errno (``"EPERM"``), or ``"E<code>"``."""
    return _errno.errorcode.get(code, f"E{code}")


class NetlinkError(AuditError, OSError):
    """The kernel rejected a request with ``NLMSG_ERROR`` and a negative errno.

    Attributes:
        errno: The positive errno value (``1`` for ``EPERM``).
        errno_name: Its symbolic name, e.g. ``"EPERM"``.
        request_type: The ``nlmsg_type`` of the request that failed.
        operation: A human description of the request ("set rate_limit").
    """

    def __init__(self, code: int, request_type: int, operation: str | None = None) -> None:
        self.errno_name = errno_name(code)
        self.request_type = request_type
        self.operation = operation or _request_name(request_type)
        text = f"{self.operation}: kernel said {self.errno_name} ({_errno_text(code)})"
        OSError.__init__(self, code, text)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[type[NetlinkError], tuple[int, int, str]]:
        return (type(self), (self.errno or 0, self.request_type, self.operation))


class AuditPermissionError(AuditError, PermissionError):
    """The process may not do this; the message says which capability is missing."""


class AuditDaemonRunning(AuditError):
    """Another live process is registered as the audit daemon.

    Attributes:
        pid: Its pid.
        comm: Its process name, when /proc could tell.
    """

    def __init__(self, pid: int, comm: str | None) -> None:
        self.pid = pid
        self.comm = comm
        who = f"pid {pid}" + (f" ({comm})" if comm else "")
        super().__init__(
            f"the audit daemon is already registered: {who}; "
            "trioaudit will not displace it -- use mode='multicast' to listen beside it"
        )


def _errno_text(code: int) -> str:
    import os

    return os.strerror(code)


def _request_name(request_type: int) -> str:
    from ._tables.msgtypes import AuditMessageType

    try:
        return AuditMessageType(request_type).name
    except ValueError:
        return f"request type {request_type}"
