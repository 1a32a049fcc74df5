"""Report serialisations: JSON document, CSV (csv module) and XLSX (openpyxl, run off the event loop).

Every CSV and XLSX cell goes through ``core.cells.neutralise``: a client, batch or team name cannot be a formula.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from analytics.query import Report
from core.cells import neutralise_row


def to_json(report: Report) -> dict[str, Any]:
    """The JSON document of a report."""
    q = report.query
    doc: dict[str, Any] = {
        "report": report.name, "title": report.title, "group_by": list(q.group_by),
        "from": q.start.isoformat() if q.start else None, "to": q.end.isoformat() if q.end else None,
        "tz": q.tz.key, "filters": {k: list(v) for k, v in q.filters.items()},
        "columns": report.columns, "definitions": report.definitions(), "rows": report.rows,
        "totals": report.totals, "notes": report.notes,
    }
    if report.late_cases is not None:
        doc["late_cases"] = report.late_cases
    return doc


def _cell(v: Any) -> Any:
    if isinstance(v, dict):  # amounts per currency
        return "; ".join(f"{k} {x}" for k, x in v.items())
    return "" if v is None else v


def _xcell(v: Any) -> Any:
    return _cell(v) if isinstance(v, dict) else v


def to_csv(report: Report) -> bytes:
    """CSV with a header row, the rows and a final ``total`` row (UTF-8 with BOM so Excel reads CJK)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(neutralise_row(report.columns))
    for row in report.rows:
        w.writerow(neutralise_row(_cell(row.get(c)) for c in report.columns))
    dims = len(report.query.group_by)
    w.writerow(neutralise_row(["total"] * min(dims, 1) + [""] * max(dims - 1, 0)
                              + [_cell(report.totals.get(c)) for c in report.columns[dims:]]))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    """An XLSX workbook: the report sheet (with a total row), definitions, and late cases when present.

    Blocking (openpyxl): call through ``asyncio.to_thread``.
    """
    from openpyxl import Workbook  # noqa: PLC0415  (openpyxl, slow to import, loads on the first XLSX export)
    from openpyxl.styles import Font  # noqa: PLC0415  (same)

    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = report.name[:31]
    ws.append(neutralise_row(report.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in report.rows:
        ws.append(neutralise_row(_xcell(row.get(c)) for c in report.columns))
    dims = len(report.query.group_by)
    ws.append(neutralise_row(["total"] * min(dims, 1) + [None] * max(dims - 1, 0)
                             + [_xcell(report.totals.get(c)) for c in report.columns[dims:]]))
    ws.freeze_panes = "A2"
    defs = wb.create_sheet("definitions")
    defs.append(["metric", "definition"])
    for k, v in report.definitions().items():
        defs.append(neutralise_row([k, v]))
    q = report.query
    defs.append([])
    defs.append(["from", q.start.isoformat() if q.start else ""])
    defs.append(["to", q.end.isoformat() if q.end else ""])
    defs.append(neutralise_row(["tz", q.tz.key]))
    if report.late_cases:
        late = wb.create_sheet("late cases")
        keys = list(report.late_cases[0])
        late.append(neutralise_row(keys))
        for c in report.late_cases:
            late.append(neutralise_row(c[k] for k in keys))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
