"""The admin's screens in a real browser (Debian's Chromium driven by Playwright) against the real service: users,
roles and teams with their tokens; client policies; the do-not-call list with the two-person release requests;
webhook subscriptions with their deliveries, dead letters and replay; a client's presented numbers; the audit trail,
paged through its cursor.

One service for the module. The admin is a bank's own (``bob``, of ``e2e-bank``): what the screens show and
change stops at the bank's walls. Every change is checked through the API; every screen passes axe-core and
makes no request to another host. Screens in Chinese (the default) and English go to ``artifacts/console/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page
from sqlalchemy import update

from hooks.models import Delivery
from sandbox.pbx import PbxSandbox
from tests.integration.console.test_console_browser import (
    CJK,
    browser,  # noqa: F401 - the module's browser fixture, shared
    no_serious_violations,
    only_own_host,
    open_console,
    screenshots,
    with_password,
)
from tests.integration.stack import Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

BANK = "e2e-bank"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(pbx: PbxSandbox, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The service on SQLite; webhooks may go to this machine (the test's own receiver)."""
    async with service_stack(pbx, tmp_path_factory.mktemp("console-admin"),
                             hooks={"allow_private_targets": True}) as s:
        for uid, role, clients, sip in (("bob", "admin", [BANK], None), ("carl", "admin", ["other-bank"], None),
                                        ("dora", "agent", ["other-bank"], "2999"), ("frank", "agent", [BANK], "2998")):
            r = await s.client.post("/v1/users", headers=s.auth("ada"), json={
                "id": uid, "role": role, "clients": clients, "sip_user": sip})
            assert r.status == 201, await r.text()
            r = await s.client.post(f"/v1/users/{uid}/tokens", headers=s.auth("ada"), json={"label": "test"})
            s.tokens[uid] = (await r.json())["token"]
        await with_password(s, "bob")
        yield s


async def admin_screen(page: Page, section: str) -> None:
    await page.get_by_test_id("nav-admin").click()
    await page.get_by_test_id(f"admin-{section}").click()


async def api(stack: Stack, method: str, path: str, user: str = "ada", **kw: Any) -> tuple[int, Any]:
    r = await stack.client.request(method, path, headers=stack.auth(user), **kw)
    return r.status, await r.json() if r.content_type == "application/json" else None


async def test_a_banks_admin_manages_its_users_roles_teams_and_tokens(stack: Stack, browser: Browser  # noqa: F811
                                                                      ) -> None:
    c = await open_console(browser, stack, "bob")
    page = c.page
    await admin_screen(page, "users")
    users = page.get_by_test_id("users")
    await users.locator("[data-user-id=frank]").wait_for()
    shown = await users.locator("[data-testid=user-row]").evaluate_all("rows => rows.map(r => r.dataset.userId)")
    # the bank's own people only: not the other bank's admin or agent, not the global admin, nor those who
    # also serve banks bob does not
    assert sorted(shown) == ["bob", "frank"], shown

    # a user for another bank is refused, in the user's language
    new = page.get_by_test_id("new-user")
    await page.fill("#nu-id", "eve")
    await page.fill("#nu-clients", "other-bank")
    await new.locator("button[type=submit]").click()
    refused = await new.get_by_test_id("admin-error").inner_text()
    assert CJK.search(refused), refused
    assert (await api(stack, "GET", "/v1/users/eve"))[0] == 404

    await page.fill("#nu-name", "伊娃")
    await page.fill("#nu-team", "e2e")
    await page.fill("#nu-sip", "2098")
    await page.fill("#nu-clients", BANK)
    await new.locator("button[type=submit]").click()
    edit = page.get_by_test_id("edit-user")
    await edit.wait_for()
    status, eve = await api(stack, "GET", "/v1/users/eve")
    assert status == 200 and (eve["role"], eve["team"], eve["clients"], eve["display_name"]) == (
        "agent", "e2e", [BANK], "伊娃"), eve

    # a new role and team
    await page.select_option("#eu-role", "supervisor")
    await page.fill("#eu-team", "team-x")
    await page.fill("#eu-reason", "晋升为组长")
    await edit.get_by_test_id("save-user").click()
    await users.locator("[data-user-id=eve]", has_text="team-x").wait_for()
    eve = (await api(stack, "GET", "/v1/users/eve"))[1]
    assert (eve["role"], eve["team"]) == ("supervisor", "team-x"), eve

    # a token: shown once, works, then revoked
    tokens = page.get_by_test_id("tokens")
    await page.fill("#tok-label", "crm")
    await tokens.get_by_test_id("issue-token").click()
    secret = await tokens.get_by_test_id("issued-token").input_value()
    r = await stack.client.get("/v1/session", headers={"Authorization": f"Bearer {secret}"})
    assert r.status == 200 and (await r.json())["user_id"] == "eve"
    await no_serious_violations(page, "admin-users")
    await screenshots(page, "admin-users")
    await tokens.locator("[data-revoked=no]", has_text="crm").get_by_test_id("revoke").click()
    await tokens.locator("[data-revoked=yes]", has_text="crm").wait_for()
    r = await stack.client.get("/v1/session", headers={"Authorization": f"Bearer {secret}"})
    assert r.status == 401

    # deactivated
    await edit.get_by_test_id("deactivate").click()
    await users.locator("[data-user-id=eve][data-active=no]").wait_for()
    assert (await api(stack, "GET", "/v1/users/eve"))[1]["active"] is False
    only_own_host(stack, c)
    await c.context.close()


async def test_a_banks_admin_edits_its_clients_calling_window_caps_and_third_party_rules(
        stack: Stack, browser: Browser) -> None:  # noqa: F811
    c = await open_console(browser, stack, "bob")
    page = c.page
    await admin_screen(page, "policies")
    form = page.get_by_test_id("policy-form")
    await form.wait_for()  # the bank's only client, loaded at once (no stored policy yet: saving creates it)
    await page.select_option("#pol-jur", "CN")
    await page.get_by_test_id("window-mon").fill("09:00-12:00, 14:00-20:00")
    await page.get_by_test_id("window-sun").fill("-")
    await page.fill("#pol-max_unanswered_per_number_per_day", "2")
    await page.get_by_test_id("third-party-allowed").uncheck()
    await page.fill("#pol-reason", "委托方合同收紧")
    await page.get_by_test_id("save-policy").click()
    await form.get_by_test_id("admin-note").wait_for()
    status, pol = await api(stack, "GET", f"/v1/compliance/policies/{BANK}", "bob")
    assert status == 200, pol
    monday = [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "20:00"}]
    assert pol["rules"]["windows"] == {"mon": monday, "sun": []}, pol["rules"]
    assert pol["rules"]["max_unanswered_per_number_per_day"] == 2 and pol["rules"]["third_party_allowed"] is False
    assert pol["effective"]["windows"]["mon"] == monday
    assert pol["effective"]["windows"]["sun"] == [] and pol["effective"]["third_party_allowed"] is False
    await page.locator("details.effective summary").click()
    assert await page.get_by_test_id("effective-mon").inner_text() == "09:00-12:00, 14:00-20:00"
    await no_serious_violations(page, "admin-policies")
    await screenshots(page, "admin-policies")

    # the service's refusals, in the user's language; nothing changes
    await page.fill("#pol-ret", "1")
    await page.get_by_test_id("save-policy").click()
    zh = await form.get_by_test_id("admin-error").inner_text()
    assert "录音保存天数" in zh, zh
    await page.fill("#pol-ret", "")
    await page.get_by_test_id("window-tue").fill("20:00-09:00")  # reversed: the policy model refuses it
    await page.get_by_test_id("save-policy").click()
    await form.get_by_test_id("admin-error").filter(has_not_text="录音保存天数").wait_for()
    zh = await form.get_by_test_id("admin-error").inner_text()
    assert CJK.search(zh) and "20:00-09:00" in zh, zh
    await page.get_by_test_id("lang").click()
    await page.locator("html[lang=en]").wait_for(state="attached")
    await page.get_by_test_id("save-policy").click()
    await form.get_by_test_id("admin-error").filter(has_not_text=CJK).wait_for()
    en = await form.get_by_test_id("admin-error").inner_text()
    assert not CJK.search(en) and "invalid" in en.lower(), en
    assert (await api(stack, "GET", f"/v1/compliance/policies/{BANK}", "bob"))[1]["rules"] == pol["rules"]
    only_own_host(stack, c)
    await c.context.close()


async def test_the_do_not_call_list_and_a_numbers_release_approved_by_a_second_person(
        stack: Stack, browser: Browser) -> None:  # noqa: F811
    # a case number marked do-not-call; the team's supervisor asks for it back
    number = "+8613700000888"
    r = await stack.client.put(f"/v1/clients/{BANK}/cases/DNC-1", headers=stack.auth("casesys"), json={
        "debtor_name": "勿扰测试", "amount": "10", "currency": "CNY", "agent": "ana", "team": "e2e",
        "contacts": [{"number": number, "kind": "mobile"}]})
    case_id = (await r.json())["id"]
    status, doc = await api(stack, "POST", f"/v1/cases/{case_id}/numbers", "sup",
                            json={"number": number, "status": "do_not_call", "reason": "客户要求"})
    assert status in (200, 201), doc
    status, req = await api(stack, "POST", "/v1/release-requests", "sup", json={
        "kind": "do_not_call_number", "case_id": case_id, "number": number, "reason": "客户书面撤回"})
    assert status == 201, req
    # another bank's entry, never shown to bob
    status, _ = await api(stack, "POST", "/v1/compliance/do-not-call", json={
        "value": "+8613700000999", "client": "other-bank", "reason": "other bank"})
    assert status == 201

    c = await open_console(browser, stack, "bob")
    page = c.page
    await admin_screen(page, "dnc")
    await page.fill("#dnc-value", "+8613700000777")
    await page.fill("#dnc-reason", "投诉")
    await page.get_by_test_id("dnc-add").locator("button[type=submit]").click()
    row = page.get_by_test_id("dnc").locator("[data-value='+8613700000777']")
    await row.wait_for()
    status, listed = await api(stack, "GET", "/v1/compliance/do-not-call", "bob")
    values = {(e["value"], e["client"]) for e in listed["items"]}
    assert ("+8613700000777", BANK) in values and not any(v == "+8613700000999" for v, _ in values), values
    assert await page.locator("[data-value='+8613700000999']").count() == 0

    releases = page.get_by_test_id("releases")
    pending = releases.locator(f"[data-request-id='{req['id']}']")
    await pending.wait_for()
    assert number in await pending.inner_text()
    assert await pending.get_by_test_id("approve").is_disabled()  # a reason first
    await no_serious_violations(page, "admin-dnc")
    await screenshots(page, "admin-dnc")
    await page.fill("#rel-reason", "已核实客户撤回")
    await pending.get_by_test_id("approve").click()
    await pending.wait_for(state="detached")
    status, done = await api(stack, "GET", f"/v1/release-requests/{req['id']}", "bob")
    assert done["state"] == "approved" and done["decided_by"] == "bob", done
    status, kase = await api(stack, "GET", f"/v1/cases/{case_id}", "bob")
    (contact,) = [x for x in kase["contacts"] if x["number"] == number]
    assert contact["status"] == "valid", contact

    await row.get_by_test_id("dnc-remove").click()
    await row.wait_for(state="detached")
    status, listed = await api(stack, "GET", "/v1/compliance/do-not-call", "bob", params={"number": "+8613700000777"})
    assert listed["items"] == []
    only_own_host(stack, c)
    await c.context.close()


async def test_webhook_subscriptions_with_deliveries_and_a_dead_letter_replayed(
        stack: Stack, browser: Browser) -> None:  # noqa: F811
    received: list[str] = []
    arrived = asyncio.Condition()

    async def hook(request: web.Request) -> web.Response:
        async with arrived:
            received.append(request.headers.get("webhook-id", ""))
            arrived.notify_all()
        return web.Response(status=204)

    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", hook)
    async with TestServer(receiver_app, host="127.0.0.1") as receiver:
        url = str(receiver.make_url("/hook"))
        c = await open_console(browser, stack, "bob")
        page = c.page
        await admin_screen(page, "hooks")
        await page.fill("#hook-url", url)
        await page.fill("#hook-types", "case.*")
        await page.fill("#hook-desc", "催收系统")
        await page.get_by_test_id("new-subscription").locator("button[type=submit]").click()
        secret = await page.get_by_test_id("hook-secret").input_value()
        assert secret
        status, subs = await api(stack, "GET", "/v1/hooks/subscriptions", "bob")
        (sub,) = [s for s in subs["items"] if s["url"] == url]
        assert sub["client"] == BANK and sub["event_types"] == ["case.*"] and sub.get("secret") is None

        # a case event reaches the receiver; then it is made a dead letter, as after the whole retry schedule
        r = await stack.client.put(f"/v1/clients/{BANK}/cases/HOOK-1", headers=stack.auth("casesys"), json={
            "debtor_name": "回调测试", "amount": "10", "currency": "CNY", "contacts": []})
        assert r.status == 201
        async with asyncio.timeout(30), arrived:
            await arrived.wait_for(lambda: len(received) >= 1)
        status, page_ = await api(stack, "GET", "/v1/hooks/deliveries", "bob", params={"subscription_id": sub["id"]})
        delivery = page_["items"][0]
        async with stack.container.db.begin() as s:
            await s.execute(update(Delivery).where(Delivery.id == delivery["id"])
                            .values(state="dead", last_status=503, last_error="receiver unavailable"))

        await page.get_by_test_id("subscriptions").locator(f"[data-sub-id='{sub['id']}']") \
            .get_by_test_id("show-deliveries").click()
        deliveries = page.get_by_test_id("deliveries")
        dead = deliveries.locator(f"[data-delivery-id='{delivery['id']}'][data-state=dead]")
        await dead.wait_for()
        await no_serious_violations(page, "admin-hooks")
        await screenshots(page, "admin-hooks")
        await dead.get_by_test_id("replay").click()
        await deliveries.get_by_test_id("admin-note").wait_for()
        async with asyncio.timeout(30), arrived:
            await arrived.wait_for(lambda: len(received) >= 2)
        assert received[1] == received[0]  # the same message (its webhook-id), sent again
        await page.select_option("#del-state", "delivered")
        await deliveries.locator(f"[data-delivery-id='{delivery['id']}'][data-state=delivered]").wait_for()

        await page.get_by_test_id("subscriptions").locator(f"[data-sub-id='{sub['id']}']") \
            .get_by_test_id("toggle-subscription").click()
        await page.locator(f"[data-sub-id='{sub['id']}'][data-active=no]").wait_for()
        assert (await api(stack, "GET", f"/v1/hooks/subscriptions/{sub['id']}", "bob"))[1]["active"] is False
        # the other bank's admin sees none of it
        status, theirs = await api(stack, "GET", "/v1/hooks/subscriptions", "carl")
        assert status == 200 and all(s["id"] != sub["id"] for s in theirs["items"])
        only_own_host(stack, c)
        await c.context.close()


async def test_a_clients_presented_numbers_added_and_shown(stack: Stack, browser: Browser) -> None:  # noqa: F811
    c = await open_console(browser, stack, "bob")
    page = c.page
    await admin_screen(page, "numbers")
    screen = page.get_by_test_id("presented-numbers")
    await screen.get_by_test_id("pn-none").wait_for()  # none yet: the calls present the PBX default
    await page.fill("#pn-number", "12345")
    await screen.get_by_test_id("pn-add").locator("button[type=submit]").click()
    await screen.get_by_test_id("admin-error").wait_for()  # not E.164: refused in the user's words
    await page.fill("#pn-number", "+8613812345678")
    await screen.get_by_test_id("pn-add").locator("button[type=submit]").click()
    await screen.locator("[data-testid=pn-row][data-number='+8613812345678']").wait_for()
    await page.fill("#pn-number", "+8613912345678")
    await screen.get_by_test_id("pn-add").locator("button[type=submit]").click()
    second = screen.locator("[data-testid=pn-row][data-number='+8613912345678']")
    await second.wait_for()
    await second.get_by_test_id("pn-primary").click()
    await screen.locator("[data-testid=pn-row]:first-child[data-number='+8613912345678']").wait_for()
    status, doc = await api(stack, "GET", f"/v1/clients/{BANK}/presented-numbers", "bob")
    assert status == 200 and doc["numbers"] == ["+8613912345678", "+8613812345678"], doc
    assert doc["primary"] == "+8613912345678" and doc["updated_by"] == "bob", doc
    await no_serious_violations(page, "admin-numbers")
    only_own_host(stack, c)
    await c.context.close()

    # a supervisor reads them (the only admin section a supervisor has), and cannot change them
    await with_password(stack, "sup")
    c = await open_console(browser, stack, "sup")
    page = c.page
    await page.get_by_test_id("nav-admin").click()
    screen = page.get_by_test_id("presented-numbers")
    if await page.locator("#pn-client").evaluate("e => e.tagName") == "SELECT":
        await page.select_option("#pn-client", BANK)
    else:
        await page.fill("#pn-client", BANK)
        await screen.locator("form button[type=submit]").click()
    await screen.locator("[data-testid=pn-row]:first-child[data-number='+8613912345678']").wait_for()
    assert await screen.get_by_test_id("pn-add").count() == 0 and await screen.get_by_test_id("pn-remove").count() == 0
    tabs = await page.locator(".subtabs button").evaluate_all("bs => bs.map(b => b.dataset.testid)")
    assert tabs == ["admin-numbers"], tabs
    only_own_host(stack, c)
    await c.context.close()


async def test_the_audit_trail_shows_an_act_just_done_and_pages_through_the_cursor(
        stack: Stack, browser: Browser) -> None:  # noqa: F811
    # more than a page (25 a page) of the bank's acts
    for i in range(30):
        status, _ = await api(stack, "POST", "/v1/compliance/do-not-call", "bob", json={
            "value": f"+86137100{i:05d}", "client": BANK, "reason": f"批量 {i}"})
        assert status == 201
    c = await open_console(browser, stack, "bob")
    page = c.page
    # an act done in the console, then found at the top of the trail
    await admin_screen(page, "dnc")
    await page.fill("#dnc-value", "+8613755500011")
    await page.fill("#dnc-reason", "刚刚添加")
    await page.get_by_test_id("dnc-add").locator("button[type=submit]").click()
    await page.get_by_test_id("dnc").locator("[data-value='+8613755500011']").wait_for()

    await page.get_by_test_id("admin-audit").click()
    rows = page.get_by_test_id("audit-rows").locator("[data-testid=audit-row]")
    await rows.first.wait_for()
    first = rows.first
    assert await first.get_attribute("data-action") == "do_not_call.added"
    assert await first.get_attribute("data-target") == "exact:+8613755500011"
    assert "刚刚添加" in await first.inner_text()
    assert await rows.count() == 25
    more = page.get_by_test_id("audit-more")
    await more.click()
    await rows.nth(25).wait_for()
    ids = await rows.evaluate_all("rows => rows.map(r => r.dataset.auditId)")
    assert len(ids) == len(set(ids)) > 25, ids  # the second page follows the first, nothing twice
    shown = await rows.evaluate_all("rows => rows.map(r => r.dataset.target)")
    assert "exact:+8613710000000" in shown, shown  # the oldest seeded act, on the second page
    # the same pages through the API: what the console shows is what the cursor gives
    status, p1 = await api(stack, "GET", "/v1/audit", "bob", params={"limit": "25"})
    status, p2 = await api(stack, "GET", "/v1/audit", "bob", params={"limit": "25", "cursor": p1["next_cursor"]})
    assert ids == [a["id"] for a in p1["items"] + p2["items"]][:len(ids)]

    # a filter by action and actor starts again from its first page
    await page.fill("#aud-action", "do_not_call.*")
    await page.fill("#aud-actor", "bob")
    await page.get_by_test_id("audit-filters").locator("button[type=submit]").click()
    await rows.nth(25).wait_for(state="detached")
    await rows.nth(24).wait_for()
    actions = set(await rows.evaluate_all("rows => rows.map(r => r.dataset.action)"))
    assert actions <= {"do_not_call.added", "do_not_call.removed"}, actions
    await no_serious_violations(page, "admin-audit")
    await screenshots(page, "admin-audit")
    only_own_host(stack, c)
    await c.context.close()
