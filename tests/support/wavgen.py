"""Test WAV generators (deterministic)."""

from __future__ import annotations

import math
import struct
from array import array
from pathlib import Path


def tone_samples(freq: float, seconds: float, rate: int = 8000, amp: int = 8000) -> array[int]:
    n = int(seconds * rate)
    return array("h", (int(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))


def write_wav(path: Path, samples: array[int], *, rate: int = 8000, channels: int = 1,
              declared_data: int | None = None, fmt_tag: int = 1, bits: int = 16) -> Path:
    """A canonical 44-byte-header WAV; ``declared_data`` overrides the data chunk size field."""
    data = samples.tobytes()
    width = bits // 8
    size = len(data) if declared_data is None else declared_data
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, fmt_tag, channels, rate, rate * channels * width,
                                    channels * width, bits)
    header += b"data" + struct.pack("<I", size)
    path.write_bytes(header + data)
    return path
