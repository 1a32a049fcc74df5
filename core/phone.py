"""Phone numbers: normalised to E.164 once, at the edge; an invalid number never goes further."""

from __future__ import annotations

import phonenumbers

from core.errors import ValidationFailed


class InvalidNumber(ValidationFailed):
    """The number cannot be a callable phone number."""

    code = "invalid-number"


def normalize(number: str, region: str) -> str:
    """``number`` as E.164 (``+8613800000001``); raises InvalidNumber (422) when it is not valid."""
    if not isinstance(number, str) or not number.strip() or len(number) > 40:
        raise InvalidNumber("the number is empty or too long", details={"field": "number"})
    if any(c in number for c in "\r\n\x00"):
        raise InvalidNumber("the number contains control characters", details={"field": "number"})
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"not a phone number: {exc}", details={"field": "number"}) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(
            "not a valid phone number for its country", details={"field": "number", "region": region}
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
