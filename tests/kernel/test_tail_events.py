"""``trioaudit tail`` emits interpreted events (live kernel, state saved and restored)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.children import wait_until_listening
from tests.support.kernelstate import RawAudit

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

CLI = [sys.executable, "-m", "trioaudit.cli.main"]
KEY = "trioaudit-tail"
RULE = ("always,exit", "-F", "arch=b64", "-S", "execve", "-F", "uid=65534", "-k", KEY)


def _start_tail(raw_audit: RawAudit, *options: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*CLI, "tail", "--unicast", "--enable", "--duration", "15", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_listening(proc)
    return proc


def _workload() -> None:
    subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/echo", "hi there"],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def rule() -> Iterator[tuple[str, ...]]:
    # -A: first in the exit list, so a leftover "never" rule cannot shadow it.
    subprocess.run(["auditctl", "-A", *RULE], check=True, capture_output=True)
    yield RULE
    subprocess.run(["auditctl", "-d", *RULE], capture_output=True)


def test_tail_prints_filtered_interpreted_events(
    raw_audit: RawAudit, rule: tuple[str, ...]
) -> None:
    proc = _start_tail(raw_audit, "--filter", f"key={KEY} syscall=execve", "--count", "1")
    _workload()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    (line,) = out.splitlines()
    event = json.loads(line)
    assert set(event) == {"timestamp", "sequence", "node", "records"}
    types = [r["type"] for r in event["records"]]
    assert types[0] == "SYSCALL" and "EXECVE" in types and "EOE" not in types
    syscall = event["records"][0]["fields"]
    assert (syscall["arch"], syscall["syscall"], syscall["uid"]) == ("x86_64", "execve", "nobody")
    assert syscall["key"] == KEY
    execve = next(r for r in event["records"] if r["type"] == "EXECVE")
    assert execve["argv"] == ["/bin/echo", "hi there"]
    assert raw_audit.status()["pid"] == 0


def test_tail_text_and_raw_formats(raw_audit: RawAudit, rule: tuple[str, ...]) -> None:
    proc = _start_tail(raw_audit, "--filter", f"key={KEY}", "--count", "1", "--format", "text")
    _workload()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "----"
    assert any(x.startswith("type=SYSCALL ") and "syscall=execve" in x for x in lines)
    assert all(x.isprintable() for x in lines)
    proc = _start_tail(raw_audit, "--filter", f"key={KEY}", "--count", "1", "--raw")
    _workload()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    fields = json.loads(out)["records"][0]["fields"]
    assert (fields["arch"], fields["syscall"], fields["uid"]) == ("c000003e", "59", "65534")


def test_tail_bad_filter_is_a_usage_error() -> None:
    result = subprocess.run([*CLI, "tail", "--filter", "key="], capture_output=True, text=True)
    assert result.returncode == 2
    assert "position" in result.stderr


def test_tail_with_worker_processes_prints_the_same_events(
    raw_audit: RawAudit, rule: tuple[str, ...]
) -> None:
    # --jobs 2: this process reads and groups; spawned workers parse, filter, render.
    proc = _start_tail(raw_audit, "--jobs", "2", "--filter", f"key={KEY}", "--count", "3")
    for _ in range(3):
        _workload()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 3
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(sequences)  # written in order
    for event in events:
        syscall = event["records"][0]["fields"]
        assert (syscall["syscall"], syscall["uid"], syscall["key"]) == ("execve", "nobody", KEY)
        execve = next(r for r in event["records"] if r["type"] == "EXECVE")
        assert execve["argv"] == ["/bin/echo", "hi there"]
    assert raw_audit.status()["pid"] == 0


def test_tail_normalize_adds_aucoalesce_members(raw_audit: RawAudit, rule: tuple[str, ...]) -> None:
    # The normalised filter term and the normalised members, on a live execve.
    proc = _start_tail(
        raw_audit, "--normalize", "--filter", f"key={KEY} action=executed", "--count", "1"
    )
    _workload()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    (line,) = out.splitlines()
    event = json.loads(line)
    assert event["category"] == "audit-rule"
    assert event["result"] == "success"
    assert event["tags"] == [KEY]
    summary = event["summary"]
    assert summary["action"] == "executed"
    assert summary["actor"]["secondary"] == "nobody"  # ids resolved, as Auditbeat does
    assert summary["object"] == {"type": "file", "primary": "/bin/echo"}
    assert event["process"]["args"] == ["/bin/echo", "hi there"]
    assert event["process"]["exe"] == os.path.realpath("/bin/echo")  # the kernel resolves it
    assert event["user"]["ids"]["uid"] == "65534"
    assert event["user"]["names"]["uid"] == "nobody"
    assert event["ecs"]["event"] == {"category": ["process"], "type": ["start"]}
    assert raw_audit.status()["pid"] == 0
