"""RELP, rsyslog's Reliable Event Logging Protocol, as a sans-IO client (h11-style).

Nothing here touches a socket: :func:`encode_frame` turns a command into bytes,
:class:`FrameDecoder` turns received bytes back into :class:`Frame` objects, and
:class:`RelpClientSession` keeps the client's side of the conversation -- the
``open`` handshake, the window of unacknowledged transaction numbers, ``close`` --
turning what the server sends into events (:class:`Opened`, :class:`Acked`,
:class:`Refused`, :class:`Closed`, :class:`ServerClose`). :func:`parse_relp_url` turns
a ``relp://`` or ``relp+tls://`` URL into a :class:`RelpTarget` (with the rules all
network outputs share, :mod:`trioaudit._output.endpoints`). The trio half that owns
the socket is :mod:`trioaudit._daemon.relp`.

Protocol facts (credits)
------------------------
From the RELP specification (Rainer Gerhards, ``doc/relp.md`` in rsyslog's librelp)
and, where the prose is vague, from what librelp 1.11 (``src/relpframe.c``,
``src/relpsess.c``, ``src/copen.c``, ``src/scrsp.c``, ``src/cclose.c``) actually does:

* a frame is ``TXNR SP COMMAND SP DATALEN [SP DATA] LF``. TXNR and DATALEN are 1 to
  9 decimal digits (librelp takes leading zeros), COMMAND is 1 to 32 ASCII letters.
  When DATALEN is 0 the ``SP DATA`` part is absent -- ``4 rsp 0\\n`` -- and librelp
  rejects ``4 rsp 0 \\n``; a frame whose byte after DATA is not LF is a framing error;
* TXNR 0 is reserved for hints from the server (``0 serverclose 0\\n``, sent before
  it drops the session); the client numbers its commands 1, 2, 3, ... from 1 on
  every connection, and a librelp server closes the session when a number is not
  the one it expects. After 999,999,999 the spec wraps to 1 (librelp itself goes
  to 1,000,000,000, a 10-digit number its own parser refuses, so no session
  survives that far against librelp: :mod:`trioaudit._daemon.relp` starts a new
  session before the wrap);
* ``open`` carries the client's offers, one ``name=value[,value...]`` per line:
  ``relp_version=0`` (0 is what librelp speaks, ``RELP_CURR_PROTOCOL_VERSION``;
  its client refuses a server offering a higher version), ``relp_software=name,
  version[,url]`` (optional), ``commands=syslog``. The server answers
  ``rsp`` with ``200 OK`` and its own offers on the following lines, e.g.
  ``200 OK\\nrelp_version=0\\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com
  \\ncommands=syslog``; the client must not use a command the server did not offer.
  librelp bounds offer names to 32 bytes, values to 255, and 64 values per offer;
* every ``syslog`` is answered by ``rsp`` with the same TXNR: ``200 OK`` once the
  message is taken, ``500 <text>`` when it is refused. The spec says responses
  come in command order, but also "the server may reply in any order", so the
  session accepts any outstanding TXNR and refuses only unknown ones;
* ``close`` is answered by an ``rsp`` with no data at all (``N rsp 0``), after which
  librelp sends ``0 serverclose 0`` and closes the connection;
* librelp refuses frames larger than its ``maxDataSize`` (128 KiB by default,
  ``RELP_DFLT_MAX_DATA_SIZE``); the server's answers are tiny, so the decoder's
  default bound is that same 128 KiB.

Port
----
rsyslog has no default for ``imrelp``'s ``port`` (it is required; its examples use
2514), and documents ``omrelp``'s default as 514, the syslog port. We follow
librelp's own ``RELP_DFLT_PORT``, 20514 (``src/relp.h``), which collides with
nothing; configure the port explicitly to match the receiver.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from types import MappingProxyType

from trioaudit._errors import AuditProtocolError, AuditUsageError
from trioaudit._output.endpoints import (
    TLS_OPTION_NAMES,
    TlsOptions,
    canonical_url,
    query_options,
    split_endpoint_url,
)
from trioaudit._version import __version__

__all__ = [
    "DEFAULT_MAX_DATA_SIZE",
    "DEFAULT_PORT",
    "DEFAULT_SOFTWARE",
    "MAX_COMMAND_LENGTH",
    "MAX_DATALEN",
    "MAX_TXNR",
    "RELP_VERSION",
    "Acked",
    "Closed",
    "Event",
    "Frame",
    "FrameDecoder",
    "Opened",
    "Refused",
    "RelpClientSession",
    "RelpProtocolError",
    "RelpTarget",
    "RelpUsageError",
    "ServerClose",
    "SessionState",
    "encode_frame",
    "encode_offers",
    "next_txnr",
    "parse_offers",
    "parse_relp_url",
    "parse_response",
]

#: The highest transaction number; the one after it is 1 (TXNR is ``1*9DIGIT``).
MAX_TXNR = 999_999_999
#: The largest DATALEN the 9-digit field can carry.
MAX_DATALEN = 999_999_999
#: COMMAND is ``1*32ALPHA``.
MAX_COMMAND_LENGTH = 32
#: librelp's ``RELP_DFLT_MAX_DATA_SIZE``: the largest frame a librelp peer takes.
DEFAULT_MAX_DATA_SIZE = 128 * 1024
#: The RELP protocol version librelp speaks (``RELP_CURR_PROTOCOL_VERSION``).
RELP_VERSION = 0
#: What ``relp_software`` says about us: name and version (the URL is optional).
DEFAULT_SOFTWARE = f"trioaudit,{__version__}"

_MAX_NUMBER_DIGITS = 9
# TXNR SP COMMAND SP DATALEN and the byte after it (SP or LF): the longest header.
_MAX_HEADER = _MAX_NUMBER_DIGITS + 1 + MAX_COMMAND_LENGTH + 1 + _MAX_NUMBER_DIGITS + 1
_MAX_OFFER_NAME = 32
_MAX_OFFER_VALUE = 255
_MAX_OFFER_VALUES = 64
_SP = 0x20
_LF = 0x0A
_DIGITS = frozenset(b"0123456789")
_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# What a server may send a client: answers, and the one hint librelp defines.
_SERVER_COMMANDS = frozenset({"rsp", "serverclose"})


class RelpProtocolError(AuditProtocolError):
    """The peer sent bytes that are not RELP, or RELP that breaks the conversation
    (an answer to a command never sent, an unknown command). The connection must be
    dropped: the spec's answer to every framing error is "close and reconnect".

    Attributes:
        events: From :meth:`RelpClientSession.receive`: the events completed by the
            same bytes *before* the error, in order. They happened (an ack received
            before garbage is still an ack): handle them, then drop the connection.
    """

    events: Sequence[Event]

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(message, data)
        self.events = ()


class RelpUsageError(AuditUsageError):
    """The caller asked the session for something RELP forbids (a ``syslog`` before
    the ``open`` answer, a command after ``close``, a TXNR out of range)."""


def next_txnr(txnr: int) -> int:
    """The transaction number after *txnr*: one more, and 1 after :data:`MAX_TXNR`
    (0 is the servers' hint number, never the client's)."""
    return 1 if txnr >= MAX_TXNR else txnr + 1


@dataclass(frozen=True, slots=True)
class Frame:
    """One RELP frame: its transaction number, command and (possibly empty) data."""

    txnr: int
    command: str
    data: bytes = b""


def encode_frame(txnr: int, command: str, data: bytes = b"") -> bytes:
    """The bytes of one frame, exactly as librelp writes them: ``SP DATA`` only
    when there is data.

    Raises:
        RelpUsageError: *txnr* outside 0..999,999,999, *command* not 1 to 32 ASCII
            letters, or more data than a 9-digit DATALEN can say.
    """
    if not 0 <= txnr <= MAX_TXNR:
        raise RelpUsageError(f"RELP TXNR must be 0..{MAX_TXNR}, not {txnr}")
    raw_command = command.encode("ascii", "replace")
    if not 0 < len(raw_command) <= MAX_COMMAND_LENGTH or not _LETTERS.issuperset(raw_command):
        raise RelpUsageError(f"RELP command must be 1 to 32 ASCII letters, not {command!r}")
    if len(data) > MAX_DATALEN:
        raise RelpUsageError(f"RELP data of {len(data)} bytes exceeds DATALEN's 9 digits")
    header = b"%d %s %d" % (txnr, raw_command, len(data))
    if data:
        return b"".join((header, b" ", data, b"\n"))
    return header + b"\n"


class FrameDecoder:
    """Incremental frame parser: :meth:`feed` bytes as they arrive, then call
    :meth:`next_frame` until it returns ``None``.

    Every field is checked as soon as its bytes are there -- a 10th TXNR digit, a
    non-letter in COMMAND, a DATALEN above *max_data_size* fail at once, without
    waiting for the rest -- so once :meth:`next_frame` has returned ``None`` the
    decoder holds at most one incomplete frame: never more than :attr:`max_frame_size`
    bytes, whatever a hostile peer sends. A protocol error is sticky: the decoder
    raises it again on every later call (the stream is unusable after it).
    """

    def __init__(self, *, max_data_size: int = DEFAULT_MAX_DATA_SIZE) -> None:
        if not 0 <= max_data_size <= MAX_DATALEN:
            raise RelpUsageError(f"max_data_size must be 0..{MAX_DATALEN}, not {max_data_size}")
        self._max_data_size = max_data_size
        self._buffer = bytearray()
        self._error: RelpProtocolError | None = None

    @property
    def max_frame_size(self) -> int:
        """The largest frame accepted: the longest header, *max_data_size*, LF."""
        return _MAX_HEADER + self._max_data_size + 1

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as frames."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray) -> None:
        """Add received bytes (an empty *data* is allowed and does nothing)."""
        if self._error is not None:
            raise self._error
        self._buffer += data

    def next_frame(self) -> Frame | None:
        """The next complete frame, or ``None`` until more bytes are fed.

        Raises:
            RelpProtocolError: the bytes are not a RELP frame (and never will be).
        """
        if self._error is not None:
            raise self._error
        try:
            parsed = _parse_frame(self._buffer, self._max_data_size)
        except RelpProtocolError as error:
            self._error = error
            raise
        if parsed is None:
            return None
        frame, size = parsed
        del self._buffer[:size]
        return frame


def _protocol_error(message: str, buffer: bytearray) -> RelpProtocolError:
    return RelpProtocolError(f"RELP framing error: {message}", bytes(buffer[:80]))


def _number_field(
    buffer: bytearray, start: int, name: str, maximum: int = MAX_TXNR
) -> tuple[int, int] | None:
    """Parse the 1 to 9 digits at *start*: (value, index of the byte after them),
    or None when the buffer ends inside the field. The value is checked against
    *maximum* also while the field is incomplete: more digits only make it larger,
    so a hostile DATALEN is refused before any of its data is buffered."""
    end = start
    limit = len(buffer)
    while end < limit and buffer[end] in _DIGITS:
        end += 1
        if end - start > _MAX_NUMBER_DIGITS:
            raise _protocol_error(f"{name} has more than 9 digits", buffer)
    if end == start:
        if end < limit:
            got = bytes(buffer[end : end + 1])
            raise _protocol_error(f"{name} must be 1 to 9 digits, got {got!r}", buffer)
        return None
    value = int(buffer[start:end])
    if value > maximum:
        more = "" if end < limit else "..."
        raise _protocol_error(f"{name} {value}{more} exceeds the maximum of {maximum}", buffer)
    return (value, end) if end < limit else None


def _parse_frame(buffer: bytearray, max_data_size: int) -> tuple[Frame, int] | None:
    """One frame from the start of *buffer* and its size; None if it is incomplete."""
    if not buffer:
        return None
    txnr_field = _number_field(buffer, 0, "TXNR")
    if txnr_field is None:
        return None
    txnr, index = txnr_field
    if buffer[index] != _SP:
        raise _protocol_error(f"TXNR ends in {bytes(buffer[index : index + 1])!r}, not SP", buffer)
    command_start = index = index + 1
    limit = len(buffer)
    while index < limit and buffer[index] in _LETTERS:
        index += 1
        if index - command_start > MAX_COMMAND_LENGTH:
            raise _protocol_error("command is longer than 32 letters", buffer)
    if index == limit:
        return None
    if index == command_start or buffer[index] != _SP:
        raise _protocol_error(
            f"command must be 1 to 32 letters then SP, got {bytes(buffer[index : index + 1])!r}",
            buffer,
        )
    command = buffer[command_start:index].decode("ascii")
    datalen_field = _number_field(buffer, index + 1, "DATALEN", max_data_size)
    if datalen_field is None:
        return None
    datalen, index = datalen_field
    separator = buffer[index]
    if datalen == 0:
        if separator != _LF:
            raise _protocol_error("DATALEN 0 must be followed by the LF trailer", buffer)
        return Frame(txnr, command), index + 1
    if separator != _SP:
        raise _protocol_error(f"DATALEN {datalen} must be followed by SP and data", buffer)
    data_start = index + 1
    trailer = data_start + datalen
    if len(buffer) <= trailer:
        return None
    if buffer[trailer] != _LF:
        raise _protocol_error(
            f"missing trailer: byte {bytes(buffer[trailer : trailer + 1])!r} after"
            f" {datalen} data bytes is not LF",
            buffer,
        )
    return Frame(txnr, command, bytes(buffer[data_start:trailer])), trailer + 1


# ---- offers and responses --------------------------------------------------------


def encode_offers(offers: Mapping[str, tuple[str, ...]]) -> bytes:
    """``name=value,value`` lines joined by LF, in the order given (an offer without
    values is ``name=``, as librelp writes it).

    Raises:
        RelpUsageError: a name or value that cannot be written (LF, ``=`` or ``,``
            inside it, or longer than librelp reads).
    """
    lines = []
    for name, values in offers.items():
        raw_name = name.encode()
        raw_values = [value.encode() for value in values]
        if not 0 < len(raw_name) <= _MAX_OFFER_NAME or any(c in raw_name for c in b"\n=,"):
            raise RelpUsageError(f"invalid RELP offer name {name!r}")
        for raw in raw_values:
            if not 0 < len(raw) <= _MAX_OFFER_VALUE or any(c in raw for c in b"\n,"):
                raise RelpUsageError(f"invalid value for RELP offer {name!r}: {raw!r}")
        lines.append(raw_name + b"=" + b",".join(raw_values))
    return b"\n".join(lines)


def parse_offers(data: bytes) -> Mapping[str, tuple[str, ...]]:
    """The offers in an ``open`` (or its answer): one ``name[=value[,value...]]`` per
    line, empty lines and empty values skipped (as librelp does), librelp's size
    limits enforced. A repeated name keeps its last line.

    Raises:
        RelpProtocolError: a name longer than 32 bytes, a value longer than 255,
            more than 64 values.
    """
    offers: dict[str, tuple[str, ...]] = {}
    for line in data.split(b"\n"):
        if not line:
            continue
        name, _, raw_values = line.partition(b"=")
        if len(name) > _MAX_OFFER_NAME:
            raise RelpProtocolError("RELP offer name longer than 32 bytes", line[:80])
        values = tuple(value for value in raw_values.split(b",") if value)
        if len(values) > _MAX_OFFER_VALUES:
            raise RelpProtocolError("RELP offer with more than 64 values", line[:80])
        if any(len(value) > _MAX_OFFER_VALUE for value in values):
            raise RelpProtocolError("RELP offer value longer than 255 bytes", line[:80])
        offers[name.decode("utf-8", "replace")] = tuple(
            value.decode("utf-8", "replace") for value in values
        )
    return MappingProxyType(offers)


def parse_response(data: bytes) -> tuple[int, str, bytes]:
    """An ``rsp`` frame's data: (status code, human text, command data after the
    first LF). ``200 OK`` -> ``(200, "OK", b"")``.

    Raises:
        RelpProtocolError: not three digits followed by nothing, SP or LF.
    """
    code_bytes, rest = data[:3], data[3:]
    if len(code_bytes) != 3 or not _DIGITS.issuperset(code_bytes):
        raise RelpProtocolError("RELP response does not start with a 3-digit status", data[:80])
    if rest and rest[0] not in (_SP, _LF):
        raise RelpProtocolError("RELP response status is not followed by SP or LF", data[:80])
    if rest[:1] == b" ":
        rest = rest[1:]
    text, _, body = rest.partition(b"\n")
    return int(code_bytes), text.decode("utf-8", "replace"), body


# ---- the client session -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """The server accepted ``open``; *offers* are what it offered back."""

    offers: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Acked:
    """The server took the ``syslog`` message sent as *txnr* (``200``)."""

    txnr: int


@dataclass(frozen=True, slots=True)
class Refused:
    """The server answered the command sent as *txnr* with a non-200 status
    (``500 ...``). For ``open`` it means no session."""

    txnr: int
    code: int
    text: str


@dataclass(frozen=True, slots=True)
class Closed:
    """The server answered ``close``: the session is over, drop the connection."""


@dataclass(frozen=True, slots=True)
class ServerClose:
    """The ``serverclose`` hint: the server is dropping the connection; any
    message still unacknowledged must be sent again on a new one."""


Event = Opened | Acked | Refused | Closed | ServerClose


class SessionState(enum.Enum):
    """Where the client's side of a RELP session is."""

    IDLE = "idle"  # nothing sent yet
    OPENING = "opening"  # ``open`` sent, waiting for its answer
    OPEN = "open"  # ready for ``syslog``
    CLOSING = "closing"  # ``close`` sent
    CLOSED = "closed"  # close answered, open refused, or serverclose received
    BROKEN = "broken"  # the server broke the protocol; drop the connection


class _Pending(enum.Enum):
    OPEN = "open"
    SYSLOG = "syslog"
    CLOSE = "close"


class RelpClientSession:
    """The client's side of one RELP session (one connection), sans-IO.

    Send what :meth:`open`, :meth:`send_syslog` and :meth:`close` return; pass every
    received chunk to :meth:`receive` and act on the events. :attr:`unacked` lists
    the ``syslog`` transaction numbers still waiting for an answer, oldest first --
    the caller's window. The session never limits the window itself: the caller
    decides how many to keep in flight.

    Args:
        software: The ``relp_software`` offer's value (``name,version[,url]``).
        max_data_size: The largest frame accepted from the server.
        first_txnr: The number of the ``open`` command. RELP sessions start at 1
            and librelp servers insist on it; other values exist so tests can
            reach the wrap-around without a billion frames.
    """

    def __init__(
        self,
        *,
        software: str = DEFAULT_SOFTWARE,
        max_data_size: int = DEFAULT_MAX_DATA_SIZE,
        first_txnr: int = 1,
    ) -> None:
        if not 1 <= first_txnr <= MAX_TXNR:
            raise RelpUsageError(f"first_txnr must be 1..{MAX_TXNR}, not {first_txnr}")
        self._software = software
        self._decoder = FrameDecoder(max_data_size=max_data_size)
        self._next_txnr = first_txnr
        self._state = SessionState.IDLE
        # Outstanding commands by TXNR, in the order sent (dicts keep insertion order).
        self._pending: dict[int, _Pending] = {}
        self._unacked_syslog = 0
        self._offers: Mapping[str, tuple[str, ...]] | None = None

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def next_txnr(self) -> int:
        """The number the next command will carry."""
        return self._next_txnr

    @property
    def unacked(self) -> tuple[int, ...]:
        """TXNRs of ``syslog`` commands without an answer yet, in the order sent."""
        return tuple(txnr for txnr, kind in self._pending.items() if kind is _Pending.SYSLOG)

    @property
    def unacked_count(self) -> int:
        """``len(unacked)``, without building the tuple."""
        return self._unacked_syslog

    @property
    def offers(self) -> Mapping[str, tuple[str, ...]] | None:
        """The server's offers once ``open`` was accepted."""
        return self._offers

    @property
    def server_offers_syslog(self) -> bool:
        """Whether the server offered the ``syslog`` command (the spec forbids using
        a command it did not offer)."""
        return self._offers is not None and "syslog" in self._offers.get("commands", ())

    def _command(self, kind: _Pending, data: bytes) -> tuple[int, bytes]:
        txnr = self._next_txnr
        if txnr in self._pending:
            raise RelpUsageError(f"TXNR {txnr} is still unacknowledged after wrapping around")
        frame = encode_frame(txnr, kind.value, data)
        self._next_txnr = next_txnr(txnr)
        self._pending[txnr] = kind
        return txnr, frame

    def open(self) -> bytes:
        """The ``open`` frame offering ``syslog``; send it first, once."""
        if self._state is not SessionState.IDLE:
            raise RelpUsageError(f"open() in state {self._state.value}")
        offers = {
            "relp_version": (str(RELP_VERSION),),
            "relp_software": tuple(self._software.split(",")),
            "commands": ("syslog",),
        }
        _, frame = self._command(_Pending.OPEN, encode_offers(offers))
        self._state = SessionState.OPENING
        return frame

    def send_syslog(self, message: bytes) -> tuple[int, bytes]:
        """A ``syslog`` frame carrying *message*: its TXNR and its bytes.

        Raises:
            RelpUsageError: the session is not open, the server did not offer
                ``syslog``, or the message is longer than DATALEN can say.
        """
        if self._state is not SessionState.OPEN:
            raise RelpUsageError(f"send_syslog() in state {self._state.value}")
        if not self.server_offers_syslog:
            raise RelpUsageError("the server did not offer the syslog command")
        result = self._command(_Pending.SYSLOG, message)
        self._unacked_syslog += 1
        return result

    def close(self) -> bytes:
        """The ``close`` frame; no command may follow it. Answers to messages sent
        before it still arrive (as :class:`Acked`), then :class:`Closed`."""
        if self._state is not SessionState.OPEN:
            raise RelpUsageError(f"close() in state {self._state.value}")
        _, frame = self._command(_Pending.CLOSE, b"")
        self._state = SessionState.CLOSING
        return frame

    def receive(self, data: bytes | bytearray) -> list[Event]:
        """Feed bytes from the server; the events they complete, in order.

        Raises:
            RelpProtocolError: a framing error, a command a server may not send, an
                answer to a TXNR that is not outstanding, a malformed answer; its
                ``events`` are those the same bytes completed before the error. The
                session is then :attr:`SessionState.BROKEN` and raises again.
        """
        if self._state is SessionState.BROKEN:
            raise RelpProtocolError("RELP session is broken by an earlier protocol error")
        events: list[Event] = []
        try:
            self._decoder.feed(data)
            while (frame := self._decoder.next_frame()) is not None:
                events.append(self._handle(frame))
        except RelpProtocolError as error:
            self._state = SessionState.BROKEN
            error.events = events
            raise
        return events

    def _handle(self, frame: Frame) -> Event:
        if frame.command not in _SERVER_COMMANDS:
            raise RelpProtocolError(
                f"RELP server sent command {frame.command!r}; a server sends only rsp"
                " and serverclose",
                frame.data[:80],
            )
        if frame.command == "serverclose":
            if frame.txnr != 0:
                raise RelpProtocolError(f"RELP serverclose hint with TXNR {frame.txnr}, not 0")
            self._state = SessionState.CLOSED
            return ServerClose()
        kind = self._pending.pop(frame.txnr, None)
        if kind is None:
            raise RelpProtocolError(
                f"RELP answer for TXNR {frame.txnr}, which is not outstanding"
                f" (outstanding: {_describe(self._pending)})",
                frame.data[:80],
            )
        if kind is _Pending.CLOSE:
            self._state = SessionState.CLOSED
            return Closed()
        code, text, body = parse_response(frame.data)
        if kind is _Pending.SYSLOG:
            self._unacked_syslog -= 1
            return Acked(frame.txnr) if code == 200 else Refused(frame.txnr, code, text)
        if code != 200:
            self._state = SessionState.CLOSED
            return Refused(frame.txnr, code, text)
        offers = parse_offers(body)
        version = offers.get("relp_version", ())
        if len(version) != 1 or not version[0].isdigit():
            raise RelpProtocolError("RELP open answer without a numeric relp_version offer", body)
        if int(version[0]) > RELP_VERSION:
            raise RelpProtocolError(
                f"RELP server speaks relp_version {version[0]}, newer than {RELP_VERSION}", body
            )
        self._offers = offers
        if self._state is SessionState.OPENING:
            self._state = SessionState.OPEN
        return Opened(offers)


def _describe(pending: Mapping[int, _Pending]) -> str:
    if not pending:
        return "none"
    txnrs = list(pending)
    return f"{len(txnrs)}, {txnrs[0]}..{txnrs[-1]}" if len(txnrs) > 1 else str(txnrs[0])


# ---- targets ----------------------------------------------------------------------

#: librelp's ``RELP_DFLT_PORT`` (see the module docstring for rsyslog's defaults).
DEFAULT_PORT = 20514

_URL_DEFAULT_PORTS = {"relp": DEFAULT_PORT, "relp+tls": DEFAULT_PORT}


@dataclass(frozen=True)
class RelpTarget:
    """Where a RELP output sends, and how; made by :func:`parse_relp_url`.

    Attributes:
        host: A DNS name, an IPv4 address or an IPv6 address (without brackets).
        port: 1-65535 (default :data:`DEFAULT_PORT`).
        tls: ``relp+tls://``: TLS from the first byte (what ``imrelp tls="on"`` speaks).
        ca, cert, key, verify, server_name: TLS only; see
            :class:`~trioaudit._output.endpoints.TlsOptions` (:attr:`tls_options`).
    """

    host: str
    port: int = DEFAULT_PORT
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True
    server_name: str | None = None

    @property
    def url(self) -> str:
        """``relp+tls://host:port``: the target without options, for logs and metrics
        labels."""
        return canonical_url("relp+tls" if self.tls else "relp", self.host, self.port)

    @property
    def tls_options(self) -> TlsOptions:
        """The TLS settings alone, as :mod:`trioaudit._daemon.tls` takes them."""
        return TlsOptions(self.ca, self.cert, self.key, self.verify, self.server_name)

    def with_tls_options(
        self,
        *,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        verify: bool = True,
        server_name: str | None = None,
    ) -> RelpTarget:
        """This target with TLS settings from elsewhere (the config file): a ``None``
        keeps the URL's value, *verify* is always taken; :class:`ValueError` when the
        target is not TLS or the settings contradict each other."""
        options = self.tls_options.overridden(
            ca=ca, cert=cert, key=key, verify=verify, server_name=server_name
        )
        changed = replace(self, **asdict(options))
        changed._check_tls()
        return changed

    def _check_tls(self) -> None:
        self.tls_options.check(tls=self.tls, tls_scheme="relp+tls", url=self.url)


def parse_relp_url(url: str) -> RelpTarget:
    """``relp://HOST[:PORT]`` or ``relp+tls://HOST[:PORT]`` to a :class:`RelpTarget`;
    a :class:`ValueError` names what is wrong.

    HOST is a DNS name, an IPv4 address or a bracketed IPv6 address (``[::1]``);
    PORT defaults to :data:`DEFAULT_PORT` (20514). ``relp+tls://`` takes options
    after ``?`` as ``name=value`` pairs joined by ``&``: ``ca``, ``cert``, ``key``
    (file paths), ``verify`` (``true``/``false``), ``server_name``. Values are
    percent-decoded (``+`` stays a plus sign). Unknown or repeated options, a user
    name, a path or a fragment are errors, never ignored: a typo in a TLS setting
    must not quietly mean "defaults". The rules shared with syslog URLs are
    :mod:`trioaudit._output.endpoints`'.
    """
    endpoint = split_endpoint_url(url, protocol="RELP", default_ports=_URL_DEFAULT_PORTS)
    tls = endpoint.scheme == "relp+tls"
    options: TlsOptions = TlsOptions()
    if endpoint.query is not None:  # even an empty one: "relp+tls://h?" is a slip
        if not tls:
            raise ValueError(
                f"{url!r}: options ({', '.join(TLS_OPTION_NAMES)}) are only for relp+tls://"
            )
        options = TlsOptions.from_query(url, query_options(url, endpoint.query, TLS_OPTION_NAMES))
    target = RelpTarget(endpoint.host, endpoint.port, tls, **asdict(options))
    try:
        target._check_tls()
    except ValueError as error:
        raise ValueError(f"{url!r}: {error}") from None
    return target
