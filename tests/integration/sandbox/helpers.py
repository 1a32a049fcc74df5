"""Helpers for PBX integration tests: originate, wait for files, read WAV tone frequencies."""

from __future__ import annotations

import array
import asyncio
import uuid
import wave
from pathlib import Path

from sandbox.amitap import AmiTap, Message


async def originate(
    ami: AmiTap, agent: str, number: str, *, timeout_ms: int = 10000, cli: str | None = None
) -> str:
    """Send the Callguard Originate (PBX contract in docs/ARCHITECTURE.md); return the call id."""
    call_id = str(uuid.uuid4())
    # these raw-AMI tests have no service to give the go-ahead, so they pre-approve the customer leg
    variables = f"__CALL_ID={call_id},CALLGUARD_GO=yes" + (f",OUTBOUND_CLI={cli}" if cli else "")
    response = await ami.action(
        "Originate", Channel=f"PJSIP/{agent}", Context="callguard-outbound", Exten=number, Priority="1",
        Async="true", ChannelId=call_id, Variable=variables, Timeout=str(timeout_ms),
        CallerID=f"Callguard <{number}>",
    )
    assert response["Response"] == "Success", response
    return call_id


async def wait_for_file(path: Path, within: float = 10.0) -> None:
    """Poll until ``path`` exists (Asterisk sends no event when MixMonitor's post-command ran)."""
    async with asyncio.timeout(within):
        while True:
            if await asyncio.to_thread(path.exists):
                return
            await asyncio.sleep(0.05)


def customer_leg_hangup(ami: AmiTap, call_id: str) -> Message | None:
    """The Hangup event of the customer channel of ``call_id`` (Linkedid = call id, other Uniqueid)."""
    return ami.find(lambda m: m.get("Event") == "Hangup" and m.get("Linkedid") == call_id
                    and m.get("Uniqueid") != call_id)


def wav_frames(path: Path) -> tuple[int, int]:
    """(number of frames, sample rate) of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes(), wav.getframerate()


def dominant_frequency(path: Path, *, last_seconds: float = 0.5) -> float:
    """Rough tone frequency (zero crossings) over the last ``last_seconds`` of a 16-bit mono WAV."""
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        samples = array.array("h", wav.readframes(wav.getnframes()))
    tail = samples[-int(rate * last_seconds):]
    crossings = sum(1 for a, b in zip(tail, tail[1:], strict=False) if (a < 0) != (b < 0))
    return crossings / 2 / (len(tail) / rate)
