"""Compile the benchmark's C helpers at run time (never committed as binaries)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Where binaries are cached, keyed by a hash of their source.
BUILD_DIR = Path(tempfile.gettempdir()) / "trioaudit-bench-build"
CFLAGS = ("-O2", "-Wall", "-Wextra")


def compiler() -> str | None:
    """The C compiler to use, or None when there is none."""
    return shutil.which("cc") or shutil.which("gcc")


def build(name: str) -> Path:
    """Compile ``benchmarks/<name>.c`` (cached by content) and return the binary's path."""
    source = HERE / f"{name}.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    binary = BUILD_DIR / f"{name}-{digest}"
    if not binary.exists():
        cc = compiler()
        if cc is None:
            raise RuntimeError("no C compiler (cc) found; install gcc")
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        partial = binary.with_suffix(".tmp")
        subprocess.run([cc, *CFLAGS, "-o", str(partial), str(source)], check=True)
        partial.rename(binary)
    return binary
