"""End to end: cases imported from a file with bad rows, changes recorded, every event delivered to a real
receiver that fails for a while, with the dispatcher restarted mid-delivery: nothing lost, order per case
kept, every signature valid, duplicates only with the same webhook-id."""

import asyncio
import contextlib
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from audit.service import Actor
from auth.models import Role
from auth.scope import Scope
from auth.service import OPERATOR, Principal
from cases.cli import main as import_main
from cases.dispositions import record_disposition
from cases.schemas import DispositionIn
from cases.service import CaseService
from core.clock import FakeClock
from core.models import DomainEventRow
from dialer.models import Call
from hooks.delivery import create_session
from hooks.dispatcher import Dispatcher
from hooks.outbox import webhook_id
from tests.support.receiver import HANG, OK, Receiver, fail
from tests.unit.hooks.helpers import SETTINGS, T0, states, wait_until, watching, wiring

ADMIN = Actor("admin", "admin")
ALL = Scope.everything()  # the platform: every client

pytestmark = pytest.mark.integration
#: no exact attempt sequence is asserted here: a short timeout keeps the six scripted hangs cheap
OUTAGE = SETTINGS.model_copy(update={"request_timeout_s": 0.5})

FILE = """external_id,debtor_name,mobile,third_party_number,third_party_relation,amount,days_overdue,region
A1,张三,13800138000,,,1200.50,40,广东
A2,李四,13800138001,13900139000,spouse,99,10,新疆
A3,王五,12345,,,10,1,北京
A4,赵六,13800138003,13900139001,,10,1,北京
A5,孙七,13800138004,,,abc,1,北京
A6,周八,13800138005,,,300,5,上海
A6,周八,13800138005,,,300,5,上海
"""


def _import(tmp_path, db_url, capsys):
    path = tmp_path / "batch.csv"
    path.write_text(FILE, encoding="utf-8")
    code = import_main([str(path), "--client", "bank1", "--batch", "B7", "--database-url", db_url, "--no-migrate"])
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_import_file_with_bad_rows_twice(database, tmp_path, capsys):
    code, out, err = await asyncio.to_thread(_import, tmp_path, database.url, capsys)
    assert code == 3
    assert "line 4: mobile:" in out and "line 5: third_party_relation:" in out
    assert "line 6: amount:" in out and "line 8: external_id: duplicate of line 7" in out
    assert "created 3" in err
    async with database.read() as s:
        first = await s.scalar(select(func.count()).select_from(DomainEventRow))
    code, out, err = await asyncio.to_thread(_import, tmp_path, database.url, capsys)
    assert code == 3 and "created 0, updated 0, unchanged 3" in err
    async with database.read() as s:
        assert await s.scalar(select(func.count()).select_from(DomainEventRow)) == first == 3


async def test_every_event_arrives_in_order_across_outage_and_restart(database):
    clock = FakeClock(T0)
    events, hooks = wiring(database, clock)
    cases = CaseService(db=database, events=events, clock=clock)
    outage = [fail(500), fail(503, retry_after="30"), HANG, fail(502), HANG, fail(500)] * 3
    async with Receiver(secret="", script=outage) as rx:
        sub, rx.secret = await hooks.create(ALL, url=rx.url, event_types=["*"], description="", actor=ADMIN)
        items = [{"external_id": f"K{i}", "debtor_name": "x", "amount": "10", "currency": "CNY",
                  "contacts": [{"number": f"+86138001380{i:02d}", "kind": "mobile"}]} for i in range(12)]
        results = await cases.bulk_upsert(OPERATOR, client_id="bank1", items=items, chunk=5)
        ids = [r.case_id for r in results]
        for i, cid in enumerate(ids):
            await cases.hold(OPERATOR, cid, reason="hardship")
            if i % 2:
                await cases.release(OPERATOR, cid, reason="hardship")
            call = Call(id=f"call-{i}", agent_id="agent1", requested_by="agent1", number=f"+86138001380{i:02d}",
                        case_id=cid, client_id="bank1", pbx="p", sip_user="1001", state="ended", created_at=T0,
                        facts={})
            async with database.begin() as s:
                s.add(call)
                await s.flush()
                await record_disposition(s, events, principal=Principal("agent1", Role.AGENT), call_id=call.id,
                                         data=DispositionIn(outcome="dispute" if i == 3 else "refuses"),
                                         now=clock.now() + timedelta(seconds=i))
        async with database.read() as s:
            rows = (await s.execute(select(DomainEventRow.event_id, DomainEventRow.id, DomainEventRow.case_id))).all()
        expected = {webhook_id(r.event_id, sub.id): (r.id, r.case_id) for r in rows}
        total = len(expected)

        async with create_session(allow_private=True) as session:
            first = Dispatcher(database, OUTAGE, session, clock, name="node-a", rng=random.Random(1))
            task = asyncio.create_task(first.run(), name="dispatcher-a")
            await watching(task, rx.wait_for(10, timeout=60))
            task.cancel()  # the service stops in the middle of delivering
            with contextlib.suppress(asyncio.CancelledError):
                await task
            second = Dispatcher(database, OUTAGE, session, clock, name="node-b", rng=random.Random(2))
            task = asyncio.create_task(second.run(), name="dispatcher-b")
            try:
                await watching(task, wait_until(lambda: _delivered(database, total), clock=clock, advance_s=90,
                                                 timeout=90))
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    assert rx.delivered_ids() == set(expected)  # nothing lost, nothing foreign
    assert all(r.verified for r in rx.requests)
    bodies: dict[str, bytes] = {}
    for r in rx.requests:  # a duplicate is the same message: same id, same body
        assert bodies.setdefault(r.msg_id, r.body) == r.body
    per_case: dict[str, list[int]] = {}
    for r in rx.requests:
        seq, case_id = expected[r.msg_id]
        per_case.setdefault(case_id, []).append(seq)
    for case_id, seqs in per_case.items():
        assert seqs == sorted(seqs), case_id
    assert len(per_case) == 12
    assert any(r.answered is None or r.answered >= 500 for r in rx.requests)


async def _delivered(database, n):
    return (await states(database)).get("delivered", 0) == n


async def test_gone_disables_the_subscription(database):
    clock = FakeClock(T0)
    events, hooks = wiring(database, clock)
    cases = CaseService(db=database, events=events, clock=clock)
    async with Receiver(secret="", script=[OK, fail(410)]) as rx:
        sub, rx.secret = await hooks.create(ALL, url=rx.url, event_types=["case.*", "hold.*"], description="",
                                            actor=ADMIN)
        results = await cases.bulk_upsert(OPERATOR, client_id="b", items=[{"external_id": "Z", "debtor_name": "x",
                                                                 "amount": "1", "currency": "CNY"}])
        await cases.hold(OPERATOR, results[0].case_id, reason="dispute")
        await cases.release(OPERATOR, results[0].case_id, reason="dispute")
        async with create_session(allow_private=True) as session:
            d = Dispatcher(database, SETTINGS, session, clock, name="n")
            task = asyncio.create_task(d.run(), name="dispatcher")
            try:
                await wait_until(lambda: _is(database, {"delivered": 1, "disabled": 2}))
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert not (await hooks.get(ALL, sub.id)).active
    assert len(rx.requests) == 2


async def _is(database, expected):
    return await states(database) == expected
