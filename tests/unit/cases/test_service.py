"""Case use cases against a real database (SQLite, and PostgreSQL when configured)."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from auth.models import Role
from auth.service import OPERATOR, Principal
from cases.directory import CaseDirectoryAdapter
from cases.models import Case, CaseContact, CaseHold
from cases.rows import CaseIn
from cases.service import CaseService, dial_context, holds_for
from core.clock import FakeClock
from core.events import EventLog
from core.models import DomainEventRow

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

CASE_SYSTEM = Principal("casesys", Role.INTEGRATION, clients=frozenset({"bank1"}))


def _case(ext: str = "C-1", **over) -> CaseIn:
    data = {"external_id": ext, "batch": "B1", "debtor_name": "张三", "amount": "1200.50", "currency": "cny",
            "days_overdue": 40, "region": "新疆", "timezone": "Asia/Shanghai",
            "contacts": [{"number": "+8613800138000", "kind": "mobile"},
                         {"number": "+8613900139000", "kind": "third_party", "relation": "spouse"}]}
    data.update(over)
    return CaseIn.model_validate(data)


def _svc(database) -> CaseService:
    return CaseService(db=database, events=EventLog(), clock=FakeClock(T0))


async def _event_types(database) -> list[str]:
    async with database.read() as s:
        return list((await s.scalars(select(DomainEventRow.type).order_by(DomainEventRow.id))).all())


async def test_upsert_creates_then_no_op_then_updates(database):
    svc = _svc(database)
    first = await svc.upsert(OPERATOR, client_id="bank1", data=_case())
    again = await svc.upsert(OPERATOR, client_id="bank1", data=_case())
    changed = await svc.upsert(OPERATOR, client_id="bank1", data=_case(days_overdue=41))
    assert (first.result, again.result, changed.result) == ("created", "unchanged", "updated")
    assert first.case_id == again.case_id == changed.case_id
    assert await _event_types(database) == ["case.imported", "case.updated"]
    case, contacts, holds = await svc.get(OPERATOR, first.case_id)
    assert case.amount == Decimal("1200.5") and case.currency == "CNY" and case.days_overdue == 41
    assert case.debtor_key == "bank1:C-1" and holds == []
    assert {(c.number, c.kind, c.relation) for c in contacts} == {
        ("+8613800138000", "mobile", None), ("+8613900139000", "third_party", "spouse")}


async def test_same_external_id_for_two_clients_are_two_cases(database):
    svc = _svc(database)
    a = await svc.upsert(OPERATOR, client_id="bank1", data=_case())
    b = await svc.upsert(OPERATOR, client_id="bank2", data=_case())
    assert a.case_id != b.case_id


async def test_bulk_reports_each_item_and_bad_items_never_undo_good_ones(database):
    svc = _svc(database)
    items = [_case(f"E{i}").model_dump(mode="json") for i in range(7)]
    items[2]["amount"] = "-5"
    items[4] = "not an object"
    items[5]["contacts"] = [{"number": "12", "kind": "mobile"}]
    results = await svc.bulk_upsert(OPERATOR, client_id="bank1", items=items, chunk=2)
    assert [r.result for r in results] == ["created", "created", "invalid", "created", "invalid", "invalid",
                                           "created"]
    assert results[2].errors[0]["field"] == "amount"
    assert results[5].errors[0]["field"].startswith("contacts.0.number")
    again = await svc.bulk_upsert(OPERATOR, client_id="bank1", items=items)
    assert [r.result for r in again if r.result != "invalid"] == ["unchanged"] * 4
    async with database.read() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 4
    assert (await _event_types(database)).count("case.imported") == 4


async def test_hold_takes_effect_and_release_restores_active(database):
    svc = _svc(database)
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_case())).case_id
    assert await svc.hold(OPERATOR, cid, reason="dispute") is not None
    assert await svc.hold(OPERATOR, cid, reason="dispute") is None  # idempotent
    await svc.hold(OPERATOR, cid, reason="illness", source="agent")
    async with database.read() as s:
        assert await holds_for(s, cid) == ["dispute", "illness"]
    assert (await svc.get(OPERATOR, cid))[0].status == "on_hold"
    released = await svc.release(OPERATOR, cid, reason="dispute")
    assert [h.reason for h in released] == ["dispute"]
    assert (await svc.get(OPERATOR, cid))[0].status == "on_hold"
    await svc.release(OPERATOR, cid, reason="illness")
    assert (await svc.get(OPERATOR, cid))[0].status == "active"
    async with database.read() as s:
        history = (await s.scalars(select(CaseHold).order_by(CaseHold.applied_at))).all()
    assert len(history) == 2 and all(h.released_at is not None for h in history)
    types = await _event_types(database)
    assert types.count("hold.applied") == 2 and types.count("hold.released") == 2


async def test_import_on_hold_maps_reason_and_reimport_active_releases_only_case_system_holds(database):
    svc = _svc(database)
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_case(status="on_hold", hold_reason="争议"))).case_id
    await svc.hold(OPERATOR, cid, reason="deceased", source="disposition")
    async with database.read() as s:
        assert await holds_for(s, cid) == ["deceased", "dispute"]
    await svc.upsert(OPERATOR, client_id="bank1", data=_case())
    async with database.read() as s:
        assert await holds_for(s, cid) == ["deceased"]
    assert (await svc.get(OPERATOR, cid))[0].status == "on_hold"


async def test_reimport_does_not_revive_a_number_we_marked_invalid(database):
    svc = _svc(database)
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_case())).case_id
    await svc.number_status(OPERATOR, cid, number="+8613800138000", status="invalid", source="disposition")
    await svc.upsert(OPERATOR, client_id="bank1", data=_case(days_overdue=50))
    async with database.read() as s:
        row = (await s.scalars(select(CaseContact).where(CaseContact.number == "+8613800138000"))).one()
    assert row.status == "invalid"


async def test_dial_context_has_everything_the_gate_needs(database):
    svc = _svc(database)
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_case())).case_id
    await svc.hold(OPERATOR, cid, reason="hardship")
    await svc.number_status(OPERATOR, cid, number="+8613900139000", status=None, source="agent",
                            third_party_objected=True)
    await svc.add_window(CASE_SYSTEM, cid, scope="number", number="+8613800138000", weekdays=[5, 6], start=time(10),
                         end=time(12), zone="Asia/Shanghai", expires_at=T0 + timedelta(days=30),
                         call_id=None)
    await svc.add_window(CASE_SYSTEM, cid, scope="case", number=None, weekdays=[0], start=time(19), end=time(21),
                         zone="Asia/Shanghai", expires_at=T0 + timedelta(days=1), call_id=None)
    async with database.read() as s:
        later = T0 + timedelta(days=2)  # the case window has expired by then, the number's has not
        own = await dial_context(s, case_id=cid, number="+8613800138000", now=later)
        third = await dial_context(s, case_id=cid, number="+8613900139000", now=later)
        stranger = await dial_context(s, case_id=cid, number="+8613700137000", now=later)
        missing = await dial_context(s, case_id="nope", number="+8613800138000")
    assert own is not None and third is not None and stranger is not None and missing is None
    assert own.debtor_key == "bank1:C-1" and own.client_id == "bank1" and own.batch_id == "B1"
    assert own.hold_reasons == ("hardship",) and own.case_status == "on_hold"
    assert (own.number_kind, own.number_status, own.number_known) == ("mobile", "valid", True)
    assert own.case_zone == "Asia/Shanghai" and own.address_zone == "Asia/Urumqi"
    assert [w.weekdays for w in own.agreed_windows] == [(5, 6)]  # the expired case window is left out
    assert third.relation == "spouse" and third.third_party_objected and third.agreed_windows == ()
    assert not stranger.number_known and stranger.number_kind is None


async def test_directory_adapter_speaks_the_gates_language(database):
    svc = _svc(database)
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_case())).case_id
    await svc.hold(OPERATOR, cid, reason="dispute")
    await svc.add_window(CASE_SYSTEM, cid, scope="case", number=None, weekdays=[0, 6], start=time(21), end=time(1),
                         zone="Asia/Shanghai", expires_at=None,
                         call_id=None)
    directory = CaseDirectoryAdapter()
    async with database.read() as s:
        own = await directory.dial_info(s, case_id=cid, number="+8613800138000")
        other = await directory.dial_info(s, case_id=cid, number="+8613700137000")
        assert await directory.active_holds(s, cid) == ["dispute"]
    assert own.number_kind == "own" and own.holds == ("dispute",) and not own.own_numbers_all_invalid
    assert own.agreed_windows[0].days == ("mon", "sun") and len(own.agreed_windows[0].intervals) == 2
    assert (other.number_kind, other.number_status) == ("third_party", "invalid")
