"""The real service (``app.compose``) against the session PBX and phones, with local or S3 storage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.compose import compose
from app.container import Container
from auth.models import Role
from auth.service import Principal, create_user
from compliance.models import ComplianceDecision
from config.settings import load_settings
from recordings.models import Recording
from recordings.runtime import RecordingsFeature
from sandbox.pbx import PbxSandbox
from sandbox.seaweed import SeaweedS3
from sip.client import PhonesProcess

# the recordings scenarios dial numbers of no case: a supervisor's manual dial for alice (an agent may
# dial only a case's number); the gate still decides and logs each dial
ALICE = Principal("sam", Role.SUPERVISOR, "t1", clients=frozenset({"bank1"}))
ANSWERS = "+8613800000001"  # the customer line answers numbers ending in 0001 and plays 1000 Hz


def s3_storage(weed: SeaweedS3, bucket: str) -> dict[str, Any]:
    """Storage settings for SeaweedFS."""
    return {"backend": "s3", "s3_bucket": bucket, "s3_endpoint_url": weed.endpoint_url, "s3_region": weed.region,
            "s3_access_key": weed.access_key, "s3_secret_key": weed.secret_key, "s3_max_workers": 4}


@asynccontextmanager
async def service(pbx: PbxSandbox, tmp: Path, *, storage: dict[str, Any] | None = None,
                  db_name: str = "svc.db", url: str | None = None, **recordings: Any) -> AsyncIterator[Container]:
    """The composed service with its real compliance gate (the DEMO profile allows every hour; the test number
    is on no do-not-call list) and agent alice = 1001; on ``url``, else a SQLite file ``db_name``."""
    settings = load_settings(
        None, database={"url": url or f"sqlite+aiosqlite:///{tmp / db_name}"},
        compliance={"default_profile": "DEMO"},
        server={"instance_id": "it-recordings"},
        pbx=[{"name": "local", "ami_host": pbx.ami_host, "ami_port": pbx.ami_port, "ami_user": pbx.ami_user,
              "ami_secret": pbx.ami_secret}],
        recordings={"spool_dir": str(pbx.spool_dir), "scan_interval_s": 0.2, "min_free_bytes": 0,
                    "retry_max_backoff_s": 1.0, "reconcile_interval_s": 2.0, **recordings},
        storage=storage or {"backend": "local", "local_root": str(tmp / "store")},
    )
    async with compose(settings) as c:
        async with c.db.begin() as s:
            for uid, role, sip in [("alice", Role.AGENT, "1001"), ("quinn", Role.QA, None),
                                   ("ada", Role.ADMIN, None)]:
                await create_user(s, user_id=uid, role=role, sip_user=sip, pbx="local" if sip else None, team="t1",
                                  clients=() if role is Role.ADMIN else ("bank1",))
        async with asyncio.timeout(10):
            while True:
                state: Any = c.pbx.state()["local"]
                if state["connected"]:
                    break
                await asyncio.sleep(0.05)
        yield c


def feature(c: Container) -> RecordingsFeature:
    """The composed recordings feature."""
    return c.recordings_feature()


async def talk(c: Container, phones: PhonesProcess, *, seconds: float = 2.0, case_id: str | None = None) -> str:
    """Place a call from alice to the answering customer (a manual dial, or for ``case_id``), let both tones
    flow, hang up; the call id."""
    mark = phones.mark()
    call = await c.calls.request_call(ALICE, agent_id="alice", number=ANSWERS, case_id=case_id)
    async with c.db.read() as s:  # the real gate decided and logged the dial
        decision = await s.get(ComplianceDecision, call.decision_id)
    assert decision is not None and decision.allowed and decision.call_id == call.id
    await phones.wait_for("answered", phone="customer", since=mark, timeout=15)
    await asyncio.sleep(seconds)  # audio content for the tone check, not a timing assertion
    await c.calls.hangup(ALICE, call.id)
    return call.id


async def wait_state(c: Container, call_id: str, states: tuple[str, ...] = ("stored",),
                     within: float = 30.0) -> Recording:
    """Poll until the call's recording reaches one of ``states``."""
    async with asyncio.timeout(within):
        while True:
            async with c.db.read() as s:
                rec = await s.scalar(select(Recording).where(Recording.call_id == call_id))
            if rec is not None and rec.state in states:
                return rec
            await asyncio.sleep(0.1)
