"""The ``auditctl -s`` report: read the kernel's status and features, show them as lines or JSON.

``trioaudit status`` (:mod:`.control`) prints one report; ``status --watch``
(:mod:`.statuswatch`) redraws it every interval. Both read and present it
through this module, so the two can never drift apart -- and neither command
module has to import the other.
"""

from __future__ import annotations

import errno
from typing import Any

from .._errors import NetlinkError
from .._trio.client import AuditClient
from .._wire.control import AuditFeature, AuditFeatures
from .._wire.status import AuditStatus

__all__ = ["read_status", "status_json", "status_lines"]

#: ``auditctl -s -i`` words for ``enabled`` and ``failure`` (its own spelling, "disable" included).
_INTERPRETED = {
    "enabled": {0: "disable", 1: "enabled", 2: "enabled+immutable"},
    "failure": {0: "silent", 1: "printk", 2: "panic"},
}


def status_lines(
    status: AuditStatus, features: AuditFeatures | None = None, *, interpret: bool = False
) -> list[str]:
    """``auditctl -s`` lines for *status* (absent fields are left out, as auditctl does).

    *features* (the ``AUDIT_GET_FEATURE`` reply) adds the ``loginuid_immutable``
    line auditctl prints last; None (a kernel without the feature API) omits it.
    *interpret* spells ``enabled`` and ``failure`` as ``auditctl -s -i`` does.
    """
    lines = []
    for name, value in status.as_dict().items():
        if name == "mask" or name == "feature_bitmap" or value is None:
            continue
        if interpret and name in _INTERPRETED:
            lines.append(f"{name} {_INTERPRETED[name].get(value, 'unknown')}")
            continue
        lines.append(f"{name} {value}")
    state = features.state(AuditFeature.LOGINUID_IMMUTABLE) if features else None
    if state is not None:
        lines.append(state.status_line())
    return lines


def status_json(status: AuditStatus, features: AuditFeatures | None = None) -> dict[str, Any]:
    """The data of :func:`status_lines`, typed, for ``--json``."""
    data: dict[str, Any] = status.as_dict()
    del data["mask"]
    data["features"] = [flag.name.lower() for flag in status.features if flag.name]
    state = features.state(AuditFeature.LOGINUID_IMMUTABLE) if features else None
    if state is not None:
        data["loginuid_immutable"] = {"value": int(state.value), "locked": state.locked}
    return data


async def read_status(client: AuditClient) -> tuple[AuditStatus, AuditFeatures | None]:
    """Status and features, as ``auditctl -s`` asks for them (features may be absent)."""
    status = await client.get_status()
    try:
        features: AuditFeatures | None = await client.get_features()
    except NetlinkError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: a kernel without the feature API
            raise
        features = None
    return status, features
