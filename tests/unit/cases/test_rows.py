"""CaseIn validation and fingerprint."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from cases.rows import CaseIn, ContactIn, normalise_number


def _case(**over):
    data = {"external_id": "A-1", "debtor_name": "张三", "amount": "1200.50", "currency": "CNY",
            "contacts": [{"number": "138 0013 8000", "kind": "mobile"}],
            "received_at": "2026-03-01T09:00:00+08:00"}
    data.update(over)
    return data


def _fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.errors()}


def test_valid_case_is_normalised():
    case = CaseIn.model_validate(_case(currency="cny"))
    assert case.contacts[0].number == "+8613800138000"
    assert case.currency == "CNY"
    assert case.amount == Decimal("1200.50")
    assert case.received_at == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert case.status == "active"


def test_default_region_comes_from_context():
    data = _case(contacts=[{"number": "(201) 555-0123", "kind": "home"}])
    case = CaseIn.model_validate(data, context={"default_region": "US"})
    assert case.contacts[0].number == "+12015550123"
    # Read as a Chinese number without the context: never the US one.
    try:
        as_cn = CaseIn.model_validate(data).contacts[0].number
    except ValidationError as exc:
        assert _fields(exc) == {"contacts.0.number"}
    else:
        assert as_cn.startswith("+86")
    with pytest.raises(ValidationError) as info:
        CaseIn.model_validate(_case(contacts=[{"number": "201", "kind": "home"}]),
                              context={"default_region": "US"})
    assert _fields(info.value) == {"contacts.0.number"}


@pytest.mark.parametrize(("over", "field"), [
    ({"contacts": [{"number": "12345", "kind": "mobile"}]}, "contacts.0.number"),
    ({"amount": "-1"}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "1.23456"}, "amount"),
    ({"currency": "RMB1"}, "currency"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"received_at": "2026-03-01T09:00:00"}, "received_at"),
    ({"external_id": ""}, "external_id"),
    ({"external_id": "a/b"}, "external_id"),
    ({"debtor_name": "x" * 129}, "debtor_name"),
    ({"days_overdue": -3}, "days_overdue"),
    ({"status": "on_hold"}, ""),
    ({"status": "active", "hold_reason": "x"}, ""),
    ({"contacts": [{"number": "13800138000", "kind": "mobile"}] * 2}, ""),
    ({"contacts": [{"number": f"1380013800{i}", "kind": "mobile"} for i in range(10)]
      + [{"number": "13900139000", "kind": "work"}]}, "contacts"),
    ({"unknown": 1}, "unknown"),
])
def test_invalid_cases_name_the_field(over, field):
    with pytest.raises(ValidationError) as info:
        CaseIn.model_validate(_case(**over))
    assert field in _fields(info.value)


def test_third_party_relation_rules():
    ContactIn(number="+8613800138000", kind="third_party", relation="spouse")
    with pytest.raises(ValidationError) as info:
        ContactIn(number="+8613800138000", kind="third_party")
    assert _fields(info.value) == {"relation"}
    with pytest.raises(ValidationError) as info:
        ContactIn(number="+8613800138000", kind="mobile", relation="self")
    assert _fields(info.value) == {"relation"}


def test_on_hold_with_reason_and_zone():
    case = CaseIn.model_validate(_case(status="on_hold", hold_reason="dispute", timezone="Asia/Urumqi"))
    assert case.hold_reason == "dispute" and case.timezone == "Asia/Urumqi"


def test_fingerprint_is_stable_across_equivalent_inputs_and_changes_with_content():
    a = CaseIn.model_validate(_case())
    b = CaseIn.model_validate(_case(amount="1200.5000", currency=" cny ",
                                    contacts=[{"number": "+86 13800138000", "kind": "mobile"}],
                                    received_at="2026-03-01T01:00:00Z"))
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64
    assert a.fingerprint() != CaseIn.model_validate(_case(amount="1200.51")).fingerprint()
    assert a.fingerprint() != CaseIn.model_validate(_case(debtor_name="李四")).fingerprint()
    zero = CaseIn.model_validate(_case(amount="0.00"))
    assert zero.model_dump(mode="json")["amount"] == "0"
    assert CaseIn.model_validate(_case(amount="100")).model_dump(mode="json")["amount"] == "100"


def test_normalise_number_rejects_garbage():
    with pytest.raises(ValueError):
        normalise_number("hello")
    with pytest.raises(ValueError):
        normalise_number("   ")
    assert normalise_number("+1 201-555-0123", "CN") == "+12015550123"
