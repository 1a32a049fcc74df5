"""The import graph of the product code (everything but tests/ and bench/): acyclic, features apart.

Every ``import`` counts, at module level and inside functions, except those under ``if TYPE_CHECKING:``
(they never run) and under ``if __name__ == "__main__":`` (they run in the script, which Python loads
as a module of its own, ``__main__``, so they close no cycle). An import of ``a.b.c`` is an edge to the
deepest project module it names; ``from a import b`` is an edge to ``a.b`` when that is a module, else
to ``a``. Old migrations (``db/migrations/versions``) are frozen history, loaded by Alembic, not imported.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXCLUDED = {"tests", "bench", "docs", "scripts", "docker", ".venv", "build"}
FEATURES = ("dialer", "recordings", "compliance", "cases", "hooks", "analytics", "auth", "audit", "approvals", "core",
            "db", "config", "presence", "callbacks", "campaigns", "metrics", "clients", "payments")
COMPOSITION = ("app", "api")
DYNAMIC = "<computed name>"


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement: where it is, and which project module it reaches."""

    source: str
    target: str
    line: int
    importlib: bool = False


def _packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir()
                  if p.is_dir() and (p / "__init__.py").exists() and p.name not in EXCLUDED)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def product_modules() -> dict[str, Path]:
    """Every product module by dotted name."""
    found: dict[str, Path] = {}
    for pkg in _packages():
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in path.parts and "versions" in path.parts:
                continue  # frozen history, loaded by Alembic from its files
            found[_module_name(path)] = path
    return found


def _resolve(name: str) -> str | None:
    """The deepest project module that ``name`` (a dotted module or module.attribute) denotes."""
    modules = product_modules()
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _is_dynamic_import(func: ast.expr) -> bool:
    """``importlib.import_module(...)``, ``import_module(...)`` or ``__import__(...)``."""
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_module", "__import__")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _is_main_guard(test: ast.expr) -> bool:
    """``if __name__ == "__main__":`` (runs only in the script, a module object of its own)."""
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` except the bodies of ``if TYPE_CHECKING:`` and of the ``__main__`` guard."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and (_is_type_checking(child.test) or _is_main_guard(child.test)):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def imports_of(module: str) -> list[Import]:
    """The project imports of one module (run-time ones only)."""
    path = product_modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node in _walk(tree):
        names: list[str] = []
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            arg = node.args[0] if node.args else None
            named = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
            # a computed name could reach any module: it counts as reaching another feature
            found.append(Import(module, (_resolve(named) if named else None) or DYNAMIC, node.lineno,
                                importlib=True))
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.append(Import(module, target, line))
    return found


@cache
def graph() -> dict[str, list[Import]]:
    """The whole product import graph."""
    return {m: imports_of(m) for m in product_modules()}


def _cycles() -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    edges = {m: sorted({i.target for i in imps if i.target != DYNAMIC}) for m, imps in graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_graph_sees_the_product() -> None:
    """Guard against a check that passes because it reads nothing."""
    modules = product_modules()
    assert {"app.compose", "api.app", "dialer.service", "recordings.ingest", "core.events"} <= set(modules)
    assert any(i.target == "dialer.service" for i in graph()["app.compose"])


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_no_product_module_imports_the_sandbox() -> None:
    bad = [f"{i.source}:{i.line} -> {i.target}" for imps in graph().values() for i in imps
           if _top(i.target) == "sandbox" and _top(i.source) != "sandbox"]
    assert bad == []


def test_no_feature_package_imports_the_composition_layers() -> None:
    bad = [f"{i.source}:{i.line} -> {i.target}" for imps in graph().values() for i in imps
           if _top(i.source) in FEATURES and _top(i.target) in COMPOSITION]
    assert bad == []


def test_no_importlib_between_features() -> None:
    bad = [f"{i.source}:{i.line} -> {i.target}" for imps in graph().values() for i in imps
           if i.importlib and _top(i.target) != _top(i.source)]
    assert bad == []


def test_the_checker_sees_function_level_and_skips_type_checking_imports() -> None:
    """The walker itself: a local import counts, a TYPE_CHECKING one does not."""
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nelse:\n    import b\n"
                     "def f():\n    import c\n")
    seen = [alias.name for node in _walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert seen == ["b", "c"]
    main = ast.parse("import d\nif __name__ == '__main__':\n    import e\n")
    assert [a.name for node in _walk(main) if isinstance(node, ast.Import) for a in node.names] == ["d"]


def test_the_cycle_finder_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tarjan over a small made-up graph: a -> b -> c -> a is one cycle, d alone is none."""
    fake = {"a": [Import("a", "b", 1)], "b": [Import("b", "c", 1)], "c": [Import("c", "a", 1)],
            "d": [Import("d", "a", 1)]}
    monkeypatch.setattr(sys.modules[__name__], "graph", lambda: fake)
    assert _cycles() == [["a", "b", "c"]]
