"""``trioaudit daemon`` shipping live events to real receivers: rsyslog over TCP, TLS and
RELP, across a cut link and a receiver restart; Prometheus scraping its metrics; systemd's
readiness protocol.

Every event is an ``execve`` by ``nobody`` (``setpriv``), caught by a rule whose key is
the test's own; the daemon's own audit.log (on the normal disk) says which events the
kernel delivered, by serial, and what a receiver got is checked against that list:
exactly once and in order where the transport promises it, at least once (duplicates
told apart by serial, at most a RELP window of them) where it does not.

The helpers at the top (:func:`running_daemon`, :func:`exec_as_nobody`,
:func:`log_serials`, :func:`shipped`) are shared with ``test_daemon_faults.py`` and
``tests/peer/test_daemon_vs_auditd.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.kernelstate import RawAudit
from tests.support.netns import veth_pair_netns
from tests.support.prometheus import have_prometheus, running_prometheus
from tests.support.rsyslog import (
    Rsyslog,
    free_port,
    have_rsyslog,
    make_test_certs,
    running_rsyslog,
)

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.servers,
    pytest.mark.usefixtures("audit_state"),
    pytest.mark.skipif(not have_rsyslog(), reason="rsyslogd missing"),
]

CLI = [sys.executable, "-m", "trioaudit.cli.main"]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
REPO = Path(__file__).resolve().parents[2]


def exec_rule(key: str) -> str:
    """The rules-file line that audits every ``execve`` of uid 65534 under *key*."""
    return f"-a always,exit -F arch=b64 -S execve -F uid=65534 -k {key}\n"


def event_filter(key: str) -> str:
    """An output ``filter`` (URL-quoted) keeping the exec events of *key* only: the
    CONFIG_CHANGE of loading the rule carries the key as well."""
    return urllib.parse.quote(f"type=SYSCALL key={key}", safe="")


def wait_until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Poll *condition* every 20 ms; fail naming *what* after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.02)


@dataclass
class DaemonProcess:
    """A started ``trioaudit daemon``; its stderr goes to a file (never a full pipe)."""

    proc: subprocess.Popen[bytes]
    stderr_path: Path
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_for_stderr(self, text: str, timeout: float = 20.0, after: int = 0) -> str:
        """Wait until *text* appears in stderr past offset *after*; fail if the daemon
        exits first. Returns the stderr so far."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.stderr()
            if text in seen[after:]:
                return seen
            assert self.proc.poll() is None, (
                f"the daemon exited {self.proc.returncode} before {text!r}: {seen[-3000:]}"
            )
            assert time.monotonic() < deadline, f"no {text!r} in {timeout}s: {seen[-3000:]}"
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait (bounded) for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def daemon_argv(tmp_path: Path, *args: str) -> list[str]:
    """The command line of a test daemon: its log in *tmp_path*, no rotation, spools in
    *tmp_path*, auditing on and a kernel backlog large enough that a storm of a few
    hundred execs is not lost (this machine's may be 64); then *args*."""
    return [
        *CLI,
        "daemon",
        "--log-file",
        str(tmp_path / "audit.log"),
        "--max-log-file",
        "0",
        "--spool-dir",
        str(tmp_path / "spool"),
        "--backlog-limit",
        "8192",
        "--enabled",
        "1",
        *args,
    ]


@contextlib.contextmanager
def running_daemon(
    tmp_path: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    argv: list[str] | None = None,
) -> Iterator[DaemonProcess]:
    """``trioaudit daemon`` (:func:`daemon_argv` of *args*, or *argv*), started and
    waited for until it says it is listening; always stopped (SIGTERM, then SIGKILL)."""
    stderr_path = tmp_path / "daemon.stderr"
    with open(stderr_path, "ab") as stderr:
        proc = subprocess.Popen(
            argv or daemon_argv(tmp_path, *args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=REPO,
            env=dict(env) if env is not None else None,
        )
    daemon = DaemonProcess(proc, stderr_path, tmp_path / "audit.log")
    try:
        daemon.wait_for_stderr("daemon listening")
        yield daemon
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def exec_as_nobody(argv: list[str], cwd: str = "/") -> None:
    """One audited exec: *argv* run as nobody (its failure is not ours to judge)."""
    subprocess.run([*NOBODY, *argv], capture_output=True, timeout=10, cwd=cwd, check=False)


def storm(count: int, pause: float = 0.0) -> None:
    """*count* execs of /bin/true as nobody, *pause* seconds apart."""
    for _ in range(count):
        exec_as_nobody(["/bin/true"])
        if pause:
            time.sleep(pause)


class BackgroundStorm:
    """Execs of /bin/true as nobody in a thread, *pause* apart, until :meth:`stop` or
    *limit* of them: events keep coming while the test cuts or kills something."""

    def __init__(self, pause: float, limit: int = 400) -> None:
        self.count = 0
        self._pause = pause
        self._limit = limit
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self.count < self._limit and not self._stopping.is_set():
            exec_as_nobody(["/bin/true"])
            self.count += 1
            self._stopping.wait(self._pause)

    def __enter__(self) -> BackgroundStorm:
        self._thread.start()
        return self

    def stop(self) -> int:
        """Stop, wait for the thread, return how many execs were made."""
        self._stopping.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the storm thread did not stop"
        return self.count

    def __exit__(self, *exc: object) -> None:
        self.stop()


_LOG_SYSCALL = re.compile(rb"^type=SYSCALL msg=audit\(\d+\.\d+:(\d+)\): .*\bkey=\"([^\"]*)\"")


def log_serials(log: Path, key: str) -> list[int]:
    """The serials of the SYSCALL records of *key* in an auditd-format log, in file
    order (RAW or ENRICHED: the key is in the raw part)."""
    try:
        data = log.read_bytes()
    except FileNotFoundError:
        return []
    serials = []
    for line in data.splitlines():
        match = _LOG_SYSCALL.match(line)
        if match and match.group(2) == key.encode():
            serials.append(int(match.group(1)))
    return serials


def wait_for_log(log: Path, key: str, count: int, timeout: float = 30.0) -> list[int]:
    """Wait until the log holds *count* events of *key*; return their serials.

    Only for a log whose daemon has stopped, or a test that makes more records after
    the ones it waits for: the running daemon's audit.log is written through a buffer
    flushed every ``fsync_every`` records, so its last records may not be in the file
    yet (see test_daemon_faults.py, test_the_log_is_current_while_the_daemon_runs).
    """
    deadline = time.monotonic() + timeout
    while len(found := log_serials(log, key)) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} events in {log}"
        time.sleep(0.02)
    return found


def stop_and_compare(
    daemon: DaemonProcess, server: Rsyslog, key: str, count: int, timeout: float = 40.0
) -> tuple[list[int], list[Shipped]]:
    """Wait (bounded, not asserted) until *server* has *count* distinct events, stop the
    daemon (exit 0), and return the serials its audit.log holds -- every one of the
    *count* events, checked -- and what the server received."""
    with contextlib.suppress(AssertionError):
        wait_until(
            lambda: len(distinct_serials(server.lines())) >= count,
            f"{count} events at rsyslog",
            timeout,
        )
    assert daemon.stop() == 0, daemon.stderr()[-3000:]
    expected = log_serials(daemon.log, key)
    assert len(expected) == count, f"{len(expected)} of {count} events in the audit.log"
    assert expected == sorted(set(expected))
    time.sleep(0.2)  # nothing more may come after the stop
    return expected, shipped(server.lines())


@dataclass(frozen=True)
class Shipped:
    """One event as a receiver wrote it: the RFC 5424 header's fields and the JSON."""

    procid: str
    app_name: str
    msgid: str
    serial: int
    key: str
    record_types: tuple[str, ...]


def parse_shipped(line: bytes) -> Shipped:
    """One ``%rawmsg%`` line: ``<PRI>1 TS HOST APP PROCID MSGID - {json}``."""
    parts = line.split(b" ", 7)
    assert len(parts) == 8 and parts[0].startswith(b"<") and parts[0].endswith(b">1"), line[:200]
    assert parts[6] == b"-", line[:200]
    event = json.loads(parts[7])
    keys = {
        record["fields"]["key"]
        for record in event["records"]
        if record["type"] == "SYSCALL" and "key" in record["fields"]
    }
    assert len(keys) == 1, event
    return Shipped(
        procid=parts[4].decode(),
        app_name=parts[3].decode(),
        msgid=parts[5].decode(),
        serial=int(event["sequence"]),
        key=keys.pop(),
        record_types=tuple(record["type"] for record in event["records"]),
    )


def shipped(lines: list[bytes]) -> list[Shipped]:
    return [parse_shipped(line) for line in lines]


def distinct_serials(lines: list[bytes]) -> set[int]:
    """The serials of the lines that parse, for waiting: a line being written may not
    yet (the final comparison parses every line strictly)."""
    found = set()
    for line in lines:
        try:
            found.add(parse_shipped(line).serial)
        except (AssertionError, ValueError, KeyError, TypeError):
            continue
    return found


def new_key(name: str) -> str:
    """A rule key unique to one test run: no event of an earlier run can match."""
    return f"ta-{name}-{secrets.token_hex(3)}"


def assert_exactly_once_in_order(got: list[Shipped], expected: list[int], key: str) -> None:
    assert [event.key for event in got] == [key] * len(got)
    serials = [event.serial for event in got]
    missing = sorted(set(expected) - set(serials))
    assert not missing, f"{len(missing)} events never arrived, e.g. {missing[:10]}"
    assert serials == expected, "duplicated or out of order"


def dedup(serials: list[int]) -> list[int]:
    """First arrival of each serial, in arrival order."""
    seen: set[int] = set()
    first = []
    for serial in serials:
        if serial not in seen:
            seen.add(serial)
            first.append(serial)
    return first


# ---- 1. shipping over TCP, TLS, RELP, RELP over TLS ---------------------------------------

N_EVENTS = 100


@pytest.mark.parametrize("transport", ["tcp", "tls", "relp", "relp+tls"])
def test_every_event_arrives_once_in_serial_order(
    raw_audit: RawAudit, tmp_path: Path, transport: str
) -> None:
    key = new_key("ship")
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(key))
    tls = None
    if transport in ("tls", "relp+tls"):
        tls = make_test_certs(tmp_path / "certs")
    kind = "relp" if transport.startswith("relp") else "tcp"
    with running_rsyslog(tmp_path / "rsyslog", kind, tls=tls) as server:
        scheme = {"tcp": "syslog+tcp", "tls": "syslog+tls"}.get(transport, transport)
        url = f"{scheme}://127.0.0.1:{server.port}?filter={event_filter(key)}"
        if tls is not None:
            url += f"&ca={tls.ca}&verify=true"
            if kind == "relp":  # imrelp (authMode certvalid) wants a client certificate
                url += f"&cert={tls.cert}&key={tls.key}"
        with running_daemon(tmp_path, "--rules", str(rules), "--output", url) as daemon:
            assert raw_audit.status()["pid"] == daemon.pid
            storm(N_EVENTS)
            expected, got = stop_and_compare(daemon, server, key, N_EVENTS)
        assert raw_audit.status()["pid"] == 0
    assert_exactly_once_in_order(got, expected, key)
    assert {(e.app_name, e.msgid, e.procid) for e in got} == {
        ("trioaudit", "audit", str(daemon.pid))
    }
    assert {e.record_types[0] for e in got} == {"SYSCALL"}
    assert all("EXECVE" in e.record_types for e in got)


@pytest.mark.parametrize("transport", ["syslog+tls", "relp+tls"])
def test_a_server_the_ca_did_not_sign_gets_nothing(
    raw_audit: RawAudit, tmp_path: Path, transport: str
) -> None:
    """``verify`` is on by default and means it: against a receiver whose certificate
    another CA signed, the daemon does not send a single event (it keeps them: spool)."""
    key = new_key("badca")
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(key))
    tls = make_test_certs(tmp_path / "certs")
    stranger = make_test_certs(tmp_path / "other")
    kind = "relp" if transport == "relp+tls" else "tcp"
    with running_rsyslog(tmp_path / "rsyslog", kind, tls=tls) as server:
        url = f"{transport}://127.0.0.1:{server.port}?filter={event_filter(key)}&ca={stranger.ca}"
        if kind == "relp":
            url += f"&cert={stranger.cert}&key={stranger.key}"
        args = ("--rules", str(rules), "--output", url, "--drain-timeout", "0.5")
        with running_daemon(tmp_path, *args) as daemon:
            storm(5)
            daemon.wait_for_stderr("retrying with backoff")
            time.sleep(1.0)  # a few more attempts
            assert server.lines() == []
            assert "certificate" in daemon.stderr().lower(), daemon.stderr()[-3000:]
            assert daemon.stop() == 0, daemon.stderr()[-3000:]
    assert raw_audit.status()["pid"] == 0


# ---- 2. a link cut for 5 s -----------------------------------------------------------------


def test_a_cut_link_loses_and_duplicates_nothing(raw_audit: RawAudit, tmp_path: Path) -> None:
    """rsyslog in a network namespace; its end of the veth set down for 5 s while events
    keep coming. TCP retransmits across the cut (the sender's send timeout, 60 s, is not
    reached, so it never reconnects and resends): everything arrives, once, in order."""
    key = new_key("cut")
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(key))
    with (
        veth_pair_netns("tacut") as link,
        running_rsyslog(
            tmp_path / "rsyslog", "tcp", host=link.namespace_address, netns=link.namespace
        ) as server,
    ):
        url = f"syslog+tcp://{link.namespace_address}:{server.port}?filter={event_filter(key)}"
        with running_daemon(tmp_path, "--rules", str(rules), "--output", url) as daemon:
            with BackgroundStorm(pause=0.02) as events:
                wait_until(lambda: len(server.lines()) >= 10, "the first events shipped")
                link.cut()
                try:
                    time.sleep(0.5)  # what was on the wire lands
                    during_cut = len(server.lines())
                    sent_at_cut = events.count
                    time.sleep(4.5)
                    after_cut = len(server.lines())
                    sent_during_cut = events.count - sent_at_cut
                finally:
                    link.restore()
                time.sleep(1.0)
                count = events.stop()
            expected, got = stop_and_compare(daemon, server, key, count)
    assert sent_during_cut > 20, "events were made during the cut"
    assert after_cut == during_cut, "the cut was real: nothing arrived across it"
    assert "retrying" not in daemon.stderr(), "TCP carried on: no reconnection, no resend"
    assert_exactly_once_in_order(got, expected, key)
    assert raw_audit.status()["pid"] == 0


# ---- 3. RELP: the receiver killed and restarted --------------------------------------------

RELP_WINDOW = 8


@pytest.mark.parametrize("frozen", [False, True], ids=["killed", "frozen-then-killed"])
def test_relp_survives_a_receiver_restart(
    raw_audit: RawAudit, tmp_path: Path, frozen: bool
) -> None:
    """rsyslog (imrelp, a direct main queue: acknowledged means written) SIGKILLed mid
    stream and restarted a second later: every event arrives; after removing duplicates
    by serial the order is exact; the duplicates (unacknowledged messages resent) are at
    most the window.

    ``frozen``: SIGSTOPped first while events keep coming, so that a full window of
    messages is sent and never acknowledged when the kill comes: they arrive only if the
    daemon sends them again after the restart."""
    key = new_key("relp")
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(key))
    with running_rsyslog(tmp_path / "rsyslog", "relp", direct_queue=True) as server:
        url = f"relp://127.0.0.1:{server.port}?window={RELP_WINDOW}&filter={event_filter(key)}"
        with running_daemon(tmp_path, "--rules", str(rules), "--output", url) as daemon:
            with BackgroundStorm(pause=0.01) as events:
                wait_until(lambda: len(server.lines()) >= 20, "the first events shipped")
                if frozen:
                    assert server.proc is not None
                    os.kill(server.proc.pid, signal.SIGSTOP)  # SIGKILL works on it too
                    at_freeze = events.count
                    wait_until(lambda: events.count >= at_freeze + 3 * RELP_WINDOW, "events")
                    written_at_kill = len(server.lines())
                server.kill()
                sent_at_kill = events.count
                time.sleep(1.0)
                server.start()
                wait_until(lambda: events.count >= sent_at_kill + 50, "events after the kill")
                count = events.stop()
            expected, got = stop_and_compare(daemon, server, key, count)
    serials = [event.serial for event in got]
    assert sorted(set(serials)) == expected, "every event arrived"
    assert dedup(serials) == expected, "in order, once duplicates are removed"
    duplicates = len(serials) - len(expected)
    assert 0 <= duplicates <= RELP_WINDOW, f"{duplicates} duplicates"
    if frozen:  # a window was in flight, unacknowledged, at the kill; all of it came again
        assert written_at_kill <= sent_at_kill - 3 * RELP_WINDOW
    assert "retrying with backoff" in daemon.stderr(), "the kill was noticed"
    assert raw_audit.status()["pid"] == 0


# ---- 4. Prometheus scraping the daemon -----------------------------------------------------


@pytest.mark.skipif(not have_prometheus(), reason="prometheus missing")
def test_prometheus_sees_delivered_and_dropped_messages(
    raw_audit: RawAudit, tmp_path: Path
) -> None:
    """Two outputs with the same filter: rsyslog over TCP, and a port nobody listens on
    (no spool, a queue of 5). The dead output is offered every event the live one gets;
    it keeps 5 in its queue and drops the rest, one message per event (json)."""
    key = new_key("prom")
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(key))
    metrics_port = free_port()
    dead = f"syslog+tcp://127.0.0.1:{free_port()}"
    with running_rsyslog(tmp_path / "rsyslog", "tcp") as server:
        live = f"syslog+tcp://127.0.0.1:{server.port}"
        with running_daemon(
            tmp_path,
            "--rules",
            str(rules),
            "--metrics-listen",
            f"127.0.0.1:{metrics_port}",
            "--output",
            f"{live}?filter={event_filter(key)}",
            "--output",
            f"{dead}?spool=false&queue_size=5&filter={event_filter(key)}",
            "--drain-timeout",  # the dead output would get all of the default 5 s
            "0.5",
        ) as daemon:
            assert f"metrics on 127.0.0.1:{metrics_port}" in daemon.stderr()
            storm(N_EVENTS)
            received = len(server.wait_for_lines(N_EVENTS, timeout=30))
            assert received == N_EVENTS
            with running_prometheus(tmp_path / "prometheus", [f"127.0.0.1:{metrics_port}"]) as p:

                def value_is(expected: float) -> Callable[[list[dict[str, object]]], bool]:
                    return lambda result: (
                        len(result) == 1
                        and float(
                            result[0]["value"][1]  # type: ignore[index]
                        )
                        == expected
                    )

                p.wait_for(f'trioaudit_output_events_total{{output="{live}"}}', value_is(received))
                p.wait_for(
                    f'trioaudit_output_dropped_total{{output="{dead}"}}',
                    value_is(N_EVENTS - 5),
                )
                p.wait_for(f'trioaudit_output_queue_depth{{output="{dead}"}}', value_is(5))
                p.wait_for(f'trioaudit_output_events_total{{output="{dead}"}}', value_is(0))
                p.wait_for(f'trioaudit_output_dropped_total{{output="{live}"}}', value_is(0))
                p.wait_for(f'trioaudit_output_connected{{output="{dead}"}}', value_is(0))
                p.wait_for(f'trioaudit_output_connected{{output="{live}"}}', value_is(1))
                lost = p.wait_for("trioaudit_kernel_lost")
                assert len(lost) == 1 and float(lost[0]["value"][1]) >= 0
                records = p.wait_for("trioaudit_records_received_total")
                assert float(records[0]["value"][1]) > 0
                assert p.metadata("trioaudit_output_dropped_total")[0]["type"] == "counter"
                assert p.metadata("trioaudit_kernel_lost")[0]["type"] == "gauge"
            assert daemon.stop() == 0, daemon.stderr()[-3000:]
    assert len(log_serials(daemon.log, key)) == N_EVENTS
    assert raw_audit.status()["pid"] == 0


# ---- 5. systemd's readiness protocol -------------------------------------------------------


class NotifySocket:
    """The ``$NOTIFY_SOCKET`` of a service manager: an abstract datagram socket."""

    def __init__(self) -> None:
        self.name = f"trioaudit-test-{secrets.token_hex(6)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)

    @property
    def address(self) -> str:
        return "@" + self.name

    def receive(self, timeout: float = 20.0) -> dict[str, str]:
        """The next datagram's ``KEY=VALUE`` states."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536).decode()
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    def pending(self) -> list[dict[str, str]]:
        """The datagrams waiting now (none: an empty list)."""
        found = []
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(65536).decode()
                found.append(dict(line.split("=", 1) for line in data.splitlines() if "=" in line))
        except BlockingIOError:
            return found

    def close(self) -> None:
        self.sock.close()


def test_sd_notify_ready_reloading_stopping(raw_audit: RawAudit, tmp_path: Path) -> None:
    key = new_key("notify")
    rules = tmp_path / "exec.rules"
    rules.write_text(exec_rule(key))
    config = tmp_path / "daemon.toml"
    config.write_text(f'rules = "{rules}"\n[status]\nrate_limit = 0\n')
    notify = NotifySocket()
    try:
        env = {**os.environ, "NOTIFY_SOCKET": notify.address}
        with running_daemon(tmp_path, "--config", str(config), env=env) as daemon:
            ready = notify.receive()
            # READY=1 once registered with the rules loaded: nothing before it.
            assert ready["READY"] == "1" and ready["MAINPID"] == str(daemon.pid), ready
            assert "listening" in ready["STATUS"]
            assert raw_audit.status()["pid"] == daemon.pid
            assert len(raw_audit.rules()) >= 1
            assert notify.pending() == []
            offset = len(daemon.stderr())
            daemon.proc.send_signal(signal.SIGHUP)
            reloading = notify.receive()
            assert reloading.get("RELOADING") == "1", reloading
            again = notify.receive()
            assert again.get("READY") == "1" and again["MAINPID"] == str(daemon.pid), again
            daemon.wait_for_stderr("reloaded", after=offset)
            assert notify.pending() == []
            assert daemon.stop() == 0, daemon.stderr()[-3000:]
            stopping = notify.receive()
            assert stopping.get("STOPPING") == "1", stopping
            assert notify.pending() == []
    finally:
        notify.close()
    assert raw_audit.status()["pid"] == 0
