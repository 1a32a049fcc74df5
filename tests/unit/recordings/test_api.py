"""The recordings API in-process: roles, the access log, audio with HTTP Range, holds, deletes, samples."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from api.app import make_app
from app.compose import build_container
from auth.models import Role
from auth.service import create_user, issue_token
from compliance.models import ClientPolicy
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from dialer.models import Call
from recordings.models import Recording
from recordings.retention import legal_hold_case
from recordings.runtime import RecordingsFeature
from tests.support.doubles import AllowAllGate, RecordingPbx
from tests.unit.recordings.conftest import Rig

BANK_A = ("bank-a", "bank-p")  # bank-p: the client whose policy allows pausing


@dataclass
class Api:
    client: TestClient[Any, Any]
    feature: RecordingsFeature
    tokens: dict[str, str]
    rig: Rig

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def stored(self, agent: str = "alice", seconds: float = 1.0, client: str = "bank-a") -> dict[str, Any]:
        call = await self.rig.add_call(agent=agent, client=client)
        self.rig.write_legs(call.id, seconds=seconds)
        assert await self.feature.ingest.ingest(call.id) == "stored"
        r = await self.client.get("/v1/recordings", params={"agent": agent}, headers=self.auth("ada"))
        rec: dict[str, Any] = next(i for i in (await r.json())["items"] if i["call_id"] == call.id)
        return rec

    async def log(self) -> list[dict[str, Any]]:
        r = await self.client.get("/v1/recordings/access-log", headers=self.auth("ada"))
        assert r.status == 200
        items: list[dict[str, Any]] = (await r.json())["items"]
        return items


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[Api]:
    tokens = {}
    async with rig.db.begin() as s:
        for uid, role, sip, clients in [
                ("alice", Role.AGENT, "1001", BANK_A), ("bob", Role.AGENT, "1002", BANK_A),
                ("sam", Role.SUPERVISOR, None, BANK_A), ("quinn", Role.QA, None, BANK_A),
                ("ada", Role.ADMIN, None, ()), ("hook", Role.INTEGRATION, None, ("bank-a",)),
                ("mia", Role.MANAGER, None, BANK_A), ("ada_a", Role.ADMIN, None, BANK_A),
                ("quinn_b", Role.QA, None, ("bank-b",)), ("mo_b", Role.MANAGER, None, ("bank-b",)),
                ("hook_b", Role.INTEGRATION, None, ("bank-b",)), ("sue_t2", Role.SUPERVISOR, None, BANK_A)]:
            await create_user(s, user_id=uid, role=role, sip_user=sip, team="t2" if uid == "sue_t2" else "t1",
                              clients=clients)
            # tokens outlive the retention periods these tests jump across
            tokens[uid] = await issue_token(s, user_id=uid, expires_at=rig.clock.now() + timedelta(days=3650))
    async with TaskGroup() as tasks, rig.feature() as feature:
        container = build_container(settings=rig.settings, clock=rig.clock, db=rig.db, events=EventLog(),
                                    stream=EventStream(rig.db), tasks=tasks, pbx=RecordingPbx(), gate=AllowAllGate(),
                                    recordings=feature)
        client = TestClient(TestServer(make_app(container)))
        await client.start_server()
        try:
            yield Api(client, feature, tokens, rig)
        finally:
            await client.close()


async def test_get_metadata_and_the_access_log(api: Api) -> None:
    rec = await api.stored()
    r = await api.client.get(f"/v1/recordings/{rec['id']}", headers=api.auth("quinn"))
    assert r.status == 200
    body = await r.json()
    assert body["state"] == "stored" and body["agent_id"] == "alice" and body["audio_url"].endswith("/audio")
    assert (await api.client.get(f"/v1/recordings/{rec['id']}", headers=api.auth("bob"))).status == 404  # not his
    assert (await api.client.get(f"/v1/recordings/{rec['id']}", headers=api.auth("alice"))).status == 200
    r = await api.client.get("/v1/recordings/nope", headers=api.auth("sam"))
    assert r.status == 404 and (await r.json())["error"]["code"] == "no-such-recording"
    log = await api.log()
    got = [(e["user_id"], e["action"], e["result"], e["recording_id"]) for e in log if e["action"] == "metadata"]
    assert got == [("sam", "metadata", "not_found", "nope"), ("alice", "metadata", "granted", rec["id"]),
                   ("bob", "metadata", "denied", rec["id"]), ("quinn", "metadata", "granted", rec["id"])]
    assert all(e["remote"] == "127.0.0.1" for e in log)
    # the whole log is the admins'; the others read one recording's (below)
    r = await api.client.get("/v1/recordings/access-log", headers=api.auth("sam"))
    assert r.status == 422 and (await r.json())["error"]["code"] == "recording-id-required"


async def test_qa_supervisors_and_managers_read_the_access_log_of_one_recording_they_may_see(api: Api) -> None:
    mine = await api.stored(agent="alice", client="bank-a")
    other_bank = await api.stored(agent="alice", client="bank-b")
    assert (await api.client.get(f"/v1/recordings/{mine['id']}/audio", headers=api.auth("quinn"))).status == 200
    url = "/v1/recordings/access-log"
    r = await api.client.get(url, params={"recording_id": mine["id"]}, headers=api.auth("quinn"))
    assert r.status == 200, await r.text()
    rows = [(e["user_id"], e["action"], e["result"], e["recording_id"]) for e in (await r.json())["items"]]
    assert rows == [("quinn", "audio", "granted", mine["id"])]  # the read itself shows from the next read on
    for user in ("sam", "mia"):
        r = await api.client.get(url, params={"recording_id": mine["id"]}, headers=api.auth(user))
        seen = {(e["user_id"], e["action"]) for e in (await r.json())["items"]}
        assert r.status == 200 and ("quinn", "audio") in seen
    # without a recording: 422 in the one error shape, in both languages
    r = await api.client.get(url, headers=api.auth("quinn"))
    err = (await r.json())["error"]
    assert r.status == 422 and err["code"] == "recording-id-required" and set(err["messages"]) == {"zh-CN", "en"}
    # another bank's recording, and one that does not exist: 404 exactly as reading the recording
    for rid in (other_bank["id"], "nope"):
        r = await api.client.get(url, params={"recording_id": rid}, headers=api.auth("quinn"))
        read = await api.client.get(f"/v1/recordings/{rid}", headers=api.auth("quinn"))
        assert r.status == read.status == 404
        assert (await r.json())["error"]["code"] == (await read.json())["error"]["code"] == "no-such-recording"
    # a bank-scoped admin is walled off the other bank's recording too; a team supervisor off another team's
    r = await api.client.get(url, params={"recording_id": other_bank["id"]}, headers=api.auth("ada_a"))
    assert r.status == 404
    r = await api.client.get(url, params={"recording_id": mine["id"]}, headers=api.auth("sue_t2"))
    assert r.status == 404
    # an agent, even of their own call, and the case system: 403
    for user in ("alice", "hook"):
        r = await api.client.get(url, params={"recording_id": mine["id"]}, headers=api.auth(user))
        assert r.status == 403 and (await r.json())["error"]["code"] == "forbidden", await r.text()
    # every read and refusal is on the record
    reads = {(e["user_id"], e["result"], e["recording_id"]) for e in await api.log() if e["action"] == "access_log"}
    assert {("quinn", "granted", mine["id"]), ("sam", "granted", mine["id"]), ("mia", "granted", mine["id"]),
            ("quinn", "denied", other_bank["id"]), ("quinn", "not_found", "nope"),
            ("ada_a", "denied", other_bank["id"]), ("sue_t2", "denied", mine["id"])} <= reads
    # the global admin still reads the whole log, and a recording's
    r = await api.client.get(url, params={"recording_id": other_bank["id"]}, headers=api.auth("ada"))
    assert r.status == 200 and {e["user_id"] for e in (await r.json())["items"]} >= {"quinn", "ada_a"}


async def test_audio_full_and_ranges(api: Api) -> None:
    rec = await api.stored(seconds=3.0)
    url = f"/v1/recordings/{rec['id']}/audio"
    r = await api.client.get(url, headers=api.auth("quinn"))
    assert r.status == 200 and r.headers["Content-Type"] == "audio/ogg" and r.headers["Accept-Ranges"] == "bytes"
    whole = await r.read()
    assert len(whole) == rec["size"] and hashlib.sha256(whole).hexdigest() == rec["sha256"]
    r = await api.client.get(url, headers={**api.auth("quinn"), "Range": "bytes=10-99"})
    assert r.status == 206 and r.headers["Content-Range"] == f"bytes 10-99/{rec['size']}"
    assert await r.read() == whole[10:100] and r.headers["Content-Length"] == "90"
    r = await api.client.get(url, headers={**api.auth("quinn"), "Range": "bytes=-16"})
    assert r.status == 206 and await r.read() == whole[-16:]
    r = await api.client.get(url, headers={**api.auth("quinn"), "Range": f"bytes={rec['size']}-"})
    assert r.status == 416 and r.headers["Content-Range"] == f"bytes */{rec['size']}"
    assert (await r.json())["error"]["code"] == "range-not-satisfiable"
    r = await api.client.get(url, params={"download": "true"}, headers=api.auth("sam"))
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    assert (await api.client.get(url, headers=api.auth("hook"))).status == 403  # metadata only
    actions = [(e["user_id"], e["action"], e["result"]) for e in await api.log() if e["recording_id"] == rec["id"]]
    assert ("sam", "download", "granted") in actions and ("hook", "audio", "denied") in actions
    assert actions.count(("quinn", "audio", "granted")) == 4


async def test_agents_hear_only_their_own_calls_and_list_only_theirs(api: Api) -> None:
    mine = await api.stored(agent="alice")
    theirs = await api.stored(agent="bob")
    assert (await api.client.get(f"/v1/recordings/{mine['id']}/audio", headers=api.auth("alice"))).status == 200
    # another agent's call is outside an agent's scope: answered like a missing recording
    assert (await api.client.get(f"/v1/recordings/{theirs['id']}/audio", headers=api.auth("alice"))).status == 404
    r = await api.client.get("/v1/recordings", headers=api.auth("alice"))
    assert [i["id"] for i in (await r.json())["items"]] == [mine["id"]]


async def test_list_filters_and_cursor(api: Api) -> None:
    ids = []
    for _ in range(3):
        ids.append((await api.stored())["id"])
        api.rig.clock.advance(seconds=60)
    r = await api.client.get("/v1/recordings", params={"limit": "2", "agent": "alice"}, headers=api.auth("quinn"))
    page = await r.json()
    assert [i["id"] for i in page["items"]] == ids[::-1][:2] and page["next_cursor"]
    r = await api.client.get("/v1/recordings", params={"limit": "2", "cursor": page["next_cursor"]},
                             headers=api.auth("quinn"))
    assert [i["id"] for i in (await r.json())["items"]] == [ids[0]]
    r = await api.client.get("/v1/recordings", params={"min_duration": "5"}, headers=api.auth("quinn"))
    assert (await r.json())["items"] == []
    r = await api.client.get("/v1/recordings", params={"outcome": "completed", "case": "case-1"},
                             headers=api.auth("quinn"))
    assert len((await r.json())["items"]) == 3


async def test_delete_before_expiry_is_409_and_legal_hold_blocks_purge(api: Api) -> None:
    rec = await api.stored()
    url = f"/v1/recordings/{rec['id']}"
    r = await api.client.delete(url, headers=api.auth("ada"))
    assert r.status == 409 and (await r.json())["error"]["code"] == "retention-active"
    assert (await api.client.delete(url, headers=api.auth("sam"))).status == 403
    r = await api.client.put(f"{url}/legal-hold", headers=api.auth("sam"))
    assert r.status == 200 and (await r.json())["legal_hold"] is True
    meta = await api.rig.store.head(rec["key"])
    assert meta.legal_hold is True  # pushed to the store
    api.rig.clock.advance(days=731)
    assert await api.feature.retention.purge_expired() == 0  # held
    assert (await api.client.delete(url, headers=api.auth("ada"))).status == 409
    # one person alone never releases a legal hold: the direct release is refused and names the way to ask
    r = await api.client.delete(f"{url}/legal-hold", headers=api.auth("sam"))
    assert r.status == 409
    err = (await r.json())["error"]
    assert err["code"] == "two-person-rule" and err["details"]["request_route"] == "POST /v1/release-requests"
    assert err["details"]["request"] == {"kind": "recording_legal_hold", "recording_id": rec["id"]}
    assert await api.feature.retention.purge_expired() == 0  # still held
    ask = await api.client.post("/v1/release-requests", headers=api.auth("sam"), json={
        **err["details"]["request"], "reason": "the dispute was settled"})
    assert ask.status == 201
    req = await ask.json()
    decide = f"/v1/release-requests/{req['id']}/approve"
    assert (await api.client.post(decide, json={"reason": "legal agrees"}, headers=api.auth("mo_b"))).status == 404
    assert (await api.client.post(decide, json={"reason": "legal agrees"}, headers=api.auth("sam"))).status == 403
    r = await api.client.post(decide, json={"reason": "legal agrees"}, headers=api.auth("mia"))
    assert r.status == 200 and (await r.json())["state"] == "approved"
    assert (await api.rig.store.head(rec["key"])).legal_hold is False  # pushed to the store at once
    assert await api.feature.retention.purge_expired() == 1
    r = await api.client.get(url, headers=api.auth("ada"))
    assert (await r.json())["state"] == "purged"
    assert not (api.rig.store.root / rec["key"]).exists()
    assert len(await api.rig.events("recording.purged")) == 1
    holds = [e for e in await api.log() if e["action"] == "legal_hold"]
    assert [(e["user_id"], e["detail"]) for e in holds] == [
        ("mia", f"off (release request {req['id']} of sam)"), ("sam", "off: refused, two-person rule"),
        ("sam", "on")]
    r = await api.client.get("/v1/audit", headers=api.auth("mia"), params={"target_id": rec["id"]})
    assert [(e["action"], e["actor_id"]) for e in (await r.json())["items"]] == [
        ("recording.legal_hold_released", "mia"), ("recording.legal_hold_set", "sam")]


async def test_samples_are_reproducible_and_reviews_are_stored(api: Api) -> None:
    for agent in ("alice", "alice", "alice", "bob", "bob"):
        await api.stored(agent=agent)
    req = {"filters": {"team": "t1"}, "per_agent": 2, "seed": "2026-w19"}
    a = await (await api.client.post("/v1/qa/samples", json=req, headers=api.auth("quinn"))).json()
    b = await (await api.client.post("/v1/qa/samples", json=req, headers=api.auth("quinn"))).json()
    assert [i["id"] for i in a["items"]] == [i["id"] for i in b["items"]]
    assert sorted(i["agent_id"] for i in a["items"]) == ["alice", "alice", "bob", "bob"]
    bad = await api.client.post("/v1/qa/samples", json={"seed": "x"}, headers=api.auth("quinn"))
    assert bad.status == 422
    rid = a["items"][0]["id"]
    r = await api.client.post(f"/v1/recordings/{rid}/reviews", headers=api.auth("quinn"), json={
        "score": 87, "checklist": [{"item": "identified self", "passed": True}], "notes": "ok"})
    assert r.status == 201 and (await r.json())["reviewer"] == "quinn"
    assert (await api.client.post(f"/v1/recordings/{rid}/reviews", headers=api.auth("quinn"),
                                  json={"score": 101})).status == 422
    r = await api.client.get(f"/v1/recordings/{rid}/reviews", headers=api.auth("sam"))
    assert [x["score"] for x in (await r.json())["items"]] == [87]


async def test_gaps_and_readiness(api: Api) -> None:
    call = await api.rig.add_call()  # answered and ended, but no recording ever arrives
    api.rig.clock.advance(seconds=api.rig.settings.recordings.missing_after_s + 1)
    await api.feature.reconciler.run_once()
    await api.feature.reconciler.run_once()  # once is enough
    r = await api.client.get("/v1/recordings/gaps", headers=api.auth("sam"))
    assert [(g["kind"], g["ref"]) for g in (await r.json())["items"]] == [("missing", call.id)]
    assert len(await api.rig.events("recording.missing")) == 1
    r = await api.client.get("/readyz")
    checks = (await r.json())["checks"]["recordings"]
    assert checks["missing"] == 1 and checks["probe"]["status"] == "unavailable"
    # the row was created by reconcile (the dialer hook never ran); a late file resolves the gap
    api.rig.write_legs(call.id)
    assert await api.feature.ingest.ingest(call.id) == "stored"
    r = await api.client.get("/v1/recordings/gaps", headers=api.auth("sam"))
    assert (await r.json())["items"] == []


async def test_store_orphans_are_gaps_of_their_own_kind(api: Api) -> None:
    rec = await api.stored()
    stray = api.rig.store.root / "recordings/2026/05/04/copied-by-hand.ogg"
    stray.write_bytes(b"an object no recording row points to")
    call = await api.rig.add_call()  # and a missing recording, for the filter
    api.rig.clock.advance(seconds=api.rig.settings.recordings.missing_after_s + 1)
    counts = await api.feature.reconciler.run_once()
    assert (counts["new_store_orphans"], counts["new_missing"]) == (1, 1)
    r = await api.client.get("/v1/recordings/gaps", params={"kind": "store-orphan"}, headers=api.auth("ada"))
    [gap] = (await r.json())["items"]
    assert (gap["kind"], gap["ref"], gap["location"]) == ("store-orphan", "recordings/2026/05/04/copied-by-hand.ogg",
                                                         "store")
    r = await api.client.get("/v1/recordings/gaps", headers=api.auth("ada"))
    assert {(g["kind"], g["ref"]) for g in (await r.json())["items"]} == {
        ("store-orphan", gap["ref"]), ("missing", call.id)}
    r = await api.client.get("/v1/recordings/gaps", headers=api.auth("sam"))  # orphans belong to no client
    assert {(g["kind"], g["ref"]) for g in (await r.json())["items"]} == {("missing", call.id)}
    r = await api.client.get("/v1/recordings/gaps", params={"kind": "lost"}, headers=api.auth("sam"))
    assert r.status == 422
    checks = (await (await api.client.get("/readyz")).json())["checks"]["recordings"]
    assert checks["store_orphans"] == 1 and checks["store_scan"]["passes"] == 1
    assert stray.exists() and (api.rig.store.root / rec["key"]).exists()  # reported, never deleted


async def test_probe_without_phone_is_503(api: Api) -> None:
    r = await api.client.post("/v1/recordings/probe", headers=api.auth("ada"))
    assert r.status == 503 and (await r.json())["error"]["code"] == "probe-unavailable"


async def test_openapi_documents_recordings(api: Api) -> None:
    spec = await (await api.client.get("/v1/openapi.json")).json()
    validate(spec)
    assert "/v1/recordings/{recording_id}/audio" in spec["paths"] and "/v1/qa/samples" in spec["paths"]
    retry = spec["paths"]["/v1/recordings/{recording_id}/retry"]["post"]
    assert retry["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/RetryIn")
    assert {"404", "409", "422"} <= set(retry["responses"])
    [kind] = [p for p in spec["paths"]["/v1/recordings/gaps"]["get"]["parameters"] if p["name"] == "kind"]
    assert "store-orphan" in str(kind["schema"])


async def test_failed_recording_is_listed_retried_after_the_fix_and_stored(api: Api) -> None:
    call = await api.rig.add_call()
    api.rig.write_legs(call.id)
    (api.rig.spool / f"{call.id}-rx.wav").write_bytes(b"ffmpeg cannot decode this")
    assert await api.feature.ingest.ingest(call.id) == "failed"
    r = await api.client.get("/v1/recordings", params={"state": "failed"}, headers=api.auth("sam"))
    [failed] = (await r.json())["items"]
    assert failed["call_id"] == call.id and "invalid recording" in failed["last_error"]
    url = f"/v1/recordings/{failed['id']}/retry"
    for user in ("alice", "quinn", "hook"):  # agents, QA and the case system may not drive the ingest
        r = await api.client.post(url, json={"reason": "fixed the file"}, headers=api.auth(user))
        assert r.status == 403 and (await r.json())["error"]["code"] == "recording-access-denied"
    for bad in ({}, {"reason": ""}, {"reason": "ok", "extra": 1}, {"reason": "x" * 501}):
        r = await api.client.post(url, json=bad, headers=api.auth("sam"))
        assert r.status == 422 and (await r.json())["error"]["code"] == "validation-failed"
    r = await api.client.post("/v1/recordings/nope/retry", json={"reason": "typo"}, headers=api.auth("sam"))
    assert r.status == 404 and (await r.json())["error"]["code"] == "no-such-recording"
    r = await api.client.get(f"/v1/recordings/{failed['id']}", headers=api.auth("sam"))
    assert await r.json() == failed  # nothing changed by the refusals

    api.rig.write_legs(call.id)  # the cause is fixed: a decodable leg in the spool again
    api.rig.clock.advance(seconds=7)
    assert not api.feature._wake.is_set()
    r = await api.client.post(url, json={"reason": "re-exported the leg from the PBX"}, headers=api.auth("sam"))
    assert r.status == 200
    body = await r.json()
    assert (body["state"], body["attempts"]) == ("pending", 0)
    async with api.rig.db.read() as s:
        row = await s.get(Recording, failed["id"])
        assert row is not None and row.next_attempt_at == api.rig.clock.now() and row.lease_owner is None
    assert api.feature._wake.is_set()  # the ingest loop scans at once
    [event] = await api.rig.events("recording.retried")
    assert event.payload["by"] == "sam" and event.payload["reason"] == "re-exported the leg from the PBX"

    r = await api.client.post(url, json={"reason": "again"}, headers=api.auth("ada"))
    err = (await r.json())["error"]
    assert r.status == 409 and err["code"] == "recording-not-failed"
    assert err["details"] == {"recording_id": failed["id"], "state": "pending"}
    assert await api.feature.ingest.scan_once() == 1
    r = await api.client.get(f"/v1/recordings/{failed['id']}", headers=api.auth("sam"))
    stored = await r.json()
    assert stored["state"] == "stored" and stored["last_error"] is None and stored["audio_url"]
    r = await api.client.post(url, json={"reason": "once more"}, headers=api.auth("ada"))
    assert r.status == 409 and (await r.json())["error"]["details"]["state"] == "stored"
    retries = [(e["user_id"], e["result"], e["recording_id"], e["detail"]) for e in await api.log()
               if e["action"] == "retry"]
    assert retries == [  # newest first; the 409s and 422s left no entry
        ("sam", "granted", failed["id"], "re-exported the leg from the PBX"),
        ("sam", "not_found", "nope", None),
        ("hook", "denied", failed["id"], "fixed the file"),
        ("quinn", "denied", failed["id"], "fixed the file"),
        ("alice", "denied", failed["id"], "fixed the file"),
    ]
    assert len(await api.rig.events("recording.retried")) == 1


async def test_pause_resume_only_when_the_client_policy_allows(api: Api) -> None:
    muted: list[tuple[str, str, bool]] = []

    async def mute(pbx: str, channel: str, pause: bool) -> None:
        muted.append((pbx, channel, pause))

    api.feature.service.mute = mute
    call = await api.rig.add_call(ended=False, client="bank-p")
    async with api.rig.db.begin() as s:
        got = await s.get(Call, call.id)
        assert got is not None
        got.agent_channel = "PJSIP/1001-00000001"
        rec = await api.feature.service.on_call_state(s, got)
        assert rec is not None
        s.add(ClientPolicy(client_id="bank-p", jurisdiction="CN", policy={}, retention_days=None, updated_by="t"))
    url = f"/v1/recordings/{rec.id}"
    r = await api.client.post(f"{url}/pause", json={"reason": "card payment"}, headers=api.auth("sam"))
    assert r.status == 409 and (await r.json())["error"]["code"] == "recording-pause-not-allowed"
    assert muted == []
    async with api.rig.db.begin() as s:
        pol = await s.get(ClientPolicy, "bank-p")
        assert pol is not None
        pol.policy = {"recording_pause_allowed": True}
    r = await api.client.post(f"{url}/pause", json={"reason": "card payment"}, headers=api.auth("sam"))
    assert r.status == 200 and (await r.json())["reason"] == "card payment"
    assert (await api.client.post(f"{url}/pause", json={"reason": "again"}, headers=api.auth("sam"))).status == 409
    r = await api.client.post(f"{url}/resume", headers=api.auth("sam"))
    assert r.status == 200 and (await r.json())["resumed_at"]
    assert muted == [("local", "PJSIP/1001-00000001", True), ("local", "PJSIP/1001-00000001", False)]
    assert (await api.client.post(f"{url}/pause", json={"reason": "x" * 5},
                                  headers=api.auth("alice"))).status == 403  # agents cannot pause
    r = await api.client.get("/v1/audit", headers=api.auth("ada"), params={"target_id": rec.id})
    # refusals change nothing and are not audited; each change is (at the same fake instant: sorted by action)
    entries = sorted((await r.json())["items"], key=lambda e: e["action"], reverse=True)
    assert [(e["action"], e["actor_id"], e["client_id"], e["reason"], e["before"]["paused"], e["after"]["paused"])
            for e in entries] == [("recording.resumed", "sam", "bank-p", "card payment", True, False),
                                  ("recording.paused", "sam", "bank-p", "card payment", False, True)]
    assert entries[0]["after"]["resumed_by"] == "sam" and entries[1]["after"]["paused_by"] == "sam"
    assert [e.type for e in await api.rig.events("recording.paused")] == ["recording.paused"]


async def test_legal_hold_of_a_whole_case(api: Api) -> None:
    a = await api.stored()
    b = await api.stored()
    async with api.rig.db.begin() as s:
        assert await legal_hold_case(s, "case-1", True, "cases-service", now=api.rig.clock.now()) == 2
        assert await legal_hold_case(s, "case-1", True, "cases-service") == 0  # idempotent
    assert await api.feature.retention.sync_holds() == 2
    for rec in (a, b):
        assert (await api.rig.store.head(rec["key"])).legal_hold is True
    api.rig.clock.advance(days=800)
    assert await api.feature.retention.purge_expired() == 0
    log = [e for e in await api.log() if e["action"] == "legal_hold"]
    assert {e["recording_id"] for e in log} == {a["id"], b["id"]} and all(e["user_id"] == "cases-service" for e in log)


async def test_another_banks_recording_answers_like_a_missing_one(api: Api) -> None:
    mine = await api.stored(client="bank-a")
    theirs = await api.stored(client="bank-b")
    missing = await api.client.get("/v1/recordings/no-such-id", headers=api.auth("quinn"))
    for user in ("quinn", "mia", "hook", "sue_t2"):  # sue_t2 is bank A's, but supervises another team
        for path in ("", "/audio", "/reviews"):
            r = await api.client.get(f"/v1/recordings/{theirs['id'] if user != 'sue_t2' else mine['id']}{path}",
                                     headers=api.auth(user))
            assert r.status == 404, (user, path)
            assert (await r.json())["error"]["code"] == (await missing.json())["error"]["code"]
    url = f"/v1/recordings/{theirs['id']}"
    assert (await api.client.put(f"{url}/legal-hold", headers=api.auth("mia"))).status == 404
    assert (await api.client.post(f"{url}/reviews", json={"score": 1}, headers=api.auth("quinn"))).status == 404
    r = await api.client.post(f"{url}/retry", json={"reason": "fixed the file"}, headers=api.auth("sam"))
    assert r.status == 404
    assert (await api.client.get(url, headers=api.auth("quinn_b"))).status == 200
    assert (await api.client.get(f"/v1/recordings/{mine['id']}", headers=api.auth("mo_b"))).status == 404
    # the refusals are on the record, as refusals, for bank B's (and the platform's) admins
    denied = [(e["user_id"], e["result"]) for e in await api.log() if e["recording_id"] == theirs["id"]]
    assert ("quinn", "denied") in denied and ("mia", "denied") in denied and ("hook", "denied") in denied


async def test_lists_samples_and_the_access_log_stay_inside_the_bank(api: Api) -> None:
    a = [(await api.stored(agent=agent, client="bank-a"))["id"] for agent in ("alice", "bob")]
    b = [(await api.stored(agent=agent, client="bank-b"))["id"] for agent in ("alice", "bob")]

    async def listed(user: str, **params: str) -> set[str]:
        r = await api.client.get("/v1/recordings", params=params, headers=api.auth(user))
        assert r.status == 200
        return {i["id"] for i in (await r.json())["items"]}

    assert await listed("quinn") == set(a) and await listed("mia") == set(a) and await listed("hook") == set(a)
    assert await listed("quinn_b") == set(b) and await listed("ada") == set(a + b)
    assert await listed("quinn", client="bank-b") == set()  # a filter outside the scope finds nothing
    assert await listed("sue_t2") == set()  # team t2 made none of these calls
    req = {"filters": {}, "percent": 100, "seed": "s"}
    r = await api.client.post("/v1/qa/samples", json=req, headers=api.auth("quinn_b"))
    assert {i["id"] for i in (await r.json())["items"]} == set(b)
    await api.client.get(f"/v1/recordings/{b[0]}", headers=api.auth("quinn_b"))
    await api.client.get(f"/v1/recordings/{a[0]}", headers=api.auth("quinn"))
    r = await api.client.get("/v1/recordings/access-log", headers=api.auth("ada_a"))
    seen = {e["recording_id"] for e in (await r.json())["items"]}
    assert a[0] in seen and not seen & set(b) and None not in seen
    assert {b[0], a[0]} <= {e["recording_id"] for e in await api.log()}  # the global admin sees all
