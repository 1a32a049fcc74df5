"""The normalised call: one row per click-to-dial call, keyed by our call id (= Asterisk Linkedid); the
numbers each client's calls present to the customer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow


class Call(Base):
    """A click-to-dial call: who, whom, the facts learnt from the PBX, and the state derived from them."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_agent_created", "agent_id", "created_at"),
        # The compliance gate's ledger reads (compliance.ledger_sql) are answered from these two indexes
        # alone: every column they filter on or return is in the index, so no row of calls is visited.
        Index("ix_calls_number_ledger", "number", "created_at", "customer_ringing_at", "ended_at", "answered_at",
              "number_kind", "case_id"),
        Index("ix_calls_case_created", "case_id", "created_at"),
        Index("ix_calls_state", "state"),
        Index("ix_calls_created", "created_at"),
        Index("ix_calls_customer_uniqueid", "customer_uniqueid"),  # an inbound caller's channel: logged once
        Index("ix_calls_debtor_ledger", "debtor_key", "created_at", "customer_ringing_at", "ended_at",
              "answered_at", "number_kind", "talk_seconds", "outcome"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(20))
    number_kind: Mapped[str | None] = mapped_column(String(16))
    case_id: Mapped[str | None] = mapped_column(String(36))
    client_id: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    debtor_key: Mapped[str | None] = mapped_column(String(100))
    decision_id: Mapped[str | None] = mapped_column(String(36))
    pbx: Mapped[str] = mapped_column(String(32))
    sip_user: Mapped[str] = mapped_column(String(64))
    agent_channel: Mapped[str | None] = mapped_column(String(128))
    customer_channel: Mapped[str | None] = mapped_column(String(128))
    customer_uniqueid: Mapped[str | None] = mapped_column(String(64))
    # the caller number the customer leg presented (OUTBOUND_CLI); None: the PBX default
    presented_number: Mapped[str | None] = mapped_column(String(16))
    # outbound: the service dialled the customer; inbound: the customer called a presented number (issue #14)
    direction: Mapped[str] = mapped_column(String(8), default="outbound", server_default="outbound")

    state: Mapped[str] = mapped_column(String(20), default="requested")
    end_reason: Mapped[str | None] = mapped_column(String(32))
    hangup_cause: Mapped[int | None]
    hangup_cause_text: Mapped[str | None] = mapped_column(String(64))
    dial_status: Mapped[str | None] = mapped_column(String(16))
    failure: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    originated_at: Mapped[datetime | None]
    agent_ringing_at: Mapped[datetime | None]
    agent_answered_at: Mapped[datetime | None]
    customer_ringing_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    ring_seconds: Mapped[float | None]
    talk_seconds: Mapped[float | None]
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PresentedNumber(Base):
    """One of a client's presented numbers (E.164); ``position`` 0 is the primary, which calls present."""

    __tablename__ = "presented_numbers"
    __table_args__ = (UniqueConstraint("client_id", "number"),)

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    number: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


class CallTransfer(Base):
    """One transfer of a call's customer to another person (agent or supervisor), and how it went."""

    __tablename__ = "call_transfers"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int]  # 1, 2... in the order requested; also the recording segment's number
    mode: Mapped[str] = mapped_column(String(12))  # blind | attended
    state: Mapped[str] = mapped_column(String(12))  # dialer.transfer.TransferState
    from_agent: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(64))
    target_role: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(64))
    target_leg_id: Mapped[str] = mapped_column(String(36))
    back_leg_id: Mapped[str] = mapped_column(String(36))  # the leg back to from_agent if the target does not answer
    requested_at: Mapped[datetime]
    consulting_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    failure: Mapped[str | None] = mapped_column(String(64))
    dial_status: Mapped[str | None] = mapped_column(String(16))
    decision_id: Mapped[str | None] = mapped_column(String(36))  # a transfer to a number: the gate's decision


class CallLeg(Base):
    """Who talked to the customer of a call, from when to when (the first agent is leg 1)."""

    __tablename__ = "call_legs"
    __table_args__ = (
        UniqueConstraint("call_id", "seq"), Index("ix_call_legs_user_answered", "user_id", "answered_at"),
        # an outside party's leg is a dial: the gate's ledger (compliance.ledger_sql) counts it from these two
        # indexes alone, as it counts calls from ix_calls_number_ledger and ix_calls_debtor_ledger
        Index("ix_call_legs_number_ledger", "number", "created_at", "ringing_at", "ended_at", "answered_at",
              "number_kind", "case_id"),
        Index("ix_call_legs_debtor_ledger", "debtor_key", "created_at", "ringing_at", "ended_at", "answered_at",
              "number_kind", "talk_seconds"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int]
    role: Mapped[str] = mapped_column(String(12))  # agent (the call's own) | target | back | outside
    user_id: Mapped[str | None] = mapped_column(String(64))  # None: an outside party (``number``)
    number: Mapped[str | None] = mapped_column(String(20))  # an outside party's number (E.164)
    # an outside party's leg, for the gate's ledger: when it was dialled, for which case, debtor and kind of number
    created_at: Mapped[datetime | None]
    case_id: Mapped[str | None] = mapped_column(String(36))
    debtor_key: Mapped[str | None] = mapped_column(String(100))
    number_kind: Mapped[str | None] = mapped_column(String(16))
    sip_user: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    transfer_id: Mapped[str | None] = mapped_column(String(36))
    channel: Mapped[str | None] = mapped_column(String(128))
    ringing_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    cause: Mapped[int | None]
    talk_seconds: Mapped[float | None]
