"""Every known difference between trioaudit and its peers on real logs, and why.

A *departure* is a named class of difference, documented in ``docs/events.md`` (the
differential sections), with a predicate that recognises one instance of it. The
differential tests (``test_differential_auparse.py``, ``test_differential_ausearch.py``)
require every difference they find on every log to be recognised by a departure, and
every departure to be seen on some log: a new difference fails a test, and a class that
no longer occurs must be retired from here and from the docs.

The predicates are narrow on purpose: each checks the *reason* (what ausearch's
``--debug`` says it skipped, that the values agree once the named difference is taken
out), not merely that the two sides differ somewhere.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.support.differential import Mismatch
from trioaudit._records.model import AuditEvent
from trioaudit._records.parse import RecordParseError, parse_log_line


@dataclass(frozen=True)
class Departure:
    name: str
    why: str


# --- libauparse, field by field ------------------------------------------------------

OLD_NEW_NAMES = Departure(
    "old-new-names",
    "Old kernels' `old auid=A new auid=B` (LOGIN): libauparse names both values `auid`; "
    "we give the first today's name `old-auid` so that neither value hides the other.",
)
AVC_IPC_KEY = Departure(
    "avc-ipc-key",
    "An AVC's `key=` is the object's IPC key in decimal: libauparse takes it for a "
    "hex-encoded string and cannot interpret it (None); we keep the number as logged.",
)
CORRUPT_STAMP = Departure(
    "corrupt-stamp",
    "A line whose `audit(...)` stamp is not `SECONDS.MILLIS:SERIAL` (seen: "
    "`audit(12799=====8288.415:39)`): libauparse reads the leading digits as the time; "
    "we do not guess a time and count the line as not a record.",
)
PREFIX_BEFORE_TYPE = Departure(
    "prefix-before-type",
    "A line with a prefix before `type=` (`audit.log:type=AVC ...`, from `grep -H`): "
    "libauparse takes the prefix for part of a field name and cannot type the record; "
    "we read the record behind the prefix.",
)

AUPARSE_FIELD_DEPARTURES = (OLD_NEW_NAMES, AVC_IPC_KEY)
AUPARSE_MISSING_DEPARTURES = (CORRUPT_STAMP, PREFIX_BEFORE_TYPE)


def classify_field(mismatch: Mismatch) -> Departure | None:
    """The departure one differing field belongs to, or ``None`` (unexplained)."""
    if (
        mismatch.record_type == "LOGIN"
        and mismatch.ours_name == f"old-{mismatch.name}"
        and mismatch.ours == mismatch.theirs
    ):
        return OLD_NEW_NAMES
    if (
        mismatch.record_type == "AVC"
        and mismatch.name == mismatch.ours_name == "key"
        and mismatch.theirs is None
        and (mismatch.ours or "").isdigit()
    ):
        return AVC_IPC_KEY
    return None


_GOOD_STAMP = re.compile(r"audit\(\d+\.\d+:\d+\)")


def classify_missing(text: str) -> Departure | None:
    """The departure of a record libauparse has and we do not (by its text)."""
    try:
        record = parse_log_line(text)
    except RecordParseError:
        stamp = text.find("audit(")
        if stamp >= 0 and not _GOOD_STAMP.match(text, stamp):
            return CORRUPT_STAMP
        return None
    head = text.split("=", 1)[0]
    if not head.endswith(("type", "node")) or head in ("type", "node"):
        return None
    if record.type_name and not record.raw.startswith(("type=", "node=")):
        return PREFIX_BEFORE_TYPE
    return None


# --- ausearch -i, event by event -----------------------------------------------------

EOE_SPACE = Departure(
    "eoe-space",
    "An EOE line that lost its trailing space (`...):` at the end of the line): ausearch "
    "echoes the text, `type=EOE msg=audit(...) :`; we print EOE from the event as the "
    "kernel writes it, `... : `.",
)
AUSEARCH_SKIPS = Departure(
    "ausearch-skips",
    "Events ausearch drops (its --debug says `Malformed event skipped` for that stamp, "
    "or `Unparsed type:N` for the event's type): every AppArmor AVC (no `tclass=`), the "
    "old AppArmor types 1500-1505, a `received policyload notice` AVC. We print them.",
)
KERNEL_LOG_FORM = Departure(
    "kernel-log-form",
    "Records as the kernel log prints them (`Jun 20 ... kernel: audit: type=1107 "
    "audit(...): ...`): ausearch does not read them at all; we do.",
)
GROUPING = Departure(
    "grouping",
    "The same records at one stamp, grouped into events differently: a serial repeated "
    "far apart in a log (concatenated test logs) or several single-record events at one "
    "stamp. ausearch keeps one event open per stamp; we split as the reassembly rules "
    "in docs/events.md say (late records, repeated SYSCALL/PROCTITLE/...).",
)
PREFIX_VERBATIM = Departure(
    "prefix-verbatim",
    "A record behind a prefix (`audit.log:type=AVC ...`): ausearch echoes the prefix "
    "as part of the first name; we print the record without it.",
)
AVC_IPC_KEY_TEXT = Departure(
    "avc-ipc-key-text",
    "An AVC's decimal IPC key: ausearch prints libauparse's hex decoding of it "
    "(`key=\\022\\x91\\x86C\\x89`); we print the number (`key=1291864389`).",
)

AUSEARCH_DEPARTURES = (
    EOE_SPACE,
    AUSEARCH_SKIPS,
    KERNEL_LOG_FORM,
    GROUPING,
    PREFIX_VERBATIM,
    AVC_IPC_KEY_TEXT,
)

_STAMP_TEXT = re.compile(r"msg=audit\(([^)]*)\)")
_DEBUG_STAMP = re.compile(r"Malformed event skipped.*?audit\((\d+)\.(\d+):(\d+)\)")
_DEBUG_UNPARSED = re.compile(r"Unparsed type:(\d+)")
_KEY = re.compile(r" key=\S*")

Block = tuple[str, ...]
StampKey = tuple[str | None, str]


def split_blocks(text: str) -> list[Block]:
    """``ausearch -i`` output as events: the lines between ``----`` separators."""
    blocks: list[Block] = []
    current: list[str] = []
    for line in text.splitlines():
        if line == "----":
            if current:
                blocks.append(tuple(current))
            current = []
        else:
            current.append(line)
    if current:
        blocks.append(tuple(current))
    return blocks


def _stamp_key(block: Block) -> StampKey | None:
    for line in block:
        match = _STAMP_TEXT.search(line)
        if match:
            node = line.split(" type=", 1)[0] if line.startswith("node=") else None
            return node, match.group(1)
    return None


def _utc_stamp(sec: str, milli: str, serial: str) -> str:
    """A log stamp as ``ausearch -i`` prints it under ``TZ=UTC``."""
    return time.strftime("%m/%d/%y %H:%M:%S", time.gmtime(int(sec))) + f".{milli}:{serial}"


@dataclass
class TextComparison:
    blocks: int = 0
    identical: int = 0
    departures: Counter[str] | None = None
    unexplained: list[str] | None = None


def compare_text(
    theirs_text: str,
    ours: Iterable[tuple[AuditEvent, str]],
    debug_stderr: str,
    type_number: Callable[[str], int],
) -> TextComparison:
    """Compare ``ausearch -i`` output with ours, and explain every difference.

    ``ours`` pairs each event with its rendered text; ``debug_stderr`` is what
    ``ausearch --debug`` wrote to stderr; ``type_number`` maps our type names to numbers.
    """
    departures: Counter[str] = Counter()
    unexplained: list[str] = []

    theirs_blocks = []
    for block in split_blocks(theirs_text):
        fixed = []
        for line in block:
            if " type=EOE " in f" {line}" and line.endswith(" :"):
                departures[EOE_SPACE.name] += 1
                line += " "
            fixed.append(line)
        theirs_blocks.append(tuple(fixed))
    ours_pairs = [(event, block) for event, text in ours for block in split_blocks(text)]

    remaining_theirs = Counter(theirs_blocks)
    identical = 0
    leftover: list[tuple[AuditEvent, Block]] = []
    for event, block in ours_pairs:
        if remaining_theirs[block] > 0:
            remaining_theirs[block] -= 1
            identical += 1
        else:
            leftover.append((event, block))

    skipped_stamps = {_utc_stamp(*m.groups()) for m in _DEBUG_STAMP.finditer(debug_stderr)}
    unparsed_types = {int(m.group(1)) for m in _DEBUG_UNPARSED.finditer(debug_stderr)}
    theirs_by_stamp: dict[StampKey | None, Counter[str]] = defaultdict(Counter)
    for block in remaining_theirs.elements():
        theirs_by_stamp[_stamp_key(block)].update(line for line in block if line)
    ours_by_stamp: dict[StampKey | None, Counter[str]] = defaultdict(Counter)
    for event, block in leftover:
        key = _stamp_key(block)
        if key not in theirs_by_stamp:
            if key is not None and key[1] in skipped_stamps:
                departures[AUSEARCH_SKIPS.name] += 1
                continue
            numbers = {type_number(record.type_name) for record in event.records}
            if numbers and numbers <= unparsed_types:
                departures[AUSEARCH_SKIPS.name] += 1
                continue
            if all(not r.raw.startswith(("type=", "node=")) for r in event.records):
                departures[KERNEL_LOG_FORM.name] += 1
                continue
        ours_by_stamp[key].update(line for line in block if line)

    for key in sorted(set(theirs_by_stamp) | set(ours_by_stamp), key=str):
        theirs_lines = theirs_by_stamp.get(key, Counter())
        ours_lines = ours_by_stamp.get(key, Counter())
        if theirs_lines == ours_lines:
            departures[GROUPING.name] += 1
            continue
        only_theirs = sorted((theirs_lines - ours_lines).elements())
        only_ours = sorted((ours_lines - theirs_lines).elements())
        unmatched_ours = list(only_ours)
        for line in only_theirs:
            found = None
            for candidate in unmatched_ours:
                departure = _classify_line(line, candidate)
                if departure is not None:
                    found = (candidate, departure)
                    break
            if found is None:
                unexplained.append(f"ausearch only: {line}")
                continue
            unmatched_ours.remove(found[0])
            departures[found[1].name] += 1
        unexplained.extend(f"trioaudit only: {line}" for line in unmatched_ours)

    return TextComparison(len(theirs_blocks), identical, departures, unexplained)


def _classify_line(theirs: str, ours: str) -> Departure | None:
    if theirs.endswith(ours) and theirs != ours:
        prefix = theirs[: len(theirs) - len(ours)]
        if "=" not in prefix and prefix.endswith((":", " ")):
            return PREFIX_VERBATIM
    ours_key = re.search(r" key=(\S*)", ours)
    if (
        ours_key is not None
        and ours_key.group(1).isdigit()
        and " type=AVC " in f" {ours}"
        and _KEY.sub(" key=", theirs) == _KEY.sub(" key=", ours)
    ):
        return AVC_IPC_KEY_TEXT
    return None
