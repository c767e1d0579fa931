"""The daemon's Prometheus ``/metrics`` endpoint: a tiny HTTP/1.1 responder on trio.

Why our own responder
=====================
``prometheus_client`` serves ``/metrics`` from its own threaded ``http.server``,
outside trio: a thread the daemon's nursery cannot cancel, whose connections no
trio timeout bounds, with a registry of process-global mutable metrics next to the
daemon's own counters. What Prometheus needs is small -- ``GET /metrics`` answered
with a text body, over keep-alive connections -- so the daemon answers it itself:
:func:`serve_metrics` is one more task in the daemon's nursery, cancelled with it,
with a bounded number of connections, a bounded request size and a deadline per
request, and ``collect()`` (the daemon's snapshot of its counters, as
:class:`~trioaudit._output.metrics.MetricFamily` values) is called on trio's
thread, so it reads the counters without locks.

What it speaks
==============
The request side is parsed by pure functions (:func:`parse_request_head`,
:func:`answer`, :meth:`Response.to_bytes`), following RFC 9112 (HTTP/1.1 message
syntax) and RFC 9110 (semantics), reduced to what a metrics endpoint needs:

* ``GET /metrics`` and ``HEAD /metrics``: 200, the exposition
  (:data:`~trioaudit._output.metrics.CONTENT_TYPE`), ``Content-Length``; a query
  string is ignored (Prometheus may add scrape ``params``); no gzip (the format
  allows it, Prometheus asks for it, identity is always acceptable);
* ``GET /`` (and ``HEAD``): a one-line HTML page pointing at ``/metrics``;
* any other path: 404; another method on one of those two paths: 405 with
  ``Allow: GET, HEAD``;
* a request line or headers that do not parse, an HTTP/1.1 request without exactly
  one ``Host``, or a head (request line plus headers) over
  :data:`MAX_REQUEST_HEAD` bytes: 400 and the connection is closed; an HTTP major
  version other than 1: 505 and closed;
* ``collect()`` or the rendering raising: 500, logged with its traceback, and the
  connection carries on -- a broken counter never takes the endpoint down;
* keep-alive: HTTP/1.1 connections stay open unless the request says
  ``Connection: close``; HTTP/1.0 ones only with ``Connection: keep-alive``;
  pipelined requests are answered in order;
* request bodies are never read: a request announcing one (``Content-Length``
  other than 0, or ``Transfer-Encoding``) is answered and the connection closed,
  which keeps the byte stream in step without a body parser.

Bounds (what a hostile or broken client can cost)
=================================================
* each request's head must arrive whole within ``request_timeout`` seconds of the
  server starting to wait for it -- including the idle wait between keep-alive
  requests -- and each response must be taken within the same time; otherwise the
  connection is closed without an answer (a slowloris trickling one byte a second
  gains nothing);
* at most ``max_connections`` connections are served at once. Further ones *wait*:
  the server stops accepting until a slot frees, and the kernel's listen backlog
  holds them. Waiting rather than refusing means a scrape that arrives while
  slots are busy is answered late instead of failing, and every slot frees within
  ``request_timeout`` of its client going quiet;
* a connection closed by the server shuts its sending side first and then reads
  (and drops) what the client still sends for at most a second and 64 KiB, so the
  client reads the answer instead of a reset ("lingering close").

``collect()`` is synchronous and runs on trio's thread: it must be quick and must
not block (it reads counters; it does not do I/O).
"""

from __future__ import annotations

import email.utils
import errno
import ipaddress
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import trio

from .._errors import AuditError, AuditUsageError
from .._output.metrics import CONTENT_TYPE, MetricFamily, render_exposition

__all__ = [
    "DEFAULT_METRICS_LISTEN",
    "MAX_REQUEST_HEAD",
    "BadRequest",
    "HttpRequest",
    "MetricsListenError",
    "Response",
    "answer",
    "parse_listen",
    "parse_request_head",
    "serve_metrics",
]

log = logging.getLogger("trioaudit")

#: Where the daemon listens unless told otherwise: loopback only, Prometheus's
#: conventional exporter range (9464 is the port OpenTelemetry's exporter uses).
DEFAULT_METRICS_LISTEN = "127.0.0.1:9464"

#: Longest request head accepted: request line, headers and the blank line after them.
MAX_REQUEST_HEAD = 8 * 1024

#: How long a closing connection keeps reading what its client still sends, and how much.
LINGER_SECONDS = 1.0
LINGER_BYTES = 64 * 1024

_RECEIVE_SIZE = 16 * 1024

#: errnos of ``accept()`` that mean "out of resources for now", not "listener broken":
#: wait and accept again (trio's ``serve_listeners`` does the same).
_ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_ACCEPT_RETRY_DELAY = 0.1

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    505: "HTTP Version Not Supported",
}

_INDEX_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>trioaudit</title></head>"
    b'<body><p>trioaudit daemon: <a href="/metrics">/metrics</a></p></body></html>\n'
)
_PLAIN = "text/plain; charset=utf-8"
_ALLOWED = "GET, HEAD"

# RFC 9110 5.6.2: token = 1*tchar.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
# A request target: visible ASCII, no spaces (RFC 9112 3.2).
_TARGET = re.compile(rb"[\x21-\x7e]+")
_ABSOLUTE_FORM = re.compile(r"https?://[^/?#]*", re.IGNORECASE)
# A field value: visible characters, obs-text, spaces and tabs (RFC 9110 5.5).
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
# The blank line ending a head; a lone LF is accepted as a line end (RFC 9112 2.2).
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")

_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_PORT = re.compile(r"[0-9]{1,5}")


class MetricsListenError(AuditError, OSError):
    """The metrics endpoint cannot listen where ``metrics_listen`` says.

    The message names the setting and its value, then the reason:
    ``metrics_listen 127.0.0.1:9464: address already in use``. ``errno`` is the
    failing call's errno (``EADDRINUSE``), when it had one.
    """

    def __init__(self, listen: str, reason: str, code: int | None = None) -> None:
        self.listen = listen
        self.reason = reason
        text = f"metrics_listen {listen}: {reason}"
        if code is None:
            OSError.__init__(self, text)
        else:
            OSError.__init__(self, code, text)

    def __str__(self) -> str:
        return f"metrics_listen {self.listen}: {self.reason}"

    def __reduce__(self) -> tuple[type[MetricsListenError], tuple[str, str, int | None]]:
        return (type(self), (self.listen, self.reason, self.errno))


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` to ``(host, port)``, checked; the host is ``""`` for all interfaces.

    Accepted forms (as Go's ``net.Listen`` spells them, which Prometheus
    exporters' ``--web.listen-address`` follows)::

        127.0.0.1:9464      an IPv4 address
        [::1]:9464          an IPv6 address, in brackets (a zone is allowed: [fe80::1%eth0])
        localhost:9464      a host name: every address it resolves to
        :9464               every interface, IPv4 and IPv6 -- exposing the metrics to
                            the network is a choice, so the default is loopback

    Port 0 asks the kernel for a free port (tests; the bound one is reported by
    :func:`serve_metrics`).

    Raises:
        AuditUsageError: (a ``ValueError``) the value is not of those forms; the
            message names the setting.
    """

    def bad(why: str) -> AuditUsageError:
        return AuditUsageError(f"metrics_listen {listen!r}: {why}")

    host, colon, port_text = listen.rpartition(":")
    if not colon:
        raise bad("expected HOST:PORT, for example 127.0.0.1:9464")
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise bad("the port must be a number from 0 to 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad("not an IPv6 address inside the brackets") from None
    elif ":" in host:
        raise bad("an IPv6 address goes in brackets: [::1]:9464")
    elif host and not _HOSTNAME.fullmatch(host):
        raise bad("not a host name or an IP address")
    return host, int(port_text)


class BadRequest(Exception):
    """The request cannot be answered normally; reply *status* and close.

    The message is ours (it never echoes the request) and becomes the reply's body.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A parsed request head.

    Attributes:
        method: As sent (methods are case-sensitive: ``get`` is not ``GET``).
        path: The target's path, without query or fragment (``/metrics``); ``*``
            for the asterisk form.
        version: ``(1, 0)`` or ``(1, 1)`` (a later 1.x minor reads as 1.1).
        headers: ``(name, value)`` pairs in order, names lowercased, values stripped.
        keep_alive: Whether the connection may carry another request after this one.
        has_body: The request announces a body (which is never read).
    """

    method: str
    path: str
    version: tuple[int, int]
    headers: tuple[tuple[str, str], ...]
    keep_alive: bool
    has_body: bool


def find_head_end(buffer: bytes | bytearray) -> tuple[int, int] | None:
    """Where the first request head in *buffer* ends: ``(end of head, start of what
    follows)``, or ``None`` when its blank line has not arrived yet."""
    match = _HEAD_END.search(buffer)
    return None if match is None else (match.start(), match.end())


def _connection_tokens(headers: Sequence[tuple[str, str]]) -> set[str]:
    return {
        token.strip().lower()
        for name, value in headers
        if name == "connection"
        for token in value.split(",")
    }


def parse_request_head(head: bytes) -> HttpRequest:
    """Parse a request line and its header lines (without the blank line ending them).

    Raises:
        BadRequest: 400 for anything RFC 9112 calls malformed (and a missing or
            repeated ``Host`` in HTTP/1.1), 505 for an HTTP major version other than 1.
    """
    lines = _LINE_END.split(head)
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise BadRequest("malformed request line")
    raw_method, raw_target, raw_version = parts
    if not _TOKEN.fullmatch(raw_method):
        raise BadRequest("malformed method")
    if not _TARGET.fullmatch(raw_target):
        raise BadRequest("malformed request target")
    version_match = _VERSION.fullmatch(raw_version)
    if version_match is None:
        raise BadRequest("malformed HTTP version")
    if version_match[1] != b"1":
        raise BadRequest("only HTTP/1.x is spoken here", status=505)
    version = (1, 0) if version_match[2] == b"0" else (1, 1)

    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise BadRequest("folded header lines are not accepted")
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise BadRequest("malformed header line")
        value = value.strip(b" \t")
        if not _FIELD_VALUE.fullmatch(value):
            raise BadRequest("control character in a header value")
        headers.append((name.decode("ascii").lower(), value.decode("latin-1")))

    hosts = [value for name, value in headers if name == "host"]
    if version >= (1, 1) and len(hosts) != 1:
        raise BadRequest("an HTTP/1.1 request needs exactly one Host header")
    lengths = {value for name, value in headers if name == "content-length"}
    has_body = any(name == "transfer-encoding" for name, _ in headers)
    for length in lengths:
        # A list of identical values is allowed (RFC 9112 6.3); anything else is not.
        values = {item.strip() for item in length.split(",")}
        if len(lengths) != 1 or len(values) != 1 or not all(v.isdigit() for v in values):
            raise BadRequest("malformed Content-Length")
        has_body = has_body or int(values.pop()) != 0

    tokens = _connection_tokens(headers)
    if version == (1, 0):
        keep_alive = "keep-alive" in tokens and "close" not in tokens
    else:
        keep_alive = "close" not in tokens
    target = raw_target.decode("ascii")
    if target[0] != "/" and target != "*":
        # The absolute form (RFC 9112 3.2.2), as sent to proxies: keep what follows
        # the authority.
        authority = _ABSOLUTE_FORM.match(target)
        if authority is None:
            raise BadRequest("malformed request target")
        rest = target[authority.end() :]
        target = rest if rest.startswith("/") else "/" + rest
    path = re.split(r"[?#]", target, maxsplit=1)[0]
    return HttpRequest(
        method=raw_method.decode("ascii"),
        path=path,
        version=version,
        headers=tuple(headers),
        keep_alive=keep_alive and not has_body,
        has_body=has_body,
    )


@dataclass(frozen=True, slots=True)
class Response:
    """A response to send: status, headers beyond the framing ones, body.

    ``close`` says the connection ends after it (sent as ``Connection: close``).
    """

    status: int
    content_type: str
    body: bytes
    close: bool = False
    extra_headers: tuple[tuple[str, str], ...] = ()

    def to_bytes(
        self, *, head_only: bool = False, keep_alive_1_0: bool = False, date: str | None = None
    ) -> bytes:
        """The response as sent. *head_only* (a ``HEAD`` request) leaves out the body
        but keeps its ``Content-Length``; *keep_alive_1_0* adds ``Connection:
        keep-alive`` for an HTTP/1.0 client that asked for it; *date* is the ``Date``
        header (RFC 9110 6.6.1; now when ``None``)."""
        if date is None:
            date = email.utils.formatdate(usegmt=True)
        lines = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Unknown')}",
            f"Date: {date}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            *(f"{name}: {value}" for name, value in self.extra_headers),
        ]
        if self.close:
            lines.append("Connection: close")
        elif keep_alive_1_0:
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def error_response(status: int, message: str, *, close: bool = False) -> Response:
    """A short ``text/plain`` error reply."""
    allow = (("Allow", _ALLOWED),) if status == 405 else ()
    return Response(status, _PLAIN, f"{message}\n".encode(), close=close, extra_headers=allow)


def answer(request: HttpRequest, render_metrics: Callable[[], bytes]) -> Response:
    """The response to *request*; *render_metrics* produces the exposition.

    *render_metrics* raising any :class:`Exception` gives a 500 (logged with its
    traceback); the connection stays usable.
    """
    close = not request.keep_alive
    if request.path not in ("/metrics", "/"):
        return error_response(404, "not found; the metrics are at /metrics", close=close)
    if request.method not in ("GET", "HEAD"):
        return error_response(405, "method not allowed", close=close)
    if request.path == "/":
        return Response(200, "text/html; charset=utf-8", _INDEX_PAGE, close=close)
    try:
        body = render_metrics()
    except Exception:
        log.exception("metrics: collecting the metrics failed; answering 500")
        return error_response(500, "collecting the metrics failed", close=close)
    return Response(200, CONTENT_TYPE, body, close=close)


async def serve_metrics(
    listen: str,
    collect: Callable[[], Sequence[MetricFamily]],
    *,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
    max_connections: int = 16,
    request_timeout: float = 10,
) -> None:
    """Serve ``/metrics`` on *listen* (``HOST:PORT``, see :func:`parse_listen`) until
    cancelled; see the module docstring for what is answered and the bounds.

    Start it with ``address = await nursery.start(serve_metrics, listen, collect)``:
    *address* is the first bound socket's ``(host, port)`` (the kernel's port when
    *listen* says port 0). Listening failures raise from ``nursery.start``.

    Raises:
        AuditUsageError: *listen* is malformed, or a bound is not positive.
        MetricsListenError: binding or listening failed (port in use, address not
            local, unresolvable host name, permission).
    """
    if max_connections < 1:
        raise AuditUsageError("max_connections must be at least 1")
    if not request_timeout > 0:
        raise AuditUsageError("request_timeout must be positive")
    host, port = parse_listen(listen)
    try:
        listeners = await trio.open_tcp_listeners(port, host=host or None)
    except OSError as exc:
        raise _listen_error(listen, exc) from exc

    def render_metrics() -> bytes:
        return render_exposition(collect())

    slots = trio.Semaphore(max_connections)
    try:
        async with trio.open_nursery() as nursery:
            for listener in listeners:
                nursery.start_soon(
                    _accept_connections, listener, slots, nursery, render_metrics, request_timeout
                )
            sockname = listeners[0].socket.getsockname()
            log.info("metrics: serving on %s (%s)", listen, sockname)
            task_status.started((str(sockname[0]), int(sockname[1])))
    finally:
        with trio.CancelScope(shield=True):
            for listener in listeners:
                await listener.aclose()


def _listen_error(listen: str, exc: OSError) -> MetricsListenError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return MetricsListenError(listen, reason[:1].lower() + reason[1:], exc.errno)


async def _accept_connections(
    listener: trio.SocketListener,
    slots: trio.Semaphore,
    nursery: trio.Nursery,
    render_metrics: Callable[[], bytes],
    request_timeout: float,
) -> None:
    """Accept while a connection slot is free; each connection gives its slot back
    when it ends. With no free slot this waits before ``accept()``, so new clients
    wait in the kernel's backlog."""
    while True:
        await slots.acquire()
        try:
            stream = await _accept(listener)
        except BaseException:
            slots.release()
            raise
        nursery.start_soon(_serve_connection, stream, slots, render_metrics, request_timeout)


async def _accept(listener: trio.SocketListener) -> trio.SocketStream:
    while True:
        try:
            return await listener.accept()
        except OSError as exc:
            if exc.errno not in _ACCEPT_CAPACITY_ERRNOS:
                raise
            log.warning("metrics: accept failed (%s); retrying", exc.strerror)
            await trio.sleep(_ACCEPT_RETRY_DELAY)


class _HeadTooLarge(Exception):
    pass


async def _receive_head(stream: trio.SocketStream, buffer: bytearray) -> bytes | None:
    """The next request head from *stream* (bytes past it stay in *buffer*), or
    ``None`` when the client closed the connection between requests.

    Raises:
        _HeadTooLarge: the head would exceed :data:`MAX_REQUEST_HEAD`.
        BadRequest: the client closed in the middle of a head.
    """
    while True:
        # RFC 9112 2.2: empty lines before a request line are ignored.
        while buffer and buffer[0] in b"\r\n":
            del buffer[:1]
        found = find_head_end(buffer[:MAX_REQUEST_HEAD])
        if found is not None:
            head_end, next_start = found
            head = bytes(buffer[:head_end])
            del buffer[:next_start]
            return head
        if len(buffer) >= MAX_REQUEST_HEAD:
            raise _HeadTooLarge
        data = await stream.receive_some(_RECEIVE_SIZE)
        if not data:
            if buffer:
                raise BadRequest("connection closed in the middle of a request")
            return None
        buffer += data


async def _serve_connection(
    stream: trio.SocketStream,
    slots: trio.Semaphore,
    render_metrics: Callable[[], bytes],
    request_timeout: float,
) -> None:
    try:
        await _answer_requests(stream, render_metrics, request_timeout)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        log.debug("metrics: connection ended: %r", exc)
    except Exception:
        # A bug of ours must cost one connection, not the endpoint.
        log.exception("metrics: unexpected error serving a connection")
    finally:
        slots.release()
        with trio.CancelScope(shield=True):
            await stream.aclose()


async def _answer_requests(
    stream: trio.SocketStream, render_metrics: Callable[[], bytes], request_timeout: float
) -> None:
    buffer = bytearray()
    while True:
        response: Response | None = None
        request: HttpRequest | None = None
        with trio.move_on_after(request_timeout) as waiting:
            try:
                head = await _receive_head(stream, buffer)
            except _HeadTooLarge:
                response = error_response(400, "request head too large", close=True)
            except BadRequest:
                return  # the client is gone; there is nobody to tell
            else:
                if head is None:
                    return
                try:
                    request = parse_request_head(head)
                except BadRequest as exc:
                    response = error_response(exc.status, str(exc), close=True)
        if waiting.cancelled_caught:
            log.debug("metrics: no whole request within %ss; closing", request_timeout)
            return
        if request is not None:
            response = answer(request, render_metrics)
        assert response is not None
        data = response.to_bytes(
            head_only=request is not None and request.method == "HEAD",
            keep_alive_1_0=request is not None and request.version == (1, 0),
        )
        with trio.move_on_after(request_timeout) as sending:
            await stream.send_all(data)
        if sending.cancelled_caught:
            log.debug("metrics: response not taken within %ss; closing", request_timeout)
            return
        if response.close:
            await _linger(stream)
            return


async def _linger(stream: trio.SocketStream) -> None:
    """Shut our side, then read and drop what the client still sends (bounded), so
    closing with unread bytes does not reset the connection under the answer."""
    await stream.send_eof()
    drained = 0
    with trio.move_on_after(LINGER_SECONDS):
        while drained < LINGER_BYTES:
            data = await stream.receive_some(_RECEIVE_SIZE)
            if not data:
                return
            drained += len(data)
