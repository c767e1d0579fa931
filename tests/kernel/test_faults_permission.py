"""Permission faults: the CLI and the library run as ``nobody`` (no capabilities).

Each command is run under ``setpriv --reuid=nobody --regid=nogroup
--clear-groups``: no ``CAP_AUDIT_CONTROL``, no ``CAP_AUDIT_READ``. The
expected outcome is one clear line naming what is missing, exit code 77
(``EX_NOPERM``), nothing on stdout and no traceback.

The venv lives under /work/main and its interpreter may live under /root;
a preflight checks that ``nobody`` can run it. If not, the package and its
pure-Python dependencies are copied to a world-readable temporary directory
and run with the system ``/usr/bin/python3`` instead.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kernelstate import RawAudit

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

SETPRIV = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
REPO = Path(__file__).resolve().parents[2]
#: Pure-Python distributions the CLI imports (copied for the fallback).
RUNTIME_PACKAGES = ("trio", "outcome", "sniffio", "sortedcontainers", "attr", "attrs", "idna")
NO_PERMISSION = 77


def _as_nobody(python: list[str], env: dict[str, str]) -> bool:
    try:
        probe = subprocess.run(
            [*SETPRIV, *python, "-c", "import trioaudit.cli.main"],
            env=env,
            capture_output=True,
            timeout=30,
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.fixture(scope="module")
def nobody_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], dict]]:
    """An interpreter command plus environment that ``nobody`` can run trioaudit with."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to drop to nobody")
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    venv = [sys.executable]
    if _as_nobody(venv, env):
        yield venv, env
        return
    # Fallback: a world-readable copy run by the system interpreter.
    root = tmp_path_factory.mktemp("nobody-run")
    root.chmod(0o755)
    shutil.copytree(REPO / "trioaudit", root / "trioaudit")
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            shutil.copytree(next(iter(spec.submodule_search_locations)), root / name)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    parent = root.parent
    while parent != Path("/"):
        if not os.stat(parent).st_mode & 0o001:
            pytest.skip(f"{parent} is not searchable by nobody; cannot stage a copy")
        parent = parent.parent
    system = ["/usr/bin/python3"]
    env = {**env, "PYTHONPATH": str(root)}
    if not _as_nobody(system, env):
        pytest.skip("neither the venv nor a staged copy can be run by nobody")
    yield system, env


def run_as_nobody(
    nobody_python: tuple[list[str], dict], *args: str
) -> subprocess.CompletedProcess[str]:
    python, env = nobody_python
    return subprocess.run(
        [*SETPRIV, *python, "-m", "trioaudit.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )


def _check_clear_refusal(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == NO_PERMISSION, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("trioaudit: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["status"], ["EPERM", "CAP_AUDIT_CONTROL"]),
        (["status", "--json"], ["EPERM"]),
        (["set", "--rate-limit", "5"], ["EPERM", "CAP_AUDIT_CONTROL"]),
        (["enable"], ["EPERM"]),
        (["tail", "--count", "1", "--duration", "5"], ["EPERM"]),
        (["tail", "--multicast", "--count", "1", "--duration", "5"], ["CAP_AUDIT_READ"]),
        (["tail", "--unicast", "--count", "1", "--duration", "5"], ["EPERM"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_cli_as_nobody_says_what_is_missing(
    nobody_python: tuple[list[str], dict], raw_audit: RawAudit, args: list[str], needles: list[str]
) -> None:
    before = raw_audit.status()
    result = run_as_nobody(nobody_python, *args)
    _check_clear_refusal(result, *needles)
    after = raw_audit.status()
    for name in ("enabled", "rate_limit", "pid"):
        assert after[name] == before[name]


def test_library_as_nobody_raises_permission_errors_with_names(
    nobody_python: tuple[list[str], dict],
) -> None:
    python, env = nobody_python
    code = """
import trio, trioaudit
async def main():
    async with trioaudit.open_audit_client("control") as client:
        try:
            await client.get_status()
        except trioaudit.NetlinkPermissionError as exc:
            print("control", exc.errno_name, isinstance(exc, PermissionError))
    try:
        async with trioaudit.open_audit_client("multicast"):
            pass
    except trioaudit.AuditPermissionError as exc:
        print("multicast", type(exc).__name__, "CAP_AUDIT_READ" in str(exc))
    try:
        async with trioaudit.open_audit_client("auto"):
            pass
    except trioaudit.AuditPermissionError as exc:
        print("auto", getattr(exc, "errno_name", "?"))
trio.run(main)
"""
    result = subprocess.run(
        [*SETPRIV, *python, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "control EPERM True",
        "multicast AuditPermissionError True",
        "auto EPERM",
    ]
