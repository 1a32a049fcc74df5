"""Recording ingest throughput: audio minutes stored per CPU second (self + ffmpeg children).

Ours: inspect both legs + merge to stereo + transcode to Ogg/Opus + sha256 + LocalStore put +
verify. Baseline: ffmpeg alone transcoding the already merged stereo WAV to the same Opus. Both run
in the same process on the same deterministic recordings (20 x 2-5 min, 8 kHz speech-like legs).

    /work/main/.venv/bin/python -m bench.recording_ingest [--count 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import shutil
import subprocess
import tempfile
import wave
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from recordings.audio import (
    content_type_for,
    ffmpeg_binary,
    inspect_wav,
    merge_stereo,
    sha256_file,
    transcode,
)
from recordings.storage.local import LocalStore

RATE = 8000
DATA = Path(__file__).resolve().parent / ".data" / "recording_ingest"
NAME = "recording_ingest_audio_minutes_per_cpu_s"

try:
    from bench._common import record as _record
except ImportError:  # bench/_common.py is written concurrently; same contract, minimal version
    def _record(name: str, unit: str, value: float, baselines: dict[str, float],
                extra: dict[str, Any] | None = None) -> None:
        results = Path(__file__).resolve().parent / "results.json"
        try:
            data = json.loads(results.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
            data = {"benchmarks": []}
        entry: dict[str, Any] = {"name": name, "unit": unit, "value": value, "baselines": baselines}
        if extra:
            entry["extra"] = extra
        data["benchmarks"] = [b for b in data["benchmarks"] if b.get("name") != name] + [entry]
        results.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _syllables(rng: random.Random, count: int = 48) -> list[array[int]]:
    """Speech-like 80-300 ms bursts: 2-3 harmonics of a 100-250 Hz pitch, noise, syllable envelope."""
    out = []
    for _ in range(count):
        n = int(RATE * rng.uniform(0.08, 0.3))
        f0 = rng.uniform(100, 250)
        formant = rng.uniform(500, 2500)
        amp = rng.uniform(2000, 9000)
        samples = array("h", bytes(2 * n))
        for i in range(n):
            t = i / RATE
            env = math.sin(math.pi * i / n)
            v = (math.sin(2 * math.pi * f0 * t) + 0.5 * math.sin(2 * math.pi * 2 * f0 * t)
                 + 0.3 * math.sin(2 * math.pi * formant * t) + rng.uniform(-0.4, 0.4))
            samples[i] = int(max(-32767, min(32767, amp * env * v / 2.2)))
        out.append(samples)
    return out


def _leg(rng: random.Random, syllables: list[array[int]], seconds: float, talk_first: bool) -> array[int]:
    """Alternating turns: syllable spurts, then faint line noise while the other side talks."""
    total = int(seconds * RATE)
    out = array("h")
    talking = talk_first
    while len(out) < total:
        turn = int(RATE * rng.uniform(1.5, 6.0))
        end = min(total, len(out) + turn)
        if talking:
            while len(out) < end:
                out.extend(rng.choice(syllables))
                out.extend(array("h", bytes(2 * int(RATE * rng.uniform(0.01, 0.08)))))
        else:
            noise = array("h", (rng.randint(-40, 40) for _ in range(256)))
            while len(out) < end:
                out.extend(noise)
        talking = not talking
    del out[total:]
    return out


def _write(path: Path, samples: array[int]) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def generate(count: int, seed: int = 20261129) -> list[tuple[Path, Path, float]]:
    """Create (once, cached in bench/.data) ``count`` pairs of call legs; returns (rx, tx, seconds)."""
    rng = random.Random(seed)
    syllables = _syllables(rng)
    DATA.mkdir(parents=True, exist_ok=True)
    legs = []
    for i in range(count):
        seconds = rng.uniform(120, 300)
        rx, tx = DATA / f"call{i:02d}-rx.wav", DATA / f"call{i:02d}-tx.wav"
        leg_rng = random.Random(seed * 1000 + i)
        if not rx.exists() or not tx.exists():
            _write(rx, _leg(leg_rng, syllables, seconds, True))
            _write(tx, _leg(leg_rng, syllables, seconds, False))
        legs.append((rx, tx, seconds))
    return legs


def cpu_seconds() -> float:
    """User+system CPU of this process plus its reaped children (ffmpeg)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


async def ours(legs: list[tuple[Path, Path, float]], work: Path) -> tuple[float, int]:
    """The full pipeline; returns (CPU seconds, stored bytes)."""
    retain = datetime.now(UTC) + timedelta(days=730)
    stored = 0
    async with LocalStore(work / "store") as store:
        start = cpu_seconds()
        for i, (rx, tx, _) in enumerate(legs):
            inspect_wav(rx)
            inspect_wav(tx)
            merged = work / f"m{i}.wav"
            merge_stereo(rx, tx, merged)
            out = transcode(merged, work / f"m{i}.ogg", "opus")
            sha = sha256_file(out)
            obj = await store.put(f"bench/{i}.ogg", out, sha256=sha, content_type=content_type_for("opus"),
                                  retain_until=retain)
            if not await store.verify(obj.key, sha):
                raise RuntimeError("verify failed")
            stored += obj.size
            merged.unlink()
            out.unlink()
        return cpu_seconds() - start, stored


def ffmpeg_only(legs: list[tuple[Path, Path, float]], work: Path) -> float:
    """Baseline: only the ffmpeg transcode of each pre-merged stereo WAV (merge not counted)."""
    merged = []
    for i, (rx, tx, _) in enumerate(legs):
        merged.append(work / f"b{i}.wav")
        merge_stereo(rx, tx, merged[-1])
    exe = ffmpeg_binary()
    start = cpu_seconds()
    for src in merged:
        subprocess.run([exe, "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-c:a", "libopus",
                        "-b:a", "24k", "-application", "voip", "-f", "ogg", str(src.with_suffix(".ogg"))],
                       check=True)
    return cpu_seconds() - start


def main() -> None:
    """Run both measurements and record them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    legs = generate(args.count)
    minutes = sum(s for _, _, s in legs) / 60
    work = Path(tempfile.mkdtemp(prefix="cg-bench-ingest-"))
    try:
        (work / "base").mkdir()
        base_cpu = ffmpeg_only(legs, work / "base")
        ours_cpu, stored = asyncio.run(ours(legs, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    value = minutes / ours_cpu
    baseline = minutes / base_cpu
    extra = {"recordings": args.count, "audio_minutes": round(minutes, 1), "ours_cpu_s": round(ours_cpu, 2),
             "ffmpeg_only_cpu_s": round(base_cpu, 2), "stored_bytes": stored, "format": "ogg/opus 24k stereo"}
    _record(NAME, "audio min / CPU s", round(value, 2), {"ffmpeg_transcode_only": round(baseline, 2)}, extra)
    print(json.dumps({"name": NAME, "value": round(value, 2), "ffmpeg_transcode_only": round(baseline, 2),
                      **extra}, indent=2))


if __name__ == "__main__":
    main()
