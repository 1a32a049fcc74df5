import math
from array import array
from pathlib import Path

import pytest

from recordings.audio import merge_stereo, transcode
from recordings.tone import analyse_tone, detect_tone, tone_power, tone_ratio
from tests.support.wavgen import tone_samples, write_wav


def test_goertzel_power_of_pure_tone() -> None:
    s = tone_samples(600, 0.5, amp=1000)
    n = len(s)
    assert tone_power(s, 8000, 600) == pytest.approx((1000 * n / 2) ** 2, rel=0.01)
    assert tone_power(s, 8000, 1000) < tone_power(s, 8000, 600) * 1e-3


def test_tone_ratio_bounds() -> None:
    assert tone_ratio(tone_samples(1000, 0.1), 8000, 1000) == pytest.approx(1.0, abs=0.02)
    assert tone_ratio(array("h", [0] * 800), 8000, 1000) == 0.0
    mixed = array("h", (a + b for a, b in zip(tone_samples(600, 0.1, amp=5000),
                                               tone_samples(1000, 0.1, amp=5000), strict=True)))
    assert tone_ratio(mixed, 8000, 600) == pytest.approx(0.5, abs=0.05)


def test_silence_is_not_a_tone() -> None:
    r = analyse_tone(array("h", [0] * 8000), 8000, 600)
    assert not r.present and r.tone_seconds == 0 and r.level_dbfs == -math.inf


@pytest.fixture(scope="module")
def stereo_opus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tone")
    left = write_wav(d / "call-rx.wav", tone_samples(600, 3.0))
    right = write_wav(d / "call-tx.wav", tone_samples(1000, 2.0))
    merged = merge_stereo(left, right, d / "call.wav")
    assert merged.channels == 2
    return transcode(d / "call.wav", d / "call.ogg", "opus")


@pytest.mark.parametrize(("freq", "channel", "present"),
                         [(600, 0, True), (600, 1, False), (1000, 0, False), (1000, 1, True)])
def test_tone_survives_merge_and_opus_on_its_channel_only(stereo_opus: Path, freq: int, channel: int,
                                                          present: bool) -> None:
    r = detect_tone(stereo_opus, freq, channel)
    assert r.present is present, r
    if present:
        assert r.ratio > 0.9
        assert r.tone_seconds >= (3.0 if freq == 600 else 2.0) - 0.2
    else:
        assert r.ratio < 0.1


def test_detect_tone_rejects_missing_channel(tmp_path: Path) -> None:
    mono = write_wav(tmp_path / "m.wav", tone_samples(600, 0.5))
    with pytest.raises(ValueError, match="channel 1"):
        detect_tone(mono, 600, 1)
    assert detect_tone(mono, 600, 0).present
