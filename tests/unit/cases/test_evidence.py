"""Evidence of valid collection from the contact log, and the zip export with its manifest."""

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

from auth.service import OPERATOR
from cases.evidence import add_months, contacts, evidence
from cases.export import prepare_export, stream_zip
from cases.models import ContactLog
from cases.service import CaseService
from core.clock import FakeClock
from core.events import EventLog
from tests.unit.cases.test_service import _case

T0 = datetime(2024, 11, 30, 10, 0, tzinfo=UTC)
AUDIO = {"r1": b"RIFF-one" * 1000, "r2": b"RIFF-two" * 500, "r3": b"RIFF-three"}


class FakeRecordings:
    """Stands in for the recordings feature."""

    def __init__(self):
        self.prepared = []

    async def prepare(self, recording_ids):
        self.prepared = list(recording_ids)
        return {rid: len(AUDIO[rid]) for rid in recording_ids}

    async def open(self, recording_id):
        data = AUDIO[recording_id]
        for i in range(0, len(data), 1024):
            yield data[i:i + 1024]


def _row(cid, n, at, **over):
    values = dict(call_id=f"c{n}", case_id=cid, at=at, agent_id="a1", number="+8613800138000",
                  number_kind="mobile", connected=True, talk_seconds=60.0, outcome="right_party_contact",
                  recording_id=None, recording_sha256=None, extra={})
    values.update(over)
    return ContactLog(**values)


def test_add_months_clamps_to_month_end():
    assert add_months(datetime(2025, 1, 31, tzinfo=UTC), 1) == datetime(2025, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2024, 11, 30, tzinfo=UTC), 3) == datetime(2025, 2, 28, tzinfo=UTC)


async def test_two_valid_collections_30_days_apart_and_three_months(database):
    svc = CaseService(db=database, events=EventLog(), clock=FakeClock(T0))
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_case())).case_id
    sha = {k: hashlib.sha256(v).hexdigest() for k, v in AUDIO.items()}
    async with database.begin() as s:
        s.add_all([
            _row(cid, 1, T0, recording_id="r1", recording_sha256=sha["r1"]),
            _row(cid, 2, T0 + timedelta(days=10), recording_id="r3", recording_sha256=sha["r3"]),
            _row(cid, 3, T0 + timedelta(days=29), number_kind="third_party", recording_id="r3",
                 recording_sha256=sha["r3"]),  # not the debtor's number
            _row(cid, 4, T0 + timedelta(days=31)),  # no recording
            _row(cid, 5, T0 + timedelta(days=32), outcome="wrong_number", recording_id="r3",
                 recording_sha256=sha["r3"]),
            _row(cid, 6, T0 + timedelta(days=35), outcome=None, talk_seconds=45.0, recording_id="r2",
                 recording_sha256=sha["r2"]),
        ])
    async with database.read() as s:
        early = await evidence(s, cid, now=T0 + timedelta(days=60))
        late = await evidence(s, cid, now=T0 + timedelta(days=130))
        _, log = await contacts(s, cid)
    assert [r.call_id for r in early.valid_collections] == ["c1", "c2", "c6"]
    doc = early.to_json()
    assert doc["two_collections_30_days_apart"] and doc["first"]["call_id"] == "c1"
    assert doc["second"]["call_id"] == "c6" and not doc["more_than_three_months_passed"]
    assert doc["three_months_after_second"] == add_months(T0 + timedelta(days=35), 3)
    assert late.to_json()["since"] == doc["three_months_after_second"]
    assert len(log) == 6

    source = FakeRecordings()
    plan = await prepare_export(early, log, source)
    assert source.prepared == ["r1", "r3", "r2"]
    async with stream_zip(plan, source) as chunks:
        blob = b"".join([c async for c in chunks])
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(zf.read(entry["file"])).hexdigest() == entry["sha256"]
    recs = [e for e in manifest["files"] if e["file"].startswith("recordings/")]
    assert len(recs) == 3 and all(e["matches_contact_log"] for e in recs)
    assert [e["file"] for e in manifest["files"]] == [
        "recordings/c1-r1", "recordings/c2-r3", "recordings/c6-r2", "evidence.json", "contacts.json"]


async def test_no_pair_when_valid_collections_are_too_close(database):
    svc = CaseService(db=database, events=EventLog(), clock=FakeClock(T0))
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_case())).case_id
    async with database.begin() as s:
        s.add_all([_row(cid, 1, T0, recording_id="r1", recording_sha256="a" * 64),
                   _row(cid, 2, T0 + timedelta(days=29, hours=23), recording_id="r2", recording_sha256="b" * 64)])
    async with database.read() as s:
        doc = (await evidence(s, cid, now=T0 + timedelta(days=400))).to_json()
    assert not doc["two_collections_30_days_apart"] and doc["since"] is None
