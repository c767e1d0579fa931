"""One event's records -> one normalised event, as go-libaudit's ``aucoalesce`` makes it.

The steps (``CoalesceMessages`` in aucoalesce/coalesce.go, whose behaviour this follows
in trioaudit's own code): a single record is normalised alone; in a compound event the
first SYSCALL is the subject and a first record of another type (an AVC, a USER_*) gives
the event its type and category. The records' data (``data.record_data``) fill one
field map; PATH records become the file candidates, SOCKADDR the source or destination
by the syscall's direction, EXECVE the argument vector. Then the normalisation table
(``_tables.normalizations``, generated from aucoalesce's ``normalizations.yaml``) picks an
entry by syscall name or record type and sets the summary (actor, action, object, how),
the ECS categorisation and the ECS user/group fields.

The output is the JSON shape of aucoalesce's ``Event`` for the members listed in
:data:`MEMBERS`, with Go's rules for what is left out (an empty string or list with
``omitempty``; structs are always written). Where trioaudit departs from go-libaudit on
purpose, docs/normalize.md lists it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._records.interpret.sysdb import SystemDatabase
from .._records.model import AuditEvent, AuditRecord
from .._tables.msgtype_names import MSGTYPE_NAMES
from .._tables.msgtypes import AuditMessageType as _T
from .._tables.normalizations import CATEGORY_RANGES, NORMALIZATIONS
from .data import record_data
from .extensions import OWN_CATEGORIES, OWN_NORMALIZATIONS

__all__ = ["MEMBERS", "normalize", "resolve_ids"]

#: What a normalised event adds to the event's JSON, in aucoalesce's order.
MEMBERS = (
    "category",
    "result",
    "session",
    "tags",
    "summary",
    "user",
    "process",
    "file",
    "source",
    "destination",
    "network",
    "ecs",
)

_SYSCALL, _PATH, _SOCKADDR, _EXECVE = (
    int(_T.SYSCALL),
    int(_T.PATH),
    int(_T.SOCKADDR),
    int(_T.EXECVE),
)
_EOE = int(_T.EOE)
_S_IFMT = 0o170000
_FILE_TYPES = {
    0o100000: "file",
    0o040000: "directory",
    0o020000: "character-device",
    0o060000: "block-device",
    0o010000: "named-pipe",
    0o120000: "symlink",
    0o140000: "socket",
}
_INTERPRETERS = ("/usr/bin/python", "/usr/bin/sh", "/usr/bin/bash", "/usr/bin/perl")
_INCOMING = frozenset({"recvfrom", "recvmsg", "accept", "accept4"})
_OUTGOING = frozenset({"connect", "sendto", "sendmsg"})
_UNSET_IDS = frozenset({"", "unset", "4294967295", "-1"})


def _tables() -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    by_syscall: dict[str, dict[str, Any]] = {}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in NORMALIZATIONS:
        for name in entry["syscalls"]:
            by_syscall[name] = entry
        for name in entry["record_types"]:
            by_type.setdefault(name, []).append(entry)
    return by_syscall, by_type


_BY_SYSCALL, _BY_TYPE = _tables()
_OWN_BY_TYPE: dict[str, list[dict[str, Any]]] = {}
for _own in OWN_NORMALIZATIONS:
    _OWN_BY_TYPE.setdefault(_own["record_types"][0], []).append(_own)


def category_of(rtype: int) -> str:
    """aucoalesce's event category of a record type (GetAuditEventType)."""
    found = _CATEGORIES.get(rtype)
    if found is None:
        found = next((name for low, high, name in CATEGORY_RANGES if low <= rtype <= high), None)
        _CATEGORIES[rtype] = found = found or OWN_CATEGORIES.get(rtype, "unknown")
    return found


_CATEGORIES: dict[int, str] = {}


@dataclass(slots=True)
class _Entity:
    name: str = ""
    id: str = ""

    def set(self, value: str) -> None:
        if value in _UNSET_IDS:
            self.name, self.id = "", "unset"
        elif value.isascii() and value.isdigit():
            self.id = value
        else:
            self.name = value

    def json(self) -> dict[str, str]:
        return {k: v for k, v in (("name", self.name), ("id", self.id)) if v}


@dataclass(slots=True)
class _Event:
    """aucoalesce's Event while it is built (the members it renders, and its data)."""

    rtype: int
    category: str
    result: str = ""
    session: str = ""
    tags: list[str] = field(default_factory=list)
    actor: dict[str, str] = field(default_factory=dict)
    action: str = ""
    object: dict[str, str] = field(default_factory=dict)
    how: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    selinux: dict[str, str] = field(default_factory=dict)
    process: dict[str, Any] = field(default_factory=dict)
    file: dict[str, Any] | None = None
    source: dict[str, str] | None = None
    destination: dict[str, str] | None = None
    direction: str = ""
    data: dict[str, str] = field(default_factory=dict)
    paths: list[dict[str, str]] = field(default_factory=list)
    ecs_event: dict[str, Any] = field(default_factory=dict)
    ecs_user: dict[str, _Entity] = field(default_factory=dict)
    ecs_group: _Entity = field(default_factory=_Entity)
    warnings: list[str] = field(default_factory=list)

    def value(self, key: str) -> str | None:
        """getValue: the data, then the user ids."""
        found = self.data.get(key)
        return found if found is not None else self.ids.get(key)


def normalize(event: AuditEvent, *, names: SystemDatabase | None = None) -> dict[str, Any] | None:
    """The normalised members of an event (see :data:`MEMBERS`), or ``None`` when
    aucoalesce has none for it (no records; a compound event without a SYSCALL).

    names: resolve user and group ids to names with this database, as Auditbeat does
    (:func:`resolve_ids`); without it the ids stay numbers, as in aucoalesce's cases."""
    built = coalesce(list(event.records))
    if built is None:
        return None
    members = render(built)
    return resolve_ids(members, names) if names is not None else members


def coalesce(records: list[AuditRecord]) -> _Event | None:
    """CoalesceMessages: the event built from its records (a trailing EOE ignored)."""
    if records and records[-1].type == _EOE:
        records = records[:-1]
    if not records:
        return None
    built: _Event | None
    if len(records) == 1:
        built = _new_event(records[0], None)
    else:
        built = _compound(records)
        if built is None:
            return None
    _apply_normalization(built)
    _add_process(built)
    return built


def _compound(records: list[AuditRecord]) -> _Event | None:
    special: AuditRecord | None = None
    syscall: AuditRecord | None = None
    for index, record in enumerate(records):
        if index == 0 and record.type != _SYSCALL:
            special = record
            continue
        if record.type == _SYSCALL:
            syscall = record
            break
    if syscall is None:
        return None  # all compound events have a SYSCALL record
    built = _new_event(special, syscall)
    for record in records:
        if record.type == _SYSCALL:
            built.data.pop("items", None)
        elif record.type == _PATH:
            path = _data_of(record, built, "PATH message")
            if path is not None:
                built.paths.append(path)
        elif record.type == _SOCKADDR:
            _add_sockaddr(record, built)
        elif record.type == _EXECVE:
            _add_execve(record, built)
        else:
            data = _data_of(record, built, "message")
            if data is None:
                continue
            for key, value in data.items():
                if key in built.data:
                    built.warnings.append(f"duplicate key ({key}) from {record.type_name} message")
                    continue
                built.data[key] = value
    return built


def _new_event(first: AuditRecord | None, syscall: AuditRecord | None) -> _Event:
    head = first if first is not None else syscall
    assert head is not None
    built = _Event(rtype=head.type, category=category_of(head.type))
    source = syscall if syscall is not None else head
    view = record_data(source)
    if view.data is None:
        built.warnings.append(str(view.error))
        return built
    data = dict(view.data)
    built.result = data.pop("result", "unknown")
    session = data.pop("ses", None)
    if session is not None:
        built.session = session
    if "auid" in data:
        built.actor["primary"] = data["auid"]
    if "uid" in data:
        built.actor["secondary"] = data["uid"]
    built.tags = list(view.tags)  # the view is shared: copies of what is kept
    for key, value in data.items():
        if key.endswith(("uid", "gid")):
            built.ids[key] = value
        elif key.startswith("subj_"):
            built.selinux[key[5:]] = value
        else:
            built.data[key] = value
    return built


def _data_of(record: AuditRecord, built: _Event, what: str) -> dict[str, str] | None:
    """The record's data (shared: read it, do not change it), or None with a warning
    when auparse would have none."""
    view = record_data(record)
    if view.data is None:
        built.warnings.append(f"failed to parse {what}: {view.error}")
    return view.data


def _add_sockaddr(record: AuditRecord, built: _Event) -> None:
    data = _data_of(record, built, "SOCKADDR message")
    if data is None:
        return
    syscall = built.data.get("syscall")
    if syscall is None:
        built.warnings.append("failed to add SOCKADDR data because syscall is unknown")
        return
    for key, value in data.items():
        built.data["socket_" + key] = value
    address = {k: v for k, v in (("ip", data.get("addr", "")), ("port", data.get("port", ""))) if v}
    if data.get("path"):
        address["path"] = data["path"]
    if syscall in _INCOMING:
        built.source = address or built.source
        built.direction = "ingress"
    elif syscall in _OUTGOING:
        built.destination = address or built.destination
        built.direction = "egress"


def _add_execve(record: AuditRecord, built: _Event) -> None:
    data = _data_of(record, built, "EXECVE message")
    if data is None:
        return
    # record_data has an EXECVE's data only when argc and every a0..a(argc-1) are there.
    argc = data["argc"]
    built.data["argc"] = argc
    built.process["args"] = [data[f"a{index}"] for index in range(int(argc))]


def _add_process(built: _Event) -> None:
    for member, key in (
        ("pid", "pid"),
        ("ppid", "ppid"),
        ("title", "proctitle"),
        ("name", "comm"),
        ("exe", "exe"),
        ("cwd", "cwd"),
    ):
        value = built.data.pop(key, "")
        if value:
            built.process[member] = value
    # Go's struct writes its members in declaration order; args come last.
    if "args" in built.process:
        built.process["args"] = built.process.pop("args")


def _set_how_defaults(built: _Event) -> None:
    exe = built.data.get("exe")
    if exe is None:
        exe = built.data.get("comm")
        if exe is None:
            return
    built.how = exe
    if exe.startswith(_INTERPRETERS):
        comm = built.data.get("comm")
        if comm is not None:  # probably a script: the interpreter's comm says which
            built.how = comm


def _apply_normalization(built: _Event) -> None:
    _set_how_defaults(built)
    syscall_norm = None
    syscall = built.data.get("syscall")
    if syscall is not None:
        syscall_norm = _BY_SYSCALL.get(syscall, _BY_SYSCALL["*"])
    norm: dict[str, Any] | None
    if built.rtype == _SYSCALL:
        norm = syscall_norm
    else:
        type_name = MSGTYPE_NAMES.get(built.rtype, "")
        candidates = _BY_TYPE.get(type_name, [])
        norm = candidates[0] if len(candidates) == 1 else None
        if len(candidates) > 1:  # the last whose has_fields are all present
            for candidate in candidates:
                if all(name in built.data for name in candidate["has_fields"]):
                    norm = candidate
        if not candidates:  # a type go-libaudit lacks: ours (extensions), if any holds
            norm = next(
                (
                    own
                    for own in _OWN_BY_TYPE.get(type_name, ())
                    if all(built.data.get(k) == v for k, v in own["when"].items())
                ),
                None,
            )
    if norm is None:
        built.warnings.append("no normalization found for event")
        return
    ecs = norm["ecs"]
    if ecs["kind"]:
        built.ecs_event["kind"] = ecs["kind"]
    categories = list(ecs["category"])
    types = list(ecs["type"])
    if syscall_norm is not None and syscall_norm is not norm:
        # A record type's normalisation, and the syscall's too.
        categories += syscall_norm["ecs"]["category"]
        types += syscall_norm["ecs"]["type"]
        if built.result == "fail":
            built.ecs_event["outcome"] = "failure"
    if categories:
        built.ecs_event["category"] = categories
    if types:
        built.ecs_event["type"] = types
    built.action = norm["action"]
    what = norm["object_what"]
    if what:
        built.object["type"] = what
    if what in ("file", "filesystem") and built.paths:
        _set_file_object(built, norm["object_path_index"])
    elif what == "socket":
        _set_socket_object(built)
    for names, target in (
        (norm["subject_primary"], (built.actor, "primary")),
        (norm["subject_secondary"], (built.actor, "secondary")),
        (norm["object_primary"], (built.object, "primary")),
        (norm["object_secondary"], (built.object, "secondary")),
    ):
        _first_found(built, names, target[0], target[1])
    for name in norm["how"]:
        found = built.value(name)
        if found is not None:
            built.how = found
            break
    if built.source is None:
        for name in norm["source_ip"]:
            found = built.data.pop(name, None)
            if found is not None:
                built.source = {"ip": found} if found else {}
                built.direction = "ingress"
                break
    for origin, destination in ecs["mappings"]:
        _map_ecs(built, origin, destination)


def _first_found(built: _Event, names: tuple[str, ...], into: dict[str, str], key: str) -> None:
    for name in names:
        found = built.value(name)
        if found is not None:
            if found:
                into[key] = found
            else:
                into.pop(key, None)
            return
    if names:
        built.warnings.append(f"failed to set {key} using keys={list(names)}")


def _set_file_object(built: _Event, index_hint: int) -> None:
    index = index_hint if len(built.paths) > index_hint else 0
    path = built.paths[index]
    for candidate in built.paths[index:]:
        # Skip PARENT and UNKNOWN items in case the index was wrong.
        if candidate.get("nametype") not in ("PARENT", "UNKNOWN"):
            path = candidate
            break
    file: dict[str, Any] = {}
    name = path.get("name")
    if name is not None:
        if name:
            built.object["primary"] = name
        file["path"] = name
    if "rdev" in path:
        file["device"] = path["rdev"]
    if "inode" in path:
        file["inode"] = path["inode"]
    mode_text = path.get("mode")
    if mode_text is not None:
        try:
            mode = int(mode_text, 8)
        except ValueError:
            built.warnings.append(f"failed to set file object: bad mode {mode_text!r}")
            mode = None
        if mode is not None:
            file["mode"] = f"{mode & 0o7777:04o}"
            kind = _FILE_TYPES.get(mode & _S_IFMT)
            if kind is not None:
                built.object["type"] = kind
    if "ouid" in path:
        file["uid"] = path["ouid"]
    if "ogid" in path:
        file["gid"] = path["ogid"]
    labels = {k[4:]: v for k, v in path.items() if k.startswith("obj_")}
    if labels:
        file["selinux"] = labels
    built.file = {k: v for k, v in file.items() if v}


def _set_socket_object(built: _Event) -> None:
    address = built.data.get("socket_addr")
    if address is None:
        address = built.data.get("socket_path")
    if address:
        built.object["primary"] = address
    port = built.data.get("socket_port")
    if port:
        built.object["secondary"] = port


def _map_ecs(built: _Event, origin: str, destination: str) -> None:
    if origin in ("subject.primary", "subject.secondary"):
        value = built.actor.get(origin.split(".")[1], "")
    elif origin in ("object.primary", "object.secondary"):
        value = built.object.get(origin.split(".")[1], "")
    elif origin.startswith("data."):
        value = built.data.get(origin[5:], "")
    elif origin.startswith("uid."):
        value = built.ids.get(origin[4:], "")
    else:
        return
    if destination == "group":
        built.ecs_group.set(value)
    elif destination in ("user", "user.effective", "user.target", "user.changes"):
        built.ecs_user.setdefault(destination, _Entity()).set(value)


def render(built: _Event) -> dict[str, Any]:
    """The members as JSON values, with encoding/json's omitempty rules."""
    out: dict[str, Any] = {"category": built.category}
    if built.result:
        out["result"] = built.result
    out["session"] = built.session
    if built.tags:
        out["tags"] = built.tags
    summary: dict[str, Any] = {"actor": dict(built.actor)}
    if built.action:
        summary["action"] = built.action
    summary["object"] = dict(built.object)
    if built.how:
        summary["how"] = built.how
    out["summary"] = summary
    user: dict[str, Any] = {}
    if built.ids:
        user["ids"] = dict(sorted(built.ids.items()))
    if built.selinux:
        user["selinux"] = dict(sorted(built.selinux.items()))
    out["user"] = user
    out["process"] = dict(built.process)
    if built.file is not None:
        out["file"] = built.file
    if built.source is not None:
        out["source"] = built.source
    if built.destination is not None:
        out["destination"] = built.destination
    if built.direction:
        out["network"] = {"direction": built.direction}
    entity: dict[str, Any] = dict(built.ecs_user.get("user", _Entity()).json())
    for member in ("effective", "target", "changes"):
        entity[member] = built.ecs_user.get(f"user.{member}", _Entity()).json()
    out["ecs"] = {"event": dict(built.ecs_event), "user": entity, "group": built.ecs_group.json()}
    return out


def resolve_ids(members: dict[str, Any], db: SystemDatabase) -> dict[str, Any]:
    """aucoalesce's ``ResolveIDs`` (what Auditbeat applies): the actor's ids as user
    names, ``user.names`` beside ``user.ids``, the file's owner and group, and the ECS
    user and group entities' names -- wherever *db* knows the id. Returns *members*,
    changed in place."""

    def user(text: str) -> str:
        return _lookup(db.user_name, text)

    def group(text: str) -> str:
        return _lookup(db.group_name, text)

    actor = members.get("summary", {}).get("actor", {})
    for key in ("primary", "secondary"):
        name = user(actor.get(key, ""))
        if name:
            actor[key] = name
    ids = members.get("user", {}).get("ids", {})
    names = {}
    for key, value in ids.items():
        name = user(value) if key.endswith("uid") else group(value) if key.endswith("gid") else ""
        if name:
            names[key] = name
    if names:
        old = members["user"]
        members["user"] = {k: v for k, v in (("ids", old.get("ids")), ("names", names)) if v}
        if "selinux" in old:
            members["user"]["selinux"] = old["selinux"]
    file = members.get("file")
    if file is not None:
        owner = user(file.get("uid", ""))
        grp = group(file.get("gid", ""))
        order = ("path", "device", "inode", "mode", "uid", "gid", "owner", "group", "selinux")
        file.update({k: v for k, v in (("owner", owner), ("group", grp)) if v})
        members["file"] = {k: file[k] for k in order if k in file}
    ecs = members.get("ecs")
    if ecs is not None:
        entity = ecs.get("user", {})
        top = _named(entity, user)
        for key in ("effective", "target", "changes"):
            top[key] = _named(entity.get(key, {}), user)
        ecs["user"] = top
        ecs["group"] = _named(ecs.get("group", {}), group)
    return members


def _named(entity: dict[str, Any], find: Any) -> dict[str, Any]:
    """An ECS entity's name and id (in Go's order), the name looked up when only the id
    is known."""
    out: dict[str, Any] = {k: entity[k] for k in ("name", "id") if k in entity}
    if "id" in out and "name" not in out:
        name = find(out["id"])
        if name:
            out = {"name": name, "id": out["id"]}
    return out


def _lookup(find: Any, text: str) -> str:
    """An id's name, or "" (not a number, or unknown: aucoalesce leaves it as it is)."""
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return ""
    return find(int(text)) or ""
