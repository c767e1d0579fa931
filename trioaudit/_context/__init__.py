"""Process and container context: which process tree, container and systemd unit.

``processes``  the sans-IO process table kept from the event stream (ancestry);
``cgroups``    container id and systemd unit from a process's cgroup paths (sans-IO);
``procfs``     reading /proc: the table's seed and new processes' cgroups (best effort).
"""

from .cgroups import Container, container_of, unit_of
from .processes import ProcessEntry, ProcessTable, ProcessTableStatistics

__all__ = [
    "Container",
    "ProcessEntry",
    "ProcessTable",
    "ProcessTableStatistics",
    "container_of",
    "unit_of",
]
