"""A short libFuzzer run of each native entry point under ASan + UBSan (the fuzz smoke).

The long campaign (1,000,000 inputs per entry point, then valgrind over the corpora)
is ``fuzz/native/run.sh``; its figures are in docs/hardening.md. Here each harness
runs a few thousand inputs from the real logs' lines, so that a memory error or an
invariant the harness asserts (every item inside the arena, the arena bounded by the
input) fails the suite. ``./test`` installs clang-14 and libFuzzer; without them this
is skipped, except under ``TRIOAUDIT_REQUIRE_NATIVE=1`` (``./test``), where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HARNESSES = ROOT / "fuzz" / "native"
CLANG = shutil.which("clang-14") or shutil.which("clang")
RUNS = 5000


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seeds")
    logs = sorted((ROOT / "tests" / "data").glob("*.log"))
    logs += sorted((ROOT / "tests" / "data" / "wild").glob("*.log"))
    count = 0
    for log in logs:
        for line in log.read_bytes().splitlines()[:60]:
            (folder / f"{count:05d}").write_bytes(line)
            count += 1
    return folder


@pytest.mark.parametrize("target", ["header", "split", "render"])
def test_native_entry_point_survives_a_short_fuzz_run(
    target: str, seeds: Path, tmp_path: Path
) -> None:
    if CLANG is None:
        if os.environ.get("TRIOAUDIT_REQUIRE_NATIVE") == "1":
            pytest.fail("clang with libFuzzer is needed for the native fuzz smoke")
        pytest.skip("clang (libFuzzer) not installed")
    binary = tmp_path / f"fuzz_{target}"
    subprocess.run(
        [
            CLANG, "-g", "-O1", "-fsanitize=fuzzer,address,undefined",
            "-fno-sanitize-recover=all", str(HARNESSES / f"fuzz_{target}.c"),
            str(ROOT / "trioaudit" / "_native" / "records.c"), "-o", str(binary),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    run = subprocess.run(
        [
            str(binary), f"-runs={RUNS}", "-max_len=4096", "-timeout=10", "-seed=1",
            f"-artifact_prefix={tmp_path}/", str(corpus), str(seeds),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Done {RUNS} runs" in run.stderr
