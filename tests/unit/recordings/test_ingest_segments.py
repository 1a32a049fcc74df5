"""A transferred call's recording: the agent's part and the segments recorded on the customer's channel after
each transfer (``<id>-s<n>``) are joined in order into one stereo recording, only once the call has ended and
every segment that started is closed; segment markers are never recordings of their own."""

from __future__ import annotations

from array import array

import pytest
from sqlalchemy import select

from dialer.models import Call
from recordings.ingest import list_markers
from recordings.models import Recording
from recordings.tone import analyse_tone, decode_pcm
from tests.support.wavgen import tone_samples, write_wav
from tests.unit.recordings.conftest import Rig

RATE = 8000


def _segment(rig: Rig, call_id: str, n: int, *, staff_hz: int, seconds: float, marker: bool = True) -> None:
    stem = f"{call_id}-s{n}"
    write_wav(rig.spool / f"{stem}-rx.wav", tone_samples(staff_hz, seconds))
    write_wav(rig.spool / f"{stem}-tx.wav", tone_samples(1000, seconds))
    write_wav(rig.spool / f"{stem}.wav", tone_samples(800, seconds))
    if marker:
        (rig.spool / f"{stem}.done").touch()


async def _transferred(rig: Rig, *, segments: int, ended: bool = True) -> Call:
    call = await rig.add_call(ended=ended)
    async with rig.db.begin() as s:
        row = await s.get(Call, call.id)
        assert row is not None
        row.facts = {"segments": segments}
    return call


def _has(samples: list[int], hz: int, start: float, end: float) -> bool:
    return analyse_tone(array("h", samples[int(start * RATE):int(end * RATE)]), RATE, hz).present


async def test_the_agents_part_and_the_segment_are_one_stereo_recording_in_order(rig: Rig) -> None:
    call = await _transferred(rig, segments=1)
    rig.write_legs(call.id, seconds=2.0)  # ana: 600 Hz left, the customer 1000 Hz right
    _segment(rig, call.id, 1, staff_hz=900, seconds=3.0)  # pete after the transfer
    assert list_markers(rig.spool) == [call.id]  # the segment's marker is not a recording of its own
    async with rig.feature() as f:
        assert await f.ingest.ingest(call.id) == "stored"
    async with rig.db.read() as s:
        rec = await s.scalar(select(Recording).where(Recording.call_id == call.id))
    assert rec is not None and rec.state == "stored" and rec.channels == 2
    assert rec.duration_s == pytest.approx(5.0, abs=0.01)
    assert rec.key is not None
    samples, channels = decode_pcm(rig.store.root / rec.key, sample_rate=RATE)
    left, right = list(samples[0::channels]), list(samples[1::channels])
    assert _has(left, 600, 0, 2) and not _has(left, 900, 0, 2)
    assert _has(left, 900, 2, 5) and not _has(left, 600, 2, 5)
    assert _has(right, 1000, 0, 5) and not _has(right, 600, 0, 5) and not _has(right, 900, 0, 5)
    assert rig.spool_names() == set()  # every part removed after the stored commit


async def test_it_waits_for_the_call_to_end_and_for_each_started_segment_to_close(rig: Rig) -> None:
    call = await _transferred(rig, segments=2, ended=False)
    rig.write_legs(call.id)
    _segment(rig, call.id, 1, staff_hz=900, seconds=1.0)
    async with rig.feature() as f:
        assert await f.ingest.ingest(call.id) is None  # the customer is still talking to the target
        async with rig.db.begin() as s:
            row = await s.get(Call, call.id)
            assert row is not None
            row.ended_at, row.state, row.end_reason = rig.clock.now(), "ended", "completed"
        _segment(rig, call.id, 2, staff_hz=700, seconds=1.0, marker=False)
        assert await f.ingest.ingest(call.id) is None  # segment 2 is still being written
        (rig.spool / f"{call.id}-s2.done").touch()
        assert await f.ingest.ingest(call.id) == "stored"
    async with rig.db.read() as s:
        rec = await s.scalar(select(Recording).where(Recording.call_id == call.id))
    assert rec is not None and rec.duration_s == pytest.approx(3.0, abs=0.01)


async def test_a_segment_that_never_started_is_left_out(rig: Rig) -> None:
    call = await _transferred(rig, segments=1)  # the PBX refused the transfer: no file of segment 1
    rig.write_legs(call.id, seconds=2.0)
    async with rig.feature() as f:
        assert await f.ingest.ingest(call.id) == "stored"
    async with rig.db.read() as s:
        rec = await s.scalar(select(Recording).where(Recording.call_id == call.id))
    assert rec is not None and rec.duration_s == pytest.approx(2.0, abs=0.01)
