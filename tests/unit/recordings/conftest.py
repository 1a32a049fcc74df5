"""A recordings feature over a real SQLite database, a real LocalStore and real ffmpeg (no jobs running)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from config.settings import Settings, load_settings
from core.clock import FakeClock
from core.events import EventLog
from core.models import DomainEventRow
from db.engine import Database
from dialer.models import Call
from recordings.runtime import RecordingsFeature
from recordings.storage import KeyPage, StorageUnavailable, StoredObject
from recordings.storage.local import LocalStore
from tests.support.wavgen import tone_samples, write_wav

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


class FlakyStore(LocalStore):
    """A LocalStore whose outage can be switched on (the fault a real disk cannot produce on demand)."""

    def __init__(self, root: Path, clock: FakeClock) -> None:
        super().__init__(root, clock=clock.now)
        self.down = False
        self.puts: list[str] = []

    def _check(self) -> None:
        if self.down:
            raise StorageUnavailable("injected outage")

    async def put(self, key: str, path: Path, **kw: Any) -> StoredObject:
        self._check()
        self.puts.append(key)
        return await super().put(key, path, **kw)

    async def verify(self, key: str, sha256: str, *, version_id: str | None = None) -> bool:
        self._check()
        return await super().verify(key, sha256, version_id=version_id)

    async def list_keys(self, *, cursor: str | None = None, limit: int = 1000) -> KeyPage:
        self._check()
        return await super().list_keys(cursor=cursor, limit=limit)

    async def health(self) -> dict[str, Any]:
        if self.down:
            return {"status": "down", "error": "injected outage"}
        return await super().health()


@dataclass
class Rig:
    db: Database
    settings: Settings
    clock: FakeClock
    store: FlakyStore
    spool: Path
    tmp: Path
    features: list[RecordingsFeature] = field(default_factory=list)

    def feature(self, instance: str = "i1", fault: Callable[[str], Awaitable[None]] | None = None,
                **recordings: Any) -> RecordingsFeature:
        settings = self.settings
        if recordings:
            settings = load_settings(None, database={"url": self.settings.database.url},
                                     recordings={**self.settings.recordings.model_dump(mode="json"), **recordings})
        return RecordingsFeature(settings=settings, db=self.db, events=EventLog(), clock=self.clock,
                                 instance=instance, store=self.store, fault=fault, run_jobs=False)

    async def add_call(self, *, answered: bool = True, ended: bool = True, agent: str = "alice",
                       client: str | None = "bank-a", case: str | None = "case-1", call_id: str | None = None) -> Call:

        cid = call_id or str(uuid.uuid4())
        at = self.clock.now()
        call = Call(id=cid, agent_id=agent, team="t1", requested_by=agent, number="+8613800000001",
                    case_id=case, client_id=client, pbx="local", sip_user="1001", state="ended" if ended
                    else "answered", created_at=at - timedelta(seconds=30), facts={},
                    agent_answered_at=at - timedelta(seconds=25),
                    answered_at=at - timedelta(seconds=20) if answered else None,
                    ended_at=at if ended else None, end_reason="completed" if ended else None)
        async with self.db.begin() as s:
            s.add(call)
        return call

    def write_legs(self, call_id: str, *, seconds: float = 1.0, empty: bool = False, marker: bool = True) -> None:
        n = 0 if empty else seconds
        write_wav(self.spool / f"{call_id}-rx.wav", tone_samples(600, n))
        write_wav(self.spool / f"{call_id}-tx.wav", tone_samples(1000, n))
        write_wav(self.spool / f"{call_id}.wav", tone_samples(800, n))
        if marker:
            (self.spool / f"{call_id}.done").touch()

    def spool_names(self) -> set[str]:
        return {p.name for p in self.spool.iterdir() if p.is_file()}

    async def events(self, type_: str) -> list[DomainEventRow]:
        async with self.db.read() as s:
            return list((await s.scalars(select(DomainEventRow).where(DomainEventRow.type == type_))).all())


@pytest.fixture
async def rig(db: Database, tmp_path: Path) -> AsyncIterator[Rig]:
    spool = tmp_path / "spool"
    spool.mkdir()
    settings = load_settings(None, database={"url": db.url},
                             recordings={"spool_dir": str(spool), "min_free_bytes": 0, "lease_s": 60},
                             storage={"local_root": str(tmp_path / "store")})
    clock = FakeClock(T0)
    store = FlakyStore(tmp_path / "store", clock)
    async with store:
        yield Rig(db, settings, clock, store, spool, tmp_path)
