"""The console in a real browser (Debian's Chromium driven by Playwright) against the real stack: the real
Asterisk, the pjsua2 phones and the composed service.

One service and one browser for the module. Each page records every request it makes: none may go to another
host. axe-core checks each main screen for serious accessibility violations. Screenshots of each main screen,
in Chinese and English, go to ``artifacts/console/``.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, Request, async_playwright
from sqlalchemy import select

from api.console import CONSOLE_DIR
from auth.models import AuthFailure
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from sip.ports import free_port
from tests.integration.stack import Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
AXE = CONSOLE_DIR.parent / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "console"
PASSWORD = "console password 1"
ANSWERS = "+8613800000001"
HANGS_UP = "+8613800000002"  # answers, plays a tone, hangs up after 5 s
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Console:
    """One browser context (its own cookies) with one page of the console."""

    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def with_password(s: Stack, user: str) -> None:
    r = await s.client.put(f"/v1/users/{user}/password", headers=s.auth("ada"), json={"password": PASSWORD})
    assert r.status == 204, await r.text()


async def with_passwords(s: Stack) -> Stack:
    for user in ("ana", "pete", "olga", "sup"):
        await with_password(s, user)
    return s


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(pbx: PbxSandbox, phones: PhonesProcess, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[Stack]:
    """The service on SQLite for the whole module."""
    async with service_stack(pbx, tmp_path_factory.mktemp("console")) as s:
        yield await with_passwords(s)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    assert (CONSOLE_DIR / "index.html").is_file() and AXE.is_file(), "the console is not built: make web"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


def base_url(stack: Stack) -> str:
    return str(stack.client.make_url("")).rstrip("/")


async def open_console(browser: Browser, stack: Stack, user: str | None, password: str = PASSWORD) -> Console:
    """A fresh context on ``/`` (Chinese, the default), signed in as ``user`` when given."""
    # the page runs under its own Content-Security-Policy (a violation is a problem); axe-core comes in as an init
    # script, which the policy does not govern
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, timezone_id="Asia/Shanghai")
    await context.add_init_script(path=str(AXE))
    page = await context.new_page()
    c = Console(context, page)
    page.on("request", lambda r: c.requests.append(r.url))
    page.on("pageerror", lambda e: c.problems.append(str(e)))
    page.on("console", lambda m: c.problems.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto(base_url(stack) + "/")
    await page.locator("#username").wait_for()
    if user is not None:
        await sign_in(page, user, password)
        await page.get_by_test_id("who").wait_for()
    return c


async def sign_in(page: Page, user: str, password: str) -> None:
    await page.fill("#username", user)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


def only_own_host(stack: Stack, *consoles: Console) -> None:
    """Every request of every page went to the service itself."""
    own = base_url(stack) + "/"
    requested = [u for c in consoles for u in c.requests]
    foreign = sorted({u for u in requested if not u.startswith((own, "data:", "blob:"))})
    assert requested and not foreign, f"requests to other hosts: {foreign}"
    assert not [p for c in consoles for p in c.problems], [p for c in consoles for p in c.problems]


async def no_serious_violations(page: Page, screen: str) -> None:
    """axe-core (pinned in web/package-lock.json) finds no serious or critical violation."""
    result: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
               if v["impact"] in ("serious", "critical")]
    assert not serious, f"{screen}: {serious}"


async def screenshots(page: Page, name: str) -> None:
    """The screen in Chinese, then in English (the switch), then back to Chinese."""
    await page.screenshot(path=str(ARTIFACTS / f"{name}-zh-CN.png"))
    await page.get_by_test_id("lang").click()
    await page.locator("html[lang=en]").wait_for(state="attached")
    await page.screenshot(path=str(ARTIFACTS / f"{name}-en.png"))
    await page.get_by_test_id("lang").click()
    await page.locator("html[lang=zh-CN]").wait_for(state="attached")


RECORD_STATES = """() => {
  window.__states = [];
  const note = () => {
    const el = document.querySelector('[data-testid=call]');
    const s = el && el.dataset.state;
    if (s && window.__states[window.__states.length - 1] !== s) window.__states.push(s);
  };
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                      attributeFilter: ['data-state']});
}"""


async def test_an_agent_dials_from_my_cases_follows_the_call_live_and_saves_a_promise_to_pay(
        stack: Stack, browser: Browser) -> None:
    await agent_scenario(stack, browser, shots=True)


async def agent_scenario(stack: Stack, browser: Browser, *, shots: bool) -> None:
    """Sign in, dial from my cases, follow the call live, hang up, save a promise to pay; the wallboard follows."""
    case_id = await stack.case_for(ANSWERS, "ana")
    agent = await open_console(browser, stack, "ana")
    wall = await open_console(browser, stack, "sup")
    page = agent.page
    await wall.page.locator("h2 .live.ok").wait_for()
    await page.get_by_test_id("live").and_(page.locator(".ok")).wait_for()
    row = page.locator(f"[data-case-id='{case_id}']")
    await row.locator(".gate.allowed").wait_for()
    assert "E2E Debtor" in await row.inner_text()
    await no_serious_violations(page, "agent")
    await page.evaluate(RECORD_STATES)

    await row.get_by_test_id("dial").click()
    call = page.get_by_test_id("call")
    await page.locator("[data-testid=call][data-state=answered]").wait_for(timeout=30_000)
    call_id = await call.get_attribute("data-call-id")
    # the wallboard shows the connected call within 2 s of the answer, without a reload
    await wall.page.locator(f"[data-call-id='{call_id}']", has_text="已接通").wait_for(timeout=2_000)
    await page.get_by_test_id("timer").wait_for()
    await no_serious_violations(wall.page, "wallboard")
    if shots:
        await screenshots(page, "agent-call")
        await screenshots(wall.page, "wallboard")

    await page.get_by_test_id("hangup").click()
    await page.locator("[data-testid=call][data-state=ended]").wait_for(timeout=15_000)
    await wall.page.locator(f"[data-call-id='{call_id}']").wait_for(state="detached", timeout=2_000)
    states: list[str] = await page.evaluate("window.__states")
    order = ["requested", "agent_ringing", "agent_answered", "customer_ringing", "answered", "ended"]
    assert states == sorted(states, key=order.index) and states[-2:] == ["answered", "ended"], states
    assert len(states) >= 4, f"the states did not arrive live one by one: {states}"
    assert "正常挂断" in await call.inner_text()  # ended, with the reason in the user's language

    # the wallboard's counts for today are the connect-rate report's
    r = await stack.client.get("/v1/reports/connect-rate", headers=stack.auth("sup"),
                               params={"from": datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat(),
                                       "tz": "Asia/Shanghai"})
    totals = (await r.json())["totals"]
    assert totals["attempts"] >= 1 and totals["connected"] >= 1
    # (locators, not wait_for_function: its string predicates are eval'd in the page, which the CSP refuses)
    for testid, value in (("attempts", totals["attempts"]), ("connects", totals["connected"])):
        await wall.page.locator(f"[data-testid={testid}]", has_text=re.compile(f"^{value}$")).wait_for(timeout=5_000)

    form = page.get_by_test_id("disposition")
    await page.select_option("#outcome", "promise_to_pay")
    promised = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    await page.fill("#promise-amount", "500.00")
    await page.fill("#promise-date", promised)
    await page.fill("#notes", "客户承诺下周还款")
    await page.get_by_test_id("window-on").check()  # Monday to Friday 18:00-20:00, the debtor's hours
    if shots:
        await screenshots(page, "agent-disposition")
    await page.reload()  # the form is kept until it is saved, with what was typed
    await form.wait_for()
    assert await page.locator("#promise-amount").input_value() == "500.00"
    assert await page.locator("#notes").input_value() == "客户承诺下周还款"
    await form.get_by_test_id("save-disposition").click()
    await page.get_by_test_id("disposition-saved").wait_for()
    assert await form.count() == 0

    # the call and the disposition, through the API
    r = await stack.client.get(f"/v1/calls/{call_id}", headers=stack.auth("sup"))
    ended = await r.json()
    assert ended["state"] == "ended" and ended["end_reason"] == "completed" and ended["talk_seconds"] > 0
    assert ended["case_id"] == case_id and ended["agent"] == "ana"
    r = await stack.client.get(f"/v1/cases/{case_id}/contacts", headers=stack.auth("sup"))
    (contact,) = [c for c in (await r.json())["items"] if c["call_id"] == call_id]
    assert contact["outcome"] == "promise_to_pay" and contact["connected"]
    r = await stack.client.get(f"/v1/cases/{case_id}/windows", headers=stack.auth("sup"))
    (window,) = (await r.json())["items"]
    assert window["agreed_on_call_id"] == call_id and window["recorded_by"] == "ana"
    assert window["weekdays"] == [0, 1, 2, 3, 4] and window["start"].startswith("18:00")
    r = await stack.client.post(f"/v1/calls/{call_id}/disposition", headers=stack.auth("ana"),
                                json={"outcome": "refuses"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "disposition-already-recorded"
    r = await stack.client.get("/v1/reports/outcomes", headers=stack.auth("sup"),
                               params={"client": "e2e-bank", "from": datetime.now(UTC).date().isoformat(), "tz": "UTC"})
    totals = (await r.json())["totals"]
    assert totals["promises"] >= 1 and "500" in str(totals["promise_amount"])

    # beside the case, its contact history: the call with its outcome, and its recording to play (a logged listen)
    recording = await stored_recording(stack, call_id, within=60.0)
    history = page.locator(f"[data-case-id='{case_id}']").get_by_test_id("history")
    await history.locator("summary").click()
    entry = history.locator(f"[data-testid=history-row][data-call-id='{call_id}']")
    await entry.wait_for()
    assert "承诺还款" in await entry.inner_text()
    await entry.get_by_test_id("listen").click()
    assert await entry.get_by_test_id("history-audio").evaluate(
        "a => a.readyState >= 1 || new Promise((ok, no) => { a.onloadedmetadata = () => ok(true); "
        "a.onerror = () => no(new Error('the recording did not load')); })")
    await no_serious_violations(page, "agent-history")
    if shots:
        await screenshots(page, "agent-history")
    r = await stack.client.get("/v1/recordings/access-log", headers=stack.auth("ada"),
                               params={"recording_id": recording})
    assert [e for e in (await r.json())["items"]
            if e["user_id"] == "ana" and e["action"] == "audio" and e["result"] == "granted"], await r.text()
    only_own_host(stack, agent, wall)
    for c in (agent, wall):
        await c.context.close()


async def test_a_manager_reads_todays_connect_rate_as_chart_table_and_xlsx(stack: Stack, browser: Browser) -> None:
    await manager_scenario(stack, browser, shots=True)


async def manager_scenario(stack: Stack, browser: Browser, *, shots: bool) -> None:
    """The chart, the table and the XLSX download show the numbers of GET /v1/reports/connect-rate."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    c = await open_console(browser, stack, "sup")
    page = c.page
    await page.get_by_test_id("nav-reports").click()
    chart = page.get_by_test_id("chart")
    await chart.locator("canvas").wait_for()  # echarts, fetched with the reports screen
    r = await stack.client.get("/v1/reports/connect-rate", headers=stack.auth("sup"), params={
        "group_by": "day", "from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat(),
        "tz": "Asia/Shanghai"})
    report = await r.json()
    spec = json.loads(await chart.get_attribute("data-series") or "{}")
    bars = {b["key"]: b["data"] for b in spec["bars"]}
    assert spec["x"] == [row["day"] for row in report["rows"]]
    assert bars["attempts"] == [row["attempts"] for row in report["rows"]]
    assert bars["connected"] == [row["connected"] for row in report["rows"]]
    total = page.get_by_test_id("report-table").locator("tr.total")
    assert await total.locator("[data-column=attempts]").inner_text() == str(report["totals"]["attempts"])
    assert await total.locator("[data-column=connected]").inner_text() == str(report["totals"]["connected"])
    await no_serious_violations(page, "reports")
    if shots:
        await screenshots(page, "reports")
    async with page.expect_download() as download:
        await page.get_by_test_id("xlsx").click()
    path = Path(str(await (await download.value).path()))
    data = await asyncio.to_thread(path.read_bytes)
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    head, totals = rows[0], rows[-1]
    assert totals[0] == "total"
    assert totals[head.index("attempts")] == report["totals"]["attempts"]
    assert totals[head.index("connected")] == report["totals"]["connected"]
    assert [r[head.index("attempts")] for r in rows[1:-1]] == [row["attempts"] for row in report["rows"]]
    only_own_host(stack, c)
    await c.context.close()


async def test_qa_draws_a_sample_plays_a_recording_in_two_channels_and_scores_it(stack: Stack,
                                                                                   browser: Browser) -> None:
    await qa_scenario(stack, browser, shots=True)


async def qa_scenario(stack: Stack, browser: Browser, *, shots: bool) -> None:
    """A QA user samples, plays a recording in both channels, scores it; the listen is logged."""
    r = await stack.client.post("/v1/users", headers=stack.auth("ada"), json={
        "id": "quinn", "role": "qa", "clients": ["e2e-bank"], "reason": "QA of the console test"})
    assert r.status == 201, await r.text()
    await with_password(stack, "quinn")
    # a call whose customer hangs up after 5 s of tone: a recording with both channels
    call = await stack.dial("ana", HANGS_UP)
    await stack.wait_state(call["id"], "ended", within=30)
    recording = await stored_recording(stack, call["id"])
    c = await open_console(browser, stack, "quinn")
    page = c.page
    await page.fill("#qa-client", "e2e-bank")
    await page.fill("#qa-agent", "ana")  # a filter: only ana's calls, today in the browser's zone (Shanghai)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    await page.fill("#qa-from", today)
    await page.fill("#qa-to", today)
    await page.fill("#qa-percent", "100")
    await page.fill("#qa-seed", "console-test")
    await page.get_by_test_id("draw").click()
    await page.locator(f"[data-testid=sample-item][data-recording-id='{recording}']").click()
    drawn = await page.get_by_test_id("sample-item").all_inner_texts()
    assert drawn and all(x.strip().startswith("ana ") for x in drawn), drawn
    for i in (0, 1):  # both channels decoded and drawn
        await page.locator(f"[data-testid=wave-{i}][data-drawn=yes]").wait_for(timeout=15_000)
    inked = await page.evaluate("""() => [0, 1].map((i) => {
        const c = document.querySelector(`[data-testid=wave-${i}]`);
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let k = 3; k < px.length; k += 4) if (px[k]) n++; return n; })""")
    assert all(n > 500 for n in inked), inked
    await page.get_by_test_id("player").focus()
    await page.keyboard.press("Space")  # the player's shortcut: play
    # playing: the time passes one second (the audio element reads the service's HTTP Range answers)
    await page.locator("[data-testid=time]", has_text=re.compile(r"^00:0[1-9]")).wait_for(timeout=10_000)
    await page.keyboard.press("+")  # faster
    assert await page.locator("#speed").input_value() == "1.25"
    await page.keyboard.press("Space")  # pause
    # the recording's access log, under the player, shows this listen (QA reads one recording's log)
    own = page.locator("[data-testid=access-row][data-user=quinn][data-action=audio][data-result=granted]")
    if not await own.count():
        await page.get_by_test_id("access-refresh").click()
    await own.first.wait_for(timeout=10_000)
    assert "收听" in await own.first.inner_text()
    await no_serious_violations(page, "qa")
    if shots:
        await screenshots(page, "qa")
    await page.fill("#score", "90")
    await page.get_by_test_id("save-score").click()
    await page.get_by_test_id("score-saved").wait_for()
    r = await stack.client.get(f"/v1/recordings/{recording}/reviews", headers=stack.auth("ada"))
    (review,) = (await r.json())["items"]
    assert review["score"] == 90 and review["reviewer"] == "quinn" and len(review["checklist"]) == 4
    r = await stack.client.get("/v1/recordings/access-log", headers=stack.auth("ada"),
                               params={"recording_id": recording})
    listens = [e for e in (await r.json())["items"]
               if e["user_id"] == "quinn" and e["action"] == "audio" and e["result"] == "granted"]
    assert listens, f"the listen is not in the access log: {(await r.json())}"
    assert any(e["user_id"] == "quinn" and e["action"] == "access_log" and e["result"] == "granted"
               for e in (await r.json())["items"]), "QA's read of the access log is not itself logged"
    only_own_host(stack, c)
    await c.context.close()


async def stored_recording(stack: Stack, call_id: str, within: float = 30.0) -> str:
    """Wait (poll) until the call's recording is stored; its id."""
    async with asyncio.timeout(within):
        while True:
            r = await stack.client.get("/v1/recordings", headers=stack.auth("ada"), params={"limit": "50"})
            for rec in (await r.json())["items"]:
                if rec["call_id"] == call_id and rec["state"] == "stored":
                    return str(rec["id"])
            await asyncio.sleep(0.2)


def night_zone(now: datetime) -> str:
    """A zone where ``now`` is outside 08:00-21:00, whose window still overlaps Shanghai's (a next time exists)."""
    for zone in ("Asia/Shanghai", "Europe/London", "Pacific/Auckland", "Asia/Tokyo", "Asia/Dubai"):
        if not 8 <= now.astimezone(ZoneInfo(zone)).hour < 21:
            return zone
    raise AssertionError(f"no candidate zone is at night at {now}")


async def test_a_blocked_dial_shows_the_gate_explanation_and_next_time_in_chinese(stack: Stack,
                                                                                  browser: Browser) -> None:
    r = await stack.client.put("/v1/compliance/policies/bank-p", headers=stack.auth("ada"), json={"jurisdiction": "CN"})
    assert r.status == 200, await r.text()
    zone = night_zone(datetime.now(UTC))
    r = await stack.client.put("/v1/clients/bank-p/cases/CN-NIGHT", headers=stack.auth("casesys"), json={
        "debtor_name": "王芳", "amount": "12000.00", "currency": "CNY", "days_overdue": 45, "agent": "pete",
        "team": "e2e", "timezone": zone, "contacts": [{"number": "+8613800000002", "kind": "mobile"}]})
    assert r.status == 201, await r.text()
    case_id = (await r.json())["id"]
    agent = await open_console(browser, stack, "pete")
    page = agent.page
    row = page.locator(f"[data-case-id='{case_id}']")
    blocked = row.get_by_test_id("gate-blocked")
    await blocked.wait_for()
    text = await blocked.inner_text()
    # the gate's own explanation in Chinese (naming the debtor's zone), and the next allowed time
    assert CJK.search(text) and zone in text and "下次可拨打时间" in text, text
    r = await stack.client.get("/v1/calls", headers=stack.auth("sup"), params={"case_id": case_id})
    before = len((await r.json())["items"])
    await row.get_by_test_id("dial").click()
    error = page.get_by_test_id("dial-error")
    await error.wait_for()
    assert CJK.search(await error.inner_text()), await error.inner_text()
    r = await stack.client.get("/v1/calls", headers=stack.auth("sup"), params={"case_id": case_id})
    assert len((await r.json())["items"]) == before  # blocked: nothing reached the PBX
    await screenshots(page, "agent-blocked")
    await page.get_by_test_id("lang").click()
    en = await page.get_by_test_id("gate-blocked").first.inner_text()
    assert "Next allowed" in en and not CJK.search(en), en  # the same answer in English
    await page.get_by_test_id("lang").click()
    # the agent pauses for a break and comes back: its presence, through the API too
    presence = page.get_by_test_id("presence")
    await page.locator("[data-testid=presence][data-state=available]").wait_for()
    await page.select_option("#pause-code", "break")
    await presence.get_by_test_id("pause").click()
    await page.locator("[data-testid=presence][data-state=paused]").wait_for()
    r = await stack.client.get("/v1/agents/pete/state", headers=stack.auth("sup"))
    state = await r.json()
    assert state["state"] == "paused" and state["pause_code"] == "break"
    await presence.get_by_test_id("resume").click()
    await page.locator("[data-testid=presence][data-state=available]").wait_for()
    # the wallboard counts the blocked dial under its rule (the console's own checks are not dials)
    wall = await open_console(browser, stack, "sup")
    rule = wall.page.get_by_test_id("blocked-by-rule").locator("tr", has_text="拨打时段")
    await rule.wait_for()
    assert (await rule.locator("td").inner_text()).strip() == "1"
    await screenshots(wall.page, "wallboard-blocked")
    only_own_host(stack, agent, wall)
    for c in (agent, wall):
        await c.context.close()


async def test_a_wrong_password_is_refused_and_recorded(stack: Stack, browser: Browser) -> None:
    c = await open_console(browser, stack, None)
    await no_serious_violations(c.page, "sign-in")
    await screenshots(c.page, "sign-in")
    # by keyboard only: type, Tab to the password, Enter submits
    await c.page.locator("#username").focus()
    await c.page.keyboard.type("ana")
    await c.page.keyboard.press("Tab")
    await c.page.keyboard.type("not the password")
    await c.page.keyboard.press("Enter")
    error = c.page.get_by_test_id("signin-error")
    await error.wait_for()
    assert await error.inner_text() == "用户名或密码错误。"
    assert await c.page.locator("#password").input_value() == ""
    async with stack.container.db.read() as s:
        failures = (await s.execute(select(AuthFailure.reason, AuthFailure.user_id)
                                    .where(AuthFailure.user_id == "ana"))).all()
    assert [tuple(f) for f in failures] == [("sign-in-failed", "ana")]
    cookies = await c.context.cookies()
    assert not [k for k in cookies if k["name"] == "cg_session"]
    only_own_host(stack, c)
    await c.context.close()


# a plain HTML form: what any site can make a browser send (text/plain needs no CORS preflight)
EVIL_PAGE = """<!doctype html><html><body>
<form method="POST" action="%s/v1/calls" enctype="text/plain">
<input type="hidden" name='{"agent": "ana", "number": "%s", "x": "' value='"}'></form>
<script>document.forms[0].submit();</script></body></html>"""


async def test_a_cross_site_post_without_the_csrf_token_is_refused(stack: Stack, browser: Browser) -> None:
    """Another site's page (same host, another port: the same "site", so the Strict cookie is sent) posts a
    dial with the agent's session cookie; the service refuses it for lack of the CSRF token."""
    c = await open_console(browser, stack, "ana")
    svc = base_url(stack)
    evil = web.Application()

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=EVIL_PAGE % (svc, ANSWERS), content_type="text/html")

    evil.router.add_get("/", page)
    runner = web.AppRunner(evil)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    r = await stack.client.get("/v1/calls", headers=stack.auth("sup"), params={"agent": "ana"})
    before = len((await r.json())["items"])
    try:
        tab = await c.context.new_page()
        async with tab.expect_request(f"{svc}/v1/calls") as posted:
            await tab.goto(f"http://127.0.0.1:{port}/")
        request: Request = await posted.value
        response = await request.response()
        assert response is not None and response.status == 403
        assert "cg_session=" in (await request.all_headers()).get("cookie", "")  # the cookie was sent
        await tab.wait_for_url(f"{svc}/v1/calls")
        assert '"csrf-token-invalid"' in await tab.inner_text("body")
    finally:
        await runner.cleanup()
    r = await stack.client.get("/v1/calls", headers=stack.auth("sup"), params={"agent": "ana"})
    assert len((await r.json())["items"]) == before
    await c.context.close()


async def test_a_deactivated_users_session_ends(stack: Stack, browser: Browser) -> None:
    c = await open_console(browser, stack, "olga")
    await c.page.get_by_test_id("live").and_(c.page.locator(".ok")).wait_for()
    r = await stack.client.patch("/v1/users/olga", headers=stack.auth("ada"), json={"active": False})
    assert r.status == 200
    # the live stream ends at once (a session event), and the console asks for a sign-in, saying why
    await c.page.locator(".notice", has_text="该用户已停用").wait_for(timeout=10_000)
    await c.page.locator("#username").wait_for()
    answer = await c.page.evaluate("fetch('/v1/session').then(async r => [r.status, (await r.json()).error.code])")
    assert answer == [401, "user-deactivated"]
    only_own_host(stack, c)
    await c.context.close()


async def test_a_pasted_token_signs_in_for_the_tab_only(stack: Stack, browser: Browser) -> None:
    c = await open_console(browser, stack, None)
    page = c.page
    await page.locator("details.token summary").click()
    await page.fill("#token", "cg_not-a-token")
    await page.locator("details.token button").click()
    await page.get_by_test_id("signin-error").wait_for()
    await page.fill("#token", stack.tokens["sup"])
    await page.locator("details.token button").click()
    await page.locator("h2 .live.ok").wait_for()  # the wallboard, its live stream opened with the token
    assert "sup" in await page.get_by_test_id("who").inner_text()
    assert not [k for k in await c.context.cookies() if k["name"] == "cg_session"]
    other = await c.context.new_page()  # the token stays in this tab
    await other.goto(base_url(stack) + "/")
    await other.locator("#username").wait_for()
    only_own_host(stack, c)
    await c.context.close()


async def test_an_agent_works_its_callbacks_and_a_preview_campaign_beside_its_cases(stack: Stack,
                                                                                     browser: Browser) -> None:
    """A callback from an earlier call is listed and dialled from the panel; its disposition marks it done. The
    agent joins a preview campaign, is offered one of its cases and skips it, with a reason."""
    await with_password(stack, "rita")
    case_id = await stack.case_for(HANGS_UP, "rita")
    other_case = await stack.case_for(ANSWERS, "rita")
    earlier = await stack.dial("rita", HANGS_UP)
    await stack.wait_state(earlier["id"], "ended", within=30)
    due = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    r = await stack.client.post(f"/v1/calls/{earlier['id']}/disposition", headers=stack.auth("rita"),
                                json={"outcome": "callback_requested", "callback_at": due})
    assert r.status == 201, await r.text()
    r = await stack.client.post("/v1/campaigns", headers=stack.auth("sup"),
                                json={"client_id": "e2e-bank", "name": "E2E 预览活动", "agent": "rita"})
    campaign = await r.json()
    assert r.status == 201, campaign
    r = await stack.client.post(f"/v1/campaigns/{campaign['id']}/start", headers=stack.auth("sup"))
    assert r.status == 200, await r.text()

    c = await open_console(browser, stack, "rita")
    page = c.page
    await page.get_by_test_id("live").and_(page.locator(".ok")).wait_for()
    callback = page.get_by_test_id("callbacks").locator(f"[data-case-id='{case_id}']")
    await callback.wait_for()
    assert "E2E Debtor" in await callback.inner_text()
    row = page.get_by_test_id("campaigns").locator(f"[data-campaign-id='{campaign['id']}']")
    await row.get_by_test_id("join").click()
    await row.and_(page.locator("[data-joined=yes]")).wait_for()
    r = await stack.client.get(f"/v1/campaigns/{campaign['id']}", headers=stack.auth("sup"))
    assert "rita" in (await r.json())["progress"]["agents"]
    await page.get_by_test_id("next").click()
    offer = page.get_by_test_id("offer")
    await offer.wait_for()
    offered = await offer.get_attribute("data-case-id")
    assert offered in (case_id, other_case)
    await no_serious_violations(page, "agent-work")
    await screenshots(page, "agent-work")
    await page.select_option("#skip-reason", "needs_review")
    await offer.get_by_test_id("offer-skip").click()
    await page.locator(f"[data-testid=offer][data-case-id='{offered}']").wait_for(state="detached")

    # the callback dialled from the panel; its disposition is the callback done
    await callback.get_by_test_id("callback-dial").click()
    await page.locator("[data-testid=call][data-state=ended]").wait_for(timeout=30_000)
    call_id = await page.get_by_test_id("call").get_attribute("data-call-id")
    form = page.get_by_test_id("disposition")
    await page.select_option("#outcome", "right_party_contact")
    await form.get_by_test_id("save-disposition").click()
    await page.get_by_test_id("disposition-saved").wait_for()
    await callback.wait_for(state="detached")
    r = await stack.client.get(f"/v1/calls/{call_id}", headers=stack.auth("sup"))
    assert (await r.json())["case_id"] == case_id
    r = await stack.client.get("/v1/callbacks", headers=stack.auth("rita"), params={"state": "done"})
    assert [cb for cb in (await r.json())["items"] if cb["case_id"] == case_id], await r.text()
    only_own_host(stack, c)
    await c.context.close()


async def test_a_progressive_campaigns_call_is_followed_live_and_disposed_on_the_agents_screen(
        stack: Stack, browser: Browser) -> None:
    """The agent joins a progressive campaign on its screen; the call the campaign places for it shows live
    (the agent did not click dial), is hung up there and gets its disposition form."""
    await with_password(stack, "pete")  # an agent whose phone answers
    await stack.case_for(ANSWERS, "pete")
    r = await stack.client.post("/v1/campaigns", headers=stack.auth("sup"), json={
        "client_id": "e2e-bank", "name": "E2E 渐进活动", "mode": "progressive", "agent": "pete"})
    campaign = await r.json()
    assert r.status == 201, campaign
    r = await stack.client.post(f"/v1/campaigns/{campaign['id']}/start", headers=stack.auth("sup"))
    assert r.status == 200, await r.text()

    c = await open_console(browser, stack, "pete")
    page = c.page
    await page.get_by_test_id("live").and_(page.locator(".ok")).wait_for()
    # a progressive campaign dials for agents who said they are available: a short pause, then available
    await page.get_by_test_id("pause").click()
    await page.locator("[data-testid=presence][data-state=paused]").wait_for()
    await page.get_by_test_id("resume").click()
    await page.locator("[data-testid=presence][data-state=available]").wait_for()
    await page.get_by_test_id("campaigns").locator(f"[data-campaign-id='{campaign['id']}']") \
        .get_by_test_id("join").click()
    # the campaign shows the case for campaigns.progressive_preview_s (5 s), then dials it
    await page.locator("[data-testid=call][data-state=answered]").wait_for(timeout=40_000)
    call_id = await page.get_by_test_id("call").get_attribute("data-call-id")
    await page.get_by_test_id("hangup").click()
    await page.locator("[data-testid=call][data-state=ended]").wait_for(timeout=15_000)
    form = page.get_by_test_id("disposition")
    await page.select_option("#outcome", "refuses")
    await form.get_by_test_id("save-disposition").click()
    await page.get_by_test_id("disposition-saved").wait_for()
    r = await stack.client.get(f"/v1/calls/{call_id}", headers=stack.auth("sup"))
    call = await r.json()
    # one of the agent's cases in the campaign, dialled by the campaign (the page never clicked dial)
    assert call["agent"] == "pete" and call["case_id"] in {v for (_, a), v in stack.cases.items() if a == "pete"}
    r = await stack.client.get(f"/v1/campaigns/{campaign['id']}", headers=stack.auth("sup"))
    assert (await r.json())["progress"]["attempted"] >= 1
    r = await stack.client.get(f"/v1/cases/{call['case_id']}/contacts", headers=stack.auth("pete"))
    assert [x["outcome"] for x in (await r.json())["items"] if x["call_id"] == call_id] == ["refuses"]
    r = await stack.client.post(f"/v1/campaigns/{campaign['id']}/stop", headers=stack.auth("sup"))
    assert r.status == 200
    only_own_host(stack, c)
    await c.context.close()
