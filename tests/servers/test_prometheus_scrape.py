"""A real Prometheus scrapes :func:`serve_metrics` and stores what ``collect()`` served.

The responder runs in the test's trio loop; Prometheus (a subprocess) and the
blocking queries of its HTTP API run in a worker thread, so the loop keeps
answering scrapes. Values cross the whole path: our rendering, our HTTP, and
Prometheus's own text parser -- escaped label values and HELP text, a large
counter, special floats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.support.prometheus import Series, have_prometheus, running_prometheus
from trioaudit._daemon.metrics import serve_metrics
from trioaudit._output.metrics import MetricFamily, Sample

pytestmark = pytest.mark.skipif(not have_prometheus(), reason="prometheus is not installed")

TRICKY_LABEL = 'C:\\DIR\\FILE.TXT "quoted"\nsecond line, ünïcode'
TRICKY_HELP = "Help with a backslash \\ and a\nnewline."


def families() -> Sequence[MetricFamily]:
    return [
        MetricFamily("trioaudit_test_events_total", "counter", TRICKY_HELP, [Sample((), 12345)]),
        MetricFamily(
            "trioaudit_test_queue_depth",
            "gauge",
            "Messages queued per output.",
            [
                Sample((("output", "syslog+tcp://127.0.0.1:514"),), 7),
                Sample((("output", "relp://127.0.0.1:2514"),), 0.25),
                Sample((("output", TRICKY_LABEL),), -3),
            ],
        ),
        MetricFamily(
            "trioaudit_test_special",
            "gauge",
            "",
            [
                Sample((("which", "inf"),), math.inf),
                Sample((("which", "ninf"),), -math.inf),
                Sample((("which", "nan"),), math.nan),
                Sample((("which", "big"),), 2**62),
            ],
        ),
    ]


def by_label(result: list[Series], label: str) -> dict[str, str]:
    return {series["metric"][label]: series["value"][1] for series in result}


def scrape_and_query(workdir: Path, port: int) -> dict[str, Any]:
    """Start Prometheus, wait until the target is up and scraped, query what it stored."""
    with running_prometheus(workdir, [f"127.0.0.1:{port}"]) as prometheus:
        up = prometheus.wait_for(
            'up{job="trioaudit"}', lambda r: len(r) == 1 and r[0]["value"][1] == "1", timeout=30
        )
        # `up` and the samples come from the same scrape, so they are there now.
        return {
            "up": up,
            "targets": prometheus.targets_state(),
            "counter": prometheus.query("trioaudit_test_events_total"),
            "gauge": prometheus.query("trioaudit_test_queue_depth"),
            "special": prometheus.query("trioaudit_test_special"),
            "metadata": prometheus.metadata("trioaudit_test_events_total"),
        }


async def test_prometheus_scrapes_what_collect_served(tmp_path: Path) -> None:
    scrapes = 0

    def collect() -> Sequence[MetricFamily]:
        nonlocal scrapes
        scrapes += 1
        return families()

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            _host, port = await nursery.start(serve_metrics, "127.0.0.1:0", collect)
            found = await trio.to_thread.run_sync(scrape_and_query, tmp_path / "prometheus", port)
            nursery.cancel_scope.cancel()

    assert scrapes >= 1
    (up,) = found["up"]
    assert up["metric"]["instance"] == f"127.0.0.1:{port}"
    assert found["targets"] == [
        {"scrapeUrl": f"http://127.0.0.1:{port}/metrics", "health": "up", "lastError": ""}
    ]

    (counter,) = found["counter"]
    assert counter["metric"] == {
        "__name__": "trioaudit_test_events_total",
        "instance": f"127.0.0.1:{port}",
        "job": "trioaudit",
    }
    assert counter["value"][1] == "12345"

    assert by_label(found["gauge"], "output") == {
        "syslog+tcp://127.0.0.1:514": "7",
        "relp://127.0.0.1:2514": "0.25",
        TRICKY_LABEL: "-3",
    }
    special = by_label(found["special"], "which")
    # Prometheus prints a float64 in its shortest form (4611686018427388000): compare numbers.
    assert float(special.pop("big")) == 2**62
    assert special == {"inf": "+Inf", "ninf": "-Inf", "nan": "NaN"}
    assert found["metadata"] == [{"type": "counter", "help": TRICKY_HELP, "unit": ""}]
