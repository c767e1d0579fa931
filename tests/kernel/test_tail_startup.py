"""``trioaudit tail``'s start-up line on the live kernel (root; status and rules restored).

Word for word as the audit daemon, beside a stand-in daemon
(``tests/support/daemon_holder.py``) and without rules; ``--quiet`` removes it
and ``-v`` brings it back. The wording itself: tests/unit/test_tail_startup.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.children import read_line, started
from tests.support.hardening_helpers import foreign_daemon
from tests.support.kernelstate import MASK_ENABLED, RawAudit
from trioaudit.cli.tail import EXAMPLE_RULE

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

CLI = [sys.executable, "-m", "trioaudit.cli.main"]
KEY = "trioaudit-startup"


def _startup_line(*options: str) -> tuple[str, int]:
    """The first stderr line of a short ``tail`` run, and its pid."""
    with started(*CLI, "tail", "--duration", "1", *options) as tail:
        line = read_line(tail.stderr)
        _, rest = tail.communicate(timeout=20)
        assert tail.returncode == 0, line + rest
        assert rest == ""
    return line.rstrip("\n"), tail.pid


def _add_rules(count: int) -> None:
    for number in range(count):
        rule = ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", "uid=65534"]
        subprocess.run(["auditctl", *rule, "-k", f"{KEY}-{number}"], check=True)


def test_startup_line_as_the_daemon_counts_the_rules(raw_audit: RawAudit) -> None:
    raw_audit.delete_all_rules()  # the fixture puts them back
    _add_rules(2)
    line, pid = _startup_line("--unicast", "--enable")
    assert line == f"trioaudit: listening as the audit daemon (unicast, pid {pid}); 2 rules loaded"


def test_startup_line_without_rules_says_how_to_add_one(raw_audit: RawAudit) -> None:
    raw_audit.delete_all_rules()
    line, pid = _startup_line("--enable")  # auto: nobody holds the pid, so unicast
    assert line == (
        f"trioaudit: listening as the audit daemon (unicast, pid {pid}); no rules loaded, so "
        "only records that need none (config changes, logins) will arrive; add one with: "
        f"trioaudit rules add '{EXAMPLE_RULE}'"
    )


def test_startup_line_beside_a_daemon_names_it(raw_audit: RawAudit) -> None:
    raw_audit.delete_all_rules()
    _add_rules(1)
    with foreign_daemon() as holder:
        with open(f"/proc/{holder.pid}/comm") as comm:
            name = comm.read().strip()
        line, _ = _startup_line("--enable")  # auto: beside the live daemon
        assert line == (
            "trioaudit: listening on multicast beside the audit daemon "
            f"(pid {holder.pid}, {name}); 1 rule loaded"
        )


def test_quiet_silences_the_startup_line_and_verbose_brings_it_back(raw_audit: RawAudit) -> None:
    raw_audit.set_status(MASK_ENABLED, enabled=1)  # no "auditing is disabled" warning either
    quiet = subprocess.run(
        [*CLI, "tail", "--duration", "1", "--quiet"], capture_output=True, text=True, timeout=30
    )
    assert quiet.returncode == 0 and quiet.stderr == ""
    result = subprocess.run(
        [*CLI, "-v", "tail", "--duration", "1", "--quiet"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert result.stderr.startswith("trioaudit: listening as the audit daemon (unicast, pid ")
