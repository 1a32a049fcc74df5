"""Pure, incremental AMI parser over bytes, and a framing-safe action encoder.

Nothing here touches a socket: `AmiParser.feed(bytes)` returns the complete messages seen so far.

Design notes (why it looks like this; measured with bench/ami_parse.py):
- One message is kept as its decoded text in a canonical form, `"\\n" + "\\r\\n".join(lines) + "\\r"`:
  every line has `\\n` before it and `\\r\\n` after it (the last line: `\\r` then the end of the text),
  so `get()` is one `str.find("\\n<key>: ")` plus one `find("\\r\\n")` (whose -1 for the last line is
  exactly the slice end that drops the final `\\r`). Nothing else is split until asked for.
- Fast path (pure CRLF, what Asterisk sends): a read is cut at the last blank line, split into messages
  with ONE decode and ONE `str.split("\\n\\r")` (in a CRLF stream `\\n\\r` occurs only where a blank line
  follows a line end, and the pieces are already in canonical form). Only complete messages are
  decoded, so a multi-byte UTF-8 character split across reads is never cut; invalid UTF-8 becomes
  U+FFFD (a frame ends on ASCII bytes, so the replacement never swallows a frame byte).
  A same-length `replace` of CRLF plus two memchr scans prove there is no bare LF or CR first.
- Slow path (bare LF, bare CR, detected per read): CRLF is normalised to LF, blank lines separate
  messages, lines are split on LF, and the message is rebuilt in canonical form (a bare CR stays data).
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
_EOL = "\r\n"
_partition = str.partition

# get() needles, built once per key: "\n<key>: ", and for "XChanVariable(NAME)" the Asterisk 12+
# form "\nXChanVariable: NAME=" plus the plain one. Keys come from code, so the caches stay small;
# past _NEEDLE_CACHE_MAX entries needles are built per call instead.
_NEEDLES: dict[str, str] = {}
_VAR_NEEDLES: dict[str, tuple[str, str]] = {}
_NEEDLE_CACHE_MAX = 1024


def _var_needles(key: str) -> tuple[str, str] | None:
    """The two needles of a `XChanVariable(NAME)` key, else None."""
    if key[-1:] != ")" or "ChanVariable(" not in key:
        return None
    prefix, _, rest = key.partition("ChanVariable(")
    return f"\n{prefix}ChanVariable{_SEP}{rest[:-1]}=", f"\n{key}{_SEP}"


class AmiMessage:
    """One AMI event or response, cheap to build: its decoded text, searched on demand.

    While parsing the stream only `kind` and `name` (first line) are decided. `get()` finds
    `\\n<key>: ` in the text (C-speed, first occurrence wins); `fields`/`as_dict()` split all lines.
    """

    __slots__ = ("_text", "kind", "name")

    kind: str
    name: str
    _text: str  # "\n" + "\r\n".join(lines) + "\r": see the module docstring

    def __init__(self, text: str) -> None:
        self._text = text
        if text.startswith("\nEvent: "):
            self.kind = "event"
            self.name = text[8 : text.find(_EOL, 8)]
        elif text.startswith("\nResponse: "):
            self.kind = "response"
            self.name = text[11 : text.find(_EOL, 11)]
        else:
            self.kind = "unknown"
            self.name = ""

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> AmiMessage:
        """Build a message from decoded lines (no line endings)."""
        lines = list(lines)
        for line in lines:
            if "\n" in line or "\r" in line:
                raise ValueError(f"an AMI line cannot contain CR/LF: {line!r}")
        return cls("\n" + _EOL.join(lines) + "\r")

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
        return self._text[1:-1].split(_EOL)

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
        needle = _NEEDLES.get(key)
        if needle is None:
            pair = _VAR_NEEDLES.get(key)
            if pair is None:
                return self._get_uncached(key, default)
            text = self._text
            i = text.find(pair[0])
            if i >= 0:
                i += len(pair[0])
                return text[i : text.find(_EOL, i)]
            needle = pair[1]
        text = self._text
        i = text.find(needle)
        if i < 0:
            return default
        i += len(needle)
        return text[i : text.find(_EOL, i)]

    def _get_uncached(self, key: str, default: str | None) -> str | None:
        pair = _var_needles(key)
        if pair is None:
            needle = f"\n{key}{_SEP}"
            if len(_NEEDLES) < _NEEDLE_CACHE_MAX:
                _NEEDLES[key] = needle
            needles: tuple[str, ...] = (needle,)
        else:
            if len(_VAR_NEEDLES) < _NEEDLE_CACHE_MAX:
                _VAR_NEEDLES[key] = pair
            needles = pair
        text = self._text
        for needle in needles:
            i = text.find(needle)
            if i >= 0:
                i += len(needle)
                return text[i : text.find(_EOL, i)]
        return default

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and f"\n{key}{_SEP}" in self._text

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
        lines = self._text[1:-1].split(_EOL)
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

    __slots__ = ("_at_start", "_buf", "banner")

    def __init__(self) -> None:
        self.banner: str | None = None
        self._buf = b""  # raw bytes after the last complete message (always starts at a line start)
        self._at_start = True

    def reset(self) -> None:
        """Forget everything buffered (call on reconnect)."""
        self.__init__()  # type: ignore[misc]

    @property
    def buffered(self) -> int:
        """How many bytes wait for the end of their message (blank lines do not count)."""
        return len(self._buf.lstrip(b"\r\n"))

    def feed(self, data: bytes) -> list[AmiMessage]:
        """Consume `data`; return the messages it completed, in stream order."""
        buf = self._buf + data
        if self._at_start:
            buf = self._take_banner(buf)
            if self._at_start:
                self._buf = buf
                return []
        if buf[:1] != b"\n":
            buf = b"\n" + buf  # an extra blank line before a message start changes nothing
        end = buf.rfind(b"\n\r\n")  # the last blank line after a CRLF line end
        if end >= 0 and buf.find(b"\n\n", end) < 0:
            # Pure CRLF up to `end`? Blank out every CRLF (a same-length replace, in C); then no CR and
            # no LF but the leading one may be left (two memchr scans).
            stop = end + 1
            probe = buf.replace(b"\r\n", b"\0\0")
            if probe.find(b"\n", 1, stop) < 0 and probe.find(b"\r", 0, stop) < 0:
                self._buf = buf[end + 2 :]
                # One decode (measured faster than one per message), then each "\n<line>\r\n...<line>\r".
                texts = buf[:end].decode("utf-8", "replace").split("\n\r")
                if "" in texts:  # extra blank lines between messages
                    texts = [t for t in texts if t]
                return list(map(AmiMessage, texts))
        elif end < 0 and b"\n\n" not in buf:
            self._buf = buf
            return []
        return self._feed_slow(buf)

    def _feed_slow(self, buf: bytes) -> list[AmiMessage]:
        """Bare LF or CR somewhere: normalise CRLF to LF, split on blank lines, rebuild canonically."""
        lf_lf = buf.rfind(b"\n\n")
        lf_crlf = buf.rfind(b"\n\r\n")
        stop = max(lf_lf + 2 if lf_lf >= 0 else 0, lf_crlf + 3 if lf_crlf >= 0 else 0)
        self._buf = buf[stop:]
        text = buf[:stop].replace(b"\r\n", b"\n").decode("utf-8", "replace")
        out: list[AmiMessage] = []
        for chunk in text.split("\n\n"):
            chunk = chunk.strip("\n")  # extra blank lines between messages
            if chunk:
                out.append(AmiMessage("\n" + chunk.replace("\n", _EOL) + "\r"))
        return out

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
