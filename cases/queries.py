"""Finding a case in the caller's session (shared by the case use cases, evidence and dispositions)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.errors import NoSuchCase
from cases.models import Case


def locking(session: AsyncSession) -> bool:
    """Row locks are taken on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers)."""
    return session.get_bind().dialect.name != "sqlite"


async def find_case(session: AsyncSession, *, client_id: str, external_id: str,
                    lock: bool = False) -> Case | None:
    """The case of ``client_id`` with ``external_id``, or None."""
    q = select(Case).where(Case.client_id == client_id, Case.external_id == external_id)
    if lock and locking(session):
        q = q.with_for_update()
    return (await session.scalars(q)).first()


async def get_case(session: AsyncSession, case_id: str, *, lock: bool = False) -> Case:
    """The case with ``case_id``; NoSuchCase otherwise."""
    q = select(Case).where(Case.id == case_id)
    if lock and locking(session):
        q = q.with_for_update()
    case = (await session.scalars(q)).first()
    if case is None:
        raise NoSuchCase(f"no case {case_id}", details={"case_id": case_id})
    return case
