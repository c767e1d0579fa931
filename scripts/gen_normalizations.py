#!/usr/bin/env python3
"""Generate ``trioaudit/_tables/normalizations.py`` and the aucoalesce golden cases.

Source (read, never vendored as code): go-libaudit's ``aucoalesce`` package
(https://github.com/elastic/go-libaudit, Apache License 2.0, Copyright Elasticsearch B.V.):

  * ``aucoalesce/normalizations.yaml`` -- which syscall or record type means which
    action, object and ECS categorisation. Its YAML anchors and merge keys are resolved
    here, and each list-or-string value becomes a tuple, so the table is plain data.
  * ``aucoalesce/testdata/*.yaml`` and ``*.json.golden`` -- the log lines of every test
    case and go-libaudit's normalised event for it: written as
    ``tests/data/aucoalesce/<file>.json`` (``[{"name", "lines", "expected"}]``), which
    ``tests/unit/test_normalize.py`` holds our normaliser to.

The data is Apache-2.0 and is credited in the generated files; the code that applies it
(``trioaudit/_normalize``) is trioaudit's own.

It also reads ``aucoalesce/event_type.go`` (GetAuditEventType's ranges of record types
per category), ``auparse/zaudit_msg_types.go`` (the numbers those ranges name) and
``auparse/zaudit_arches.go`` (the names go-libaudit gives the ``arch`` field).

Usage (PyYAML is needed here only, not by trioaudit or its tests)::

    python scripts/gen_normalizations.py PATH/TO/go-libaudit
    ruff format trioaudit/_tables/normalizations.py
"""

from __future__ import annotations

import argparse
import json
import pprint
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
LISTS = (
    "subject_primary",
    "subject_secondary",
    "object_primary",
    "object_secondary",
    "how",
    "record_types",
    "syscalls",
    "source_ip",
    "has_fields",
)


def strings(value: Any) -> tuple[str, ...]:
    """go-libaudit's ``Strings``: a string or a list of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def normalization(entry: dict[str, Any]) -> dict[str, Any]:
    ecs = entry.get("ecs") or {}
    out: dict[str, Any] = {
        "action": entry.get("action", ""),
        "object_what": entry.get("object_what", ""),
        "object_path_index": int(entry.get("object_path_index", 0)),
    }
    for key in LISTS:
        out[key] = strings(entry.get(key))
    out["ecs"] = {
        "kind": ecs.get("kind", ""),
        "category": strings(ecs.get("category")),
        "type": strings(ecs.get("type")),
        "mappings": tuple((m["from"], m["to"]) for m in ecs.get("mappings") or ()),
    }
    return out


def commit_of(repo: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


CONSTANT = re.compile(r"^\s*(AUDIT_[A-Z0-9_]+)\s+AuditMessageType\s*=\s*(\d+)", re.M)
ARCH_CONSTANT = re.compile(r"^\s*(AUDIT_ARCH_[A-Z0-9_]+)\s+AuditArch\s*=\s*(0x[0-9a-f]+)", re.M)
ARCH_NAME = re.compile(r'^\s*(AUDIT_ARCH_[A-Z0-9_]+):\s*"([a-z0-9_]+)"', re.M)
CASE = re.compile(r"case\s+(.*?):\s*return\s+(EventType\w+)", re.S)
CATEGORY_NAME = re.compile(r'(EventType\w+):\s*"([a-zA-Z-]+)"')
RANGE = re.compile(r"t\s*>=\s*(AUDIT_\w+)\s*&&\s*t\s*<=\s*(AUDIT_\w+)")
EQUAL = re.compile(r"t\s*==\s*(AUDIT_\w+)")


def categories(repo: Path) -> tuple[tuple[int, int, str], ...]:
    """GetAuditEventType's switch (aucoalesce/event_type.go) as (low, high, category)
    ranges in the switch's order (the first that holds wins), numbers resolved from
    auparse/zaudit_msg_types.go."""
    numbers = {
        name: int(value)
        for name, value in CONSTANT.findall((repo / "auparse" / "zaudit_msg_types.go").read_text())
    }
    source = (repo / "aucoalesce" / "event_type.go").read_text()
    names = dict(CATEGORY_NAME.findall(source))
    body = source[source.index("func GetAuditEventType") :]
    ranges: list[tuple[int, int, str]] = []
    for conditions, kind in CASE.findall(body):
        for low, high in RANGE.findall(conditions):
            ranges.append((numbers[low], numbers[high], names[kind]))
        for single in EQUAL.findall(conditions):
            ranges.append((numbers[single], numbers[single], names[kind]))
    return tuple(ranges)


def arch_names(repo: Path) -> dict[int, str]:
    """auparse.AuditArchNames: the names go-libaudit gives the ``arch`` field."""
    text = (repo / "auparse" / "zaudit_arches.go").read_text()
    values = {name: int(value, 16) for name, value in ARCH_CONSTANT.findall(text)}
    return {values[name]: label for name, label in ARCH_NAME.findall(text)}


def write_table(repo: Path, commit: str) -> None:
    data = yaml.safe_load((repo / "aucoalesce" / "normalizations.yaml").read_text())
    table = tuple(normalization(entry) for entry in data["normalizations"])
    text = pprint.pformat(table, width=96, sort_dicts=False)
    ranges = pprint.pformat(categories(repo), width=96)
    arches = pprint.pformat(arch_names(repo), width=96)
    (ROOT / "trioaudit" / "_tables" / "normalizations.py").write_text(
        '"""go-libaudit aucoalesce\'s normalisation table, as data.\n\n'
        "Generated by ``scripts/gen_normalizations.py`` from ``aucoalesce/normalizations.yaml``\n"
        f"of https://github.com/elastic/go-libaudit at commit {commit}\n"
        "(Apache License 2.0, Copyright Elasticsearch B.V.). Do not edit: regenerate.\n"
        "Each entry: action, object_what, object_path_index, the field-name lists\n"
        "(first found wins), the syscalls or record types it applies to, has_fields (all\n"
        'must be present), and its ECS kind, categories, types and (from, to) mappings.\n"""\n\n'
        "from typing import Any\n\n"
        f"NORMALIZATIONS: tuple[dict[str, Any], ...] = {text}\n\n"
        "#: GetAuditEventType (aucoalesce/event_type.go): (low, high, category) record-type\n"
        '#: ranges, the first that holds wins; any other type is "unknown".\n'
        f"CATEGORY_RANGES: tuple[tuple[int, int, str], ...] = {ranges}\n\n"
        "#: auparse.AuditArchNames: the audit arch number -> the name go-libaudit logs.\n"
        f"ARCH_NAMES: dict[int, str] = {arches}\n"
    )


def write_cases(repo: Path, commit: str) -> None:
    out = ROOT / "tests" / "data" / "aucoalesce"
    out.mkdir(parents=True, exist_ok=True)
    for source in sorted((repo / "aucoalesce" / "testdata").glob("*.yaml")):
        tests = yaml.safe_load(source.read_text())["tests"]
        golden_path = source.with_name(source.stem + ".json.golden")
        golden = {case["test_name"]: case for case in json.loads(golden_path.read_text())}
        cases = [
            {
                "name": name,
                "lines": [line for line in text.splitlines() if line.strip()],
                "expected": golden[name]["event"],
                "warnings": golden[name].get("warnings", []),
            }
            for name, text in sorted(tests.items())
        ]
        doc = {
            "source": f"go-libaudit {commit}: aucoalesce/testdata/{source.name} and "
            f"{golden_path.name} (Apache License 2.0, Copyright Elasticsearch B.V.)",
            "cases": cases,
        }
        (out / f"{source.stem}.json").write_text(json.dumps(doc, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("go_libaudit", type=Path, help="a checkout of elastic/go-libaudit")
    args = parser.parse_args()
    commit = commit_of(args.go_libaudit)
    write_table(args.go_libaudit, commit)
    write_cases(args.go_libaudit, commit)


if __name__ == "__main__":
    main()
