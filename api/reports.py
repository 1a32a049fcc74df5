"""HTTP handlers of reports: ``GET /v1/reports`` (the catalogue) and ``GET /v1/reports/{report}``."""

from __future__ import annotations

import asyncio

from aiohttp import web

from analytics.export import to_csv, to_json, to_xlsx
from analytics.query import REPORTS
from analytics.schemas import ReportParams, catalogue_json
from api.auth import actor
from api.keys import CONTAINER
from api.routing import Router, json_response, principal, query
from auth.models import Role
from auth.scope import Scope

router = Router()
READERS = (Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.route("GET", "/v1/reports", summary="Report catalogue", tag="reports", roles=READERS,
              errors=(401, 403))
async def list_reports(_request: web.Request) -> web.StreamResponse:
    """Every report with its metrics, the dimensions and the metric definitions."""
    return json_response(catalogue_json())


@router.route("GET", "/v1/reports/{report}", summary="A report", tag="reports", roles=READERS, query=ReportParams,
              params={"report": {"enum": list(REPORTS)}},
              errors=(401, 403, 404, 422, 503), description=(
                  "Reports: " + ", ".join(REPORTS) + ". JSON, or CSV / XLSX for download (format=csv|xlsx; "
                  "every download is audited as report.exported, one entry per client it covers). "
                  "Only the caller's clients (a supervisor with a team: that team); a client filter outside "
                  "them gives an empty report."))
async def get_report(request: web.Request) -> web.StreamResponse:
    """A report grouped by ``group_by`` over [from, to) read in zone ``tz``."""
    p = query(request, ReportParams)
    reports, scope, q = request.app[CONTAINER].reports, Scope.of(principal(request)), p.to_query(
        request.match_info["report"])
    if p.format == "json":
        return json_response(to_json(await reports.report(scope, q)))
    report = await reports.export(scope, q, actor=actor(request), format=p.format)
    stem = "-".join([report.name, *report.query.group_by]) or report.name
    if p.format == "csv":
        body, ctype = to_csv(report), "text/csv; charset=utf-8"
    else:
        body, ctype = await asyncio.to_thread(to_xlsx, report), XLSX
    return web.Response(body=body, headers={
        "Content-Type": ctype, "Content-Disposition": f'attachment; filename="{stem}.{p.format}"'})
