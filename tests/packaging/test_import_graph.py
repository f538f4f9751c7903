"""The import graph, read from the source with ``ast``: no circles, and nothing in the core imports a feature.

Data flows one way: config -> resolved model -> provider adapter -> httpx -> Completion -> features (batch,
evals, regress, shadow, rollout, migrate, ...) -> Prefect tasks and flows -> CLI. Every import statement counts,
including those inside functions and under ``TYPE_CHECKING``: a circle hidden in a function is still a circle a
reader has to hold in their head. ``from pkg import sub`` where ``sub`` is a module is an edge to ``sub`` only;
the implicit import of a package's own ``__init__`` by its submodules is not an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Folder -> import name, as pyproject.toml's package-dir maps them.
FOLDERS = {"modelswap": "modelswap", "flows": "modelswap.flows", "tasks": "modelswap.tasks",
           "plugins": "modelswap.plugins"}
# The core: what every feature stands on. It may name plugins by string (entry points), never import a feature.
CORE = {
    "modelswap", "modelswap._client", "modelswap._config", "modelswap._errors", "modelswap._limits",
    "modelswap._observers", "modelswap._presets", "modelswap._provider", "modelswap._redact", "modelswap._retry",
    "modelswap._sse", "modelswap._structured", "modelswap._types", "modelswap._yaml", "modelswap.hookspecs",
    "modelswap.schema",
}
CORE_PACKAGES = ("modelswap.prompts",)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if folder == "modelswap" and parts[0] in FOLDERS:
                continue
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The module of ours that ``name`` (a dotted import target) lands in, if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _edges(module: str, path: Path) -> set[str]:
    is_package = path.name == "__init__.py"
    deps: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # `from pkg import sub` imports the submodule; `from mod import name` imports mod.
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin for a in node.names]
        else:
            continue
        for name in targets:
            target = _target(name)
            # A submodule importing its own package's __init__ (or an ancestor's) is implicit in Python.
            if target and target != module and not module.startswith(target + "."):
                deps.add(target)
    return deps


GRAPH = {module: _edges(module, path) for module, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
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


def _is_core(module: str) -> bool:
    return module in CORE or module.startswith(CORE_PACKAGES)


def test_the_graph_was_read():
    assert {"modelswap._client", "modelswap.shadow", "modelswap.flows.batch", "modelswap.plugins.openai"} <= set(GRAPH)
    assert "modelswap._config" in GRAPH["modelswap._client"]


def test_no_import_circles():
    cycles = _cycles(GRAPH)
    assert not cycles, "import circles (break each with a seam or by moving the shared piece down):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_the_core_imports_no_feature():
    upward = sorted(f"{m} imports {d}" for m, deps in GRAPH.items() if _is_core(m) for d in deps if not _is_core(d))
    assert not upward, "the core must not import features (add a seam in the core instead):\n" + "\n".join(upward)


@pytest.mark.parametrize("fixture", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
    ({"a": {"a"}}, []),
])
def test_the_cycle_finder_itself(fixture):
    graph, expected = fixture
    assert _cycles(graph) == expected
