"""Every test in this folder runs a real server (rsyslog, Prometheus) or a network
namespace, started and removed by the test itself; none touches the kernel's audit
state."""

from __future__ import annotations

import pathlib

import pytest

_HERE = pathlib.Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in pathlib.Path(item.path).parents:
            item.add_marker(pytest.mark.servers)
