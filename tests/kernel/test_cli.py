"""The ``trioaudit`` command as a subprocess against the live kernel."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.children import wait_until_listening
from tests.support.kernelstate import RawAudit

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

CLI = [sys.executable, "-m", "trioaudit.cli.main"]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_status_json_matches_kernel(raw_audit: RawAudit) -> None:
    result = run("status", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    raw = raw_audit.status()
    for name in ("enabled", "failure", "pid", "rate_limit", "backlog_limit"):
        assert data[name] == raw[name]


def test_status_text_has_auditctl_keys_in_order() -> None:
    result = run("status")
    keys = [line.split()[0] for line in result.stdout.splitlines()]
    assert keys[:9] == [
        "enabled",
        "failure",
        "pid",
        "rate_limit",
        "backlog_limit",
        "lost",
        "backlog",
        "backlog_wait_time",
        "backlog_wait_time_actual",
    ]


def test_set_and_enable_disable(raw_audit: RawAudit) -> None:
    assert run("set", "--rate-limit", "31", "--backlog-limit", "640").returncode == 0
    assert (raw_audit.status()["rate_limit"], raw_audit.status()["backlog_limit"]) == (31, 640)
    assert run("enable").returncode == 0
    assert raw_audit.status()["enabled"] == 1
    assert run("disable").returncode == 0
    assert raw_audit.status()["enabled"] == 0


def test_set_panic_refused_without_force(raw_audit: RawAudit) -> None:
    before = raw_audit.status()["failure"]
    result = run("set", "--failure", "panic")
    assert result.returncode == 2
    assert "--force" in result.stderr
    assert raw_audit.status()["failure"] == before


def test_kernel_error_exit_code_and_message() -> None:
    result = run("set", "--backlog-wait-time", str(0xFFFFFFF))
    assert result.returncode == 1
    assert "EINVAL" in result.stderr


def test_tail_count_one_prints_a_record(raw_audit: RawAudit) -> None:
    proc = subprocess.Popen(
        [
            *CLI,
            "tail",
            "--count",
            "1",
            "--enable",
            "--duration",
            "20",
            "--filter",
            "audit_rate_limit=123",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_listening(proc)
    raw_audit.set_status(8, rate_limit=123)  # produces a CONFIG_CHANGE record
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    (line,) = out.splitlines()
    event = json.loads(line)
    assert event["records"][0]["type"] == "CONFIG_CHANGE"
    assert event["records"][0]["fields"]["audit_rate_limit"] == "123"
    assert isinstance(event["sequence"], int) and event["timestamp"].endswith("Z")
    assert raw_audit.status()["pid"] == 0
    assert raw_audit.status()["enabled"] == 0


def test_tail_into_closed_pipe_is_quiet(raw_audit: RawAudit) -> None:
    proc = subprocess.Popen(
        [*CLI, "tail", "--enable", "--duration", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    wait_until_listening(proc)
    proc.stdout.close()  # the reader goes away, like `| head`
    for limit in range(50, 60):
        raw_audit.set_status(8, rate_limit=limit)
    assert proc.wait(timeout=20) == 141
    assert "Traceback" not in proc.stderr.read()
    assert raw_audit.status()["pid"] == 0
