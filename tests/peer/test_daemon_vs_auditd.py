"""Differential test: ``trioaudit daemon``'s audit.log against auditd's, for the same events.

The same rules and the same commands (run as nobody, in one order, with one environment)
are audited twice on the live kernel: once with Debian's auditd as the audit daemon,
once with ``trioaudit daemon``, each writing its log in one format (ENRICHED, then RAW in
the second case). Both logs are then read by auditd's own ``ausearch`` -- interpreted
(``-i``) and as written (``--raw``) -- and compared event by event, line by line, after
masking only what differs between two runs by nature (:data:`MASKED`).

auditd is started and stopped here (``auditd -n``: in the foreground, SIGTERM, killed if
it does not exit in time), only when no audit daemon holds the kernel's pid.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.kernel.test_daemon_shipping import (
    NOBODY,
    new_key,
    running_daemon,
    wait_until,
)
from tests.support.kernelstate import MASK_ENABLED, RawAudit

AUDITD = shutil.which("auditd") or "/usr/sbin/auditd"
TOOLS = ("auditd", "auditctl", "ausearch")

pytestmark = [
    pytest.mark.peer,
    pytest.mark.kernel,
    pytest.mark.usefixtures("audit_state"),
    pytest.mark.skipif(
        any(shutil.which(tool) is None for tool in TOOLS), reason="auditd's tools missing"
    ),
]

UTC = {**os.environ, "TZ": "UTC"}

#: auditd.conf for ``auditd -n -c DIR``: the log where the test says, written record by
#: record (flush = INCREMENTAL_ASYNC), never rotated, no action on disk space, no plugins.
AUDITD_CONF = """\
local_events = yes
write_logs = yes
log_file = {log}
log_group = root
log_format = {log_format}
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 4096
num_logs = 2
priority_boost = 0
name_format = NONE
max_log_file_action = IGNORE
space_left = 64
space_left_action = IGNORE
admin_space_left = 32
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
q_depth = 2000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = {plugins}
end_of_event_timeout = 2
"""


def rules_for(key: str) -> list[list[str]]:
    """auditctl arguments of the rules: every execve of nobody, and its opens that fail
    with ENOENT."""
    return [
        ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", "uid=65534", "-k", key],
        ["-a", "always,exit", "-F", "arch=b64", "-S", "openat", "-F", "uid=65534",
         "-F", "exit=-ENOENT", "-k", key],
    ]  # fmt: skip


#: The commands, run in this order as nobody: an exec with no output, one with arguments,
#: one reading a file, a failing open, an exec that fails; the last one marks the end.
COMMANDS = [
    ["/bin/true"],
    ["/bin/echo", "x"],
    ["/bin/cat", "/etc/hostname"],
    ["/bin/cat", "/nonexistent/trioaudit-test"],
    ["/nonexistent/trioaudit-command"],
    ["/bin/true", "end"],
]
#: Each command is one execve (the failing one included), plus the failing opens.
EXEC_EVENTS = len(COMMANDS)
#: The EXECVE record of the last command: once it is in a log, so is everything before.
END_MARK = b'a1="end"'
#: The commands' environment: the same in both runs (it is in no record, but it steers
#: what the commands open).
COMMAND_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C"}


def run_commands() -> None:
    for argv in COMMANDS:
        subprocess.run(
            [*NOBODY, *argv], capture_output=True, timeout=10, cwd="/", env=COMMAND_ENV, check=False
        )


#: What differs between two runs of the same commands by nature, and nothing else:
#:
#: * the ``msg=audit(TIME:SERIAL)`` header: when, and the kernel's counter;
#: * ``pid``: a new process for each command in each run (``ppid``, the test process
#:   that runs them all, is the same in both runs, and compared);
#: * the SYSCALL record's ``a0``..``a3``: the raw arguments, for execve and openat
#:   user-space pointers (filename, argv, envp; openat's path), which address space
#:   layout randomisation moves. (EXECVE's ``a0``.. are the arguments: compared.)
#:
#: Everything else -- uid/auid/ses (one test process, one session), the paths, inodes,
#: devices and modes, exit codes, argv, proctitle, the enrichment -- must be identical.
PROCESS_IDS = re.compile(r"\b(pid)=\S+")
SYSCALL_ARGUMENTS = re.compile(r"\b(a[0-3])=\S+")
HEADER = re.compile(r"msg=audit\([^)]*\)")


def mask(line: str) -> str:
    masked = PROCESS_IDS.sub(r"\1=*", HEADER.sub("msg=audit(*)", line))
    if masked.startswith("type=SYSCALL "):
        masked = SYSCALL_ARGUMENTS.sub(r"\1=*", masked)
    return masked


def ausearch(log: Path, key: str, *mode: str) -> list[list[str]]:
    """``ausearch MODE -if LOG -k KEY`` as a list of events, each a list of masked lines,
    without the rule's CONFIG_CHANGE events (auditctl loads auditd's rules, the daemon its
    own: they differ by who loaded them)."""
    done = subprocess.run(
        ["ausearch", *mode, "-if", str(log), "-k", key], capture_output=True, env=UTC, timeout=60
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("utf-8", "backslashreplace")
    events: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):  # not splitlines(): the enrichment follows a \x1d
        if line == "----" or (not line.strip()):
            if current:
                events.append(current)
            current = []
            continue
        current.append(mask(line))
    if current:
        events.append(current)
    return [event for event in events if not any("CONFIG_CHANGE" in line for line in event)]


def ausearch_raw(log: Path, key: str) -> list[list[str]]:
    """``ausearch --raw``: the log's own lines, grouped by event (by the header)."""
    done = subprocess.run(
        ["ausearch", "--raw", "-if", str(log), "-k", key], capture_output=True, env=UTC, timeout=60
    )
    assert done.returncode == 0, done.stderr
    events: dict[str, list[str]] = {}
    for line in done.stdout.decode("utf-8", "backslashreplace").split("\n"):
        if not line:
            continue
        found = HEADER.search(line)
        assert found, line
        events.setdefault(found.group(0), []).append(mask(line))
    return [event for event in events.values() if not any("CONFIG_CHANGE" in x for x in event)]


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    """SIGTERM, then SIGKILL if it has not exited within *timeout*."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise


def wait_unregistered(audit: RawAudit, pid: int) -> None:
    """Until the kernel no longer names *pid* (a stopped daemon unregisters)."""
    wait_until(lambda: audit.status()["pid"] != pid, f"pid {pid} to unregister", 15)


def auditd_log(audit: RawAudit, workdir: Path, key: str, log_format: str) -> Path:
    """The commands audited by auditd: its log."""
    assert audit.status()["pid"] == 0, "an audit daemon is registered"
    # Auditing on before auditd starts, as the daemon run finds it. Enabled from 0 just
    # before the first command, auditd's log lacked that command's SYSCALL record (its
    # EXECVE, PATH... were there, the kernel's lost count unchanged): not what is tested.
    audit.set_status(MASK_ENABLED, enabled=1)
    workdir.mkdir()
    log, plugins = workdir / "audit.log", workdir / "plugins.d"
    plugins.mkdir()
    conf = workdir / "auditd.conf"
    conf.write_text(AUDITD_CONF.format(log=log, plugins=plugins, log_format=log_format))
    conf.chmod(0o640)
    with open(workdir / "stderr", "wb") as stderr:
        proc = subprocess.Popen(
            [AUDITD, "-n", "-s", "nochange", "-c", str(workdir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_until(
            lambda: proc.poll() is not None or audit.status()["pid"] == proc.pid,
            "auditd to register",
        )
        assert proc.poll() is None, (workdir / "stderr").read_text()
        for rule in rules_for(key):
            subprocess.run(["auditctl", *rule], check=True, capture_output=True, timeout=10)
        run_commands()
        wait_until(lambda: END_MARK in log.read_bytes(), "the last command in auditd's log", 20)
        for rule in rules_for(key):
            delete = ["-d", *rule[1:]]
            subprocess.run(["auditctl", *delete], check=True, capture_output=True, timeout=10)
    finally:
        stop(proc)
    wait_unregistered(audit, proc.pid)
    return log


def trioaudit_log(audit: RawAudit, workdir: Path, key: str, log_format: str) -> Path:
    """The commands audited by ``trioaudit daemon``: its log."""
    assert audit.status()["pid"] == 0, "an audit daemon is registered"
    workdir.mkdir()
    rules = workdir / "test.rules"
    rules.write_text("".join(" ".join(rule) + "\n" for rule in rules_for(key)))
    args = ("--rules", str(rules), "--log-format", log_format.lower())
    with running_daemon(workdir, *args) as daemon:
        run_commands()
        time.sleep(0.5)  # the kernel's audit thread hands the last records over
        assert daemon.stop() == 0, daemon.stderr()[-3000:]
    wait_unregistered(audit, daemon.pid)
    assert END_MARK in daemon.log.read_bytes()
    return daemon.log


def assert_same_events(theirs: list[list[str]], ours: list[list[str]]) -> None:
    assert len(theirs) > EXEC_EVENTS  # the execs and at least the failing open
    for index, (their_event, our_event) in enumerate(zip(theirs, ours, strict=False)):
        assert our_event == their_event, f"event {index} differs"
    assert len(ours) == len(theirs)


@pytest.mark.parametrize("log_format", ["ENRICHED", "RAW"])
def test_the_daemon_logs_what_auditd_logs(
    raw_audit: RawAudit, tmp_path: Path, log_format: str
) -> None:
    key = new_key("peer")
    theirs = auditd_log(raw_audit, tmp_path / "auditd", key, log_format)
    ours = trioaudit_log(raw_audit, tmp_path / "trioaudit", key, log_format)
    assert_same_events(ausearch(theirs, key, "-i"), ausearch(ours, key, "-i"))
    assert_same_events(ausearch_raw(theirs, key), ausearch_raw(ours, key))
