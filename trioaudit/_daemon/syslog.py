"""Syslog over UDP, TCP and TLS on trio: a :class:`~trioaudit._daemon.senders.Sender`.

Theory of operation
-------------------
The output hands :meth:`SyslogSender.send` batches of finished RFC 5424 messages
(made by :func:`trioaudit._output.syslog.rfc5424_message`); the sender frames and
writes them, and when the destination fails raises
:class:`~trioaudit._daemon.senders.SendFailed` saying how many leading messages made
it. It never retries or reconnects by itself: the output does, so that one place
decides between resending, spooling and counting.

UDP (RFC 5426)
    One datagram per message on a connected socket. A message longer than
    ``target.max_message_size`` (default 8096, rsyslog's own limit) is cut to it --
    RFC 5426 §3.2 lets a message travel truncated, and a default rsyslog would cut
    it anyway -- and counted in :attr:`SyslogSender.truncated`. "Delivered" means
    "sent": UDP says nothing more, and a receiver that is down shows at most as an
    ICMP "port unreachable" making a later send fail (``ECONNREFUSED``).

TCP and TLS (RFC 6587 octet counting; RFC 5425)
    ``trio.open_tcp_stream`` (and ``trio.SSLStream`` over it, the handshake done in
    :meth:`~SyslogSender.connect`). A batch is framed and joined into writes of at
    most 256 KiB (:func:`~trioaudit._output.syslog.octet_counted_chunks`), each
    under ``trio.fail_after(send_timeout)``: on a cut link the kernel's send buffer
    fills and the write stalls, and an output must then spool rather than wait. Any
    failure -- refused, reset, a TLS error, a stalled write -- is ``SendFailed`` with
    ``delivered`` = the messages of the writes that completed; the stream is then
    broken (a frame may be half written) and only :meth:`~SyslogSender.aclose` and a
    new :meth:`~SyslogSender.connect` make it usable again.

A receiver that went away while the connection was idle
    When rsyslog restarts, the kernel of the receiver closes our connection (FIN,
    or RST), but nothing tells us until we write: the first write into the dead
    connection succeeds locally and is lost, only the second fails. So before each
    batch the sender polls the socket without blocking for ``POLLRDHUP``/``POLLHUP``/
    ``POLLERR`` -- a syslog receiver never sends anything, so the only thing it
    can have said is "closed" -- and raises ``SendFailed(delivered=0)`` instead of
    writing, and the output reconnects and resends the batch whole. (The check
    looks at the TCP state, not for readable bytes: a TLS 1.3 server sends session
    tickets after the handshake, which are data but not a close.)

    What remains is the window TCP itself leaves: bytes already written to a
    connection whose receiver dies before reading them (or while they are in
    flight) are lost, and were counted delivered. Plain syslog cannot close it --
    there is no acknowledgement; that is what RELP (:mod:`trioaudit._daemon.relp`)
    is for. The sender narrows it where it can: ``TCP_USER_TIMEOUT`` (=
    ``send_timeout``) makes the kernel give up on unacknowledged data after that
    long instead of retransmitting for some fifteen minutes, and keepalive probes
    find a peer that vanished without a FIN while the connection was idle.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
from collections.abc import Sequence

import trio

from .._output.syslog import (
    MAX_WRITE_SIZE,
    SyslogTarget,
    octet_counted_chunks,
    parse_syslog_url,
)
from .senders import SendFailed
from .tls import client_context, client_stream, describe_error

__all__ = ["SyslogSender", "SyslogTarget", "parse_syslog_url", "tls_context"]

#: How long a graceful close (TLS close_notify) may take before the socket is just
#: closed: a close over a dead link must not hold up a reconnect or a shutdown.
CLOSE_TIMEOUT = 1.0
#: Keepalive: probe after a minute idle, every 10 s, give up after 3 unanswered.
_KEEPALIVE = ((socket.TCP_KEEPIDLE, 60), (socket.TCP_KEEPINTVL, 10), (socket.TCP_KEEPCNT, 3))
_CLOSED_EVENTS = select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL


def tls_context(target: SyslogTarget) -> ssl.SSLContext:
    """The client TLS context for *target* (:func:`trioaudit._daemon.tls.client_context`):
    a :class:`ValueError` names the file that cannot be loaded, so that a daemon can
    call it while checking its config. :meth:`SyslogSender.connect` builds a fresh one
    each time and turns the same errors into :class:`SendFailed`."""
    return client_context(target.tls_options)


class SyslogSender:
    """Syslog to one :class:`~trioaudit._output.syslog.SyslogTarget` over UDP, TCP
    or TLS; see the module docstring.

    Args:
        target: Where and how (:func:`~trioaudit._output.syslog.parse_syslog_url`).
        connect_timeout: Seconds a connect (and TLS handshake) may take.
        send_timeout: Seconds one write (at most 256 KiB) may stall before the
            batch fails; also the kernel's ``TCP_USER_TIMEOUT``.

    Attributes:
        url: ``syslog+tcp://host:port``, for logs and metrics labels.
        truncated: UDP datagrams cut to ``target.max_message_size`` so far.
    """

    def __init__(
        self, target: SyslogTarget, *, connect_timeout: float = 10, send_timeout: float = 30
    ) -> None:
        self.target = target
        self.url = target.url
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.truncated = 0
        self._datagram_socket: trio.socket.SocketType | None = None
        self._stream: trio.SocketStream | trio.SSLStream[trio.SocketStream] | None = None
        self._tcp_socket: trio.socket.SocketType | None = None
        #: Why the stream may not be written to any more (``None``: it may).
        self._broken: str | None = None

    # ---- connecting ---------------------------------------------------------------
    async def connect(self) -> None:
        """Open the connection (TCP: and the TLS handshake), within
        ``connect_timeout``; a connection still open is closed first. Raises
        :class:`SendFailed` with the reason (refused, no route, timed out, TLS)."""
        await self.aclose()
        self._broken = "connecting"  # until the handshake is done, even if cancelled
        try:
            with trio.fail_after(self.connect_timeout):
                if self.target.transport == "udp":
                    await self._connect_datagram()
                else:
                    await self._connect_stream()
        except trio.TooSlowError:
            self._broken = "connect timed out"  # no close_notify for a half handshake
            await self.aclose()
            raise SendFailed(
                f"{self.url}: connect timed out after {self.connect_timeout:g} s"
            ) from None
        except (OSError, trio.BrokenResourceError, ssl.SSLError, ValueError) as error:
            self._broken = "connect failed"
            await self.aclose()
            raise SendFailed(f"{self.url}: connect failed: {describe_error(error)}") from error
        self._broken = None

    async def _connect_datagram(self) -> None:
        infos = await trio.socket.getaddrinfo(
            self.target.host, self.target.port, type=socket.SOCK_DGRAM
        )
        if not infos:  # pragma: no cover - getaddrinfo raises instead
            raise OSError(errno.EADDRNOTAVAIL, f"no address for {self.target.host}")
        family, kind, proto, _, address = infos[0]
        sock = trio.socket.socket(family, kind, proto)
        try:
            await sock.connect(address)
        except BaseException:
            sock.close()
            raise
        self._datagram_socket = sock

    async def _connect_stream(self) -> None:
        tcp = await trio.open_tcp_stream(self.target.host, self.target.port)
        self._stream = tcp  # so that a failure below closes it
        self._tcp_socket = tcp.socket
        self._tune(tcp.socket)
        if self.target.transport == "tls":
            tls = client_stream(tcp, self.target.tls_options, self.target.host)
            self._stream = tls
            await tls.do_handshake()

    def _tune(self, sock: trio.socket.SocketType) -> None:
        """Keepalive, and ``TCP_USER_TIMEOUT``: see the module docstring. Best effort:
        a kernel without them still sends, only notices a dead peer later."""
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for option, value in _KEEPALIVE:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
            timeout_ms = max(1, int(self.send_timeout * 1000))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, timeout_ms)

    # ---- sending ------------------------------------------------------------------
    async def send(self, messages: Sequence[bytes]) -> None:
        """Send every message, in order; :class:`SendFailed` with ``delivered`` when
        the destination fails (see the module docstring for what "delivered" means
        per transport). An empty batch sends nothing."""
        if self._datagram_socket is not None:
            await self._send_datagrams(self._datagram_socket, messages)
            return
        stream = self._stream
        if stream is None or self._broken is not None:
            reason = self._broken or "not connected"
            await trio.lowlevel.checkpoint()
            raise SendFailed(f"{self.url}: {reason} (connect again)", delivered=0)
        closed = self.peer_closed()
        if closed is not None:
            self._broken = f"the receiver closed the connection ({closed})"
            await trio.lowlevel.checkpoint()
            raise SendFailed(
                f"{self.url}: the receiver closed the connection while it was idle "
                f"({closed}); nothing of this batch was sent",
                delivered=0,
            )
        delivered = 0
        for chunk, count in octet_counted_chunks(messages, MAX_WRITE_SIZE):
            self._broken = "a write was interrupted"  # until it completes
            try:
                with trio.fail_after(self.send_timeout):
                    await stream.send_all(chunk)
            except trio.TooSlowError:
                self._broken = f"a write stalled for {self.send_timeout:g} s"
                raise SendFailed(
                    f"{self.url}: a write stalled for {self.send_timeout:g} s (link down or "
                    f"receiver stuck); {delivered} of {len(messages)} messages written",
                    delivered=delivered,
                ) from None
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as error:
                self._broken = f"a write failed: {describe_error(error)}"
                raise SendFailed(
                    f"{self.url}: send failed: {describe_error(error)}; "
                    f"{delivered} of {len(messages)} messages written",
                    delivered=delivered,
                ) from error
            self._broken = None
            delivered += count
        if not messages:
            await trio.lowlevel.checkpoint()

    async def _send_datagrams(
        self, sock: trio.socket.SocketType, messages: Sequence[bytes]
    ) -> None:
        limit = self.target.max_message_size
        for index, message in enumerate(messages):
            if len(message) > limit:
                message = message[:limit]
                self.truncated += 1
            try:
                with trio.fail_after(self.send_timeout):
                    await sock.send(message)
            except trio.TooSlowError:
                raise SendFailed(
                    f"{self.url}: a datagram could not be sent in {self.send_timeout:g} s",
                    delivered=index,
                ) from None
            except OSError as error:
                raise SendFailed(
                    f"{self.url}: send failed: {describe_error(error)}; "
                    f"{index} of {len(messages)} messages sent",
                    delivered=index,
                ) from error
        if not messages:
            await trio.lowlevel.checkpoint()

    def peer_closed(self) -> str | None:
        """Why the TCP connection is known to be closed by the receiver (``"end of
        stream"``, ``"Connection reset by peer"``), or ``None`` when it looks open.

        A non-blocking ``poll``: it asks the kernel whether a FIN, an RST or an error
        has arrived, without reading (there may be TLS session tickets unread).
        """
        sock = self._tcp_socket
        if sock is None:
            return None
        poller = select.poll()
        try:
            poller.register(sock.fileno(), _CLOSED_EVENTS)
            ready = poller.poll(0)
        except (OSError, ValueError):  # closed under us: fileno() is -1
            return "socket closed"
        events = ready[0][1] if ready else 0
        if events & select.POLLERR:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            return os.strerror(code) if code else "socket error"
        if events & (select.POLLRDHUP | select.POLLHUP):
            return "end of stream"
        if events & select.POLLNVAL:
            return "socket closed"
        return None

    # ---- closing ------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the connection; never raises (but lets trio's cancellation through).

        A healthy TLS stream gets a close_notify, bounded by :data:`CLOSE_TIMEOUT`; a
        broken one, and plain TCP, is just closed: the kernel still sends what the
        socket holds.
        """
        datagram, self._datagram_socket = self._datagram_socket, None
        stream, self._stream = self._stream, None
        self._tcp_socket = None
        broken, self._broken = self._broken, None
        if datagram is not None:
            datagram.close()
        if stream is None:
            await trio.lowlevel.checkpoint()
            return
        try:
            if broken is not None or isinstance(stream, trio.SocketStream):
                await trio.aclose_forcefully(stream)
            else:
                with trio.move_on_after(CLOSE_TIMEOUT):
                    await stream.aclose()
        except Exception:  # closing a failed connection can fail in many ways; it is closed
            pass
        finally:
            # aclose() closes the socket even when it raised or was cancelled, but a
            # TLS stream whose handshake never finished is closed here for sure.
            with contextlib.suppress(Exception):
                transport = (
                    stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
                )
                transport.socket.close()
