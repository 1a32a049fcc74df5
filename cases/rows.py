"""One case as the API and the importer accept it (pydantic v2), with phone/amount/zone validation.

Decisions:

* Numbers are normalised to E.164 with ``phonenumbers``; a number without ``+`` is read in the
  ``default_region`` passed as validation context (``CaseIn.model_validate(data,
  context={"default_region": "CN"})``), ``CN`` when none is given. Invalid numbers fail on their field.
* ``received_at`` must be timezone-aware: a naive time is ambiguous (bank clock? server clock?) and a
  wrong guess shifts evidence by hours, so the API refuses it. The file importer localises naive file
  times in an explicit ``file_timezone`` before building the model. Stored converted to UTC.
* ``currency`` is upper-cased, then must be 3 letters (ISO 4217 shape; the code list is not checked).
* ``amount`` is a Decimal >= 0 with at most 4 decimal places (covers 0-3 minor-unit currencies).
* The client (bank) is not part of the body: it comes from the URL path or the importer's argument.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

DEFAULT_REGION = "CN"
MAX_CONTACTS = 10

ContactKind = Literal["mobile", "home", "work", "third_party"]
ContactStatus = Literal["valid", "invalid", "do_not_call"]
CaseStatus = Literal["active", "on_hold", "closed", "paid", "returned", "recalled"]

ShortText = Annotated[str, Field(min_length=1, max_length=64)]
ExternalId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s/\\?#%]+$")]


def normalise_number(raw: str, default_region: str = DEFAULT_REGION) -> str:
    """Return the E.164 form of a phone number or raise ValueError."""
    text = raw.strip()
    if not text:
        raise ValueError("empty phone number")
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class ContactIn(_Strict):
    """One contact number of a case."""

    number: str = Field(max_length=32)
    kind: ContactKind
    relation: str | None = Field(default=None, min_length=1, max_length=32, validate_default=True)
    status: ContactStatus = "valid"

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str, info: ValidationInfo) -> str:
        region = (info.context or {}).get("default_region", DEFAULT_REGION)
        return normalise_number(value, region)

    @field_validator("relation")
    @classmethod
    def _relation(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind == "third_party" and value is None:
            raise ValueError("relation is required for a third_party contact")
        if kind is not None and kind != "third_party" and value is not None:
            raise ValueError("relation is only for third_party contacts")
        return value


class CaseIn(_Strict):
    """A case as accepted by ``PUT /v1/clients/{client}/cases/{external_id}`` and the bulk import."""

    external_id: ExternalId
    batch: ShortText | None = None
    debtor_name: str = Field(min_length=1, max_length=128)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=MAX_CONTACTS)
    amount: Decimal = Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    days_overdue: int = Field(default=0, ge=0, le=36500)
    address: str | None = Field(default=None, max_length=512)
    region: str | None = Field(default=None, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    status: CaseStatus = "active"
    hold_reason: str | None = Field(default=None, min_length=1, max_length=256)
    agent: ShortText | None = None
    team: ShortText | None = None
    received_at: datetime | None = None

    @field_validator("currency", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("received_at must include a UTC offset")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistency(self) -> CaseIn:
        if self.status == "on_hold" and self.hold_reason is None:
            raise ValueError("hold_reason is required when status is on_hold")
        if self.status != "on_hold" and self.hold_reason is not None:
            raise ValueError("hold_reason is only for status on_hold")
        numbers = [c.number for c in self.contacts]
        if len(set(numbers)) != len(numbers):
            raise ValueError("the same number appears twice in contacts")
        return self

    @field_serializer("amount")
    def _amount_text(self, value: Decimal) -> str:
        # Canonical: 100, 100.0 and 100.00 are the same amount (and the same fingerprint).
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text

    def fingerprint(self) -> str:
        """SHA-256 hex of the canonical JSON of this case: equal fingerprints mean "no change"."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
