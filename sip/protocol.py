"""JSON-lines protocol between the phones process and its controller, plus SIP text helpers (pure).

Events (stdout, one JSON object a line): ``ready``, ``registered``, ``registration_failed``,
``unregistered``, ``incoming``, ``ringing``, ``answered``, ``ended``, ``dtmf``, ``error``, ``stopped``.
Commands (stdin): ``hangup``, ``set_behaviour``, ``call`` (optional ``caller``: the From number),
``dtmf`` (``digits``) and ``tone`` (``hz``, 0 = silence) on a phone's established call(s), ``quit``.
"""

from __future__ import annotations

import json
import re
from typing import Any

EVENTS = frozenset(
    {"ready", "registered", "registration_failed", "unregistered", "incoming", "ringing",
     "answered", "ended", "error", "stopped", "calling", "dtmf"}
)
COMMANDS: dict[str, frozenset[str]] = {
    "hangup": frozenset({"phone"}),
    "set_behaviour": frozenset({"phone"}),
    "call": frozenset({"phone", "uri"}),
    "dtmf": frozenset({"phone", "digits"}),
    "tone": frozenset({"phone", "hz"}),
    "quit": frozenset(),
}
CALLER = re.compile(r"\+?[0-9]{1,20}")  # a caller number a phone may put in its From header
DTMF_DIGITS = re.compile(r"[0-9*#A-D]{1,32}")
MAX_TONE_HZ = 3400  # what fits in narrow-band (8 kHz) audio

Message = dict[str, Any]


class ProtocolError(ValueError):
    """A line is not a valid JSON object / command."""


def encode(message: Message) -> str:
    """One compact JSON line (with trailing newline)."""
    return json.dumps(message, separators=(",", ":"), sort_keys=True) + "\n"


def decode(line: str) -> Message:
    """Parse one JSON line into a dict; anything else raises ProtocolError."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {line[:200]!r}") from exc
    if not isinstance(value, dict):
        raise ProtocolError(f"not a JSON object: {line[:200]!r}")
    return value


def event(name: str, **fields: Any) -> Message:
    """Build an event message (validates the name)."""
    if name not in EVENTS:
        raise ProtocolError(f"unknown event {name!r}")
    return {"event": name, **fields}


def decode_command(line: str) -> Message:
    """Parse and validate a command line (known ``cmd`` and its required fields)."""
    message = decode(line)
    cmd = message.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        raise ProtocolError(f"unknown command {cmd!r}")
    missing = sorted(COMMANDS[cmd] - message.keys())
    if missing:
        raise ProtocolError(f"command {cmd!r} lacks field(s): {', '.join(missing)}")
    headers = message.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ProtocolError("headers must be an object of strings")
    caller = message.get("caller")
    if caller is not None and not (isinstance(caller, str) and CALLER.fullmatch(caller)):
        raise ProtocolError("caller must be '+' and digits")
    if cmd == "dtmf" and not (isinstance(message["digits"], str) and DTMF_DIGITS.fullmatch(message["digits"])):
        raise ProtocolError("digits must be 1 to 32 of 0-9 * # A-D")
    hz = message.get("hz")
    if cmd == "tone" and not (isinstance(hz, int) and not isinstance(hz, bool) and 0 <= hz <= MAX_TONE_HZ):
        raise ProtocolError(f"hz must be an integer from 0 (silence) to {MAX_TONE_HZ}")
    return message


def matches(message: Message, criteria: dict[str, Any]) -> bool:
    """True if every criteria key has the same value in ``message``."""
    return all(key in message and message[key] == value for key, value in criteria.items())


def parse_sip_request(whole_msg: str) -> tuple[str, str, dict[str, str]]:
    """Split a raw SIP request into (method, request-URI, headers lower-cased; first wins)."""
    head = whole_msg.split("\r\n\r\n", 1)[0].replace("\r\n", "\n")
    lines = head.split("\n")
    parts = lines[0].split(" ") if lines else []
    method, uri = (parts[0], parts[1]) if len(parts) >= 3 else ("", "")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    return method, uri, headers


def uri_user_host_port(uri: str) -> tuple[str, str, int | None]:
    """``sip:user@host:port;params`` -> (user, host, port); ``<...>`` and display names tolerated."""
    if "<" in uri and ">" in uri:
        uri = uri[uri.index("<") + 1 : uri.index(">")]
    uri = uri.split(";", 1)[0]
    if ":" in uri and uri.split(":", 1)[0].lower() in ("sip", "sips"):
        uri = uri.split(":", 1)[1]
    user, _, hostport = uri.rpartition("@")
    host, _, port = hostport.partition(":")
    return user, host, int(port) if port.isdigit() else None


def caller_numbers(headers: dict[str, str]) -> dict[str, str | None]:
    """The caller number a line received: ``from_number`` (From user), ``pai_number`` (P-Asserted-Identity
    user, None without the header) and ``caller`` (what a phone shows: the asserted identity first)."""
    from_number = uri_user_host_port(headers["from"])[0] if headers.get("from") else None
    pai = headers.get("p-asserted-identity")
    pai_number = uri_user_host_port(pai)[0] if pai else None
    return {"caller": pai_number or from_number, "from_number": from_number, "pai_number": pai_number}
