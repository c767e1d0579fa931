"""``trioaudit daemon`` on the live kernel: rules at start, the auditd log, its signals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.children import read_line
from tests.support.kernelstate import RawAudit

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

CLI = [sys.executable, "-m", "trioaudit.cli.main"]
KEY = "trioaudit-daemon"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _wait_for(condition: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.skipif(shutil.which("ausearch") is None, reason="ausearch (auditd) missing")
def test_the_daemon_loads_rules_logs_rotates_and_stops_cleanly(
    raw_audit: RawAudit, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "10-exec.rules").write_text(
        f"-a always,exit -F arch=b64 -S execve -F uid=65534 -k {KEY}\n-a not a rule\n"
    )
    (rules / "99-finish.rules").write_text("-e 1\n")  # augenrules order: this one last
    (rules / "ignored.txt").write_text("-D\n")
    log = tmp_path / "audit.log"
    proc = subprocess.Popen(
        [*CLI, "daemon", "--log-file", str(log), "--rules", str(rules), "--max-log-file", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = ""
        while "daemon listening" not in seen:
            line = read_line(proc.stderr, timeout=10)
            assert line, f"the daemon stopped: {seen!r}"
            seen += line
        assert "10-exec.rules:2:" in seen  # the bad line, named; the rest loaded
        assert raw_audit.status()["pid"] == proc.pid
        assert raw_audit.status()["enabled"] == 1  # from the last file's -e 1
        subprocess.run([*NOBODY, "/bin/echo", "one"], check=True, capture_output=True)
        _wait_for(lambda: KEY.encode() in log.read_bytes(), "the first event in the log")
        proc.send_signal(signal.SIGUSR1)  # rotate, as auditd does
        _wait_for(lambda: (tmp_path / "audit.log.1").exists(), "the rotation")
        subprocess.run([*NOBODY, "/bin/echo", "two"], check=True, capture_output=True)
        _wait_for(lambda: KEY.encode() in log.read_bytes(), "the second event in the new log")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert raw_audit.status()["pid"] == 0
    assert oct((tmp_path / "audit.log.1").stat().st_mode & 0o777) == "0o400"
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    for path, word in ((tmp_path / "audit.log.1", "one"), (log, "two")):
        found = subprocess.run(
            ["ausearch", "-if", str(path), "-k", KEY, "-i"],
            capture_output=True,
            text=True,
            env={**os.environ, "TZ": "UTC"},
        )
        assert found.returncode == 0, found.stderr
        assert f"a1={word}" in found.stdout  # ausearch reads our ENRICHED log


def test_the_daemon_refuses_bad_settings_by_name(tmp_path: Path) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text('[log]\nfile = "x"\nnum_log = 3\n')
    done = subprocess.run([*CLI, "daemon", "--config", str(config)], capture_output=True, text=True)
    assert done.returncode == 2 and "log.num_log: unknown setting" in done.stderr
    config.write_text("[log]\nmax_log_file = 'big'\n")
    done = subprocess.run([*CLI, "daemon", "--config", str(config)], capture_output=True, text=True)
    assert done.returncode == 2 and "log.max_log_file: must be an integer" in done.stderr
    done = subprocess.run(
        [*CLI, "daemon", "--log-file", str(tmp_path / "no" / "dir" / "audit.log")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "log.file" in done.stderr
