"""HTTP handlers of reports: ``GET /v1/reports`` (the catalogue) and ``GET /v1/reports/{report}``."""

from __future__ import annotations

import asyncio

from aiohttp import web

from analytics.export import to_csv, to_json, to_xlsx
from analytics.metrics import DIMENSIONS, METRICS
from analytics.reports import REPORTS, ReportQuery, run_report
from analytics.schemas import ReportParams
from api.keys import CONTAINER
from api.routing import Router, json_response, query
from auth.models import Role

router = Router()
READERS = (Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.route("GET", "/v1/reports", summary="Report catalogue", tag="reports", roles=READERS,
              errors=(401, 403))
async def list_reports(_request: web.Request) -> web.StreamResponse:
    """Every report with its metrics, the dimensions and the metric definitions."""
    return json_response({
        "reports": [{"name": s.name, "title": s.title, "metrics": list(s.metrics)} for s in REPORTS.values()],
        "dimensions": DIMENSIONS, "metrics": {m.name: m.definition for m in METRICS.values()},
    })


@router.route("GET", "/v1/reports/{report}", summary="A report", tag="reports", roles=READERS, query=ReportParams,
              params={"report": {"enum": list(REPORTS)}},
              errors=(401, 403, 404, 422, 503), description=(
                  "Reports: " + ", ".join(REPORTS) + ". JSON, or CSV / XLSX for download (format=csv|xlsx)."))
async def get_report(request: web.Request) -> web.StreamResponse:
    """A report grouped by ``group_by`` over [from, to) read in zone ``tz``."""
    p = query(request, ReportParams)
    q = ReportQuery(request.match_info["report"], p.dims(), p.instant(p.from_), p.instant(p.to), p.zone(),
                    p.filters(), p.sla_days)
    db = request.app[CONTAINER].db
    async with db.read() as s:
        report = await run_report(s, q)
    if p.format == "json":
        return json_response(to_json(report))
    stem = "-".join([report.name, *q.group_by]) or report.name
    if p.format == "csv":
        body, ctype = to_csv(report), "text/csv; charset=utf-8"
    else:
        body, ctype = await asyncio.to_thread(to_xlsx, report), XLSX
    return web.Response(body=body, headers={
        "Content-Type": ctype, "Content-Disposition": f'attachment; filename="{stem}.{p.format}"'})
