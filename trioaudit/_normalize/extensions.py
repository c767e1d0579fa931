"""trioaudit's own normalisations, for record types go-libaudit's table lacks.

aucoalesce's ``normalizations.yaml`` has nothing for AppArmor's own record types
(1500-1506: what AppArmor logs when it is the only LSM), for the kernel's newer BPF
(1334), EVENT_LISTENER (1335) and URINGOP (1336) records, or for NetLabel's
MAC_UNLBL_ALLOW: such events come out with a category and no summary. These entries have
the same shape as the generated table (``_tables.normalizations``), plus ``when``: field
values that must all be equal for the entry to apply (BPF's ``op`` says load or unload).
They apply only to record types the generated table has no entry for, so go-libaudit's
own cases are untouched; docs/normalize.md lists them as departures.
"""

from __future__ import annotations

from typing import Any

from .._tables.msgtypes import AuditMessageType as _T

__all__ = ["OWN_CATEGORIES", "OWN_NORMALIZATIONS"]


def _entry(
    record_type: str,
    action: str,
    *,
    what: str = "",
    primary: tuple[str, ...] = (),
    secondary: tuple[str, ...] = (),
    how: tuple[str, ...] = (),
    when: dict[str, str] | None = None,
    category: tuple[str, ...] = (),
    types: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "action": action,
        "object_what": what,
        "object_path_index": 0,
        "subject_primary": (),
        "subject_secondary": (),
        "object_primary": primary,
        "object_secondary": secondary,
        "how": how,
        "record_types": (record_type,),
        "syscalls": (),
        "source_ip": (),
        "has_fields": (),
        "when": when or {},
        "ecs": {"kind": "", "category": category, "type": types, "mappings": ()},
    }


_APPARMOR_OBJECT = ("name", "operation")
_APPARMOR_DETAIL = ("requested_mask", "denied_mask", "capname")

OWN_NORMALIZATIONS: tuple[dict[str, Any], ...] = (
    # As go-libaudit's AppArmor AVC entry ("violated-apparmor-policy"), for the record
    # types AppArmor writes itself.
    _entry(
        "APPARMOR_DENIED",
        "violated-apparmor-policy",
        what="policy",
        primary=_APPARMOR_OBJECT,
        secondary=_APPARMOR_DETAIL,
    ),
    _entry(
        "APPARMOR_ALLOWED",
        "violated-apparmor-policy",  # complain mode: the violation was let through
        what="policy",
        primary=_APPARMOR_OBJECT,
        secondary=_APPARMOR_DETAIL,
    ),
    _entry("APPARMOR_AUDIT", "audited-by-apparmor", what="policy", primary=_APPARMOR_OBJECT),
    _entry("APPARMOR_HINT", "apparmor-hint", what="policy", primary=_APPARMOR_OBJECT),
    _entry(
        "APPARMOR_STATUS",
        "changed-apparmor-policy",
        what="mac-config",
        primary=("name", "profile"),
        secondary=("operation",),
        category=("configuration",),
        types=("change",),
    ),
    _entry("APPARMOR_ERROR", "apparmor-error", what="policy", primary=_APPARMOR_OBJECT),
    _entry(
        "BPF",
        "loaded-bpf-program",
        what="bpf-program",
        primary=("prog-id",),
        when={"op": "LOAD"},
        category=("configuration",),
        types=("creation",),
    ),
    _entry(
        "BPF",
        "unloaded-bpf-program",
        what="bpf-program",
        primary=("prog-id",),
        when={"op": "UNLOAD"},
        category=("configuration",),
        types=("deletion",),
    ),
    _entry(
        "URINGOP",
        "performed-io_uring-operation",
        what="io_uring",
        primary=("uring_op",),
        how=("exe", "comm"),
        category=("process",),
        types=("info",),
    ),
    _entry(
        "EVENT_LISTENER",
        "changed-audit-listener",
        what="audit-config",
        primary=("nl-mcgrp",),
        secondary=("op",),
        category=("configuration",),
        types=("change",),
    ),
    _entry(
        "MAC_UNLBL_ALLOW",
        "changed-unlabeled-traffic-policy",
        what="mac-config",
        primary=("unlbl_accept",),
        category=("configuration",),
        types=("change",),
    ),
)

#: Categories of record types go-libaudit's GetAuditEventType does not know (it says
#: "unknown"): the kernel's newer ones.
OWN_CATEGORIES: dict[int, str] = {
    int(_T.BPF): "configuration",
    int(_T.EVENT_LISTENER): "configuration",
    int(_T.URINGOP): "audit-rule",
}
