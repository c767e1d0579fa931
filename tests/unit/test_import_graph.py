"""trioaudit imports one way: no cycles anywhere, lazy imports counted.

import-linter checks the layers against each other; this checks every module,
including the ones *inside* a layer. In ``trioaudit._records`` the data flows
values -> interpret -> model -> parse -> reassembly -> logread, and output only
calls down into records. Every ``import`` counts -- at module level, inside
functions and under ``TYPE_CHECKING`` -- because a cycle hidden in a function
is still a cycle (the module only works once its partner has been imported).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import trioaudit

ROOT = Path(trioaudit.__file__).parent
#: Packages that must hold no import cycle: all of them.
ACYCLIC = ("trioaudit",)


def module_names() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = ("trioaudit", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The trioaudit modules one module imports, wherever the statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # level 1 is this package, level 2 its parent...; 0 an absolute import.
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # "from package import submodule" imports the submodule.
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: set(imported(name, path, modules)) for name, path in modules.items()}


def cycles_within(prefixes: tuple[str, ...]) -> list[list[str]]:
    graph = import_graph()
    inside = {
        name: {t for t in targets if t.startswith(prefixes)}
        for name, targets in graph.items()
        if name.startswith(prefixes)
    }
    return [c for c in strongly_connected(inside) if len(c) > 1]


def test_no_import_cycle_in_the_package() -> None:
    assert len(import_graph()) > 50, "the walk found the package's modules"
    assert cycles_within(ACYCLIC) == []


def test_the_checker_finds_a_cycle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"],
        ["d"],
    ]


#: The records package's modules, lowest first (trioaudit/_records/__init__.py).
RECORDS_ORDER = ("values", "interpret", "model", "parse", "reassembly", "logread")


def records_layer(name: str) -> int | None:
    """The position in RECORDS_ORDER of a module (a subpackage's modules share it)."""
    parts = name.split(".")
    if parts[:2] != ["trioaudit", "_records"] or len(parts) < 3:
        return None
    return RECORDS_ORDER.index(parts[2])


def test_the_records_modules_import_only_downwards() -> None:
    upward = [
        (name, target)
        for name, targets in import_graph().items()
        if (layer := records_layer(name)) is not None
        for target in targets
        if (other := records_layer(target)) is not None and other > layer
    ]
    assert upward == []


def test_output_reads_records_and_nothing_above_or_beside() -> None:
    graph = import_graph()
    for name in ("trioaudit._output.filter", "trioaudit._output.formats"):
        assert not {t for t in graph[name] if t.startswith(("trioaudit._wire", "trioaudit._trio"))}
        assert not {t for t in graph[name] if t.startswith("trioaudit._output")}


if __name__ == "__main__":  # pragma: no cover - the report's command
    graph = import_graph()
    edges = sum(len(t) for n, t in graph.items() if n.startswith(ACYCLIC))
    print(f"{len([n for n in graph if n.startswith(ACYCLIC)])} modules, {edges} import edges")
    print(f"cycles under {', '.join(ACYCLIC)}: {len(cycles_within(ACYCLIC))}")
    print(f"cycles in all of trioaudit: {[c for c in strongly_connected(graph) if len(c) > 1]}")
