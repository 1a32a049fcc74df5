"""What the compliance gate needs to know about a case and the number being dialled (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Row, Select, and_, bindparam, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callbacks.models import handed_clause
from cases.holds import holds_for
from cases.models import OWN_KINDS, AgreedWindow, Case, CaseContact, CaseHold, debtor_key
from cases.windows import list_windows
from clients.models import pooled_clause

# Region -> IANA zone for the address (a region may also be given directly as an IANA name).
_CN_WEST = {"新疆": "Asia/Urumqi", "xinjiang": "Asia/Urumqi"}
_US_STATES = {
    "NY": "America/New_York", "NJ": "America/New_York", "MA": "America/New_York", "FL": "America/New_York",
    "GA": "America/New_York", "PA": "America/New_York", "OH": "America/New_York", "VA": "America/New_York",
    "NC": "America/New_York", "MI": "America/Detroit", "IL": "America/Chicago", "TX": "America/Chicago",
    "MN": "America/Chicago", "WI": "America/Chicago", "MO": "America/Chicago", "LA": "America/Chicago",
    "CO": "America/Denver", "UT": "America/Denver", "NM": "America/Denver", "AZ": "America/Phoenix",
    "ID": "America/Boise", "CA": "America/Los_Angeles", "WA": "America/Los_Angeles",
    "OR": "America/Los_Angeles", "NV": "America/Los_Angeles", "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
}
_CN_PROVINCES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
    "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
    "内蒙古", "广西", "西藏", "宁夏",
)


def zone_for_region(region: str | None) -> str | None:
    """The IANA zone of an address region (IANA name, US state code, Chinese province), or None."""
    if not region:
        return None
    text = region.strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    else:
        if "/" in text:
            return text
    for key, zone in _CN_WEST.items():
        if text.lower().startswith(key):
            return zone
    if text.upper() in _US_STATES:
        return _US_STATES[text.upper()]
    if any(text.startswith(p) for p in _CN_PROVINCES):
        return "Asia/Shanghai"
    return None


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """An agreed window that applies to the dial."""

    id: str
    scope: str
    number: str | None
    weekdays: tuple[int, ...]
    start: time
    end: time
    zone: str
    expires_at: datetime | None
    agreed_on_call_id: str | None
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class CaseDialInfo:
    """The case facts a dial decision needs; ``number_known`` is False when the number is not on the case."""

    case_id: str
    client_id: str
    batch_id: str | None
    external_id: str
    debtor_key: str
    case_status: str
    hold_reasons: tuple[str, ...]
    number: str
    number_known: bool
    number_kind: str | None
    number_status: str | None
    relation: str | None
    third_party_objected: bool
    number_zone: str | None
    case_zone: str | None
    address_zone: str | None
    agreed_windows: tuple[WindowInfo, ...]
    # no own number (mobile, home, work) still listed on the case is 'valid' (also when there is none)
    own_numbers_all_invalid: bool = False
    assigned_agent: str | None = None
    team: str | None = None
    pooled: bool = False  # the client pools its teams' unassigned cases (clients.models)
    handed: bool = False  # a due callback of the case was handed to its team (callbacks.models)


def dial_row_query() -> Select[*tuple[Any, ...]]:
    """The case, the dialled number's contact, and whether holds, windows and a valid own number exist
    (parameters ``case_id`` and ``number``)."""
    contact = aliased(CaseContact)
    has_holds = exists().where(CaseHold.case_id == Case.id, CaseHold.released_at.is_(None))
    has_windows = exists().where(AgreedWindow.case_id == Case.id, AgreedWindow.revoked_at.is_(None))
    # the kinds as plain parameters: an IN over a Python list is 'expanding', re-rendered at every execution
    own_valid = exists().where(CaseContact.case_id == Case.id, CaseContact.kind.in_([literal(k) for k in OWN_KINDS]),
                               CaseContact.removed_at.is_(None), CaseContact.status == "valid")
    return (
        select(Case.id, Case.client_id, Case.batch_id, Case.external_id, Case.status, Case.timezone, Case.region,
               Case.assigned_agent, Case.team,
               contact.id.label("contact_id"), contact.kind, contact.status.label("contact_status"),
               contact.relation, contact.third_party_objected, contact.zone, contact.removed_at,
               has_holds.label("has_holds"), has_windows.label("has_windows"), own_valid.label("own_valid"),
               pooled_clause(Case.client_id).label("pooled"), handed_clause(Case.id).label("handed"))
        .outerjoin(contact, and_(contact.case_id == Case.id, contact.number == bindparam("number")))
        .where(Case.id == bindparam("case_id"))
    )


# built once: constructing it (an alias, three EXISTS) per dial cost more than running it
_DIAL_ROW = dial_row_query()


async def dial_context(session: AsyncSession, *, case_id: str, number: str,
                       now: datetime | None = None) -> CaseDialInfo | None:
    """Everything about ``case_id`` and ``number`` (E.164) the gate needs; None when there is no such case.

    Agreed windows returned are those of the case and of this number, not revoked (and not expired at
    ``now`` when given). One round trip (the case, the number's contact, and whether holds, windows and
    a valid own number exist); holds and windows are read only when the case has some.
    """
    found = await dial_context_row(session, case_id=case_id, number=number, statement=_DIAL_ROW, params={}, now=now)
    return None if found is None else found[0]


async def dial_context_row(session: AsyncSession, *, case_id: str, number: str, statement: Select[Any],
                           params: dict[str, Any], now: datetime | None = None) -> tuple[CaseDialInfo, Row[Any]] | None:
    """``dial_context`` run with ``statement``: ``dial_row_query()`` with more columns added by the caller,
    bound by ``params``. The facts and the row (to read the added columns from); None when there is no case."""
    row = (await session.execute(statement, {**params, "case_id": case_id, "number": number})).first()
    if row is None:
        return None
    known = row.contact_id is not None and row.removed_at is None
    windows = [w for w in await list_windows(session, case_id, now=now)
               if w.scope == "case" or w.number == number] if row.has_windows else []
    holds = await holds_for(session, case_id) if row.has_holds else []
    info = CaseDialInfo(
        case_id=row.id, client_id=row.client_id, batch_id=row.batch_id, external_id=row.external_id,
        debtor_key=debtor_key(row.client_id, row.external_id), case_status=row.status,
        hold_reasons=tuple(holds), number=number, number_known=known,
        number_kind=row.kind if known else None, number_status=row.contact_status if known else None,
        relation=row.relation if known else None,
        third_party_objected=bool(row.third_party_objected) if known else False,
        number_zone=row.zone if known else None, case_zone=row.timezone,
        address_zone=zone_for_region(row.region),
        agreed_windows=tuple(WindowInfo(w.id, w.scope, w.number, tuple(w.weekdays), w.start_local, w.end_local,
                                        w.zone, w.expires_at, w.agreed_on_call_id, w.evidence)
                            for w in windows),
        own_numbers_all_invalid=not row.own_valid, assigned_agent=row.assigned_agent, team=row.team,
        pooled=bool(row.pooled), handed=bool(row.handed),
    )
    return info, row
