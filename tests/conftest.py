"""Shared fixtures: kernel-state save/restore and live-kernel gating."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.support import kernelstate

# CI replays the same generated examples on every run (derandomize): a merge is
# judged on the code, not on the inputs one run happened to draw. Exploration
# happens in local runs (random seeds) and in the atheris harnesses (fuzz/);
# whatever they find becomes an @example or a regression test.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

_KERNEL_UNAVAILABLE = kernelstate.can_talk_to_kernel()

#: Apply to tests that talk to the live kernel: they skip (with the reason) where it cannot answer.
requires_kernel = pytest.mark.skipif(
    _KERNEL_UNAVAILABLE is not None, reason=_KERNEL_UNAVAILABLE or ""
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("kernel") and _KERNEL_UNAVAILABLE is not None:
            item.add_marker(pytest.mark.skip(reason=_KERNEL_UNAVAILABLE))


@pytest.fixture
def audit_state() -> Iterator[kernelstate.KernelState]:
    """Save the kernel's audit status and rules; restore them after the test.

    Restores even when the test fails or is cancelled. Refuses to run beside a
    live audit daemon that the tests did not start (it would have to be
    displaced to test unicast).
    """
    holder = kernelstate.foreign_daemon()
    if holder is not None:
        pytest.skip(f"an audit daemon (pid {holder}) is running; not displacing it")
    saved = kernelstate.save()
    try:
        yield saved
    finally:
        kernelstate.restore(saved)
        after = kernelstate.save()
        assert after.rules == saved.rules, "rules were not restored"
        assert after.pid in (0, saved.pid), f"audit pid left registered: {after.pid}"


@pytest.fixture
def raw_audit() -> Iterator[kernelstate.RawAudit]:
    """An independent blocking netlink speaker, to check what the kernel really holds."""
    with kernelstate.RawAudit() as audit:
        yield audit
