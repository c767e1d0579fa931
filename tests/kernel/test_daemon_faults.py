"""``trioaudit daemon`` under faults: a full disk under the spool, settings that cannot
work (refused before the kernel is touched), another audit daemon, reloads good and bad.

"The kernel was not touched" is checked with the independent netlink speaker of
tests/support/kernelstate.py: the status settings and the rule list are the same before
and after, and no pid is registered.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel.test_daemon_shipping import (
    REPO,
    DaemonProcess,
    daemon_argv,
    event_filter,
    exec_as_nobody,
    exec_rule,
    log_serials,
    new_key,
    running_daemon,
    storm,
    wait_until,
)
from tests.support.children import read_line
from tests.support.kernelstate import RawAudit
from tests.support.rsyslog import free_port

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

#: What "the kernel was not touched" compares (``lost`` and ``backlog`` move by themselves).
SETTINGS = ("enabled", "failure", "pid", "rate_limit", "backlog_limit", "backlog_wait_time")


def kernel_snapshot(audit: RawAudit) -> tuple[dict[str, int], list[bytes]]:
    status = audit.status()
    return {name: status[name] for name in SETTINGS}, audit.rules()


def run_refused(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """A daemon that must refuse to start: run it to its end (bounded)."""
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, cwd=REPO, stdin=subprocess.DEVNULL
    )


def scrape(port: int) -> dict[str, float]:
    """``/metrics`` fetched directly: ``name{labels}`` -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


# ---- (a) the spool's disk full -------------------------------------------------------------

SPOOL_FS_BYTES = 256 * 1024


@contextlib.contextmanager
def small_tmpfs(where: Path, size: int) -> Iterator[Path]:
    """A tmpfs of *size* bytes mounted at *where*; always unmounted."""
    where.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        check=True,
        capture_output=True,
        timeout=10,
    )
    try:
        yield where
    finally:
        done = subprocess.run(["umount", str(where)], capture_output=True, timeout=10)
        if done.returncode:  # still busy: detach it rather than leave it mounted
            subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=10)


def test_a_full_spool_disk_costs_that_output_only(raw_audit: RawAudit, tmp_path: Path) -> None:
    """The network output refused, its queue 5, its spool on a 256 KiB tmpfs: a storm of
    300 events fills that disk. The daemon keeps running, the audit.log (on the normal
    disk) has every event, and the output's metrics account for every message offered:
    spooled + queued + dropped, dropped > 0."""
    key = new_key("spoolfull")
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(key))
    metrics_port = free_port()
    dead = f"syslog+tcp://127.0.0.1:{free_port()}"
    count = 300
    with small_tmpfs(tmp_path / "spoolfs", SPOOL_FS_BYTES) as spool_dir:
        argv = daemon_argv(
            tmp_path,
            "--rules",
            str(rules),
            "--metrics-listen",
            f"127.0.0.1:{metrics_port}",
            "--output",
            f"{dead}?queue_size=5&filter={event_filter(key)}",
            "--spool-dir",  # the last --spool-dir wins
            str(spool_dir),
            "--drain-timeout",
            "0.5",
        )
        with running_daemon(tmp_path, argv=argv) as daemon:
            storm(count)
            label = f'{{output="{dead}"}}'

            def offered() -> float:
                metrics = scrape(metrics_port)
                return sum(
                    metrics[f"trioaudit_output_{name}{label}"]
                    for name in ("dropped_total", "spooled_messages", "queue_depth")
                )

            wait_until(lambda: offered() == count, f"{count} messages accounted for")
            metrics = scrape(metrics_port)
            assert daemon.proc.poll() is None, "the daemon keeps running"
            assert metrics[f"trioaudit_output_dropped_total{label}"] > 0
            assert metrics[f"trioaudit_output_events_total{label}"] == 0
            assert metrics[f"trioaudit_output_queue_depth{label}"] == 5
            spooled = metrics[f"trioaudit_output_spooled_bytes{label}"]
            assert 0 < spooled <= SPOOL_FS_BYTES
            assert metrics[f'trioaudit_output_dropped_total{{output="log:{daemon.log}"}}'] == 0
            exec_as_nobody(["/bin/true"])  # still reading, after the disk filled
            wait_until(lambda: offered() == count + 1, "one more event offered")
            assert daemon.stop() == 0, daemon.stderr()[-3000:]
    assert len(log_serials(daemon.log, key)) == count + 1, "the audit.log lost nothing"
    stderr = daemon.stderr()
    assert "No space left on device" in stderr, stderr[-3000:]
    assert raw_audit.status()["pid"] == 0


# ---- (b)-(d) settings refused before the kernel is touched ---------------------------------


def test_a_busy_metrics_port_is_refused_before_the_kernel(
    raw_audit: RawAudit, tmp_path: Path
) -> None:
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(new_key("busy")))
    before = kernel_snapshot(raw_audit)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_refused(
            daemon_argv(tmp_path, "--rules", str(rules), "--metrics-listen", f"127.0.0.1:{port}")
        )
    assert done.returncode == 2, done.stderr
    assert f"metrics_listen 127.0.0.1:{port}" in done.stderr
    assert "in use" in done.stderr
    assert "Traceback" not in done.stderr
    assert kernel_snapshot(raw_audit) == before


def test_a_missing_rules_path_is_refused_before_the_kernel(
    raw_audit: RawAudit, tmp_path: Path
) -> None:
    before = kernel_snapshot(raw_audit)
    missing = tmp_path / "no" / "audit.rules"
    done = run_refused(daemon_argv(tmp_path, "--rules", str(missing)))
    assert done.returncode == 2, done.stderr
    assert f"rules: {missing} does not exist" in done.stderr
    assert kernel_snapshot(raw_audit) == before


#: Root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (a unit's CapabilityBoundingSet
#: may drop them): mode 000 files are then unreadable even to root.
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def test_an_unreadable_rules_file_is_refused_before_the_kernel(
    raw_audit: RawAudit, tmp_path: Path
) -> None:
    rules = tmp_path / "locked.rules"
    rules.write_text(exec_rule(new_key("locked")))
    rules.chmod(0)
    before = kernel_snapshot(raw_audit)
    stderr_path = tmp_path / "daemon.stderr"
    with open(stderr_path, "wb") as stderr_file:
        proc = subprocess.Popen(
            [*NO_DAC, *daemon_argv(tmp_path, "--rules", str(rules))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
            cwd=REPO,
        )
    try:
        wait_until(
            lambda: proc.poll() is not None or "daemon listening" in stderr_path.read_text(),
            "the daemon to exit (or, the bug, to run)",
        )
    finally:
        if proc.poll() is None:  # the bug: it runs
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    stderr = stderr_path.read_text()
    assert proc.returncode == 2, stderr
    assert "rules" in stderr and str(rules) in stderr
    assert kernel_snapshot(raw_audit) == before


def test_an_unreadable_rules_directory_is_refused_before_the_kernel(
    raw_audit: RawAudit, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "10-exec.rules").write_text(exec_rule(new_key("lockeddir")))
    rules.chmod(0)
    before = kernel_snapshot(raw_audit)
    done = run_refused([*NO_DAC, *daemon_argv(tmp_path, "--rules", str(rules))])
    assert done.returncode == 2, done.stderr
    assert f"rules: {rules}" in done.stderr
    assert kernel_snapshot(raw_audit) == before


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[status]\nrate_limit = -1\n", "status.rate_limit: cannot be negative"),
        ("[status]\nbacklog_limit = 'big'\n", "status.backlog_limit: must be an integer"),
        ('[[output]]\nurl = "syslog+tcp://127.0.0.1:9"\nformat = "xml"\n', "output[0].format"),
        ('[[output]]\nurl = "syslog+tcp://127.0.0.1:9?colour=red"\n', "output[0].url"),
        ("[log]\nfile = 3\n", "log.file: must be str"),
        ("spool_dri = '/x'\n", "spool_dri: unknown setting"),
        ("rules = [\n", "--config"),  # not TOML
    ],
    ids=["negative", "not-an-int", "bad-format", "bad-url-setting", "wrong-type", "typo",
         "not-toml"],
)  # fmt: skip
def test_a_bad_config_file_is_refused_by_name_before_the_kernel(
    raw_audit: RawAudit, tmp_path: Path, text: str, named: str
) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text(text)
    before = kernel_snapshot(raw_audit)
    done = run_refused(daemon_argv(tmp_path, "--config", str(config)))
    assert done.returncode == 2, done.stderr
    assert named in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert kernel_snapshot(raw_audit) == before


# ---- (e) another audit daemon ----------------------------------------------------------------


def test_another_daemon_is_not_displaced(raw_audit: RawAudit, tmp_path: Path) -> None:
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(new_key("holder")))
    holder = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "support" / "daemon_holder.py")],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert read_line(holder.stdout, timeout=10) == "ready\n"
        before = kernel_snapshot(raw_audit)
        assert before[0]["pid"] == holder.pid
        done = run_refused(daemon_argv(tmp_path, "--rules", str(rules)))
        assert done.returncode == 69, done.stderr
        assert str(holder.pid) in done.stderr, done.stderr
        assert kernel_snapshot(raw_audit) == before, "not displaced; no rule loaded"
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()


# ---- (f) SIGHUP ------------------------------------------------------------------------------


def hup_and_wait(daemon: DaemonProcess, text: str) -> str:
    """SIGHUP; wait until *text* appears in the stderr written after it."""
    offset = len(daemon.stderr())
    daemon.proc.send_signal(signal.SIGHUP)
    return daemon.wait_for_stderr(text, after=offset)[offset:]


def test_sighup_applies_status_and_refuses_a_broken_file(
    raw_audit: RawAudit, tmp_path: Path
) -> None:
    key = new_key("hup")
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "10-exec.rules").write_text("-D\n" + exec_rule(key))
    config = tmp_path / "daemon.toml"

    def write_config(status: str) -> None:
        config.write_text(f'rules = "{rules}"\n[status]\n{status}\n')

    write_config("rate_limit = 100")
    with running_daemon(tmp_path, "--config", str(config)) as daemon:
        assert raw_audit.status()["rate_limit"] == 100
        rules_before = raw_audit.rules()
        assert len(rules_before) == 1
        write_config("rate_limit = 250")
        after_hup = hup_and_wait(daemon, "reloaded")
        assert raw_audit.status()["rate_limit"] == 250
        assert raw_audit.rules() == rules_before  # reloaded: -D, then the same rule
        assert "error" not in after_hup.lower(), after_hup
        assert "restart" not in after_hup, after_hup  # nothing else changed
        for broken, named in (
            ("rate_limit = 'fast'", "status.rate_limit"),
            ("rate_limit = [", "--config"),
        ):
            write_config(broken)
            refused = hup_and_wait(daemon, "reload refused")
            assert named in refused, refused
            assert daemon.proc.poll() is None, "the daemon keeps running"
            assert raw_audit.status()["rate_limit"] == 250, "the running settings stay"
            assert raw_audit.rules() == rules_before
        exec_as_nobody(["/bin/true"])  # still auditing after the refusals
        time.sleep(0.5)
        assert daemon.stop() == 0, daemon.stderr()[-3000:]
    assert len(log_serials(daemon.log, key)) == 1
    assert raw_audit.status()["pid"] == 0


# ---- the audit.log while the daemon runs ---------------------------------------------------


def test_the_log_is_current_while_the_daemon_runs(raw_audit: RawAudit, tmp_path: Path) -> None:
    key = new_key("current")
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(key))
    with running_daemon(tmp_path, "--rules", str(rules)) as daemon:
        exec_as_nobody(["/bin/true"])
        with contextlib.suppress(AssertionError):
            wait_until(lambda: log_serials(daemon.log, key), "the event in the file", 3.0)
        in_file = len(log_serials(daemon.log, key))
        daemon.proc.kill()  # a crash: what was not written is gone
        daemon.proc.wait(timeout=10)
    assert in_file == 1
    assert len(log_serials(daemon.log, key)) == 1


def test_sigterm_exit_and_pid_are_clean_after_many_events(
    raw_audit: RawAudit, tmp_path: Path
) -> None:
    """The stop flushes what the buffer held: every event of a storm is in the file."""
    key = new_key("flush")
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(key))
    with running_daemon(tmp_path, "--rules", str(rules)) as daemon:
        storm(37)  # 37 events, 259 records: not a multiple of fsync_every
        time.sleep(0.5)
        assert daemon.stop() == 0, daemon.stderr()[-3000:]
    assert len(log_serials(daemon.log, key)) == 37
    assert raw_audit.status()["pid"] == 0
    assert not re.search(r"Traceback|error", daemon.stderr(), re.IGNORECASE), daemon.stderr()
