"""Presented numbers: what is a presented number, which one a call presents, what reaches the PBX."""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import PbxSettings
from dialer.errors import InvalidPresentedNumber, PresentedNumberNotOwned
from dialer.pbx import PbxGateway
from dialer.presented import choose, presented_number, presented_numbers


@pytest.mark.parametrize("number", ["+862161234567", "+8613800000001", "+12025550143", "+442079460958"])
def test_e164_numbers_valid_for_their_country_are_presented_numbers(number: str) -> None:
    assert presented_number(number) == number


@pytest.mark.parametrize("number", [
    "862161234567",  # no +
    "+86 21 6123 4567",  # not in E.164 form: stored as given, so never reformatted
    "+0861234567",  # no country code starts with 0
    "+8621612345678901",  # 16 digits
    "+123456",  # too short
    "+862100000000\r\nAction: Hangup",
    "+86216123456,OTHER=1",
    "+999123456789",  # no such country
    "+8621",
    "",
])
def test_anything_else_is_refused_with_one_code(number: str) -> None:
    with pytest.raises(InvalidPresentedNumber) as exc:
        presented_number(number)
    assert exc.value.status == 422 and exc.value.code == "invalid-presented-number"


def test_a_list_keeps_its_order_and_refuses_duplicates_and_more_than_twenty() -> None:
    assert presented_numbers(["+862161234567", "+8613800000001"]) == ["+862161234567", "+8613800000001"]
    assert presented_numbers([]) == []
    with pytest.raises(InvalidPresentedNumber, match="twice"):
        presented_numbers(["+862161234567", "+862161234567"])
    with pytest.raises(InvalidPresentedNumber, match="at most 20"):
        presented_numbers([f"+8621612345{i:02d}" for i in range(21)])


def test_a_call_presents_the_primary_or_a_picked_number_of_the_client() -> None:
    numbers = ["+862161234567", "+8613800000001"]
    assert choose(numbers) == "+862161234567"
    assert choose(numbers, "+8613800000001") == "+8613800000001"
    assert choose([]) is None  # the PBX default
    with pytest.raises(PresentedNumberNotOwned):
        choose(numbers, "+12025550143")
    with pytest.raises(PresentedNumberNotOwned):
        choose([], "+12025550143")


class _Ami:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[str, str]]]] = []

    async def send_action(self, name: str, fields: Any = (), **_: Any) -> None:
        self.sent.append((name, list(fields)))


def _gateway() -> tuple[PbxGateway, _Ami]:
    ami = _Ami()
    settings = PbxSettings(name="local", ami_host="127.0.0.1", ami_port=5038, ami_user="u", ami_secret="s")
    return PbxGateway({"local": ami}, [settings]), ami  # type: ignore[dict-item]


async def test_the_originate_carries_the_presented_number_as_outbound_cli() -> None:
    pbx, ami = _gateway()
    await pbx.originate("local", call_id="c1", sip_user="1001", number="+8613800000001", presented="+862161234567")
    await pbx.originate("local", call_id="c2", sip_user="1001", number="+8613800000001")
    (_, with_cli), (_, without) = ami.sent
    assert [v for k, v in with_cli if k == "Variable"] == ["__CALL_ID=c1", "OUTBOUND_CLI=+862161234567"]
    assert [v for k, v in without if k == "Variable"] == ["__CALL_ID=c2"]  # the PBX default applies


@pytest.mark.parametrize("bad", ["+86 21", "+862161234567,CALLGUARD_GO=yes", "+8621\r\nAction: Hangup", "", "abc"])
async def test_nothing_but_digits_and_a_leading_plus_reaches_the_pbx(bad: str) -> None:
    pbx, ami = _gateway()
    with pytest.raises(InvalidPresentedNumber):
        await pbx.originate("local", call_id="c1", sip_user="1001", number="+8613800000001", presented=bad)
    assert ami.sent == []
