"""The layers hold at runtime, not only in import-linter's static graph.

import-linter (pyproject.toml) checks the imports it can see. Two things it
cannot: what a package ``__init__`` pulls in when it runs, and imports made
through ``importlib`` (the PEP 562 lazy names of ``trioaudit``). These tests run
a fresh interpreter with trio and textual made unimportable and use the
sans-IO layers for real. (Cycles: tests/unit/test_import_graph.py.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import trioaudit

SAMPLE_LINE = (
    "type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exit=0 "
    "a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 "
    'sgid=0 fsgid=0 tty=pts0 ses=1 comm="true" exe="/usr/bin/true" key="exec"'
)

BLOCK_TRIO = "import sys\nsys.modules['trio'] = None\nsys.modules['textual'] = None\n"


def _run_without_trio(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TRIO + code],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_sans_io_layers_import_and_work_without_trio_or_textual() -> None:
    code = f"""
import trioaudit, trioaudit.lowlevel, trioaudit.rules
from trioaudit.lowlevel import decode_datagram, encode_message

record = trioaudit.parse_log_line({SAMPLE_LINE!r})
assert record.fields["syscall"] == "execve", record.fields
(event,) = list(trioaudit.parse_log([{SAMPLE_LINE!r}.encode(), b""]))
assert event.key == "exec"
rule = trioaudit.parse_rule("-a always,exit -F arch=b64 -S execve -k exec")
assert trioaudit.AuditRule.from_bytes(rule.to_bytes()) == rule
(message,) = decode_datagram(encode_message(1000, seq=7))
assert (message.type, message.seq) == (1000, 7)
assert "trio" not in sys.modules or sys.modules["trio"] is None
print("ok")
"""
    done = _run_without_trio(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_trio_backed_name_says_why_it_cannot_load() -> None:
    done = _run_without_trio("import trioaudit\ntrioaudit.open_audit_client\n")
    assert done.returncode != 0
    assert "ModuleNotFoundError" in done.stderr or "ImportError" in done.stderr
    assert "trio" in done.stderr


def test_importing_the_package_does_not_load_trio() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, trioaudit; print('trio' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("name", trioaudit.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(trioaudit, name) is not None
    assert name in dir(trioaudit)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        trioaudit.no_such_name  # type: ignore[attr-defined]  # noqa: B018
