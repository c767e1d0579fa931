"""Syslog as bytes: RFC 5424 messages, RFC 6587 octet counting, ``syslog+…://`` URLs.

Theory of operation
-------------------
This is the sans-IO half of the syslog output: pure functions from values to bytes,
tested byte for byte. :mod:`trioaudit._daemon.syslog` moves the bytes.

``rfc5424_message``
    One message: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG``
    (RFC 5424 §6), no structured data. The header fields are cleaned, never trusted:
    a host name can come from configuration or from an event's ``node=``, and a
    space or a newline in it would let it forge the fields after it. MSG is the
    payload, byte for byte.
``octet_counted`` / ``octet_counted_chunks``
    RFC 6587 §3.4.1 framing for TCP and TLS (``LEN SP MSG``), and a batch of framed
    messages joined into a few bounded writes. Octet counting, not the LF-terminated
    "non-transparent" framing, because audit payloads may hold newlines: a counted
    frame carries them unchanged, an LF-terminated one would split the message.
``parse_syslog_url``
    ``syslog+udp://``, ``syslog+tcp://`` and ``syslog+tls://`` URLs to a
    :class:`SyslogTarget`, every mistake a :class:`ValueError` naming what is wrong.

Numbers come from the RFCs: the facility and severity codes (RFC 5424 §6.2.1, with
the names of ``syslog.h`` and rsyslog), the field lengths (RFC 5424 §6), the ports
(514 for UDP, RFC 5426 §3.3, and by custom for TCP; 6514 for TLS, RFC 5425 §4.1).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from .endpoints import (
    TLS_OPTION_NAMES,
    TlsOptions,
    canonical_url,
    query_options,
    split_endpoint_url,
)

__all__ = [
    "DEFAULT_FACILITY",
    "DEFAULT_PORTS",
    "DEFAULT_SEVERITY",
    "FACILITIES",
    "MAX_WRITE_SIZE",
    "RSYSLOG_DEFAULT_MAX_MESSAGE_SIZE",
    "SEVERITIES",
    "SyslogTarget",
    "Transport",
    "clean_header_field",
    "octet_counted",
    "octet_counted_chunks",
    "parse_syslog_url",
    "rfc5424_message",
    "rfc5424_timestamp",
]

#: Facility names to codes (RFC 5424 §6.2.1; the names are ``syslog.h``'s and
#: rsyslog's: 13 is "log audit", 14 "log alert", 15 the second clock daemon).
FACILITIES: Mapping[str, int] = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "security": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    "ntp": 12,
    "audit": 13,
    "alert": 14,
    "clock": 15,
    **{f"local{n}": 16 + n for n in range(8)},
}
#: Severity names to codes (RFC 5424 §6.2.1), with ``syslog.h``'s old aliases.
SEVERITIES: Mapping[str, int] = {
    "emerg": 0,
    "panic": 0,
    "alert": 1,
    "crit": 2,
    "err": 3,
    "error": 3,
    "warning": 4,
    "warn": 4,
    "notice": 5,
    "info": 6,
    "debug": 7,
}
#: authpriv: audit records are security data that should not land in world-readable logs.
DEFAULT_FACILITY = FACILITIES["authpriv"]
DEFAULT_SEVERITY = SEVERITIES["info"]

#: The ports when the URL gives none: 514 (RFC 5426 §3.3 for UDP; the customary port
#: for plain TCP, which has no IANA port of its own) and 6514 (RFC 5425 §4.1).
DEFAULT_PORTS: Mapping[str, int] = {"udp": 514, "tcp": 514, "tls": 6514}

#: rsyslog's real default ``maxMessageSize``: 8096 bytes (``iMaxLine`` in its
#: ``runtime/glbl.c``), although its documentation says "8k". A bigger UDP datagram
#: is cut by a default rsyslog anyway, so the sender cuts it itself and counts it.
RSYSLOG_DEFAULT_MAX_MESSAGE_SIZE = 8096
#: RFC 5426 §3.2: every IPv4 receiver MUST take 480 octets; below that nothing is sure.
_MIN_DATAGRAM_SIZE = 480
#: The largest UDP payload over IPv4 (65,535 - 20 - 8).
_MAX_DATAGRAM_SIZE = 65_507

#: The most bytes one stream write carries: big enough that a batch costs a few
#: system calls, small enough that a timeout on one write means "stalled", not "slow".
MAX_WRITE_SIZE = 256 * 1024

#: RFC 5424 §6 field lengths.
HOSTNAME_MAX = 255
APP_NAME_MAX = 48
PROCID_MAX = 128
MSGID_MAX = 32
_NILVALUE = "-"
_REPLACEMENT = "_"
_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")

Transport = Literal["udp", "tcp", "tls"]
_SCHEMES: Mapping[str, Transport] = {
    "syslog+udp": "udp",
    "syslog+tcp": "tcp",
    "syslog+tls": "tls",
}


# ---- messages -------------------------------------------------------------------


def clean_header_field(value: str, max_length: int, *, hostname: bool = False) -> str:
    """*value* made a valid RFC 5424 header field: ``1*max_length PRINTUSASCII``.

    Every character outside ``%d33-126`` (space, controls, DEL, non-ASCII) becomes
    ``_``, so the field stays one token and cannot forge the fields after it; then it
    is cut to *max_length*; an empty result is the NILVALUE ``-``. A *hostname* that
    is a valid internationalised domain name is written the way DNS spells it,
    punycode (``bücher.example`` -> ``xn--bcher-kva.example``), but only when that
    spelling decodes back to the same name: IDNA 2003 silently drops characters such
    as the zero-width space, and a field that says ``example.org`` for
    ``exa\\u200bmple.org`` would be a forgery of its own.
    """
    if hostname and not value.isascii():
        value = _idna_or_none(value) or value
    cleaned = _NOT_PRINTUSASCII.sub(_REPLACEMENT, value)[:max_length]
    return cleaned or _NILVALUE


def _idna_or_none(name: str) -> str | None:
    """*name* in punycode when it round-trips through IDNA unchanged, else ``None``."""
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in name):
        return None
    try:
        encoded = name.encode("idna")
        decoded = encoded.decode("idna")
    except UnicodeError:
        return None
    if decoded.lower() != name.lower():
        return None
    return encoded.decode("ascii")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def rfc5424_timestamp(timestamp: float) -> str:
    """*timestamp* (seconds since the epoch) as RFC 5424 §6.2.3 wants it, in UTC with
    microseconds: ``2026-11-26T17:35:36.840000Z``.

    Microseconds, the most TIME-SECFRAC allows, so that no precision the clock had is
    lost (audit stamps have milliseconds; the daemon's own stamps have more), and a
    fixed width so that the messages sort as text. The value is rounded to the
    nearest microsecond first (``0.84`` is ``0.83999…`` as a float). A time that has
    no such form (NaN, infinite, outside the years 1-9999) is the NILVALUE ``-``:
    the RFC's way to say "no time known", and the event is still worth delivering.
    """
    if not math.isfinite(timestamp):
        return _NILVALUE
    try:
        micros = round(timestamp * 1_000_000)
        moment = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return _NILVALUE
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )


def rfc5424_message(
    payload: bytes,
    *,
    timestamp: float,
    hostname: str,
    app_name: str = "trioaudit",
    procid: str = "-",
    msgid: str = "-",
    facility: int = DEFAULT_FACILITY,
    severity: int = DEFAULT_SEVERITY,
) -> bytes:
    """One RFC 5424 message: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG``.

    PRI is ``facility * 8 + severity`` (a :class:`ValueError` outside 0-23 and 0-7:
    that is a bug or a config error, not data). The header fields are cleaned by
    :func:`clean_header_field` (HOSTNAME 255, APP-NAME 48, PROCID 128, MSGID 32
    characters), the timestamp formatted by :func:`rfc5424_timestamp`. There is no
    structured data (``-``).

    MSG is *payload* exactly, without the UTF-8 BOM of RFC 5424 §6.4: the BOM
    promises that the rest is valid UTF-8, and an audit payload need not be (the
    raw format carries the kernel's bytes, and a process may put any bytes in its
    name or arguments); a receiver that trusted the promise could reject or mangle
    the message. Without a BOM, MSG is MSG-ANY: octets the receiver keeps as they
    are. Newlines in the payload are kept too -- octet counting frames them and a
    datagram is its own frame. An empty payload gives no MSG and no space before it.
    """
    if not 0 <= facility <= 23 or isinstance(facility, bool):
        raise ValueError(f"syslog facility must be 0-23, not {facility!r}")
    if not 0 <= severity <= 7 or isinstance(severity, bool):
        raise ValueError(f"syslog severity must be 0-7, not {severity!r}")
    header = " ".join(
        (
            f"<{facility * 8 + severity}>1",
            rfc5424_timestamp(timestamp),
            clean_header_field(hostname, HOSTNAME_MAX, hostname=True),
            clean_header_field(app_name, APP_NAME_MAX),
            clean_header_field(procid, PROCID_MAX),
            clean_header_field(msgid, MSGID_MAX),
            "-",
        )
    ).encode("ascii")
    if not payload:
        return header
    return header + b" " + payload


def octet_counted(message: bytes) -> bytes:
    """*message* framed for a stream (RFC 6587 §3.4.1): its length in decimal, a
    space, the message."""
    return b"%d %s" % (len(message), message)


def octet_counted_chunks(
    messages: Sequence[bytes], max_size: int = MAX_WRITE_SIZE
) -> Iterator[tuple[bytes, int]]:
    """The framed *messages* joined into writes of at most *max_size* bytes, each
    with the number of messages it holds: ``(chunk, count)``.

    A chunk holds whole frames only, so "the chunks written so far" is a count of
    whole messages -- what :class:`~trioaudit._daemon.senders.SendFailed` reports as
    ``delivered``. A frame bigger than *max_size* is a chunk of its own.
    """
    pending: list[bytes] = []
    size = 0
    for message in messages:
        frame = octet_counted(message)
        if pending and size + len(frame) > max_size:
            yield b"".join(pending), len(pending)
            pending, size = [], 0
        pending.append(frame)
        size += len(frame)
    if pending:
        yield b"".join(pending), len(pending)


# ---- targets --------------------------------------------------------------------


@dataclass(frozen=True)
class SyslogTarget:
    """Where a syslog output sends, and how; made by :func:`parse_syslog_url`.

    Attributes:
        transport: ``udp``, ``tcp`` or ``tls``.
        host: A DNS name, an IPv4 address or an IPv6 address (without brackets).
        port: 1-65535.
        facility, severity: The codes the output puts in PRI (``?facility=local3``,
            ``?severity=notice``; names or numbers).
        ca, cert, key, verify, server_name: TLS only; see
            :class:`~trioaudit._output.endpoints.TlsOptions` (:attr:`tls_options`).
        max_message_size: UDP: longer datagrams are cut to this many bytes and
            counted (RFC 5426 §3.2; default rsyslog's own limit, 8096).
    """

    transport: Transport
    host: str
    port: int
    facility: int = DEFAULT_FACILITY
    severity: int = DEFAULT_SEVERITY
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True
    server_name: str | None = None
    max_message_size: int = RSYSLOG_DEFAULT_MAX_MESSAGE_SIZE

    def __post_init__(self) -> None:
        """The ranges, also for a target built by hand rather than parsed."""
        if self.transport not in DEFAULT_PORTS:
            raise ValueError(f"transport must be udp, tcp or tls, not {self.transport!r}")
        if not self.host:
            raise ValueError("host: empty")
        for name, value, highest in (
            ("port", self.port, 65535),
            ("facility", self.facility, 23),
            ("severity", self.severity, 7),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name}: must be an integer, not {value!r}")
            if not (1 if name == "port" else 0) <= value <= highest:
                raise ValueError(f"{name}: {value} is out of range")
        if not _MIN_DATAGRAM_SIZE <= self.max_message_size <= _MAX_DATAGRAM_SIZE:
            raise ValueError(
                f"max_message_size must be {_MIN_DATAGRAM_SIZE}-{_MAX_DATAGRAM_SIZE} (RFC 5426;"
                f" the largest UDP payload), not {self.max_message_size}"
            )

    @property
    def url(self) -> str:
        """``syslog+tcp://host:port``: the target without its options, for logs and
        metrics labels (a key file's path is not a label)."""
        return canonical_url(f"syslog+{self.transport}", self.host, self.port)

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
    ) -> SyslogTarget:
        """This target with the TLS settings given by the config file (a ``None``
        keeps the URL's value; *verify* is always taken); :class:`ValueError` when
        the target is not TLS or the settings contradict each other."""
        options = self.tls_options.overridden(
            ca=ca, cert=cert, key=key, verify=verify, server_name=server_name
        )
        changed = replace(self, **asdict(options))
        changed._check_tls()
        return changed

    def _check_tls(self) -> None:
        self.tls_options.check(tls=self.transport == "tls", tls_scheme="syslog+tls", url=self.url)


_OPTIONS = ("facility", "severity", *TLS_OPTION_NAMES, "max_message_size")
_URL_DEFAULT_PORTS = {f"syslog+{transport}": port for transport, port in DEFAULT_PORTS.items()}


def _code(option: str, value: str, names: Mapping[str, int], highest: int) -> int:
    if value.lower() in names:
        return names[value.lower()]
    if value.isascii() and value.isdigit() and int(value) <= highest:
        return int(value)
    raise ValueError(f"{option}: {value!r} is not 0-{highest} or one of {', '.join(sorted(names))}")


def parse_syslog_url(url: str) -> SyslogTarget:
    """``syslog+udp://HOST[:PORT]``, ``syslog+tcp://…``, ``syslog+tls://…`` to a
    :class:`SyslogTarget`; a :class:`ValueError` names what is wrong.

    HOST is a DNS name, an IPv4 address or a bracketed IPv6 address
    (``[::1]:514``); PORT defaults to 514 (UDP, TCP) or 6514 (TLS). Options follow
    ``?`` as ``name=value`` pairs joined by ``&``: ``facility``, ``severity``, and for
    TLS ``ca``, ``cert``, ``key``, ``verify`` (``true``/``false``), ``server_name``;
    for UDP ``max_message_size``. Values are percent-decoded; ``+`` is a plus sign
    (file names may have one), not a space. Unknown or repeated options, a user
    name, a path or a fragment are errors, not ignored: a typo in a TLS setting
    must not silently mean "defaults". The rules shared with RELP URLs are
    :mod:`trioaudit._output.endpoints`'.
    """
    endpoint = split_endpoint_url(url, protocol="syslog", default_ports=_URL_DEFAULT_PORTS)
    transport = _SCHEMES[endpoint.scheme]
    options = query_options(url, endpoint.query, _OPTIONS) if endpoint.query else {}
    tls = TlsOptions.from_query(url, options)
    target = SyslogTarget(
        transport,
        endpoint.host,
        endpoint.port,
        facility=_url_code(url, options, "facility", FACILITIES, 23, DEFAULT_FACILITY),
        severity=_url_code(url, options, "severity", SEVERITIES, 7, DEFAULT_SEVERITY),
        max_message_size=_url_max_message_size(url, options, transport),
        **asdict(tls),
    )
    try:
        target._check_tls()
    except ValueError as error:
        raise ValueError(f"{url!r}: {error}") from None
    return target


def _url_code(
    url: str,
    options: Mapping[str, str],
    option: str,
    names: Mapping[str, int],
    highest: int,
    default: int,
) -> int:
    if option not in options:
        return default
    try:
        return _code(option, options[option], names, highest)
    except ValueError as error:
        raise ValueError(f"{url!r}: {error}") from None


def _url_max_message_size(url: str, options: Mapping[str, str], transport: Transport) -> int:
    if "max_message_size" not in options:
        return RSYSLOG_DEFAULT_MAX_MESSAGE_SIZE
    if transport != "udp":
        raise ValueError(f"{url!r}: max_message_size is only for syslog+udp://")
    value = options["max_message_size"]
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"{url!r}: max_message_size {value!r} is not a number")
    size = int(value)
    if not _MIN_DATAGRAM_SIZE <= size <= _MAX_DATAGRAM_SIZE:
        raise ValueError(
            f"{url!r}: max_message_size must be {_MIN_DATAGRAM_SIZE}-"
            f"{_MAX_DATAGRAM_SIZE} (RFC 5426; the largest UDP payload), not {size}"
        )
    return size
