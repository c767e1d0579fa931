"""No import cycles among trioaudit's modules, counting every import there is.

import-linter checks the layers; this checks that inside a layer modules still
import one way. Every ``import``/``from ... import`` counts, wherever it sits:
at the top, inside a function (a lazy import is a cycle postponed, not
removed) or under ``if TYPE_CHECKING:``. ``from P import name`` is an edge to
``P.name`` when that is a module, else to ``P`` (import-linter's convention).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
#: Packages that must stay free of cycles (widen as the other layers get there).
CHECKED = ("trioaudit.cli", "trioaudit.rules", "trioaudit.tui")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((ROOT / "trioaudit").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            origin = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            targets.extend(
                f"{origin}.{a.name}" if f"{origin}.{a.name}" in modules else origin
                for a in node.names
            )
    found = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target:
            found.add(target)
    return found


def import_cycles() -> list[list[str]]:
    """Strongly connected components (Tarjan) with more than one module, or a self-import."""
    modules = _modules()
    edges = {name: _imports(name, path, modules) for name, path in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            components.append(sorted([*component, v]))

    for name in sorted(modules):
        if name not in index:
            visit(name)
    return [c for c in components if len(c) > 1 or c[0] in edges[c[0]]]


def test_the_checker_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    module = tmp_path / "statuswatch.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ..rules import AuditRule\n"
        "def later():\n"
        "    from . import control\n"
        "    import trioaudit._wire.status\n"
    )
    seen = _imports("trioaudit.cli.statuswatch", module, _modules())
    assert seen == {"trioaudit.rules", "trioaudit.cli.control", "trioaudit._wire.status"}


def test_front_ends_and_rules_import_one_way() -> None:
    touching = [
        cycle
        for cycle in import_cycles()
        if any(m == p or m.startswith(p + ".") for m in cycle for p in CHECKED)
    ]
    assert touching == []
