"""Who may see and hear which recording, and the append-only access log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role
from auth.service import Principal
from core.pagination import where_equal
from recordings.models import Recording, RecordingAccess

Action = Literal["metadata", "audio", "download", "list", "legal_hold", "delete", "review", "pause", "retry"]
Result = Literal["granted", "denied", "not_found"]

LISTENERS = frozenset({Role.QA, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})
# the case system (integration) may read metadata (to link evidence) but never listen
METADATA_READERS = LISTENERS | {Role.INTEGRATION}
HOLDERS = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})
REVIEWERS = LISTENERS
# re-running a failed ingest is floor operations (supervisors) and platform operations (admins); it gives
# no access to the audio, and QA, managers and the case system have no reason to drive the ingest
RETRIERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def may_access(principal: Principal, rec: Recording, action: Action, *, agents_may_listen_own: bool) -> bool:
    """The access rule: listener roles hear everything; an agent only their own calls (if allowed)."""
    if principal.role == Role.AGENT:
        return action in ("metadata", "audio", "download") and agents_may_listen_own \
            and rec.agent_id == principal.user_id
    if action == "metadata":
        return principal.role in METADATA_READERS
    if action in ("audio", "download", "review"):
        return principal.role in LISTENERS
    if action in ("legal_hold", "pause"):
        return principal.role in HOLDERS
    if action == "delete":
        return principal.role == Role.ADMIN
    if action == "retry":
        return principal.role in RETRIERS
    return principal.role in METADATA_READERS


def log_access(session: AsyncSession, principal: Principal, *, at: datetime, remote: str | None,
               recording_id: str | None, action: Action, result: Result, detail: str | None = None) -> None:
    """Append one access-log row in the caller's transaction."""
    session.add(RecordingAccess(at=at, user_id=principal.user_id, role=str(principal.role),
                                remote=(remote or "")[:64] or None, recording_id=recording_id,
                                action=action, result=result, detail=detail))


async def read_log(session: AsyncSession, *, recording_id: str | None = None, user_id: str | None = None,
                   before_id: int | None = None, limit: int = 100) -> list[RecordingAccess]:
    """Access-log rows, newest first (keyset pagination on the id)."""
    q = where_equal(select(RecordingAccess), (RecordingAccess.recording_id, recording_id),
                    (RecordingAccess.user_id, user_id))
    if before_id is not None:
        q = q.where(RecordingAccess.id < before_id)
    q = q.order_by(RecordingAccess.id.desc()).limit(limit)
    return list((await session.scalars(q)).all())
