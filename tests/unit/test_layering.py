"""The layers hold at runtime, not only in import-linter's static graph.

import-linter (pyproject.toml) checks the imports it can see. Two things it
cannot: what a package ``__init__`` pulls in when it runs, and imports made
through ``importlib`` (the PEP 562 lazy names of ``trioaudit``). These tests run
a fresh interpreter with trio and textual made unimportable and use the
sans-IO layers for real; and they walk every import statement in the package
(function-level and ``TYPE_CHECKING`` ones included) to prove there is no cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import trioaudit

PACKAGE = Path(trioaudit.__file__).parent
SAMPLE_LINE = (
    "type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exit=0 "
    "a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 "
    'sgid=0 fsgid=0 tty=pts0 ses=1 comm="true" exe="/usr/bin/true" key="exec"'
)

BLOCK_TRIO = "import sys\nsys.modules['trio'] = None\nsys.modules['textual'] = None\n"


def _run_without_trio(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TRIO + code],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_sans_io_layers_import_and_work_without_trio_or_textual() -> None:
    code = f"""
import trioaudit, trioaudit.lowlevel, trioaudit.rules
from trioaudit.lowlevel import decode_datagram, encode_message

record = trioaudit.parse_log_line({SAMPLE_LINE!r})
assert record.fields["syscall"] == "execve", record.fields
(event,) = list(trioaudit.parse_log([{SAMPLE_LINE!r}.encode(), b""]))
assert event.key == "exec"
rule = trioaudit.parse_rule("-a always,exit -F arch=b64 -S execve -k exec")
assert trioaudit.AuditRule.from_bytes(rule.to_bytes()) == rule
(message,) = decode_datagram(encode_message(1000, seq=7))
assert (message.type, message.seq) == (1000, 7)
assert "trio" not in sys.modules or sys.modules["trio"] is None
print("ok")
"""
    done = _run_without_trio(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_trio_backed_name_says_why_it_cannot_load() -> None:
    done = _run_without_trio("import trioaudit\ntrioaudit.open_audit_client\n")
    assert done.returncode != 0
    assert "ModuleNotFoundError" in done.stderr or "ImportError" in done.stderr
    assert "trio" in done.stderr


def test_importing_the_package_does_not_load_trio() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, trioaudit; print('trio' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("name", trioaudit.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(trioaudit, name) is not None
    assert name in dir(trioaudit)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        trioaudit.no_such_name  # type: ignore[attr-defined]  # noqa: B018


# ---- no import cycles --------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Every trioaudit module -> the trioaudit modules it imports, wherever the import stands."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            graph[name] |= {
                c for c in candidates if c in paths and c != name and not name.startswith(c + ".")
            }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_the_package() -> None:
    graph = import_graph()
    assert len(graph) > 50, "the walk found the package's modules"
    assert "trioaudit._records.model" in graph["trioaudit._records.parse"]
    assert cycles(graph) == []
