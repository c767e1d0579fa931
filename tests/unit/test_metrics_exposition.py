"""The Prometheus text exposition (format 0.0.4), byte for byte, and the model's checks."""

from __future__ import annotations

import math

import pytest

from trioaudit._output.metrics import (
    CONTENT_TYPE,
    MetricFamily,
    Sample,
    format_value,
    render_exposition,
)


def test_content_type() -> None:
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_counter_and_labelled_gauge_byte_for_byte() -> None:
    families = [
        MetricFamily(
            "trioaudit_events_total",
            "counter",
            "Audit events received from the kernel.",
            [Sample((), 12345)],
        ),
        MetricFamily(
            "trioaudit_output_queue_depth",
            "gauge",
            "Messages waiting in an output's queue.",
            [
                Sample((("output", "syslog+tcp://127.0.0.1:514"),), 7),
                Sample((("output", "relp://10.0.0.1:2514"), ("spool", "yes")), 0),
            ],
        ),
    ]
    assert render_exposition(families) == (
        b"# HELP trioaudit_events_total Audit events received from the kernel.\n"
        b"# TYPE trioaudit_events_total counter\n"
        b"trioaudit_events_total 12345\n"
        b"# HELP trioaudit_output_queue_depth Messages waiting in an output's queue.\n"
        b"# TYPE trioaudit_output_queue_depth gauge\n"
        b'trioaudit_output_queue_depth{output="syslog+tcp://127.0.0.1:514"} 7\n'
        b'trioaudit_output_queue_depth{output="relp://10.0.0.1:2514",spool="yes"} 0\n'
    )


def test_names_are_rendered_as_given() -> None:
    # No _total appended to a counter, no prefix added: the daemon builds full names.
    family = MetricFamily("drops", "counter", "", [Sample((), 1)])
    assert render_exposition([family]) == b"# TYPE drops counter\ndrops 1\n"


def test_empty_input_and_family_without_samples() -> None:
    assert render_exposition([]) == b""
    family = MetricFamily("up_since", "gauge", "When.")
    assert render_exposition([family]) == b"# HELP up_since When.\n# TYPE up_since gauge\n"


def test_label_value_escaping_is_the_spec_example() -> None:
    # The exposition-formats page's own example of escaping in label values.
    sample = Sample(
        (("path", "C:\\DIR\\FILE.TXT"), ("error", 'Cannot find file:\n"FILE.TXT"')),
        1.458255915e9,
    )
    family = MetricFamily("msdos_file_access_time_seconds", "gauge", "", [sample])
    assert render_exposition([family]) == (
        b"# TYPE msdos_file_access_time_seconds gauge\n"
        b'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",'
        b'error="Cannot find file:\\n\\"FILE.TXT\\""} 1458255915\n'
    )


def test_help_escapes_backslash_and_newline_but_not_quotes() -> None:
    family = MetricFamily("x", "gauge", 'a\\b\nc "d"')
    assert render_exposition([family]).splitlines()[0] == b'# HELP x a\\\\b\\nc "d"'


def test_text_is_utf8_and_unencodable_text_is_replaced() -> None:
    family = MetricFamily(
        "x", "gauge", "größe", [Sample((("comm", "ev\udcffil"),), 1), Sample((("c", "é"),), 2)]
    )
    assert render_exposition([family]) == (
        "# HELP x größe\n# TYPE x gauge\n".encode()
        + b'x{comm="ev?il"} 1\n'
        + 'x{c="é"} 2\n'.encode()
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (12345, "12345"),
        (-3, "-3"),
        (2**63, "9223372036854775808"),
        (2**64, "1.8446744073709552e+19"),
        (10**400, "+Inf"),
        (-(10**400), "-Inf"),
        (3.0, "3"),
        (-0.0, "0"),
        (0.25, "0.25"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (1.5e-7, "1.5e-07"),
        (123456789.5, "123456789.5"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_value_formatting(value: float, text: str) -> None:
    assert format_value(value) == text
    if text not in ("+Inf", "-Inf", "NaN") and abs(value) < 2**63:
        assert float(text) == value  # round-trips exactly


def test_special_values_in_a_sample_line() -> None:
    family = MetricFamily(
        "g", "gauge", "", [Sample((("k", "a"),), math.inf), Sample((("k", "b"),), math.nan)]
    )
    assert render_exposition([family]) == b'# TYPE g gauge\ng{k="a"} +Inf\ng{k="b"} NaN\n'


@pytest.mark.parametrize(
    "name", ["", "1abc", "a-b", "a b", "a.b", "é", "a\n", "a{b}", "a_total\x00"]
)
def test_invalid_metric_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="invalid Prometheus metric name"):
        MetricFamily(name, "gauge", "")


@pytest.mark.parametrize("name", ["a", "_a", "a:b", ":a", "A_b9", "trioaudit_events_total"])
def test_valid_metric_names(name: str) -> None:
    assert MetricFamily(name, "counter", "").name == name


@pytest.mark.parametrize("name", ["", "1a", "a:b", "a-b", "le gal", "é"])
def test_invalid_label_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="invalid Prometheus label name"):
        Sample(((name, "v"),), 1)


def test_reserved_and_repeated_label_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="reserved"):
        Sample((("__name__", "x"),), 1)
    with pytest.raises(ValueError, match="appears twice"):
        Sample((("a", "1"), ("a", "2")), 1)


def test_bad_types_are_rejected() -> None:
    with pytest.raises(TypeError):
        Sample((), True)
    with pytest.raises(TypeError):
        Sample((), "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Sample((("a", 1),), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Sample((("a",),), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MetricFamily("a", "gauge", "", [1])  # type: ignore[list-item]


def test_kind_must_be_counter_or_gauge() -> None:
    with pytest.raises(ValueError, match="kind must be counter or gauge"):
        MetricFamily("a", "histogram", "")  # type: ignore[arg-type]


def test_duplicate_series_are_rejected() -> None:
    with pytest.raises(ValueError, match="two samples"):
        MetricFamily("a", "gauge", "", [Sample((), 1), Sample((), 2)])
    with pytest.raises(ValueError, match="two samples"):
        # The same label set in another order is the same series.
        MetricFamily(
            "a",
            "gauge",
            "",
            [Sample((("x", "1"), ("y", "2")), 1), Sample((("y", "2"), ("x", "1")), 2)],
        )
    with pytest.raises(ValueError, match="appears twice"):
        render_exposition([MetricFamily("a", "gauge", ""), MetricFamily("a", "counter", "")])


def test_counters_may_not_be_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        MetricFamily("a_total", "counter", "", [Sample((), -1)])
    MetricFamily("a", "gauge", "", [Sample((), -1)])  # a gauge may
