"""A fake of the kernel's side of NETLINK_AUDIT, with no I/O (sans-IO), for tests without root.

Theory of operation
===================

:class:`FakeKernel` is the audit subsystem of ``kernel/audit.c`` as far as a
client can see it: bytes in, bytes out. Each netlink socket is a
:class:`KernelPort` -- the kernel's end of it, with the owning process's pid
and capabilities, a receive queue of datagrams and a receive buffer size.
:meth:`KernelPort.send` hands the kernel one request datagram, which it
answers at once by queueing datagrams on the port; :meth:`KernelPort.take`
is ``recv``. Nothing here waits or knows about trio: the trio side is
``tests/support/fake_transport.py``, a :class:`~trioaudit.Transport` over a
port.

It is built on the project's own codecs (``trioaudit._wire``,
``trioaudit.rules``) for the structs, and follows the kernel where they do
not reach -- what the live tests (``tests/kernel/``) and ``kernel/audit.c``
show:

* **Requests** are processed in order; each answers ``NLMSG_ERROR`` with the
  errno when it failed, or 0 when it asked for an ACK (``NLM_F_ACK``). The
  ACK comes *before* the data reply of ``AUDIT_GET``-like requests (the
  kernel builds those in another thread); ``LIST_RULES`` answers one
  ``NLM_F_MULTI`` datagram per rule, then ``NLMSG_DONE``.
* **AUDIT_SET** copies ``min(sizeof, len)`` of the status struct and applies
  the masked fields in the kernel's order (enabled, failure, pid, rate_limit,
  backlog_limit, backlog_wait_time), stopping at the first error with the
  earlier ones applied. A mask of exactly ``LOST`` (or
  ``BACKLOG_WAIT_TIME_ACTUAL``) swaps the counter for 0 and answers the old
  value as a *positive* "error". ``enabled=2`` locks every other change
  (``EPERM``), rules included.
* **The audit pid**: ``s.pid`` must be the caller's (``EINVAL``); the kernel
  first probes the current daemon with ``AUDIT_REPLACE`` (a daemon whose
  socket is gone is reset); replacing a healthy daemon is ``EEXIST`` (even by
  itself); only the daemon may unregister (``EACCES``).
* **Permissions**: control requests need ``CAP_AUDIT_CONTROL``, user messages
  ``CAP_AUDIT_WRITE``, the multicast group ``CAP_AUDIT_READ`` (``EPERM``).
* **Records** go to the registered daemon with ``nlmsg_len`` holding the
  *payload* length, header excluded (the unicast quirk), and to every
  multicast member with an honest length. A full daemon socket makes the
  kernel hold records (``backlog``; beyond ``backlog_limit`` they are
  ``lost``); a full multicast socket or a full socket an ACK is sent to
  loses the datagram and reports ``ENOBUFS`` on the next read. Without a
  daemon, records go to :attr:`FakeKernel.printk`.

Faults for tests: :meth:`FakeKernel.fail_next` (any errno for any request
type), :meth:`FakeKernel.drop_next` (the answer is lost), :meth:`FakeKernel.hold_next`
and :meth:`FakeKernel.release` (the answer comes when the test says),
:meth:`FakeKernel.overflow` (``ENOBUFS``), :meth:`FakeKernel.inject` (any
datagram, from any sender).

Non-goals: rule *matching* (rules are stored and listed, never evaluated),
rate limiting, user namespaces.
"""

from __future__ import annotations

import errno
import os
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Flag, auto

from trioaudit._errors import AuditProtocolError
from trioaudit._tables.msgtypes import AuditMessageType as T
from trioaudit._wire.control import AuditFeature, AuditFeatures, SignalInfo, TtyAuditStatus
from trioaudit._wire.netlink import (
    NLMSG_HDRLEN,
    NetlinkFlag,
    NetlinkMessage,
    NetlinkMessageType,
    decode_datagram,
    encode_message,
)
from trioaudit._wire.status import (
    MAX_BACKLOG_WAIT_TIME,
    STATUS_SIZE,
    AuditStatus,
    StatusMask,
    encode_status_request,
)
from trioaudit.rules import AuditRule

__all__ = ["ENOBUFS", "Capability", "FakeKernel", "KernelPort"]

#: ``(uid_t)-1``: auid/ses of a task that never logged in, and the signal sender before any.
UNSET = 0xFFFFFFFF
#: ``AUDIT_FEATURE_BITMAP_ALL``: what a current kernel reports in ``feature_bitmap``.
FEATURE_BITMAP_ALL = 0x7F
#: The kernel's receive buffer for a socket that asked for none (bytes).
DEFAULT_RCVBUF = 212_992
_U32 = struct.Struct("=I")
_ERROR = struct.Struct("=i")
_ORIGINAL_HEADER = struct.Struct("=IHHII")
_DEPRECATED = frozenset({1002, 1003, 1004})  # AUDIT_LIST/ADD/DEL: -EOPNOTSUPP since 2.6.x
_CONTROL = frozenset(
    {
        T.GET,
        T.SET,
        T.GET_FEATURE,
        T.SET_FEATURE,
        T.LIST_RULES,
        T.ADD_RULE,
        T.DEL_RULE,
        T.SIGNAL_INFO,
        T.TTY_GET,
        T.TTY_SET,
        T.TRIM,
        T.MAKE_EQUIV,
    }
)
#: AUDIT_SET fields that take any u32 (after enabled, failure and pid, before the wait time).
_STATUS_SETTERS: tuple[tuple[StatusMask, str], ...] = (
    (StatusMask.RATE_LIMIT, "rate_limit"),
    (StatusMask.BACKLOG_LIMIT, "backlog_limit"),
)


class Capability(Flag):
    """The capabilities the kernel checks for audit (``netlink_capable``)."""

    AUDIT_CONTROL = auto()
    AUDIT_WRITE = auto()
    AUDIT_READ = auto()
    ALL = AUDIT_CONTROL | AUDIT_WRITE | AUDIT_READ
    NONE = 0


class _Enobufs:
    """``recv`` failed with ``ENOBUFS``: datagrams were lost for this socket."""

    def __repr__(self) -> str:
        return "ENOBUFS"


#: What :meth:`KernelPort.take` returns where ``recv`` would fail with ``ENOBUFS``.
ENOBUFS = _Enobufs()


@dataclass(slots=True)
class _Fault:
    msg_type: int | None
    kind: str  # "fail", "drop", "hold"
    times: int
    code: int = 0

    def matches(self, msg_type: int) -> bool:
        return self.times > 0 and self.msg_type in (None, msg_type)


class KernelPort:
    """The kernel's end of one NETLINK_AUDIT socket."""

    def __init__(
        self,
        kernel: FakeKernel,
        port_id: int,
        pid: int,
        uid: int,
        capabilities: Capability,
        rcvbuf: int,
    ) -> None:
        self.kernel = kernel
        self.port_id = port_id
        #: The owning process (its tgid): what AUDIT_SET pid is checked against.
        self.pid = pid
        self.uid = uid
        self.capabilities = capabilities
        self.rcvbuf = rcvbuf
        self.multicast = False
        self.closed = False
        #: Called (no arguments) whenever something becomes readable.
        self.on_readable: Callable[[], None] | None = None
        self._queue: deque[tuple[bytes, int]] = deque()
        self._queued_bytes = 0
        #: Datagrams the kernel must deliver and waits to (records to the daemon, replies).
        self._held: deque[bytes] = deque()
        self._overrun = False

    # ---- what user space does --------------------------------------------------------
    def send(self, data: bytes) -> None:
        """``sendto(kernel)``: the kernel processes the request datagram at once."""
        if self.closed:
            raise OSError(errno.EBADF, "socket closed")
        self.kernel._receive(self, data)

    def take(self, max_batch: int) -> list[tuple[bytes, int] | _Enobufs]:
        """``recv`` until nothing is queued (at most *max_batch*): ``(data, sender)`` pairs.

        :data:`ENOBUFS` comes first when datagrams were lost since the last read,
        as the kernel reports the socket error before the queue.
        """
        batch: list[tuple[bytes, int] | _Enobufs] = []
        while len(batch) < max_batch:
            if self._overrun:
                self._overrun = False
                batch.append(ENOBUFS)
                continue
            if not self._queue:
                break
            data, sender = self._queue.popleft()
            self._queued_bytes -= len(data)
            batch.append((data, sender))
            self._release_held()
        return batch

    def join_multicast(self) -> None:
        """Join ``AUDIT_NLGRP_READLOG``.

        Raises:
            PermissionError: No ``CAP_AUDIT_READ`` (the kernel's bind callback).
        """
        if Capability.AUDIT_READ not in self.capabilities:
            raise PermissionError(errno.EPERM, "joining the audit multicast group needs it")
        self.multicast = True

    def close(self) -> None:
        """Close the socket. A daemon's registration outlives it until a probe fails."""
        self.closed = True
        self.multicast = False
        self._queue.clear()
        self._held.clear()
        self._queued_bytes = 0

    @property
    def queued(self) -> int:
        """Datagrams waiting to be read."""
        return len(self._queue)

    @property
    def held(self) -> int:
        """Datagrams the kernel waits to deliver because this socket is full."""
        return len(self._held)

    # ---- what the kernel does ----------------------------------------------------------
    def _full(self) -> bool:
        # Like netlink: a socket takes datagrams while its memory is within rcvbuf.
        return self._queued_bytes > self.rcvbuf

    def _enqueue(self, data: bytes, sender: int = 0) -> None:
        self._queue.append((data, sender))
        self._queued_bytes += len(data)
        if self.on_readable is not None:
            self.on_readable()

    def _deliver_or_drop(self, data: bytes) -> bool:
        """A non-blocking send (ACKs, multicast copies): lost, with ENOBUFS, when full."""
        if self.closed:
            return False
        if self._full():
            self._overrun = True
            if self.on_readable is not None:
                self.on_readable()
            return False
        self._enqueue(data)
        return True

    def _deliver_or_hold(self, data: bytes) -> None:
        """A blocking send (records to the daemon, data replies): waits for room."""
        if self.closed:
            return
        if self._held or self._full():
            self._held.append(data)
        else:
            self._enqueue(data)

    def _release_held(self) -> None:
        while self._held and not self._full():
            self._enqueue(self._held.popleft())


class FakeKernel:
    """The kernel's audit subsystem, as far as NETLINK_AUDIT shows it.

    Args:
        enabled: Initial ``enabled`` (0, 1 or 2).
        backlog_limit: Initial ``backlog_limit`` (records held for a slow daemon).
        clock: Wall-clock seconds for record time stamps.
    """

    def __init__(
        self,
        *,
        enabled: int = 1,
        backlog_limit: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self.failure = 1
        self.rate_limit = 0
        self.backlog_limit = backlog_limit
        self.backlog_wait_time = 60 * 1000
        self.backlog_wait_time_actual = 0
        self.lost = 0
        self.feature_bitmap = FEATURE_BITMAP_ALL
        self.features = 0
        self.feature_locks = 0
        #: ``struct audit_sig_info`` as the kernel starts: nobody (uid -1, pid -1).
        self.signal_info = SignalInfo(UNSET, -1)
        self.tty: dict[int, TtyAuditStatus] = {}
        self.rules: list[AuditRule] = []
        #: Every request message received, in order (for assertions).
        self.requests: list[NetlinkMessage] = []
        #: Text of records logged while no daemon was registered.
        self.printk: list[str] = []
        #: Put the ACK and the replies of a request into one datagram.
        self.one_datagram_per_answer = False
        #: Send data replies before the ACK (the kernel sends the ACK first).
        self.reply_before_ack = False
        #: Bytes of ``struct audit_status`` in AUDIT_GET replies (40: a kernel before 5.10).
        self.status_size = STATUS_SIZE
        self._clock = clock
        self._serial = 1000
        self._ports: list[KernelPort] = []
        self._next_port_id = 4000
        self._daemon: KernelPort | None = None
        self._faults: list[_Fault] = []
        self._held_answers: list[tuple[KernelPort, bytes]] = []
        #: Records logged while a request is processed; kauditd sends them after the answer.
        self._deferred: list[tuple[int, str]] | None = None

    # ---- sockets -------------------------------------------------------------------------
    def open_port(
        self,
        *,
        pid: int | None = None,
        uid: int | None = None,
        capabilities: Capability = Capability.ALL,
        rcvbuf: int | None = None,
    ) -> KernelPort:
        """``socket()`` + ``bind()`` by process *pid* (default: this one)."""
        port = KernelPort(
            self,
            self._next_port_id,
            os.getpid() if pid is None else pid,
            os.getuid() if uid is None else uid,
            capabilities,
            DEFAULT_RCVBUF if rcvbuf is None else rcvbuf,
        )
        self._next_port_id += 1
        self._ports.append(port)
        return port

    def add_daemon(self, pid: int) -> KernelPort:
        """Another process registered as the audit daemon (its socket reads nothing back)."""
        port = self.open_port(pid=pid)
        port.send(encode_message(T.SET, encode_status_request(StatusMask.PID, pid=pid), seq=1))
        assert self._daemon is port, "the fake daemon could not register"
        port.take(port.queued)
        return port

    @property
    def pid(self) -> int:
        """The registered daemon's pid (0: none), as AUDIT_GET reports it."""
        return 0 if self._daemon is None else self._daemon.pid

    def status(self) -> AuditStatus:
        """The status AUDIT_GET would report now."""
        return AuditStatus.from_bytes(self._status_bytes())

    # ---- faults ----------------------------------------------------------------------------
    def fail_next(self, msg_type: int | None, code: int, *, times: int = 1) -> None:
        """Refuse the next *times* requests of *msg_type* (None: any) with errno *code*."""
        self._faults.append(_Fault(msg_type, "fail", times, code))

    def drop_next(self, msg_type: int | None, *, times: int = 1) -> None:
        """Carry out the next requests of *msg_type*, but lose every answer to them."""
        self._faults.append(_Fault(msg_type, "drop", times))

    def hold_next(self, msg_type: int | None, *, times: int = 1) -> None:
        """Carry out the next requests of *msg_type*; keep their answers until :meth:`release`."""
        self._faults.append(_Fault(msg_type, "hold", times))

    @property
    def holding(self) -> int:
        """How many answers :meth:`hold_next` keeps now."""
        return len(self._held_answers)

    def release(self) -> int:
        """Deliver the answers :meth:`hold_next` kept; return how many datagrams."""
        held, self._held_answers = self._held_answers, []
        for port, data in held:
            port._deliver_or_hold(data)
        return len(held)

    def overflow(self, port: KernelPort) -> None:
        """Make the next read on *port* fail with ENOBUFS (datagrams were lost)."""
        port._overrun = True
        if port.on_readable is not None:
            port.on_readable()

    def inject(self, port: KernelPort, data: bytes, *, sender: int = 0) -> None:
        """Queue any datagram on *port*, as if *sender* (0: the kernel) had sent it."""
        port._enqueue(data, sender)

    # ---- records ---------------------------------------------------------------------------
    def emit(
        self, msg_type: int, body: str, *, serial: int | None = None, stamp: float | None = None
    ) -> str:
        """Log one record ``audit(STAMP:SERIAL): BODY``; return its text.

        Records of one event share *serial* (and *stamp*); by default each call
        takes the next serial.
        """
        if serial is None:
            self._serial += 1
            serial = self._serial
        seconds = self._clock() if stamp is None else stamp
        text = f"audit({seconds:.3f}:{serial}): {body}"
        self.emit_raw(msg_type, text)
        return text

    def emit_raw(self, msg_type: int, text: str) -> None:
        """Log one record with exactly *text* as its payload."""
        if self._deferred is not None:
            self._deferred.append((msg_type, text))
            return
        payload = text.encode("utf-8", "surrogateescape")
        honest = encode_message(msg_type, payload, seq=0, flags=0)[: NLMSG_HDRLEN + len(payload)]
        for port in self._ports:
            if port.multicast:
                port._deliver_or_drop(honest)
        daemon = self._live_daemon()
        if daemon is None:
            self.printk.append(text)
            return
        if self.backlog_limit and daemon.held >= self.backlog_limit:
            self.lost += 1
            return
        # The unicast quirk: audit_log_end() stores the payload length, header excluded.
        daemon._deliver_or_hold(_U32.pack(len(payload)) + honest[4:])

    def _log(self, msg_type: int, body: str) -> None:
        if self.enabled:
            self.emit(msg_type, body)

    def _config_change(
        self, name: str, new: int, old: int, res: int = 1, *, even_if_disabled: bool = False
    ) -> None:
        if self.enabled or even_if_disabled:
            text = f"op=set {name}={new} old={old} auid={UNSET} ses={UNSET} res={res}"
            self.emit(T.CONFIG_CHANGE, text)

    def _live_daemon(self) -> KernelPort | None:
        if self._daemon is not None and self._daemon.closed:
            self._daemon = None  # the kernel learns on its next send (ECONNREFUSED)
        return self._daemon

    # ---- requests --------------------------------------------------------------------------
    def _receive(self, port: KernelPort, data: bytes) -> None:
        try:
            messages = decode_datagram(data)
        except AuditProtocolError:
            return  # the kernel skips what nlmsg_ok() rejects
        for message in messages:
            self.requests.append(message)
            self._deferred = []
            try:
                self._answer(port, message)
            finally:
                logged, self._deferred = self._deferred, None
            for msg_type, text in logged:
                self.emit_raw(msg_type, text)

    def _answer(self, port: KernelPort, message: NetlinkMessage) -> None:
        fault = next((f for f in self._faults if f.matches(message.type)), None)
        if fault is not None:
            fault.times -= 1
        if fault is not None and fault.kind == "fail":
            error, replies = -fault.code, []
        else:
            error, replies = self._handle(port, message)
        answers = replies
        if error or message.flags & NetlinkFlag.ACK:
            ack = _ack(port, message, error)
            answers = [*replies, ack] if self.reply_before_ack else [ack, *replies]
        if self.one_datagram_per_answer and answers:
            answers = [b"".join(answers)]
        for datagram in answers:
            if fault is not None and fault.kind == "drop":
                continue
            if fault is not None and fault.kind == "hold":
                self._held_answers.append((port, datagram))
            elif _is_ack(datagram):
                port._deliver_or_drop(datagram)
            else:
                port._deliver_or_hold(datagram)

    def _handle(self, port: KernelPort, message: NetlinkMessage) -> tuple[int, list[bytes]]:
        """``audit_receive_msg``: the errno (or ACK value) and the data replies."""
        msg_type = message.type
        if msg_type in _DEPRECATED:
            return -errno.EOPNOTSUPP, []
        if msg_type in _CONTROL:
            if Capability.AUDIT_CONTROL not in port.capabilities:
                return -errno.EPERM, []
        elif _is_user_message(msg_type):
            if Capability.AUDIT_WRITE not in port.capabilities:
                return -errno.EPERM, []
            return self._user_message(port, message), []
        else:
            return -errno.EINVAL, []
        payload = message.payload
        if msg_type == T.GET:
            return 0, [_reply(message, self._status_bytes()[: self.status_size])]
        if msg_type == T.SET:
            return self._set(port, payload), []
        if msg_type == T.LIST_RULES:
            parts = [_reply(message, rule.to_bytes(), multi=True) for rule in self.rules]
            done = encode_message(NetlinkMessageType.DONE, seq=message.seq, flags=NetlinkFlag.MULTI)
            return 0, [*parts, done]
        if msg_type in (T.ADD_RULE, T.DEL_RULE):
            return self._change_rule(msg_type, payload), []
        if msg_type == T.GET_FEATURE:
            features = AuditFeatures(1, UNSET, self.features, self.feature_locks)
            return 0, [_reply(message, features.to_bytes())]
        if msg_type == T.SET_FEATURE:
            return self._set_feature(payload), []
        if msg_type == T.SIGNAL_INFO:
            return 0, [_reply(message, self.signal_info.to_bytes())]
        if msg_type == T.TTY_GET:
            return 0, [_reply(message, self.tty.get(port.pid, TtyAuditStatus(False)).to_bytes())]
        if msg_type == T.TTY_SET:
            return self._set_tty(port, payload), []
        return 0, []  # TRIM, MAKE_EQUIV: nothing to show

    def _status_bytes(self) -> bytes:
        daemon = self._daemon
        return encode_status_request(
            StatusMask(0),
            enabled=self.enabled,
            failure=self.failure,
            pid=self.pid,
            rate_limit=self.rate_limit,
            backlog_limit=self.backlog_limit,
            lost=self.lost,
            backlog=0 if daemon is None else daemon.held,
            feature_bitmap=self.feature_bitmap,
            backlog_wait_time=self.backlog_wait_time,
            backlog_wait_time_actual=self.backlog_wait_time_actual,
        )

    def _set(self, port: KernelPort, payload: bytes) -> int:
        s = AuditStatus.from_bytes(bytes(payload[:STATUS_SIZE]).ljust(STATUS_SIZE, b"\0"))
        mask = s.mask
        if mask & StatusMask.ENABLED:
            if s.enabled > 2:
                return -errno.EINVAL
            if self.enabled == 2:
                return -errno.EPERM
            old, self.enabled = self.enabled, s.enabled
            # Switching audit off is still logged.
            self._config_change("audit_enabled", s.enabled, old, even_if_disabled=bool(old))
        if mask & StatusMask.FAILURE:
            if s.failure > 2:
                return -errno.EINVAL
            if self.enabled == 2:
                return -errno.EPERM
            old, self.failure = self.failure, s.failure
            self._config_change("audit_failure", s.failure, old)
        if mask & StatusMask.PID:
            error = self._set_pid(port, s.pid)
            if error:
                return error
        for bit, name in _STATUS_SETTERS:
            if mask & bit:
                if self.enabled == 2:
                    return -errno.EPERM
                old = getattr(self, name)
                setattr(self, name, getattr(s, name))
                self._config_change(f"audit_{name}", getattr(s, name), old)
        if mask & StatusMask.BACKLOG_WAIT_TIME:
            wait = s.backlog_wait_time or 0
            if len(payload) < STATUS_SIZE - NLMSG_HDRLEN or wait > MAX_BACKLOG_WAIT_TIME:
                return -errno.EINVAL
            if self.enabled == 2:
                return -errno.EPERM
            old, self.backlog_wait_time = self.backlog_wait_time, wait
            self._config_change("audit_backlog_wait_time", wait, old)
        if mask == StatusMask.LOST:
            old, self.lost = self.lost, 0
            self._config_change("lost", 0, old)
            return old
        if mask == StatusMask.BACKLOG_WAIT_TIME_ACTUAL:
            old, self.backlog_wait_time_actual = self.backlog_wait_time_actual, 0
            self._config_change("backlog_wait_time_actual", 0, old)
            return old
        return 0

    def _set_pid(self, port: KernelPort, new_pid: int) -> int:
        if new_pid and new_pid != port.pid:
            return -errno.EINVAL
        daemon = self._live_daemon()
        if daemon is not None:
            # audit_replace(): is the current daemon still there? Its payload is our pid.
            probe = _U32.pack(port.pid)
            header = encode_message(T.REPLACE, probe, seq=0, flags=0)
            daemon._deliver_or_hold(_U32.pack(len(probe)) + header[4:])
            old = daemon.pid
            if new_pid:
                self._config_change("audit_pid", new_pid, old, res=0)
                return -errno.EEXIST
            if port.pid != old:
                self._config_change("audit_pid", new_pid, old, res=0)
                return -errno.EACCES
        old = self.pid
        self._daemon = port if new_pid else None
        self._config_change("audit_pid", new_pid, old)
        return 0

    def _change_rule(self, msg_type: int, payload: bytes) -> int:
        if self.enabled == 2:
            return -errno.EPERM
        try:
            rule = AuditRule.from_bytes(payload)
        except (AuditProtocolError, ValueError):
            return -errno.EINVAL
        stored = rule.as_listed()
        if msg_type == T.ADD_RULE:
            if stored in self.rules:
                return -errno.EEXIST
            if rule.prepend:
                self.rules.insert(0, stored)
            else:
                self.rules.append(stored)
            action = "add_rule"
        else:
            # The kernel never keeps the prepend bit, so a delete carrying it matches nothing.
            if rule.prepend or stored not in self.rules:
                return -errno.ENOENT
            self.rules.remove(stored)
            action = "remove_rule"
        key = "\x01".join(stored.keys)
        key_text = f'"{key}"' if key else "(null)"
        self._log(
            T.CONFIG_CHANGE,
            f"auid={UNSET} ses={UNSET} op={action} key={key_text} list={stored.filter_list} res=1",
        )
        return 0

    def _set_feature(self, payload: bytes) -> int:
        try:
            request = AuditFeatures.from_bytes(payload)
        except AuditProtocolError:
            return -errno.EINVAL
        known = [feature for feature in AuditFeature if feature.mask & request.mask]
        for feature in known:
            bit = feature.mask
            if self.feature_locks & bit and (request.features & bit) != (self.features & bit):
                return -errno.EPERM
        for feature in known:
            bit = feature.mask
            old_value, old_lock = self.features & bit, self.feature_locks & bit
            self.features = (self.features & ~bit) | (request.features & bit)
            self.feature_locks |= request.lock & bit
            self._log(
                T.FEATURE_CHANGE,
                f"feature={feature.feature_name} old={int(bool(old_value))} "
                f"new={int(bool(self.features & bit))} old_lock={int(bool(old_lock))} "
                f"new_lock={int(bool(self.feature_locks & bit))} res=1",
            )
        return 0

    def _set_tty(self, port: KernelPort, payload: bytes) -> int:
        data = bytes(payload[:8]).ljust(8, b"\0")
        enabled, log_passwd = struct.unpack("=2I", data)
        if enabled not in (0, 1) or log_passwd not in (0, 1):
            return -errno.EINVAL
        self.tty[port.pid] = TtyAuditStatus.from_bytes(data)
        return 0

    def _user_message(self, port: KernelPort, message: NetlinkMessage) -> int:
        if not message.payload:
            return -errno.EINVAL
        if self.enabled:
            # The kernel overwrites the last byte with NUL, then logs a C string.
            text = message.payload[:-1].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            self.emit(
                message.type,
                f"pid={port.pid} uid={port.uid} auid={UNSET} ses={UNSET} msg='{text}'",
            )
        return 0


def _is_user_message(msg_type: int) -> bool:
    return msg_type == T.USER or 1100 <= msg_type <= 1199 or 2100 <= msg_type <= 2999


def _reply(request: NetlinkMessage, payload: bytes, *, multi: bool = False) -> bytes:
    """A data reply from the kernel's reply thread: port id 0, the request's seq."""
    flags = NetlinkFlag.MULTI if multi else 0
    return encode_message(request.type, payload, seq=request.seq, flags=flags)


def _ack(port: KernelPort, request: NetlinkMessage, error: int) -> bytes:
    """``netlink_ack()``: the error (or ACK value), the request's header, its payload on error."""
    length = NLMSG_HDRLEN + len(request.payload)
    header = _ORIGINAL_HEADER.pack(length, request.type, request.flags, request.seq, request.pid)
    echoed = request.payload if error else b""
    value = error if error < 1 << 31 else error - (1 << 32)  # an unsigned old counter
    capped = 0x100 if not error else 0  # NLM_F_CAPPED: the request payload is left out
    return encode_message(
        NetlinkMessageType.ERROR,
        _ERROR.pack(value) + header + echoed,
        seq=request.seq,
        flags=capped,
        pid=port.port_id,
    )


def _is_ack(datagram: bytes) -> bool:
    return struct.unpack_from("=H", datagram, 4)[0] == NetlinkMessageType.ERROR
