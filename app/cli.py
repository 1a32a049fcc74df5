"""The ``callguard`` command: serve, migrate, users and tokens, case import, demo set-up."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from api.routing import validate
from app.compose import wire_case_import
from app.serve import serve
from audit.service import AuditService, cli_actor
from auth.admin import UserAdmin
from auth.models import Role
from auth.schemas import PasswordIn, TokenIn
from auth.service import Authenticator
from auth.sessions import SessionService
from cases.cli import main as import_cases
from config.settings import ConfigError, Settings, load_settings
from core.clock import Clock
from core.errors import CallguardError
from core.events import EventLog
from db.engine import Database
from db.migrate import migrate
from payments.cli import main as import_payments


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(args.config)
    except ConfigError as exc:
        print(f"callguard: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.logging.level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


async def _migrate(settings: Settings) -> None:
    async with Database(settings.database) as db:
        await migrate(db)


def _admin(db: Database, settings: Settings) -> UserAdmin:
    clock = Clock()
    return UserAdmin(db=db, settings=settings.auth, clock=clock, events=EventLog(),
                     audit=AuditService(db=db, clock=clock))


def _sessions(db: Database, settings: Settings, admin: UserAdmin) -> SessionService:
    clock = Clock()
    return SessionService(db=db, settings=settings.auth, clock=clock, events=admin.events, audit=admin.audit,
                          auth=Authenticator(db=db, settings=settings.auth, clock=clock), users=admin)


async def _user(settings: Settings, args: argparse.Namespace, password: str | None = None) -> dict[str, Any]:
    """``callguard user``: create or update, (de)activate, set a password, optionally issue a token; every
    change audited."""
    active = False if args.deactivate else True if args.activate else None
    async with Database(settings.database) as db:
        await migrate(db)
        admin, who = _admin(db, settings), cli_actor()
        user = await admin.save_user(who, user_id=args.id, role=Role(args.role) if args.role else None,
                                     clients=args.client, team=args.team, display_name=args.name,
                                     sip_user=args.sip_user, pbx=args.pbx, active=active, reason=args.reason)
        out: dict[str, Any] = {"user": user.id, "role": user.role, "clients": user.clients, "team": user.team,
                               "active": user.active, "token": None}
        if password is not None:
            body = validate(PasswordIn, {"password": password, "reason": args.reason})  # 422 like the API
            await _sessions(db, settings, admin).set_password(who, None, user.id, body)
            out["password_set"] = True
        if args.token:
            issued = await admin.issue_token(who, user.id, TokenIn(label="cli", expires_in_days=args.expires_days,
                                                                   reason=args.reason))
            out.update(token=issued.token, token_id=issued.id, expires_at=issued.expires_at.isoformat())
    return out


async def _revoke(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """``callguard token revoke``: one token by id, or every live token of ``--user``."""
    async with Database(settings.database) as db:
        await migrate(db)
        admin, who = _admin(db, settings), cli_actor()
        if args.user:
            tokens = await admin.revoke_user_tokens(who, args.user, reason=args.reason)
        else:
            tokens = [await admin.revoke_token(who, args.token_id, reason=args.reason)]
    return {"revoked": [t.id for t in tokens]}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents the commands)."""
    p = argparse.ArgumentParser(prog="callguard", description=__doc__)
    p.add_argument("--config", help="TOML settings file (else $CALLGUARD_CONFIG)")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="run the HTTP service")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("check-config", help="validate the configuration and print it (secrets masked)")
    sub.add_parser("import-cases", help="import a CSV/XLSX case batch (callguard import-cases -h)", add_help=False)
    sub.add_parser("import-payments", help="import a CSV/XLSX payments file (callguard import-payments -h)",
                   add_help=False)
    u = sub.add_parser("user", help="create or update a user, optionally issuing a token")
    u.add_argument("id")
    u.add_argument("--role", choices=[str(r) for r in Role], help="required for a new user")
    u.add_argument("--client", action="append", help="a client (bank) the user serves; repeat for several. "
                   "Given, it replaces the list. None only for a global admin; exactly one for integration")
    u.add_argument("--name")
    u.add_argument("--team")
    u.add_argument("--sip-user")
    u.add_argument("--pbx")
    u.add_argument("--token", action="store_true", help="issue a new bearer token and print it once")
    u.add_argument("--expires-days", type=int, help="the new token's lifetime (default: auth settings)")
    u.add_argument("--reason", help="why (kept in the audit trail)")
    u.add_argument("--password-stdin", action="store_true",
                   help="set the user's console password from the first line of standard input")
    state = u.add_mutually_exclusive_group()
    state.add_argument("--deactivate", action="store_true", help="refuse the user's requests and end their streams")
    state.add_argument("--activate", action="store_true")
    t = sub.add_parser("token", help="revoke tokens")
    tsub = t.add_subparsers(dest="token_cmd", required=True)
    r = tsub.add_parser("revoke", help="revoke one token, or every token of --user")
    r.add_argument("token_id", nargs="?")
    r.add_argument("--user", help="revoke every live token of this user")
    r.add_argument("--reason", help="why (kept in the audit trail)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``callguard`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["import-cases"]:  # its own options: see cases/cli.py
        return import_cases(argv[1:], configure=wire_case_import)
    if argv[:1] == ["import-payments"]:  # its own options: see payments/cli.py
        return import_payments(argv[1:])
    args = build_parser().parse_args(argv)
    settings = _settings(args)
    _logging(settings)
    if args.cmd == "check-config":
        print(settings.model_dump_json(indent=2))
        return 0
    if args.cmd == "migrate":
        asyncio.run(_migrate(settings))
        return 0
    if args.cmd in ("user", "token"):
        if args.cmd == "token" and not (args.token_id or args.user):
            print("callguard: token revoke needs TOKEN_ID or --user ID", file=sys.stderr)
            return 2
        try:
            password = sys.stdin.readline().rstrip("\r\n") if args.cmd == "user" and args.password_stdin else None
            out = asyncio.run(_user(settings, args, password) if args.cmd == "user" else _revoke(settings, args))
        except CallguardError as err:
            print(json.dumps(err.to_body(settings.server.default_language), ensure_ascii=False), file=sys.stderr)
            return 1
        print(json.dumps(out, ensure_ascii=False))
        return 0
    if args.cmd == "serve":
        try:
            asyncio.run(serve(settings))
        except KeyboardInterrupt:
            pass
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
