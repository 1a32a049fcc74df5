"""Framing edge cases: the fast CRLF path and the bare LF/CR slow path must agree with the reference.

The reference is the plain definition of AMI framing this parser keeps: CRLF is normalised to LF,
a blank line ends a message, lines split on LF, a bare CR is data. Streams mix all of it and are
cut at arbitrary points.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ami import AmiMessage, AmiParser
from dialer.ami import parser as parser_module


def _reference(stream: bytes) -> list[list[str]]:
    """Lines of each complete message of `stream` (no banner), by the definition above."""
    text = stream.replace(b"\r\n", b"\n").decode("utf-8", "replace")
    *complete, _rest = text.split("\n\n")
    out = []
    for chunk in complete:
        chunk = chunk.strip("\n")
        if chunk:
            out.append(chunk.split("\n"))
    return out


def _parse(parts: list[bytes]) -> list[AmiMessage]:
    parser = AmiParser()
    out: list[AmiMessage] = []
    for p in parts:
        out.extend(parser.feed(p))
    return out


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


_KEYS = ["Event", "Response", "Uniqueid", "AppData", "ChanVariable", "Output", "X"]
_VALUE = st.text(alphabet=st.sampled_from(list("ab: =张\r")), max_size=8)
_EOL = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"])


@st.composite
def _streams(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(1, 6))):
        for _ in range(draw(st.integers(1, 5))):
            headerless = draw(st.integers(0, 9)) == 0
            line = draw(_VALUE) if headerless else f"{draw(st.sampled_from(_KEYS))}: {draw(_VALUE)}"
            out += line.encode() + draw(_EOL)
        out += b"".join(draw(st.lists(_EOL, min_size=1, max_size=3)))
    if draw(st.booleans()):
        out += draw(st.binary(max_size=6))  # an incomplete tail, maybe invalid UTF-8
    return out


@settings(max_examples=400, deadline=None)
@given(_streams(), st.lists(st.integers(0, 10_000), max_size=6))
def test_any_stream_any_cuts_matches_reference(stream: bytes, cuts: list[int]) -> None:
    expected = _reference(stream)
    got = _parse(_cut(stream, cuts))
    assert [m.lines for m in got] == expected
    for msg, lines in zip(got, expected, strict=True):
        for line in lines:
            key, sep, value = line.partition(": ")
            if sep:
                assert key in msg
                assert msg.get(key) == next(v for k, s, v in (x.partition(": ") for x in lines) if s and k == key)


def test_pure_crlf_stream_cut_everywhere_keeps_the_same_messages() -> None:
    stream = b"".join(
        f"Event: E{i}\r\nUniqueid: {i}.1\r\nCallerIDName: 张{i}\r\nAppData: a: b\r\n\r\n".encode() for i in range(5)
    )
    whole = _parse([stream])
    assert [m.name for m in whole] == [f"E{i}" for i in range(5)]
    for i in range(len(stream) + 1):
        assert _parse([stream[:i], stream[i:]]) == whole


def test_bare_cr_is_data_not_a_line_end() -> None:
    (msg,) = _parse([b"Event: A\r\nK: a\rb\r\nL: c\r\r\n\rM: d\r\n\r\n"])
    assert msg.lines == ["Event: A", "K: a\rb", "L: c\r", "\rM: d"]
    assert msg.get("K") == "a\rb"
    assert msg.get("L") == "c\r"
    assert msg.get("M") is None
    assert msg.fields[-1] == ("\rM", "d")


def test_bare_cr_at_a_line_start_does_not_end_the_message() -> None:
    msgs = _parse([b"Event: A\r\nK: 1\r\n\rEvent: B\r\n\r\n"])
    assert [m.name for m in msgs] == ["A"]
    assert msgs[0].lines == ["Event: A", "K: 1", "\rEvent: B"]


def test_bare_lf_boundary_after_a_crlf_message_is_not_held_back() -> None:
    msgs = _parse([b"Event: A\r\nK: 1\r\n\r\nEvent: B\nK: 2\n\n"])
    assert [(m.name, m.get("K")) for m in msgs] == [("A", "1"), ("B", "2")]


def test_single_line_message_and_last_line_values() -> None:
    (a, b) = _parse([b"Event: Solo\r\n\r\nResponse: Success\r\nMessage: \r\n\r\n"])
    assert (a.kind, a.name, a.lines) == ("event", "Solo", ["Event: Solo"])
    assert (b.kind, b.name, b.get("Message")) == ("response", "Success", "")


def test_from_lines_equals_parsed() -> None:
    (parsed,) = _parse([b"Event: X\r\nA: 1\r\nB: \r\n\r\n"])
    assert parsed == AmiMessage.from_lines(["Event: X", "A: 1", "B: "])
    assert AmiMessage.from_fields([("Event", "X"), ("A", "1"), ("B", "")]) == parsed


def test_chan_variable_lookups_are_cached_per_key_and_still_exact() -> None:
    msg = AmiMessage.from_lines(["Event: X", "ChanVariable: CALL_ID=abc", "ChanVariable(CASE_ID): 7"])
    for _ in range(2):  # the second round goes through the needle cache
        assert msg.get("ChanVariable(CALL_ID)") == "abc"
        assert msg.get("ChanVariable(CASE_ID)") == "7"
        assert msg.get("ChanVariable(NOPE)", "d") == "d"
        assert msg.get("Event") == "X"
        assert msg.get("Nope") is None


def test_get_stays_exact_when_the_needle_cache_is_full() -> None:
    msg = AmiMessage.from_lines(["Event: X", "ChanVariable: FRESH_A=abc", "ChanVariable(FRESH_B): 7", "Fresh: v"])
    for i in range(parser_module._NEEDLE_CACHE_MAX + 10):  # fill the cache with other keys
        msg.get(f"Other{i}")
    assert len(parser_module._NEEDLES) <= parser_module._NEEDLE_CACHE_MAX
    for _ in range(2):  # keys never seen before, and not cacheable now
        assert msg.get("ChanVariable(FRESH_A)") == "abc"
        assert msg.get("ChanVariable(FRESH_B)") == "7"
        assert msg.get("Fresh") == "v"
        assert msg.get("Other0", "d") == "d"
    assert "Fresh" not in parser_module._NEEDLES
