"""The daemon over the fake kernel: outputs, filters, formats, stop, reload, metrics, sd_notify."""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from tests.support.fake_kernel import FakeKernel
from tests.support.fake_transport import open_fake_client
from trioaudit._daemon.config import DaemonConfig, load_config
from trioaudit._daemon.notify import Notifier, watchdog_interval
from trioaudit._daemon.service import Daemon
from trioaudit._errors import AuditUsageError
from trioaudit._output.metrics import render_exposition
from trioaudit._tables.msgtypes import AuditMessageType as T
from trioaudit._trio.signals import UnfinishedCleanup

SYSCALL = (
    "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid={pid} "
    'auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="true" '
    'exe="/usr/bin/true" key="{key}"'
)


def _emit_exec(kernel: FakeKernel, serial: int, key: str) -> None:
    kernel.emit(T.SYSCALL, SYSCALL.format(pid=serial, key=key), serial=serial, stamp=1700000000.5)
    kernel.emit(T.EOE, "", serial=serial, stamp=1700000000.5)


def _config(tmp_path: Path, text: str) -> tuple[Path, DaemonConfig]:
    path = tmp_path / "daemon.toml"
    path.write_text(f'spool_dir = "{tmp_path / "spool"}"\n' + text)
    return path, load_config(str(path), {})


async def _until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(10):
        # The conditions read counters and files that no trio.Event announces.
        while not condition():  # noqa: ASYNC110
            await trio.sleep(0.01)


async def test_every_output_gets_its_events_in_its_format_and_filter(tmp_path: Path) -> None:
    kernel = FakeKernel(enabled=0)
    rules = tmp_path / "audit.rules"
    rules.write_text("-b 256\n-a always,exit -F arch=b64 -S execve -k exec\n")
    _, config = _config(
        tmp_path,
        f'rules = "{rules}"\n'
        f"[status]\nenabled = 1\nrate_limit = 50\n"
        f'[log]\nfile = "{tmp_path / "audit.log"}"\nformat = "raw"\n'
        f'[[output]]\nurl = "jsonl:{tmp_path / "events.jsonl"}"\nfilter = "key=keep"\n'
        f'[[output]]\nurl = "stdout"\nformat = "enriched"\n',
    )
    stdout = io.BytesIO()
    daemon = Daemon(config, open_client=lambda: open_fake_client(kernel, "unicast"), stdout=stdout)
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.run, UnfinishedCleanup())
        assert (kernel.enabled, kernel.rate_limit, kernel.backlog_limit) == (1, 50, 256)
        assert len(kernel.rules) == 1 and kernel.pid != 0
        _emit_exec(kernel, 2001, "keep")
        _emit_exec(kernel, 2002, "drop")
        await _until(lambda: b":2002): " in stdout.getvalue())
        nursery.cancel_scope.cancel()  # as SIGTERM does
    assert kernel.pid == 0  # unregistered at the stop
    log_lines = (tmp_path / "audit.log").read_bytes().splitlines()
    # The kernel logs the rule and the settings as CONFIG_CHANGE records; they are kept too.
    assert any(line.startswith(b"type=CONFIG_CHANGE msg=audit(") for line in log_lines)
    execs = [line for line in log_lines if line.startswith(b"type=SYSCALL msg=")]
    assert len(execs) == 2 and b"audit(1700000000.500:2001)" in execs[0]
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [event["sequence"] for event in events] == [2001]  # its filter kept one
    enriched = [line for line in stdout.getvalue().splitlines() if b"type=SYSCALL" in line]
    assert len(enriched) == 2
    assert all(b"\x1dARCH=x86_64 SYSCALL=execve" in line for line in enriched)
    by_name = {route.name: route.output.statistics() for route in daemon.routes}
    assert by_name[f"jsonl:{tmp_path / 'events.jsonl'}"].delivered == 1
    assert by_name["stdout"].delivered == len(stdout.getvalue().splitlines())
    assert daemon.routes[1].filtered == daemon.events_read - 1


async def test_the_stop_completes_open_events_and_keeps_the_rest_in_the_spool(
    tmp_path: Path,
) -> None:
    kernel = FakeKernel()
    _, config = _config(
        tmp_path,
        'drain_timeout = 0.2\n[log]\nfile = ""\n'
        '[[output]]\nurl = "syslog+tcp://127.0.0.1:9"\nfilter = "key=k,open"\n',  # refused
    )
    daemon = Daemon(config, open_client=lambda: open_fake_client(kernel, "unicast"))
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.run, UnfinishedCleanup())
        for serial in range(3001, 3011):
            _emit_exec(kernel, serial, "k")
        # One event still open: no EOE yet when the stop comes.
        kernel.emit(T.SYSCALL, SYSCALL.format(pid=1, key="open"), serial=3011)
        await _until(lambda: daemon.client is not None and daemon.events_read >= 10)
        nursery.cancel_scope.cancel()
    stats = daemon.routes[0].output.statistics()
    assert (stats.delivered, stats.dropped) == (0, 0)
    assert stats.spooled_messages == 11  # ten complete events and the open one: none lost
    assert daemon.routes[0].filtered == daemon.events_read - 11


async def test_reload_applies_rules_status_and_filters_and_refuses_a_bad_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kernel = FakeKernel()
    path, config = _config(
        tmp_path,
        f'[status]\nrate_limit = 10\n[log]\nfile = ""\n'
        f'[[output]]\nurl = "jsonl:{tmp_path / "e.jsonl"}"\nfilter = "key=a"\n',
    )
    daemon = Daemon(
        config,
        open_client=lambda: open_fake_client(kernel, "unicast"),
        reload=lambda: load_config(str(path), {}),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.run, UnfinishedCleanup())
        assert kernel.rate_limit == 10
        path.write_text(
            path.read_text().replace("rate_limit = 10", "rate_limit = 20").replace("key=a", "key=b")
        )
        await daemon.reload()
        assert kernel.rate_limit == 20
        _emit_exec(kernel, 4001, "a")
        _emit_exec(kernel, 4002, "b")
        await _until(lambda: daemon.routes[0].output.statistics().delivered == 1)
        path.write_text("rate_limit = [\n")
        await daemon.reload()  # refused: the running settings stay
        assert "reload refused" in caplog.text
        assert daemon.config.status.rate_limit == 20
        nursery.cancel_scope.cancel()
    (event,) = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert event["sequence"] == 4002
    assert daemon.reloads == 1


async def test_rotate_rotates_every_file(tmp_path: Path) -> None:
    kernel = FakeKernel()
    _, config = _config(
        tmp_path,
        f'[log]\nfile = "{tmp_path / "audit.log"}"\n'
        f'[[output]]\nurl = "jsonl:{tmp_path / "e.jsonl"}"\nfilter = "key=k"\n',
    )
    daemon = Daemon(config, open_client=lambda: open_fake_client(kernel, "unicast"))
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.run, UnfinishedCleanup())
        _emit_exec(kernel, 5001, "k")
        await _until(lambda: all(r.output.statistics().delivered for r in daemon.routes))
        await daemon.rotate()
        nursery.cancel_scope.cancel()
    assert (tmp_path / "audit.log.1").stat().st_mode & 0o777 == 0o400
    assert (tmp_path / "e.jsonl.1").read_text().count("\n") == 1
    assert (tmp_path / "e.jsonl").read_text() == ""


async def test_metrics_are_served_and_name_every_output(tmp_path: Path) -> None:
    kernel = FakeKernel()
    _, config = _config(
        tmp_path,
        f'metrics_listen = "127.0.0.1:0"\n[log]\nfile = "{tmp_path / "audit.log"}"\n',
    )
    daemon = Daemon(config, open_client=lambda: open_fake_client(kernel, "unicast"))
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.run, UnfinishedCleanup())
        _emit_exec(kernel, 6001, "k")
        await _until(lambda: daemon.routes[0].output.statistics().delivered == 1)
        await _until(lambda: daemon.kernel_status is not None)
        assert daemon.metrics_address is not None
        stream = await trio.open_tcp_stream(*daemon.metrics_address)
        await stream.send_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some():
                body += chunk
        nursery.cancel_scope.cancel()
    assert body.startswith(b"HTTP/1.1 200")
    log_output = f'output="log:{tmp_path / "audit.log"}"'.encode()
    assert b"trioaudit_output_events_total{" + log_output + b"} 1" in body
    received = re.search(rb"\ntrioaudit_records_received_total (\d+)\n", body)
    assert received is not None and int(received[1]) >= 2  # SYSCALL and EOE, and more
    for name in (b"trioaudit_kernel_lost ", b"trioaudit_kernel_backlog ", b"_queue_depth{"):
        assert name in body
    render_exposition(daemon.collect_metrics())  # valid after the stop too


def test_a_bad_filter_or_unwritable_file_is_named_before_the_kernel(tmp_path: Path) -> None:
    _, config = _config(tmp_path, '[[output]]\nurl = "stdout"\nfilter = "type=("\n')
    with pytest.raises(AuditUsageError, match=r"output\[0\] stdout\.filter"):
        Daemon(config).build_routes()
    _, config = _config(tmp_path, f'[log]\nfile = "{tmp_path / "no" / "dir" / "a.log"}"\n')
    with pytest.raises(AuditUsageError, match=r"log.file .*No such file"):
        Daemon(config).build_routes()
    _, config = _config(
        tmp_path, '[log]\nfile = ""\n[[output]]\nurl = "syslog+tls://h:6514"\nca = "/nonexistent"\n'
    )
    with pytest.raises(AuditUsageError, match="ca: cannot read /nonexistent"):
        Daemon(config).build_routes()
    _, config = _config(tmp_path, 'metrics_listen = "9464"\n[log]\nfile = ""\n')
    with pytest.raises(AuditUsageError, match="metrics_listen"):
        Daemon(config).build_routes()


def test_notifier_speaks_sd_notify_to_a_path_and_the_abstract_namespace(tmp_path: Path) -> None:
    for address in (str(tmp_path / "notify"), f"@trioaudit-test-{id(tmp_path)}"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
            server.bind(address.replace("@", "\0", 1))
            server.settimeout(5)
            notifier = Notifier(address)
            assert notifier.ready("up")
            assert notifier.stopping()
            ready = server.recv(4096).decode().split("\n")
            assert ready[:2] == ["READY=1", "STATUS=up"] and ready[2].startswith("MAINPID=")
            assert server.recv(4096).decode().startswith("STOPPING=1\n")
    assert not Notifier(None).ready("nobody listens")  # no $NOTIFY_SOCKET: nothing sent
    failing = Notifier(str(tmp_path / "nobody"))
    assert not failing.ready("x") and not failing.ready("y")  # logged once, never raised


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    assert watchdog_interval() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "x")
    monkeypatch.delenv("WATCHDOG_PID")
    assert watchdog_interval() is None
