"""docs/METRICS.md defines every metric and dimension with the text of analytics/metrics.py."""

from __future__ import annotations

from pathlib import Path

from analytics.metrics import DIMENSIONS, METRICS

DOC = Path(__file__).resolve().parents[3] / "docs" / "METRICS.md"


def test_every_metric_and_dimension_is_defined_in_the_doc() -> None:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    for m in METRICS.values():
        assert f"- `{m.name}` ({m.unit}): {m.definition}" in lines, m.name
    for name, text in DIMENSIONS.items():
        assert f"- `{name}`: {text}" in lines, name
