"""The ``trioaudit rules`` subcommand against the live kernel, checked with auditctl -l."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

from tests import kernelstate
from trioaudit.cli import exitcodes
from trioaudit.cli import rules as cli_rules
from trioaudit.cli.main import main
from trioaudit.rules import ControlSetting, parse_rule

AUDITCTL = shutil.which("auditctl")


def _auditctl_l() -> str:
    assert AUDITCTL is not None
    return subprocess.run([AUDITCTL, "-l"], capture_output=True, text=True, check=True).stdout


@pytest.mark.kernel
@pytest.mark.skipif(AUDITCTL is None, reason="auditctl not installed")
def test_add_list_delete_flush(
    audit_state: kernelstate.KernelState,
    raw_audit: kernelstate.RawAudit,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw_audit.delete_all_rules()
    one = "-a always,exit -F arch=b64 -S openat -F exit=-EACCES -F auid>=1000 -k cli-one"
    two = "-w /etc/hosts -p wa -k cli-two"
    assert main(["rules", "add", one, two]) == exitcodes.OK
    listing = _auditctl_l()
    assert listing.splitlines() == [
        "-a always,exit -F arch=b64 -S openat -F exit=-EACCES -F auid>=1000 -F key=cli-one",
        "-w /etc/hosts -p wa -k cli-two",
    ]
    capsys.readouterr()
    assert main(["rules", "list"]) == exitcodes.OK
    assert capsys.readouterr().out == listing

    assert main(["rules", "list", "-k", "two"]) == exitcodes.OK
    assert capsys.readouterr().out == "-w /etc/hosts -p wa -k cli-two\n"

    assert main(["rules", "list", "--json"]) == exitcodes.OK
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and '"keys": ["cli-one"]' in lines[0]

    assert main(["rules", "add", two]) == exitcodes.FAILURE  # EEXIST
    assert main(["rules", "delete", two]) == exitcodes.OK
    assert len(raw_audit.rules()) == 1
    assert main(["rules", "add", "-a always,exit -S opnat"]) == exitcodes.USAGE
    assert "opnat" in capsys.readouterr().err
    assert main(["rules", "flush"]) == exitcodes.OK
    assert raw_audit.rules() == []


RULES_FILE = """\
# test rules file
-D
-b 320
-a always,exit -F arch=b64 -S openat -k file-one
-a always,exit -F arch=b64 -S nosuchcall -k file-bad
-w /etc/hosts -p wa -k file-two
"""


@pytest.mark.kernel
@pytest.mark.skipif(AUDITCTL is None, reason="auditctl not installed")
def test_load_reports_bad_lines_and_loads_only_when_asked(
    tmp_path: pathlib.Path,
    audit_state: kernelstate.KernelState,
    raw_audit: kernelstate.RawAudit,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "test.rules"
    path.write_text(RULES_FILE)
    raw_audit.delete_all_rules()

    assert main(["rules", "load", str(path), "--dry-run"]) == exitcodes.USAGE
    captured = capsys.readouterr()
    assert f"{path}:5:31: unknown syscall" in captured.err
    assert "4: -a always,exit -F arch=b64 -S openat -F key=file-one" in captured.out
    assert raw_audit.rules() == []

    assert main(["rules", "load", str(path)]) == exitcodes.USAGE
    assert "nothing loaded" in capsys.readouterr().err
    assert raw_audit.rules() == []

    assert main(["rules", "load", str(path), "--continue"]) == exitcodes.USAGE
    assert _auditctl_l().splitlines() == [
        "-a always,exit -F arch=b64 -S openat -F key=file-one",
        "-w /etc/hosts -p wa -k file-two",
    ]
    assert raw_audit.status()["backlog_limit"] == 320

    good = tmp_path / "good.rules"
    good.write_text(RULES_FILE.replace("-S nosuchcall", "-S close"))
    assert main(["rules", "load", str(good)]) == exitcodes.OK
    assert len(raw_audit.rules()) == 3


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
        await cli_rules._apply_control(client, setting, allow=False)  # type: ignore[arg-type]
    assert client.calls == []


async def test_reversible_settings_are_applied() -> None:
    client = _RecordingClient()
    for setting in (
        ControlSetting("backlog_limit", 8192, "-b"),
        ControlSetting("enabled", 1, "-e"),
        ControlSetting("failure", 1, "-f"),
        ControlSetting("continue_on_error", None, "-c"),
    ):
        await cli_rules._apply_control(client, setting, allow=False)  # type: ignore[arg-type]
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
