"""GET /v1/reports/{report}: roles, the error shape, JSON, CSV and XLSX that parse back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from openpyxl import load_workbook

from analytics.ddl import install
from auth.models import Role
from auth.service import create_user, issue_token
from tests.unit.analytics.conftest import make_call
from tests.unit.api.conftest import Api, api  # noqa: F401

T = datetime(2025, 3, 3, 9, 15, tzinfo=UTC)


async def _seed(api: Api) -> None:  # noqa: F811
    db = api.container.db
    await install(db)
    async with db.begin() as s:  # the calls are client c1's, and so are the manager and the supervisor
        await create_user(s, user_id="mia", role=Role.MANAGER, clients=["c1"])
        await create_user(s, user_id="sam", role=Role.SUPERVISOR, clients=["c1"])  # no team: oversees all
        s.add_all([make_call(T, talk=30, ring=5, outcome="promise_to_pay"),
                   make_call(T.replace(hour=10), talk=90, ring=15, agent="a2", team="t2"),
                   make_call(T.replace(hour=11), end_reason="customer_busy", agent="a2", team="t2"),
                   make_call(T.replace(hour=12), end_reason="customer_no_answer")])


async def test_roles_and_errors(api: Api) -> None:  # noqa: F811
    await _seed(api)
    for user in ("alice", "quinn"):  # agent, QA
        r = await api.client.get("/v1/reports/connect-rate", headers=api.auth(user))
        assert r.status == 403 and (await r.json())["error"]["code"] == "forbidden"
    for user in ("mia", "sam", "ada"):  # manager, supervisor, admin
        assert (await api.client.get("/v1/reports/connect-rate", headers=api.auth(user))).status == 200
    r = await api.client.get("/v1/reports/nope", headers=api.auth("mia"))
    assert r.status == 404 and (await r.json())["error"]["code"] == "no-such-report"
    r = await api.client.get("/v1/reports/connect-rate?group_by=agent,colour", headers=api.auth("mia"))
    body = await r.json()
    assert r.status == 422 and body["error"]["code"] == "bad-group-by" and body["error"]["details"]["bad"] == ["colour"]
    r = await api.client.get("/v1/reports/connect-rate?tz=Mars/Olympus", headers=api.auth("mia"))
    assert r.status == 422 and (await r.json())["error"]["code"] == "validation-failed"
    assert (await api.client.get("/v1/reports/connect-rate")).status == 401


async def test_json_with_dates_in_zone_and_filters(api: Api) -> None:  # noqa: F811
    await _seed(api)
    r = await api.client.get("/v1/reports/connect-rate?group_by=agent,day&tz=Asia/Shanghai"
                             "&from=2025-03-03&to=2025-03-04&team=t1,t2", headers=api.auth("mia"))
    doc = await r.json()
    assert r.status == 200, doc
    assert doc["from"] == "2025-03-02T16:00:00+00:00" and doc["tz"] == "Asia/Shanghai"
    assert [(x["agent"], x["day"], x["attempts"], x["connected"]) for x in doc["rows"]] == [
        ("a1", "2025-03-03", 2, 1), ("a2", "2025-03-03", 2, 1)]
    assert doc["totals"]["connect_rate"] == 0.5
    assert "connected / attempts" in doc["definitions"]["connect_rate"]
    spec = await (await api.client.get("/v1/openapi.json")).json()
    params = {p["name"] for p in spec["paths"]["/v1/reports/{report}"]["get"].get("parameters", [])}
    assert {"group_by", "from", "to", "tz", "format", "agent", "number_kind"} <= params


async def test_csv_and_xlsx_parse_back(api: Api) -> None:  # noqa: F811
    await _seed(api)
    r = await api.client.get("/v1/reports/talk-time?group_by=agent&format=csv", headers=api.auth("sam"))
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["Content-Disposition"] == 'attachment; filename="talk-time-agent.csv"'
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert rows[0] == ["agent", "attempts", "connected", "talk_total", "talk_mean", "talk_median", "talk_p90",
                       "time_to_answer_mean"]
    assert rows[1][:5] == ["a1", "2", "1", "30.0", "30.0"] and rows[2][:5] == ["a2", "2", "1", "90.0", "90.0"]
    assert rows[3][:4] == ["total", "4", "2", "120.0"]

    r = await api.client.get("/v1/reports/connect-rate?group_by=agent,day&format=xlsx", headers=api.auth("ada"))
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["Content-Disposition"] == 'attachment; filename="connect-rate-agent-day.xlsx"'
    wb = load_workbook(io.BytesIO(await r.read()))
    sheet = list(wb["connect-rate"].iter_rows(values_only=True))
    assert sheet[0][:5] == ("agent", "day", "attempts", "blocked", "connected")
    assert sheet[1][:5] == ("a1", "2025-03-03", 2, 0, 1) and sheet[2][:5] == ("a2", "2025-03-03", 2, 0, 1)
    assert sheet[3][0] == "total" and sheet[3][2] == 4
    assert "definitions" in wb.sheetnames


async def test_reports_stay_inside_the_bank_and_the_team(api: Api) -> None:  # noqa: F811
    await _seed(api)
    async with api.container.db.begin() as s:
        s.add_all([make_call(T, talk=10, client="c2", agent="b1"), make_call(T, client="c2", agent="b1")])
        for uid, role, team, clients in (("mo_b", Role.MANAGER, None, ["c2"]),
                                         ("sue_t2", Role.SUPERVISOR, "t2", ["c1"])):
            await create_user(s, user_id=uid, role=role, team=team, clients=clients)
            api.tokens[uid] = await issue_token(s, user_id=uid)

    async def report(user: str, params: str = "", name: str = "connect-rate") -> dict[str, Any]:
        r = await api.client.get(f"/v1/reports/{name}?from=2025-03-03&to=2025-03-04{params}",
                                 headers=api.auth(user))
        assert r.status == 200, await r.text()
        doc: dict[str, Any] = await r.json()
        return doc

    by_client = await report("mia", "&group_by=client")
    assert [(x["client"], x["attempts"]) for x in by_client["rows"]] == [("c1", 4)]
    assert (await report("mia", "&client=c2"))["totals"]["attempts"] == 0  # outside the scope: empty
    assert (await report("mo_b", "&group_by=client"))["rows"] == [
        x for x in (await report("ada", "&group_by=client"))["rows"] if x["client"] == "c2"]
    assert (await report("ada"))["totals"]["attempts"] == 6
    t2_rows = await report("sue_t2", "&group_by=team,agent")
    assert [(x["team"], x["agent"], x["attempts"]) for x in t2_rows["rows"]] == [("t2", "a2", 2)]
    assert (await report("sue_t2", "&team=t1"))["totals"]["attempts"] == 0
    r = await api.client.get("/v1/reports/first-call-sla?from=2025-03-03&to=2025-03-04", headers=api.auth("sue_t2"))
    assert r.status == 403 and (await r.json())["error"]["code"] == "report-needs-whole-client"
    r = await api.client.get("/v1/reports/talk-time?from=2025-03-03&to=2025-03-04&group_by=client&format=csv",
                             headers=api.auth("mo_b"))
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["c2", "total"]
