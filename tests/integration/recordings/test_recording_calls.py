"""Calls through the real Asterisk, phones and composed service end as stored, verified recordings."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from api.app import make_app
from approvals.schemas import RecordingHoldRelease
from audit.service import Actor
from auth.models import Role
from auth.service import OPERATOR, Principal, issue_token
from cases.rows import CaseIn
from cases.schemas import DispositionIn
from core.errors import CallguardError, TwoPersonRule
from core.models import DomainEventRow
from recordings.errors import IngestFault
from recordings.models import Recording
from recordings.probe import AGENT_TONE_HZ
from recordings.service import Requester
from recordings.tone import detect_tone
from sandbox.pbx import PbxSandbox
from sandbox.seaweed import SeaweedS3
from sip.client import PhonesProcess
from sip.probe import PhonesProbePhone
from tests.integration.conftest import PROBE_PHONE
from tests.integration.recordings.conftest import ALICE, ANSWERS, feature, s3_storage, service, talk, wait_state
from tests.integration.recordings.storage.conftest import raw_client
from tests.integration.stack import BACKENDS, database_url
from tests.support.spool import spool_emptied

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def _download(c: object, rec: Recording, dest: Path) -> Path:
    f = feature(c)
    assert rec.key is not None
    async with await f.store.open_range(rec.key, version_id=rec.version_id) as rng:
        data = b"".join([chunk async for chunk in rng])
    assert hashlib.sha256(data).hexdigest() == rec.sha256
    await asyncio.to_thread(dest.write_bytes, data)
    return dest


def _assert_tones(path: Path) -> None:
    left_agent = detect_tone(path, 600, 0)
    right_customer = detect_tone(path, 1000, 1)
    assert left_agent.present, left_agent
    assert right_customer.present, right_customer
    assert not detect_tone(path, 1000, 0).present and not detect_tone(path, 600, 1).present


@pytest.mark.parametrize("backend", BACKENDS)
async def test_call_is_recorded_stereo_and_served_with_ranges(pbx: PbxSandbox, phones: PhonesProcess,
                                                             tmp_path: Path, backend: str) -> None:
    async with database_url(backend, tmp_path) as url, service(pbx, tmp_path, url=url) as c:
        call_id = await talk(c, phones)
        rec = await wait_state(c, call_id)
        assert (rec.agent_id, rec.team, rec.kind, rec.channels) == ("alice", "t1", "call", 2)
        assert rec.outcome == "completed" and rec.key and rec.key.endswith(f"/{call_id}.ogg")
        await spool_emptied(pbx.spool_dir, call_id)  # spool cleaned after the verified store
        path = await _download(c, rec, tmp_path / "rec.ogg")
        _assert_tones(path)
        async with c.db.read() as s:
            started = await s.scalar(select(func.count()).select_from(DomainEventRow).where(
                DomainEventRow.type == "recording.started", DomainEventRow.call_id == call_id))
        assert started == 1  # the row existed from agent answer (event tail), before the file

        async with c.db.begin() as s:
            token = await issue_token(s, user_id="quinn")
            admin = await issue_token(s, user_id="ada")
        client = TestClient(TestServer(make_app(c)))
        await client.start_server()
        try:
            url = f"/v1/recordings/{rec.id}/audio"
            # a manual dial's recording belongs to no client: only a global admin may see it (auth/scope.py);
            # the QA user is refused exactly as for a recording that does not exist
            r = await client.get(url, headers={"Authorization": f"Bearer {token}", "Range": "bytes=0-"})
            assert r.status == 404
            hdr = {"Authorization": f"Bearer {admin}"}
            r = await client.get(url, headers={**hdr, "Range": "bytes=0-"})
            assert r.status == 206 and r.headers["Content-Type"] == "audio/ogg"
            assert await r.read() == path.read_bytes()
            r = await client.get(url, headers={**hdr, "Range": "bytes=100-199"})
            assert r.status == 206 and await r.read() == path.read_bytes()[100:200]
            r = await client.get(url, headers={**hdr, "Range": f"bytes={rec.size}-"})
            assert r.status == 416
            r = await client.get("/v1/recordings/access-log", params={"recording_id": rec.id},
                                 headers={"Authorization": f"Bearer {admin}"})
            log = [(e["user_id"], e["action"], e["result"]) for e in (await r.json())["items"]]
            assert sorted(log) == [("ada", "audio", "granted")] * 3 + [("quinn", "audio", "denied")]
            ready = await (await client.get("/readyz")).json()
            assert ready["checks"]["recordings"]["storage"]["status"] == "ok"
        finally:
            await client.close()


async def test_s3_recordings_are_locked_until_retention(pbx: PbxSandbox, phones: PhonesProcess,
                                                        tmp_path: Path) -> None:
    async with SeaweedS3(tmp_path / "weed") as weed, \
            service(pbx, tmp_path, storage=s3_storage(weed, f"rec-{uuid.uuid4().hex[:10]}")) as c:
        call_id = await talk(c, phones)
        rec = await wait_state(c, call_id)
        assert rec.version_id and rec.key and rec.retain_until
        head = await feature(c).store.head(rec.key, version_id=rec.version_id)
        assert head.sha256 == rec.sha256 and abs((head.retain_until - rec.retain_until).total_seconds()) < 1
        _assert_tones(await _download(c, rec, tmp_path / "rec.ogg"))


async def test_storage_stopped_while_calls_end_then_everything_stored(pbx: PbxSandbox, phones: PhonesProcess,
                                                                      tmp_path: Path) -> None:
    async with SeaweedS3(tmp_path / "weed") as weed, \
            service(pbx, tmp_path, storage=s3_storage(weed, f"rec-{uuid.uuid4().hex[:10]}")) as c:
        f = feature(c)
        await weed.stop()
        ids = [await talk(c, phones, seconds=1.0) for _ in range(2)]
        for cid in ids:
            rec = await wait_state(c, cid, ("pending",))
            async with asyncio.timeout(30):
                while rec.attempts == 0:
                    await asyncio.sleep(0.1)
                    rec = await wait_state(c, cid, ("pending",))
            assert "storage unavailable" in (rec.last_error or "")
        ready = await f.readiness()
        assert ready["ok"] is False and ready["storage"]["status"] == "down" and ready["pending"] >= 2
        assert all(any(pbx.spool_dir.glob(f"{cid}*.wav")) for cid in ids)  # still in the spool
        await weed.start()
        for cid in ids:
            rec = await wait_state(c, cid, within=60)
            _assert_tones(await _download(c, rec, tmp_path / f"{cid}.ogg"))
        async with asyncio.timeout(15):
            while True:
                if (await f.readiness())["ok"]:
                    break
                await asyncio.sleep(0.2)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_killed_mid_ingest_after_the_put_nothing_lost_nothing_twice(pbx: PbxSandbox, phones: PhonesProcess,
                                                                          tmp_path: Path, backend: str) -> None:
    weed_dir = tmp_path / "weed"
    bucket = f"rec-{uuid.uuid4().hex[:10]}"
    async with SeaweedS3(weed_dir) as weed, database_url(backend, tmp_path) as url:
        reached = asyncio.Event()

        async def die_after_put(step: str) -> None:
            if step == "put":  # the object is in S3, the row not yet updated
                reached.set()
                await asyncio.Event().wait()

        async with service(pbx, tmp_path, storage=s3_storage(weed, bucket), url=url) as c:
            feature(c).ingest.fault = die_after_put
            call_id = await talk(c, phones, seconds=1.0)
            async with asyncio.timeout(30):
                await reached.wait()
        # the service is gone (every task cancelled at that await): restart it on the same database
        async with service(pbx, tmp_path, storage=s3_storage(weed, bucket), url=url) as c:
            rec = await wait_state(c, call_id)
            async with c.db.read() as s:
                stored_events = await s.scalar(select(func.count()).select_from(DomainEventRow).where(
                    DomainEventRow.type == "recording.stored", DomainEventRow.call_id == call_id))
            assert stored_events == 1
            versions = await asyncio.to_thread(_versions, weed, bucket, str(rec.key))
            assert versions == [rec.version_id]  # one object version: stored exactly once
            _assert_tones(await _download(c, rec, tmp_path / "rec.ogg"))


async def test_unexpected_failure_after_the_put_is_retried_and_stored_once(
        pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> None:
    async with service(pbx, tmp_path) as c:
        f = feature(c)
        failures = 0

        async def flaky(step: str) -> None:
            nonlocal failures
            if step == "put" and failures < 2:  # the file is already in the store
                failures += 1
                raise IngestFault("injected")

        f.ingest.fault = flaky
        call_id = await talk(c, phones, seconds=1.0)
        rec = await wait_state(c, call_id)
        assert failures == 2 and rec.attempts == 2 and rec.last_error is None
        async with c.db.read() as s:
            stored_events = await s.scalar(select(func.count()).select_from(DomainEventRow).where(
                DomainEventRow.type == "recording.stored", DomainEventRow.call_id == call_id))
        assert stored_events == 1
        _assert_tones(await _download(c, rec, tmp_path / "rec.ogg"))


async def test_recording_probe_end_to_end(pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> None:
    async with service(pbx, tmp_path) as c:
        f = feature(c)
        f.prober.phone = PhonesProbePhone(phones, PROBE_PHONE.sip_user, host=pbx.sip_host, port=pbx.sip_port,
                                          tone_hz=AGENT_TONE_HZ)
        result = await f.prober.run()
        assert result["status"] == "passed", result
        assert result["detail"]["agent_tone"]["present"] and result["detail"]["customer_tone"]["present"]
        ready = await f.readiness()
        assert ready["probe"]["status"] == "passed" and ready["ok"] is True


def _versions(weed: SeaweedS3, bucket: str, key: str) -> list[str]:
    client = raw_client(weed)
    try:
        r = client.list_object_versions(Bucket=bucket, Prefix=key)
        return [v["VersionId"] for v in r.get("Versions", [])]
    finally:
        client.close()


async def test_a_dispute_on_a_real_call_holds_its_recording_and_one_person_cannot_release_it(
        pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> None:
    """#11: the dispute disposition puts the call's recording under legal hold (in the database and on the
    S3 object); a manager alone is refused, the requester may not approve its own request, another person may."""
    async with SeaweedS3(tmp_path / "weed") as weed, \
            service(pbx, tmp_path, storage=s3_storage(weed, f"rec-{uuid.uuid4().hex[:10]}")) as c:
        case = CaseIn.model_validate({"external_id": "D-1", "debtor_name": "张三", "amount": "100", "currency": "CNY",
                                      "agent": "alice", "team": "t1",
                                      "contacts": [{"number": ANSWERS, "kind": "mobile"}]})
        case_id = (await c.cases.upsert(OPERATOR, client_id="bank1", data=case)).case_id
        call_id = await talk(c, phones, case_id=case_id)
        rec = await wait_state(c, call_id)
        assert not rec.legal_hold
        await c.cases.dispose(ALICE, call_id, DispositionIn.model_validate({"outcome": "dispute"}))
        async with c.db.read() as s:
            held = await s.get(Recording, rec.id)
        assert held is not None and held.legal_hold
        f = feature(c)
        await f.check_health()  # pushes the hold to the store (also done by its own job)
        assert (await f.store.head(rec.key or "", version_id=rec.version_id)).legal_hold
        mia = Principal("mia", Role.MANAGER, clients=frozenset({"bank1"}))
        with pytest.raises(TwoPersonRule):
            await f.retention.set_legal_hold(Requester(mia), rec.id, False)
        target = RecordingHoldRelease(kind="recording_legal_hold", recording_id=rec.id, reason="settled")
        asked = await c.approvals.request(mia, target, actor=Actor(user_id="mia", role="manager"))
        with pytest.raises(CallguardError) as same:
            await c.approvals.approve(mia, asked.id, reason="me again", actor=Actor(user_id="mia", role="manager"))
        assert same.value.code == "same-person"
        async with c.db.read() as s:
            still = await s.get(Recording, rec.id)
        assert still is not None and still.legal_hold
        ada = Principal("ada", Role.ADMIN)
        await c.approvals.approve(ada, asked.id, reason="checked the settlement", actor=Actor(user_id="ada",
                                                                                            role="admin"))
        async with c.db.read() as s:
            released = await s.get(Recording, rec.id)
        assert released is not None and not released.legal_hold
