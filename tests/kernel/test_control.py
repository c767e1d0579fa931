"""Control-plane operations against the live kernel (library and CLI), with auditctl as the peer.

Every test runs under ``audit_state`` (status and rules saved and restored);
settings that live elsewhere (features, this process's TTY auditing) are put
back by the tests themselves.
"""

from __future__ import annotations

import errno
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

import trioaudit
from tests.support.kernelstate import RawAudit
from trioaudit import AuditMessageType as T
from trioaudit import AuditUsageError, NetlinkError

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("status_restored")]

CLI = [sys.executable, "-m", "trioaudit.cli.main"]
HOLDER = Path(__file__).parents[1] / "support" / "daemon_holder.py"
AUDITCTL = shutil.which("auditctl")
needs_auditctl = pytest.mark.skipif(AUDITCTL is None, reason="auditctl is not installed")

#: ``auditctl -s`` values that change on their own between two runs.
VOLATILE = {"lost", "backlog", "backlog_wait_time_actual"}
#: Bounds of the record storm that makes ``lost`` non-zero.
STORM_SYSCALLS = 20_000
STORM_SECONDS = 20.0
#: Seconds to wait for a record to come back through multicast.
RECORD_TIMEOUT = 10.0
STORM_KEY = "trioaudit-test-lost"
STORM_RULE = ("always,exit", "-F", "arch=b64", "-S", "getppid", "-k", STORM_KEY)


@pytest.fixture
def status_restored(audit_state: object, raw_audit: RawAudit) -> Iterator[None]:
    """Put back the status fields these tests change, before ``audit_state`` does.

    A second line of defence: ``audit_state`` restores rules first and status
    after, so a rule it cannot restore (another process changed rules
    meanwhile) would leave a storm's tiny backlog limit in place.
    """
    saved = raw_audit.status()
    try:
        yield
    finally:
        auditctl_quiet("-d", *STORM_RULE)
        raw_audit.set_status(
            1 | 8 | 16 | 32,  # enabled, rate_limit, backlog_limit, backlog_wait_time
            enabled=saved["enabled"],
            rate_limit=saved["rate_limit"],
            backlog_limit=saved["backlog_limit"],
            backlog_wait_time=saved["backlog_wait_time"],
        )


def auditctl_quiet(*args: str) -> None:
    if AUDITCTL is not None:
        subprocess.run([AUDITCTL, *args], capture_output=True, timeout=30, check=False)


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def auditctl(*args: str) -> subprocess.CompletedProcess[str]:
    assert AUDITCTL is not None
    return subprocess.run([AUDITCTL, *args], capture_output=True, text=True, timeout=30)


def _status_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        pairs.append((key, "*" if key in VOLATILE else value))
    return pairs


# ---- status parity -------------------------------------------------------------------


@needs_auditctl
def test_status_text_equals_auditctl_s() -> None:
    ours = cli("status")
    theirs = auditctl("-s")
    assert ours.returncode == 0, ours.stderr
    assert theirs.returncode == 0, theirs.stderr
    assert _status_pairs(ours.stdout) == _status_pairs(theirs.stdout)
    # The kernel here has both optional lines; we print them exactly when auditctl does.
    keys = [key for key, _ in _status_pairs(ours.stdout)]
    assert keys[-2:] == ["backlog_wait_time_actual", "loginuid_immutable"]


@needs_auditctl
def test_status_interpreted_equals_auditctl_s_i() -> None:
    ours = cli("status", "-i")
    assert ours.returncode == 0, ours.stderr
    assert _status_pairs(ours.stdout) == _status_pairs(auditctl("-s", "-i").stdout)


@needs_auditctl
def test_status_text_follows_a_change(raw_audit: RawAudit) -> None:
    raw_audit.set_status(8, rate_limit=123)  # MASK_RATE
    assert ("rate_limit", "123") in _status_pairs(cli("status").stdout)
    assert _status_pairs(cli("status").stdout) == _status_pairs(auditctl("-s").stdout)


def test_status_json_carries_loginuid_immutable() -> None:
    data = json.loads(cli("status", "--json").stdout)
    assert data["loginuid_immutable"] == {"value": 0, "locked": False}
    assert isinstance(data["backlog_wait_time_actual"], int)


def test_status_watch_piped_prints_json_lines_with_deltas() -> None:
    result = cli("status", "--watch", "0.1", "--count", "3")
    assert result.returncode == 0, result.stderr
    samples = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(samples) == 3
    assert samples[0]["lost_delta"] is None
    assert samples[0]["backlog_wait_time_actual_delta"] is None
    for sample in samples[1:]:
        assert isinstance(sample["lost_delta"], int) and sample["lost_delta"] >= 0
        assert isinstance(sample["backlog_wait_time_actual_delta"], int)
    times = [sample["time"] for sample in samples]
    assert times == sorted(times) and times[-1] - times[0] >= 0.18


def test_status_watch_in_a_terminal_redraws_in_place() -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [*CLI, "status", "--watch", "0.1", "--count", "2"],
            stdout=terminal,
            stderr=subprocess.PIPE,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        output = b""
        while select.select([controller], [], [], 0.5)[0]:
            chunk = os.read(controller, 65536)
            if not chunk:
                break
            output += chunk
    finally:
        os.close(controller)
        os.close(terminal)
    text = output.decode()
    assert text.count("\x1b[H") == 3  # clear once, then one frame per sample
    assert "\x1b[J" in text and "{" not in text
    assert re.search(r"lost \d+  \([+-]\d+ in 0\.1s\)", text)
    assert re.search(r"backlog_wait_time_actual \d+  \([+-]\d+ in 0\.1s\)", text)
    assert "loginuid_immutable 0 unlocked" in text


# ---- counters ------------------------------------------------------------------------


def _storm_until_lost(raw_audit: RawAudit) -> int:
    """Make the kernel lose records: tiny backlog, no waiting, no daemon, one busy rule."""
    raw_audit.set_status(1, enabled=1)
    raw_audit.set_status(16 | 32, backlog_limit=1, backlog_wait_time=0)
    added = auditctl("-a", *STORM_RULE)
    assert added.returncode == 0, added.stderr
    try:
        deadline = time.monotonic() + STORM_SECONDS
        for _ in range(STORM_SYSCALLS // 1000):
            for _ in range(1000):
                os.getppid()
            if raw_audit.status()["lost"] > 0 or time.monotonic() > deadline:
                break
    finally:
        auditctl("-d", *STORM_RULE)
        # Back to a sane backlog so the reset's own CONFIG_CHANGE record is not lost.
        raw_audit.set_status(16 | 32, backlog_limit=8192, backlog_wait_time=15000)
    return raw_audit.status()["lost"]


@needs_auditctl
async def test_reset_lost_returns_old_value_and_zeroes_it(raw_audit: RawAudit) -> None:
    lost = _storm_until_lost(raw_audit)
    assert lost > 0, "the storm did not make the kernel lose records"
    async with trioaudit.open_audit_client("control") as client:
        old = await client.reset_lost()
        after = (await client.get_status()).lost
    assert old >= lost
    assert after == 0


@needs_auditctl
def test_cli_reset_lost(raw_audit: RawAudit) -> None:
    lost = _storm_until_lost(raw_audit)
    assert lost > 0
    result = cli("reset-lost", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["lost"] >= lost
    assert raw_audit.status()["lost"] == 0
    text = cli("reset-lost")
    assert text.returncode == 0 and text.stdout.startswith("lost: ")


async def test_reset_backlog_wait_time_actual(raw_audit: RawAudit) -> None:
    async with trioaudit.open_audit_client("control") as client:
        before = (await client.get_status()).backlog_wait_time_actual
        assert before is not None
        old = await client.reset_backlog_wait_time_actual()
        assert old >= before
        assert (await client.get_status()).backlog_wait_time_actual == 0
    result = cli("reset-backlog-wait-time-actual")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("backlog_wait_time_actual: ")


# ---- features ------------------------------------------------------------------------


@needs_auditctl
async def test_features_round_trip_and_match_auditctl() -> None:
    async with trioaudit.open_audit_client("control") as client:
        features = await client.get_features()
        original = features.state("loginuid_immutable")
        assert original is not None and not original.locked, "feature locked: cannot test"
        assert original.status_line() in auditctl("-s").stdout.splitlines()
        try:
            state = await client.set_feature("loginuid_immutable", not original.value)
            assert (state.value, state.locked) == (not original.value, False)
            assert state.status_line() in auditctl("-s").stdout.splitlines()
        finally:
            restored = await client.set_feature("loginuid_immutable", original.value)
        assert restored == original


async def test_feature_lock_needs_confirmation() -> None:
    async with trioaudit.open_audit_client("control") as client:
        before = await client.get_features()
        with pytest.raises(AuditUsageError, match="confirm=True"):
            await client.set_feature("loginuid_immutable", False, lock=True)
        assert await client.get_features() == before


def test_cli_features() -> None:
    result = cli("features", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"only_unset_loginuid", "loginuid_immutable"}
    original = data["only_unset_loginuid"]["value"]
    flipped = "0" if original else "1"
    try:
        changed = cli("features", "set", "only_unset_loginuid", flipped)
        assert changed.returncode == 0, changed.stderr
        assert changed.stdout.strip() == f"only_unset_loginuid {flipped} unlocked"
    finally:
        assert cli("features", "set", "only_unset_loginuid", str(original)).returncode == 0
    refused = cli("features", "set", "loginuid_immutable", "0", "--lock")
    assert refused.returncode == 2 and "--force" in refused.stderr


# ---- signal info ---------------------------------------------------------------------


def _terminate_a_daemon() -> None:
    """Start a stand-in audit daemon and send it SIGTERM from this process."""
    holder = _start_holder()
    try:
        os.kill(holder.pid, signal.SIGTERM)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def _loginuid() -> int:
    return int(Path("/proc/self/loginuid").read_text())


async def test_signal_info_names_who_signalled_the_daemon() -> None:
    _terminate_a_daemon()
    async with trioaudit.open_audit_client("control") as client:
        info = await client.get_signal_info()
    assert info.pid == os.getpid()
    auid = _loginuid()
    assert info.uid == (auid if auid != 0xFFFFFFFF else os.getuid())
    assert info.context is None or isinstance(info.context, str)
    result = cli("signal-info", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pid"] == os.getpid()


def _start_holder() -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, str(HOLDER)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_cli_signal_daemon_then_signal_info(raw_audit: RawAudit) -> None:
    holder = _start_holder()
    try:
        # While our holder lives and is registered, the kernel lets nobody else
        # register: the signal can only reach our own stand-in daemon.
        assert raw_audit.status()["pid"] == holder.pid
        sender = subprocess.Popen(
            [*CLI, "signal-daemon", "term"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = sender.communicate(timeout=30)
        assert sender.returncode == 0, err
        assert out.decode().strip() == f"sent SIGTERM to the audit daemon (pid {holder.pid})"
        assert holder.wait(timeout=10) == -signal.SIGTERM
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    info = json.loads(cli("signal-info", "--json").stdout)
    assert info["pid"] == sender.pid


def test_cli_signal_daemon_without_daemon(raw_audit: RawAudit) -> None:
    if raw_audit.status()["pid"]:
        pytest.skip("an audit daemon is registered")
    result = cli("signal-daemon", "HUP")
    assert result.returncode == 1 and "no audit daemon is registered" in result.stderr
    assert cli("signal-daemon", "KILL").returncode == 2


async def test_trim() -> None:
    async with trioaudit.open_audit_client("control") as client:
        await client.trim()
    assert cli("trim").returncode == 0


def test_cli_immutable_refused_without_force(raw_audit: RawAudit) -> None:
    # Never run with --force here: it would lock the kernel's audit state until reboot.
    before = raw_audit.status()["enabled"]
    result = cli("immutable")
    assert result.returncode == 2 and "--force" in result.stderr
    assert raw_audit.status()["enabled"] == before != 2


# ---- user messages -------------------------------------------------------------------


async def _send_and_catch(
    send: object, token: str, *, msg_type: int = T.USER
) -> trioaudit.KernelRecord:
    """Send (an async callable or a CLI argv) and return the record carrying *token*."""
    async with trioaudit.open_audit_client("control") as control:
        await control.set_enabled(True)
    async with (
        trioaudit.open_audit_client("multicast") as listener,
        listener.records() as records,
    ):
        if callable(send):
            await send()
        else:
            assert isinstance(send, list)
            done = await trio.run_process(send, capture_stderr=True, check=False)
            assert done.returncode == 0, done.stderr
        with trio.fail_after(RECORD_TIMEOUT):
            async for record in records:
                if record.type == msg_type and token in record.text:
                    return record
    raise AssertionError("unreachable")


async def test_user_message_comes_back_intact() -> None:
    token = uuid.uuid4().hex
    text = f"trioaudit test {token} with spaces, quotes ' \" and ünïcode"

    async def send() -> None:
        async with trioaudit.open_audit_client("control") as client:
            await client.send_user_message(text)

    record = await _send_and_catch(send, token)
    assert f"msg='{text}'" in record.text
    assert f" pid={os.getpid()} " in record.text


async def test_user_message_of_another_type() -> None:
    token = uuid.uuid4().hex

    async def send() -> None:
        async with trioaudit.open_audit_client("control") as client:
            await client.send_user_message(f"op=test {token}", type="USYS_CONFIG")

    record = await _send_and_catch(send, token, msg_type=T.USYS_CONFIG)
    assert f"msg='op=test {token}'" in record.text


@needs_auditctl
async def test_cli_log_matches_auditctl_m() -> None:
    token = uuid.uuid4().hex
    ours = await _send_and_catch([*CLI, "log", f"ours {token}"], token)
    assert AUDITCTL is not None
    theirs = await _send_and_catch([AUDITCTL, "-m", f"theirs {token}"], token)

    def fields(record: trioaudit.KernelRecord) -> list[str]:
        message = record.text.split("msg='", 1)[1].rstrip("'")
        return [part.split("=", 1)[0] for part in message.split(" ") if "=" in part]

    assert fields(ours) == fields(theirs)
    assert f"msg='text=ours {token} exe=" in ours.text
    assert ours.text.endswith("res=success'")


async def test_user_message_type_refused_before_sending() -> None:
    async with trioaudit.open_audit_client("control") as client:
        with pytest.raises(AuditUsageError):
            await client.send_user_message("x", type=T.SYSCALL)
    result = cli("log", "--type", "1300", "x")
    assert result.returncode == 2


# ---- TTY auditing --------------------------------------------------------------------


async def test_tty_audit_round_trip_and_restore() -> None:
    async with trioaudit.open_audit_client("control") as client:
        original = await client.get_tty_audit()
        try:
            previous = await client.set_tty_audit(True, True)
            assert previous == original
            assert await client.get_tty_audit() == trioaudit.TtyAuditStatus(True, True)
            await client.set_tty_audit(True, False)
            assert await client.get_tty_audit() == trioaudit.TtyAuditStatus(True, False)
        finally:
            await client.set_tty_audit(original.enabled, original.log_passwd)
        assert await client.get_tty_audit() == original


def test_cli_tty_set_runs_the_command_with_the_setting() -> None:
    inner = " ".join([*CLI, "tty", "--json"])
    result = cli("tty", "set", "on", "--log-passwd", "--", "sh", "-c", inner)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"enabled": True, "log_passwd": True}
    # The setting went to the child only, not to us.
    assert json.loads(cli("tty", "--json").stdout)["enabled"] is False
    refused = cli("tty", "set", "on")
    assert refused.returncode == 2 and "command" in refused.stderr


# ---- errors --------------------------------------------------------------------------


async def test_kernel_einval_names_the_operation() -> None:
    async with trioaudit.open_audit_client("control") as client:
        with pytest.raises(NetlinkError) as caught:
            await client.request(T.TTY_SET, struct.pack("=2I", 2, 0), operation="set tty auditing")
    assert caught.value.errno == errno.EINVAL
    assert str(caught.value).startswith("set tty auditing: kernel said EINVAL")


async def test_kernel_einval_gets_the_operations_hint() -> None:
    async with trioaudit.open_audit_client("control") as client:
        with pytest.raises(NetlinkError) as caught:
            await client._control_request(T.TTY_SET, struct.pack("=2I", 0, 7), "set tty auditing")
    assert caught.value.errno == errno.EINVAL
    assert caught.value.__notes__ == ["enabled and log_passwd must each be 0 or 1"]


async def test_resets_refused_on_kernels_without_them(monkeypatch: pytest.MonkeyPatch) -> None:
    async def old_kernel_status() -> trioaudit.AuditStatus:
        # A 3.x kernel: no LOST_RESET in feature_bitmap, no backlog_wait_time_actual.
        return trioaudit.AuditStatus(0, 1, 1, 0, 0, 64, 5, 0, 0x3, 15000, None)

    async with trioaudit.open_audit_client("control") as client:
        monkeypatch.setattr(client, "get_status", old_kernel_status)
        with pytest.raises(trioaudit.AuditUnsupported, match="LOST_RESET"):
            await client.reset_lost()
        with pytest.raises(trioaudit.AuditUnsupported, match=r"5\.10"):
            await client.reset_backlog_wait_time_actual()


UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv is not installed")
@pytest.mark.parametrize(
    ("args", "operation", "hint"),
    [
        (["log", "hello"], "send user message", "CAP_AUDIT_WRITE"),
        (["features"], "get features", "CAP_AUDIT_CONTROL"),
        (["signal-info"], "get signal info", "CAP_AUDIT_CONTROL"),
        (["tty"], "get tty auditing", "CAP_AUDIT_CONTROL"),
        (["reset-lost"], "get status", "CAP_AUDIT_CONTROL"),
    ],
)
def test_eperm_without_capabilities(args: list[str], operation: str, hint: str) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [*UNPRIVILEGED, *CLI, *args], capture_output=True, text=True, timeout=30, env=env
    )
    assert result.returncode == 77, result.stderr
    assert f"trioaudit: {operation}: kernel said EPERM" in result.stderr
    assert hint in result.stderr
    if hint == "CAP_AUDIT_WRITE":  # the operation's hint, not the generic one
        assert "CAP_AUDIT_CONTROL" not in result.stderr
