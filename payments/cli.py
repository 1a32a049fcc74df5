"""``callguard import-payments FILE --client C``: import a bank's CSV/XLSX payments file.

Prints one line per bad row (line, field, reason) on stdout and the counts on stderr; a bad row never stops or
undoes the good ones, and importing the same file twice changes nothing (each payment is stored once per the
bank's payment id). Exit status: 0 every row imported, 3 some rows bad (the good ones are imported), 1 the file
is unusable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from audit.service import cli_actor
from auth.service import OPERATOR
from cases.importer import ImportFileError
from config.settings import ConfigError, load_settings
from core.clock import Clock
from core.events import EventLog
from db.engine import Database
from db.migrate import migrate
from hooks.outbox import Outbox
from payments.importer import parse_payments
from payments.service import PaymentService


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``import-payments``."""
    p = argparse.ArgumentParser(prog="callguard import-payments", description=__doc__.splitlines()[0])
    p.add_argument("file", type=Path)
    p.add_argument("--client", required=True, help="the client (bank) the payments' cases belong to")
    p.add_argument("--config", default=None, help="settings TOML (default $CALLGUARD_CONFIG)")
    p.add_argument("--database-url", default=None, help="overrides database.url")
    p.add_argument("--currency", default="CNY", help="currency when the file has no currency column")
    p.add_argument("--file-timezone", default="Asia/Shanghai", help="zone of times written without offset")
    p.add_argument("--no-migrate", action="store_true", help="do not upgrade the database schema first")
    return p


async def run_import(args: argparse.Namespace) -> int:
    """Parse the file off the loop, store the payments (settling promises as the API does); the exit status."""
    overrides = {"database": {"url": args.database_url}} if args.database_url else {}
    settings = load_settings(args.config, **overrides)
    try:
        rows = await asyncio.to_thread(parse_payments, args.file, default_currency=args.currency,
                                       file_timezone=args.file_timezone, max_rows=settings.cases.import_max_rows,
                                       max_bytes=settings.cases.import_max_bytes)
    except ImportFileError as exc:
        print(f"error: {exc.message} {exc.details or ''}".rstrip(), file=sys.stderr)
        return 1
    async with Database(settings.database) as db:
        if settings.database.migrate_on_start and not args.no_migrate:
            await migrate(db)
        clock = Clock()
        events = EventLog()
        Outbox(clock).install(events)  # payment and promise events reach the webhooks like any other change
        service = PaymentService(db=db, events=events, clock=clock)
        results = await service.receive(OPERATOR, client_id=args.client, items=[item for _, item in rows],
                                        actor=cli_actor())
    bad = 0
    for (line, _item), r in zip(rows, results, strict=True):
        if r.result in ("created", "unchanged"):
            continue
        bad += 1
        for e in r.errors or [{"field": "(row)", "message": r.result}]:
            print(f"line {line}: {e['field']}: {r.result}: {e['message']}")
    counts = Counter(r.result for r in results)
    print(f"created {counts['created']}, unchanged {counts['unchanged']}, bad rows {bad}", file=sys.stderr)
    return 3 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``callguard import-payments`` (argv without the subcommand name)."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run_import(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
