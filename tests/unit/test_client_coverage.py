"""The client's unit tests cover most of ``trioaudit/_trio/client.py``, as an ordinary user.

The tests in ``test_client_*.py`` talk to the fake kernel, never to the real
one. This check runs them again in a child process under coverage.py and
fails unless they cover at least :data:`MIN_PERCENT` of the client's lines --
as uid 65534 (``nobody``, no capabilities) when the suite runs as root, so a
test that needed root would fail there, and with a guard that fails any test
opening a netlink socket.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import coverage

import trioaudit._trio.client

#: Least share of client.py's lines the unit tests must run, in percent.
MIN_PERCENT = 80.0
REPO = Path(__file__).resolve().parents[2]
CLIENT = Path(trioaudit._trio.client.__file__).resolve()
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]


def _client_tests() -> list[str]:
    here = Path(__file__).resolve()
    return [str(path) for path in sorted(here.parent.glob("test_client_*.py")) if path != here]


def _nobody_can_run_the_suite() -> bool:
    """Whether uid 65534 can start this interpreter and import the tests from the checkout."""
    probe = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import tests.support.netlink_guard, trioaudit"],
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        timeout=60,
    )
    return probe.returncode == 0


def test_the_client_unit_tests_cover_the_client_as_an_ordinary_user() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="trioaudit-client-coverage-"))
    try:
        workdir.chmod(0o777)  # the child may be nobody
        data_file = workdir / "coverage.data"
        command = [
            sys.executable, "-m", "coverage", "run", f"--data-file={data_file}",
            f"--include={CLIENT}",
            "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.support.netlink_guard",
            "-m", "not kernel", *_client_tests(),
        ]  # fmt: skip
        if os.geteuid() == 0:
            assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop to nobody"
            if _nobody_can_run_the_suite():
                command = [*NOBODY, *command]
            else:
                # A clone under a folder nobody cannot search (e.g. /root): still
                # run, as root; the netlink guard still fails any kernel socket.
                print("\nnobody cannot read this checkout; measuring as root")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
            "HOME": str(workdir),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        child = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )
        assert child.returncode == 0, f"the client unit tests failed:\n{child.stdout}{child.stderr}"
        report = io.StringIO()
        measured = coverage.Coverage(data_file=str(data_file))
        measured.load()
        percent = measured.report(include=[str(CLIENT)], show_missing=True, file=report)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nFIGURES client coverage: {percent:.1f} % of {CLIENT.name}\n{report.getvalue()}")
    assert percent >= MIN_PERCENT, f"{percent:.1f} % < {MIN_PERCENT} %:\n{report.getvalue()}"
