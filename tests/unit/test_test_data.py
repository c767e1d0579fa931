"""The logs gathered from other projects are what their provenance says they are.

``tests/data/wild/PROVENANCE.md`` names each file's origin and licence and gives its
sha256: a log dropped into the directory without an entry, or changed after it was
recorded (an editor stripping a trailing space, a checkout converting line ends), fails
here instead of silently changing what the differential tests measure.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

WILD = Path(__file__).parents[1] / "data" / "wild"
_ROW = re.compile(r"^\| (\S+\.log) \| (\d+) \| (\d+) \| `([0-9a-f]{64})` \|$", re.MULTILINE)


def _recorded() -> dict[str, tuple[int, int, str]]:
    table = (WILD / "PROVENANCE.md").read_text(encoding="utf-8")
    return {m[1]: (int(m[2]), int(m[3]), m[4]) for m in _ROW.finditer(table)}


def test_every_wild_log_is_recorded_with_its_hash() -> None:
    recorded = _recorded()
    present = {path.name: path.read_bytes() for path in WILD.glob("*.log")}
    assert sorted(present) == sorted(recorded)
    for name, data in present.items():
        lines, size, digest = recorded[name]
        assert (data.count(b"\n"), len(data), hashlib.sha256(data).hexdigest()) == (
            lines,
            size,
            digest,
        ), name
