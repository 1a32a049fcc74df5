"""Users, their API tokens (stored as SHA-256 hashes, never in clear), EventSource tickets and failed sign-ins."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow

# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Role(StrEnum):
    """What a user may do."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    QA = "qa"
    MANAGER = "manager"
    ADMIN = "admin"
    INTEGRATION = "integration"


class User(Base):
    """A person or system with a role, the clients (banks) it serves and a team; agents have a SIP phone."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    team: Mapped[str | None] = mapped_column(String(64), index=True)
    # the clients this user serves; empty only for a global admin (and users from before clients existed)
    clients: Mapped[list[str]] = mapped_column(JSON, default=list)
    sip_user: Mapped[str | None] = mapped_column(String(64), unique=True)
    pbx: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]
    # argon2id (auth/passwords.py); NULL: the user cannot sign in with a password
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored (tokens are 256-bit random, so no slow KDF is needed)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]  # always set (NULL is refused as expired); see migration 1d3a0d170008
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    # "token" (a bearer token) or "session" (a person's sign-in, presented only as the cg_session cookie)
    kind: Mapped[str] = mapped_column(String(16), default="token", server_default="token")


class EventTicket(Base):
    """A short-lived, single-use ticket that opens one event stream (EventSource cannot send headers)."""

    __tablename__ = "auth_tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ticket_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[str] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class AuthFailure(Base):
    """One failed authentication (unknown, expired or revoked token, bad ticket), by client address."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    address: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(64))
    token_id: Mapped[str | None] = mapped_column(String(36))
