"""A NETLINK_AUDIT socket for trio: the only place trioaudit touches the kernel.

Theory of operation
===================

One :class:`NetlinkAuditSocket` wraps one ``AF_NETLINK``/``NETLINK_AUDIT``
datagram socket. It sends request bytes and receives datagrams; it knows
nothing about their meaning (that is :mod:`trioaudit._wire.protocol`).

Receiving is built for floods. A trio ``recv`` per datagram costs a scheduler
round trip per record; at hundreds of thousands of records per second that is
what makes a reader fall behind. So :meth:`receive_batch` waits once for the
socket to become readable (``trio.lowlevel.wait_readable``) and then drains
up to ``max_batch`` datagrams with plain non-blocking ``recvfrom_into`` calls
into one preallocated buffer, copying out only the bytes received.

``ENOBUFS`` means the kernel could not queue a datagram for us: our receive
buffer overflowed and records were lost *for this socket*. It is not fatal;
it is reported to the caller as an :class:`Overflow` marker in the batch, so
the client can count and surface it.

The receive buffer is made large (``SO_RCVBUFFORCE`` ignores
``net.core.rmem_max`` but needs ``CAP_NET_ADMIN``; without it we fall back to
``SO_RCVBUF``, which the kernel caps at ``rmem_max``).

The seam
========

:class:`~trioaudit.AuditClient` is written against the :class:`Transport`
protocol, not against this socket: five operations, exactly what the client
uses. :func:`~trioaudit.open_audit_client` opens the transport through an
:class:`OpenTransport` callable, :func:`open_netlink_audit_socket` unless told
otherwise, so the same client runs over the kernel or over an in-memory fake
kernel (``tests/support/fake_kernel.py``) and cannot tell which.
"""

from __future__ import annotations

import errno
import socket as _stdlib_socket
from dataclasses import dataclass
from typing import Protocol

import trio

from .._errors import AuditPermissionError
from .._wire.netlink import AUDIT_NLGRP_READLOG, NETLINK_AUDIT

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_RCVBUF",
    "Datagram",
    "NetlinkAuditSocket",
    "OpenTransport",
    "Overflow",
    "Transport",
    "open_netlink_audit_socket",
]

#: Default receive buffer: 32 MiB holds ~100,000 records of slack for bursts while the
#: consumer catches up; the kernel only uses what is queued (no cost when idle).
DEFAULT_RCVBUF = 32 * 1024 * 1024
#: Largest datagram we accept; audit records are < 9 KiB, rule dumps < 64 KiB.
MAX_DATAGRAM = 64 * 1024
#: Datagrams drained per wake-up before yielding to other tasks.
DEFAULT_MAX_BATCH = 2048
_SO_RCVBUFFORCE = getattr(_stdlib_socket, "SO_RCVBUFFORCE", 33)
_SOL_NETLINK = getattr(_stdlib_socket, "SOL_NETLINK", 270)
_NETLINK_ADD_MEMBERSHIP = 1
_MULTICAST_HINT = "joining the audit multicast group needs CAP_AUDIT_READ (run as root)"


@dataclass(frozen=True, slots=True)
class Overflow:
    """Marker in a received batch: the socket overflowed (``ENOBUFS``) here."""


_OVERFLOW = Overflow()
#: One received datagram and the netlink port id of its sender (0: the kernel).
Datagram = tuple[bytes, int]


class Transport(Protocol):
    """What :class:`~trioaudit.AuditClient` needs from the connection under it.

    :class:`NetlinkAuditSocket` is the real one. Another implementation (a
    fake kernel for tests, a socket set up some other way) must keep the
    same promises, because the client relies on them.
    """

    async def send(self, data: bytes) -> None:
        """Send one request datagram; on cancellation, either all of it was sent or nothing."""

    def send_nowait(self, data: bytes) -> bool:
        """Send one datagram if that needs no waiting, else return False (nothing sent).

        The client unregisters its pid with this while it closes: a full
        socket must not block the way out.
        """

    async def receive_batch(self, max_batch: int) -> list[Datagram | Overflow]:
        """Wait for at least one datagram, then return up to *max_batch* in arrival order.

        An :class:`Overflow` marks where datagrams were lost for us (``ENOBUFS``).
        Cancellation: a batch once taken is returned, never lost.
        """

    def join_multicast(self) -> None:
        """Start receiving the read-only copy of every record (``AUDIT_NLGRP_READLOG``).

        Raises:
            AuditPermissionError: Not allowed (``CAP_AUDIT_READ`` missing).
        """

    def close(self) -> None:
        """Release the connection (idempotent)."""


class OpenTransport(Protocol):
    """Opens the :class:`Transport` of one client; :func:`open_netlink_audit_socket` is one.

    Args:
        multicast: Join the multicast group from the start (``mode="multicast"``).
        rcvbuf: Receive buffer to ask for, in bytes; None keeps the default.
    """

    def __call__(self, *, multicast: bool, rcvbuf: int | None) -> Transport: ...


class NetlinkAuditSocket:
    """An open NETLINK_AUDIT socket. Create it with :func:`open_netlink_audit_socket`."""

    def __init__(self, sock: _stdlib_socket.socket, *, multicast: bool) -> None:
        self._sock = sock
        self._trio_sock = trio.socket.from_stdlib_socket(sock)
        self._buffer = bytearray(MAX_DATAGRAM)
        self._view = memoryview(self._buffer)
        self.multicast = multicast
        #: Receive buffer size the kernel actually granted (bytes).
        self.rcvbuf = sock.getsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_RCVBUF)

    @property
    def port_id(self) -> int:
        """Our netlink port id (the kernel assigns it at bind time)."""
        address: tuple[int, int] = self._sock.getsockname()
        return address[0]

    async def send(self, data: bytes) -> None:
        """Send one request to the kernel.

        Cancellation: either the whole datagram was sent or nothing was.
        """
        await self._trio_sock.sendto(data, (0, 0))

    def send_nowait(self, data: bytes) -> bool:
        """Try to send without waiting; return False if the socket would block."""
        try:
            self._sock.sendto(data, (0, 0))
        except BlockingIOError:
            return False
        return True

    def fileno(self) -> int:
        """The socket's file descriptor, for a reader that drains it itself (the core's)."""
        return self._sock.fileno()

    async def wait_readable(self) -> None:
        """Wait until a datagram (or an error) is ready to be read."""
        await trio.lowlevel.wait_readable(self._sock)

    async def receive_batch(self, max_batch: int = DEFAULT_MAX_BATCH) -> list[Datagram | Overflow]:
        """Wait for at least one datagram, then drain what is ready.

        Returns:
            ``(data, sender_port_id)`` pairs in arrival order, with an
            :class:`Overflow` marker where the kernel reported ``ENOBUFS``.

        Cancellation: safe; datagrams not yet returned stay in the socket.
        """
        batch: list[Datagram | Overflow] = []
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            self._drain(batch, max_batch)
            if batch:
                # Yield to other tasks, but never lose a drained batch to a cancel.
                await trio.lowlevel.cancel_shielded_checkpoint()
                return batch
            await self.wait_readable()

    def _drain(self, batch: list[Datagram | Overflow], max_batch: int) -> None:
        recv = self._sock.recvfrom_into
        view = self._view
        while len(batch) < max_batch:
            try:
                size, address = recv(view)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    batch.append(_OVERFLOW)
                    continue
                raise
            batch.append((bytes(view[:size]), address[0]))

    def join_multicast(self) -> None:
        """Join ``AUDIT_NLGRP_READLOG`` on the already-bound socket.

        Raises:
            AuditPermissionError: The kernel refused (``CAP_AUDIT_READ`` missing).
        """
        try:
            self._sock.setsockopt(_SOL_NETLINK, _NETLINK_ADD_MEMBERSHIP, AUDIT_NLGRP_READLOG)
        except PermissionError:
            raise AuditPermissionError(_MULTICAST_HINT) from None
        self.multicast = True

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self._trio_sock.close()


def open_netlink_audit_socket(
    *, multicast: bool = False, rcvbuf: int | None = DEFAULT_RCVBUF
) -> NetlinkAuditSocket:
    """Open and bind a NETLINK_AUDIT socket.

    Args:
        multicast: Join ``AUDIT_NLGRP_READLOG`` to receive a copy of every
            record (needs ``CAP_AUDIT_READ``).
        rcvbuf: Receive buffer size to ask for; None keeps the system default.

    Raises:
        AuditPermissionError: Joining the multicast group was refused.
        OSError: The kernel has no audit support (``EPROTONOSUPPORT``) and the like.
    """
    sock = _stdlib_socket.socket(
        _stdlib_socket.AF_NETLINK,
        _stdlib_socket.SOCK_RAW | _stdlib_socket.SOCK_CLOEXEC | _stdlib_socket.SOCK_NONBLOCK,
        NETLINK_AUDIT,
    )
    try:
        if rcvbuf:
            _set_receive_buffer(sock, rcvbuf)
        try:
            sock.bind((0, AUDIT_NLGRP_READLOG if multicast else 0))
        except PermissionError:
            raise AuditPermissionError(_MULTICAST_HINT) from None
    except BaseException:
        sock.close()
        raise
    return NetlinkAuditSocket(sock, multicast=multicast)


def _set_receive_buffer(sock: _stdlib_socket.socket, size: int) -> None:
    try:
        sock.setsockopt(_stdlib_socket.SOL_SOCKET, _SO_RCVBUFFORCE, size)
    except PermissionError:
        sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_RCVBUF, size)
