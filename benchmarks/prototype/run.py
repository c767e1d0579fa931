"""C or Cython? The prototype comparison behind docs/design.md ("C, not Cython").

One stage of the renderer -- a PROCTITLE value to its JSON ``argv`` (decode the
logged hex or quotes, split at NUL, escape as json.dumps does) -- written twice: on
the C of ``trioaudit/_native/records.c`` (``proto_c.c``) and in Cython with bounds
checking on (``proto_cy.pyx``; the core parses attacker-controlled text, so the
checks stay). Both are built here, checked to give the same bytes on every
PROCTITLE value of the real logs, and timed over them (best of ``REPEATS``).

    python -m pip install cython     # into a scratch venv: not a dependency
    python benchmarks/prototype/run.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REPEATS = 7
ROUNDS = 20


def build(where: Path) -> None:
    from Cython.Build import cythonize
    from setuptools import Extension
    from setuptools.dist import Distribution

    extensions = [
        Extension(
            "proto_c",
            [str(HERE / "proto_c.c"), str(ROOT / "trioaudit/_native/records.c")],
            extra_compile_args=["-O2"],
        ),
        *cythonize(
            [Extension("proto_cy", [str(HERE / "proto_cy.pyx")], extra_compile_args=["-O2"])],
            build_dir=str(where),
            quiet=True,
        ),
    ]
    dist = Distribution({"ext_modules": extensions})
    command = dist.get_command_obj("build_ext")
    command.build_lib = str(where)
    command.build_temp = str(where / "tmp")
    dist.run_command("build_ext")


def values() -> list[bytes]:
    found = []
    for log in sorted((ROOT / "tests/data").glob("**/*.log")):
        found += re.findall(rb"proctitle=(\S+)", log.read_bytes())
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        build(Path(scratch))
        sys.path.insert(0, scratch)
        import proto_c  # type: ignore[import-not-found]
        import proto_cy  # type: ignore[import-not-found]

        data = values()
        same = [v for v in data if proto_c.argv_json(v) is not None]
        differ = [v for v in same if proto_c.argv_json(v) != proto_cy.argv_json(v)]
        assert not differ, (differ[0], proto_c.argv_json(differ[0]), proto_cy.argv_json(differ[0]))
        print(f"{len(data)} PROCTITLE values, {len(same)} taken by both, identical output")
        for name, function in (
            ("C (records.c)", proto_c.argv_json),
            ("Cython", proto_cy.argv_json),
        ):
            best = float("inf")
            for _ in range(REPEATS):
                start = time.perf_counter()
                for _ in range(ROUNDS):
                    for value in same:
                        function(value)
                best = min(best, time.perf_counter() - start)
            per = best / (ROUNDS * len(same)) * 1e9
            print(f"{name}: {per:.0f} ns per value")


if __name__ == "__main__":
    main()
