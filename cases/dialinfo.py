"""What the compliance gate needs to know about a case and the number being dialled (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.holds import holds_for
from cases.models import Case, CaseContact, debtor_key
from cases.windows import list_windows

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


async def dial_context(session: AsyncSession, *, case_id: str, number: str,
                       now: datetime | None = None) -> CaseDialInfo | None:
    """Everything about ``case_id`` and ``number`` (E.164) the gate needs; None when there is no such case.

    Agreed windows returned are those of the case and of this number, not revoked (and not expired at
    ``now`` when given).
    """
    case = await session.get(Case, case_id, populate_existing=True)
    if case is None:
        return None
    contact = (await session.scalars(select(CaseContact).where(CaseContact.case_id == case_id,
                                                               CaseContact.number == number))).first()
    if contact is not None and contact.removed_at is not None:
        contact = None
    windows = [w for w in await list_windows(session, case_id, now=now)
               if w.scope == "case" or w.number == number]
    return CaseDialInfo(
        case_id=case.id, client_id=case.client_id, batch_id=case.batch_id, external_id=case.external_id,
        debtor_key=debtor_key(case.client_id, case.external_id), case_status=case.status,
        hold_reasons=tuple(await holds_for(session, case_id)), number=number, number_known=contact is not None,
        number_kind=contact.kind if contact else None, number_status=contact.status if contact else None,
        relation=contact.relation if contact else None,
        third_party_objected=bool(contact.third_party_objected) if contact else False,
        number_zone=contact.zone if contact else None, case_zone=case.timezone,
        address_zone=zone_for_region(case.region),
        agreed_windows=tuple(WindowInfo(w.id, w.scope, w.number, tuple(w.weekdays), w.start_local, w.end_local,
                                        w.zone, w.expires_at, w.agreed_on_call_id) for w in windows),
    )
