"""Tables of cases: the case, its numbers, its holds (one row per hold, history kept), agreed windows,
dispositions and the immutable contact log."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ColumnElement, Date, ForeignKey, Index, Numeric, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, QueryableAttribute, mapped_column

from db.base import Base, new_id, utcnow

HOLD_REASONS = (
    "dispute", "denies_card", "suspected_fraud", "deceased", "cease_request", "attorney", "bankruptcy",
    "hardship", "illness", "pregnancy", "other",
)
HOLD_SOURCES = ("case_system", "disposition", "agent")
#: legal hard stops: set by the case system, they are released only by the case system (its integration or
#: the case import) or by two different people (``approvals/``: a supervisor asks, a manager approves)
HARD_STOP_REASONS = ("deceased", "suspected_fraud", "attorney", "bankruptcy", "dispute", "cease_request")
#: holds that also put every recording of the case under legal hold, in the same transaction
LEGAL_HOLD_REASONS = ("dispute",)
CONTACT_KINDS = ("mobile", "home", "work", "third_party")
OWN_KINDS = ("mobile", "home", "work")
NUMBER_STATUSES = ("valid", "invalid", "do_not_call")
CASE_STATUSES = ("active", "on_hold", "closed", "paid", "returned", "recalled")
#: statuses that end collection: the gate blocks every dial of such a case (compliance rule ``case-<status>``)
ENDED_STATUSES = ("closed", "paid", "returned", "recalled")

Money = Numeric(18, 4, asdecimal=True)


class Case(Base):
    """One debtor's case handed over by a client (the bank); ``external_id`` is unique per client."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("client_id", "external_id", name="uq_cases_client_external"),
        Index("ix_cases_agent", "assigned_agent"),
        Index("ix_cases_client_batch", "client_id", "batch_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(64))
    debtor_name: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    days_overdue: Mapped[int] = mapped_column(default=0)
    address: Mapped[str | None] = mapped_column(String(512))
    region: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    assigned_agent: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime | None]
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def debtor_key(self) -> str:
        """The key the compliance gate counts per debtor with."""
        return debtor_key(self.client_id, self.external_id)


def debtor_key(client_id: str, external_id: str) -> str:
    """``client:external_id``: one debtor of one client."""
    return f"{client_id}:{external_id}"


_StrColumn = ColumnElement[str] | QueryableAttribute[str]


def debtor_key_sql(client_id: _StrColumn, external_id: _StrColumn) -> ColumnElement[str]:
    """``debtor_key`` in SQL, over columns."""
    return client_id + ":" + external_id



class CaseContact(Base):
    """A number of a case with its kind, status and (third parties) relation and objection."""

    __tablename__ = "case_contacts"
    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_case_contacts_case_number"),
                      Index("ix_case_contacts_number", "number"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16))
    relation: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="valid")
    # who set the status last: an import never turns a number marked invalid by us back to valid
    status_source: Mapped[str] = mapped_column(String(16), default="case_system")
    third_party_objected: Mapped[bool] = mapped_column(default=False)
    zone: Mapped[str | None] = mapped_column(String(64))  # a zone stated for this number, if any
    removed_at: Mapped[datetime | None]  # no longer listed by the case system (kept for the log)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseHold(Base):
    """One hold on a case: applied, and later perhaps released (never deleted)."""

    __tablename__ = "case_holds"
    __table_args__ = (Index("ix_case_holds_case_active", "case_id", "released_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(16))
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_by: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(64))


class AgreedWindow(Base):
    """A calling window agreed with the debtor (or third party), for one number or the whole case."""

    __tablename__ = "agreed_windows"
    __table_args__ = (Index("ix_agreed_windows_case", "case_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(8))  # number | case
    number: Mapped[str | None] = mapped_column(String(20))  # set when scope == number
    weekdays: Mapped[list[int]] = mapped_column(JSON)  # 0 = Monday
    start_local: Mapped[time] = mapped_column(Time)
    end_local: Mapped[time] = mapped_column(Time)
    zone: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    recorded_by: Mapped[str] = mapped_column(String(64))
    agreed_on_call_id: Mapped[str | None] = mapped_column(String(36))
    # case_system (sent by the client's case system) | call (agreed on ``agreed_on_call_id``); None: a window
    # recorded before evidence was required, which the gate does not honour
    evidence: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Disposition(Base):
    """The outcome an agent recorded for one call (one per call, never changed)."""

    __tablename__ = "dispositions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[str | None] = mapped_column(String(36), index=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    promise_amount: Mapped[Decimal | None] = mapped_column(Money)
    promise_currency: Mapped[str | None] = mapped_column(String(3))
    promise_date: Mapped[date | None] = mapped_column(Date)
    callback_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactLog(Base):
    """One contact attempt of a case (one per call): the evidence of collection. Fields are write-once."""

    __tablename__ = "contact_log"
    __table_args__ = (Index("ix_contact_log_case_at", "case_id", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16), default="phone")
    agent_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(20))
    number_kind: Mapped[str | None] = mapped_column(String(16))
    connected: Mapped[bool] = mapped_column(default=False)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    talk_seconds: Mapped[float | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    recording_id: Mapped[str | None] = mapped_column(String(64))
    recording_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
