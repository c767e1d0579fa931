"""The ``trioaudit rules`` subcommand without the kernel: dry runs, refusals, JSON shape."""

from __future__ import annotations

import pathlib

import pytest

from trioaudit._trio.rulesload import apply_control
from trioaudit.cli import exitcodes
from trioaudit.cli import rules as cli_rules
from trioaudit.cli.main import main
from trioaudit.rules import ControlSetting, parse_rule


class _RecordingClient:
    """Stands in for AuditClient: records which setters were called."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        async def record(*args: object, **kwargs: object) -> None:
            self.calls.append(name)

        return record


@pytest.mark.parametrize(
    "setting",
    [
        ControlSetting("enabled", 2, "-e"),
        ControlSetting("failure", 2, "-f"),
        ControlSetting("loginuid_immutable", None, "--loginuid-immutable"),
    ],
)
async def test_irreversible_settings_need_explicit_permission(setting: ControlSetting) -> None:
    client = _RecordingClient()
    with pytest.raises(PermissionError, match="--allow-irreversible"):
        await apply_control(client, setting, allow=False)  # type: ignore[arg-type]
    assert client.calls == []


async def test_reversible_settings_are_applied() -> None:
    client = _RecordingClient()
    for setting in (
        ControlSetting("backlog_limit", 8192, "-b"),
        ControlSetting("enabled", 1, "-e"),
        ControlSetting("failure", 1, "-f"),
        ControlSetting("continue_on_error", None, "-c"),
    ):
        await apply_control(client, setting, allow=False)  # type: ignore[arg-type]
    assert client.calls == ["set_backlog_limit", "set_enabled", "set_failure"]


def test_rule_to_json_shape() -> None:
    data = cli_rules.rule_to_json(parse_rule("-a always,exit -F arch=b32 -S open,close -k j"))
    assert data["arch"] == "i386"
    assert data["syscalls"] == ["close", "open"] or data["syscalls"] == ["open", "close"]
    assert data["keys"] == ["j"] and data["list"] == "exit"
    exit_field = cli_rules.rule_to_json(parse_rule("-a always,exit -S all -F exit=-EPERM"))
    assert exit_field["fields"][0]["text"] == "-F exit=-EPERM"
    assert data["fields"][0]["text"] == "-F arch=b32"


def test_load_dry_run_needs_no_kernel(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dry.rules"
    path.write_text(
        "-D -k old\n"
        "-b 8192\n"
        "-a always,exit -S open -k mismatch\n"
        "-w /etc/../etc/passwd -p wa\n"
        "-d always,exit -F arch=b64 -S openat -k gone\n"
        "-e 2\n"
    )
    assert main(["rules", "load", str(path), "--dry-run"]) == exitcodes.OK
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "1: -D -k old",
        "2: -b 8192",
        "3: -a always,exit -S open -F key=mismatch",
        "4: -w /etc/../etc/passwd -p wa",
        "5: -d always,exit -F arch=b64 -S openat -F key=gone",
        "6: -e 2",
    ]
    assert f"{path}:3: warning: 32/64 bit syscall mismatch" in err
    assert f"{path}:4: warning: relative path notation" in err


def test_add_refuses_a_delete_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "add", "-d always,exit -S all -k x"]) == exitcodes.USAGE
    assert "rules add takes" in capsys.readouterr().err
