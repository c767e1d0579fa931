"""A pytest plugin that fails any test opening an ``AF_NETLINK`` socket.

For runs that must prove they need no kernel: ``pytest -p tests.support.netlink_guard``.
Every socket trioaudit (and trio) opens goes through :class:`socket.socket`.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    original = socket.socket.__init__

    def guarded(self: socket.socket, family: Any = -1, *args: Any, **kwargs: Any) -> None:
        if family == socket.AF_NETLINK:
            raise AssertionError("this test run must not open a netlink socket")
        original(self, family, *args, **kwargs)

    socket.socket.__init__ = guarded  # type: ignore[method-assign]
