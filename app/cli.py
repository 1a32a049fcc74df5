"""The ``callguard`` command: serve, ingest, migrate, users and tokens, case import, demo set-up."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from api.routing import validate
from app.compose import wire_case_import
from app.ingest import run_ingest
from app.serve import serve
from audit.service import AuditService, cli_actor
from auth.admin import UserAdmin
from auth.models import Role
from auth.schemas import PasswordIn, TokenIn
from auth.service import Authenticator
from auth.sessions import SessionService
from cases.cli import main as import_cases
from config.settings import ConfigError, Settings, load_settings
from core import logs
from core.clock import Clock
from core.errors import CallguardError
from core.events import EventLog
from db.engine import Database
from db.migrate import migrate
from payments.cli import main as import_payments
from recordings import backup
from recordings.runtime import build_store
from recordings.storage.s3 import S3Store


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(args.config)
    except ConfigError as exc:
        print(f"callguard: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(settings: Settings) -> None:
    logs.configure(level=settings.logging.level, json_format=settings.logging.json_format)


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


async def _recordings_op(settings: Settings, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """``callguard recordings-backup|relink|verify``: see recordings/backup.py."""
    if args.cmd == "recordings-backup":
        if settings.storage.backend != "s3":
            raise CallguardError("recordings-backup copies an S3 store (storage.backend = s3); back up "
                                 "storage.local_root with the file system's own tools", code="not-s3-storage",
                                 status=400)
        target_settings = settings.storage.model_copy(update={
            "s3_bucket": args.target_bucket,
            "s3_endpoint_url": args.target_endpoint_url or settings.storage.s3_endpoint_url,
            "s3_access_key": SecretStr(os.environ.get("CALLGUARD_BACKUP_S3_ACCESS_KEY")
                                       or settings.storage.s3_access_key.get_secret_value()),
            "s3_secret_key": SecretStr(os.environ.get("CALLGUARD_BACKUP_S3_SECRET_KEY")
                                       or settings.storage.s3_secret_key.get_secret_value())})
        target = build_store(target_settings)
        assert isinstance(target, S3Store)
        async with build_store(settings.storage) as source, target:
            await target.ensure_bucket()
            copied = await backup.copy_store(source, target)
        return {"copied": len(copied.copied), "already": len(copied.already), "expired": copied.expired}, True
    async with Database(settings.database) as db, build_store(settings.storage) as store:
        if args.cmd == "recordings-relink":
            linked = await backup.relink(db, store)
            return {"linked": linked.linked, "unchanged": linked.unchanged, "missing": linked.missing}, \
                not linked.missing
        checked = await backup.verify(db, store)
        return {"verified": len(checked.verified), "failed": checked.failed}, not checked.failed


def healthcheck(settings: Settings, *, timeout: float = 4.0) -> int:
    """``callguard healthcheck``: GET /healthz of the service on this machine (server.host/port, over TLS when
    configured); 0 when it answers 200, else 1 with the reason on stderr."""
    host = settings.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host  # noqa: S104 - bind-all
    tls = settings.server.tls_cert_file is not None
    context = None
    if tls:  # the certificate names the public host, not loopback: check the chain by its own file
        context = ssl.create_default_context(cafile=settings.server.tls_cert_file)
        context.check_hostname = False
    url = f"{'https' if tls else 'http'}://{host}:{settings.server.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310 - own URL
            status = int(response.status)
    except (OSError, ValueError) as exc:
        print(f"callguard: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if status == 200 else 1


async def _ingest_health(settings: Settings) -> str | None:
    """What keeps this host's ingest role from working (None: nothing): the shared database, the spool."""
    async with Database(settings.database) as db:
        ping = await db.ping()
    if not ping["ok"]:
        return f"database unreachable ({ping.get('error')})"
    spool = settings.recordings.spool_dir
    if not os.access(spool, os.R_OK | os.W_OK | os.X_OK):
        return f"spool {spool} is not readable and writable by this user"
    return None


def ingest_healthcheck(settings: Settings) -> int:
    """``callguard healthcheck --ingest``: 0 when the ingest role on this host can work (the shared database
    answers, the spool is readable and writable), else 1 with the reason on stderr."""
    problem = asyncio.run(_ingest_health(settings))
    if problem is not None:
        print(f"callguard: {problem}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents the commands)."""
    p = argparse.ArgumentParser(prog="callguard", description=__doc__)
    p.add_argument("--config", help="TOML settings file (else $CALLGUARD_CONFIG)")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="run the HTTP service")
    sub.add_parser("migrate", help="apply database migrations")
    i = sub.add_parser("ingest", help="run the ingest role beside a PBX: store its spool's recordings through the "
                       "shared database (docs/OPERATIONS.md)")
    i.add_argument("--pbx", help="the PBX whose spool this is (names the role's leases)")
    i.add_argument("--spool", type=Path, help="the spool directory (default: recordings.spool_dir)")
    i.add_argument("--name", help="the role's lease owner (default: ingest-<pbx>-<instance id or host name>); "
                   "keep it across restarts")
    sub.add_parser("check-config", help="validate the configuration and print it (secrets masked)")
    h = sub.add_parser("healthcheck", help="exit 0 when this machine's service answers /healthz (container checks)")
    h.add_argument("--ingest", action="store_true", help="check the ingest role instead: the shared database "
                   "answers and recordings.spool_dir is readable and writable")
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
    b = sub.add_parser("recordings-backup", help="copy every stored recording (S3) into another bucket, with its "
                       "Object Lock retention and legal hold (docs/OPERATIONS.md)")
    b.add_argument("--target-bucket", required=True, help="the backup bucket (created with Object Lock if missing)")
    b.add_argument("--target-endpoint-url", help="its S3 endpoint (default: storage.s3_endpoint_url); its keys "
                   "from $CALLGUARD_BACKUP_S3_ACCESS_KEY/_SECRET_KEY (default: the storage keys)")
    sub.add_parser("recordings-relink", help="after a restore: point each stored recording at the object of its key "
                   "with its SHA-256 in the configured store (new version ids)")
    sub.add_parser("recordings-verify", help="read every stored recording back and check its SHA-256")
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
    if args.cmd == "healthcheck":
        return ingest_healthcheck(settings) if args.ingest else healthcheck(settings)
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
    if args.cmd.startswith("recordings-"):
        try:
            report, ok = asyncio.run(_recordings_op(settings, args))
        except CallguardError as err:
            print(json.dumps(err.to_body(settings.server.default_language), ensure_ascii=False), file=sys.stderr)
            return 1
        print(json.dumps(report, ensure_ascii=False))
        return 0 if ok else 1
    if args.cmd == "ingest":
        try:
            asyncio.run(run_ingest(settings, pbx=args.pbx, spool=args.spool, name=args.name))
        except KeyboardInterrupt:
            pass
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
