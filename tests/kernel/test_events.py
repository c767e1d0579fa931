"""Live events: real kernel records through ``client.open_events()``, interpreted like libauparse.

A bounded workload runs as ``nobody`` under a few rules while an ``AuditClient``
(unicast, the audit daemon role) receives events. Every received record's text is
then written as an audit.log line and handed to libauparse: our interpretation of
the *live* records must agree with libauparse's field for field.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import trio

from tests.support.differential import auparse_available, compare
from trioaudit import AuditEvent, EventStreamStatistics, _native, open_audit_client
from trioaudit._trio.eventstream import DatagramDecoder, NativeDatagramDecoder

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

KEY = "trioaudit-live"
#: Upper bound on the time spent waiting for the workload's events.
WAIT_SECONDS = 10.0
#: Upper bound on events collected (a storm guard).
MAX_EVENTS = 2000

WORKLOAD = r"""
import os, socket, subprocess
for path in ("/etc/shadow", "/root/.profile"):
    try:
        open(path).close()
    except OSError:
        pass
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
try:
    s.connect(("::1", 9))
except OSError:
    pass
s.close()
subprocess.run(["/bin/echo", "trioaudit", "two words"], stdout=subprocess.DEVNULL)
"""


def _auditctl(*args: str, check: bool = True) -> None:
    subprocess.run(["auditctl", *args], check=check, capture_output=True)


class _Collected:
    """What one live run gave: the events, the decoder the reader used, the counters."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.decoder: object = None
        self.statistics: EventStreamStatistics | None = None


async def _collect() -> _Collected:
    collected = _Collected()
    events = collected.events
    async with open_audit_client(mode="unicast") as client:
        await client.set_enabled(True)
        rules = [
            ("always,exit", "-F", "arch=b64", "-S", syscalls, "-F", "uid=65534", "-k", KEY)
            for syscalls in ("execve", "open,openat", "connect")
        ]
        for rule in rules:
            _auditctl("-A", *rule)  # first in the list: a leftover "never" cannot shadow it
        async with client.open_events(end_of_event_timeout=0.5) as stream:
            assert client._feed is not None
            collected.decoder = client._feed.decoder
            await trio.run_process(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "/usr/bin/python3", "-c", WORKLOAD],
                capture_stdout=True,
            )  # fmt: skip
            _auditctl("-m", "trioaudit live test message")
            with trio.move_on_after(WAIT_SECONDS):
                async for event in stream:
                    events.append(event)
                    user = event.type_name == "USER" and "live test" in event.records[0].raw
                    if user or len(events) >= MAX_EVENTS:
                        break
            collected.statistics = stream.statistics()
        for rule in rules:  # only ours: never "-D" (the fixture restores the rest)
            _auditctl("-d", *rule, check=False)
    return collected


def _write_log(events: list[AuditEvent], path: Path) -> None:
    """The received records as audit.log lines (what auditd would have written)."""
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as out:
        for event in events:
            for record in event.records:
                out.write(f"type={record.type_name} msg={record.raw}\n")


async def test_live_events_are_reassembled_and_interpreted(tmp_path: Path) -> None:
    collected = await _collect()
    events = collected.events
    # On the compiled core the reader drains the socket in C (live.c); else the reference.
    expected = DatagramDecoder if _native.core is None else NativeDatagramDecoder
    assert type(collected.decoder) is expected
    stats = collected.statistics
    assert stats is not None and stats.dropped == 0 and stats.unparsable == 0
    assert stats.records >= sum(len(e.records) for e in events) > 0
    ours = [e for e in events if e.key == KEY]
    syscalls = {e.syscall for e in ours}
    assert {"execve", "openat", "connect"} <= syscalls, syscalls
    connect = next(e for e in ours if e.syscall == "connect")
    assert connect.uid == "nobody"
    saddr = connect.record("SOCKADDR")
    assert saddr is not None
    assert saddr.fields["saddr"] == "{ saddr_fam=inet6 laddr=::1 lport=9 }"
    assert saddr.sockaddr == {"family": "inet6", "address": "::1", "port": 9, "scope_id": 0}
    argvs = [r.argv for e in ours for r in e.records if r.type_name == "EXECVE"]
    assert ("/bin/echo", "trioaudit", "two words") in argvs
    assert all(r.type_name != "EOE" for e in events for r in e.records)

    if not auparse_available():
        pytest.skip("libauparse (python3-audit) not importable by /usr/bin/python3")
    log = tmp_path / "live.log"
    _write_log(events, log)
    result = compare(log, raw=True)
    print(
        f"\nFIGURES live-vs-libauparse: events={len(events)} records={result.records} "
        f"fields={result.fields} agree={result.agree}"
    )
    assert result.missing_records == 0
    assert result.fields > 100
    assert result.ratio == 1.0, result.mismatches[:20]
