"""The syslog sender against a real rsyslog: TCP, TLS, UDP, refusals, restarts.

What rsyslog writes: the helper's template is ``%rawmsg%``, the message as it came
off the wire without the octet count -- so the whole RFC 5424 message can be
compared, not just MSG -- after two things rsyslog does on reception by default:
control characters (0x00-0x1f) become ``#ooo`` octal escapes
(``parser.escapeControlCharactersOnReceive``), which is what keeps one message on one
line of ``received.log``, and a trailing LF is dropped
(``parser.dropTrailingLFOnReception``). :func:`as_sent` undoes the first; no payload
here ends in LF or contains a literal ``#0`` followed by two octal digits, which
would be ambiguous. DEL and bytes >= 0x80 pass through untouched.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator, Sequence
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
from trioaudit._daemon.senders import SendFailed
from trioaudit._daemon.syslog import SyslogSender, tls_context
from trioaudit._output.syslog import SyslogTarget, rfc5424_message

pytestmark = pytest.mark.skipif(not have_rsyslog(), reason="rsyslogd is not installed")

STAMP = 1795714536.840
BIG = bytes(range(256)) * 80  # 20 KiB: every byte value, controls and newlines included
_ESCAPE = re.compile(rb"#0([0-3][0-7])")


def as_sent(line: bytes) -> bytes:
    """A ``received.log`` line with rsyslog's control-character escapes undone."""
    return _ESCAPE.sub(lambda match: bytes([int(match[1], 8)]), line)


def payload(index: int) -> bytes:
    """Message *index*'s payload: the awkward kinds in turn, and a 20 KiB one every 100."""
    if index % 100 == 99:
        return BIG
    kinds = [
        b"type=SYSCALL msg=audit(1795714536.840:%d): syscall=59 success=yes",
        b"first line %d\nsecond line\nthird line",
        b'brackets ] [x="y"] ]] and "double" \'single\' quotes %d',
        b"not UTF-8: \xff\xfe\xc3( \x80\x81 comm=\xe2\x28\xa1 %d",
        b"controls: tab\there CR\rthere NUL\x00 ESC\x1b[31m %d",
        "UTF-8: é ü ✓ 監査 %d".encode(),
        b"DEL\x7f and C1 \x9b[31m %d",
        b"- %d",
    ]
    return kinds[index % len(kinds)] % index


def messages(count: int, start: int = 0) -> list[bytes]:
    """*count* finished RFC 5424 messages, each distinct (its index is PROCID)."""
    built = []
    for index in range(start, start + count):
        data = payload(index)
        assert not data.endswith(b"\n") and not _ESCAPE.search(data), "ambiguous payload"
        built.append(
            rfc5424_message(
                data,
                timestamp=STAMP + index / 1000,
                hostname="sender.example",
                procid=str(index),
                msgid="audit",
            )
        )
    return built


def batches(items: Sequence[bytes]) -> Iterator[Sequence[bytes]]:
    """*items* in batches of uneven sizes: 1, 7, 100 and one of 1,000 (several writes)."""
    sizes = [1, 7, 100, 1000]
    position, turn = 0, 0
    while position < len(items):
        size = sizes[turn % len(sizes)]
        yield items[position : position + size]
        position, turn = position + size, turn + 1


async def received(server: Rsyslog, count: int, wait_seconds: float = 20.0) -> list[bytes]:
    """What the server has written once it has *count* lines (or the timeout), unescaped."""
    lines = await trio.to_thread.run_sync(server.wait_for_lines, count, wait_seconds)
    return [as_sent(line) for line in lines]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_test_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A second CA, which did not sign the server's certificate."""
    return make_test_certs(tmp_path_factory.mktemp("other-certs"))


async def send_all_and_check(server: Rsyslog, target: SyslogTarget) -> None:
    sent = messages(2000)
    assert sum(len(m) for m in sent) > 400_000  # so the 1,000 batches take several writes
    sender = SyslogSender(target, connect_timeout=5, send_timeout=10)
    with trio.fail_after(30):
        await sender.connect()
        for batch in batches(sent):
            await sender.send(batch)
        got = await received(server, len(sent))
    await sender.aclose()
    assert len(got) == len(sent)
    for index, (line, message) in enumerate(zip(got, sent, strict=True)):
        assert line == message, f"message {index} differs"


# ---- (a) TCP, (b) TLS: everything, in order, byte for byte --------------------------


async def test_tcp_delivers_every_message_in_order_byte_identical(tmp_path: Path) -> None:
    with running_rsyslog(tmp_path, "tcp") as server:
        await send_all_and_check(server, SyslogTarget("tcp", "127.0.0.1", server.port))


async def test_tls_with_verification_delivers_every_message(
    tmp_path: Path, certs: TlsFiles
) -> None:
    with running_rsyslog(tmp_path, "tcp", tls=certs) as server:
        target = SyslogTarget("tls", "127.0.0.1", server.port, ca=str(certs.ca))
        assert target.verify
        await send_all_and_check(server, target)


async def test_tls_with_the_wrong_ca_fails_clearly(
    tmp_path: Path, certs: TlsFiles, other_certs: TlsFiles
) -> None:
    with running_rsyslog(tmp_path, "tcp", tls=certs) as server:
        wrong = SyslogTarget("tls", "127.0.0.1", server.port, ca=str(other_certs.ca))
        sender = SyslogSender(wrong, connect_timeout=5)
        with trio.fail_after(10), pytest.raises(SendFailed) as failure:
            await sender.connect()
        assert "TLS: certificate verify failed" in str(failure.value)
        assert str(failure.value).startswith(f"syslog+tls://127.0.0.1:{server.port}: ")
        with pytest.raises(SendFailed, match="not connected"):
            await sender.send(messages(1))
        await sender.aclose()
        # The one way round it, asked for explicitly:
        unchecked = SyslogSender(wrong.with_tls_options(verify=False), connect_timeout=5)
        with trio.fail_after(10):
            await unchecked.connect()
            await unchecked.send(messages(3))
            assert await received(server, 3) == messages(3)
        await unchecked.aclose()


async def test_tls_with_the_wrong_server_name_fails(tmp_path: Path, certs: TlsFiles) -> None:
    with running_rsyslog(tmp_path, "tcp", tls=certs) as server:
        target = SyslogTarget(
            "tls", "127.0.0.1", server.port, ca=str(certs.ca), server_name="other.example"
        )
        sender = SyslogSender(target, connect_timeout=5)
        with trio.fail_after(10), pytest.raises(SendFailed, match="Hostname mismatch"):
            await sender.connect()
        await sender.aclose()


def test_tls_context_names_a_file_it_cannot_load(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ValueError, match=f"ca: cannot load {missing}"):
        tls_context(SyslogTarget("tls", "h", 6514, ca=missing))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="cert/key: cannot load"):
        tls_context(SyslogTarget("tls", "h", 6514, cert=str(garbage)))
    # Without verification the CA file is not used, so it is not read either.
    unverified = tls_context(SyslogTarget("tls", "h", 6514, ca=missing, verify=False))
    assert unverified.verify_mode == ssl.CERT_NONE and not unverified.check_hostname
    assert unverified.minimum_version == ssl.TLSVersion.TLSv1_2


# ---- (c) UDP --------------------------------------------------------------------------


async def test_udp_delivers_and_counts_truncation(tmp_path: Path) -> None:
    with running_rsyslog(tmp_path, "udp") as server:
        target = SyslogTarget("udp", "127.0.0.1", server.port)
        sender = SyslogSender(target)
        sent = [m for m in messages(100) if len(m) < 8096]
        with trio.fail_after(20):
            await sender.connect()
            # Small batches, each waited for: loopback UDP drops what overflows the
            # receiver's buffer, and this test is about the sender.
            for start in range(0, len(sent), 20):
                await sender.send(sent[start : start + 20])
                got = await received(server, start + len(sent[start : start + 20]))
            assert got == sent
            assert sender.truncated == 0
            exact = b"<86>1 - exact - - - - " + b"e" * (8096 - 22)
            long = b"<86>1 - long - - - - " + b"x" * 20_000
            await sender.send([exact, long])
            got = await received(server, len(sent) + 2)
        assert len(exact) == 8096
        assert got[len(sent) :] == [exact, long[:8096]]  # cut per RFC 5426, not dropped
        assert sender.truncated == 1  # counted, never silently
        await sender.aclose()


async def test_udp_truncates_to_the_configured_size(tmp_path: Path) -> None:
    with running_rsyslog(tmp_path, "udp") as server:
        target = SyslogTarget("udp", "127.0.0.1", server.port, max_message_size=480)
        sender = SyslogSender(target)
        long = b"<86>1 - long - - - - " + b"y" * 1000
        with trio.fail_after(10):
            await sender.connect()
            await sender.send([long, long])
            got = await received(server, 2)
        assert got == [long[:480]] * 2
        assert sender.truncated == 2
        await sender.aclose()


# ---- (d) refused ------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_connection_refused_fails_promptly(transport: str) -> None:
    port = free_port()
    sender = SyslogSender(SyslogTarget(transport, "127.0.0.1", port))  # type: ignore[arg-type]
    start = trio.current_time()
    with trio.fail_after(5), pytest.raises(SendFailed, match="Connection refused") as failure:
        await sender.connect()
    assert trio.current_time() - start < 2
    assert failure.value.delivered == 0
    await sender.aclose()
    await sender.aclose()  # twice, after a failure: still quiet


async def test_udp_to_a_closed_port_fails_once_the_kernel_knows() -> None:
    # A connected UDP socket learns of the ICMP "port unreachable" its first datagram
    # caused, and the next send fails: that is all UDP can ever tell.
    probe = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    await probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # a UDP port nobody has bound now
    sender = SyslogSender(SyslogTarget("udp", "127.0.0.1", port))
    await sender.connect()
    failure = None
    with trio.fail_after(5):
        for _ in range(100):  # bounded; on loopback it fails on the second datagram
            try:
                await sender.send(messages(1))
            except SendFailed as error:
                failure = error
                break
            await trio.sleep(0.01)
    assert failure is not None
    assert "Connection refused" in str(failure)
    assert failure.delivered == 0
    await sender.aclose()


async def test_connect_timeout_is_bounded() -> None:
    # A listener whose backlog is full and that never accepts: the handshake of a
    # TLS connection to it never completes, so connect() must give up on time.
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    try:
        sender = SyslogSender(SyslogTarget("tls", "127.0.0.1", port), connect_timeout=0.5)
        start = trio.current_time()
        with trio.fail_after(5), pytest.raises(SendFailed, match=r"timed out after 0\.5 s"):
            await sender.connect()
        assert trio.current_time() - start < 3
        await sender.aclose()
    finally:
        listener.close()


# ---- (e) the receiver restarts between two batches --------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_receiver_restart_is_noticed_before_writing(
    tmp_path: Path, certs: TlsFiles, transport: str
) -> None:
    tls = certs if transport == "tls" else None
    with running_rsyslog(tmp_path, "tcp", tls=tls) as server:
        target = SyslogTarget(transport, "127.0.0.1", server.port, ca=tls and str(tls.ca))  # type: ignore[arg-type]
        first, second = messages(150), messages(150, start=150)
        sender = SyslogSender(target, connect_timeout=5, send_timeout=10)
        with trio.fail_after(30):
            await sender.connect()
            await sender.send(first)
            assert await received(server, 150) == first
            await trio.sleep(0.2)  # idle: TLS 1.3 tickets have arrived, and are no close
            assert sender.peer_closed() is None
            server.kill()  # SIGKILL: rsyslog dies, its kernel closes our connection
            server.start()  # a new rsyslog on the same port, as systemd would
            assert sender.peer_closed() is not None
            with pytest.raises(SendFailed, match="closed the connection while it was idle") as info:
                await sender.send(second)
            assert info.value.delivered == 0  # nothing written into the dead connection
            with pytest.raises(SendFailed, match="connect again"):
                await sender.send(second)  # the stream stays failed until reconnected
            await sender.aclose()
            await sender.connect()
            await sender.send(second)
            got = await received(server, 300)
        assert got == first + second
        await sender.aclose()
