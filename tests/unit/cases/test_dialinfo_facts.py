"""dial_context in one round trip: the facts that used to take their own queries still come out the same."""

from datetime import time

from sqlalchemy import update

from auth.models import Role
from auth.service import OPERATOR, Principal
from cases.directory import CaseDirectoryAdapter
from cases.models import AgreedWindow, CaseContact
from cases.service import dial_context
from compliance.models import ClientPolicy, DoNotCall
from compliance.policy_sql import read_policy_facts
from tests.unit.cases.test_service import T0, _case, _svc

MOBILE, HOME, THIRD = "+8613800138000", "+861062345678", "+8613900139000"

CASE_SYSTEM = Principal("casesys", Role.INTEGRATION, clients=frozenset({"bank1"}))


def _two_own(**over):
    return _case(contacts=[{"number": MOBILE, "kind": "mobile"}, {"number": HOME, "kind": "home"},
                           {"number": THIRD, "kind": "third_party", "relation": "spouse"}], **over)


async def _set(database, cid, number, **values):
    async with database.begin() as s:
        await s.execute(update(CaseContact).where(CaseContact.case_id == cid, CaseContact.number == number)
                        .values(**values))


async def test_own_numbers_all_invalid_follows_the_valid_listed_own_numbers(database):
    svc = _svc(database)
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_two_own())).case_id
    directory = CaseDirectoryAdapter()

    async def all_invalid() -> bool:
        async with database.read() as s:
            info = await directory.dial_info(s, case_id=cid, number=THIRD)
        assert info is not None
        return info.own_numbers_all_invalid

    assert await all_invalid() is False
    await _set(database, cid, MOBILE, status="invalid")
    assert await all_invalid() is False  # the home number is still valid
    await _set(database, cid, HOME, removed_at=T0)  # valid, but no longer listed
    assert await all_invalid() is True
    await _set(database, cid, THIRD, status="valid")  # a valid third-party number is not an own number
    assert await all_invalid() is True


async def test_a_case_without_own_numbers_counts_as_all_invalid(database):
    svc = _svc(database)
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_case(contacts=[
        {"number": THIRD, "kind": "third_party", "relation": "spouse"}]))).case_id
    async with database.read() as s:
        info = await CaseDirectoryAdapter().dial_info(s, case_id=cid, number=THIRD)
    assert info is not None and info.own_numbers_all_invalid and info.number_kind == "third_party"


async def test_removed_contacts_released_holds_and_revoked_windows_are_left_out(database):
    svc = _svc(database)
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_two_own())).case_id
    await svc.hold(OPERATOR, cid, reason="hardship")
    await svc.add_window(CASE_SYSTEM, cid, scope="case", number=None, weekdays=[0], start=time(9), end=time(10),
                         zone="Asia/Shanghai", expires_at=None,
                         call_id=None)
    await _set(database, cid, HOME, removed_at=T0)
    async with database.read() as s:
        home = await dial_context(s, case_id=cid, number=HOME, now=T0)
        mobile = await dial_context(s, case_id=cid, number=MOBILE, now=T0)
    assert home is not None and mobile is not None
    assert not home.number_known and home.number_kind is None and home.number_status is None
    assert mobile.number_known and mobile.hold_reasons == ("hardship",) and len(mobile.agreed_windows) == 1

    await svc.release(OPERATOR, cid, reason="hardship")
    async with database.begin() as s:
        await s.execute(update(AgreedWindow).where(AgreedWindow.case_id == cid).values(revoked_at=T0))
    async with database.read() as s:
        after = await dial_context(s, case_id=cid, number=MOBILE, now=T0)
    assert after is not None and after.hold_reasons == () and after.agreed_windows == ()
    assert after.case_status == "active"


async def test_the_policy_facts_read_with_the_case_equal_those_read_alone(database):
    svc = _svc(database)
    with_row = (await svc.upsert(OPERATOR, client_id="bank1", data=_two_own())).case_id
    without_row = (await svc.upsert(OPERATOR, client_id="bank2", data=_two_own(ext="C-2"))).case_id
    async with database.begin() as s:
        s.add(ClientPolicy(client_id="bank1", jurisdiction="CN", policy={"max_attempts_per_debtor_rolling_7d": 3},
                           updated_by="t"))
        for value, kind in ((MOBILE, "exact"), ("+86139", "prefix"), ("+8613900", "prefix"), ("+8610", "prefix"),
                            ("+86138001380001", "prefix"), (HOME[:-1], "exact")):
            s.add(DoNotCall(value=value, kind=kind, reason="test", added_by="t"))
    directory = CaseDirectoryAdapter()
    async with database.read() as s:
        for cid, client in ((with_row, "bank1"), (without_row, "bank2")):
            for number in (MOBILE, HOME, THIRD, "+8613700137000"):
                info = await directory.dial_info(s, case_id=cid, number=number)
                assert info is not None and info.policy_facts is not None
                assert info.policy_facts == await read_policy_facts(s, client, number)
        facts = (await directory.dial_info(s, case_id=with_row, number=THIRD)).policy_facts
        assert facts.jurisdiction == "CN" and facts.rules == {"max_attempts_per_debtor_rolling_7d": 3}
        assert not facts.listed and facts.prefix == "+86139"
        mobile = (await directory.dial_info(s, case_id=without_row, number=MOBILE)).policy_facts
        assert mobile.jurisdiction is None and mobile.listed and mobile.prefix is None
        # too long for the one-statement form: the gate reads the facts itself
        long = await directory.dial_info(s, case_id=with_row, number="+86" + "1" * 20)
        assert long is not None and long.policy_facts is None
