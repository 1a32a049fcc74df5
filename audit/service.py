"""Recording privileged acts in the caller's transaction, and reading them back (pages and a streamed export)."""

from __future__ import annotations

import getpass
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.models import AuditEntry
from audit.schemas import AuditEntryOut, AuditPage, AuditQuery
from core.clock import Clock
from core.pagination import after, decode_cursor, encode_cursor, where_equal
from db.base import new_id
from db.engine import Database

EXPORT_BATCH = 500


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user (or ``cli:<login>`` for the command line) in a role, from an address."""

    user_id: str
    role: str
    address: str | None = None
    request_id: str | None = None


def cli_actor() -> Actor:
    """The audited actor of a command-line change: ``cli:<operating-system login>``."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a bare container)
        login = "unknown"
    return Actor(user_id=f"cli:{login}"[:64], role="cli")


class AuditService:
    """The one audit trail: append-only rows written with the change they describe."""

    def __init__(self, *, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def record(self, session: AsyncSession, *, actor: Actor, action: str, target_type: str, target_id: str,
                     client_id: str | None = None, reason: str | None = None, before: dict[str, Any] | None = None,
                     after: dict[str, Any] | None = None) -> AuditEntry:
        """Append one entry in the session's transaction (it commits or rolls back with the change)."""
        entry = AuditEntry(id=new_id(), at=self.clock.now(), actor_id=actor.user_id[:64], actor_role=actor.role,
                           client_id=client_id, action=action, target_type=target_type, target_id=target_id,
                           reason=reason, before=before, after=after, request_id=actor.request_id,
                           address=actor.address)
        session.add(entry)
        await session.flush()
        return entry

    async def record_export(self, actor: Actor, q: AuditQuery) -> None:
        """Record, in a transaction of its own, that ``actor`` exports the trail with these filters."""
        filters = q.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        async with self.db.begin() as s:
            await self.record(s, actor=actor, action="audit.exported", target_type="audit", target_id="audit_log",
                              client_id=q.client, after={"filters": filters})

    async def page(self, q: AuditQuery, *, clients: frozenset[str] | None) -> AuditPage:
        """One page, newest first; ``clients`` None sees every entry, else only those clients' entries."""
        stmt = _select(q, clients)
        if q.cursor:
            stmt = stmt.where(after(AuditEntry.at, AuditEntry.id, decode_cursor(q.cursor)))
        stmt = stmt.limit(q.limit)
        async with self.db.read() as s:
            rows = list((await s.scalars(stmt)).all())
        nxt = encode_cursor(rows[-1].at, rows[-1].id) if len(rows) == q.limit else None
        return AuditPage(items=[AuditEntryOut.model_validate(r) for r in rows], next_cursor=nxt)

    async def export(self, q: AuditQuery, *, clients: frozenset[str] | None) -> AsyncIterator[bytes]:
        """Every matching entry as NDJSON, newest first, read in keyset batches (memory stays flat)."""
        cursor = decode_cursor(q.cursor) if q.cursor else None
        while True:
            stmt = _select(q, clients)
            if cursor is not None:
                stmt = stmt.where(after(AuditEntry.at, AuditEntry.id, cursor))
            async with self.db.read() as s:
                rows = list((await s.scalars(stmt.limit(EXPORT_BATCH))).all())
            if not rows:
                return
            yield b"".join(
                json.dumps(AuditEntryOut.model_validate(r).model_dump(mode="json"), ensure_ascii=False,
                           separators=(",", ":")).encode() + b"\n"
                for r in rows)
            if len(rows) < EXPORT_BATCH:
                return
            cursor = (rows[-1].at, rows[-1].id)


def _select(q: AuditQuery, clients: frozenset[str] | None) -> Select[AuditEntry]:
    stmt = where_equal(select(AuditEntry), (AuditEntry.actor_id, q.actor), (AuditEntry.client_id, q.client),
                       (AuditEntry.target_type, q.target_type), (AuditEntry.target_id, q.target_id))
    if q.action and q.action.endswith(".*"):
        stmt = stmt.where(AuditEntry.action.startswith(q.action[:-1], autoescape=True))
    elif q.action:
        stmt = stmt.where(AuditEntry.action == q.action)
    if clients is not None:
        stmt = stmt.where(AuditEntry.client_id.in_(sorted(clients)))
    if q.since:
        stmt = stmt.where(AuditEntry.at >= q.since)
    if q.until:
        stmt = stmt.where(AuditEntry.at < q.until)
    return stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
