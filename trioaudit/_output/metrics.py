"""Prometheus metrics as data, and their text exposition (format 0.0.4), sans-IO.

The daemon describes what it counts as :class:`MetricFamily` values (a name, a kind,
a help text and labelled :class:`Sample` values) and :func:`render_exposition` turns
them into the bytes a ``/metrics`` response carries. Nothing here knows about
sockets or HTTP: the responder (:mod:`trioaudit._daemon.metrics`) calls the daemon's
``collect()``, renders, and sends. Keeping the text format here means it is tested
byte for byte, and a family that would make Prometheus reject the *whole* scrape
(a bad name, a duplicate series) fails where it is built, with a ``ValueError``,
instead of at scrape time on the monitoring side.

The format's facts come from the Prometheus documentation, "Exposition formats"
(text format details, version 0.0.4) and "Data model" (metric and label names):

* lines end with ``\\n``, the last one too; the encoding is UTF-8;
* ``# HELP <name> <text>`` escapes backslash as ``\\\\`` and line feed as ``\\n``;
* ``# TYPE <name> counter|gauge`` comes before the family's first sample, and a
  family's lines form one uninterrupted group;
* a sample is ``name{label="value",...} value``; label values escape backslash,
  double quote and line feed (``\\\\``, ``\\"``, ``\\n``);
* values are read with Go's ``strconv.ParseFloat``, so ``+Inf``, ``-Inf`` and
  ``NaN`` are spelled that way;
* metric names match ``[a-zA-Z_:][a-zA-Z0-9_:]*``, label names
  ``[a-zA-Z_][a-zA-Z0-9_]*``, and label names starting with ``__`` are reserved
  for Prometheus itself;
* every line (name plus label set) must be unique, or "the ingestion behavior is
  undefined" -- here it is a ``ValueError`` instead.

Choices of ours, not the format's:

* names are rendered exactly as given: a counter is not renamed to ``..._total``
  (that convention is the caller's; the daemon names its counters ``..._total``),
  and no ``trioaudit_`` prefix is added here -- the daemon builds full names;
* families and samples are rendered in the order given (the format prefers a
  reproducible order; the daemon builds its list deterministically);
* an empty help text omits the ``# HELP`` line rather than writing a dangling one;
* a counter's value may not be negative (counters only go up; a negative one is a
  bug in whatever computed it, better caught in a unit test than graphed);
* strings that cannot be encoded as UTF-8 (lone surrogates from
  ``surrogateescape``d bytes) are written with ``?`` in their place, because
  Prometheus rejects a scrape that is not valid UTF-8.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CONTENT_TYPE",
    "LabelPairs",
    "MetricFamily",
    "MetricKind",
    "Sample",
    "format_value",
    "render_exposition",
]

#: The ``Content-Type`` of a text exposition, format 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MetricKind = Literal["counter", "gauge"]

#: A sample's labels, in rendering order: ``(("output", "relp://..."), ...)``.
LabelPairs = tuple[tuple[str, str], ...]

_KINDS: frozenset[str] = frozenset({"counter", "gauge"})
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

#: Integers of at most this magnitude are written digit for digit (int64's range);
#: larger ones, and non-integral floats, in Python's shortest round-trip notation.
_PLAIN_INTEGER_LIMIT = 2**63


def _check_label_name(name: object) -> None:
    if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name):
        raise ValueError(f"invalid Prometheus label name {name!r}")
    if name.startswith("__"):
        raise ValueError(f"label name {name!r}: names starting with '__' are reserved")


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of a family, with its labels (possibly none).

    Raises:
        ValueError: a label name is invalid or reserved, or appears twice.
        TypeError: a label value is not a string, or the value is not a number
            (``bool`` included: ``True`` would silently render as ``1``).
    """

    labels: LabelPairs = ()
    value: float | int = 0

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for pair in self.labels:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise TypeError(f"labels must be (name, value) pairs, got {pair!r}")
            name, value = pair
            _check_label_name(name)
            if name in seen:
                raise ValueError(f"label {name!r} appears twice in one sample")
            seen.add(name)
            if not isinstance(value, str):
                raise TypeError(f"label {name!r}: value must be a string, got {value!r}")
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise TypeError(f"a sample's value must be an int or a float, got {self.value!r}")


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """A metric name, its kind and help text, and its samples (one per label set).

    Raises:
        ValueError: the name is not a valid metric name, the kind is not
            ``"counter"`` or ``"gauge"``, two samples have the same labels, or a
            counter's value is negative.
    """

    name: str
    kind: MetricKind
    help: str
    samples: Sequence[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _METRIC_NAME.fullmatch(self.name):
            raise ValueError(f"invalid Prometheus metric name {self.name!r}")
        if self.kind not in _KINDS:
            raise ValueError(
                f"metric {self.name}: kind must be counter or gauge, not {self.kind!r}"
            )
        if not isinstance(self.help, str):
            raise TypeError(f"metric {self.name}: help must be a string")
        label_sets: set[frozenset[tuple[str, str]]] = set()
        for sample in self.samples:
            if not isinstance(sample, Sample):
                raise TypeError(f"metric {self.name}: samples must be Sample, got {sample!r}")
            # Label order does not make a different series: {a="1",b="2"} is {b="2",a="1"}.
            label_set = frozenset(sample.labels)
            if label_set in label_sets:
                raise ValueError(f"metric {self.name}: two samples with labels {sample.labels!r}")
            label_sets.add(label_set)
            if self.kind == "counter" and sample.value < 0:
                raise ValueError(f"counter {self.name}: negative value {sample.value!r}")


def format_value(value: float | int) -> str:
    """A sample value as Go's ``strconv.ParseFloat`` reads it.

    Integers (and integral floats) up to int64's magnitude are written as plain
    digits -- ``12345``, not ``12345.0`` or ``1.2345e4`` -- so counters read
    naturally; other floats use Python's shortest round-trip ``repr`` (``0.25``,
    ``1e+20``, ``1.5e-07``), which ParseFloat reads back exactly. Integers too
    large for a float64 become ``+Inf``/``-Inf``: ParseFloat would reject their
    digits with a range error, failing the whole scrape.
    """
    if isinstance(value, int):
        if abs(value) <= _PLAIN_INTEGER_LIMIT:
            return str(value)
        try:
            value = float(value)
        except OverflowError:
            return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) <= _PLAIN_INTEGER_LIMIT:
        return str(int(value))
    return repr(value)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _render_sample(name: str, sample: Sample) -> str:
    if not sample.labels:
        return f"{name} {format_value(sample.value)}\n"
    labels = ",".join(f'{key}="{_escape_label_value(value)}"' for key, value in sample.labels)
    return f"{name}{{{labels}}} {format_value(sample.value)}\n"


def render_exposition(families: Iterable[MetricFamily]) -> bytes:
    """The text exposition (format 0.0.4) of *families*, in the order given.

    Raises:
        ValueError: two families have the same name (the format allows one
            ``TYPE`` line per name, and one uninterrupted group per metric).
    """
    lines: list[str] = []
    names: set[str] = set()
    for family in families:
        if family.name in names:
            raise ValueError(f"metric {family.name} appears twice in one exposition")
        names.add(family.name)
        if family.help:
            lines.append(f"# HELP {family.name} {_escape_help(family.help)}\n")
        lines.append(f"# TYPE {family.name} {family.kind}\n")
        lines.extend(_render_sample(family.name, sample) for sample in family.samples)
    return "".join(lines).encode("utf-8", errors="replace")
