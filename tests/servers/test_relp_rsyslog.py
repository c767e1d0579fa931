"""RelpSender against a real rsyslog ``imrelp`` (started by each test) and against
scripted RELP servers on trio (in this file), for the failures rsyslog will not
produce on demand: a ``500`` refusal, ``serverclose`` mid-batch, silence,
out-of-order answers, refused or odd ``open`` answers.

The TLS receiver authenticates clients (``tls.authMode="certvalid"``, the helper's
default), so the sender presents a certificate from the test CA; the fault test's
receiver has a direct main queue (``direct_queue=True``), so that an acknowledgement
means "written" -- see :mod:`tests.support.rsyslog` for why both are needed.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import trio

from tests.support.rsyslog import (
    Rsyslog,
    TlsFiles,
    free_port,
    have_rsyslog,
    make_test_certs,
    running_rsyslog,
)
from trioaudit._daemon.relp import RelpSender
from trioaudit._daemon.senders import SendFailed
from trioaudit._output.relp import MAX_TXNR, Frame, FrameDecoder, RelpClientSession, encode_frame

needs_rsyslog = pytest.mark.skipif(not have_rsyslog(), reason="rsyslogd is not installed")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_test_certs(tmp_path_factory.mktemp("relp-certs"))


def _messages(count: int) -> list[bytes]:
    """Unique, serial-numbered messages with the awkward bytes in them: LF and TAB
    (rsyslog writes control characters as ``#ooo``), bytes that are not UTF-8, and
    one of 20 KiB."""
    messages = []
    for serial in range(count):
        message = b"<14>1 - host trioaudit - audit - serial=%06d" % serial
        if serial % 7 == 3:
            message += b" line one\nline two\tafter tab"
        if serial % 11 == 5:
            message += b" not utf-8: \xff\xfe\x80\xc3("
        if serial == count // 2:
            message += b" " + b"x" * (20 * 1024)
        messages.append(message)
    return messages


def _as_written(message: bytes) -> bytes:
    """What rsyslog writes for *message*: control characters escaped as ``#ooo``
    (``$EscapeControlCharactersOnReceive``, on by default)."""
    return b"".join(b"#%03o" % byte if byte < 0x20 else bytes([byte]) for byte in message)


async def _lines(receiver: Rsyslog, count: int, within: float = 15.0) -> list[bytes]:
    """:meth:`Rsyslog.wait_for_lines` off the event loop."""
    return await trio.to_thread.run_sync(receiver.wait_for_lines, count, within)


# ---- (a), (b): everything arrives, once, in order ------------------------------------


@needs_rsyslog
async def test_5000_messages_arrive_in_order_exactly_once(tmp_path: Path) -> None:
    messages = _messages(5000)
    with running_rsyslog(tmp_path, "relp") as receiver:
        sender = RelpSender(f"relp://127.0.0.1:{receiver.port}", window=128)
        with trio.fail_after(20):
            await sender.connect()
            for start in range(0, len(messages), 1000):
                await sender.send(messages[start : start + 1000])
            await sender.aclose()
        lines = await _lines(receiver, len(messages))
    assert lines == [_as_written(message) for message in messages]
    assert len(lines[2500]) > 20 * 1024


@needs_rsyslog
async def test_5000_messages_over_tls(tmp_path: Path, certs: TlsFiles) -> None:
    messages = _messages(5000)
    with running_rsyslog(tmp_path, "relp", tls=certs) as receiver:
        sender = RelpSender(
            f"relp+tls://127.0.0.1:{receiver.port}?ca={certs.ca}",
            cert=str(certs.cert),
            key=str(certs.key),
        )
        assert sender.url == f"relp+tls://127.0.0.1:{receiver.port}"
        with trio.fail_after(20):
            await sender.connect()
            await sender.send(messages)
            await sender.aclose()
        lines = await _lines(receiver, len(messages))
        assert lines == [_as_written(message) for message in messages]

        # A receiver whose certificate the CA does not vouch for is not talked to.
        stranger = make_test_certs(tmp_path / "stranger")
        untrusting = RelpSender(
            f"relp+tls://127.0.0.1:{receiver.port}",
            ca=str(stranger.ca),
            cert=str(certs.cert),
            key=str(certs.key),
        )
        with trio.fail_after(10), pytest.raises(SendFailed, match="certificate verify failed"):
            await untrusting.connect()
        await untrusting.aclose()


# ---- (c): the receiver dies mid-stream -----------------------------------------------


@needs_rsyslog
async def test_receiver_killed_and_restarted_loses_nothing(tmp_path: Path) -> None:
    total, batch_size, window = 3000, 200, 8
    messages = [b"serial=%06d fault test" % serial for serial in range(total)]
    acknowledged = 0  # messages of `messages` known delivered (the loop's resend point)
    # Where the loop stood at each failure: messages from there on were unacknowledged,
    # and at most `window` of them were in flight -- the only possible duplicates.
    failures: list[tuple[int, str]] = []
    a_third_delivered, killing = trio.Event(), trio.Event()

    async def kill_and_restart(receiver: Rsyslog) -> None:
        with trio.fail_after(20):
            await a_third_delivered.wait()
        killing.set()
        await trio.to_thread.run_sync(receiver.kill)
        await trio.sleep(1.0)
        await trio.to_thread.run_sync(receiver.start)

    with running_rsyslog(tmp_path, "relp", direct_queue=True) as receiver:
        url = f"relp://127.0.0.1:{receiver.port}"
        with trio.fail_after(40):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(kill_and_restart, receiver)
                sender = RelpSender(url, window=window, ack_timeout=5, connect_timeout=2)
                connected = False
                for _attempt in range(1000):
                    if acknowledged == total:
                        break
                    if acknowledged >= total // 3:
                        a_third_delivered.set()
                    try:
                        if not connected:
                            await sender.connect()
                            connected = True
                        batch = messages[acknowledged : acknowledged + batch_size]
                        await sender.send(batch)
                        acknowledged += len(batch)
                    except SendFailed as failure:
                        assert 0 <= failure.delivered <= batch_size
                        acknowledged += failure.delivered
                        assert killing.is_set(), f"failed before the kill: {failure}"
                        failures.append((acknowledged, str(failure)))
                        await sender.aclose()
                        connected = False
                        await trio.sleep(0.05)
                await sender.aclose()
        assert acknowledged == total
        assert killing.is_set()
        lines = await _lines(receiver, total)
        deadline = time.monotonic() + 10
        while len(set(lines)) < total and time.monotonic() < deadline:
            lines = await _lines(receiver, len(lines) + 1, within=0.2)

    assert failures, "the kill did not interrupt the stream"
    first_seen: dict[bytes, None] = dict.fromkeys(lines)
    assert list(first_seen) == messages  # everything arrived, in the sent order
    duplicates = [line for line, times in collections.Counter(lines).items() if times > 1]
    assert len(duplicates) <= window
    for line in duplicates:
        position = messages.index(line)
        assert any(start <= position < start + window for start, _ in failures), (
            f"{line!r} was duplicated but was not unacknowledged at a failure: {failures}"
        )


# ---- (d): nobody listening -------------------------------------------------------------


async def test_connection_refused_fails_promptly() -> None:
    sender = RelpSender(f"relp://127.0.0.1:{free_port()}", connect_timeout=10)
    started = trio.current_time()
    with pytest.raises(SendFailed, match="cannot connect") as failure:
        await sender.connect()
    assert failure.value.delivered == 0
    assert trio.current_time() - started < 2
    with pytest.raises(SendFailed, match="not connected"):
        await sender.send([b"x"])
    await sender.aclose()
    await sender.aclose()


# ---- (e): scripted servers ------------------------------------------------------------

OFFERS = b"relp_version=0\nrelp_software=fake,1\ncommands=syslog"
#: Returned by a responder: drop the connection (without answering).
HANG_UP = object()


class LastWords(bytes):
    """Returned by a responder: send these bytes, then drop the connection."""


Reply = bytes | object | None


def rsp(txnr: int, text: bytes = b"200 OK") -> bytes:
    return encode_frame(txnr, "rsp", text)


class FakeRelpServer:
    """A RELP server on loopback whose every answer comes from *respond*, called
    with each decoded frame and the number of ``syslog`` frames seen before it on
    this connection; it records every frame of every connection."""

    def __init__(self, respond: Callable[[Frame, int], Reply]) -> None:
        self.respond = respond
        self.connections: list[list[Frame]] = []
        self.streams: list[trio.SocketStream] = []
        self.port = 0

    @property
    def syslog_frames(self) -> list[Frame]:
        return [f for frames in self.connections for f in frames if f.command == "syslog"]

    async def handle(self, stream: trio.SocketStream) -> None:
        frames: list[Frame] = []
        self.connections.append(frames)
        self.streams.append(stream)
        decoder = FrameDecoder(max_data_size=1 << 20)
        seen_syslog = 0
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while data := await stream.receive_some(65536):
                decoder.feed(data)
                while (frame := decoder.next_frame()) is not None:
                    frames.append(frame)
                    reply = self.respond(frame, seen_syslog)
                    seen_syslog += frame.command == "syslog"
                    if reply is HANG_UP:
                        await stream.aclose()
                        return
                    if isinstance(reply, bytes) and reply:
                        await stream.send_all(reply)
                    if isinstance(reply, LastWords):
                        await stream.aclose()
                        return


@contextlib.asynccontextmanager
async def fake_server(respond: Callable[[Frame, int], Reply]) -> AsyncIterator[FakeRelpServer]:
    server = FakeRelpServer(respond)
    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1")
        listeners = await nursery.start(serve)
        server.port = listeners[0].socket.getsockname()[1]
        yield server
        nursery.cancel_scope.cancel()


def answer_open(frame: Frame, offers: bytes = OFFERS) -> bytes:
    assert frame.command == "open"
    return rsp(frame.txnr, b"200 OK\n" + offers)


def scripted(on_syslog: Callable[[Frame, int], Reply]) -> Callable[[Frame, int], Reply]:
    """A responder that opens normally, answers close, and asks *on_syslog* for the rest."""

    def respond(frame: Frame, seen: int) -> Reply:
        if frame.command == "open":
            return answer_open(frame)
        if frame.command == "close":
            return rsp(frame.txnr, b"") + b"0 serverclose 0\n"
        return on_syslog(frame, seen)

    return respond


def ack_all(frame: Frame, seen: int) -> Reply:
    return rsp(frame.txnr)


async def sender_for(server: FakeRelpServer, **options: float) -> RelpSender:
    sender = RelpSender(f"relp://127.0.0.1:{server.port}", **options)  # type: ignore[arg-type]
    await sender.connect()
    return sender


MESSAGES = [b"message %d" % n for n in range(10)]


async def test_refusal_reports_the_acknowledged_prefix() -> None:
    def on_syslog(frame: Frame, seen: int) -> Reply:
        return rsp(frame.txnr, b"500 disk is full") if seen == 5 else rsp(frame.txnr)

    async with fake_server(scripted(on_syslog)) as server:
        sender = await sender_for(server, window=4)
        with trio.fail_after(5), pytest.raises(SendFailed, match="500 disk is full") as failure:
            await sender.send(MESSAGES)
        assert failure.value.delivered == 5
        assert "refused message 5 of the batch" in str(failure.value)
        # The connection is gone: the output must reconnect before sending again.
        with pytest.raises(SendFailed, match="not connected"):
            await sender.send(MESSAGES)
        await sender.aclose()


@pytest.mark.parametrize("together", [False, True], ids=["alone", "after-an-ack"])
async def test_serverclose_mid_batch(together: bool) -> None:
    def on_syslog(frame: Frame, seen: int) -> Reply:
        if seen < 3:
            return rsp(frame.txnr)
        if together and seen == 3:
            return rsp(frame.txnr) + b"0 serverclose 0\n"
        return b"0 serverclose 0\n"

    async with fake_server(scripted(on_syslog)) as server:
        sender = await sender_for(server, window=2)
        with trio.fail_after(5), pytest.raises(SendFailed, match="serverclose") as failure:
            await sender.send(MESSAGES)
        assert failure.value.delivered == (4 if together else 3)
        await sender.aclose()


async def test_serverclose_after_the_last_ack_fails_the_next_batch() -> None:
    def on_syslog(frame: Frame, seen: int) -> Reply:
        if seen == 9:
            return LastWords(rsp(frame.txnr) + b"0 serverclose 0\n")
        return rsp(frame.txnr)

    async with fake_server(scripted(on_syslog)) as server:
        sender = await sender_for(server)
        with trio.fail_after(5):
            await sender.send(MESSAGES)  # every message was acknowledged
            # Whether the hint was read with the last ack or only now, nothing of the
            # next batch counts as delivered.
            closed = "closed the session|serverclose|closed the connection"
            with pytest.raises(SendFailed, match=closed) as failure:
                await sender.send(MESSAGES)
        assert failure.value.delivered == 0
        await sender.aclose()


async def test_silence_times_out() -> None:
    def on_syslog(frame: Frame, seen: int) -> Reply:
        return rsp(frame.txnr) if seen < 2 else None

    async with fake_server(scripted(on_syslog)) as server:
        sender = await sender_for(server, ack_timeout=0.5)
        started = trio.current_time()
        with trio.fail_after(5), pytest.raises(SendFailed, match="no acknowledgement") as failure:
            await sender.send(MESSAGES)
        assert failure.value.delivered == 2
        assert 0.4 < trio.current_time() - started < 3
        await sender.aclose()


async def test_hang_up_mid_batch() -> None:
    def on_syslog(frame: Frame, seen: int) -> Reply:
        return rsp(frame.txnr) if seen < 6 else HANG_UP

    async with fake_server(scripted(on_syslog)) as server:
        sender = await sender_for(server, window=3)
        with trio.fail_after(5), pytest.raises(SendFailed) as failure:
            await sender.send(MESSAGES)
        assert failure.value.delivered == 6
        await sender.aclose()


async def test_out_of_order_acks_count_only_the_prefix() -> None:
    # Answers in pairs, the second first: 3 2 5 4 ... and then a hang-up after
    # answering 7 (message 5) but not 6 (message 4).
    held: list[int] = []

    def on_syslog(frame: Frame, seen: int) -> Reply:
        if seen == 5:
            return rsp(frame.txnr)
        if seen == 6:
            return HANG_UP
        if seen % 2 == 0:
            held.append(frame.txnr)
            return None
        return rsp(frame.txnr) + rsp(held.pop())

    async with fake_server(scripted(on_syslog)) as server:
        sender = await sender_for(server, window=4)
        with trio.fail_after(5):
            await sender.send(MESSAGES[:4])  # 3 2 5 4: all acknowledged, order restored
            await sender.aclose()
            await sender.connect()
            with pytest.raises(SendFailed) as failure:
                await sender.send(MESSAGES)
        # Messages 0-3 acknowledged, 4 held, 5 acknowledged: the prefix is 4.
        assert failure.value.delivered == 4
        await sender.aclose()


async def test_window_is_filled_and_never_exceeded() -> None:
    # This server answers nothing until `window` messages wait for an answer, then
    # listens 0.2 s more: a sender that overfills its window is caught sending.
    window, most_unanswered = 3, 0

    async def handle(stream: trio.SocketStream) -> None:
        nonlocal most_unanswered
        decoder = FrameDecoder()
        unanswered: list[int] = []
        while True:
            with trio.move_on_after(0.2 if len(unanswered) >= window else 5) as listening:
                data = await stream.receive_some(65536)
            if listening.cancelled_caught:
                await stream.send_all(b"".join(rsp(txnr) for txnr in unanswered))
                unanswered.clear()
                continue
            if not data:
                return
            decoder.feed(data)
            while (frame := decoder.next_frame()) is not None:
                if frame.command == "open":
                    await stream.send_all(answer_open(frame))
                elif frame.command == "close":
                    await stream.send_all(rsp(frame.txnr, b""))
                else:
                    unanswered.append(frame.txnr)
                    most_unanswered = max(most_unanswered, len(unanswered))

    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_tcp, handle, 0, host="127.0.0.1")
        listeners = await nursery.start(serve)
        port = listeners[0].socket.getsockname()[1]
        sender = RelpSender(f"relp://127.0.0.1:{port}", window=window)
        with trio.fail_after(10):
            await sender.connect()
            await sender.send([b"m%d" % n for n in range(4 * window)])
            await sender.aclose()
        nursery.cancel_scope.cancel()
    assert most_unanswered == window


async def test_protocol_error_mid_batch() -> None:
    def on_syslog(frame: Frame, seen: int) -> Reply:
        return rsp(frame.txnr) if seen < 2 else rsp(4242)

    async with fake_server(scripted(on_syslog)) as server:
        sender = await sender_for(server)
        with trio.fail_after(5), pytest.raises(SendFailed, match="not outstanding") as failure:
            await sender.send(MESSAGES)
        assert failure.value.delivered == 2
        await sender.aclose()


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        (lambda f: rsp(f.txnr, b"500 error 10003 on connect"), "refused open: 500 error 10003"),
        (lambda f: answer_open(f, b"relp_version=0\ncommands="), "does not offer syslog"),
        (lambda f: answer_open(f, b"commands=syslog"), "without a numeric relp_version"),
        (lambda f: b"garbage\n", "protocol error during open"),
        (lambda f: HANG_UP, "closed the connection before answering open"),
        (lambda f: None, "no RELP session within 0.5s"),
    ],
)
async def test_open_failures(answer: Callable[[Frame], Reply], complaint: str) -> None:
    async with fake_server(lambda frame, seen: answer(frame)) as server:
        sender = RelpSender(f"relp://127.0.0.1:{server.port}", connect_timeout=0.5)
        with trio.fail_after(5), pytest.raises(SendFailed, match=complaint) as failure:
            await sender.connect()
        assert failure.value.delivered == 0
        await sender.aclose()


async def test_aclose_sends_close_and_waits_for_its_answer() -> None:
    async with fake_server(scripted(ack_all)) as server:
        sender = await sender_for(server)
        await sender.send(MESSAGES[:2])
        with trio.fail_after(5):
            await sender.aclose()
        assert [f.command for f in server.connections[0]] == ["open", "syslog", "syslog", "close"]
        assert server.connections[0][-1] == Frame(4, "close")
        await sender.aclose()  # twice is fine


async def test_aclose_never_raises_and_is_bounded() -> None:
    # A server that never answers close, then one that is gone.
    def respond(frame: Frame, seen: int) -> Reply:
        return answer_open(frame) if frame.command == "open" else None

    async with fake_server(respond) as server:
        sender = RelpSender(f"relp://127.0.0.1:{server.port}", close_timeout=0.3)
        await sender.connect()
        started = trio.current_time()
        with trio.fail_after(5):
            await sender.aclose()
        assert trio.current_time() - started < 2
        await sender.connect()
        await server.streams[-1].aclose()
        with trio.fail_after(5):
            await sender.aclose()


async def test_session_is_renewed_before_the_txnr_wrap() -> None:
    class NearTheWrap(RelpSender):
        sessions = 0

        def _new_session(self) -> RelpClientSession:
            NearTheWrap.sessions += 1
            if NearTheWrap.sessions == 1:
                return RelpClientSession(first_txnr=MAX_TXNR - 5)
            return RelpClientSession()

    async with fake_server(scripted(ack_all)) as server:
        sender = NearTheWrap(f"relp://127.0.0.1:{server.port}")
        await sender.connect()
        with trio.fail_after(5):
            await sender.send(MESSAGES[:3])  # numbers MAX-4 .. MAX-2: still fits
            await sender.send(MESSAGES)  # would wrap: close, reopen, then send
            await sender.aclose()
    first, second = server.connections
    assert [f.txnr for f in first] == [MAX_TXNR - n for n in (5, 4, 3, 2, 1)]
    assert [f.command for f in first] == ["open", "syslog", "syslog", "syslog", "close"]
    assert [f.txnr for f in second][:3] == [1, 2, 3]
    assert [f.data for f in server.syslog_frames] == MESSAGES[:3] + MESSAGES
