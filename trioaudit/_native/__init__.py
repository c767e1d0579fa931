"""The compiled core: loaded when built and allowed, else ``None``.

trioaudit runs everywhere on its pure-Python reference path; the C extension
(``_core``, built by ``pip install`` when a compiler and the Python headers are there)
takes the hot paths when present, and must give byte-identical results
(``tests/unit/test_native.py``). ``TRIOAUDIT_NO_EXTENSIONS=1`` forces the reference
path; :data:`CORE` names the one in use (``trioaudit --version`` prints it).

The native functions *decline* (return ``None``) on anything but the common forms;
callers then run the reference code, so a decline costs only time.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["CORE", "CORE_PROBLEM", "core"]


def _load() -> tuple[ModuleType | None, str | None]:
    if os.environ.get("TRIOAUDIT_NO_EXTENSIONS", "") not in ("", "0"):
        return None, "disabled by TRIOAUDIT_NO_EXTENSIONS"
    try:
        from . import _core  # type: ignore[attr-defined]
    except ImportError as exc:
        return None, f"not built ({exc})"
    return _core, None


#: The extension module, or ``None`` on the pure-Python path.
core, CORE_PROBLEM = _load()
#: ``"native"`` or ``"python"``.
CORE = "native" if core is not None else "python"
