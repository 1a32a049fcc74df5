"""A presence + callbacks + calls rig on a real database, with a recording PBX and an allow-all gate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from auth.models import Role
from auth.service import Principal, create_user
from callbacks.service import CallbackService
from cases.dispositions import record_disposition
from cases.schemas import DispositionIn
from config.settings import DialerSettings, PresenceSettings
from core.clock import FakeClock
from core.events import EventLog
from core.models import DomainEventRow
from db.engine import Database
from dialer.models import Call
from dialer.service import CallService
from dialer.translate import FactUpdate
from presence.guard import PresenceGate
from presence.service import PresenceService
from tests.support.doubles import AllowAllGate, RecordingPbx

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
NUMBER = "+8613800000001"

ALICE = Principal("alice", Role.AGENT, team="t1", clients=frozenset({"bank-a"}))
CARL = Principal("carl", Role.AGENT, team="t1", clients=frozenset({"bank-a"}))
BOB = Principal("bob", Role.AGENT, team="t2", clients=frozenset({"bank-b"}))
SAM = Principal("sam", Role.SUPERVISOR, team="t1", clients=frozenset({"bank-a"}))
MIA = Principal("mia", Role.MANAGER, clients=frozenset({"bank-a"}))
ADA = Principal("ada", Role.ADMIN)


@dataclass
class Rig:
    db: Database
    clock: FakeClock
    events: EventLog
    presence: PresenceService
    callbacks: CallbackService
    calls: CallService
    pbx: RecordingPbx
    gate: AllowAllGate  # behind the presence check; its client_id is the client of the next calls

    async def dial(self, who: Principal = ALICE, *, case_id: str | None = "case-1") -> Call:
        return await self.calls.request_call(who, agent_id=who.user_id, number=NUMBER, case_id=case_id)

    async def fact(self, call_id: str, **facts: Any) -> None:
        await self.calls.apply(FactUpdate(call_id, "test", facts))

    async def talk(self, who: Principal = ALICE, *, seconds: float = 10, case_id: str | None = "case-1") -> Call:
        """A whole call: the agent's phone rings, the agent answers, the customer answers, it ends."""
        call = await self.dial(who, case_id=case_id)
        await self.fact(call.id, agent_ringing_at=self.clock.now(), agent_channel=f"PJSIP/{who.user_id}-1")
        self.clock.advance(seconds=1)
        await self.fact(call.id, agent_answered_at=self.clock.now())
        await self.fact(call.id, customer_ringing_at=self.clock.now(), answered_at=self.clock.now())
        self.clock.advance(seconds=seconds)
        await self.fact(call.id, ended_at=self.clock.now())
        return call

    async def dispose(self, call_id: str, who: Principal = ALICE, **data: Any) -> None:
        async with self.db.begin() as s:
            await record_disposition(s, self.events, principal=who, call_id=call_id,
                                     data=DispositionIn.model_validate(data), now=self.clock.now())

    async def event_types(self, prefix: str) -> list[str]:
        async with self.db.read() as s:
            return list((await s.scalars(select(DomainEventRow.type).where(DomainEventRow.type.startswith(prefix))
                                         .order_by(DomainEventRow.id))).all())

    async def presence_events(self, agent: str) -> list[dict[str, Any]]:
        async with self.db.read() as s:
            rows = (await s.scalars(select(DomainEventRow).where(DomainEventRow.type == "agent.state_changed",
                                                                 DomainEventRow.agent_id == agent)
                                    .order_by(DomainEventRow.id))).all()
        return [{**r.payload, "client_id": r.client_id, "team_of_event": r.team} for r in rows]

    async def state(self, agent: str = "alice") -> str:
        view = await self.presence.get(ADA, agent)
        return view.presence.state.value


async def make_rig(db: Database, **settings: Any) -> Rig:
    clock = FakeClock(T0)
    events = EventLog()
    presence = PresenceService(db=db, events=events, clock=clock, settings=PresenceSettings(**settings))
    callbacks = CallbackService(db=db, events=events, clock=clock)
    pbx = RecordingPbx()
    gate = AllowAllGate(client_id="bank-a")
    calls = CallService(db=db, events=events, pbx=pbx, gate=PresenceGate(gate, presence), settings=DialerSettings(),
                        clock=clock)
    calls.add_state_listener(presence.on_call_state)
    calls.add_state_listener(callbacks.on_call_state)
    events.add_outbox_writer(presence.on_domain_event)
    events.add_outbox_writer(callbacks.on_domain_event)
    async with db.begin() as s:
        for p, sip in ((ALICE, "1001"), (CARL, "1003"), (BOB, "1002")):
            await create_user(s, user_id=p.user_id, role=Role.AGENT, sip_user=sip, team=p.team, clients=p.clients)
        await create_user(s, user_id="sam", role=Role.SUPERVISOR, team="t1", clients=["bank-a"])
        await create_user(s, user_id="mia", role=Role.MANAGER, clients=["bank-a"])
        await create_user(s, user_id="ada", role=Role.ADMIN)
    return Rig(db, clock, events, presence, callbacks, calls, pbx, gate)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
