"""``AuditClient``: the kernel's audit subsystem as a trio resource.

Theory of operation
===================

:func:`open_audit_client` opens one NETLINK_AUDIT socket and a nursery with a
single reader task. Everything the kernel sends goes through that task:

* replies and ACKs are matched to waiting callers by sequence number (the
  sans-IO :class:`~trioaudit._wire.protocol.AuditProtocol` does the matching), so any
  number of tasks may issue requests at once;
* audit records go into a **bounded** memory channel with ``send_nowait``: the
  reader never waits for a consumer (a blocked reader lets the kernel's queue
  fill, and then the kernel drops records or stalls audited processes). When
  the channel is full the record is dropped and counted in
  :meth:`AuditClient.statistics`; nothing is lost silently.

Modes:

``"unicast"``
    We register as the audit daemon (``AUDIT_SET`` pid). The kernel then sends
    every record to us, with reliable retry semantics. If another live process
    holds the pid we raise :class:`~trioaudit.AuditDaemonRunning`: we never
    displace a running auditd.
``"multicast"``
    We join ``AUDIT_NLGRP_READLOG`` and receive a best-effort copy of every
    record, beside whichever daemon runs (needs ``CAP_AUDIT_READ``).
``"auto"``
    Unicast when no live process holds the pid, otherwise multicast.
``"control"``
    Neither: requests only, like ``auditctl``.

Leaving the ``async with`` block unregisters our pid (if we registered it) and
cancels the reader. Unregistering is done while the reader still drains the
socket, and retried: if our receive buffer is full, the kernel can neither
queue the ACK nor make progress, and a client that blocks on a plain
``send``/``recv`` pair there deadlocks with kauditd.

Timeouts are the caller's business (cancel scopes); as a safety net each
request gives up after ``reply_timeout`` seconds with
:class:`AuditReplyTimeout`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import trio

from .._errors import (
    AuditDaemonRunning,
    AuditError,
    AuditPermissionError,
    AuditProtocolError,
    AuditUsageError,
    NetlinkError,
)
from .._native import core as _core
from .._records.model import KernelRecord
from .._records.reassembly import DEFAULT_MAX_OPEN, DEFAULT_TIMEOUT, make_reassembler
from .._tables.msgtypes import AuditMessageType as T
from .._wire import control as _control
from .._wire.netlink import NetlinkMessage, record_of_datagram, record_text
from .._wire.protocol import AuditProtocol, RecordReceived, RequestCompleted
from .._wire.status import (
    STATUS_SIZE,
    AuditStatus,
    FailureMode,
    FeatureBitmap,
    StatusMask,
    encode_status_request,
)
from ..rules import AuditRule, parse_rule, render_rule
from .eventstream import DecodedBatch, EventFeed, NativeDatagramDecoder, open_event_stream
from .streams import EventStream, RecordCounters, RecordStream
from .transport import (
    DEFAULT_MAX_BATCH,
    DEFAULT_RCVBUF,
    Datagram,
    NetlinkAuditSocket,
    OpenTransport,
    Overflow,
    Transport,
    open_netlink_audit_socket,
)

#: The reader's wake-up delay for a log writer (``trioaudit tail``, the daemon): at
#: most 50 ms more latency per record. Each wake-up has a fixed cost (a scheduler
#: round, a C call, a write), so fewer of them is less CPU at ordinary rates: 20 ms
#: -> 50 ms took 54-56 -> 48-52 ticks per 12,000 execs at 1,000 exec/s, lost 0 (5 ms
#: -> 20 ms had taken a third); with its inline log writes, the daemon: 98 -> 17 per 5,000.
#: It never holds a full batch (a flood reads on at once) or a reply, and 50 ms of any
#: rate fits the 32 MiB socket buffer, so the kernel's backlog does not grow. A log
#: writer, like auditd's asynchronous log writes, does not need a record within
#: milliseconds.
LOG_WAKEUP_DELAY = 0.05

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_REPLY_TIMEOUT",
    "AuditClient",
    "AuditReplyTimeout",
    "ClientMode",
    "ClientStatistics",
    "NetlinkPermissionError",
    "open_audit_client",
]

log = logging.getLogger("trioaudit")

_REPLACE = int(T.REPLACE)

#: Records buffered between the reader and a consumer before drops start.
DEFAULT_QUEUE_SIZE = 8192
#: The fewest events ``open_events`` buffers by default.
MIN_EVENT_QUEUE = 1024
#: Seconds a request waits for the kernel before :class:`AuditReplyTimeout`.
DEFAULT_REPLY_TIMEOUT = 10.0
#: Seconds we keep trying to unregister our pid when the client closes.
UNREGISTER_TIMEOUT = 3.0
#: Seconds between unregister attempts when no ACK comes back.
UNREGISTER_RETRY = 0.25

ClientMode = Literal["auto", "unicast", "multicast", "control"]
_MODES = ("auto", "unicast", "multicast", "control")


class AuditReplyTimeout(AuditError, TimeoutError):
    """The kernel did not answer a request within ``reply_timeout`` seconds."""


class NetlinkPermissionError(NetlinkError, AuditPermissionError):
    """The kernel refused a request for lack of privilege (EPERM/EACCES)."""


_PERMISSION_HINT = {
    errno.EPERM: "needs CAP_AUDIT_CONTROL (run as root), or audit is locked (enabled=2)",
    errno.EACCES: "only the registered audit daemon may do this",
    errno.ECONNREFUSED: "audit is not available inside a user namespace",
}


def _raise_netlink_error(code: int, request_type: int, operation: str | None) -> NoReturn:
    """Raise the right :class:`NetlinkError` subclass for a kernel errno."""
    if code in (errno.EPERM, errno.EACCES):
        error: NetlinkError = NetlinkPermissionError(code, request_type, operation)
    else:
        error = NetlinkError(code, request_type, operation)
    hint = _PERMISSION_HINT.get(code)
    if hint:
        error.add_note(hint)
    raise error


@dataclass(frozen=True, slots=True)
class ClientStatistics:
    """Counters of one client, in the spirit of ``MemoryChannel.statistics()``.

    Attributes:
        mode: The resolved mode (``"unicast"``, ``"multicast"`` or ``"control"``).
        datagrams: Datagrams received.
        bytes: Bytes received.
        records_received: Audit records received from the kernel.
        records_dropped: Records dropped because the consumer fell behind
            (the queue was full) -- client side, not counted in the kernel's ``lost``.
        overflows: ``ENOBUFS`` reports: the socket buffer overflowed and the
            kernel dropped datagrams for us (multicast drops show up only here).
        malformed: Datagrams that did not decode and were skipped.
        foreign_senders: Datagrams from a sender other than the kernel, ignored.
        unmatched_replies: Replies nobody waited for any more (e.g. cancelled).
        queue_used: Records waiting in the queue right now.
        queue_size: The queue's capacity.
    """

    mode: str
    datagrams: int
    bytes: int
    records_received: int
    records_dropped: int
    overflows: int
    malformed: int
    foreign_senders: int
    unmatched_replies: int
    queue_used: int
    queue_size: int


class _Waiter:
    __slots__ = ("done", "operation", "request_type", "result")

    def __init__(self, request_type: int, operation: str | None) -> None:
        self.done = trio.Event()
        self.result: RequestCompleted | None = None
        self.request_type = request_type
        self.operation = operation


class AuditClient:
    """A connection to the kernel's audit subsystem.

    Create it only with :func:`open_audit_client`; the reader task that makes
    it work lives in that context manager's nursery.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        mode: str,
        queue_size: int,
        reply_timeout: float,
        _token: object = None,
        wakeup_delay: float = 0.0,
    ) -> None:
        if _token is not _CREATE_TOKEN:
            raise TypeError("use trioaudit.open_audit_client() to create an AuditClient")
        self._transport = transport
        self._protocol = AuditProtocol(first_seq=int.from_bytes(os.urandom(2), "little") + 1)
        self._waiters: dict[int, _Waiter] = {}
        self._wakeup_delay = wakeup_delay
        # Set when a request is sent, so that the reader's wake-up delay never
        # holds back a reply (see open_audit_client's wakeup_delay).
        self._request_sent = trio.Event()
        # The core's timerfd for that delay (see _wait_wakeup_delay); made by the reader.
        self._wake_timer: Any | None = None
        self._unawaited: dict[int, _Waiter] = {}
        self._reply_timeout = reply_timeout
        self._record_counters = RecordCounters()
        self._record_send, record_receive = trio.open_memory_channel[KernelRecord](queue_size)
        self._records = RecordStream(record_receive, self._record_counters)
        self._records_open = False
        self._queue_size = queue_size
        #: The open event stream's feed: the reader hands it every batch (None: the
        #: records go to the record queue).
        self._feed: EventFeed | None = None
        self._reader_scope = trio.CancelScope()
        self.mode = mode
        #: True while this process is registered with the kernel as the audit daemon.
        self.registered = False
        self._datagrams = 0
        self._bytes = 0
        self._overflows = 0
        self._malformed = 0

    # ---- requests ------------------------------------------------------------------
    async def request(
        self,
        msg_type: int,
        payload: bytes = b"",
        *,
        operation: str | None = None,
        wait: bool = True,
    ) -> list[NetlinkMessage]:
        """Send one request and wait for the kernel's answer.

        Args:
            msg_type: The audit message type (e.g. ``AuditMessageType.GET``).
            payload: Request payload.
            operation: Words for error messages ("set rate_limit").
            wait: False sends without waiting (go-libaudit's NoWait); the
                answer is then collected by :meth:`wait_for_pending_acks`.

        Returns:
            The data replies (one for ``AUDIT_GET``-like requests, all parts of
            a dump, none for plain ACKs).

        Raises:
            NetlinkError: The kernel answered with a negative errno
                (:class:`NetlinkPermissionError` for EPERM/EACCES).
            AuditReplyTimeout: No answer within ``reply_timeout``.
            AuditUsageError: The payload would lock audit (``enabled=2``),
                set panic-on-failure or lock a feature: those go only through
                the typed methods with ``confirm=True``.

        Cancellation: safe at any point; an answer that arrives after the
        caller left is dropped and counted as unmatched.
        """
        irreversible = _irreversible_setting(msg_type, payload)
        if irreversible is not None:
            raise AuditUsageError(
                f"request() refuses {irreversible}: it cannot be undone before reboot; "
                "use the typed method with confirm=True if you mean it"
            )
        completed = await self._exchange(msg_type, payload, operation, wait)
        return list(completed.replies) if completed is not None else []

    async def request_dump(
        self, msg_type: int, payload: bytes = b"", *, operation: str | None = None
    ) -> list[NetlinkMessage]:
        """Send a dump request (``NLM_F_DUMP``) and return every part until ``NLMSG_DONE``.

        The protocol table knows which types are dumps (``AUDIT_LIST_RULES``);
        this is :meth:`request` under a name that says what comes back.
        """
        return await self.request(msg_type, payload, operation=operation)

    async def _exchange(
        self, msg_type: int, payload: bytes, operation: str | None, wait: bool
    ) -> RequestCompleted | None:
        seq, data = self._protocol.build_request(msg_type, payload)
        waiter = _Waiter(msg_type, operation)
        self._waiters[seq] = waiter
        self._note_request()
        try:
            await self._transport.send(data)
        except BaseException:
            self._forget(seq)
            raise
        if not wait:
            self._unawaited[seq] = waiter
            return None
        return await self._await_reply(seq, waiter)

    async def _await_reply(self, seq: int, waiter: _Waiter) -> RequestCompleted:
        try:
            with trio.move_on_after(self._reply_timeout) as scope:
                await waiter.done.wait()
        finally:
            if not waiter.done.is_set():
                self._forget(seq)
        if scope.cancelled_caught:
            what = waiter.operation or T(waiter.request_type).name
            raise AuditReplyTimeout(f"{what}: no answer from the kernel in {self._reply_timeout}s")
        result = waiter.result
        assert result is not None
        if result.failed:
            _raise_netlink_error(-result.error, waiter.request_type, waiter.operation)
        return result

    def _forget(self, seq: int) -> None:
        self._waiters.pop(seq, None)
        self._unawaited.pop(seq, None)
        self._protocol.forget(seq)

    async def wait_for_pending_acks(self) -> None:
        """Wait for the answers to every request sent with ``wait=False``.

        Raises:
            NetlinkError: The first refusal (others are attached as notes).
        """
        pending = list(self._unawaited.items())
        self._unawaited.clear()
        errors: list[AuditError] = []
        for seq, waiter in pending:
            try:
                await self._await_reply(seq, waiter)
            except (NetlinkError, AuditReplyTimeout) as exc:
                errors.append(exc)
        if errors:
            first = errors[0]
            for other in errors[1:]:
                first.add_note(f"also: {other}")
            raise first

    # ---- status --------------------------------------------------------------------
    async def get_status(self) -> AuditStatus:
        """Return the kernel's current audit status (``AUDIT_GET``, ``auditctl -s``)."""
        replies = await self.request(T.GET, operation="get status")
        if not replies:
            raise AuditProtocolError("AUDIT_GET was acknowledged without a status reply")
        return AuditStatus.from_bytes(replies[0].payload)

    async def _set_status(
        self, mask: StatusMask, operation: str, *, wait: bool = True, **values: int
    ) -> int:
        completed = await self._exchange(
            T.SET, encode_status_request(mask, **values), operation, wait
        )
        return completed.error if completed is not None else 0

    async def set_enabled(self, enabled: bool, *, wait: bool = True) -> None:
        """Enable (``auditctl -e 1``) or disable (``-e 0``) auditing.

        Locking the configuration (``-e 2``) is :meth:`set_immutable`.
        """
        await self._set_status(
            StatusMask.ENABLED, "set enabled", wait=wait, enabled=1 if enabled else 0
        )

    async def set_immutable(self, *, confirm: bool = False) -> None:
        """Lock the audit configuration until reboot (``auditctl -e 2``).

        After this, no rule or setting can change (every attempt fails with
        EPERM) until the machine reboots.

        Raises:
            AuditUsageError: Unless ``confirm=True``.
        """
        if confirm is not True:
            raise AuditUsageError(
                "set_immutable() locks audit until reboot; call it with confirm=True if you mean it"
            )
        await self._set_status(StatusMask.ENABLED, "set immutable", enabled=2)

    async def set_failure(
        self, mode: FailureMode | int, *, confirm: bool = False, wait: bool = True
    ) -> None:
        """Set what the kernel does when it cannot record (``auditctl -f``).

        Raises:
            AuditUsageError: ``PANIC`` without ``confirm=True`` (it makes the
                kernel panic on an audit failure), or an unknown mode.
        """
        try:
            mode = FailureMode(mode)
        except ValueError:
            raise AuditUsageError(f"unknown failure mode {mode!r} (0, 1 or 2)") from None
        if mode is FailureMode.PANIC and confirm is not True:
            raise AuditUsageError(
                "failure mode PANIC halts the machine when audit cannot record; "
                "call set_failure(PANIC, confirm=True) if you mean it"
            )
        await self._set_status(StatusMask.FAILURE, "set failure", wait=wait, failure=int(mode))

    async def set_pid(self, pid: int | None = None, *, wait: bool = True) -> None:
        """Register *pid* (default: this process) as the audit daemon; 0 unregisters.

        The kernel only accepts the caller's own pid (or 0 from the current daemon).
        """
        target = os.getpid() if pid is None else pid
        previous = self.registered
        if target == os.getpid():
            # Until the kernel answers, assume it took the pid: a cancellation
            # while the request is in flight must still unregister on close.
            self.registered = True
        try:
            await self._set_status(StatusMask.PID, "set pid", wait=wait, pid=target)
        except NetlinkError:
            self.registered = previous
            raise
        self.registered = target == os.getpid()

    async def set_rate_limit(self, limit: int, *, wait: bool = True) -> None:
        """Records per second before the kernel drops (``auditctl -r``); 0 = no limit."""
        await self._set_status(
            StatusMask.RATE_LIMIT, "set rate_limit", wait=wait, rate_limit=_u32(limit)
        )

    async def set_backlog_limit(self, limit: int, *, wait: bool = True) -> None:
        """Records the kernel queues for the daemon (``auditctl -b``)."""
        await self._set_status(
            StatusMask.BACKLOG_LIMIT, "set backlog_limit", wait=wait, backlog_limit=_u32(limit)
        )

    async def set_backlog_wait_time(self, jiffies: int, *, wait: bool = True) -> None:
        """How long (in jiffies) audited tasks wait for backlog space (``--backlog_wait_time``).

        0 means never wait: the kernel drops records instead of stalling tasks.
        """
        await self._set_status(
            StatusMask.BACKLOG_WAIT_TIME,
            "set backlog_wait_time",
            wait=wait,
            backlog_wait_time=_u32(jiffies),
        )

    # ---- control plane: features, signal info, user messages, TTY -----------------
    # (owned by the control-plane work; keep additions inside this section)
    async def _control_request(
        self, msg_type: int, payload: bytes, operation: str, *, wait: bool = True
    ) -> RequestCompleted | None:
        """:meth:`_exchange` plus a hint naming the cause of the errno for *operation*."""
        try:
            return await self._exchange(msg_type, payload, operation, wait)
        except NetlinkError as exc:
            hint = _control.control_error_hint(operation, exc.errno or 0)
            if hint:
                # The operation's own hint replaces the generic one (which names
                # CAP_AUDIT_CONTROL even where CAP_AUDIT_WRITE is what is missing).
                generic = _PERMISSION_HINT.get(exc.errno or 0)
                notes = getattr(exc, "__notes__", None)
                if notes is not None and generic in notes:
                    notes.remove(generic)
                exc.add_note(hint)
            raise

    async def _control_reply(self, msg_type: int, operation: str) -> bytes:
        completed = await self._control_request(msg_type, b"", operation)
        if completed is None or not completed.replies:
            raise AuditProtocolError(f"{operation}: acknowledged without a reply")
        return completed.replies[0].payload

    async def reset_lost(self) -> int:
        """Reset the kernel's ``lost`` counter to 0 (``auditctl --reset-lost``).

        Returns:
            The value of ``lost`` just before the reset (the kernel swaps it
            atomically and logs ``CONFIG_CHANGE op=set lost=0 old=N``).

        Raises:
            AuditUnsupported: The kernel's ``feature_bitmap`` lacks ``LOST_RESET``.
            NetlinkError: Refused (EPERM without CAP_AUDIT_CONTROL).
        """
        status = await self.get_status()
        if not status.features & FeatureBitmap.LOST_RESET:
            raise _control.AuditUnsupported(
                "reset lost: this kernel does not advertise LOST_RESET in feature_bitmap"
            )
        payload = encode_status_request(StatusMask.LOST, lost=0)
        completed = await self._control_request(T.SET, payload, "reset lost")
        assert completed is not None
        return completed.error

    async def reset_backlog_wait_time_actual(self) -> int:
        """Reset ``backlog_wait_time_actual`` to 0 (``--reset_backlog_wait_time_actual``).

        Returns:
            The value (jiffies tasks waited for backlog space) before the reset.

        Raises:
            AuditUnsupported: The kernel's status has no such field (before 5.10).
        """
        status = await self.get_status()
        if status.backlog_wait_time_actual is None:
            raise _control.AuditUnsupported(
                "reset backlog_wait_time_actual: this kernel does not report it (needs 5.10+)"
            )
        payload = encode_status_request(
            StatusMask.BACKLOG_WAIT_TIME_ACTUAL, backlog_wait_time_actual=0
        )
        completed = await self._control_request(T.SET, payload, "reset backlog_wait_time_actual")
        assert completed is not None
        return completed.error

    async def get_features(self) -> _control.AuditFeatures:
        """The kernel's audit features and their locks (``AUDIT_GET_FEATURE``).

        Raises:
            NetlinkError: EINVAL on kernels before 3.13 (no feature API).
        """
        payload = await self._control_reply(T.GET_FEATURE, "get features")
        return _control.AuditFeatures.from_bytes(payload)

    async def set_feature(
        self,
        name: str | _control.AuditFeature,
        value: bool,
        *,
        lock: bool = False,
        confirm: bool = False,
    ) -> _control.FeatureState:
        """Turn a kernel audit feature on or off (``auditctl --loginuid-immutable``).

        Args:
            name: ``"loginuid_immutable"`` or ``"only_unset_loginuid"``.
            value: The new value.
            lock: Also lock the feature: it then cannot change until reboot.
            confirm: Must be True with ``lock=True``, as for :meth:`set_immutable`.

        Returns:
            The feature's state as the kernel reports it afterwards.

        Raises:
            AuditUsageError: Unknown feature, or ``lock`` without ``confirm``.
            NetlinkError: EPERM when the feature is locked.
        """
        feature = _control.feature_by_name(name)
        if lock and confirm is not True:
            raise AuditUsageError(
                f"locking {feature.feature_name} cannot be undone before reboot; "
                "call set_feature(..., lock=True, confirm=True) if you mean it"
            )
        payload = _control.encode_feature_request(feature, value, lock=lock)
        await self._control_request(T.SET_FEATURE, payload, "set feature")
        state = (await self.get_features()).state(feature)
        if state is None:
            raise AuditProtocolError(
                f"set feature: the kernel does not report {feature.feature_name}"
            )
        return state

    async def get_signal_info(self) -> _control.SignalInfo:
        """Who last sent TERM/HUP/USR1/USR2 to the audit daemon (``AUDIT_SIGNAL_INFO``).

        ``pid`` is 0 when nobody has since boot.
        """
        payload = await self._control_reply(T.SIGNAL_INFO, "get signal info")
        return _control.SignalInfo.from_bytes(payload)

    async def send_user_message(
        self, text: str, *, type: int | str = T.USER, wait: bool = True
    ) -> None:
        """Write a message into the audit trail (``auditctl -m``, ``audit_log_user_message``).

        The kernel records it as a record of *type* carrying the sender's
        ``pid``/``uid``/``auid``/``ses``/``subj`` and ``msg='TEXT'``. While
        auditing is disabled the kernel accepts and silently drops it.

        Args:
            text: The message (at most 8560 bytes of UTF-8, no NUL).
            type: ``AuditMessageType.USER`` (1005, the default) or a type in
                1100-1199 / 2100-2999, by number or name (``"USER_CMD"``).
            wait: False sends without waiting for the ACK (see
                :meth:`wait_for_pending_acks`).

        Raises:
            AuditUsageError: Bad type or text (refused before sending).
            NetlinkError: EPERM without ``CAP_AUDIT_WRITE``.
        """
        msg_type = _control.user_message_type(type)
        payload = _control.encode_user_message(text)
        await self._control_request(msg_type, payload, "send user message", wait=wait)

    async def trim(self) -> None:
        """Drop directory-watch subtrees whose mounts are gone (``auditctl -t``, ``AUDIT_TRIM``).

        Run it after unmounting something under a ``-w /dir`` watch.
        """
        await self._control_request(T.TRIM, b"", "trim subtrees")

    async def signal_daemon(self, sig: str | int) -> int:
        """Send the registered audit daemon a signal (``auditctl --signal``).

        TERM stops it, HUP reloads its configuration, USR1 rotates its logs,
        USR2 resumes logging after a disk error, CONT dumps a state report.
        The kernel notes who sent TERM/HUP/USR1/USR2 (:meth:`get_signal_info`).

        Returns:
            The daemon's pid.

        Raises:
            AuditUsageError: Any other signal.
            AuditError: No audit daemon is registered.
        """
        signum = _control.daemon_signal(sig)
        pid = (await self.get_status()).pid
        if pid == 0:
            raise AuditError("signal daemon: no audit daemon is registered (pid 0)")
        os.kill(pid, signum)
        return pid

    async def get_tty_audit(self) -> _control.TtyAuditStatus:
        """TTY auditing of *this process* (``AUDIT_TTY_GET``, as pam_tty_audit sees it)."""
        payload = await self._control_reply(T.TTY_GET, "get tty auditing")
        return _control.TtyAuditStatus.from_bytes(payload)

    async def set_tty_audit(
        self, enabled: bool, log_passwd: bool = False
    ) -> _control.TtyAuditStatus:
        """Turn TTY auditing of *this process* (and the children it starts after) on or off.

        It is not a global switch: the setting lives in the calling process's
        signal struct, which pam_tty_audit sets for a login session.

        Returns:
            The previous setting.
        """
        previous = await self.get_tty_audit()
        payload = _control.TtyAuditStatus(bool(enabled), bool(log_passwd)).to_bytes()
        await self._control_request(T.TTY_SET, payload, "set tty auditing")
        return previous

    # ---- rules ---------------------------------------------------------------------
    # (thin wrappers over trioaudit.rules; keep additions inside this section)
    async def list_rules(self) -> list[AuditRule]:
        """The rules loaded in the kernel, in order (``auditctl -l``)."""
        replies = await self.request_dump(T.LIST_RULES, operation="list rules")
        return [AuditRule.from_bytes(reply.payload) for reply in replies]

    async def add_rule(self, rule: AuditRule | str) -> None:
        """Load one rule (``auditctl -a/-A/-w``); a string is parsed as auditctl syntax.

        Raises:
            RuleSyntaxError: The string is not a valid rule (names the token).
            NetlinkError: The kernel refused it (``EEXIST``: already loaded).
        """
        await self.request(T.ADD_RULE, _rule(rule).to_bytes(), operation="add rule")

    async def delete_rule(self, rule: AuditRule | str) -> None:
        """Remove one rule (``auditctl -d/-W``); it must match a loaded rule exactly.

        The prepend flag of an ``-A`` rule is dropped first: the kernel never
        keeps it, so a delete request carrying it would match nothing.

        Raises:
            NetlinkError: ``ENOENT`` when no loaded rule matches.
        """
        payload = _rule(rule).without_prepend().to_bytes()
        await self.request(T.DEL_RULE, payload, operation="delete rule")

    async def delete_all_rules(self, *, key: str | None = None) -> int:
        """Remove every rule (``auditctl -D``), or those *key* selects (``-D -k``).

        *key* selects as auditctl's does (:meth:`~trioaudit.AuditRule.matches_key`:
        a substring of the rule's joined key field).

        Returns:
            How many rules were removed.

        Raises:
            NetlinkError: A delete was refused; a note names the rule, and the
                rules before it stay removed.
        """
        removed = 0
        for rule in await self.list_rules():
            if key is not None and not rule.matches_key(key):
                continue
            try:
                await self.delete_rule(rule)
            except NetlinkError as exc:
                exc.add_note(f"rule: {render_rule(rule)}")
                raise
            removed += 1
        return removed

    # ---- records -------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def records(self) -> AsyncIterator[RecordStream]:
        """Receive raw audit records as the kernel sends them.

        Usage::

            async with client.records() as records:
                async for record in records:
                    ...

        Records that arrived before this was opened are in the queue already
        (up to its size). One consumer at a time.

        The :class:`~trioaudit.RecordStream` takes what is queued in batches
        (``async for``: a scheduler yield every 256 records, a cancellation
        check on each), so a plain loop keeps up with the reader, which drains
        up to 2048 datagrams per turn (a trio memory channel yields on every
        item and falls behind under a flood; docs/benchmarks.md). Its
        ``statistics()`` counts what was received, dropped and is waiting.

        Raises:
            AuditUsageError: Already open, or the client is in ``"control"`` mode.
        """
        if self.mode == "control":
            raise AuditUsageError("a client in 'control' mode receives no records")
        if self._records_open:
            raise AuditUsageError("records() is already open on this client")
        self._records_open = True
        try:
            yield self._records
        finally:
            self._records_open = False

    @contextlib.asynccontextmanager
    async def open_events(
        self,
        *,
        end_of_event_timeout: float | None = None,
        max_open: int | None = None,
        queue_size: int | None = None,
        parse_fields: bool = True,
    ) -> AsyncIterator[EventStream]:
        """Receive reassembled, parsed audit events.

        Usage::

            async with client.open_events() as events:
                async for event in events:
                    print(event.sequence, event.type_name, event.syscall)

        Records are grouped by ``(timestamp, serial)``; an event ends on its
        EOE record, at once for single-record types, or ``timeout`` seconds
        after its last record (``end_of_event_timeout``). Interpretation
        (``event.records[i].fields``) is computed lazily, on first access.

        While the block runs, the reader task itself parses and groups what it
        receives (on the compiled core, in one C call per wake-up that also reads
        the socket; :mod:`trioaudit._trio.eventstream`), and the records that were
        already queued for :meth:`records` are taken first: it owns
        :meth:`records` meanwhile. Named ``open_*`` after trio's convention: the
        block runs a nursery with the task that completes timed-out events. The
        :class:`~trioaudit.EventStream`'s ``statistics()`` carries its counters
        and the reassembler's.

        Args:
            end_of_event_timeout: Seconds an event waits for more records
                (default 2, like auditd's ``end_of_event_timeout``).
            max_open: Most events kept open at once; the oldest is completed
                early beyond it (counted in the reassembler's statistics).
            queue_size: Events buffered for the consumer (default: an eighth of
                the client's record ``queue_size``, at least 1024). When it is
                full, completed events are dropped and counted (the stream's
                ``dropped``, their records in the client's ``records_dropped``)
                -- the socket reader never waits.
            parse_fields: ``False`` groups records into events without splitting
                their fields (records carry type, stamp and ``raw`` text, ``items``
                empty): for handing events to other processes to parse
                (``trioaudit tail --jobs``).

        Raises:
            AuditUsageError: ``records()`` or ``open_events()`` is already open,
                or the client is in ``"control"`` mode.
        """
        reassembler = make_reassembler(
            timeout=DEFAULT_TIMEOUT if end_of_event_timeout is None else end_of_event_timeout,
            max_open=DEFAULT_MAX_OPEN if max_open is None else max_open,
        )
        if queue_size is None:
            queue_size = max(MIN_EVENT_QUEUE, self._queue_size // 8)
        if queue_size < 1:
            raise AuditUsageError("queue_size must be at least 1")
        async with (
            self.records(),
            collapse_single_exception_group(),
            open_event_stream(
                self._attach_feed,
                reassembler,
                self._record_counters,
                queue_size=queue_size,
                parse_fields=parse_fields,
            ) as events,
        ):
            yield events

    def _attach_feed(self, feed: EventFeed | None) -> list[KernelRecord]:
        """Hand the reader's batches to *feed* (None: back to the record queue).

        Returns the records waiting in the record queue, which the feed takes
        first: they arrived before it.
        """
        self._feed = feed
        queued: list[KernelRecord] = []
        if feed is not None:
            while True:
                try:
                    queued.append(self._records.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
        return queued

    def statistics(self) -> ClientStatistics:
        """Counters: received, dropped (queue full), overflows (ENOBUFS), malformed..."""
        records = self._records.statistics()
        return ClientStatistics(
            mode=self.mode,
            datagrams=self._datagrams,
            bytes=self._bytes,
            records_received=records.received,
            records_dropped=records.dropped,
            overflows=self._overflows,
            malformed=self._malformed,
            foreign_senders=self._protocol.stats.foreign_senders,
            unmatched_replies=self._protocol.stats.unmatched,
            queue_used=records.queued,
            queue_size=records.queue_size,
        )

    # ---- the reader task -----------------------------------------------------------
    async def _run_reader(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the reader, immune to outside cancellation until the client closes.

        Closing the client sends requests (unregister the pid, a caller's
        cleanup in its ``finally``) whose answers only the reader can deliver.
        If an outer cancel scope killed the reader first, those requests would
        wait in vain; so the reader is shielded and stopped explicitly by
        :func:`open_audit_client` once cleanup is done.
        """
        with trio.CancelScope(shield=True) as self._reader_scope:
            task_status.started()
            if trio.lowlevel.current_task().eventual_parent_nursery is not None:
                # start() was cancelled before we moved into the client's
                # nursery; trio then leaves us where we were, and nobody would
                # ever cancel this shielded scope. Leave now instead.
                return
            await self._reader()

    async def _reader(self) -> None:
        if self._wakeup_delay and _core is not None:
            self._wake_timer = _core.WakeTimer()
        try:
            await self._read_forever()
        finally:
            timer, self._wake_timer = self._wake_timer, None
            if timer is not None:
                timer.close()  # nothing waits on it now: only this task ever does

    async def _read_forever(self) -> None:
        transport = self._transport
        # The compiled core reads the kernel's socket itself (one C call per wake-up);
        # any other transport's batches are decoded after receive_batch.
        socket = transport if isinstance(transport, NetlinkAuditSocket) else None
        delay = self._wakeup_delay
        drained = True  # the last read emptied the socket (its batch was not full)
        while True:
            if delay and drained and not self._waiters:
                # Coalesce wake-ups at low rates: what arrives meanwhile stays in the
                # socket buffer and is taken in one batch. A request cuts it short;
                # under load (full batches) the reader never waits.
                await self._wait_wakeup_delay(delay)
            feed = self._feed
            if (
                feed is not None
                and socket is not None
                and isinstance(feed.decoder, NativeDatagramDecoder)
            ):
                decoded = await self._drain_natively(socket, feed, feed.decoder)
                if decoded is None:
                    continue  # the stream closed while we waited: read the plain way
                drained = not decoded.full
                self._apply_decoded(feed, decoded)
                if not (delay and drained and not self._waiters):
                    # Yield to other tasks (the consumer) once per batch -- unless the
                    # wake-up delay at the top of the loop is about to: a scheduler round
                    # per wake-up is most of the CPU at low rates.
                    await trio.lowlevel.cancel_shielded_checkpoint()
                continue
            batch = await transport.receive_batch(DEFAULT_MAX_BATCH)
            drained = len(batch) < DEFAULT_MAX_BATCH
            feed = self._feed
            if feed is not None:
                self._apply_decoded(feed, feed.decoder.take(batch, trio.current_time()))
            else:
                self._queue_records(batch)

    async def _wait_wakeup_delay(self, delay: float) -> None:
        """Wait *delay* seconds, or until a request is sent.

        On the compiled core this is an I/O wait on a timerfd (``WakeTimer``) that a
        request re-arms to fire at once. The reference path waits on an event under a
        cancel scope's deadline -- whose expiry, in trio, raises and unwinds a
        ``Cancelled`` through this task on every wake-up: measured as half the reader's
        CPU at 100 exec/s, and why the core has the timer.
        """
        timer = self._wake_timer
        if timer is not None:
            timer.arm(delay)
            try:
                await trio.lowlevel.wait_readable(timer)
            finally:
                timer.clear()
            return
        with trio.move_on_after(delay):
            await self._request_sent.wait()
        if self._request_sent.is_set():
            self._request_sent = trio.Event()

    def _note_request(self) -> None:
        """A request was sent: end the reader's wake-up delay now (its reply must not wait)."""
        self._request_sent.set()
        if self._wake_timer is not None:
            self._wake_timer.arm(0.0)

    async def _drain_natively(
        self, socket: NetlinkAuditSocket, feed: EventFeed, decoder: NativeDatagramDecoder
    ) -> DecodedBatch | None:
        """Wait until the socket has something, then read, parse and group it in C."""
        fd = socket.fileno()
        while True:
            decoded = decoder.drain(fd, DEFAULT_MAX_BATCH, trio.current_time())
            if decoded.datagrams or decoded.overflows or decoded.others or decoded.error:
                return decoded
            await socket.wait_readable()
            if self._feed is not feed:
                return None

    def _apply_decoded(self, feed: EventFeed, decoded: DecodedBatch) -> None:
        """Count a decoded batch, queue its events, and apply its other traffic."""
        self._datagrams += decoded.datagrams
        self._bytes += decoded.bytes
        if decoded.overflows:
            self._overflow(decoded.overflows)
        feed.account(decoded)
        for item in decoded.others:
            if isinstance(item, Overflow):
                self._overflow(1)
                continue
            data, sender = item
            self._apply_protocol(data, sender, feed)
        if decoded.error:
            raise OSError(decoded.error, os.strerror(decoded.error))

    def _queue_records(self, batch: list[Datagram | Overflow]) -> None:
        """No event stream: records go to the record queue, for :meth:`records`."""
        take = self._take_record
        now = time.time()
        for item in batch:
            if isinstance(item, Overflow):
                self._overflow(1)
                continue
            data, sender = item
            self._datagrams += 1
            self._bytes += len(data)
            if sender == 0:
                record = record_of_datagram(data)
                if record is not None:  # the fast path: nearly all traffic
                    take(record[0], record[1], now)
                    continue
            self._apply_protocol(data, sender, None)

    def _apply_protocol(self, data: bytes, sender: int, feed: EventFeed | None) -> None:
        """A datagram that is not a plain record: replies, ACKs, foreign senders, runts."""
        try:
            events = self._protocol.receive_datagram(data, sender)
        except AuditProtocolError as exc:
            self._malformed += 1
            log.warning("skipped a malformed netlink datagram: %s", exc)
            return
        for event in events:
            if isinstance(event, RecordReceived):
                if feed is not None:
                    feed.take_record(event.message.type, event.message.payload, trio.current_time())
                else:
                    self._take_record(event.message.type, event.message.payload, time.time())
            else:
                waiter = self._waiters.pop(event.seq, None)
                if waiter is not None:
                    waiter.result = event
                    waiter.done.set()

    def _overflow(self, count: int) -> None:
        self._overflows += count
        log.warning("audit socket overflowed (ENOBUFS): the kernel dropped records")

    def _take_record(self, msg_type: int, payload: bytes, now: float) -> None:
        """Queue one record for the consumer, or count it dropped; never waits."""
        if msg_type == _REPLACE:
            return  # the kernel probing whether we are alive; its payload is a pid
        counters = self._record_counters
        counters.received += 1
        try:
            self._record_send.send_nowait(KernelRecord(msg_type, record_text(payload), now))
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            # Full: the consumer is behind. Broken/closed: the queue was shut while
            # the batch in hand was still being applied. Counted, never a crash.
            counters.dropped += 1

    # ---- life cycle ----------------------------------------------------------------
    async def _register(self, mode: str) -> str:
        """Resolve *mode* and register our pid if unicast; return the resolved mode."""
        status = await self.get_status()
        holder = status.pid
        held = holder not in (0, os.getpid()) and _process_alive(holder)
        if mode == "unicast" or (mode == "auto" and not held):
            if held:
                raise AuditDaemonRunning(holder, process_name(holder))
            try:
                await self.set_pid()
            except NetlinkError as exc:
                if exc.errno == errno.EEXIST:
                    raise AuditDaemonRunning(holder, process_name(holder)) from None
                raise
            return "unicast"
        self._transport.join_multicast()
        return "multicast"

    async def _unregister(self) -> None:
        """Give the pid back, retrying while the reader keeps draining the socket."""
        with trio.move_on_after(UNREGISTER_TIMEOUT) as scope:
            scope.shield = True
            while True:
                seq, data = self._protocol.build_request(
                    T.SET, encode_status_request(StatusMask.PID, pid=0)
                )
                waiter = _Waiter(T.SET, "unregister pid")
                self._waiters[seq] = waiter
                self._note_request()
                if self._transport.send_nowait(data):
                    with trio.move_on_after(UNREGISTER_RETRY):
                        await waiter.done.wait()
                else:
                    await trio.sleep(UNREGISTER_RETRY / 10)
                if waiter.done.is_set():
                    self.registered = False
                    result = waiter.result
                    if result is not None and result.failed:
                        log.warning("could not unregister audit pid: errno %d", -result.error)
                    return
                self._forget(seq)
        if scope.cancelled_caught:
            log.warning("gave up unregistering the audit pid after %ss", UNREGISTER_TIMEOUT)


_CREATE_TOKEN = object()


def _irreversible_setting(msg_type: int, payload: bytes) -> str | None:
    """Name the setting a raw request would make that only a reboot undoes, if any.

    The kernel zero-fills a short ``AUDIT_SET`` payload (it copies
    ``min(sizeof, len)``), so a truncated struct is read the same way.
    """
    if msg_type == T.SET:
        status = AuditStatus.from_bytes(bytes(payload[:STATUS_SIZE]).ljust(STATUS_SIZE, b"\0"))
        if status.mask & StatusMask.ENABLED and status.enabled == 2:
            return "enabled=2 (immutable until reboot)"
        if status.mask & StatusMask.FAILURE and status.failure == FailureMode.PANIC:
            return "failure=2 (panic)"
    elif msg_type == T.SET_FEATURE:
        size = _control.FEATURES_SIZE
        features = _control.AuditFeatures.from_bytes(bytes(payload[:size]).ljust(size, b"\0"))
        if features.mask & features.lock:
            return "a feature lock"
    return None


def _rule(rule: AuditRule | str) -> AuditRule:
    return parse_rule(rule) if isinstance(rule, str) else rule


def _u32(value: int) -> int:
    if not 0 <= value <= 0xFFFFFFFF:
        raise AuditUsageError(f"{value} is out of range (0..4294967295)")
    return value


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_name(pid: int) -> str | None:
    """The name of process *pid*, from /proc (None if it is gone or hidden)."""
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip() or None
    except OSError:
        return None


@contextlib.asynccontextmanager
async def open_audit_client(
    mode: ClientMode = "auto",
    *,
    rcvbuf: int | None = DEFAULT_RCVBUF,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
    open_transport: OpenTransport = open_netlink_audit_socket,
    wakeup_delay: float = 0.0,
) -> AsyncIterator[AuditClient]:
    """Open a connection to the kernel's audit subsystem.

    Usage::

        async with trioaudit.open_audit_client() as client:
            print(await client.get_status())

    Args:
        mode: ``"auto"``, ``"unicast"``, ``"multicast"`` or ``"control"`` (see
            the module documentation).
        rcvbuf: Socket receive buffer to request, in bytes.
        queue_size: Records buffered for a slow consumer before drops are counted.
        reply_timeout: Safety-net seconds a request waits for the kernel.
        open_transport: Opens the connection the client talks over, called
            once as ``open_transport(multicast=..., rcvbuf=...)``; it must
            return a :class:`~trioaudit.Transport`, which the client closes on
            the way out. The default opens a NETLINK_AUDIT socket; tests pass a
            fake kernel's (``tests/support/fake_transport.py``), and so can
            anybody who sets up the socket differently.
        wakeup_delay: Seconds the reader waits before each read, so that the
            records arriving meanwhile are taken in one wake-up instead of one
            each: at low rates (a host's steady trickle of events) the trio
            scheduler's round per wake-up is most of the CPU. Costs at most this
            much latency per record; a request in flight is never held back; under
            load (a read that fills a whole batch) the reader does not wait at all, so
            the kernel side is unaffected (the records wait in our socket buffer). 0
            (the default) reads at once; ``trioaudit tail`` uses 50 ms.

    Raises:
        AuditDaemonRunning: ``mode="unicast"`` while another live process is
            the audit daemon.
        AuditPermissionError: Missing ``CAP_AUDIT_CONTROL`` / ``CAP_AUDIT_READ``.

    Leaving the block unregisters our pid if we registered it, then cancels
    the reader task. Exceptions from the block propagate unwrapped.
    """
    if mode not in _MODES:
        raise AuditUsageError(f"unknown mode {mode!r}; expected one of {', '.join(_MODES)}")
    if queue_size < 1:
        raise AuditUsageError("queue_size must be at least 1")
    transport = open_transport(multicast=mode == "multicast", rcvbuf=rcvbuf)
    try:
        async with collapse_single_exception_group(), trio.open_nursery() as nursery:
            client = AuditClient(
                transport,
                mode=mode,
                queue_size=queue_size,
                reply_timeout=reply_timeout,
                _token=_CREATE_TOKEN,
                wakeup_delay=wakeup_delay,
            )
            try:
                # Inside the try: a cancel that lands just after the (shielded)
                # reader started must still stop it, or the nursery never exits.
                await nursery.start(client._run_reader, name="trioaudit reader")
                if mode in ("auto", "unicast"):
                    client.mode = await client._register(mode)
                yield client
            finally:
                if client.registered:
                    await client._unregister()
                client._record_send.close()
                if client._feed is not None:
                    client._feed.finish()
                client._reader_scope.cancel("audit client closed")
                nursery.cancel_scope.cancel("audit client closed")
    finally:
        transport.close()


@contextlib.asynccontextmanager
async def collapse_single_exception_group() -> AsyncIterator[None]:
    """Re-raise a lone exception out of the nursery's ExceptionGroup.

    The nursery is an implementation detail: a caller whose block raised
    ``KeyError`` should see ``KeyError``, not a group around it.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        # Nested nurseries (client, events()) nest groups: peel every layer
        # that holds exactly one exception.
        inner: BaseException = group
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        if inner is group:
            raise
        raise inner from inner.__cause__
