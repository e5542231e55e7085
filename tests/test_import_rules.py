"""The import rules of docs/architecture.md, read from the code's own imports (AST), so `make test` keeps them: no
cycle between modules, whether the imports run at module level or inside a function; no module under tui/screens or
tui/widgets imports tui.commands; no command module imports another; companion imports nothing from spreads."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hearth", "tuner", "exporter", "companion", "personas", "spreads", "tui")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The modules of ours one import statement runs (a package's __init__ only for a name it defines: the packages
    above a module are already being imported when it runs, which is no cycle)."""
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    else:
        parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = node.module or ""
        if node.level:
            base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
        names = {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    return {name for name in names if name in MODULES and name != module}


def _graph(function_level: bool) -> dict[str, set[str]]:
    """module -> what it imports at module level (and inside functions too, with `function_level`)."""
    graph = {}
    for module, path in MODULES.items():
        edges: set[str] = set()

        def visit(node, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue  # never runs
                if isinstance(child, (ast.Import, ast.ImportFrom)) and (function_level or not inside):
                    edges.update(_imported(module, path, child))
                visit(child, inside)

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
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


@pytest.mark.parametrize("function_level", [False, True], ids=["module-level", "with-function-level"])
def test_no_import_cycle(function_level):
    assert _cycles(_graph(function_level)) == []


def test_the_cycle_check_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# (what a module's name starts with, what it must not import, why)
FORBIDDEN = (
    ("tui.screens", "tui.commands", "front ends share services in their rooms, never the CLI's commands"),
    ("tui.widgets", "tui.commands", "front ends share services in their rooms, never the CLI's commands"),
    ("companion", "spreads", "a reading's cards reach companion as plain data"),
)


def test_no_forbidden_import():
    graph = _graph(function_level=True)
    breaches = [f"{module} imports {target}: {why}" for prefix, banned, why in FORBIDDEN
                for module, targets in graph.items() if module.startswith(prefix)
                for target in targets if target == banned or target.startswith(banned + ".")]
    assert breaches == []


def test_no_command_module_imports_another():
    graph = _graph(function_level=True)
    commands = {m for m in MODULES if m.startswith("tui.commands.")}
    assert [f"{m} imports {t}" for m in sorted(commands) for t in sorted(graph[m] & commands)] == []
