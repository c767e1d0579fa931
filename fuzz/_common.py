"""Shared plumbing of the atheris harnesses (not part of the package or the test suite).

Each harness defines ``test_one_input(data: bytes)`` and calls :func:`run`; a
crash is any exception other than the ones the target documents. Corpus
directories and crash artefacts go under ``fuzz/out/`` (git-ignored).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import atheris

OUT = Path(__file__).resolve().parent / "out"


def run(name: str, target: Callable[[bytes], None], seeds: list[bytes]) -> None:
    """Run *target* under libFuzzer with a corpus seeded from *seeds*.

    libFuzzer flags on the command line (``-atheris_runs=1000000``,
    ``-max_total_time=...``) are passed through. A per-target corpus directory
    keeps what was learnt between runs.
    """
    corpus = OUT / name / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds):
        (corpus / f"seed-{index:03d}").write_bytes(seed)
    args = [sys.argv[0], *sys.argv[1:], f"-artifact_prefix={OUT / name}/", str(corpus)]
    atheris.Setup(args, target)
    atheris.Fuzz()
