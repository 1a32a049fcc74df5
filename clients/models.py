"""A client's (bank's) working settings: pooling of a team's unassigned cases, the grace of a promise to pay,
and the grace after which a due callback goes to the team. A client without a row has the defaults."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Numeric, String, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

DEFAULT_PROMISE_GRACE_DAYS = 3
DEFAULT_CALLBACK_TEAM_GRACE_MINUTES = 60
DEFAULT_PROMISE_TOLERANCE_PERCENT = Decimal(0)


class ClientSettings(Base):
    """One client's settings (absent: the defaults: no pooling, 3 days of promise grace, a promise kept only when
    paid in full (0 % tolerance), 60 minutes)."""

    __tablename__ = "client_settings"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pooling: Mapped[bool] = mapped_column(default=False)
    promise_grace_days: Mapped[int] = mapped_column(default=DEFAULT_PROMISE_GRACE_DAYS)
    callback_team_grace_minutes: Mapped[int] = mapped_column(default=DEFAULT_CALLBACK_TEAM_GRACE_MINUTES)
    # how far short of its amount (a percentage of it) a promise may be paid and still count as kept
    promise_tolerance_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2, asdecimal=True),
                                                               default=DEFAULT_PROMISE_TOLERANCE_PERCENT,
                                                               server_default="0")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64))


def pooled_clause(client: object) -> ColumnElement[bool]:
    """SQL: the client in column ``client`` pools its teams' unassigned cases (for ``Scope.case_clause``)."""
    return exists().where(ClientSettings.client_id == client, ClientSettings.pooling.is_(True))


async def settings_of(session: AsyncSession, client_id: str) -> ClientSettings:
    """The client's settings row, or an unsaved one with the defaults."""
    row = await session.get(ClientSettings, client_id)
    if row is not None:
        return row
    return ClientSettings(client_id=client_id, pooling=False, promise_grace_days=DEFAULT_PROMISE_GRACE_DAYS,
                          callback_team_grace_minutes=DEFAULT_CALLBACK_TEAM_GRACE_MINUTES,
                          promise_tolerance_percent=DEFAULT_PROMISE_TOLERANCE_PERCENT)


async def pooling_of(session: AsyncSession, client_id: str) -> bool:
    """Does the client pool its teams' unassigned cases?"""
    return bool(await session.scalar(select(ClientSettings.pooling).where(ClientSettings.client_id == client_id)))
