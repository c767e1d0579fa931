"""Which container and which systemd unit a process runs in, from its cgroup paths.

Sans-IO: the input is the text of ``/proc/PID/cgroup`` (``hierarchy:controllers:path``
lines, cgroup v1 and v2 alike). Container runtimes name the cgroups they create after the
container, and systemd after the unit, so the paths say both:

========================  ===================================================
docker                    ``docker-<64 hex>.scope`` (systemd driver), ``/docker/<64 hex>``
containerd (CRI)          ``cri-containerd-<64 hex>.scope``, ``/kubepods/.../<64 hex>``
cri-o                     ``crio-<64 hex>.scope``
podman                    ``libpod-<64 hex>.scope``, ``/libpod_parent/libpod-<64 hex>``
lxc                       ``/lxc/<name>``, ``/lxc.payload.<name>``, ``/lxc.payload/<name>``
========================  ===================================================

A runtime's own monitor process (``libpod-conmon-<id>.scope``, ``crio-conmon-<id>.scope``)
is not in the container and is not reported as such. The unit is the innermost path
component that is a ``.service`` or ``.scope`` unit other than a container's own scope:
``sshd.service``, ``session-3.scope``, ``user@1000.service``'s ``app.slice/...``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["Container", "container_of", "unit_of"]

_HEX64 = r"[0-9a-f]{64}"
_SCOPES = re.compile(rf"(?:^|/)(docker|cri-containerd|crio|libpod)-({_HEX64})\.scope(?:/|$)")
_PLAIN = re.compile(rf"(?:^|/)(docker|libpod)[-/]({_HEX64})(?:/|$)")
_KUBEPODS = re.compile(rf"(?:^|/)kubepods[^ ]*/({_HEX64})(?:/|$)")
_LXC = re.compile(r"(?:^|/)(?:lxc\.payload[./]|lxc/)([A-Za-z0-9_.-]+?)(?:/|$)")
_UNIT = re.compile(r"^[A-Za-z0-9:_.\\@-]+\.(?:service|scope)$")
_RUNTIME = {"docker": "docker", "cri-containerd": "containerd", "crio": "cri-o", "libpod": "podman"}


class Container(NamedTuple):
    """A container a process runs in: its runtime's name and its id (or name, for lxc)."""

    runtime: str
    id: str


def _paths(cgroup: str) -> list[str]:
    """The cgroup path of each hierarchy line (the text after the second ``:``)."""
    out = []
    for line in cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            out.append(parts[2])
    return out


def container_of(cgroup: str) -> Container | None:
    """The container of the ``/proc/PID/cgroup`` text, or ``None`` (not in one)."""
    for path in _paths(cgroup):
        found = _SCOPES.search(path)
        if found is not None:
            return Container(_RUNTIME[found.group(1)], found.group(2))
        found = _PLAIN.search(path)
        if found is not None:
            return Container(_RUNTIME[found.group(1)], found.group(2))
        found = _KUBEPODS.search(path)
        if found is not None:
            return Container("containerd", found.group(1))
        found = _LXC.search(path)
        if found is not None:
            return Container("lxc", found.group(1))
    return None


def unit_of(cgroup: str) -> str | None:
    """The systemd unit of the ``/proc/PID/cgroup`` text, or ``None``.

    The name=systemd (v1) or unified (v2) hierarchy is preferred; a container's own
    scope does not count as the unit."""
    paths = _paths(cgroup)
    preferred = [
        line.split(":", 2)[2]
        for line in cgroup.splitlines()
        if line.count(":") >= 2 and line.split(":", 2)[1] in ("name=systemd", "")
    ]
    for path in preferred + paths:
        for part in reversed(path.split("/")):
            if _UNIT.match(part) and _SCOPES.search(part) is None:
                return part
    return None
