"""A barging supervisor in the call's recording: the stint the supervisor's leg recorded
(``<call>-barge-<session>-<n>-rx.wav``) is added to the agent side at the time it was said (placed by the files'
beginnings: modification time minus duration), the customer side stays the customer's, the recording waits for
a stint still being written, and the stint files leave the spool with the call's."""

from __future__ import annotations

import os
import time
import uuid
from array import array
from pathlib import Path

import pytest
from sqlalchemy import select

from recordings import barge
from recordings.audio import inspect_wav, mix_into
from recordings.ingest import list_markers
from recordings.models import Recording
from recordings.tone import analyse_tone, decode_pcm
from tests.support.wavgen import tone_samples, write_wav
from tests.unit.recordings.conftest import Rig

RATE = 8000
BARGE_HZ, AGENT_HZ, CUSTOMER_HZ = 2500, 600, 1000


def _has(samples: list[int], hz: int, start: float, end: float) -> bool:
    return analyse_tone(array("h", samples[int(start * RATE):int(end * RATE)]), RATE, hz, min_ratio=0.25).present


def _mono(path: Path) -> list[int]:
    samples, channels = decode_pcm(path, sample_rate=RATE)
    assert channels == 1
    return list(samples)


def _ended_at(path: Path, at: float) -> None:
    os.utime(path, (at, at))


def _stint(spool: Path, call_id: str, *, began_at: float, seconds: float, n: int = 1, marker: bool = True,
           session: str | None = None) -> Path:
    stem = f"{call_id}-barge-{session or uuid.uuid4()}-{n}"
    audio = write_wav(spool / f"{stem}-rx.wav", tone_samples(BARGE_HZ, seconds))
    _ended_at(audio, began_at + seconds)
    if marker:
        (spool / f"{stem}.done").touch()
    return audio


# -- the mix (pure audio) -----------------------------------------------------------------------------------
def test_a_layer_lands_at_its_offset_and_the_base_keeps_its_length(tmp_path: Path) -> None:
    base = write_wav(tmp_path / "base.wav", tone_samples(AGENT_HZ, 4.0))
    layer = write_wav(tmp_path / "layer.wav", tone_samples(BARGE_HZ, 1.0))
    info = mix_into(base, [(layer, int(1.5 * RATE))], tmp_path / "out.wav")
    assert (info.channels, info.frames) == (1, 4 * RATE) == (inspect_wav(tmp_path / "out.wav").channels,
                                                              inspect_wav(tmp_path / "out.wav").frames)
    out = _mono(tmp_path / "out.wav")
    assert _has(out, BARGE_HZ, 1.55, 2.45) and _has(out, AGENT_HZ, 1.55, 2.45)  # both voices, mixed
    assert not _has(out, BARGE_HZ, 0, 1.45) and not _has(out, BARGE_HZ, 2.55, 4.0)
    assert _has(out, AGENT_HZ, 0, 4.0)


def test_a_layer_before_the_base_began_or_after_it_ended_is_cut_to_the_base(tmp_path: Path) -> None:
    base = write_wav(tmp_path / "base.wav", array("h", bytes(2 * 3 * RATE)))  # 3 s of silence
    early = write_wav(tmp_path / "early.wav", tone_samples(BARGE_HZ, 1.0))
    late = write_wav(tmp_path / "late.wav", tone_samples(1800, 1.0))
    mix_into(base, [(early, -RATE // 2), (late, int(2.5 * RATE))], tmp_path / "out.wav")
    out = _mono(tmp_path / "out.wav")
    assert len(out) == 3 * RATE
    assert _has(out, BARGE_HZ, 0, 0.5) and not _has(out, BARGE_HZ, 0.55, 3.0)
    assert _has(out, 1800, 2.5, 3.0) and not _has(out, 1800, 0, 2.45)


def test_sums_are_clipped_to_16_bits(tmp_path: Path) -> None:
    base = write_wav(tmp_path / "base.wav", array("h", [30000, -30000, 100] * 10))
    layer = write_wav(tmp_path / "layer.wav", array("h", [30000, -30000, 100] * 10))
    mix_into(base, [(layer, 0)], tmp_path / "out.wav")
    with (tmp_path / "out.wav").open("rb") as fh:
        fh.seek(inspect_wav(tmp_path / "out.wav").data_offset)
        out = array("h", fh.read())
    assert list(out[:3]) == [32767, -32768, 200]


def test_a_stint_is_placed_by_the_beginnings_of_the_two_files(tmp_path: Path) -> None:
    base = write_wav(tmp_path / "base.wav", tone_samples(AGENT_HZ, 10.0))
    base_end = 1_700_000_010.0  # began at ...000.0
    audio = write_wav(tmp_path / "s.wav", tone_samples(BARGE_HZ, 2.0))
    stint = barge.Stint(audio, ended_at=1_700_000_006.5, info=inspect_wav(audio))  # began at ...004.5
    assert stint.began_at == pytest.approx(1_700_000_004.5)
    assert barge.offset_frames(base_end, inspect_wav(base), stint) == int(4.5 * RATE)


# -- the ingest ---------------------------------------------------------------------------------------------
async def test_the_barging_supervisor_is_on_the_agent_side_at_the_time_it_was_said(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id, seconds=6.0)  # the agent 600 Hz left, the customer 1000 Hz right
    end = time.time() - 5
    for leg in ("-rx", "-tx", ""):
        _ended_at(rig.spool / f"{call.id}{leg}.wav", end)
    session = str(uuid.uuid4())
    _stint(rig.spool, call.id, began_at=end - 6 + 2.0, seconds=1.5, session=session)  # 2.0 .. 3.5 s
    _stint(rig.spool, call.id, began_at=end - 6 + 4.5, seconds=1.0, session=session, n=2)  # 4.5 .. 5.5 s
    assert list_markers(rig.spool) == [call.id]  # a stint's marker is not a recording of its own
    async with rig.feature() as f:
        assert await f.ingest.ingest(call.id) == "stored"
    async with rig.db.read() as s:
        rec = await s.scalar(select(Recording).where(Recording.call_id == call.id))
    assert rec is not None and rec.state == "stored" and rec.channels == 2 and rec.key is not None
    assert rec.duration_s == pytest.approx(6.0, abs=0.01)  # the call's length, not more
    samples, channels = decode_pcm(rig.store.root / rec.key, sample_rate=RATE)
    left, right = list(samples[0::channels]), list(samples[1::channels])
    assert _has(left, BARGE_HZ, 2.1, 3.4) and _has(left, BARGE_HZ, 4.6, 5.4)
    assert not _has(left, BARGE_HZ, 0, 1.9) and not _has(left, BARGE_HZ, 3.6, 4.4)
    assert not _has(left, BARGE_HZ, 5.6, 6.0)
    assert _has(left, AGENT_HZ, 0, 6.0)  # the agent is still there under the supervisor
    assert not _has(right, BARGE_HZ, 0, 6.0) and _has(right, CUSTOMER_HZ, 0, 6.0)
    assert not any(rig.spool.glob(f"{call.id}*"))  # the stints left the spool with the call's files


async def test_the_recording_waits_for_a_stint_still_being_written(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id, seconds=3.0)
    end = time.time()
    _stint(rig.spool, call.id, began_at=end - 2.0, seconds=1.0, marker=False)
    async with rig.feature() as f:
        assert await f.ingest.ingest(call.id) is None  # the supervisor's leg has not closed its file yet
        assert rig.store.puts == []
        marker = next(rig.spool.glob(f"{call.id}-barge-*-rx.wav")).name[:-len("-rx.wav")] + ".done"
        (rig.spool / marker).touch()
        assert await f.ingest.ingest(call.id) == "stored"


def test_a_stint_untouched_for_long_without_its_marker_no_longer_holds_the_recording(tmp_path: Path) -> None:
    call_id = str(uuid.uuid4())
    now = time.time()
    _stint(tmp_path, call_id, began_at=now - 1000, seconds=1.0, marker=False)
    assert barge.stints_closed(tmp_path, call_id, now)
    assert not barge.stints_closed(tmp_path, call_id, now - 1000 + 1.0 + barge.ABANDONED_S - 1)


def test_only_the_calls_own_stint_files_are_its_own(tmp_path: Path) -> None:
    call_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    mine = _stint(tmp_path, call_id, began_at=time.time() - 10, seconds=0.5)
    _stint(tmp_path, other, began_at=time.time() - 10, seconds=0.5)
    (tmp_path / f"{call_id}-barge-not-a-session-1-rx.wav").touch()
    (tmp_path / f"{call_id}-barge-{uuid.uuid4()}-1-rx.wav;touch x").touch()
    names = [p.name for p in barge.stint_files(tmp_path, call_id)]
    assert names == [mine.name, barge.marker_of(mine).name]
