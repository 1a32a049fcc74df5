"""analytics/ imports form no cycle, and no analytics function imports a project module."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROJECT = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}


def _imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """(node, module or module.name) for every import under ``tree``."""
    out: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [(node, node.module), *((node, f"{node.module}.{a.name}") for a in node.names)]
    return out


def _modules() -> dict[str, ast.Module]:
    return {f"analytics.{p.stem}": ast.parse(p.read_text()) for p in sorted((ROOT / "analytics").glob("*.py"))
            if p.stem != "__init__"}


def test_analytics_modules_import_each_other_without_a_cycle() -> None:
    modules = _modules()
    assert {"analytics.query", "analytics.reports", "analytics.daily"} <= set(modules)
    graph = {m: {n for _, n in _imports(tree) if n in modules and n != m} for m, tree in modules.items()}
    assert graph["analytics.reports"] >= {"analytics.query", "analytics.sla", "analytics.blocked"}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {exc.args[1]}") from None
    assert order.index("analytics.query") < order.index("analytics.reports")


def test_no_function_imports_a_project_module() -> None:
    local = []
    for name, tree in _modules().items():
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                local += [(name, fn.name, mod) for _, mod in _imports(fn) if mod.split(".")[0] in PROJECT]
    assert local == []
