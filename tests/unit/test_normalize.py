"""Normalised events against go-libaudit aucoalesce's own golden cases, and on hostile input.

``tests/data/aucoalesce/*.json`` holds every test case of go-libaudit's
``aucoalesce/testdata`` (the log lines and the event aucoalesce makes of them), written by
``scripts/gen_normalizations.py``. Every member we emit must equal the golden one, except
the departures listed here (each is in docs/normalize.md, with why).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioaudit import normalize_event
from trioaudit._normalize import MEMBERS
from trioaudit._normalize.data import record_data
from trioaudit._output.filter import compile_filter
from trioaudit._output.formats import events_text
from trioaudit._records.interpret import StaticSystemDatabase, default_interpreter
from trioaudit._records.logread import LogParser
from trioaudit._records.model import AuditEvent, AuditRecord
from trioaudit._records.parse import parse_log_line

GOLDEN = Path(__file__).parents[1] / "data" / "aucoalesce"

#: (file, case) -> {member: what we write instead, and why (docs/normalize.md)}.
DEPARTURES: dict[tuple[str, str], dict[str, Any]] = {
    # go-libaudit reads a PATH mode through Go's os.FileMode, whose type bits are not
    # the kernel's: every object with a mode is a "file". These two are directories.
    ("rhel-7-linux-3.10.0", "make-device"): {
        "summary": {
            "actor": {"primary": "unset", "secondary": "0"},
            "action": "make-device",
            "object": {"type": "directory", "primary": "/run/systemd/sessions/"},
            "how": "/usr/lib/systemd/systemd-logind;58f98c85 (deleted)",
        }
    },
    ("rhel-7-linux-3.10.0", "mount syscall"): {
        "summary": {
            "actor": {"primary": "unset", "secondary": "0"},
            "action": "mounted",
            "object": {"type": "directory", "primary": "/run/user/0"},
            "how": "/usr/lib/systemd/systemd-logind;58f98c85 (deleted)",
        }
    },
}


def _cases() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(GOLDEN.glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            found.append((path.stem, case))
    return found


CASES = _cases()


def _event_of(lines: list[str]) -> AuditEvent:
    """All the lines of a case as one event, in their order (as aucoalesce's test
    coalesces them)."""
    records = [r for r in (parse_log_line(line) for line in lines) if r is not None]
    assert len(records) == len(lines)
    return AuditEvent(records[0].sequence, records[0].timestamp, None, tuple(records))


def test_every_golden_case_is_here() -> None:
    assert len(CASES) == 48
    assert len({(f, c["name"]) for f, c in CASES}) == len(CASES)
    assert set(DEPARTURES) <= {(f, c["name"]) for f, c in CASES}


@pytest.mark.parametrize(("source", "case"), CASES, ids=[f"{f}:{c['name']}" for f, c in CASES])
def test_golden_case_agrees_on_every_member(source: str, case: dict[str, Any]) -> None:
    got = normalize_event(_event_of(case["lines"]))
    assert got is not None
    expected = {k: case["expected"][k] for k in MEMBERS if k in case["expected"]}
    expected.update(DEPARTURES.get((source, case["name"]), {}))
    assert got == expected


def test_the_members_are_in_aucoalesces_order() -> None:
    _, case = CASES[0]
    got = normalize_event(_event_of(case["lines"]))
    assert got is not None
    assert list(got) == [k for k in MEMBERS if k in got]


def _record(line: str) -> AuditRecord:
    record = parse_log_line(line)
    assert record is not None
    return record


def test_the_data_view_follows_auparse() -> None:
    view = record_data(
        _record(
            "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=no exit=-13 "
            'a0=1 items=1 auid=4294967295 uid=0 ses=4294967295 comm="sh" '
            'exe=2F62696E2F7368 subj=u:r:t:s0:c1,c2 key="k1" tty=(null) x=?'
        )
    )
    assert view.data == {
        "arch": "x86_64",
        "syscall": "execve",
        "result": "fail",
        "exit": "EACCES",
        "a0": "1",
        "items": "1",
        "auid": "unset",
        "uid": "0",
        "ses": "unset",
        "comm": "sh",
        "exe": "/bin/sh",
        "subj_user": "u",
        "subj_role": "r",
        "subj_domain": "t",
        "subj_level": "s0",
        "subj_category": "c1,c2",
    }
    assert view.tags == ["k1"]
    # hex rule keys: several, joined by \x01 as the kernel logs them
    assert record_data(_record("type=CONFIG_CHANGE msg=audit(1.000:2): key=610162 res=1")).tags == [
        "a",
        "b",
    ]


def test_records_auparse_has_no_data_for_are_warnings_not_errors() -> None:
    for line in (
        "type=SYSCALL msg=audit(1.000:1): syscall=59 success=yes",  # no arch
        "type=SOCKADDR msg=audit(1.000:1): saddr=0",  # too short
        "type=PROCTITLE msg=audit(1.000:1): x=1",  # no proctitle
        "type=EXECVE msg=audit(1.000:1): argc=3 a0=1",  # a missing argument
    ):
        record = _record(line)
        assert record_data(record).data is None
        got = normalize_event(AuditEvent(1, 1.0, None, (record,)))
        assert got is not None and got["category"]


def test_a_compound_event_without_a_syscall_has_no_normalisation() -> None:
    records = (
        _record('type=CWD msg=audit(1.000:3): cwd="/"'),
        _record('type=PATH msg=audit(1.000:3): item=0 name="/"'),
    )
    assert normalize_event(AuditEvent(3, 1.0, None, records)) is None


_TOKENS = st.one_of(
    st.sampled_from(
        [
            "arch=c000003e",
            "syscall=42",
            "syscall=x",
            "success=yes",
            "res=failed",
            "exit=-999999999999999999999",
            "argc=99999999999",
            "a0=41",
            "saddr=0200",
            "saddr=0A00ZZZZ",
            "saddr=0100ZZ",
            "saddr=1000",
            "key=FF",
            "key=A",
            "subj=:::::",
            "mode=9",
            'name="/x"',
            "nametype=PARENT",
            'exe="/usr/bin/python3"',
            "msg='op=x res=1'",
            "sig=99",
        ]
    ),
    st.from_regex(r"[a-z_]{1,6}=[ -~]{0,12}", fullmatch=True),
)
_TYPES = st.sampled_from(
    [
        "SYSCALL",
        "PATH",
        "SOCKADDR",
        "EXECVE",
        "PROCTITLE",
        "SECCOMP",
        "USER_LOGIN",
        "AVC",
        "LOGIN",
        "CRED_DISP",
        "CWD",
        "USER_CMD",
        "TTY",
        "ANOM_ABEND",
        "CONFIG_CHANGE",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_TYPES, st.lists(_TOKENS, max_size=10)), min_size=1, max_size=5))
def test_normalisation_never_raises_on_generated_events(
    records: list[tuple[str, list[str]]],
) -> None:
    parsed = []
    for rtype, tokens in records:
        record = parse_log_line(f"type={rtype} msg=audit(1.000:9): " + " ".join(tokens))
        if record is not None:
            parsed.append(record)
    if not parsed:
        return
    got = normalize_event(AuditEvent(9, 1.0, None, tuple(parsed)))
    if got is not None:
        json.dumps(got)
        assert set(got) <= set(MEMBERS)


def _golden_events() -> list[AuditEvent]:
    lines = [line.encode() for _, case in CASES for line in case["lines"]]
    return list(LogParser().parse(lines))


def test_normalize_adds_the_members_to_each_json_line() -> None:
    events = _golden_events()
    plain = events_text(events).splitlines()
    normalised = events_text(events, normalize=True).splitlines()
    assert len(plain) == len(normalised) == len(events)
    names = default_interpreter().db  # the CLI resolves ids as Auditbeat does
    for event, before, after in zip(events, plain, normalised, strict=True):
        members = normalize_event(event, names=names)
        parsed = json.loads(after)
        if members is None:
            assert after == before
            continue
        assert json.loads(before) == {k: v for k, v in parsed.items() if k not in members}
        assert {k: parsed[k] for k in members} == members
    with pytest.raises(ValueError, match="as JSON only"):
        events_text(events, "text", normalize=True)


def test_the_filter_matches_normalised_members() -> None:
    events = _golden_events()

    def kept(text: str) -> set[int]:
        predicate = compile_filter(text)
        return {e.sequence for e in events if predicate(e)}

    executed = kept("action=executed")
    assert executed
    assert all(
        (normalize_event(e) or {}).get("summary", {}).get("action") == "executed"
        for e in events
        if e.sequence in executed
    )
    assert kept("category=user-login")
    assert kept("category=user-login") == kept("summary.action~log category=user-login") | kept(
        "category=user-login not summary.action~log"
    )
    assert kept("ecs.event.category=authentication")
    assert kept("action=executed") == kept("summary.action=executed")
    assert not kept("action=no-such-action")


#: Record types go-libaudit does not normalise, from real logs of tests/data/wild (and
#: one in the kernel's format): trioaudit's own entries (_normalize/extensions.py,
#: docs/normalize.md "Departures").
OWN_CASES = [
    (
        "type=APPARMOR_DENIED msg=audit(1190305421.066:14665):  type=1503 "
        'operation="inode_permission" requested_mask="w" denied_mask="w" '
        'name=2F746D702F646F6573206E6F74206578697374 pid=31401 profile="/home/steve/tmp/sh"',
        "mac-decision",
        "violated-apparmor-policy",
        {"type": "policy", "primary": "/tmp/does not exist", "secondary": "w"},
        {},
    ),
    (
        "type=URINGOP msg=audit(1737533617.373:12266329): uring_op=18 success=yes exit=0 "
        "items=0 ppid=140504 pid=3178806 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
        "fsgid=0 subj=unconfined key=(null)",
        "audit-rule",
        "performed-io_uring-operation",
        {"type": "io_uring", "primary": "openat"},
        {"category": ["process"], "type": ["info"]},
    ),
    (
        "type=BPF msg=audit(1737533267.765:12263987): prog-id=75 op=LOAD",
        "configuration",
        "loaded-bpf-program",
        {"type": "bpf-program", "primary": "75"},
        {"category": ["configuration"], "type": ["creation"]},
    ),
    (
        "type=BPF msg=audit(1737533267.766:12263988): prog-id=75 op=UNLOAD",
        "configuration",
        "unloaded-bpf-program",
        {"type": "bpf-program", "primary": "75"},
        {"category": ["configuration"], "type": ["deletion"]},
    ),
    (
        # kernel/audit.c's audit_log_multicast() format (not from a log of ours)
        "type=EVENT_LISTENER msg=audit(1737533000.001:77): pid=4242 uid=0 auid=4294967295 "
        'tty=pts0 ses=4294967295 subj=unconfined comm="trioaudit" exe="/usr/bin/python3.11" '
        "nl-mcgrp=1 op=connect res=1",
        "configuration",
        "changed-audit-listener",
        {"type": "audit-config", "primary": "1", "secondary": "connect"},
        {"category": ["configuration"], "type": ["change"]},
    ),
    (
        "type=MAC_UNLBL_ALLOW msg=audit(1631783567.248:3): netlabel: auid=0 ses=0 "
        'unlbl_accept=1 old=0\x1dAUID="root"',
        "mac",
        "changed-unlabeled-traffic-policy",
        {"type": "mac-config", "primary": "1"},
        {"category": ["configuration"], "type": ["change"]},
    ),
]


@pytest.mark.parametrize(
    ("line", "category", "action", "target", "ecs_event"),
    OWN_CASES,
    ids=[case[0].split()[0][5:] + case[0].split()[-1][:9] for case in OWN_CASES],
)
def test_record_types_go_libaudit_lacks_have_our_own_normalisation(
    line: str, category: str, action: str, target: dict[str, str], ecs_event: dict[str, Any]
) -> None:
    got = normalize_event(AuditEvent(1, 1.0, None, (_record(line),)))
    assert got is not None
    assert got["category"] == category
    assert got["summary"]["action"] == action
    assert got["summary"]["object"] == target
    assert got["ecs"]["event"] == ecs_event


def test_our_entries_never_shadow_go_libaudits() -> None:
    from trioaudit._normalize.extensions import OWN_NORMALIZATIONS
    from trioaudit._tables.normalizations import NORMALIZATIONS

    theirs = {name for entry in NORMALIZATIONS for name in entry["record_types"]}
    ours = {name for entry in OWN_NORMALIZATIONS for name in entry["record_types"]}
    assert not theirs & ours


def test_ids_resolve_to_names_as_auditbeat_shows_them() -> None:
    lines = next(c for f, c in CASES if c["name"] == "linkat_syscall")["lines"]
    db = StaticSystemDatabase(users={0: "root", 1000: "ubuntu"}, groups={0: "root"})
    got = normalize_event(_event_of(lines), names=db)
    assert got is not None
    assert got["summary"]["actor"] == {"primary": "ubuntu", "secondary": "root"}
    assert got["user"]["names"] == {
        "auid": "ubuntu",
        "egid": "root",
        "euid": "root",
        "fsgid": "root",
        "fsuid": "root",
        "gid": "root",
        "sgid": "root",
        "suid": "root",
        "uid": "root",
    }
    assert list(got["user"]) == ["ids", "names", "selinux"]
    # unknown ids, and "unset", stay as they are
    plain = normalize_event(_event_of(lines), names=StaticSystemDatabase())
    assert plain == normalize_event(_event_of(lines))


def test_ecs_entities_get_names_and_file_owners_resolve() -> None:
    for _, case in CASES:
        got = normalize_event(_event_of(case["lines"]))
        assert got is not None
        if got["ecs"]["user"].get("id", "").isdigit() or got.get("file", {}).get("uid"):
            break
    else:
        pytest.fail("no golden case with an ECS user id or a file owner")
    named = normalize_event(
        _event_of(case["lines"]),
        names=StaticSystemDatabase(users=dict.fromkeys(range(70000), "u"), groups={0: "g"}),
    )
    assert named is not None
    if got["ecs"]["user"].get("id", "").isdigit():
        assert named["ecs"]["user"]["name"] == "u"
        assert list(named["ecs"]["user"])[:2] == ["name", "id"]
    if got.get("file", {}).get("uid"):
        assert named["file"]["owner"] == "u"
