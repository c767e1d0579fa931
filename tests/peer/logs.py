"""Every real audit log the differential tests read.

Our own captures from this kind of machine (auditd ENRICHED format) and the logs from
the wild (``tests/data/wild``, provenance in its ``PROVENANCE.md``). A log dropped into
either place is compared automatically.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parents[1] / "data"

#: Captures made on this kind of machine by auditd 3.0.9 (ENRICHED).
OWN = sorted(DATA.glob("*.log"))
#: Logs other public projects keep as test data.
WILD = sorted((DATA / "wild").glob("*.log"))
ALL = OWN + WILD


def has_enrichment(path: Path) -> bool:
    """Whether some line carries auditd's ENRICHED translations (after ``\\x1d``)."""
    return b"\x1d" in path.read_bytes()


def log_id(path: Path) -> str:
    return path.relative_to(DATA).as_posix()
