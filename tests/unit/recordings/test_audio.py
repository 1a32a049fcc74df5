import os
import struct
import wave
from array import array
from pathlib import Path

import pytest

from recordings.audio import (
    InvalidRecording,
    TranscodeFailed,
    content_type_for,
    inspect_wav,
    merge_stereo,
    sha256_file,
    transcode,
)
from tests.support.wavgen import tone_samples, write_wav


def test_inspect_valid_wav(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "a.wav", tone_samples(600, 1.5))
    info = inspect_wav(p)
    assert (info.channels, info.sample_rate, info.sample_width, info.frames) == (1, 8000, 2, 12000)
    assert info.duration_s == pytest.approx(1.5)
    assert not info.is_empty and not info.header_repaired


def test_inspect_empty_44_byte_wav(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "empty.wav", array("h"))
    assert p.stat().st_size == 44
    info = inspect_wav(p)
    assert info.is_empty and info.frames == 0 and info.duration_s == 0


def test_zero_data_size_header_is_repaired_from_file_size(tmp_path: Path) -> None:
    # Asterisk leaves data size 0 when the header was never finalised.
    p = write_wav(tmp_path / "q.wav", tone_samples(600, 2.0), declared_data=0)
    info = inspect_wav(p)
    assert info.frames == 16000 and info.header_repaired


def test_placeholder_ffffffff_and_odd_trailing_byte(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "q.wav", tone_samples(600, 1.0), declared_data=0xFFFFFFFF)
    with p.open("ab") as fh:
        fh.write(b"\x01")
    assert inspect_wav(p).frames == 8000


def test_data_size_larger_than_file_is_truncated(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "t.wav", tone_samples(600, 1.0), declared_data=32000)
    with pytest.raises(InvalidRecording, match="truncated"):
        inspect_wav(p)


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00", b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00"])
def test_truncated_header(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "t.wav"
    p.write_bytes(content)
    with pytest.raises(InvalidRecording) as err:
        inspect_wav(p)
    assert "truncated" in err.value.reason


def test_garbage_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "g.wav"
    p.write_bytes(os.urandom(1000))
    with pytest.raises(InvalidRecording, match="not a RIFF/WAVE"):
        inspect_wav(p)
    with pytest.raises(InvalidRecording, match="cannot read"):
        inspect_wav(tmp_path / "missing.wav")


def test_non_pcm_wav_is_unsupported(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "gsm.wav", tone_samples(600, 0.1), fmt_tag=0x31)
    with pytest.raises(InvalidRecording, match="unsupported WAV encoding 0x0031"):
        inspect_wav(p)


def test_chunk_before_data_is_skipped(tmp_path: Path) -> None:
    data = tone_samples(600, 0.5).tobytes()
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    extra = b"LIST" + struct.pack("<I", 5) + b"hello\x00"  # odd size + pad byte
    body = b"WAVE" + fmt + extra + b"data" + struct.pack("<I", len(data)) + data
    p = tmp_path / "list.wav"
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    info = inspect_wav(p)
    assert info.frames == 4000 and info.data_offset == 12 + len(fmt) + len(extra) + 8


def test_merge_stereo_interleaves_and_pads(tmp_path: Path) -> None:
    left = array("h", [1, 2, 3, 4, 5])
    right = array("h", [-1, -2, -3])
    lp = write_wav(tmp_path / "rx.wav", left)
    rp = write_wav(tmp_path / "tx.wav", right, declared_data=0)
    info = merge_stereo(lp, rp, tmp_path / "out" / "m.wav")
    assert (info.channels, info.frames) == (2, 5)
    with wave.open(str(tmp_path / "out" / "m.wav"), "rb") as w:
        assert w.getnchannels() == 2 and w.getframerate() == 8000
        merged = array("h", w.readframes(10))
    assert list(merged) == [1, -1, 2, -2, 3, -3, 4, 0, 5, 0]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["m.wav"]


def test_merge_refuses_rate_mismatch_and_stereo_input(tmp_path: Path) -> None:
    a = write_wav(tmp_path / "a.wav", tone_samples(600, 0.1))
    b = write_wav(tmp_path / "b.wav", tone_samples(600, 0.1, rate=16000), rate=16000)
    s = write_wav(tmp_path / "s.wav", tone_samples(600, 0.1), channels=2)
    with pytest.raises(InvalidRecording, match="sample rate"):
        merge_stereo(a, b, tmp_path / "m.wav")
    with pytest.raises(InvalidRecording, match="expected mono"):
        merge_stereo(s, a, tmp_path / "m.wav")
    assert not (tmp_path / "m.wav").exists()


@pytest.mark.parametrize(("fmt", "magic"), [("opus", b"OggS"), ("mp3", None), ("wav", b"RIFF")])
def test_transcode_formats(tmp_path: Path, fmt: str, magic: bytes | None) -> None:
    src = write_wav(tmp_path / "a.wav", tone_samples(600, 2.0))
    out = transcode(src, tmp_path / f"out.{fmt}", fmt)
    head = out.read_bytes()[:4]
    if magic:
        assert head == magic
    else:
        assert head[:3] == b"ID3" or head[0] == 0xFF
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.wav", f"out.{fmt}"])


def test_transcode_failure_is_clear_and_leaves_no_temp_files(tmp_path: Path) -> None:
    src = tmp_path / "broken.wav"
    src.write_bytes(b"RIFF" + os.urandom(500))
    out_dir = tmp_path / "out"
    with pytest.raises(TranscodeFailed) as err:
        transcode(src, out_dir / "x.ogg", "opus")
    assert "ffmpeg exited with" in err.value.message
    assert err.value.stderr  # ffmpeg's own words are kept
    assert err.value.details["stderr"] == err.value.stderr
    assert list(out_dir.iterdir()) == []


def test_transcode_bad_bitrate_leaves_previous_output(tmp_path: Path) -> None:
    src = write_wav(tmp_path / "a.wav", tone_samples(600, 0.5))
    dst = tmp_path / "a.mp3"
    dst.write_bytes(b"previous")
    with pytest.raises(TranscodeFailed):
        transcode(src, dst, "mp3", "notabitrate")
    assert dst.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp3", "a.wav"]


def test_transcode_missing_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_wav(tmp_path / "a.wav", tone_samples(600, 0.1))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.delenv("FFMPEG", raising=False)
    with pytest.raises(TranscodeFailed, match="ffmpeg not found"):
        transcode(src, tmp_path / "a.ogg", "opus")


def test_sha256_and_content_types(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert content_type_for("opus") == "audio/ogg"
    assert content_type_for("mp3") == "audio/mpeg"
    assert content_type_for("wav") == "audio/wav"
    with pytest.raises(ValueError):
        content_type_for("flac")
