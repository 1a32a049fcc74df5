"""The ``callguard`` command: serve, migrate, users and tokens, case import, demo set-up."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence

from app.serve import serve
from auth.models import Role
from auth.service import create_user, issue_token
from cases.cli import main as import_cases
from config.settings import ConfigError, Settings, load_settings
from db.engine import Database
from db.migrate import migrate


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


async def _user(settings: Settings, args: argparse.Namespace) -> None:
    async with Database(settings.database) as db:
        await migrate(db)
        async with db.begin() as s:
            await create_user(s, user_id=args.id, role=Role(args.role), display_name=args.name,
                              team=args.team, sip_user=args.sip_user, pbx=args.pbx)
            token = await issue_token(s, user_id=args.id, label="cli") if args.token else None
    print(json.dumps({"user": args.id, "role": args.role, "token": token}))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents the commands)."""
    p = argparse.ArgumentParser(prog="callguard", description=__doc__)
    p.add_argument("--config", help="TOML settings file (else $CALLGUARD_CONFIG)")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="run the HTTP service")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("check-config", help="validate the configuration and print it (secrets masked)")
    sub.add_parser("import-cases", help="import a CSV/XLSX case batch (callguard import-cases -h)", add_help=False)
    u = sub.add_parser("user", help="create or update a user, optionally issuing a token")
    u.add_argument("id")
    u.add_argument("--role", required=True, choices=["agent", "supervisor", "qa", "manager", "admin", "integration"])
    u.add_argument("--name")
    u.add_argument("--team")
    u.add_argument("--sip-user")
    u.add_argument("--pbx")
    u.add_argument("--token", action="store_true", help="issue a new bearer token and print it once")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``callguard`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["import-cases"]:  # its own options: see cases/cli.py
        return import_cases(argv[1:])
    args = build_parser().parse_args(argv)
    settings = _settings(args)
    _logging(settings)
    if args.cmd == "check-config":
        print(settings.model_dump_json(indent=2))
        return 0
    if args.cmd == "migrate":
        asyncio.run(_migrate(settings))
        return 0
    if args.cmd == "user":
        asyncio.run(_user(settings, args))
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
