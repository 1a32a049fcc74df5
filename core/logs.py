"""Log lines with their context: the request id of the HTTP request and the call id of the call being handled.

``logging.json_format`` gives one JSON object a line (``time`` in UTC ISO 8601, ``level``, ``logger``,
``message``, and ``request_id``, ``call_id``, ``http``, ``exc`` when there are), else text lines with the same
context at the end. The ids come from context variables: the request middleware sets the request id for
everything done while handling a request (tasks started from it inherit it), the call service sets the call id
around each call's update or dial. Nothing here reads headers, bodies or settings values: a secret is never
put in a log line by this module (the access log has the path without its query string, api/access.py).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

REQUEST_ID: ContextVar[str | None] = ContextVar("callguard_request_id", default=None)
CALL_ID: ContextVar[str | None] = ContextVar("callguard_call_id", default=None)
#: a caller's X-Request-Id is kept when it is this (a trace id, a UUID...); anything else gets a new one
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
#: the access log's logger (api/access.py)
ACCESS_LOGGER = "callguard.access"


def request_id_from(header: str | None) -> str:
    """The caller's request id when it is sane (1-64 of ``A-Z a-z 0-9 . _ : -``), else a new random one.

    A request id goes into logs, the audit trail and a response header: nothing that could split a log line,
    forge a field or fill a disk is taken from the caller.
    """
    if header is not None and _SAFE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@contextmanager
def call_context(call_id: str) -> Iterator[None]:
    """Every line logged inside carries ``call_id``."""
    token = CALL_ID.set(call_id)
    try:
        yield
    finally:
        CALL_ID.reset(token)


class ContextFilter(logging.Filter):
    """Puts the current request id and call id on every record that passes the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the context; never drops a record."""
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        if not hasattr(record, "call_id"):
            record.call_id = CALL_ID.get()
        return True


def _utc(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON (non-ASCII kept: Chinese messages stay readable)."""
        out: dict[str, Any] = {"time": _utc(record), "level": record.levelname, "logger": record.name,
                               "message": record.getMessage()}
        for key in ("request_id", "call_id", "http"):
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message`` and the context (``request_id=... call_id=...``) at the end."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - stdlib name
        """UTC, ISO 8601."""
        return _utc(record)

    def format(self, record: logging.LogRecord) -> str:
        """The line, then its context."""
        line = super().format(record)
        context = " ".join(f"{k}={getattr(record, k)}" for k in ("request_id", "call_id")
                           if getattr(record, k, None) is not None)
        return f"{line} [{context}]" if context else line


def configure(*, level: str, json_format: bool, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in the configured format; returns the handler installed."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
