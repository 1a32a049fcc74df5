"""Payments the bank's case system reports, and promises to pay checked against them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

Money = Numeric(18, 4, asdecimal=True)
PENDING, KEPT, PARTIAL, BROKEN = "pending", "kept", "partial", "broken"
PROMISE_STATUSES = (PENDING, KEPT, PARTIAL, BROKEN)
MISSED = (PARTIAL, BROKEN)  # the deadline passed short of the promise: a late-reported payment may still keep it


class Payment(Base):
    """One payment of a case, as the bank reported it; ``external_id`` (the bank's payment id) is unique per
    client, so a payment sent twice is stored once."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("client_id", "external_id", name="uq_payments_client_external"),
                      Index("ix_payments_case_paid", "case_id", "paid_at"),
                      Index("ix_payments_client_paid", "client_id", "paid_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(36))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[datetime]
    # the case's agent, team and batch when the payment arrived (reports read them without a join)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime]
    received_by: Mapped[str] = mapped_column(String(64))


class Promise(Base):
    """A promise to pay taken on a call (one per ``promise_to_pay`` disposition): ``pending`` until payments
    of its case made from ``promised_at`` to ``deadline`` cover ``amount`` less ``tolerance`` (``kept``), or the
    deadline passes without that: ``partial`` when something was paid, ``broken`` when nothing was. A payment
    reported late (paid before the deadline) that covers it turns a partial or broken promise kept."""

    __tablename__ = "promises"
    __table_args__ = (Index("ix_promises_status_deadline", "status", "deadline"),
                      Index("ix_promises_case_status", "case_id", "status"),
                      Index("ix_promises_client_promised", "client_id", "promised_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    disposition_id: Mapped[str] = mapped_column(String(36), unique=True)
    call_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    promised_at: Mapped[datetime]
    promise_date: Mapped[date] = mapped_column(Date)
    grace_days: Mapped[int]
    deadline: Mapped[datetime]  # the end of promise_date + grace_days in the case's zone, in UTC
    status: Mapped[str] = mapped_column(String(8))
    paid: Mapped[Decimal] = mapped_column(Money)  # payments counted towards it so far
    # how far short of ``amount`` the payments may stay and still keep it (the client's tolerance when it was made)
    tolerance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    settled_at: Mapped[datetime | None]  # kept, partial or broken at (kept again at, for a late payment)
