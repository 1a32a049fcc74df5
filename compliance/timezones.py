"""Which time zone(s) the callee may be in: case, address, number record and phone prefix.

Every candidate counts (the window must hold in all of them). Zones are deduplicated but every
source that named a zone is kept. ``unknown`` is True only when no candidate zone is left.
If the phone prefix gives ``Etc/Unknown`` (invalid number) the prefix contributes nothing; when
no other source named a zone either, ``unknown='block'`` leaves the zone unknown and
``unknown='country_zones'`` uses every zone of the number's country (source ``country``).
Every +86 number maps to Asia/Shanghai.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone
from pydantic import BaseModel, ConfigDict

ZoneSource = Literal["case", "address", "number_record", "phone_prefix", "country"]
UNKNOWN_ZONE = "Etc/Unknown"


class ZoneCandidate(BaseModel):
    """One candidate zone and where it came from."""

    model_config = ConfigDict(frozen=True)

    zone: str
    source: ZoneSource


class ZoneResolution(BaseModel):
    """Resolved candidate zones (one entry per zone/source pair) and the unknown flag."""

    model_config = ConfigDict(frozen=True)

    zones: tuple[ZoneCandidate, ...]
    unknown: bool
    rejected: tuple[str, ...] = ()

    def zone_names(self) -> tuple[str, ...]:
        """Distinct zone names, in first-seen order."""
        return tuple(dict.fromkeys(c.zone for c in self.zones))

    def sources_of(self, zone: str) -> tuple[str, ...]:
        """Every source that named ``zone``."""
        return tuple(c.source for c in self.zones if c.zone == zone)


@lru_cache(maxsize=1024)
def get_zone(name: str) -> ZoneInfo:
    """A cached ``ZoneInfo``; raises ``ZoneInfoNotFoundError``/``ValueError`` for bad names."""
    return ZoneInfo(name)


def is_valid_zone(name: str) -> bool:
    """True when ``name`` is a loadable IANA zone (and not ``Etc/Unknown``)."""
    if not name or name == UNKNOWN_ZONE:
        return False
    try:
        get_zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _phone_zones(number_e164: str, unknown: Literal["block", "country_zones"], *, have_other: bool) -> tuple[
        tuple[str, ...], ZoneSource | None]:
    try:
        parsed = phonenumbers.parse(number_e164, None)
    except phonenumbers.NumberParseException:
        return (), None
    if parsed.country_code == 86:
        return ("Asia/Shanghai",), "phone_prefix"
    zones = tuple(pn_timezone.time_zones_for_number(parsed))
    if zones and UNKNOWN_ZONE not in zones:
        return zones, "phone_prefix"
    if unknown == "country_zones" and not have_other:
        country_zones = pn_timezone.time_zones_for_geographical_number(parsed)
        country = tuple(z for z in country_zones if z != UNKNOWN_ZONE)
        if country:
            return country, "country"
    return (), None


@lru_cache(maxsize=4096)
def resolve_zones(number_e164: str, *, case_zone: str | None = None, address_zone: str | None = None,
                  number_zone: str | None = None,
                  unknown: Literal["block", "country_zones"] = "block") -> ZoneResolution:
    """Resolve every candidate zone of the callee (pure and cached)."""
    candidates: list[ZoneCandidate] = []
    rejected: list[str] = []
    for zone, source in ((case_zone, "case"), (address_zone, "address"), (number_zone, "number_record")):
        if zone is None or not zone.strip():
            continue
        if is_valid_zone(zone.strip()):
            candidates.append(ZoneCandidate(zone=zone.strip(), source=source))
        else:
            rejected.append(f"{source}:{zone}")
    phone, phone_source = _phone_zones(number_e164, unknown, have_other=bool(candidates))
    for zone in phone:
        if is_valid_zone(zone) and phone_source is not None:
            candidates.append(ZoneCandidate(zone=zone, source=phone_source))
    seen: set[tuple[str, str]] = set()
    unique = []
    for cand in candidates:
        if (cand.zone, cand.source) not in seen:
            seen.add((cand.zone, cand.source))
            unique.append(cand)
    return ZoneResolution(zones=tuple(unique), unknown=not unique, rejected=tuple(rejected))
