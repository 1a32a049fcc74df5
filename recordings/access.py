"""Who may see and hear which recording, and the append-only access log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role
from auth.scope import Scope
from auth.service import Principal
from core.pagination import where_equal
from recordings.models import Recording, RecordingAccess

Action = Literal["metadata", "audio", "download", "list", "legal_hold", "delete", "review", "pause", "retry",
                 "access_log"]
Result = Literal["granted", "denied", "not_found"]

LISTENERS = frozenset({Role.QA, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})
# the case system (integration) may read metadata (to link evidence) but never listen
METADATA_READERS = LISTENERS | {Role.INTEGRATION}
HOLDERS = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})
REVIEWERS = LISTENERS
# re-running a failed ingest is floor operations (supervisors) and platform operations (admins); it gives
# no access to the audio, and QA, managers and the case system have no reason to drive the ingest
RETRIERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def in_scope(scope: Scope, rec: Recording) -> bool:
    """Is ``rec`` inside ``scope`` (its call's client, and the team or agent when the scope has one)?

    Outside the scope a recording answers exactly like a missing one (404); the role rule
    (``may_access``) then decides between a grant and a 403 inside it.
    """
    if not scope.sees_client(rec.client_id):
        return False
    if scope.agent is not None:
        return rec.agent_id == scope.agent
    return scope.team is None or rec.team == scope.team


def scope_clause(scope: Scope) -> ColumnElement[bool]:
    """SQL twin of ``in_scope`` over ``recordings``."""
    conds = [] if scope.clients is None else [scope.client_clause(Recording.client_id)]
    if scope.agent is not None:
        conds.append(Recording.agent_id == scope.agent)
    elif scope.team is not None:
        conds.append(Recording.team == scope.team)
    return and_(*conds) if conds else true()


def may_access(principal: Principal, rec: Recording, action: Action, *, agents_may_listen_own: bool) -> bool:
    """The access rule: listener roles hear everything; an agent only their own calls (if allowed)."""
    if principal.role == Role.AGENT:
        return action in ("metadata", "audio", "download") and agents_may_listen_own \
            and rec.agent_id == principal.user_id
    if action == "metadata":
        return principal.role in METADATA_READERS
    if action in ("audio", "download", "review", "access_log"):
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


async def read_log(session: AsyncSession, scope: Scope, *, recording_id: str | None = None,
                   user_id: str | None = None, before_id: int | None = None, limit: int = 100) -> list[RecordingAccess]:
    """Access-log rows, newest first (keyset pagination on the id).

    A scope narrower than everything sees only the rows of recordings inside it: rows naming no
    recording (lists, samples) or an unknown id are the platform's, for a global admin.
    """
    q = where_equal(select(RecordingAccess), (RecordingAccess.recording_id, recording_id),
                    (RecordingAccess.user_id, user_id))
    if not scope.is_everything:
        q = q.where(RecordingAccess.recording_id.in_(select(Recording.id).where(scope_clause(scope))))
    if before_id is not None:
        q = q.where(RecordingAccess.id < before_id)
    q = q.order_by(RecordingAccess.id.desc()).limit(limit)
    return list((await session.scalars(q)).all())
