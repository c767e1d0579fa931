"""The ``/metrics`` responder: its pure HTTP parts, then the server on loopback port 0.

Every network wait is under ``trio.fail_after``; the timing tests use short
``request_timeout`` values with wide margins on the side that could be slow.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import trio

from trioaudit._daemon.metrics import (
    DEFAULT_METRICS_LISTEN,
    MAX_REQUEST_HEAD,
    BadRequest,
    MetricsListenError,
    Response,
    answer,
    parse_listen,
    parse_request_head,
    serve_metrics,
)
from trioaudit._errors import AuditUsageError
from trioaudit._output.metrics import CONTENT_TYPE, MetricFamily, Sample, render_exposition

#: Upper bound on any single network wait in these tests.
WAIT = 5.0

FAMILIES = [
    MetricFamily("trioaudit_events_total", "counter", "Events.", [Sample((), 12345)]),
    MetricFamily("trioaudit_queue_depth", "gauge", "Depth.", [Sample((("output", "a"),), 3)]),
]
EXPOSITION = render_exposition(FAMILIES)

GET_METRICS = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def fixed_collect() -> Sequence[MetricFamily]:
    return FAMILIES


# --- the pure parts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("[fe80::1%eth0]:80", ("fe80::1%eth0", 80)),
        (":9464", ("", 9464)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:65535", ("localhost", 65535)),
        ("metrics.example.org:9464", ("metrics.example.org", 9464)),
    ],
)
def test_parse_listen(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


def test_default_listen_is_loopback() -> None:
    assert parse_listen(DEFAULT_METRICS_LISTEN) == ("127.0.0.1", 9464)


@pytest.mark.parametrize(
    ("listen", "why"),
    [
        ("9464", "expected HOST:PORT"),
        ("", "expected HOST:PORT"),
        ("127.0.0.1:", "port must be a number"),
        ("127.0.0.1:65536", "port must be a number"),
        ("127.0.0.1:-1", "port must be a number"),
        ("127.0.0.1: 9464", "port must be a number"),
        ("127.0.0.1:123456", "port must be a number"),
        ("::1:9464", "IPv6 address goes in brackets"),
        ("[127.0.0.1]:9464", "not an IPv6 address"),
        ("[::1:9464", "IPv6 address goes in brackets"),
        ("host name:9464", "not a host name"),
        ("-bad:9464", "not a host name"),
    ],
)
def test_parse_listen_rejects(listen: str, why: str) -> None:
    with pytest.raises(AuditUsageError, match=why) as info:
        parse_listen(listen)
    assert str(info.value).startswith(f"metrics_listen {listen!r}: ")


def test_parse_request_head() -> None:
    request = parse_request_head(
        b"GET /metrics?x=1 HTTP/1.1\r\nHost: h\r\nAccept-Encoding:  gzip \r\nX-Empty:"
    )
    assert request.method == "GET"
    assert request.path == "/metrics"
    assert request.version == (1, 1)
    assert request.headers == (("host", "h"), ("accept-encoding", "gzip"), ("x-empty", ""))
    assert request.keep_alive
    assert not request.has_body


@pytest.mark.parametrize(
    ("head", "keep_alive", "has_body"),
    [
        (b"GET / HTTP/1.1\r\nHost: h", True, False),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close", False, False),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: te, close", False, False),
        (b"GET / HTTP/1.0", False, False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive", True, False),
        (b"GET / HTTP/1.1\nHost: h", True, False),  # bare LF line ends
        (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0", True, False),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5", False, True),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5", False, True),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked", False, True),
    ],
)
def test_parse_request_connection_and_body(head: bytes, keep_alive: bool, has_body: bool) -> None:
    request = parse_request_head(head)
    assert (request.keep_alive, request.has_body) == (keep_alive, has_body)


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/metrics", "/metrics"),
        ("/metrics#frag", "/metrics"),
        ("http://127.0.0.1:9464/metrics?a=b", "/metrics"),
        ("HTTP://h", "/"),
        ("http://h?q", "/"),
        ("*", "*"),
    ],
)
def test_request_target_forms(target: str, path: str) -> None:
    head = f"GET {target} HTTP/1.1\r\nHost: h".encode()
    assert parse_request_head(head).path == path


MALFORMED = [
    (b"GARBAGE", 400),
    (b"GET /metrics", 400),  # HTTP/0.9
    (b"GET  /metrics HTTP/1.1\r\nHost: h", 400),
    (b"GET /metrics HTTP/1.1 \r\nHost: h", 400),
    (b"GET metrics HTTP/1.1\r\nHost: h", 400),
    (b"GET /m\xffetrics HTTP/1.1\r\nHost: h", 400),
    (b"G(T /metrics HTTP/1.1\r\nHost: h", 400),
    (b"GET /metrics HTTP/1.1", 400),  # no Host
    (b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b", 400),
    (b"GET /metrics HTTP/1.1\r\nHost: h\r\nNo colon here", 400),
    (b"GET /metrics HTTP/1.1\r\nHost : h", 400),
    (b"GET /metrics HTTP/1.1\r\nHost: h\r\n folded", 400),
    (b"GET /metrics HTTP/1.1\r\nHost: h\r\nX: a\x00b", 400),
    (b"GET /metrics HTTP/1.1\r\nHost: h\r\nX: a\rb", 400),
    (b"GET /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: abc", 400),
    (b"GET /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2", 400),
    (b"GET /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2", 400),
    (b"GET /metrics HTTP/1.x\r\nHost: h", 400),
    (b"GET /metrics HTTP/2.0\r\nHost: h", 505),
]


@pytest.mark.parametrize(("head", "status"), MALFORMED)
def test_parse_request_rejects(head: bytes, status: int) -> None:
    with pytest.raises(BadRequest) as info:
        parse_request_head(head)
    assert info.value.status == status


def test_response_bytes() -> None:
    date = "Sun, 06 Nov 1994 08:49:37 GMT"
    response = Response(200, CONTENT_TYPE, b"x 1\n")
    assert response.to_bytes(date=date) == (
        b"HTTP/1.1 200 OK\r\n"
        b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        b"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        b"Content-Length: 4\r\n"
        b"\r\n"
        b"x 1\n"
    )
    assert response.to_bytes(date=date, head_only=True).endswith(b"Content-Length: 4\r\n\r\n")
    assert b"Connection: keep-alive\r\n" in response.to_bytes(date=date, keep_alive_1_0=True)
    closing = Response(404, "text/plain", b"", close=True)
    assert closing.to_bytes(date=date) == (
        b"HTTP/1.1 404 Not Found\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )


def test_answer_routes() -> None:
    def head(method: str, path: str) -> Response:
        request = parse_request_head(f"{method} {path} HTTP/1.1\r\nHost: h".encode())
        return answer(request, lambda: EXPOSITION)

    assert (head("GET", "/metrics").status, head("GET", "/metrics").body) == (200, EXPOSITION)
    assert head("HEAD", "/metrics").status == 200
    assert head("GET", "/").content_type.startswith("text/html")
    assert head("GET", "/metricsx").status == 404
    assert head("POST", "/nope").status == 404
    assert head("get", "/metrics").status == 405  # methods are case-sensitive
    forbidden = head("DELETE", "/metrics")
    assert forbidden.status == 405
    assert ("Allow", "GET, HEAD") in forbidden.extra_headers


# --- the server -------------------------------------------------------------------------


@asynccontextmanager
async def running_server(
    collect: Callable[[], Sequence[MetricFamily]] = fixed_collect, **options: Any
) -> AsyncIterator[int]:
    """A started :func:`serve_metrics` on 127.0.0.1 port 0; yields the port."""
    async with trio.open_nursery() as nursery:
        host, port = await nursery.start(
            lambda task_status: serve_metrics(
                "127.0.0.1:0", collect, task_status=task_status, **options
            )
        )
        assert host == "127.0.0.1"
        assert port > 0
        yield port
        nursery.cancel_scope.cancel()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class Client:
    """A raw HTTP/1.1 client: bytes out, responses parsed just enough to check them."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    @classmethod
    async def connect(cls, port: int) -> Client:
        with trio.fail_after(WAIT):
            return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        with trio.fail_after(WAIT):
            await self.stream.send_all(data)

    async def _fill(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise EOFError(f"connection closed; buffered {bytes(self.buffer)!r}")
        self.buffer += data

    async def reply(self, *, head_only: bool = False) -> Reply:
        with trio.fail_after(WAIT):
            while b"\r\n\r\n" not in self.buffer:
                await self._fill()
            end = self.buffer.index(b"\r\n\r\n")
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            del self.buffer[: end + 4]
            version, status, _reason = lines[0].split(" ", 2)
            assert version == "HTTP/1.1"
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(": ")
                assert name.lower() not in headers, f"repeated header {name}"
                headers[name.lower()] = value
            length = 0 if head_only else int(headers["content-length"])
            while len(self.buffer) < length:
                await self._fill()
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
            return Reply(int(status), headers, body)

    async def closed_by_server(self) -> bool:
        """Whether the server closes the connection (within WAIT) with nothing more sent."""
        with trio.fail_after(WAIT):
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                return not self.buffer
            return not data and not self.buffer

    async def aclose(self) -> None:
        await self.stream.aclose()


async def request(port: int, data: bytes = GET_METRICS, *, head_only: bool = False) -> Reply:
    client = await Client.connect(port)
    try:
        await client.send(data)
        return await client.reply(head_only=head_only)
    finally:
        await client.aclose()


async def test_get_metrics() -> None:
    async with running_server() as port:
        reply = await request(port)
    assert reply.status == 200
    assert reply.headers["content-type"] == CONTENT_TYPE
    assert reply.headers["content-length"] == str(len(EXPOSITION))
    assert reply.headers["date"].endswith(" GMT")
    assert "connection" not in reply.headers
    assert reply.body == EXPOSITION


async def test_collect_is_called_per_request() -> None:
    values = iter(range(1, 100))

    def counting() -> Sequence[MetricFamily]:
        return [MetricFamily("n_total", "counter", "", [Sample((), next(values))])]

    async with running_server(counting) as port:
        first, second = await request(port), await request(port)
    assert first.body.endswith(b"n_total 1\n")
    assert second.body.endswith(b"n_total 2\n")


async def test_head_has_the_headers_and_no_body() -> None:
    async with running_server() as port:
        client = await Client.connect(port)
        await client.send(b"HEAD /metrics HTTP/1.1\r\nHost: h\r\n\r\n")
        head = await client.reply(head_only=True)
        # No body followed: the next response starts right after the head.
        await client.send(GET_METRICS)
        get = await client.reply()
        await client.aclose()
    assert head.status == 200
    assert head.headers["content-length"] == str(len(EXPOSITION))
    assert head.headers["content-type"] == CONTENT_TYPE
    assert (get.status, get.body) == (200, EXPOSITION)


async def test_index_not_found_and_query_string() -> None:
    async with running_server() as port:
        index = await request(port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        missing = await request(port, b"GET /metrics/x HTTP/1.1\r\nHost: h\r\n\r\n")
        with_query = await request(port, b"GET /metrics?collect[]=x HTTP/1.1\r\nHost: h\r\n\r\n")
    assert index.status == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert b'href="/metrics"' in index.body
    assert missing.status == 404
    assert (with_query.status, with_query.body) == (200, EXPOSITION)


async def test_other_methods_get_405_and_the_connection_carries_on() -> None:
    async with running_server() as port:
        client = await Client.connect(port)
        await client.send(b"DELETE /metrics HTTP/1.1\r\nHost: h\r\n\r\n")
        refused = await client.reply()
        await client.send(GET_METRICS)
        served = await client.reply()
        await client.aclose()
    assert refused.status == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert served.status == 200


async def test_a_request_with_a_body_is_answered_then_closed() -> None:
    async with running_server() as port:
        client = await Client.connect(port)
        await client.send(b"POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
        reply = await client.reply()
        assert reply.status == 405
        assert reply.headers["connection"] == "close"
        assert await client.closed_by_server()
        await client.aclose()


async def test_keep_alive_then_connection_close() -> None:
    async with running_server() as port:
        client = await Client.connect(port)
        for _ in range(2):
            await client.send(GET_METRICS)
            reply = await client.reply()
            assert (reply.status, reply.body) == (200, EXPOSITION)
            assert "connection" not in reply.headers
        await client.send(b"GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        last = await client.reply()
        assert (last.status, last.headers["connection"]) == (200, "close")
        assert await client.closed_by_server()
        await client.aclose()


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with running_server() as port:
        client = await Client.connect(port)
        await client.send(
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
            + GET_METRICS
            + b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        statuses = [(await client.reply()).status for _ in range(3)]
        await client.aclose()
    assert statuses == [200, 200, 404]


async def test_http_1_0_closes_unless_asked_to_keep_alive() -> None:
    async with running_server() as port:
        client = await Client.connect(port)
        await client.send(b"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        kept = await client.reply()
        assert kept.headers["connection"] == "keep-alive"
        await client.send(b"GET /metrics HTTP/1.0\r\n\r\n")
        closing = await client.reply()
        assert closing.headers["connection"] == "close"
        assert await client.closed_by_server()
        await client.aclose()


def padded_head(total: int) -> bytes:
    """A valid GET /metrics head of exactly *total* bytes, blank line included."""
    start, end = b"GET /metrics HTTP/1.1\r\nHost: h\r\nX-Pad: ", b"\r\n\r\n"
    head = start + b"p" * (total - len(start) - len(end)) + end
    assert len(head) == total
    return head


async def test_head_size_limit() -> None:
    async with running_server() as port:
        at_limit = await request(port, padded_head(MAX_REQUEST_HEAD))
        client = await Client.connect(port)
        await client.send(padded_head(MAX_REQUEST_HEAD + 1))
        over = await client.reply()
        assert await client.closed_by_server()
        await client.aclose()
        # Much larger than the limit: the server stops reading, answers, and lingers
        # long enough for the client to read the answer rather than a reset.
        client = await Client.connect(port)
        await client.send(padded_head(6 * MAX_REQUEST_HEAD))
        far_over = await client.reply()
        await client.aclose()
    assert at_limit.status == 200
    assert (over.status, over.headers["connection"]) == (400, "close")
    assert far_over.status == 400


@pytest.mark.parametrize(("head", "status"), MALFORMED[:10] + MALFORMED[-1:])
async def test_malformed_requests_get_400_and_are_closed(head: bytes, status: int) -> None:
    async with running_server() as port:
        client = await Client.connect(port)
        await client.send(head + b"\r\n\r\n")
        reply = await client.reply()
        assert (reply.status, reply.headers["connection"]) == (status, "close")
        assert await client.closed_by_server()
        await client.aclose()
        # ...and the server still serves.
        assert (await request(port)).status == 200


async def test_slow_client_is_closed_after_request_timeout() -> None:
    timeout = 0.5
    async with running_server(request_timeout=timeout) as port:
        client = await Client.connect(port)

        async def trickle() -> None:
            # One byte every 0.1 s: never a whole head, always some progress.
            data = b"GET /metrics HTTP/1.1\r\nHost: h\r\nX-Slow: " + b"s" * 100
            for byte in data:
                try:
                    await client.stream.send_all(bytes([byte]))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                await trio.sleep(0.1)

        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trickle)
            assert await client.closed_by_server()
            elapsed = trio.current_time() - started
            nursery.cancel_scope.cancel()
        await client.aclose()
        assert timeout <= elapsed < timeout + 2.5
        assert (await request(port)).status == 200


async def test_idle_keep_alive_connection_is_closed_after_request_timeout() -> None:
    async with running_server(request_timeout=0.3) as port:
        client = await Client.connect(port)
        await client.send(GET_METRICS)
        assert (await client.reply()).status == 200
        assert await client.closed_by_server()
        await client.aclose()


async def test_the_timeout_is_per_request_not_per_connection() -> None:
    timeout = 1.0
    async with running_server(request_timeout=timeout) as port:
        client = await Client.connect(port)
        started = trio.current_time()
        for _ in range(4):
            await client.send(GET_METRICS)
            assert (await client.reply()).status == 200
            await trio.sleep(0.3)
        assert trio.current_time() - started > timeout
        await client.aclose()


async def test_collect_raising_gives_500_and_the_server_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def flaky() -> Sequence[MetricFamily]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("counter exploded")
        if calls == 2:  # valid families, but an invalid exposition
            return [MetricFamily("a", "gauge", ""), MetricFamily("a", "gauge", "")]
        return FAMILIES

    caplog.set_level(logging.ERROR, logger="trioaudit")
    async with running_server(flaky) as port:
        client = await Client.connect(port)
        await client.send(GET_METRICS)
        first = await client.reply()
        await client.send(GET_METRICS)
        second = await client.reply()
        await client.send(GET_METRICS)
        third = await client.reply()
        await client.aclose()
    assert (first.status, second.status) == (500, 500)
    assert "connection" not in first.headers
    assert (third.status, third.body) == (200, EXPOSITION)
    logged = [r for r in caplog.records if r.name == "trioaudit" and r.levelno == logging.ERROR]
    assert len(logged) == 2
    assert logged[0].exc_info is not None
    assert "counter exploded" in str(logged[0].exc_info[1])


async def test_port_in_use_names_the_setting() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        listen = f"127.0.0.1:{port}"
        # What the daemon sees: nursery.start raises, before anything was started.
        async with trio.open_nursery() as nursery:
            with pytest.raises(MetricsListenError) as info:
                await nursery.start(serve_metrics, listen, fixed_collect)
    assert str(info.value) == f"metrics_listen {listen}: address already in use"
    assert isinstance(info.value, OSError)
    assert info.value.errno == errno.EADDRINUSE


async def test_bad_settings_are_refused_before_listening() -> None:
    with pytest.raises(AuditUsageError, match="metrics_listen '9464'"):
        await serve_metrics("9464", fixed_collect)
    with pytest.raises(AuditUsageError, match="max_connections"):
        await serve_metrics("127.0.0.1:0", fixed_collect, max_connections=0)
    with pytest.raises(AuditUsageError, match="request_timeout"):
        await serve_metrics("127.0.0.1:0", fixed_collect, request_timeout=0)


async def test_max_connections_extra_clients_wait_for_a_slot() -> None:
    async with running_server(max_connections=1) as port:
        first = await Client.connect(port)
        await first.send(GET_METRICS)
        assert (await first.reply()).status == 200  # the one slot is now held (keep-alive)
        second = await Client.connect(port)  # the kernel's backlog accepts the connection
        await second.send(GET_METRICS)
        with trio.move_on_after(0.3):
            await second._fill()
        assert not second.buffer, "a second connection was served while the slot was held"
        await first.aclose()  # frees the slot
        reply = await second.reply()
        await second.aclose()
    assert (reply.status, reply.body) == (200, EXPOSITION)


async def test_cancelling_the_server_closes_its_listener() -> None:
    async with trio.open_nursery() as nursery:
        _host, port = await nursery.start(serve_metrics, "127.0.0.1:0", fixed_collect)
        client = await Client.connect(port)  # an open connection does not delay cancellation
        nursery.cancel_scope.cancel()
    await client.aclose()
    with pytest.raises(OSError), trio.fail_after(WAIT):
        await trio.open_tcp_stream("127.0.0.1", port)


def _have_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _have_ipv6_loopback(), reason="no IPv6 loopback")
async def test_ipv6_loopback() -> None:
    async with trio.open_nursery() as nursery:
        host, port = await nursery.start(serve_metrics, "[::1]:0", fixed_collect)
        assert host == "::1"
        with trio.fail_after(WAIT):
            stream = await trio.open_tcp_stream("::1", port)
        client = Client(stream)
        await client.send(b"GET /metrics HTTP/1.1\r\nHost: [::1]\r\n\r\n")
        reply = await client.reply()
        await client.aclose()
        nursery.cancel_scope.cancel()
    assert reply.status == 200
