"""Promises to pay against payments, end to end: the real service, the real Asterisk 22 and real SIP phones
(pjsua2), on SQLite and PostgreSQL.

ana (1001, answers) calls a case's number (the customer line answers), hangs up and disposes the call
``promise_to_pay``; the bank's payments file comes in through ``callguard import-payments`` (its own process, on
the service's database) and the promise is kept, its events delivered by the service to a real webhook receiver,
the repayments report showing what ana collected; the same payment posted again by the case system is stored
once. A second
promise whose deadline passes unpaid (the sweep run with a clock past it, not a sleep) is broken and comes back
to ana as a callback. A payment for another bank's case through this bank's path finds no case.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select

from core.clock import FakeClock
from core.models import DomainEventRow
from payments.service import PaymentService
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import BACKENDS, Stack, service_stack
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
BANK, OTHER_BANK = "e2e-bank", "bank1"
KEPT_NUMBER, BROKEN_NUMBER = "+8613800000001", "+8613811110001"  # the customer line answers both
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Rig:
    """The service and the bank's webhook receiver (subscribed to e2e-bank's payments and promises)."""

    stack: Stack
    hooks: Receiver

    async def req(self, method: str, path: str, user: str, body: Any = None, status: int = 200) -> Any:
        r = await self.stack.client.request(method, path, json=body, headers=self.stack.auth(user))
        doc = await r.json()
        assert r.status == status, doc
        return doc

    async def case(self, client: str, external_id: str, number: str) -> str:
        doc = await self.req("PUT", f"/v1/clients/{client}/cases/{external_id}", "casesys", {
            "debtor_name": "Zhao Liu", "amount": "1000.00", "currency": "CNY", "timezone": "Asia/Shanghai",
            "agent": "ana", "team": "e2e", "contacts": [{"number": number, "kind": "mobile"}]}, status=201)
        return str(doc["id"])

    async def promise_on_a_call(self, case_id: str, number: str, amount: str) -> str:
        """ana dials the case on the PBX, the customer answers, ana hangs up and records the promise."""
        call = await self.stack.dial("ana", number, case_id=case_id)
        await self.stack.wait_state(call["id"], "answered")
        await self.req("POST", f"/v1/calls/{call['id']}/hangup", "ana", status=202)
        ended = await self.stack.wait_state(call["id"], "ended")
        assert (ended["end_reason"], ended["case_id"]) == ("completed", case_id), ended
        tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date().isoformat()
        await self.req("POST", f"/v1/calls/{call['id']}/disposition", "ana", {
            "outcome": "promise_to_pay", "promise_amount": amount, "promise_date": tomorrow}, status=201)
        return str(call["id"])

    async def promise(self, case_id: str) -> dict[str, Any]:
        [p] = (await self.req("GET", f"/v1/promises?case_id={case_id}", "sup"))["items"]
        return dict(p)

    async def events(self, case_id: str) -> list[tuple[str, dict[str, Any]]]:
        async with self.stack.container.db.read() as s:
            rows = (await s.scalars(select(DomainEventRow).where(DomainEventRow.case_id == case_id)
                                    .order_by(DomainEventRow.id))).all()
        return [(r.type, r.payload) for r in rows if r.type.startswith(("payment.", "promise."))]

    async def delivered(self, case_id: str, *types: str) -> list[str]:
        """The event types the receiver verified for the case (a redelivery once), once it has all of ``types``
        (a wait)."""
        async with asyncio.timeout(30):
            while True:
                first = {r.msg_id: r.json["type"] for r in self.hooks.by_case().get(case_id, [])}
                got = list(first.values())
                if set(types) <= set(got):
                    return got
                await asyncio.sleep(0.1)

    async def ana_s_row(self) -> dict[str, Any]:
        report = await self.req("GET", "/v1/reports/repayments?group_by=agent", "sup")
        [row] = [r for r in report["rows"] if r["agent"] == "ana"]
        return dict(row)


def payment(payment_id: str, external_id: str, amount: str) -> dict[str, Any]:
    return {"payment_id": payment_id, "case_external_id": external_id, "amount": amount, "currency": "CNY",
            "paid_at": datetime.now(UTC).isoformat()}


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=BACKENDS)
async def rig(request: pytest.FixtureRequest, pbx: PbxSandbox, phones: PhonesProcess,
              tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    """One service per backend for the module, no wrap-up; the bank's receiver on a loopback port."""
    async with Receiver(secret="whsec_") as hooks, service_stack(
            pbx, tmp_path_factory.mktemp(f"payments-{request.param}"), backend=request.param,
            presence={"wrap_up_s": 0}, hooks={"allow_private_targets": True}) as stack:
        rig = Rig(stack, hooks)
        sub = await rig.req("POST", "/v1/hooks/subscriptions", "ada", {
            "url": hooks.url, "event_types": ["payment.*", "promise.*"], "client": BANK}, status=201)
        hooks.secret = sub["secret"]
        yield rig


async def import_payments(rig: Rig, path: Path) -> tuple[int, str]:
    """``callguard import-payments`` in its own process on the service's database: (exit status, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "import-payments", str(path), "--client", BANK, "--no-migrate",
        "--database-url", rig.stack.container.settings.database.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_a_promise_taken_on_a_real_call_is_kept_by_the_bank_s_payment_file(rig: Rig, tmp_path: Path) -> None:
    case_id = await rig.case(BANK, "PAY-KEPT", KEPT_NUMBER)
    call_id = await rig.promise_on_a_call(case_id, KEPT_NUMBER, "300")
    p = await rig.promise(case_id)
    assert (p["status"], p["amount"], p["paid"], p["agent"], p["call_id"]) == ("pending", "300.00", "0.00", "ana",
                                                                                 call_id)

    # the bank's file, as its system writes it: Chinese headers, local time without an offset
    paid_at = datetime.now(SHANGHAI).replace(microsecond=0)
    path = tmp_path / "payments.csv"
    path.write_text(f"还款流水号,案件号,还款金额,还款时间\nBANK-PAY-1,PAY-KEPT,300.00,{paid_at:%Y-%m-%d %H:%M:%S}\n",
                    encoding="utf-8")
    status, err = await import_payments(rig, path)
    assert (status, err.strip().splitlines()[-1]) == (0, "created 1, unchanged 0, bad rows 0"), err
    paid = payment("BANK-PAY-1", "PAY-KEPT", "300") | {"paid_at": paid_at.isoformat()}
    again = await rig.req("POST", f"/v1/clients/{BANK}/payments", "casesys", {"payments": [paid]})
    assert again["counts"] == {"unchanged": 1}  # the same bank payment again: not counted twice

    p = await rig.promise(case_id)
    assert (p["status"], p["paid"]) == ("kept", "300.00") and p["settled_at"]
    assert [t for t, _ in await rig.events(case_id)] == ["promise.made", "payment.received", "promise.kept"]
    doc = await rig.req("GET", f"/v1/cases/{case_id}/payments", "ana")
    assert [x["payment_id"] for x in doc["payments"]] == ["BANK-PAY-1"]
    assert await rig.delivered(case_id, "promise.made", "payment.received", "promise.kept") == [
        "promise.made", "payment.received", "promise.kept"]  # signed, in the case's order
    row = await rig.ana_s_row()
    assert (row["payments"], row["collected"], row["promises_made"], row["promises_kept"], row["kept_rate"]) == (
        1, {"CNY": "300.00"}, 1, 1, 1.0)


async def test_a_promise_left_unpaid_past_its_deadline_is_broken_and_comes_back_to_ana(rig: Rig) -> None:
    case_id = await rig.case(BANK, "PAY-BROKEN", BROKEN_NUMBER)
    call_id = await rig.promise_on_a_call(case_id, BROKEN_NUMBER, "500")
    p = await rig.promise(case_id)
    assert p["status"] == "pending"
    c = rig.stack.container
    assert await c.payments.sweep() == 0  # the deadline (tomorrow + the grace days) is still ahead
    # the sweep as an instance would run it once the deadline has passed
    later = FakeClock(datetime.fromisoformat(p["deadline"]) + timedelta(seconds=1))
    assert await PaymentService(db=c.db, events=c.events, clock=later).sweep() == 1

    p = await rig.promise(case_id)
    assert (p["status"], p["paid"]) == ("broken", "0.00")
    [(_, broken)] = [(t, e) for t, e in await rig.events(case_id) if t == "promise.broken"]
    assert (broken["followup_agent"], broken["status"]) == ("ana", "broken")
    callbacks = (await rig.req("GET", "/v1/callbacks", "ana"))["items"]
    assert [(cb["case_id"], cb["source_call_id"]) for cb in callbacks] == [(case_id, call_id)]
    assert "promise.broken" in await rig.delivered(case_id, "promise.made", "promise.broken")
    row = await rig.ana_s_row()
    assert (row["promises_made"], row["promises_kept"], row["promises_broken"], row["kept_rate"]) == (2, 1, 1, 0.5)


async def test_a_payment_for_another_bank_s_case_through_this_bank_s_path_finds_no_case(rig: Rig) -> None:
    other_case = await rig.case(OTHER_BANK, "PAY-OTHER", "+8613822220001")
    before = await rig.req("GET", "/v1/reports/repayments?group_by=client", "sup")
    out = await rig.req("POST", f"/v1/clients/{BANK}/payments", "casesys",
                        {"payments": [payment("BANK-PAY-X", "PAY-OTHER", "100")]})
    assert [r["result"] for r in out["results"]] == ["no-such-case"]
    assert (await rig.req("GET", f"/v1/cases/{other_case}/payments", "sup"))["payments"] == []
    assert await rig.events(other_case) == []
    after = await rig.req("GET", "/v1/reports/repayments?group_by=client", "sup")
    assert after["rows"] == before["rows"]
