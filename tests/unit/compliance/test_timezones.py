from __future__ import annotations

from compliance.timezones import resolve_zones


def test_plus_1_208_has_two_prefix_zones_and_keeps_the_address() -> None:
    res = resolve_zones("+12085551234", address_zone="America/New_York")
    assert res.unknown is False
    assert [(c.zone, c.source) for c in res.zones] == [
        ("America/New_York", "address"),
        ("America/Boise", "phone_prefix"),
        ("America/Los_Angeles", "phone_prefix"),
    ]


def test_duplicate_zones_keep_every_source() -> None:
    res = resolve_zones("+12125551234", case_zone="America/New_York", address_zone="America/New_York")
    assert res.zone_names() == ("America/New_York",)
    assert res.sources_of("America/New_York") == ("case", "address", "phone_prefix")


def test_chinese_numbers_map_to_shanghai() -> None:
    for number in ("+8613800138000", "+861012345678", "+8699"):
        res = resolve_zones(number)
        assert res.zone_names() == ("Asia/Shanghai",)
        assert not res.unknown


def test_xinjiang_address_adds_urumqi() -> None:
    res = resolve_zones("+8613800138000", address_zone="Asia/Urumqi")
    assert res.zone_names() == ("Asia/Urumqi", "Asia/Shanghai")


def test_invalid_number_blocks_or_falls_back_to_country_zones() -> None:
    blocked = resolve_zones("+15555555555", unknown="block")
    assert blocked.unknown and blocked.zones == ()
    country = resolve_zones("+15555555555", unknown="country_zones")
    assert not country.unknown
    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu"} <= set(country.zone_names())
    assert {c.source for c in country.zones} == {"country"}


def test_unparseable_number_is_unknown_even_with_country_fallback() -> None:
    assert resolve_zones("not a number", unknown="country_zones").unknown
    assert resolve_zones("+999123", unknown="country_zones").unknown


def test_invalid_number_with_known_address_uses_the_address() -> None:
    res = resolve_zones("+15555555555", address_zone="America/Chicago")
    assert not res.unknown
    assert res.zone_names() == ("America/Chicago",)


def test_bad_iana_names_are_rejected_not_used() -> None:
    res = resolve_zones("+15555555555", case_zone="Mars/Olympus", number_zone="Etc/Unknown")
    assert res.unknown
    assert res.rejected == ("case:Mars/Olympus", "number_record:Etc/Unknown")


def test_country_fallback_is_only_used_when_nothing_else_is_known() -> None:
    res = resolve_zones("+15555555555", address_zone="America/Chicago", unknown="country_zones")
    assert [(c.zone, c.source) for c in res.zones] == [("America/Chicago", "address")]
