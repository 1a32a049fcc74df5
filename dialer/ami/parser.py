"""Pure, incremental AMI parser over bytes, and a framing-safe action encoder.

Nothing here touches a socket: `AmiParser.feed(bytes)` returns the complete messages seen so far.

Design notes (why it looks like this):
- Bytes stay buffered until a message is complete; all complete messages of one read are decoded
  with ONE `bytes.decode('utf-8', 'replace')`. Frames end on ASCII bytes, so a multi-byte UTF-8
  character split across reads is always decoded whole; invalid UTF-8 becomes U+FFFD, never dropped.
- CRLF is the wire format; bare LF is tolerated (every CRLF is normalised to LF first).
- Keys are case-sensitive: Asterisk spells every header the same way every time, so lookups are
  exact (`msg.get('Uniqueid')`, not `'uniqueid'`). Duplicate keys are kept, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from typing import cast

from dialer.ami.errors import AmiInjectionError

__all__ = ["AmiMessage", "AmiParser", "encode_action"]

_BANNER_PREFIX = b"Asterisk Call Manager/"
_SEP = ": "
_partition = str.partition


class AmiMessage:
    """One AMI event or response, cheap to build: its decoded text, searched on demand.

    While parsing the stream only `kind` and `name` (first line) are decided. `get()` finds
    `\\n<key>: ` in the text (C-speed, first occurrence wins); `fields`/`as_dict()` split all lines.
    """

    __slots__ = ("_text", "kind", "name")

    kind: str
    name: str
    _text: str  # "\n" + lines joined by "\n" + "\n": every line is delimited on both sides

    def __init__(self, text: str) -> None:
        self._text = text
        if text.startswith("\nEvent: "):
            self.kind, self.name = "event", text[8 : text.find("\n", 8)]
        elif text.startswith("\nResponse: "):
            self.kind, self.name = "response", text[11 : text.find("\n", 11)]
        else:
            self.kind, self.name = "unknown", ""

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> AmiMessage:
        """Build a message from decoded lines (no line endings)."""
        lines = list(lines)
        for line in lines:
            if "\n" in line or "\r" in line:
                raise ValueError(f"an AMI line cannot contain CR/LF: {line!r}")
        return cls("\n" + "\n".join(lines) + "\n")

    @classmethod
    def from_fields(cls, fields: Iterable[tuple[str, str]]) -> AmiMessage:
        """Build a message from (key, value) pairs (for tests and fakes)."""
        return cls.from_lines(f"{k}{_SEP}{v}" for k, v in fields)

    def __repr__(self) -> str:
        return f"AmiMessage(kind={self.kind!r}, name={self.name!r}, fields={self.fields!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AmiMessage):
            return NotImplemented
        return self._text == other._text

    __hash__ = None  # type: ignore[assignment]

    @property
    def lines(self) -> list[str]:
        """The decoded lines of the message (line endings removed)."""
        return self._text[1:-1].split("\n")

    @property
    def fields(self) -> list[tuple[str, str]]:
        """Ordered (key, value) pairs, duplicates included (lines without ': ' are in `extra_lines`)."""
        return [(k, v) for k, s, v in map(_partition, self.lines, repeat(_SEP)) if s]

    @property
    def extra_lines(self) -> list[str]:
        """Lines that are not `Key: value` headers (old-style command output bodies)."""
        return [line for line in self.lines if _SEP not in line and line != "--END COMMAND--"]

    def get(self, key: str, default: str | None = None) -> str | None:
        """First value of `key` (exact, case-sensitive), else `default`.

        `XChanVariable(NAME)` also finds Asterisk 12+'s `XChanVariable: NAME=value` form.
        """
        text = self._text
        if key[-1:] == ")" and "ChanVariable(" in key:
            # Asterisk 12+ sends `ChanVariable: NAME=value`; older/other sources `ChanVariable(NAME): value`.
            prefix, _, rest = key.partition("ChanVariable(")
            needle = f"\n{prefix}ChanVariable{_SEP}{rest[:-1]}="
            i = text.find(needle)
            if i >= 0:
                i += len(needle)
                return text[i : text.find("\n", i)]
        needle = "\n" + key + _SEP
        i = text.find(needle)
        if i >= 0:
            i += len(needle)
            return text[i : text.find("\n", i)]
        return default

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and ("\n" + key + _SEP) in self._text

    def get_all(self, key: str) -> list[str]:
        """Every value of `key`, in order (e.g. several `Variable:` headers)."""
        return [v for k, s, v in map(_partition, self.lines, repeat(_SEP)) if s and k == key]

    @property
    def action_id(self) -> str | None:
        """The ActionID header, if any."""
        return self.get("ActionID")

    @property
    def output(self) -> list[str]:
        """`Output:` lines of a command response, then any header-less body lines."""
        return self.get_all("Output") + self.extra_lines

    def chan_variables(self, prefix: str = "") -> dict[str, str]:
        """Channel variables exported by manager.conf `channelvars`, as a dict.

        Understands `ChanVariable: NAME=value` (Asterisk 12+, incl. 22) and `ChanVariable(NAME): value`.
        `prefix` selects another channel of a two-channel event, e.g. 'Dest' for `DestChanVariable`.
        """
        plain = prefix + "ChanVariable"
        paren = plain + "("
        out: dict[str, str] = {}
        for k, v in self.fields:
            if k == plain:
                name, eq, value = v.partition("=")
                if eq:
                    out.setdefault(name, value)
            elif k.startswith(paren) and k.endswith(")"):
                out.setdefault(k[len(paren) : -1], v)
        return out

    def as_dict(self) -> dict[str, str | list[str]]:
        """Fields as a dict; a key seen several times maps to the list of its values."""
        lines = self.lines
        try:
            fast: dict[str, str] = dict(map(str.split, lines, repeat(_SEP), repeat(1)))
        except ValueError:  # a line without ': '
            fast = {}
        if len(fast) == len(lines):
            return cast("dict[str, str | list[str]]", fast)  # no duplicates, no odd lines: done in C
        out: dict[str, str | list[str]] = {}
        for k, v in self.fields:
            prev = out.get(k)
            if prev is None:
                out[k] = v
            elif isinstance(prev, list):
                prev.append(v)
            else:
                out[k] = [prev, v]
        return out


class AmiParser:
    """Incremental AMI stream parser: feed bytes, get complete `AmiMessage`s back."""

    __slots__ = ("_at_start", "_buf", "_cr", "banner")

    def __init__(self) -> None:
        self.banner: str | None = None
        self._buf = b""
        self._cr = False  # the previous chunk ended with '\r' (its '\n' may come next)
        self._at_start = True

    def reset(self) -> None:
        """Forget everything buffered (call on reconnect)."""
        self.__init__()  # type: ignore[misc]

    @property
    def buffered(self) -> int:
        """How many bytes wait for the end of their message."""
        return len(self._buf) + self._cr

    def feed(self, data: bytes) -> list[AmiMessage]:
        """Consume `data`; return the messages it completed, in stream order."""
        if self._cr:
            data = b"\r" + data
            self._cr = False
        if data.endswith(b"\r"):
            data = data[:-1]
            self._cr = True
        buf = self._buf + data.replace(b"\r\n", b"\n") if self._buf else data.replace(b"\r\n", b"\n")
        if self._at_start:
            buf = self._take_banner(buf)
            if self._at_start:
                self._buf = buf
                return []
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._buf = buf
            return []
        self._buf = buf[end + 2 :]
        return _parse_block(buf[:end].decode("utf-8", "replace"))

    def _take_banner(self, buf: bytes) -> bytes:
        if len(buf) < len(_BANNER_PREFIX) and _BANNER_PREFIX.startswith(buf):
            return buf  # cannot tell yet
        if not buf.startswith(_BANNER_PREFIX):
            self._at_start = False  # no banner (e.g. a recorded trace): plain messages from here
            return buf
        nl = buf.find(b"\n")
        if nl < 0:
            return buf
        self.banner = buf[:nl].decode("utf-8", "replace").rstrip("\r")
        self._at_start = False
        return buf[nl + 1 :]


def _parse_block(text: str) -> list[AmiMessage]:
    """Parse complete messages (separated by blank lines) from one decoded block."""
    out: list[AmiMessage] = []
    append = out.append
    for chunk in text.split("\n\n"):
        if not chunk or chunk[0] == "\n":
            chunk = chunk.strip("\n")  # extra blank lines between messages
            if not chunk:
                continue
        append(AmiMessage("\n" + chunk + "\n"))
    return out


def _check(text: str, what: str) -> None:
    if "\r" in text or "\n" in text or "\0" in text:
        raise AmiInjectionError(f"AMI action {what} must not contain CR, LF or NUL: {text[:40]!r}")


def encode_action(
    name: str,
    fields: Sequence[tuple[str, str]] | Mapping[str, str],
    action_id: str,
) -> bytes:
    """Encode one action; refuse (AmiInjectionError) anything that could inject headers or actions."""
    items = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    _check(name, "name")
    _check(action_id, "ActionID")
    if not name:
        raise AmiInjectionError("AMI action name must not be empty")
    lines = [f"Action: {name}", f"ActionID: {action_id}"]
    for key, value in items:
        if not isinstance(key, str) or not isinstance(value, str):
            raise AmiInjectionError(f"AMI field {key!r} must map str to str, got {type(value).__name__}")
        _check(key, "key")
        _check(value, "value")
        if not key or ":" in key or key != key.strip():
            raise AmiInjectionError(f"AMI action key is not a valid header name: {key!r}")
        if key in ("Action", "ActionID"):
            raise AmiInjectionError(f"AMI action key {key!r} is set by the client")
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
