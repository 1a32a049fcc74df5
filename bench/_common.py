"""Shared helpers for bench scripts: merge results into bench/results.json and print a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


def _load() -> dict[str, Any]:
    if RESULTS.exists():
        try:
            data = json.loads(RESULTS.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            data = {}
        if isinstance(data, dict) and isinstance(data.get("benchmarks"), list):
            return data
    return {"benchmarks": []}


def record(
    name: str,
    unit: str,
    value: float,
    baselines: dict[str, float],
    extra: dict[str, Any] | None = None,
) -> None:
    """Merge one measurement into bench/results.json (an entry with the same name is replaced)."""
    data = _load()
    entry: dict[str, Any] = {"name": name, "unit": unit, "value": value, "baselines": dict(baselines)}
    if extra:
        entry["extra"] = extra
    data["benchmarks"] = [b for b in data["benchmarks"] if b.get("name") != name] + [entry]
    RESULTS.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def fmt(value: float) -> str:
    """A number with as many decimals as its size needs (1,035 / 56.8 / 0.0917)."""
    if value == 0 or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def print_table(names: list[str] | None = None) -> None:
    """Print name, value and the ratio of value to each baseline for recorded benchmarks."""
    for b in _load()["benchmarks"]:
        if names is not None and b["name"] not in names:
            continue
        print(f"{b['name']}: {fmt(b['value'])} {b['unit']}")
        for base, base_value in b.get("baselines", {}).items():
            ratio = b["value"] / base_value if base_value else float("inf")
            print(f"    vs {base:<28} {fmt(base_value):>14}  ratio {ratio:8.2f}x")
