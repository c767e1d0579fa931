"""RELP to rsyslog's ``imrelp`` (or any librelp server) on trio's sockets, optionally TLS.

:class:`RelpSender` keeps the :class:`~trioaudit._daemon.senders.Sender` contract
with the sans-IO session of :mod:`trioaudit._output.relp`: :meth:`RelpSender.connect`
opens TCP (and TLS), sends ``open`` and checks that the server offers ``syslog``;
:meth:`RelpSender.send` keeps up to *window* messages unacknowledged in flight --
one task writes frames as the window allows, another reads the answers -- and
returns when every message of the batch is acknowledged.

Delivery guarantee: at least once
---------------------------------
A message counts as delivered only when its ``200 OK`` arrived. When anything goes
wrong (connection refused or reset, EOF, ``serverclose``, a ``500`` refusal, no
answer within *ack_timeout*, a TLS or protocol error) :meth:`~RelpSender.send`
drops the connection and raises :class:`~trioaudit._daemon.senders.SendFailed`
with ``delivered`` = the number of the batch's *leading* messages acknowledged
(answers normally come in order; if a server acknowledges out of order, only the
acknowledged prefix counts). The output resends from there on a new connection,
so a message the server took but whose answer was lost in flight arrives twice:
at most *window* duplicates per failure, never a loss. Every trioaudit message
carries the audit serial, which identifies such a duplicate.

Where a receiver "takes" a message is its business: rsyslog answers ``200`` once the
message is in its main queue, so a receiver killed with an in-memory queue loses
what it had acknowledged; ``main_queue(queue.type="Direct")`` or a disk-assisted
queue on the receiver closes that gap.

Targets
-------
:class:`RelpTarget`, :func:`parse_relp_url` and :data:`DEFAULT_PORT` (librelp's
20514; see :mod:`trioaudit._output.relp` for why) live in the sans-IO half and are
re-exported here; TLS contexts and error text come from :mod:`trioaudit._daemon.tls`,
shared with the syslog sender.

Transaction numbers
-------------------
librelp numbers past 999,999,999 into 10 digits its own parser rejects, so a
session cannot cross the RELP wrap-around against it. Before a batch would need
a number past it, the sender closes the session and opens a new one (numbers
start at 1 again) -- invisible to the caller.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Sequence

import trio

from .._output.relp import (
    DEFAULT_PORT,
    MAX_DATALEN,
    MAX_TXNR,
    Acked,
    Closed,
    Event,
    Opened,
    Refused,
    RelpClientSession,
    RelpProtocolError,
    RelpTarget,
    RelpUsageError,
    ServerClose,
    SessionState,
    parse_relp_url,
)
from .senders import SendFailed
from .tls import client_context, client_stream, describe_error

__all__ = ["DEFAULT_PORT", "RelpSender", "RelpTarget", "parse_relp_url"]

# One receive; one write gathers frames up to this size (a bigger frame goes alone).
_RECEIVE_SIZE = 65536
_WRITE_SIZE = 65536
# Far above any useful window (librelp's is 128), far below the TXNR space.
_MAX_WINDOW = 1_000_000


class _Failed(Exception):
    """Internal: the connection failed; *reason* becomes the SendFailed message."""


class RelpSender:
    """A :class:`~trioaudit._daemon.senders.Sender` speaking RELP; see the module
    docstring for the guarantee.

    Args:
        url: ``relp://HOST[:PORT]``, ``relp+tls://HOST[:PORT]?ca=...`` or a
            :class:`RelpTarget`.
        window: How many messages may be unacknowledged at once (librelp's default
            is 128).
        connect_timeout: Seconds for TCP, TLS and the ``open`` answer together.
        ack_timeout: Seconds without any acknowledgement while messages are in
            flight before the connection counts as dead.
        close_timeout: Seconds :meth:`aclose` waits for the answer to ``close``.
        ca, cert, key, verify, server_name: TLS settings overriding the URL's
            (as :meth:`RelpTarget.with_tls_options`; ``verify=None`` keeps it).

    Raises:
        ValueError: a bad URL, window or timeout, TLS options for ``relp://``, or
            TLS files that cannot be loaded.
    """

    def __init__(
        self,
        url: str | RelpTarget,
        *,
        window: int = 128,
        connect_timeout: float = 10.0,
        ack_timeout: float = 30.0,
        close_timeout: float = 2.0,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        verify: bool | None = None,
        server_name: str | None = None,
    ) -> None:
        target = parse_relp_url(url) if isinstance(url, str) else url
        if any(value is not None for value in (ca, cert, key, verify, server_name)):
            target = target.with_tls_options(
                ca=ca,
                cert=cert,
                key=key,
                verify=target.verify if verify is None else verify,
                server_name=server_name,
            )
        if (
            isinstance(window, bool)
            or not isinstance(window, int)
            or not 1 <= window <= _MAX_WINDOW
        ):
            raise ValueError(f"window must be an integer 1-{_MAX_WINDOW}, not {window!r}")
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("ack_timeout", ack_timeout),
            ("close_timeout", close_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive, not {value!r}")
        self.target = target
        self.url = target.url
        self.window = window
        self._connect_timeout = connect_timeout
        self._ack_timeout = ack_timeout
        self._close_timeout = close_timeout
        if target.tls:
            try:
                client_context(target.tls_options)  # fail now on a missing or bad file
            except ValueError as error:
                raise ValueError(f"{self.url}: cannot load the TLS files: {error}") from None
        self._stream: trio.abc.Stream | None = None
        self._session: RelpClientSession | None = None
        # False once the connection failed or a send was interrupted: the session's
        # state is then unknown and only a new connection helps.
        self._usable = False

    def _new_session(self) -> RelpClientSession:
        """A fresh session for a new connection (tests override it to start near
        the TXNR wrap)."""
        return RelpClientSession()

    # ---- connecting -----------------------------------------------------------

    async def connect(self) -> None:
        """Open TCP (and TLS) and the RELP session; :class:`SendFailed` when the
        receiver is unreachable, refuses ``open`` or does not offer ``syslog``."""
        await self._discard()
        try:
            with trio.fail_after(self._connect_timeout):
                stream = await self._open_transport()
                try:
                    session = self._new_session()
                    await stream.send_all(session.open())
                    await self._await_open(stream, session)
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
        except trio.TooSlowError:
            raise SendFailed(
                f"{self.url}: no RELP session within {self._connect_timeout:g}s"
            ) from None
        except _Failed as failure:
            raise SendFailed(f"{self.url}: {failure}") from None
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            reason = f"connection failed during open: {describe_error(error)}"
            raise SendFailed(f"{self.url}: {reason}") from None
        self._stream, self._session, self._usable = stream, session, True

    async def _open_transport(self) -> trio.abc.Stream:
        target = self.target
        try:
            tcp = await trio.open_tcp_stream(target.host, target.port)
        except OSError as error:
            raise _Failed(f"cannot connect: {describe_error(error)}") from None
        if not target.tls:
            return tcp
        try:
            tls = client_stream(tcp, target.tls_options, target.host)
            await tls.do_handshake()
        except BaseException as error:
            await trio.aclose_forcefully(tcp)
            if isinstance(error, ValueError):  # a TLS file went away since __init__
                raise _Failed(f"cannot set up TLS: {error}") from None
            if isinstance(error, (OSError, ssl.SSLError, trio.BrokenResourceError)):
                raise _Failed(f"TLS handshake failed: {describe_error(error)}") from None
            raise
        return tls

    async def _await_open(self, stream: trio.abc.Stream, session: RelpClientSession) -> None:
        while True:
            data = await stream.receive_some(_RECEIVE_SIZE)
            if not data:
                raise _Failed("the server closed the connection before answering open")
            try:
                events = session.receive(data)
            except RelpProtocolError as error:
                raise _Failed(f"protocol error during open: {error}") from None
            for event in events:
                if isinstance(event, Opened):
                    if not session.server_offers_syslog:
                        offered = ",".join(event.offers.get("commands", ())) or "none"
                        raise _Failed(f"the server does not offer syslog (commands: {offered})")
                    return
                if isinstance(event, Refused):
                    raise _Failed(f"the server refused open: {event.code} {event.text}")
                raise _Failed(f"unexpected {type(event).__name__} during open")

    # ---- sending --------------------------------------------------------------

    async def send(self, messages: Sequence[bytes]) -> None:
        """Send every message and return once all are acknowledged, in order.

        Raises:
            SendFailed: the connection failed; ``delivered`` leading messages were
                acknowledged (see the module docstring). The connection is closed.
            RelpUsageError: a message longer than RELP's 999,999,999-byte DATALEN
                (nothing is sent).
        """
        if not messages:
            return
        if any(len(message) > MAX_DATALEN for message in messages):
            raise RelpUsageError("a message is longer than RELP's 999,999,999-byte DATALEN")
        session = self._session
        if self._stream is None or session is None or not self._usable:
            raise SendFailed(f"{self.url}: not connected", delivered=0)
        if session.state is not SessionState.OPEN:
            # serverclose (or a protocol error) came after the last batch's acks.
            state = session.state.value
            await self._discard()
            raise SendFailed(f"{self.url}: the server closed the session ({state})", delivered=0)
        if session.next_txnr + len(messages) > MAX_TXNR:
            await self._renew()
        await self._pump(messages)

    async def _renew(self) -> None:
        """Close the session and open a new one so the batch's numbers do not wrap."""
        await self.aclose()
        try:
            await self.connect()
        except SendFailed as failure:
            raise SendFailed(f"{failure} (renewing the session)", delivered=0) from None

    async def _pump(self, messages: Sequence[bytes]) -> None:
        stream, session = self._stream, self._session
        assert stream is not None and session is not None
        count = len(messages)
        index_of: dict[int, int] = {}  # TXNR -> index in the batch, until acknowledged
        acknowledged = bytearray(count)
        delivered = 0  # the acknowledged prefix
        free_slots = trio.Semaphore(self.window)
        failure: str | None = None
        last_progress = trio.current_time()
        done = False

        async def write(cancel_scope: trio.CancelScope) -> None:
            nonlocal failure
            next_index = 0
            while next_index < count:
                await free_slots.acquire()
                frames: list[bytes] = []
                size = 0
                # The reader may have seen serverclose meanwhile: then stop writing
                # (it reports the failure).
                while session.state is SessionState.OPEN:
                    txnr, frame = session.send_syslog(messages[next_index])
                    index_of[txnr] = next_index
                    next_index += 1
                    frames.append(frame)
                    size += len(frame)
                    if next_index == count or size >= _WRITE_SIZE:
                        break
                    try:
                        free_slots.acquire_nowait()
                    except trio.WouldBlock:
                        break
                if not frames:
                    return
                try:
                    await stream.send_all(b"".join(frames))
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
                    # Acknowledgements may still sit in the receive buffer: let the
                    # reader take them (briefly) before giving up.
                    failure = failure or f"connection failed while sending: {describe_error(error)}"
                    cancel_scope.deadline = min(
                        cancel_scope.deadline, trio.current_time() + min(1.0, self._ack_timeout)
                    )
                    return

        async def read(cancel_scope: trio.CancelScope) -> None:
            nonlocal failure, delivered, last_progress, done

            def fail(reason: str) -> None:
                nonlocal failure
                failure = failure or reason
                cancel_scope.cancel()

            while delivered < count:
                with trio.move_on_at(last_progress + self._ack_timeout) as waiting:
                    try:
                        data = await stream.receive_some(_RECEIVE_SIZE)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
                        return fail(f"connection failed: {describe_error(error)}")
                if waiting.cancelled_caught:
                    return fail(
                        f"no acknowledgement within {self._ack_timeout:g}s"
                        f" ({session.unacked_count} unacknowledged)"
                    )
                if not data:
                    return fail("the server closed the connection")
                events: Sequence[Event]
                try:
                    events = session.receive(data)
                except RelpProtocolError as error:
                    # Acknowledgements before the bad frame still count.
                    events = error.events
                    failure = failure or f"protocol error: {error}"
                for event in events:
                    if isinstance(event, Acked):
                        acknowledged[index_of.pop(event.txnr)] = 1
                        free_slots.release()
                        last_progress = trio.current_time()
                    elif isinstance(event, Refused):
                        position = index_of.get(event.txnr, -1)
                        failure = failure or (
                            f"the server refused message {position} of the batch:"
                            f" {event.code} {event.text}"
                        )
                        break
                    elif isinstance(event, ServerClose):
                        # Answers before the hint still count (below).
                        failure = failure or "the server sent serverclose"
                    else:  # pragma: no cover - the session has no open/close pending
                        failure = failure or f"unexpected {type(event).__name__}"
                        break
                while delivered < count and acknowledged[delivered]:
                    delivered += 1
                if failure is not None and delivered < count:
                    return fail(failure)
            done = True

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(write, nursery.cancel_scope)
                nursery.start_soon(read, nursery.cancel_scope)
        finally:
            if not done:
                self._usable = False
        if not done:
            await self._discard()
            reason = failure or "the connection failed"
            raise SendFailed(f"{self.url}: {reason}", delivered=delivered)

    # ---- closing --------------------------------------------------------------

    async def aclose(self) -> None:
        """Send ``close`` when the session is usable and wait (at most
        *close_timeout*) for its answer, then drop the connection. Never raises."""
        stream, session, usable = self._stream, self._session, self._usable
        self._stream, self._session, self._usable = None, None, False
        if stream is None:
            return
        broken = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(self._close_timeout),
            contextlib.suppress(*broken, RelpProtocolError, RelpUsageError),
        ):
            if usable and session is not None and session.state is SessionState.OPEN:
                await stream.send_all(session.close())
                await self._await_close(stream, session)
        with contextlib.suppress(*broken):
            await trio.aclose_forcefully(stream)

    @staticmethod
    async def _await_close(stream: trio.abc.Stream, session: RelpClientSession) -> None:
        while True:
            data = await stream.receive_some(_RECEIVE_SIZE)
            if not data:
                return
            for event in session.receive(data):
                if isinstance(event, Closed | ServerClose):
                    return

    async def _discard(self) -> None:
        """Drop the connection without the ``close`` handshake."""
        stream = self._stream
        self._stream, self._session, self._usable = None, None, False
        if stream is not None:
            await trio.aclose_forcefully(stream)
