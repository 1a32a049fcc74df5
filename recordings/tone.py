"""Test-tone detection (Goertzel) used by the recording probe to check what a stored file contains.

Pure Python (``array`` + ``math``), no numpy: the probe checks a few seconds of audio, where a
Goertzel pass over 8 kHz samples costs milliseconds. ``detect_tone`` is BLOCKING (ffmpeg decode).
"""

from __future__ import annotations

import math
import subprocess
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recordings.audio import TranscodeFailed, ffmpeg_binary, stderr_tail

DEFAULT_MIN_RATIO = 0.6
_BLOCK_S = 0.1
_SILENCE_DBFS = -50.0
_FULL_SCALE = 32768.0


def tone_power(samples: Sequence[int] | Sequence[float], sample_rate: int, freq: float) -> float:
    """Squared magnitude of the DTFT of ``samples`` at ``freq`` (Goertzel, any frequency, not only bins).

    For a sinusoid of amplitude A over N samples at exactly ``freq`` this is ~ (A*N/2)^2.
    """
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / sample_rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def tone_ratio(samples: Sequence[int], sample_rate: int, freq: float) -> float:
    """Share (0..1) of the block's energy that lies at ``freq``; 1.0 for a pure tone, 0 for silence."""
    n = len(samples)
    energy = math.fsum(float(x) * x for x in samples)
    if n == 0 or energy == 0.0:
        return 0.0
    return min(1.0, 2.0 * tone_power(samples, sample_rate, freq) / (n * energy))


@dataclass(frozen=True, slots=True)
class ToneResult:
    """Outcome of a tone check on one channel."""

    present: bool
    ratio: float  # median share of energy at the frequency over the non-silent blocks
    tone_seconds: float  # total duration of blocks where the tone dominates
    level_dbfs: float  # RMS level of the channel
    channel: int
    freq: float


def decode_pcm(path: Path, *, sample_rate: int = 8000, timeout_s: float = 120.0) -> tuple[array[int], int]:
    """Decode any audio file to interleaved s16 samples at ``sample_rate`` (blocking, ffmpeg).

    Returns (samples, channels). Raises ``TranscodeFailed`` if ffmpeg cannot decode it.
    """
    channels = _probe_channels(path, timeout_s)
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path),
           "-ac", str(channels), "-ar", str(sample_rate), "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TranscodeFailed(path, "ffmpeg decode timed out", stderr_tail(exc.stderr)) from exc
    if proc.returncode != 0:
        raise TranscodeFailed(path, f"ffmpeg decode exited with {proc.returncode}", stderr_tail(proc.stderr))
    samples = array("h")
    raw = proc.stdout
    samples.frombytes(raw[: len(raw) - (len(raw) & 1)])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples, channels


def _probe_channels(path: Path, timeout_s: float) -> int:
    """Channel count of the first audio stream (ffprobe, installed with ffmpeg)."""
    ffprobe = str(Path(ffmpeg_binary()).with_name("ffprobe"))
    cmd = [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels",
           "-of", "csv=p=0", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise TranscodeFailed(path, f"ffprobe failed: {exc}") from exc
    out = proc.stdout.decode("ascii", "replace").strip()
    if proc.returncode != 0 or not out.isdigit():
        raise TranscodeFailed(path, "no audio stream found", stderr_tail(proc.stderr))
    return int(out)


def detect_tone(path: Path, freq: float, channel: int, *, min_ratio: float = DEFAULT_MIN_RATIO,
                min_seconds: float = 0.5, sample_rate: int = 8000) -> ToneResult:
    """Check that ``freq`` dominates ``channel`` (0=left/agent, 1=right/customer) of any stored file.

    Blocking (ffmpeg decode). The channel is cut into 100 ms blocks; the tone is ``present`` when
    blocks above -50 dBFS whose energy is at least ``min_ratio`` at ``freq`` add up to
    ``min_seconds``.
    """
    samples, channels = decode_pcm(path, sample_rate=sample_rate)
    if not 0 <= channel < channels:
        raise ValueError(f"channel {channel} not in a {channels}-channel file")
    mono = samples[channel::channels]
    return analyse_tone(mono, sample_rate, freq, channel=channel, min_ratio=min_ratio,
                        min_seconds=min_seconds)


def analyse_tone(mono: array[int], sample_rate: int, freq: float, *, channel: int = 0,
                 min_ratio: float = DEFAULT_MIN_RATIO, min_seconds: float = 0.5) -> ToneResult:
    """The numeric part of ``detect_tone`` over already decoded mono samples."""
    block = max(1, int(sample_rate * _BLOCK_S))
    floor = (_FULL_SCALE * 10 ** (_SILENCE_DBFS / 20)) ** 2
    ratios: list[float] = []
    tone_blocks = 0
    for start in range(0, len(mono) - block + 1, block):
        chunk = mono[start:start + block]
        mean_sq = math.fsum(float(x) * x for x in chunk) / block
        if mean_sq < floor:
            continue
        r = tone_ratio(chunk, sample_rate, freq)
        ratios.append(r)
        if r >= min_ratio:
            tone_blocks += 1
    total_sq = math.fsum(float(x) * x for x in mono)
    level = 10 * math.log10(total_sq / len(mono) / _FULL_SCALE ** 2) if total_sq > 0 else -math.inf
    ratios.sort()
    median = ratios[len(ratios) // 2] if ratios else 0.0
    seconds = tone_blocks * block / sample_rate
    return ToneResult(present=seconds >= min_seconds, ratio=median, tone_seconds=seconds,
                      level_dbfs=level, channel=channel, freq=freq)
