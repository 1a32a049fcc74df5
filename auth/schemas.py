"""Request and response models of users, tokens and EventSource tickets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from auth.models import Role
from core.pagination import Cursor
from core.schemas import JsonBool

ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
CLIENT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ClientId = Annotated[str, StringConstraints(pattern=CLIENT)]


class UserIn(BaseModel):
    """A new user: role, clients (banks; none only for a global admin, exactly one for integration), team."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID)
    role: Role
    clients: list[ClientId] = Field(default_factory=list, max_length=100)
    team: str | None = Field(None, max_length=64)
    display_name: str | None = Field(None, max_length=200)
    sip_user: str | None = Field(None, max_length=64)
    pbx: str | None = Field(None, max_length=32)
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


class UserPatch(BaseModel):
    """Changes to a user; absent fields stay as they are. ``active: false`` deactivates at once."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    clients: list[ClientId] | None = Field(None, max_length=100)
    team: str | None = Field(None, max_length=64)
    display_name: str | None = Field(None, max_length=200)
    sip_user: str | None = Field(None, max_length=64)
    pbx: str | None = Field(None, max_length=32)
    active: JsonBool | None = None
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


class UserOut(BaseModel):
    """A user as the admin API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    role: str
    clients: list[str]
    team: str | None
    display_name: str
    sip_user: str | None
    pbx: str | None
    active: bool
    created_at: datetime
    updated_at: datetime | None
    deactivated_at: datetime | None


class UserList(BaseModel):
    """Users, by id (at most ``limit``); ``next_cursor`` when there may be more."""

    items: list[UserOut]
    next_cursor: str | None = Field(None, pattern=ID, description="the last user id of this page: pass it as "
                                                                     "``cursor`` for the next page")


class UserQuery(BaseModel):
    """Filters of the user list."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    client: str | None = Field(None, max_length=64)
    team: str | None = Field(None, max_length=64)
    active: bool | None = None
    cursor: str | None = Field(None, pattern=ID, description=(
        "Keyset position: pass a previous page's next_cursor (the last user id it listed)"))
    limit: int = Field(100, ge=1, le=1000)


class TokenQuery(BaseModel):
    """Paging of a user's tokens (newest first)."""

    model_config = ConfigDict(extra="forbid")

    cursor: Cursor | None = None
    limit: int = Field(100, ge=1, le=1000)


class TokenIn(BaseModel):
    """A token to issue; people's tokens live at most ``auth.person_token_days``."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field("", max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=3650,
                                        description="Default: auth.person_token_days or auth.integration_token_days")
    reason: str | None = Field(None, max_length=500)


class TokenOut(BaseModel):
    """A token's metadata (never its secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    user_id: str
    label: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    kind: str = Field("token", description="'token' (a bearer token) or 'session' (a person's console sign-in)")


class TokenList(BaseModel):
    """A user's tokens, newest first (at most ``limit``); ``next_cursor`` when there may be more."""

    items: list[TokenOut]
    next_cursor: str | None = None


class IssuedToken(TokenOut):
    """A newly issued token: ``token`` is shown this once and never again."""

    token: str


class RevokeIn(BaseModel):
    """Why a token is revoked."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500)


class TicketOut(BaseModel):
    """A single-use ticket for ``GET /v1/events?ticket=``; valid for ``auth.ticket_ttl_s``."""

    ticket: str
    purpose: str
    expires_at: datetime


class EventsQuery(BaseModel):
    """Query of the live event stream."""

    types: str | None = Field(None, description="Comma-separated type prefixes, e.g. 'call.'")
    ticket: str | None = Field(None, description="A single-use ticket from POST /v1/events/tickets (for EventSource)")


class SignInIn(BaseModel):
    """A person signs in with a username (the user id) and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class SessionOut(BaseModel):
    """Who is signed in. ``csrf_token`` goes in ``X-CSRF-Token`` on every state-changing request made with the
    session cookie (null when the caller used a bearer token, which needs none)."""

    user_id: str
    display_name: str
    role: str
    clients: list[str]
    team: str | None
    sip_user: str | None
    kind: str = Field(description="'session' (the cg_session cookie) or 'token' (a bearer token)")
    expires_at: datetime | None
    idle_timeout_s: int | None = Field(description="A session ends after this long without a request")
    csrf_token: str | None


class PasswordIn(BaseModel):
    """A new password: one's own (with ``old_password``) or, by an admin, another user's."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=8, max_length=256,
                          description="At least auth.password_min_length characters (10 by default), not one repeated")
    old_password: str | None = Field(None, max_length=256,
                                     description="Required to change one's own password (not to set one's first)")
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")
