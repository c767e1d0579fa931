"""Dangerous settings are refused without confirmation -- and never reach the kernel.

``enabled=2`` locks the audit configuration until reboot, ``failure=2`` makes
the kernel panic when it cannot record, and a locked feature cannot change
until reboot. None of them is ever sent by these tests: every datagram the
library writes is inspected by a guard in front of the socket that *blocks*
the dangerous ones (raising, so a regression fails the test instead of
locking the test machine). The guard is checked against the encoders first,
so it cannot silently miss what it is there to stop.

Covered: the library (typed setters, ``set_feature`` and the low-level
``request``), the CLI (``set``, ``rules load``, ``features set``) run
in-process so its socket is guarded too.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from trioaudit import AuditUsageError, FailureMode, StatusMask, open_audit_client
from trioaudit._tables.msgtypes import AuditMessageType as T
from trioaudit._trio.transport import NetlinkAuditSocket
from trioaudit._wire.control import encode_feature_request
from trioaudit._wire.netlink import decode_datagram, encode_message
from trioaudit._wire.status import AuditStatus, encode_status_request
from trioaudit.cli import main as cli_main

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

_FEATURES = struct.Struct("=4I")


def dangerous(datagram: bytes) -> str | None:
    """Name the irreversible setting a request datagram would make, if any."""
    for message in decode_datagram(datagram):
        if message.type == T.SET:
            status = AuditStatus.from_bytes(message.payload)
            if status.mask & StatusMask.ENABLED and status.enabled == 2:
                return "enabled=2 (immutable)"
            if status.mask & StatusMask.FAILURE and status.failure == 2:
                return "failure=2 (panic)"
        if message.type == T.SET_FEATURE and len(message.payload) >= _FEATURES.size:
            _version, mask, _features, lock = _FEATURES.unpack_from(message.payload)
            if mask & lock:
                return "feature lock"
    return None


class Blocked(AssertionError):
    """A dangerous request reached the socket (and was stopped there)."""


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Block and record dangerous datagrams on every trioaudit socket."""
    caught: list[str] = []
    original_send = NetlinkAuditSocket.send
    original_send_nowait = NetlinkAuditSocket.send_nowait

    def check(data: bytes) -> None:
        what = dangerous(data)
        if what is not None:
            caught.append(what)
            raise Blocked(f"{what} was about to be sent to the kernel")

    async def send(self: NetlinkAuditSocket, data: bytes) -> None:
        check(data)
        await original_send(self, data)

    def send_nowait(self: NetlinkAuditSocket, data: bytes) -> bool:
        check(data)
        return original_send_nowait(self, data)

    monkeypatch.setattr(NetlinkAuditSocket, "send", send)
    monkeypatch.setattr(NetlinkAuditSocket, "send_nowait", send_nowait)
    yield caught


def _datagram(msg_type: int, payload: bytes) -> bytes:
    return encode_message(msg_type, payload, seq=1)


@pytest.mark.parametrize(
    ("datagram", "what"),
    [
        (_datagram(T.SET, encode_status_request(StatusMask.ENABLED, enabled=2)), "immutable"),
        (_datagram(T.SET, encode_status_request(StatusMask.FAILURE, failure=2)), "panic"),
        (_datagram(T.SET_FEATURE, encode_feature_request("loginuid_immutable", True, lock=True)),
         "lock"),
    ],
)  # fmt: skip
def test_the_guard_recognises_what_it_must_stop(datagram: bytes, what: str) -> None:
    assert what in (dangerous(datagram) or "")


def test_the_guard_lets_safe_settings_through() -> None:
    for payload in (
        encode_status_request(StatusMask.ENABLED, enabled=1),
        encode_status_request(StatusMask.FAILURE, failure=1),
        encode_status_request(StatusMask.RATE_LIMIT, rate_limit=2),
    ):
        assert dangerous(_datagram(T.SET, payload)) is None
    unlocked = encode_feature_request("loginuid_immutable", False, lock=False)
    assert dangerous(_datagram(T.SET_FEATURE, unlocked)) is None


async def test_library_refuses_without_confirmation(guard: list[str]) -> None:
    async with open_audit_client("control") as client:
        before = await client.get_status()
        for confirm in (False, 1, "yes", None):
            with pytest.raises(AuditUsageError, match="confirm=True"):
                await client.set_immutable(confirm=confirm)  # type: ignore[arg-type]
        for mode in (FailureMode.PANIC, 2):
            for confirm in (False, 1, "yes"):
                with pytest.raises(AuditUsageError, match="confirm=True"):
                    await client.set_failure(mode, confirm=confirm)  # type: ignore[arg-type]
        with pytest.raises(AuditUsageError, match="confirm=True"):
            await client.set_feature("loginuid_immutable", True, lock=True)
        with pytest.raises(AuditUsageError):
            await client.set_failure(7)
        # set_enabled takes a bool: 2 means "on", never "immutable".
        await client.set_enabled(2)  # type: ignore[arg-type]
        assert (await client.get_status()).enabled == 1
        await client.set_enabled(bool(before.enabled))
        after = await client.get_status()
    assert guard == []
    assert (after.enabled, after.failure) == (before.enabled, before.failure)


@pytest.mark.parametrize(
    ("msg_type", "payload"),
    [
        (T.SET, encode_status_request(StatusMask.ENABLED, enabled=2)),
        (T.SET, encode_status_request(StatusMask.FAILURE | StatusMask.RATE_LIMIT, failure=2,
                                      rate_limit=5)),
        (T.SET_FEATURE, encode_feature_request("loginuid_immutable", True, lock=True)),
    ],
    ids=["immutable", "panic", "feature-lock"],
)  # fmt: skip
async def test_low_level_request_refuses_dangerous_payloads(
    guard: list[str], msg_type: int, payload: bytes
) -> None:
    async with open_audit_client("control") as client:
        with pytest.raises(AuditUsageError):
            await client.request(msg_type, payload)
        with pytest.raises(AuditUsageError):
            await client.request(msg_type, payload, wait=False)
        await client.get_status()  # still usable
    assert guard == []


def _cli(*args: str) -> int:
    return cli_main.main(list(args))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["set", "--failure", "panic"], "--force"),
        (["set", "--failure", "panic", "--rate-limit", "3"], "--force"),
        (["features", "set", "loginuid_immutable", "1", "--lock"], "--force"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_cli_refuses_without_force(
    guard: list[str], capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code = _cli(*args)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert needle in captured.err
    assert "Traceback" not in captured.err
    assert guard == []


@pytest.mark.parametrize("line", ["-e 2", "-f 2", "--loginuid-immutable"])
@pytest.mark.parametrize("dry_run", [False, True], ids=["apply", "dry-run"])
def test_rules_file_with_irreversible_lines_is_refused(
    guard: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    line: str,
    dry_run: bool,
) -> None:
    rules = tmp_path / "audit.rules"
    rules.write_text(f"-b 8192\n{line}\n")
    code = _cli("rules", "load", *(["--dry-run"] if dry_run else []), str(rules))
    captured = capsys.readouterr()
    assert guard == []
    if not dry_run:
        assert code != 0
        assert "--allow-irreversible" in captured.err
        assert "Traceback" not in captured.err


# ---- TUI -----------------------------------------------------------------------------------


def test_tui_offers_no_irreversible_action() -> None:
    from trioaudit.tui.app import AuditApp

    actions = " ".join(str(binding.action) for binding in AuditApp.BINDINGS).lower()
    for word in ("immutable", "panic", "failure", "lock"):
        assert word not in actions


async def test_tui_commands_never_send_irreversible_settings(guard: list[str]) -> None:
    from trioaudit.rules import RuleSyntaxError
    from trioaudit.tui.bridge import _run_command
    from trioaudit.tui.model import Command

    async with open_audit_client("control") as client:
        before = await client.get_status()
        # The UI's enable toggle goes through a bool: any truthy value means "on".
        await _run_command(client, Command("set_enabled", 2, "enable auditing"))
        assert (await client.get_status()).enabled == 1
        await _run_command(client, Command("set_enabled", before.enabled, "restore"))
        # The rules view's "add" takes auditctl text: control options are not rules.
        for text in ("-e 2", "-f 2", "--loginuid-immutable", "-e 1 -e 2"):
            with pytest.raises(RuleSyntaxError):
                await _run_command(client, Command("add_rule", text, f"add rule {text}"))
        # There is no command for the irreversible settings at all.
        for action in ("set_immutable", "set_failure", "set_feature", "request"):
            with pytest.raises(ValueError, match="unknown command"):
                await _run_command(client, Command(action, 2, action))
        after = await client.get_status()
    assert guard == []
    assert (after.enabled, after.failure) == (before.enabled, before.failure)
