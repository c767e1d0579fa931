"""``trioaudit daemon``'s settings: a TOML file, the same as flags, checked up front.

One source for every setting: :data:`TOP`, :data:`STATUS`, :data:`LOG` and
:data:`OUTPUT` name each key, its type and its default; the TOML file
(``docs/daemon.md`` and ``examples/daemon.toml`` show it), the flags and the error
messages all come from them. Every error names the setting it is about
(``output[2].format: must be one of raw, enriched, json``) and is raised before the
daemon touches the kernel: a bad config never leaves audit half-configured.

Outputs are URLs (``--output URL``, repeatable; ``[[output]] url = ...``)::

    jsonl:/var/log/trioaudit/events.jsonl     JSON lines, rotated like the audit.log
    stdout                                    JSON lines (or any format) on stdout
    syslog+udp://HOST[:514]  syslog+tcp://HOST[:514]  syslog+tls://HOST[:6514]
    relp://HOST[:PORT]       relp+tls://HOST[:PORT]

An output's other settings go after ``?`` as a query (``stdout?format=raw``,
``syslog+tcp://h:514?format=json&filter=type%3DEXECVE``) or, in the file, as keys of
its ``[[output]]`` table.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from .._errors import AuditUsageError
from .._output.auditlog import LOG_FORMATS
from .._output.messages import MESSAGE_FORMATS

__all__ = [
    "DaemonConfig",
    "LogConfig",
    "OutputConfig",
    "StatusConfig",
    "load_config",
    "parse_output_url",
]

#: Top-level keys: name -> (type, default).
TOP: dict[str, tuple[type, Any]] = {
    "rules": (str, ""),
    "node": (str, ""),
    "metrics_listen": (str, ""),
    "spool_dir": (str, "/var/lib/trioaudit/spool"),
    "drain_timeout": (float, 5.0),
    "allow_irreversible": (bool, False),
    "reader_queue_size": (int, 65_536),
}
#: ``[status]``: the kernel settings applied at start (absent: left as they are).
STATUS: dict[str, tuple[type, Any]] = {
    "enabled": (int, None),
    "failure": (int, None),
    "backlog_limit": (int, None),
    "rate_limit": (int, None),
    "backlog_wait_time": (int, None),
}
#: ``[log]``: the audit.log in auditd's formats (``file = ""`` turns it off).
LOG: dict[str, tuple[type, Any]] = {
    "file": (str, "/var/log/audit/audit.log"),
    "format": (str, "enriched"),
    "max_log_file": (int, 8),
    "num_logs": (int, 5),
    "fsync_every": (int, 50),
    "queue_size": (int, 65_536),
}
#: ``[[output]]``: one destination each.
OUTPUT: dict[str, tuple[type, Any]] = {
    "url": (str, ""),
    "format": (str, ""),  # the kind's default: json, except raw for nothing yet
    "filter": (str, ""),
    "normalize": (bool, False),
    "queue_size": (int, 10_000),
    "spool": (bool, True),
    "spool_max_bytes": (int, 256 * 1024 * 1024),
    "max_file": (int, 8),
    "num_files": (int, 5),
    "fsync_every": (int, 0),
    "facility": (str, "authpriv"),
    "severity": (str, "info"),
    "hostname": (str, ""),
    "ca": (str, ""),
    "cert": (str, ""),
    "key": (str, ""),
    "verify": (bool, True),
    "server_name": (str, ""),
    "window": (int, 128),
    "max_message_size": (int, 0),
}
#: The output kinds, by URL scheme.
KINDS = {
    "jsonl": "jsonl",
    "stdout": "stdout",
    "syslog+udp": "syslog",
    "syslog+tcp": "syslog",
    "syslog+tls": "syslog",
    "relp": "relp",
    "relp+tls": "relp",
}
_NETWORK = frozenset({"syslog", "relp"})
#: Settings that mean nothing below zero.
_NON_NEGATIVE = frozenset(
    {"reader_queue_size", "max_log_file", "num_logs", "fsync_every", "queue_size",
     "spool_max_bytes", "max_file", "num_files", "backlog_limit", "rate_limit",
     "backlog_wait_time", "drain_timeout"}
)  # fmt: skip


@dataclass(frozen=True)
class StatusConfig:
    """Kernel settings applied at start and on SIGHUP; ``None`` leaves one alone."""

    enabled: int | None = None
    failure: int | None = None
    backlog_limit: int | None = None
    rate_limit: int | None = None
    backlog_wait_time: int | None = None


@dataclass(frozen=True)
class LogConfig:
    """The audit.log (auditd.conf's ``log_file``, ``log_format``, ``max_log_file``,
    ``num_logs``, ``freq``)."""

    file: str = "/var/log/audit/audit.log"
    format: str = "enriched"
    max_log_file: int = 8
    num_logs: int = 5
    fsync_every: int = 50
    queue_size: int = 65_536


@dataclass(frozen=True)
class OutputConfig:
    """One ``--output`` / ``[[output]]``: where, in what format, which events."""

    url: str
    kind: str  # jsonl, stdout, syslog, relp
    name: str  # for logs and metrics labels: the URL without its query
    format: str = "json"
    filter: str = ""
    normalize: bool = False
    queue_size: int = 10_000
    spool: bool = True
    spool_max_bytes: int = 256 * 1024 * 1024
    max_file: int = 8
    num_files: int = 5
    fsync_every: int = 0
    facility: str = "authpriv"
    severity: str = "info"
    hostname: str = ""
    ca: str = ""
    cert: str = ""
    key: str = ""
    verify: bool = True
    server_name: str = ""
    window: int = 128
    max_message_size: int = 0  # syslog+udp: truncate above (0: rsyslog's 8096)

    @property
    def path(self) -> str:
        """A ``jsonl:`` output's file."""
        return self.name.split(":", 1)[1]

    @property
    def is_network(self) -> bool:
        return self.kind in _NETWORK


@dataclass(frozen=True)
class DaemonConfig:
    """Everything ``trioaudit daemon`` runs with."""

    rules: str = ""
    node: str = ""
    metrics_listen: str = ""
    spool_dir: str = "/var/lib/trioaudit/spool"
    drain_timeout: float = 5.0
    allow_irreversible: bool = False
    reader_queue_size: int = 65_536  # records between the socket and the reader
    status: StatusConfig = field(default_factory=StatusConfig)
    log: LogConfig = field(default_factory=LogConfig)
    outputs: tuple[OutputConfig, ...] = ()
    source: str = ""  # the config file, for messages and SIGHUP


def _typed(where: str, key: str, value: Any, kind: type) -> Any:
    """*value* checked against *kind* (ints are not bools; floats take ints)."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("1", "0", "true", "false", "yes", "no"):
            value = value.lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise AuditUsageError(f"{where}{key}: must be true or false")
        return value
    if kind is int and isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise AuditUsageError(f"{where}{key}: must be an integer, not {value!r}") from None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise AuditUsageError(f"{where}{key}: must be {kind.__name__}, not {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise AuditUsageError(f"{where}{key}: must be a finite number")
        if key in _NON_NEGATIVE and value < 0:
            raise AuditUsageError(f"{where}{key}: cannot be negative")
    return value


def _section(
    where: str, table: Mapping[str, Any], schema: Mapping[str, tuple[type, Any]]
) -> dict[str, Any]:
    """A table's settings checked against *schema*: unknown keys and wrong types are
    errors naming ``where.key``."""
    if not isinstance(table, Mapping):
        raise AuditUsageError(f"{where.rstrip('.')}: must be a table")
    values = {}
    for key, value in table.items():
        if key not in schema:
            raise AuditUsageError(f"{where}{key}: unknown setting")
        values[key] = _typed(where, key, value, schema[key][0])
    return values


def parse_output_url(
    url: str, where: str = "output", extra: Mapping[str, Any] | None = None
) -> OutputConfig:
    """One output from its URL (query settings included) and the settings of its table."""
    if not url:
        raise AuditUsageError(f"{where}.url: missing")
    base, _, query = url.partition("?")
    scheme = "stdout" if base == "stdout" else base.split(":", 1)[0]
    kind = KINDS.get(scheme)
    if kind is None or (scheme != "stdout" and ":" not in base):
        raise AuditUsageError(
            f"{where}.url: {url!r} is not jsonl:PATH, stdout, syslog+udp://, syslog+tcp://, "
            "syslog+tls://, relp:// or relp+tls://"
        )
    if kind == "jsonl" and not base[len("jsonl:") :]:
        raise AuditUsageError(f"{where}.url: jsonl: needs a path (jsonl:/var/log/events.jsonl)")
    settings = dict(extra or {})
    settings.pop("url", None)
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in OUTPUT or key == "url":
            raise AuditUsageError(f"{where}.url: unknown setting {key!r} after '?'")
        settings[key] = _typed(f"{where}.", key, value, OUTPUT[key][0])  # decoded once
    fmt = settings.get("format") or "json"
    if fmt not in MESSAGE_FORMATS:
        raise AuditUsageError(f"{where}.format: must be one of {', '.join(MESSAGE_FORMATS)}")
    settings["format"] = fmt
    if settings.get("normalize") and fmt != "json":
        raise AuditUsageError(f"{where}.normalize: needs format = json")
    if kind == "jsonl" and base.startswith("jsonl://"):
        raise AuditUsageError(f"{where}.url: write jsonl:/path (one colon), not jsonl://")
    return OutputConfig(url=url, kind=kind, name=base, **settings)


def load_config(path: str | None, flags: Mapping[str, Any]) -> DaemonConfig:
    """The settings: defaults, then the TOML file at *path*, then *flags* (``None``
    values are flags not given). *flags* keys: the top-level names, ``log.<key>``,
    ``status.<key>``, and ``outputs`` (a list of URLs, added after the file's)."""
    data: dict[str, Any] = {}
    source = ""
    if path:
        source = str(path)
        try:
            with open(path, "rb") as file:
                data = tomllib.load(file)
        except OSError as exc:
            raise AuditUsageError(f"--config {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise AuditUsageError(f"--config {path}: {exc}") from None
    where = f"{source}: " if source else ""
    sections = {"status": STATUS, "log": LOG}
    top_schema = {**TOP, "status": (dict, None), "log": (dict, None), "output": (list, None)}
    for key in data:
        if key not in top_schema:
            raise AuditUsageError(f"{where}{key}: unknown setting")
    top = _section(where, {k: v for k, v in data.items() if k in TOP}, TOP)
    parts: dict[str, dict[str, Any]] = {
        name: _section(f"{where}{name}.", data.get(name, {}), schema)
        for name, schema in sections.items()
    }
    outputs: list[OutputConfig] = []
    tables = data.get("output", [])
    if not isinstance(tables, list):
        raise AuditUsageError(f"{where}output: must be an array of tables ([[output]])")
    for index, table in enumerate(tables):
        name = f"{where}output[{index}]"
        checked = _section(f"{name}.", table, OUTPUT)
        outputs.append(parse_output_url(checked.get("url", ""), name, checked))
    # The flags win over the file.
    for key, value in flags.items():
        if value is None or key == "outputs":
            continue
        section, _, name = key.rpartition(".")
        if section:
            schema = sections[section]
            parts[section][name] = _typed(f"--{section}-", name, value, schema[name][0])
        else:
            top[name] = _typed("--", name, value, TOP[name][0])
    for index, url in enumerate(flags.get("outputs") or ()):
        outputs.append(parse_output_url(url, f"--output[{index}]"))
    if top.get("reader_queue_size", 1) < 1:
        raise AuditUsageError(f"{where}reader_queue_size: must be at least 1")
    log = LogConfig(**parts["log"])
    if log.format not in LOG_FORMATS:
        raise AuditUsageError(f"{where}log.format: must be one of {', '.join(LOG_FORMATS)}")
    status = StatusConfig(**parts["status"])
    _check_status(where, status, bool(top.get("allow_irreversible")))
    names = [output.name for output in outputs]
    for output in outputs:
        if names.count(output.name) > 1:
            raise AuditUsageError(f"{where}output {output.name}: given twice")
        if output.kind == "jsonl" and log.file and Path(output.path) == Path(log.file):
            raise AuditUsageError(f"{where}output {output.name}: is also log.file")
    if sum(output.kind == "stdout" for output in outputs) > 1:
        raise AuditUsageError(f"{where}output stdout: given twice")
    return DaemonConfig(**top, status=status, log=log, outputs=tuple(outputs), source=source)


def _check_status(where: str, status: StatusConfig, allow: bool) -> None:
    """The kernel's ranges, and the two settings a config file must never make by
    accident: ``enabled = 2`` (locked until reboot) and ``failure = 2`` (panic) need
    ``allow_irreversible = true`` too, as ``-e 2`` and ``-f 2`` in the rules do."""
    for name, value in (("enabled", status.enabled), ("failure", status.failure)):
        if value is None:
            continue
        if value not in (0, 1, 2):
            raise AuditUsageError(f"{where}status.{name}: must be 0, 1 or 2")
        if value == 2 and not allow:
            what = "locks audit until reboot" if name == "enabled" else "panics the machine"
            raise AuditUsageError(
                f"{where}status.{name}: 2 {what}; set allow_irreversible = true if you mean it"
            )
