"""QA: finding recordings (filters, cursor pages), stratified reproducible samples, reviews."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, select

from auth.models import Role
from auth.scope import Scope
from core.clock import Clock
from core.pagination import after, where_equal
from db.base import new_id
from db.engine import Database
from recordings.access import LISTENERS, METADATA_READERS, log_access, scope_clause
from recordings.errors import RecordingAccessDenied
from recordings.models import Recording, RecordingReview
from recordings.service import RecordingService, Requester
from recordings.states import RecordingState

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True, slots=True)
class RecordingFilter:
    """Search criteria; ``None`` means 'any'."""

    agent: str | None = None
    team: str | None = None
    client: str | None = None
    case: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    outcome: str | None = None
    state: str | None = None


def apply_filter(q: S, f: RecordingFilter) -> S:
    """``q`` restricted by ``f``."""
    q = where_equal(q, (Recording.agent_id, f.agent), (Recording.team, f.team), (Recording.client_id, f.client),
                    (Recording.case_id, f.case), (Recording.outcome, f.outcome), (Recording.state, f.state))
    conds = []
    if f.since:
        conds.append(Recording.started_at >= f.since)
    if f.until:
        conds.append(Recording.started_at < f.until)
    if f.min_duration_s is not None:
        conds.append(Recording.duration_s >= f.min_duration_s)
    if f.max_duration_s is not None:
        conds.append(Recording.duration_s <= f.max_duration_s)
    return q.where(*conds) if conds else q


def stratified_sample(items: Sequence[tuple[str, str | None]], *, seed: str, per_agent: int | None = None,
                      percent: float | None = None) -> list[str]:
    """Pick recording ids per agent stratum; the same ``seed`` and items always give the same sample.

    ``items`` are (recording id, agent id). Each agent's ids are sorted, then sampled with a PRNG
    seeded by ``seed`` and the agent, so adding recordings of one agent never changes another's pick.
    ``percent`` takes ceil(P% of the stratum) (at least one from a non-empty stratum).
    """
    if (per_agent is None) == (percent is None):
        raise ValueError("give exactly one of per_agent and percent")
    strata: dict[str, list[str]] = defaultdict(list)
    for rid, agent in items:
        strata[agent or ""].append(rid)
    picked: list[str] = []
    for agent in sorted(strata):
        ids = sorted(strata[agent])
        k = per_agent if per_agent is not None else math.ceil(len(ids) * float(percent or 0) / 100.0)
        k = max(0, min(len(ids), k))
        rng = random.Random(f"{seed}\x00{agent}")  # noqa: S311 - sampling, not security
        picked.extend(sorted(rng.sample(ids, k)))
    return picked


class QaService:
    """Listing, sampling and reviews."""

    def __init__(self, *, db: Database, clock: Clock, service: RecordingService) -> None:
        self.db, self.clock, self.service = db, clock, service

    def _visible(self, who: Requester, q: S) -> S:
        """``q`` cut to the caller's scope (clients, team, own calls for an agent when agents may listen)."""
        p = who.principal
        if p.role == Role.AGENT and not self.service.settings.agents_may_listen_own:
            return q.where(Recording.id.is_(None))
        return q.where(scope_clause(Scope.of(p)))

    async def search(self, who: Requester, f: RecordingFilter, *, cursor: tuple[datetime, str] | None = None,
                   limit: int = 50) -> list[Recording]:
        """Recordings newest first; logged once per request (action ``list``)."""
        if who.principal.role not in METADATA_READERS and who.principal.role != Role.AGENT:
            async with self.db.begin() as s:
                log_access(s, who.principal, at=self.clock.now(), remote=who.remote, recording_id=None,
                           action="list", result="denied")
            raise RecordingAccessDenied("you may not list recordings")
        q = self._visible(who, apply_filter(select(Recording), f))
        if cursor:
            q = q.where(after(Recording.started_at, Recording.id, cursor))
        q = q.order_by(Recording.started_at.desc(), Recording.id.desc()).limit(limit)
        async with self.db.begin() as s:
            rows = list((await s.scalars(q)).all())
            log_access(s, who.principal, at=self.clock.now(), remote=who.remote, recording_id=None,
                       action="list", result="granted", detail=f"{len(rows)} item(s)")
        return rows

    async def sample(self, who: Requester, f: RecordingFilter, *, seed: str, per_agent: int | None,
                     percent: float | None) -> list[Recording]:
        """A stratified (per agent) reproducible sample of stored recordings matching ``f``."""
        if who.principal.role not in LISTENERS:
            raise RecordingAccessDenied("only QA, supervisors, managers and admins sample recordings")
        q = self._visible(who, apply_filter(select(Recording.id, Recording.agent_id), f)).where(
            Recording.state == RecordingState.STORED.value, Recording.kind == "call")
        async with self.db.read() as s:
            items = [(rid, agent) for rid, agent in (await s.execute(q)).all()]
        ids = stratified_sample(items, seed=seed, per_agent=per_agent, percent=percent)
        async with self.db.begin() as s:
            rows = {r.id: r for r in (await s.scalars(select(Recording).where(Recording.id.in_(ids)))).all()} \
                if ids else {}
            log_access(s, who.principal, at=self.clock.now(), remote=who.remote, recording_id=None,
                       action="list", result="granted", detail=f"sample seed={seed[:40]} n={len(ids)}")
        return [rows[i] for i in ids if i in rows]

    async def add_review(self, who: Requester, rec_id: str, *, score: int, checklist: list[dict[str, Any]],
                         notes: str) -> RecordingReview:
        """Store a QA review by the caller."""
        await self.service.authorize(who, rec_id, "review")
        review = RecordingReview(id=new_id(), recording_id=rec_id, reviewer=who.principal.user_id, score=score,
                                 checklist=checklist, notes=notes, created_at=self.clock.now())
        async with self.db.begin() as s:
            s.add(review)
        return review

    async def reviews(self, who: Requester, rec_id: str) -> list[RecordingReview]:
        """Reviews of a recording, oldest first."""
        await self.service.authorize(who, rec_id, "metadata")
        async with self.db.read() as s:
            return list((await s.scalars(select(RecordingReview).where(RecordingReview.recording_id == rec_id)
                                         .order_by(RecordingReview.created_at, RecordingReview.id))).all())
