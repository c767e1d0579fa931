"""``--format text`` is ``ausearch -i``, line for line (issue #14, point 7).

Every expected line below is what ``ausearch -i -if`` (audit 3.0.9, ``TZ=UTC``)
printed for the record above it; the records are written for these tests, one
per class of text that ausearch keeps and a token-based renderer loses (free
words, punctuation, double spaces, the old header without ``:``, commas,
several keys, TTY data, names by number). The differential test against
ausearch itself runs on the real logs (tests/peer).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.synthetic import corpus_line_sets
from trioaudit import parse_log
from trioaudit._output import formats as _formats
from trioaudit._output.formats import render_event
from trioaudit._records import interpret as _interpret
from trioaudit._records.interpret import Interpreter, StaticSystemDatabase
from trioaudit._records.model import AuditEvent
from trioaudit._records.parse import parse_kernel_record, parse_log_line


@pytest.fixture(autouse=True)
def utc_and_no_local_users(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ausearch was run with TZ=UTC; user names must not depend on this machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(_interpret, "_default", Interpreter(StaticSystemDatabase()))
    yield
    monkeypatch.undo()
    time.tzset()


def text_of(*lines: str) -> list[str]:
    (event,) = list(parse_log(lines))
    return render_event(event, "text").split("\n")


#: (record, what ausearch -i prints after the "----" line)
AUSEARCH = [
    pytest.param(
        'type=AVC msg=audit(1700000000.100:1): avc:  denied  { read write } for  pid=42 comm="cat"'
        ' name="f" dev="sda1" ino=7 scontext=u:r:t:s0 tcontext=u:object_r:f_t:s0 tclass=file'
        " permissive=0",
        [
            "type=AVC msg=audit(11/14/23 22:13:20.100:1) : avc:  denied  { read write } for  pid=42"
            ' comm=cat name=f dev="sda1" ino=7 scontext=u:r:t:s0 tcontext=u:object_r:f_t:s0'
            " tclass=file permissive=0 "
        ],
        id="avc-free-text",
    ),
    pytest.param(
        "type=USER_START msg=audit(1700000010.100:2): user pid=8 uid=0 auid=4294967295 msg='PAM:"
        ' session open acct="root" : exe="/usr/sbin/crond" (hostname=?, addr=?, terminal=cron'
        " res=success)'",
        [
            "type=USER_START msg=audit(11/14/23 22:13:30.100:2) : user pid=8 uid=root auid=unset"
            " msg='PAM: session open acct=root : exe=/usr/sbin/crond (hostname=?, addr=?  "
            "terminal=cron res=success)' "
        ],
        id="pam-parentheses-and-commas",
    ),
    pytest.param(
        "type=LOGIN msg=audit(1700000020.100:3): login pid=6513 uid=0 old auid=4294967295 new"
        " auid=0 old ses=4294967295 new ses=3",
        [
            "type=LOGIN msg=audit(11/14/23 22:13:40.100:3) : login pid=6513 uid=root old auid=unset"
            " new auid=root old ses=unset new ses=3 "
        ],
        id="old-login-old-new",
    ),
    pytest.param(
        "type=MAC_POLICY_LOAD msg=audit(1700000030.100:4): policy loaded auid=0 ses=1",
        [
            "type=MAC_POLICY_LOAD msg=audit(11/14/23 22:13:50.100:4) : policy loaded auid=root"
            " ses=1 "
        ],
        id="policy-loaded",
    ),
    pytest.param(
        "type=MAC_UNLBL_ALLOW msg=audit(1700000040.100:5): netlabel: auid=0 ses=1 unlbl_accept=1"
        " old=0",
        [
            "type=MAC_UNLBL_ALLOW msg=audit(11/14/23 22:14:00.100:5) : netlabel: auid=root ses=1"
            " unlbl_accept=1 old=0 "
        ],
        id="netlabel",
    ),
    pytest.param(
        "type=ANOM_ABEND msg=audit(1700000050.100:6): auid=0 uid=0 gid=0 ses=1"
        ' subj==/usr/sbin/ntpd (enforce) pid=7 comm="ntpd" reason="memory violation" sig=11',
        [
            "type=ANOM_ABEND msg=audit(11/14/23 22:14:10.100:6) : auid=root uid=root gid=root ses=1"
            ' subj==/usr/sbin/ntpd (enforce) pid=7 comm=ntpd reason="memory violation" sig=SIGSEGV '
        ],
        id="enforce-and-quoted-space",
    ),
    pytest.param(
        "type=USER_AVC msg=audit(1700000060.100:7): pid=1 uid=0 auid=4294967295 ses=4294967295"
        " msg='avc:  received policyload notice (seqno=2)  exe=2F7573722F62696E2F64627573 sauid=0"
        " hostname=? addr=? terminal=?'",
        [
            "type=USER_AVC msg=audit(11/14/23 22:14:20.100:7) : pid=1 uid=root auid=unset ses=unset"
            " msg='avc:  received policyload notice (seqno=2)  exe=/usr/bin/dbus sauid=root"
            " hostname=? addr=? terminal=?' "
        ],
        id="user-avc-policyload",
    ),
    pytest.param(
        "type=DAEMON_START msg=audit(1700000070.100:8): auditd start, ver=2.8.5 format=raw"
        " kernel=3.10 auid=0 pid=21 uid=0 ses=1 res=success",
        [
            "type=DAEMON_START msg=audit(11/14/23 22:14:30.100:8) : auditd start, ver=2.8.5"
            " format=raw kernel=3.10 auid=root pid=21 uid=root ses=1 res=success "
        ],
        id="daemon-start-words",
    ),
    pytest.param(
        "type=CONFIG_CHANGE msg=audit(1700000080.100:9)  config changed, auid=0 ses=1 res=1",
        [
            "type=CONFIG_CHANGE msg=audit(11/14/23 22:14:40.100:9)   config changed, auid=root"
            " ses=1 res=yes "
        ],
        id="old-header-without-colon",
    ),
    pytest.param(
        "type=USER_ACCT msg=audit(1700000090.100:10): pid=3 uid=0 auid=0 ses=1 "
        ' msg=\'op=PAM:accounting acct="root" exe="/usr/bin/su" res=success\'',
        [
            "type=USER_ACCT msg=audit(11/14/23 22:14:50.100:10) : pid=3 uid=root auid=root ses=1 "
            ' msg=\'op=PAM:accounting acct="root" exe="/usr/bin/su" res=success\' '
        ],
        id="double-space-before-msg",
    ),
    pytest.param(
        "type=CONFIG_CHANGE msg=audit(1700000100.100:11): op=set audit_backlog_limit=8192 old=64"
        " auid=0 ses=1 subj= res=1",
        [
            "type=CONFIG_CHANGE msg=audit(11/14/23 22:15:00.100:11) : op=set"
            " audit_backlog_limit=8192 old=64 auid=root ses=1 subj= res=yes "
        ],
        id="empty-value",
    ),
    pytest.param(
        "type=SYSCALL msg=audit(1700000110.100:12): arch=c000003e syscall=59 success=yes exit=0"
        ' a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=2 auid=0 uid=0 comm="ls" key=6B310162',
        [
            "type=SYSCALL msg=audit(11/14/23 22:15:10.100:12) : arch=x86_64 syscall=execve"
            " success=yes exit=0 a0=0x1 a1=0x2 a2=0x3 a3=0x4 items=0 ppid=1 pid=2 auid=root"
            " uid=root comm=ls key=k1 key=b "
        ],
        id="several-keys",
    ),
    pytest.param(
        "type=CONFIG_CHANGE msg=audit(1700000120.100:13): a=1 uid=0,1 x",
        ["type=CONFIG_CHANGE msg=audit(11/14/23 22:15:20.100:13) : a=1 uid=root 1 x", ""],
        id="comma-ends-a-classified-value",
    ),
    pytest.param(
        "type=CONFIG_CHANGE msg=audit(1700000130.100:14): just words",
        ["type=CONFIG_CHANGE msg=audit(11/14/23 22:15:30.100:14) : just words", ""],
        id="no-field-at-all",
    ),
    pytest.param(
        "type=TTY msg=audit(1700000140.100:15): tty pid=9 uid=0 auid=0 ses=1 major=136 minor=0"
        ' comm="bash" data=6C730D',
        [
            "type=TTY msg=audit(11/14/23 22:15:40.100:15) : tty pid=9 uid=root auid=root ses=1"
            ' major=136 minor=0 comm=bash data="ls",<ret>'
        ],
        id="tty-data",
    ),
    pytest.param(
        "type=UNKNOWN[1420] msg=audit(1700000150.100:16): subj_apparmor=unconfined",
        ["type=UNKNOWN[1420] msg=audit(11/14/23 22:15:50.100:16) : subj_apparmor=unconfined "],
        id="type-without-a-name",
    ),
    pytest.param(
        "type=UNKNOWN[1334] msg=audit(1700000160.100:17): prog-id=45 op=UNLOAD",
        ["type=BPF msg=audit(11/14/23 22:16:00.100:17) : prog-id=45 op=UNLOAD "],
        id="type-named-by-number",
    ),
    pytest.param(
        "type=SYSCALL msg=audit(1700000000.100:1): arch=c000003e syscall=59 success=yes exit=0"
        ' a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=2 auid=1000 uid=4242 gid=4242 comm="ls"'
        ' key=(null)\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="bob" GID="unknown-4242"',
        [
            "type=SYSCALL msg=audit(11/14/23 22:13:20.100:1) : arch=x86_64 syscall=execve"
            " success=yes exit=0 a0=0x1 a1=0x2 a2=0x3 a3=0x4 items=0 ppid=1 pid=2 auid=alice"
            " uid=bob gid=unknown-4242 comm=ls key=(null) "
        ],
        id="enriched-translations",
    ),
    pytest.param(
        'node=host1 type=CWD msg=audit(1700000170.100:18): cwd="/root"',
        ["node=host1 type=CWD msg=audit(11/14/23 22:16:10.100:18) : cwd=/root "],
        id="node",
    ),
    pytest.param(
        "type=USER_LOGIN msg=audit(1700000180.100:19): pid=5 uid=0 auid=0 ses=1 msg='uid=500:"
        ' exe="/usr/sbin/sshd" hostname=h addr=10.0.0.1 terminal=ssh res=success\'',
        [
            "type=USER_LOGIN msg=audit(11/14/23 22:16:20.100:19) : pid=5 uid=root auid=root ses=1"
            " msg='uid=unknown(500) exe=/usr/sbin/sshd hostname=h addr=10.0.0.1 terminal=ssh"
            " res=success' "
        ],
        id="repeated-name-uid",
    ),
]


@pytest.mark.parametrize(("line", "expected"), AUSEARCH)
def test_a_record_prints_as_ausearch_prints_it(line: str, expected: list[str]) -> None:
    assert text_of(line) == ["----", *expected]


def test_every_value_of_a_repeated_name_is_printed() -> None:
    # auditd's own DAEMON_START logs pid twice (its pid, then the sender's).
    lines = text_of(
        "type=DAEMON_START msg=audit(1700000000.000:5): op=start ver=3.0.9 pid=2166 uid=0 auid=0"
        " ses=1 res=success auditd pid=21"
    )
    assert lines[1] == (
        "type=DAEMON_START msg=audit(11/14/23 22:13:20.000:5) : op=start ver=3.0.9 pid=2166"
        " uid=root auid=root ses=1 res=success auditd pid=21 "
    )


def test_the_eoe_record_of_an_event_prints_first() -> None:
    cwd = 'type=CWD msg=audit(1700000000.100:1): cwd="/"'
    (event,) = list(parse_log([cwd, "type=EOE msg=audit(1700000000.100:1): "]))
    assert event.eoe
    assert render_event(event, "text").split("\n") == [
        "----",
        "type=EOE msg=audit(11/14/23 22:13:20.100:1) : ",
        "",
        "type=CWD msg=audit(11/14/23 22:13:20.100:1) : cwd=/ ",
    ]
    (without,) = list(parse_log([cwd]))
    assert not without.eoe
    assert "EOE" not in render_event(without, "text")


def test_an_event_ending_in_a_daemon_record_prints_that_record_only() -> None:
    records = (
        parse_log_line('type=CWD msg=audit(1700000000.100:1): cwd="/"'),
        parse_log_line("type=DAEMON_END msg=audit(1700000000.100:1): op=terminate auid=0 res=1"),
    )
    event = AuditEvent(1, 1700000000.1, None, records)
    assert render_event(event, "text").split("\n") == [
        "----",
        "type=DAEMON_END msg=audit(11/14/23 22:13:20.100:1) : op=terminate auid=root res=yes ",
    ]


def test_kernel_records_print_with_the_header_auditd_would_log() -> None:
    record = parse_kernel_record(1307, 'audit(1700000000.100:1): cwd="/"')
    unknown = parse_kernel_record(1999, "audit(1700000000.100:1): x=1")
    event = AuditEvent(1, 1700000000.1, None, (record, unknown))
    assert render_event(event, "text").split("\n") == [
        "----",
        "type=UNKNOWN[1999] msg=audit(11/14/23 22:13:20.100:1) : x=1 ",
        "type=CWD msg=audit(11/14/23 22:13:20.100:1) : cwd=/ ",
    ]


def test_raw_text_keeps_the_free_text_and_decodes_values() -> None:
    (event,) = list(
        parse_log(
            ["type=LOGIN msg=audit(1700000020.100:3): login pid=1 uid=0 old auid=1 new auid=0"]
        )
    )
    assert render_event(event, "text", raw=True).split("\n")[1] == (
        "type=LOGIN msg=audit(11/14/23 22:13:40.100:3) : login pid=1 uid=0 old auid=1 new auid=0 "
    )


# ---- the fast path (records that are plain single-spaced fields) -----------------


def slow_text(event: AuditEvent, monkeypatch: pytest.MonkeyPatch, raw: bool = False) -> str:
    with monkeypatch.context() as patch:
        patch.setattr(_formats, "_simple_fields", lambda fields: None)
        return render_event(event, "text", raw=raw)


def test_the_fast_path_prints_what_the_walk_prints_on_every_corpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = 0
    for lines in corpus_line_sets():
        for event in parse_log(lines):
            for raw in (False, True):
                assert render_event(event, "text", raw=raw) == slow_text(event, monkeypatch, raw)
            fast += sum(1 for record in event.records if _fast(record.raw))
    assert fast > 1000


def _fast(raw: str) -> bool:
    close = raw.find(")", raw.find("("))
    end = raw.find("\x1d")
    return raw.startswith(": ", close + 1) and (
        _formats._simple_fields(raw[close + 3 : end if end != -1 else len(raw)]) is not None
    )


_TOKENS = st.one_of(
    st.tuples(
        st.sampled_from(["uid", "pid", "key", "subj", "msg", "acct", "data", "exe", "(uid", "'x"]),
        st.sampled_from(['"a"', '"a"b', '"a', "0", "0,1", "'q'", "6B310162", "(null)", "", "x:"]),
    ).map("=".join),
    st.sampled_from(["", "word", "(enforce)", "a=b=c"]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_TOKENS, min_size=1, max_size=8), st.sampled_from([1100, 1300, 1305, 2100]))
def test_the_fast_path_prints_what_the_walk_prints_on_generated_records(
    tokens: list[str], record_type: int
) -> None:
    record = parse_kernel_record(record_type, "audit(1.000:7): " + " ".join(tokens))
    event = AuditEvent(7, 1.0, None, (record,))
    for raw in (False, True):
        with pytest.MonkeyPatch.context() as patch:
            expected = slow_text(event, patch, raw)
        assert render_event(event, "text", raw=raw) == expected


def test_the_token_memo_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_formats, "_TEXT_MEMO_LIMIT", 50)
    for serial in range(200):
        record = parse_kernel_record(1300, f"audit(1.000:{serial}): pid={serial} x {serial}=y")
        render_event(AuditEvent(serial, 1.0, None, (record,)), "text")
        assert len(_formats._SIMPLE_TOKENS) + len(_formats._NOT_SIMPLE_TOKENS) <= 50
    long_token = "a=" + "b" * _formats._TEXT_MEMO_TOKEN_LENGTH
    _formats._simple_fields(long_token)
    assert long_token not in _formats._SIMPLE_TOKENS
