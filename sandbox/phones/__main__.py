"""``python -m sandbox.phones --config FILE``: run the simulated phones, JSON lines on stdin/stdout.

Without ``--shard`` this is the supervisor (``sandbox.phones.supervisor``), which runs one ``--shard``
process (a single pjsua Endpoint, ``SipThread``) per group of phones.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TextIO

from sandbox.phones import supervisor
from sip.config import PhonesConfig
from sip.protocol import Message, ProtocolError, decode_command, encode, event


class _Output:
    """Thread-safe JSON-lines writer on the protocol stream."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        with self._lock:
            self._stream.write(encode(message))
            self._stream.flush()


def _protocol_stream() -> TextIO:
    """Keep the real stdout for the protocol and point fd 1 at stderr (C-level prints stay out)."""
    sys.stdout.flush()
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "w", buffering=1, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.phones")
    parser.add_argument("--config", type=Path, required=True, help="JSON config (see sip.config)")
    parser.add_argument("--shard", action="store_true", help="run one pjsua process (started by the supervisor)")
    args = parser.parse_args(argv)
    config = PhonesConfig.load(args.config)
    output = _Output(_protocol_stream())
    if not args.shard:
        return supervisor.main(config, output)

    # pjsua2 (GPL, optional 'sip' extra) is loaded only by a shard process, never by the supervisor
    from sandbox.phones.sipthread import SipThread  # noqa: PLC0415

    sip = SipThread(config, output)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        sip.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def read_stdin() -> None:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                sip.submit(decode_command(line))
            except ProtocolError as exc:
                output(event("error", message=str(exc)))
        sip.stop()  # EOF: the controller went away

    sip.start()
    threading.Thread(target=read_stdin, name="stdin-reader", daemon=True).start()
    while sip.is_alive():
        sip.join(0.2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
