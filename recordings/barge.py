"""A supervisor's barge in a call's recording: finding the barge stints in the spool and placing them in time.

ChanSpy's barge audio reaches the call after the agent leg's MixMonitor has seen each frame, so the call's own
recording never holds the supervisor. The dial plan therefore records the supervisor's leg itself while it is
in barge (``callguard-monitor-record``): one file per barge stint, ``<call id>-barge-<session id>-<n>-rx.wav``
(what the supervisor said), with a marker ``<...>.done`` once it is closed. Listen and whisper are never
recorded. The ingest adds each stint to the agent side (left) of the call's recording, the side the customer
hears from the call: in barge the customer heard the supervisor there (docs/PBX.md "Monitoring").

Time: Asterisk writes a MixMonitor file frame by frame as the audio flows and closes it when the recording
ends, so a file began at its modification time minus its duration. A stint's place in the call's recording is
the difference of the two beginnings. Both files are written by the same Asterisk on the same disk, so their
times compare; the spool must keep the modification times Asterisk gave them (it is Asterisk's own directory).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from recordings.audio import InvalidRecording, WavInfo, inspect_wav

log = logging.getLogger(__name__)

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
STINT = re.compile(rf"^(?P<call>{_UUID})-barge-(?P<session>{_UUID})-(?P<n>[0-9]{{1,4}})$")
_STINT_FILE = re.compile(rf"^(?P<stem>{_UUID}-barge-{_UUID}-[0-9]{{1,4}})(?P<kind>-rx\.wav|\.done)$")
ABANDONED_S = 120.0  # a stint file without its marker, untouched this long, is closed for good (Asterisk died)


@dataclass(frozen=True, slots=True)
class Stint:
    """One barge stint's audio file: when it stopped being written and how long it is."""

    path: Path
    ended_at: float  # POSIX seconds (the file's modification time)
    info: WavInfo

    @property
    def began_at(self) -> float:
        """When its first frame was recorded."""
        return self.ended_at - self.info.duration_s


def stint_files(spool: Path, call_id: str) -> list[Path]:
    """Blocking: every barge file of ``call_id`` in the spool (audio and markers), markers last."""
    found = [p for p in spool.glob(f"{call_id}-barge-*") if _owned(p.name, call_id)]
    return sorted(found, key=lambda p: (p.name.endswith(".done"), p.name))


def _owned(name: str, call_id: str) -> bool:
    m = _STINT_FILE.match(name)
    return m is not None and m["stem"].startswith(f"{call_id}-barge-")


def _audio(spool: Path, call_id: str) -> list[Path]:
    return [p for p in stint_files(spool, call_id) if p.name.endswith("-rx.wav")]


def marker_of(audio: Path) -> Path:
    """The marker the dial plan touches once the stint's file is closed."""
    return audio.with_name(audio.name[: -len("-rx.wav")] + ".done")


def stints_closed(spool: Path, call_id: str, now: float) -> bool:
    """Blocking: is every barge stint of the call closed (its marker), or abandoned (untouched for
    ``ABANDONED_S`` by ``now``, POSIX seconds)? The call's recording waits for them: a supervisor's leg ends
    just after the agent's, as ChanSpy leaves with the agent's channel."""
    for audio in _audio(spool, call_id):
        if marker_of(audio).exists():
            continue
        try:
            touched = audio.stat().st_mtime
        except FileNotFoundError:
            continue
        if now - touched < ABANDONED_S:
            return False
    return True


def stints(spool: Path, call_id: str) -> list[Stint]:
    """Blocking: the call's barge stints with audio, in file-name order; an unreadable one is logged and left
    out (the call's own recording is worth more than one stint)."""
    out: list[Stint] = []
    for audio in _audio(spool, call_id):
        try:
            info = inspect_wav(audio)
            ended = audio.stat().st_mtime_ns / 1e9
        except (InvalidRecording, OSError) as exc:
            log.warning("barge stint %s left out of the recording of %s: %s", audio.name, call_id, exc)
            continue
        if not info.is_empty:
            out.append(Stint(audio, ended, info))
    return out


def offset_frames(base_ended_at: float, base: WavInfo, stint: Stint) -> int:
    """Where the stint's first frame lands in the base recording (frames; negative: before it began)."""
    base_began = base_ended_at - base.duration_s
    return round((stint.began_at - base_began) * base.sample_rate)
