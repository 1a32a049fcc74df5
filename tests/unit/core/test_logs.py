"""Log lines: JSON objects with UTC time and context, the request id taken from a caller only when sane."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from core import logs
from core.logs import REQUEST_ID, call_context, request_id_from


@pytest.mark.parametrize("given", ["abc", "4bf92f3577b34da6a3ce929d0e0e4736", "req-42", "a.b_c:d-e", "A" * 64])
def test_a_sane_request_id_is_kept(given: str) -> None:
    assert request_id_from(given) == given


@pytest.mark.parametrize("given", [None, "", "A" * 65, "two words", "line\nbreak", "x\r\nSet-Cookie: a=b",
                                   '{"json": 1}', "-starts-with-dash", "时间", "a/b", "a;b", "tab\there"])
def test_anything_else_gets_a_new_request_id(given: str | None) -> None:
    new = request_id_from(given)
    assert re.fullmatch(r"[0-9a-f]{32}", new)
    assert new != request_id_from(given)  # a new one every time


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """``logs.configure`` in JSON mode into a buffer; the root logger's handlers are put back afterwards."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    buf = io.StringIO()
    try:
        logs.configure(level="INFO", json_format=True, stream=buf)
        yield buf
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved:
            root.addHandler(h)
        root.setLevel(level)


def test_json_lines_carry_utc_time_level_logger_message_and_context(configured: io.StringIO) -> None:
    log = logging.getLogger("dialer.test")
    log.info("plain line")
    token = REQUEST_ID.set("req-1")
    try:
        with call_context("call-9"):
            log.warning("about the call: %s", "电话")
        log.debug("below the level")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        REQUEST_ID.reset(token)
    lines = [json.loads(line) for line in configured.getvalue().splitlines()]
    assert len(lines) == 3  # one object a line; DEBUG is below the level
    plain, call, failed = lines
    assert set(plain) == {"time", "level", "logger", "message"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", plain["time"])
    assert (plain["level"], plain["logger"], plain["message"]) == ("INFO", "dialer.test", "plain line")
    assert call == {**call, "level": "WARNING", "message": "about the call: 电话", "request_id": "req-1",
                    "call_id": "call-9"}
    assert "call_id" not in failed and failed["request_id"] == "req-1"  # the call's context has ended
    assert "ValueError: boom" in failed["exc"]


def test_text_lines_end_with_their_context() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id, record.call_id = "r-1", None
    line = logs.TextFormatter().format(record)
    assert line.endswith("INFO x: hello [request_id=r-1]")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line)
