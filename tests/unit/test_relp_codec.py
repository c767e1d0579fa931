"""Pure tests of the RELP codec and client session (trioaudit._output.relp), byte for
byte, and of the RELP URL parser (trioaudit._output.relp.parse_relp_url).

The expected bytes are what librelp 1.11 (rsyslog's imrelp on Debian 12) really
sends and accepts, captured from a live ``imrelp``: the ``open`` answer, ``200 OK``
acknowledgements, the empty answer to ``close`` and the ``serverclose`` hint.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from trioaudit._daemon.relp import DEFAULT_PORT, RelpSender, RelpTarget, parse_relp_url
from trioaudit._output import relp
from trioaudit._output.relp import (
    MAX_TXNR,
    Acked,
    Closed,
    Frame,
    FrameDecoder,
    Opened,
    Refused,
    RelpClientSession,
    RelpProtocolError,
    RelpUsageError,
    ServerClose,
    SessionState,
    encode_frame,
    encode_offers,
    next_txnr,
    parse_offers,
    parse_response,
)

LIBRELP_OFFERS = (
    b"relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog"
)
#: imrelp's answer to ``open``, as captured.
LIBRELP_OPEN_ANSWER = b"1 rsp 93 200 OK\n" + LIBRELP_OFFERS + b"\n"
OUR_OPEN = b"1 open 60 relp_version=0\nrelp_software=trioaudit,0.1.0\ncommands=syslog\n"


def decode_all(data: bytes, max_data_size: int = relp.DEFAULT_MAX_DATA_SIZE) -> list[Frame]:
    decoder = FrameDecoder(max_data_size=max_data_size)
    decoder.feed(data)
    frames = []
    while (frame := decoder.next_frame()) is not None:
        frames.append(frame)
    assert decoder.buffered == 0, "bytes left over after the last frame"
    return frames


def state_of(session: RelpClientSession) -> SessionState:
    """The session's state, through a call (mypy would narrow the property)."""
    return session.state


def opened_session(answer: bytes = LIBRELP_OPEN_ANSWER) -> RelpClientSession:
    session = RelpClientSession()
    session.open()
    events = session.receive(answer)
    assert [type(event) for event in events] == [Opened]
    return session


# ---- encoding -------------------------------------------------------------------------


def test_encode_frames_byte_for_byte() -> None:
    assert encode_frame(2, "syslog", b"hello") == b"2 syslog 5 hello\n"
    # DATALEN 0 omits "SP DATA": librelp writes and expects exactly this.
    assert encode_frame(4, "close") == b"4 close 0\n"
    assert encode_frame(0, "serverclose", b"") == b"0 serverclose 0\n"
    assert encode_frame(7, "syslog", b"a\nb\xff\x00") == b"7 syslog 5 a\nb\xff\x00\n"
    assert encode_frame(MAX_TXNR, "rsp", b"200 OK") == b"999999999 rsp 6 200 OK\n"
    assert encode_frame(1, "A" * 32) == b"1 " + b"A" * 32 + b" 0\n"


def test_session_open_frame_byte_for_byte() -> None:
    assert RelpClientSession().open() == OUR_OPEN
    custom = RelpClientSession(software="trioaudit,9.9,https://example.invalid/x")
    data = b"relp_version=0\nrelp_software=trioaudit,9.9,https://example.invalid/x\ncommands=syslog"
    assert custom.open() == b"1 open %d %s\n" % (len(data), data)


@pytest.mark.parametrize(
    ("txnr", "command", "data", "complaint"),
    [
        (-1, "syslog", b"", "TXNR must be"),
        (MAX_TXNR + 1, "syslog", b"", "TXNR must be"),
        (1, "", b"", "1 to 32 ASCII letters"),
        (1, "a" * 33, b"", "1 to 32 ASCII letters"),
        (1, "sys log", b"", "1 to 32 ASCII letters"),
        (1, "rsp1", b"", "1 to 32 ASCII letters"),
        (1, "s\u00fcslog", b"", "1 to 32 ASCII letters"),
    ],
)
def test_encode_frame_refuses_what_relp_cannot_carry(
    txnr: int, command: str, data: bytes, complaint: str
) -> None:
    with pytest.raises(RelpUsageError, match=complaint):
        encode_frame(txnr, command, data)


def test_encode_offers() -> None:
    offers = {"relp_version": ("0",), "commands": ("syslog", "eventlog"), "empty": ()}
    assert encode_offers(offers) == b"relp_version=0\ncommands=syslog,eventlog\nempty="
    for bad in ({"a\nb": ("1",)}, {"a": ("x,y",)}, {"a": ("",)}, {"a=": ("1",)}, {"n" * 33: ()}):
        with pytest.raises(RelpUsageError):
            encode_offers(bad)


# ---- decoding -------------------------------------------------------------------------

#: What imrelp sends over a whole session: the open answer, two acknowledgements,
#: a refusal, the close answer, the serverclose hint.
LIBRELP_SESSION = (
    LIBRELP_OPEN_ANSWER
    + b"2 rsp 6 200 OK\n3 rsp 6 200 OK\n4 rsp 20 500 command disabled\n5 rsp 0\n0 serverclose 0\n"
)
LIBRELP_FRAMES = [
    Frame(1, "rsp", b"200 OK\n" + LIBRELP_OFFERS),
    Frame(2, "rsp", b"200 OK"),
    Frame(3, "rsp", b"200 OK"),
    Frame(4, "rsp", b"500 command disabled"),
    Frame(5, "rsp", b""),
    Frame(0, "serverclose", b""),
]


def test_decode_librelp_bytes() -> None:
    assert decode_all(LIBRELP_SESSION) == LIBRELP_FRAMES


def test_decode_split_at_every_offset() -> None:
    for offset in range(len(LIBRELP_SESSION) + 1):
        decoder = FrameDecoder()
        frames = []
        for part in (LIBRELP_SESSION[:offset], LIBRELP_SESSION[offset:]):
            decoder.feed(part)
            while (frame := decoder.next_frame()) is not None:
                frames.append(frame)
        assert frames == LIBRELP_FRAMES, offset
        assert decoder.buffered == 0


def test_decode_byte_by_byte() -> None:
    # Each frame comes out as soon as its trailer is in, not later.
    decoder = FrameDecoder()
    frames = []
    for byte in LIBRELP_SESSION:
        decoder.feed(bytes([byte]))
        frame = decoder.next_frame()
        if frame is not None:
            frames.append(frame)
            assert byte == 0x0A
    assert frames == LIBRELP_FRAMES


def test_decode_takes_what_the_grammar_allows() -> None:
    # NUMBER is 1*9DIGIT: librelp takes leading zeros; data may hold LF and any byte.
    assert decode_all(b"007 rsp 006 200 OK\n") == [Frame(7, "rsp", b"200 OK")]
    assert decode_all(b"1 syslog 3 \n\n\n\n") == [Frame(1, "syslog", b"\n\n\n")]
    assert decode_all(b"999999999 rsp 0\n") == [Frame(MAX_TXNR, "rsp")]
    assert decode_all(b"1 rsp 4 abcd\n", max_data_size=4) == [Frame(1, "rsp", b"abcd")]


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (b"x", "TXNR must be 1 to 9 digits, got b'x'"),
        (b" 1 rsp 0\n", "TXNR must be 1 to 9 digits"),
        (b"-1 rsp 0\n", "TXNR must be 1 to 9 digits"),
        (b"1234567890", "TXNR has more than 9 digits"),
        (b"12a rsp 0\n", "TXNR ends in b'a', not SP"),
        (b"1  rsp 0\n", "command must be 1 to 32 letters then SP, got b' '"),
        (b"1 rs2 0\n", "command must be 1 to 32 letters then SP, got b'2'"),
        (b"1 rsp\n", "command must be 1 to 32 letters then SP, got b'\\n'"),
        (b"1 " + b"a" * 33, "command is longer than 32 letters"),
        (b"1 rsp \n", "DATALEN must be 1 to 9 digits"),
        (b"1 rsp x\n", "DATALEN must be 1 to 9 digits"),
        (b"1 rsp 1234567890", "DATALEN has more than 9 digits"),
        (b"1 rsp 0 \n", "DATALEN 0 must be followed by the LF trailer"),
        (b"1 rsp 00 x\n", "DATALEN 0 must be followed by the LF trailer"),
        (b"1 rsp 3\nabc\n", "DATALEN 3 must be followed by SP and data"),
        (b"1 rsp 3 abcX", "missing trailer: byte b'X' after 3 data bytes is not LF"),
        (b"1 rsp 3 abcd\n", "missing trailer"),
        (b"1 rsp 2 abc\n", "missing trailer"),
    ],
)
def test_hostile_frames_fail_clearly(data: bytes, complaint: str) -> None:
    decoder = FrameDecoder()
    decoder.feed(data)
    with pytest.raises(RelpProtocolError, match="RELP framing error: " + re.escape(complaint)):
        decoder.next_frame()
    # The error is sticky: the stream cannot be resynchronised.
    with pytest.raises(RelpProtocolError):
        decoder.next_frame()
    with pytest.raises(RelpProtocolError):
        decoder.feed(b"1 rsp 0\n")


def test_huge_datalen_is_refused_before_its_data() -> None:
    decoder = FrameDecoder(max_data_size=1000)
    decoder.feed(b"1 rsp 100")  # could still become a valid 100..999 or 1000
    assert decoder.next_frame() is None
    decoder.feed(b"1")  # 1001: over the bound, and more digits only make it larger
    with pytest.raises(RelpProtocolError, match=r"DATALEN 1001\.\.\. exceeds the maximum of 1000"):
        decoder.next_frame()
    default = FrameDecoder()
    default.feed(b"1 rsp 999999999 ")
    with pytest.raises(RelpProtocolError, match="exceeds the maximum of 131072"):
        default.next_frame()
    assert default.max_frame_size == 53 + 131072 + 1


def test_decoder_holds_at_most_one_incomplete_frame() -> None:
    decoder = FrameDecoder(max_data_size=10)
    decoder.feed(b"1 rsp 10 0123456789")
    assert decoder.next_frame() is None
    assert decoder.buffered == len(b"1 rsp 10 0123456789") <= decoder.max_frame_size
    decoder.feed(b"\n2 rsp 0\n3")
    assert decoder.next_frame() == Frame(1, "rsp", b"0123456789")
    assert decoder.next_frame() == Frame(2, "rsp")
    assert decoder.next_frame() is None
    assert decoder.buffered == 1


def test_decoder_bound_is_validated() -> None:
    with pytest.raises(RelpUsageError):
        FrameDecoder(max_data_size=-1)
    with pytest.raises(RelpUsageError):
        FrameDecoder(max_data_size=10**9)


# ---- responses and offers --------------------------------------------------------------


def test_parse_response() -> None:
    assert parse_response(b"200 OK") == (200, "OK", b"")
    assert parse_response(b"500 command disabled") == (500, "command disabled", b"")
    assert parse_response(b"200 OK\n" + LIBRELP_OFFERS) == (200, "OK", LIBRELP_OFFERS)
    assert parse_response(b"200") == (200, "", b"")
    assert parse_response(b"200\nbody") == (200, "", b"body")
    assert parse_response(b"500 \xff") == (500, "\ufffd", b"")
    for bad in (b"", b"20", b"20x OK", b"200OK", b"OK 200"):
        with pytest.raises(RelpProtocolError, match="RELP response"):
            parse_response(bad)


def test_parse_offers() -> None:
    assert dict(parse_offers(LIBRELP_OFFERS)) == {
        "relp_version": ("0",),
        "relp_software": ("librelp", "1.11.0", "http://librelp.adiscon.com"),
        "commands": ("syslog",),
    }
    # Empty lines and empty values are skipped, as librelp does; no "=" is no value.
    assert dict(parse_offers(b"\ncommands=,syslog,\n\nflag\n")) == {
        "commands": ("syslog",),
        "flag": (),
    }
    for bad in (b"n" * 33 + b"=1", b"a=" + b"v" * 256, b"a=" + b",".join([b"v"] * 65)):
        with pytest.raises(RelpProtocolError, match="RELP offer"):
            parse_offers(bad)


# ---- the session -----------------------------------------------------------------------


def test_session_against_librelp_bytes() -> None:
    session = RelpClientSession()
    assert state_of(session) is SessionState.IDLE
    assert session.open() == OUR_OPEN
    assert state_of(session) is SessionState.OPENING
    with pytest.raises(RelpUsageError, match="send_syslog\\(\\) in state opening"):
        session.send_syslog(b"too early")
    [opened] = session.receive(LIBRELP_OPEN_ANSWER)
    assert isinstance(opened, Opened)
    assert opened.offers["relp_software"] == ("librelp", "1.11.0", "http://librelp.adiscon.com")
    assert state_of(session) is SessionState.OPEN and session.server_offers_syslog
    assert session.send_syslog(b"hello") == (2, b"2 syslog 5 hello\n")
    assert session.send_syslog(b"") == (3, b"3 syslog 0\n")
    assert session.send_syslog(b"x") == (4, b"4 syslog 1 x\n")
    assert list(session.unacked) == [2, 3, 4] and session.unacked_count == 3
    assert session.receive(b"2 rsp 6 200 OK\n3 rsp 6 200 O") == [Acked(2)]
    assert list(session.unacked) == [3, 4]
    assert session.receive(b"K\n4 rsp 20 500 command disabled\n") == [
        Acked(3),
        Refused(4, 500, "command disabled"),
    ]
    assert list(session.unacked) == []
    assert session.close() == b"5 close 0\n"
    assert state_of(session) is SessionState.CLOSING
    with pytest.raises(RelpUsageError):
        session.send_syslog(b"after close")
    assert session.receive(b"5 rsp 0\n0 serverclose 0\n") == [Closed(), ServerClose()]
    assert state_of(session) is SessionState.CLOSED


def test_acks_out_of_order_are_taken() -> None:
    session = opened_session()
    for message in (b"a", b"b", b"c", b"d"):
        session.send_syslog(message)
    assert session.receive(b"3 rsp 6 200 OK\n5 rsp 6 200 OK\n") == [Acked(3), Acked(5)]
    assert list(session.unacked) == [2, 4]
    assert session.receive(b"2 rsp 6 200 OK\n") == [Acked(2)]
    assert list(session.unacked) == [4]


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        (b"9 rsp 6 200 OK\n", "answer for TXNR 9, which is not outstanding"),
        (b"1 rsp 6 200 OK\n", "answer for TXNR 1, which is not outstanding"),  # open's, again
        (b"0 rsp 6 200 OK\n", "answer for TXNR 0"),
        (b"2 syslog 5 hello\n", "server sent command 'syslog'"),
        (b"2 open 0\n", "server sent command 'open'"),
        (b"0 frobnicate 0\n", "server sent command 'frobnicate'"),
        (b"3 serverclose 0\n", "serverclose hint with TXNR 3, not 0"),
        (b"2 rsp 2 OK\n", "3-digit status"),
        (b"2 rsp 0\n", "3-digit status"),
        (b"2 rsp 1 200 OK\n", "missing trailer"),
    ],
)
def test_session_refuses_a_broken_conversation(answer: bytes, complaint: str) -> None:
    session = opened_session()
    session.send_syslog(b"a")
    with pytest.raises(RelpProtocolError, match=re.escape(complaint)):
        session.receive(answer)
    assert session.state is SessionState.BROKEN
    with pytest.raises(RelpProtocolError, match="broken"):
        session.receive(b"2 rsp 6 200 OK\n")


def test_events_before_a_protocol_error_are_kept() -> None:
    session = opened_session()
    session.send_syslog(b"a")
    session.send_syslog(b"b")
    with pytest.raises(RelpProtocolError, match="framing error") as error:
        session.receive(b"2 rsp 6 200 OK\n3 rsp 6 200 OK\ngarbage\n")
    assert list(error.value.events) == [Acked(2), Acked(3)]
    assert FrameDecoder().max_frame_size > 0 and RelpProtocolError("x").events == ()


def test_duplicate_ack_is_a_protocol_error() -> None:
    session = opened_session()
    session.send_syslog(b"a")
    assert session.receive(b"2 rsp 6 200 OK\n") == [Acked(2)]
    with pytest.raises(RelpProtocolError, match="not outstanding \\(outstanding: none\\)"):
        session.receive(b"2 rsp 6 200 OK\n")


def test_ack_before_the_open_answer_is_a_protocol_error() -> None:
    session = RelpClientSession()
    session.open()
    with pytest.raises(RelpProtocolError, match="TXNR 2, which is not outstanding"):
        session.receive(b"2 rsp 6 200 OK\n")


def test_open_refused() -> None:
    session = RelpClientSession()
    session.open()
    assert session.receive(b"1 rsp 26 500 error 10003 on connect\n") == [
        Refused(1, 500, "error 10003 on connect")
    ]
    assert session.state is SessionState.CLOSED
    with pytest.raises(RelpUsageError):
        session.send_syslog(b"x")


@pytest.mark.parametrize(
    ("offers", "complaint"),
    [
        (b"commands=syslog", "without a numeric relp_version"),
        (b"relp_version=zero\ncommands=syslog", "without a numeric relp_version"),
        (b"relp_version=0,1\ncommands=syslog", "without a numeric relp_version"),
        (b"relp_version=1\ncommands=syslog", "speaks relp_version 1, newer than 0"),
    ],
)
def test_open_answer_must_carry_a_version_we_speak(offers: bytes, complaint: str) -> None:
    session = RelpClientSession()
    session.open()
    with pytest.raises(RelpProtocolError, match=complaint):
        session.receive(encode_frame(1, "rsp", b"200 OK\n" + offers))


def test_server_without_syslog_forbids_sending() -> None:
    session = opened_session(encode_frame(1, "rsp", b"200 OK\nrelp_version=0\ncommands="))
    assert not session.server_offers_syslog
    with pytest.raises(RelpUsageError, match="did not offer the syslog command"):
        session.send_syslog(b"x")


def test_serverclose_ends_the_session() -> None:
    session = opened_session()
    session.send_syslog(b"a")
    assert session.receive(b"0 serverclose 0\n") == [ServerClose()]
    assert session.state is SessionState.CLOSED
    assert list(session.unacked) == [2]
    with pytest.raises(RelpUsageError):
        session.send_syslog(b"b")


def test_usage_errors() -> None:
    session = RelpClientSession()
    with pytest.raises(RelpUsageError, match="close\\(\\) in state idle"):
        session.close()
    session.open()
    with pytest.raises(RelpUsageError, match="open\\(\\) in state opening"):
        session.open()
    for bad in (0, MAX_TXNR + 1):
        with pytest.raises(RelpUsageError, match="first_txnr"):
            RelpClientSession(first_txnr=bad)


# ---- transaction numbers wrap ---------------------------------------------------------


def test_next_txnr_wraps_to_one() -> None:
    assert next_txnr(1) == 2
    assert next_txnr(MAX_TXNR - 1) == MAX_TXNR
    assert next_txnr(MAX_TXNR) == 1  # never 0, the hint number


def test_session_wraps_around() -> None:
    session = RelpClientSession(first_txnr=MAX_TXNR - 1)
    assert session.open().startswith(b"999999998 open ")
    session.receive(encode_frame(MAX_TXNR - 1, "rsp", b"200 OK\n" + LIBRELP_OFFERS))
    assert session.send_syslog(b"a") == (MAX_TXNR, b"999999999 syslog 1 a\n")
    assert session.send_syslog(b"b") == (1, b"1 syslog 1 b\n")
    assert session.send_syslog(b"c") == (2, b"2 syslog 1 c\n")
    assert list(session.unacked) == [MAX_TXNR, 1, 2]  # in the order sent, not numeric order
    assert session.receive(b"999999999 rsp 6 200 OK\n1 rsp 6 200 OK\n") == [
        Acked(MAX_TXNR),
        Acked(1),
    ]
    assert list(session.unacked) == [2]


def test_wrap_never_reuses_an_outstanding_txnr(monkeypatch: pytest.MonkeyPatch) -> None:
    # A billion messages in flight cannot be tested; a 3-number space can.
    monkeypatch.setattr(relp, "MAX_TXNR", 3)
    session = opened_session()
    assert [session.send_syslog(m)[0] for m in (b"a", b"b", b"c")] == [2, 3, 1]
    with pytest.raises(RelpUsageError, match="TXNR 2 is still unacknowledged"):
        session.send_syslog(b"d")
    session.receive(b"2 rsp 6 200 OK\n")
    assert session.send_syslog(b"d")[0] == 2


# ---- properties ------------------------------------------------------------------------

_COMMANDS = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=32)
_FRAMES = st.builds(
    Frame,
    txnr=st.integers(0, MAX_TXNR),
    command=_COMMANDS,
    data=st.binary(max_size=300),
)


@given(frames=st.lists(_FRAMES, max_size=8), cuts=st.lists(st.integers(0, 4000), max_size=6))
@settings(max_examples=300)
def test_encode_then_decode_round_trips(frames: list[Frame], cuts: list[int]) -> None:
    wire = b"".join(encode_frame(f.txnr, f.command, f.data) for f in frames)
    decoder = FrameDecoder(max_data_size=300)
    decoded = []
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(wire)), len(wire)]:
        decoder.feed(wire[start:cut])
        start = cut
        while (frame := decoder.next_frame()) is not None:
            decoded.append(frame)
    assert decoded == frames
    assert decoder.buffered == 0


_NOISE = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([b"1 rsp ", b"12 syslog 4", b" ", b"\n", b"0", b"99999999", b"200 OK\n"]),
    _FRAMES.map(lambda f: encode_frame(f.txnr, f.command, f.data)),
)


@given(chunks=st.lists(_NOISE, max_size=30))
@settings(max_examples=500)
@example(chunks=[b"1 rsp 6", b"4 ", b"x" * 70])
@example(chunks=[b"1 rsp 64 ", b"x" * 64])
def test_random_bytes_never_crash_nor_overfill_the_decoder(chunks: list[bytes]) -> None:
    decoder = FrameDecoder(max_data_size=64)
    for chunk in chunks:
        try:
            decoder.feed(chunk)
            while decoder.next_frame() is not None:
                pass
        except RelpProtocolError:
            return
        assert decoder.buffered < decoder.max_frame_size


@given(chunks=st.lists(_NOISE, max_size=30))
@settings(max_examples=300)
def test_random_bytes_never_crash_the_session(chunks: list[bytes]) -> None:
    session = RelpClientSession()
    session.open()
    for chunk in chunks:
        try:
            events = session.receive(chunk)
        except RelpProtocolError:
            assert session.state is SessionState.BROKEN
            return
        for event in events:
            if isinstance(event, Opened) and session.server_offers_syslog:
                session.send_syslog(b"x")


# ---- URLs ------------------------------------------------------------------------------


def test_parse_relp_urls() -> None:
    assert parse_relp_url("relp://logs.example.net") == RelpTarget("logs.example.net", 20514)
    assert DEFAULT_PORT == 20514
    # The sans-IO module owns them; the daemon's re-exports are the same objects.
    assert (relp.RelpTarget, relp.parse_relp_url) == (RelpTarget, parse_relp_url)
    assert parse_relp_url("RELP://Logs.Example.NET:2514/") == RelpTarget("logs.example.net", 2514)
    assert parse_relp_url("relp://[::1]:2514") == RelpTarget("::1", 2514)
    assert parse_relp_url("relp://[::1]").url == "relp://[::1]:20514"
    target = parse_relp_url(
        "relp+tls://10.0.0.1:6514?ca=/etc/ssl/a%20ca+1.pem&cert=/c.pem&key=/k.pem"
        "&verify=yes&server_name=logs.example.net"
    )
    assert target == RelpTarget(
        "10.0.0.1", 6514, True, "/etc/ssl/a ca+1.pem", "/c.pem", "/k.pem", True, "logs.example.net"
    )
    assert target.url == "relp+tls://10.0.0.1:6514"
    assert parse_relp_url("relp+tls://h?verify=off").verify is False
    # The rules shared with syslog URLs (trioaudit._output.endpoints): an IPv6 zone.
    assert parse_relp_url("relp://[fe80::1%25eth0]:2514").host == "fe80::1%eth0"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("", "empty"),
        ("relp://", "no host"),
        ("relp:host:514", "no host"),
        ("syslog+tcp://h:514", "scheme must be relp:// or relp\\+tls://"),
        ("relp://h:0", "port 0 is not 1-65535"),
        ("relp://h:65536", "port 65536 is not 1-65535"),
        ("relp://h:x", "port 'x' is not a number"),
        ("relp://::1:514", "IPv6 address must be in brackets"),
        ("relp://[::g]:514", "is not an IPv6 address|does not appear to be an IPv4 or IPv6"),
        ("relp://[::1", "Invalid IPv6 URL"),
        ("relp://user@h", "user name or password"),
        ("relp://h/path", "a path"),
        ("relp://h#frag", "a fragment"),
        ("relp://h b", "spaces or control characters"),
        ("relp://h_-.-x", "is not a host name"),
        ("relp://1.2.3.256", "is not a host name or address"),
        ("relp+tls://h?", "option '' has no value"),
        ("relp://h?ca=/x", "options .* are only for relp\\+tls://"),
        ("relp+tls://h?cipher=x", "unknown option 'cipher' \\(known: ca, cert, key"),
        ("relp+tls://h?ca=/a&ca=/b", "option 'ca' given twice"),
        ("relp+tls://h?ca", "option 'ca' has no value"),
        ("relp+tls://h?verify=maybe", "verify must be true or false"),
        ("relp+tls://h?key=/k.pem", "key: given without cert"),
        ("relp+tls://h?ca=", "ca: empty"),
        ("relp+tls://h?server_name=a%20b", "server_name: 'a b' is not a host name"),
        ("relp+tls://h?ca=%ff", "not UTF-8"),
    ],
)
def test_bad_relp_urls_say_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_relp_url(url)


def test_tls_options_from_elsewhere() -> None:
    target = parse_relp_url("relp+tls://h?ca=/url-ca.pem")
    assert target.with_tls_options(cert="/c.pem").ca == "/url-ca.pem"
    assert target.with_tls_options(ca="/other.pem", verify=False).verify is False
    with pytest.raises(ValueError, match="only for relp\\+tls://"):
        parse_relp_url("relp://h").with_tls_options(ca="/x.pem")
    with pytest.raises(ValueError, match="only for relp\\+tls://"):
        parse_relp_url("relp://h").with_tls_options(verify=False)


def test_sender_arguments_are_checked() -> None:
    for window in (0, 10**6 + 1, True):
        with pytest.raises(ValueError, match="window must be an integer 1-1000000"):
            RelpSender("relp://h", window=window)
    with pytest.raises(ValueError, match="ack_timeout must be positive"):
        RelpSender("relp://h", ack_timeout=0)
    with pytest.raises(ValueError, match="only for relp\\+tls://"):
        RelpSender("relp://h", ca="/x.pem")
    with pytest.raises(ValueError, match="cannot load the TLS files: ca: cannot load /nonexistent"):
        RelpSender("relp+tls://h", ca="/nonexistent/ca.pem")
    sender = RelpSender(RelpTarget("h", 1), window=3)
    assert sender.url == "relp://h:1" and sender.window == 3
