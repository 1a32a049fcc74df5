"""Request and response models of the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.pagination import Cursor
from core.schemas import Instant


class AuditEntryOut(BaseModel):
    """One privileged act as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    at: datetime
    actor_id: str
    actor_role: str
    client_id: str | None
    action: str = Field(description="What was done, e.g. user.created, token.revoked")
    target_type: str
    target_id: str
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    address: str | None


class AuditPage(BaseModel):
    """A page of the audit trail, newest first."""

    items: list[AuditEntryOut]
    next_cursor: str | None


class AuditQuery(BaseModel):
    """Filters of the audit trail (every one optional); ``format=ndjson`` streams every match."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    action: str | None = Field(None, max_length=64, description="Exact action, or a prefix ending in '.*'")
    actor: str | None = Field(None, max_length=64)
    client: str | None = Field(None, max_length=64)
    target_type: str | None = Field(None, max_length=40)
    target_id: str | None = Field(None, max_length=200)
    since: Instant | None = Field(None, alias="from")
    until: Instant | None = Field(None, alias="to")
    cursor: Cursor | None = None
    limit: int = Field(50, ge=1, le=500)
    format: Literal["json", "ndjson"] = "json"
