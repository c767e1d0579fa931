"""The ``trioaudit rules`` subcommand against the live kernel, checked with auditctl -l."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

from tests.support import kernelstate
from trioaudit.cli import exitcodes
from trioaudit.cli.main import main

AUDITCTL = shutil.which("auditctl")


def _auditctl_l() -> str:
    assert AUDITCTL is not None
    return subprocess.run([AUDITCTL, "-l"], capture_output=True, text=True, check=True).stdout


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
