"""User admin: client rules per role, session events that never reach the webhook outbox, the CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import main
from audit.models import AuditEntry
from audit.service import Actor, AuditService
from auth.admin import UserAdmin, check_clients
from auth.errors import InvalidClients
from auth.models import ApiToken, Role
from auth.schemas import TokenIn, UserIn, UserPatch
from config.settings import AuthSettings, DatabaseSettings
from core.clock import Clock
from core.events import EventLog
from core.models import DomainEventRow
from db.engine import Database

ADA = Actor("ada", "admin")


def test_clients_fit_the_role() -> None:
    assert check_clients(Role.ADMIN, []) == []
    assert check_clients(Role.AGENT, ["b", "a", "b"]) == ["a", "b"]
    assert check_clients(Role.INTEGRATION, ["a"]) == ["a"]
    for role, clients in ((Role.INTEGRATION, []), (Role.INTEGRATION, ["a", "b"]), (Role.MANAGER, []),
                          (Role.QA, ["bad client"])):
        with pytest.raises(InvalidClients):
            check_clients(role, clients)


async def test_session_events_are_recorded_but_never_given_to_the_outbox(db: Database) -> None:
    events, outboxed = EventLog(), []

    async def writer(_s: AsyncSession, row: DomainEventRow) -> None:
        outboxed.append(row.type)

    events.add_outbox_writer(writer)
    clock = Clock()
    admin = UserAdmin(db=db, settings=AuthSettings(), clock=clock, events=events,
                      audit=AuditService(db=db, clock=clock))
    await admin.create_user(ADA, UserIn(id="sam", role=Role.SUPERVISOR, clients=["bank1"], team="t1"))
    issued = await admin.issue_token(ADA, "sam", TokenIn())
    await admin.update_user(ADA, "sam", UserPatch(display_name="Sam"))  # no session change
    await admin.update_user(ADA, "sam", UserPatch(clients=["bank1", "bank2"]))
    await admin.update_user(ADA, "sam", UserPatch(active=False))
    await admin.revoke_token(ADA, issued.id, reason="left")
    await admin.revoke_token(ADA, issued.id)  # idempotent: nothing new
    async with db.read() as s:
        rows = (await s.scalars(select(DomainEventRow).order_by(DomainEventRow.id))).all()
        actions = (await s.scalars(select(AuditEntry.action).order_by(AuditEntry.at))).all()
    assert [(r.type, r.payload) for r in rows] == [
        ("user.changed", {"user_id": "sam"}), ("user.deactivated", {"user_id": "sam"}),
        ("token.revoked", {"user_id": "sam", "token_id": issued.id})]
    assert outboxed == []
    assert actions == ["user.created", "token.issued", "user.updated", "user.updated", "user.deactivated",
                       "token.revoked"]


def test_the_cli_creates_deactivates_and_revokes_with_an_audited_actor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CALLGUARD__DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("CALLGUARD_CONFIG", raising=False)

    def run(*argv: str) -> dict[str, object]:
        assert main(list(argv)) == 0
        return dict(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))

    out = run("user", "ivy", "--role", "integration", "--client", "bank1", "--token", "--expires-days", "400")
    assert out["clients"] == ["bank1"] and str(out["token"]).startswith("cg_")
    assert main(["user", "ivy", "--client", "bank1", "--client", "bank2"]) == 1  # integration: one client
    assert "invalid-clients" in capsys.readouterr().err
    assert run("user", "ivy", "--deactivate", "--reason", "contract ended")["active"] is False
    assert run("token", "revoke", "--user", "ivy")["revoked"] == [out["token_id"]]

    async def check() -> None:
        async with Database(_settings(tmp_path)) as db, db.read() as s:
            entries = (await s.execute(select(AuditEntry.action, AuditEntry.actor_role, AuditEntry.reason)
                                       .order_by(AuditEntry.at))).all()
            revoked = await s.scalar(select(ApiToken.revoked_by))
        assert [tuple(e) for e in entries] == [("user.created", "cli", None), ("token.issued", "cli", None),
                                               ("user.deactivated", "cli", "contract ended"),
                                               ("token.revoked", "cli", None)]
        assert str(revoked).startswith("cli:")

    asyncio.run(check())  # a sync test: the CLI runs its own event loop


def _settings(tmp_path: Path) -> DatabaseSettings:
    return DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
