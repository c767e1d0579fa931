"""``tail --context``: process ancestry and container ids on live events (state restored)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.children import wait_until_listening
from tests.support.kernelstate import RawAudit

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

CLI = [sys.executable, "-m", "trioaudit.cli.main"]
KEY = "trioaudit-context"
RULE = ("always,exit", "-F", "arch=b64", "-S", "execve", "-F", "uid=65534", "-k", KEY)
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
UNIFIED = Path("/sys/fs/cgroup/unified")


@pytest.fixture
def rule() -> Iterator[None]:
    subprocess.run(["auditctl", "-A", *RULE], check=True, capture_output=True)
    yield
    subprocess.run(["auditctl", "-d", *RULE], capture_output=True)


def _tail(*options: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            *CLI,
            "tail",
            "--unicast",
            "--enable",
            "--duration",
            "15",
            "--context",
            "--count",
            "1",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_listening(proc)
    return proc


def test_ancestry_names_the_shells_that_ran_a_command(raw_audit: RawAudit, rule: None) -> None:
    proc = _tail("--filter", f"key={KEY} comm=true")
    # "; :" after each command keeps bash and sh from exec'ing their last command in
    # place: each runs the next in a child, so they are ancestors, not earlier images.
    subprocess.run([*NOBODY, "bash", "-c", 'sh -c "/bin/true; :"; :'], check=True, timeout=30)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    (line,) = out.splitlines()
    chain = json.loads(line)["ancestry"]
    true, sh, bash = chain[:3]
    assert true["exe"] == os.path.realpath("/bin/true") and true["args"] == ["/bin/true"]
    assert sh["args"] == ["sh", "-c", "/bin/true; :"] and true["ppid"] == sh["pid"]
    assert bash["args"] == ["bash", "-c", 'sh -c "/bin/true; :"; :'] and sh["ppid"] == bash["pid"]
    assert bash["ppid"] == os.getpid()  # setpriv exec'd bash in place
    assert chain[3]["pid"] == os.getpid()  # this test, from tail's /proc snapshot
    assert all("start" in entry for entry in chain[:3])
    assert raw_audit.status()["pid"] == 0


@contextlib.contextmanager
def _docker_like_cgroup() -> Iterator[tuple[str, Path]]:
    """A cgroup named as docker's systemd driver names one: docker-<64 hex>.scope."""
    if not (UNIFIED / "cgroup.procs").exists():
        pytest.skip("no cgroup2 hierarchy at /sys/fs/cgroup/unified")
    container = secrets.token_hex(32)
    path = UNIFIED / f"docker-{container}.scope"
    path.mkdir()
    try:
        yield container, path
    finally:
        deadline = time.monotonic() + 10
        while True:  # empty once its processes exited
            try:
                path.rmdir()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{path} still busy"
                time.sleep(0.05)


def test_a_process_in_a_container_cgroup_has_its_id(raw_audit: RawAudit, rule: None) -> None:
    with _docker_like_cgroup() as (container, cgroup):
        # The container term of the filter, live: only the event inside the cgroup.
        proc = _tail("--filter", f"key={KEY} container={container}")
        # The shell moves itself into the cgroup, then becomes nobody's sleep.
        script = f"echo $$ > {cgroup}/cgroup.procs && exec {' '.join(NOBODY)} /bin/sleep 1"
        subprocess.run(["sh", "-c", script], check=True, timeout=30)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    (line,) = out.splitlines()
    (sleep, *_) = json.loads(line)["ancestry"]
    assert sleep["args"] == ["/bin/sleep", "1"]
    assert sleep["container"] == {"runtime": "docker", "id": container}
    assert raw_audit.status()["pid"] == 0
