"""Conflict faults: another live process holds the audit pid; kernel errnos by name.

A helper process (``tests/support/daemon_holder.py``) registers its own pid with
``AUDIT_SET`` mask=4 and keeps reading its socket, like a running auditd.
Then:

* ``mode="unicast"`` raises :class:`AuditDaemonRunning` naming its pid and
  process name, and the CLI says so with exit code 69;
* ``mode="auto"`` (library and CLI) listens on multicast beside it and
  receives records; the daemon is never displaced;
* once the helper is killed, its dead registration no longer blocks
  unicast, and the ``audit_state`` fixture releases the pid.

Kernel refusals surface as :class:`NetlinkError` with the errno's name:
``EEXIST`` (registering over a live daemon), ``EACCES`` (unregistering
someone else), ``EINVAL`` (registering a pid that is not ours, or an
out-of-range value), ``EPERM`` (see ``test_faults_permission``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import trio

from tests.support.hardening_helpers import foreign_daemon, send_user_message
from tests.support.kernelstate import MASK_ENABLED, RawAudit
from trioaudit import (
    AuditDaemonRunning,
    AuditMessageType,
    NetlinkError,
    open_audit_client,
)

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

CLI = [sys.executable, "-m", "trioaudit.cli.main"]
DAEMON_RUNNING = 69


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as comm:
        return comm.read().strip()


async def test_unicast_names_the_live_daemon_and_auto_listens_beside_it(
    raw_audit: RawAudit,
) -> None:
    raw_audit.set_status(MASK_ENABLED, enabled=1)
    tag = f"trioaudit-conflict-{os.getpid()}"
    with foreign_daemon() as holder:
        with pytest.raises(AuditDaemonRunning) as info:
            async with open_audit_client("unicast"):
                pass
        assert info.value.pid == holder.pid
        assert info.value.comm == _comm(holder.pid)
        assert f"pid {holder.pid} ({_comm(holder.pid)})" in str(info.value)
        assert raw_audit.status()["pid"] == holder.pid

        with trio.fail_after(10):
            async with open_audit_client("auto") as client, client.records() as records:
                assert client.mode == "multicast" and not client.registered
                await trio.to_thread.run_sync(send_user_message, tag.encode())
                async for record in records:
                    if record.type == AuditMessageType.USER and tag in record.text:
                        break
        assert raw_audit.status()["pid"] == holder.pid, "the daemon was displaced"
        holder.kill()
        holder.wait()
    # Dead holder: its registration no longer blocks unicast.
    async with open_audit_client("unicast") as client:
        assert client.registered and (await client.get_status()).pid == os.getpid()
    assert raw_audit.status()["pid"] == 0


def test_cli_unicast_conflict_exit_code_and_auto_fallback(raw_audit: RawAudit) -> None:
    raw_audit.set_status(MASK_ENABLED, enabled=1)
    with foreign_daemon() as holder:
        result = subprocess.run(
            [*CLI, "tail", "--unicast", "--count", "1", "--duration", "5"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == DAEMON_RUNNING, result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr
        assert str(holder.pid) in result.stderr and "multicast" in result.stderr

        tail = subprocess.Popen(
            [*CLI, "-v", "tail", "--duration", "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert tail.stderr is not None
        # Wait until it is listening, then make a record it must see.
        line = tail.stderr.readline()
        assert "multicast" in line, line
        tag = f"trioaudit-cli-conflict-{os.getpid()}"
        send_user_message(tag.encode())
        out, err = tail.communicate(timeout=20)
        assert tail.returncode == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        records = [record for event in events for record in event["records"]]
        assert any(r["type"] == "USER" and tag in r.get("msg", "") for r in records), out[-2000:]
        assert raw_audit.status()["pid"] == holder.pid


async def test_kernel_errnos_surface_with_their_names(raw_audit: RawAudit) -> None:
    with foreign_daemon() as holder:
        async with open_audit_client("control") as client:
            with pytest.raises(NetlinkError) as exists:
                await client.set_pid()  # over a live daemon
            with pytest.raises(NetlinkError) as access:
                await client.set_pid(0)  # only the daemon may unregister itself
            assert raw_audit.status()["pid"] == holder.pid
    async with open_audit_client("control") as client:
        with pytest.raises(NetlinkError) as invalid:
            await client.set_pid(1)  # not our pid
        with pytest.raises(NetlinkError) as too_long:
            await client.set_backlog_wait_time(0xFFFFFFF)
        assert not client.registered
    for info, name in ((exists, "EEXIST"), (access, "EACCES"), (invalid, "EINVAL")):
        assert info.value.errno_name == name
        assert name in str(info.value) and "set pid" in str(info.value)
    assert too_long.value.errno_name == "EINVAL"
