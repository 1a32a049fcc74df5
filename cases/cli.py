"""``callguard import-cases FILE --client C --batch B``: import a bank's CSV/XLSX batch file.

Prints progress on stderr and one line per bad row (line, field, reason) on stdout; a bad row never stops
or undoes the good ones, and importing the same file twice changes nothing (unchanged fingerprints).
Exit status: 0 all rows imported, 3 some rows bad (the good ones are imported), 1 the file is unusable.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from audit.service import cli_actor
from cases.importer import BadRow, GoodRow, ImportFileError, RowResult, parse_file
from cases.service import CaseService
from config.settings import ConfigError, load_settings
from core.cells import neutralise_row
from core.clock import Clock
from core.events import EventLog
from db.engine import Database
from db.migrate import migrate
from hooks.outbox import Outbox


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``import-cases``."""
    p = argparse.ArgumentParser(prog="callguard import-cases", description=__doc__.splitlines()[0])
    p.add_argument("file", type=Path)
    p.add_argument("--client", required=True, help="the client (bank) the cases belong to")
    p.add_argument("--batch", required=True, help="the batch (委托批次) id")
    p.add_argument("--config", default=None, help="settings TOML (default $CALLGUARD_CONFIG)")
    p.add_argument("--database-url", default=None, help="overrides database.url")
    p.add_argument("--region", default="CN", help="region of numbers written without +country code")
    p.add_argument("--currency", default="CNY", help="currency when the file has no currency column")
    p.add_argument("--file-timezone", default="Asia/Shanghai", help="zone of times written without offset")
    p.add_argument("--report", type=Path, default=None, help="also write the bad rows to this CSV")
    p.add_argument("--by", default="cli", help="who imports (recorded on holds)")
    p.add_argument("--no-migrate", action="store_true", help="do not upgrade the database schema first")
    return p


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()


Configure = Callable[[CaseService], None]
"""Wires what the cases feature alone does not know (``app.compose.wire_case_import``: a dispute's legal hold
on the case's recordings)."""


async def run_import(args: argparse.Namespace, configure: Configure | None = None) -> int:
    """Parse the file off the loop, import the good rows, report the bad ones; returns the exit status.

    The import is the case system's own (it may lift the hard stops the case system set); holds it lifts
    are audited as ``cli:<login>``."""
    overrides = {"database": {"url": args.database_url}} if args.database_url else {}
    settings = load_settings(args.config, **overrides)
    try:
        rows: list[RowResult] = await asyncio.to_thread(
            lambda: list(parse_file(args.file, client=args.client, batch=args.batch, default_region=args.region,
                                    default_currency=args.currency, file_timezone=args.file_timezone,
                                    max_rows=settings.cases.import_max_rows,
                                    max_bytes=settings.cases.import_max_bytes)))
    except ImportFileError as exc:
        print(f"error: {exc.message} {exc.details or ''}".rstrip(), file=sys.stderr)
        return 1
    good = [r for r in rows if isinstance(r, GoodRow)]
    bad = [r for r in rows if isinstance(r, BadRow)]
    async with Database(settings.database) as db:
        if settings.database.migrate_on_start and not args.no_migrate:
            await migrate(db)
        clock = Clock()
        events = EventLog()
        Outbox(clock).install(events)  # case events reach the webhooks like any other change
        service = CaseService(db=db, events=events, clock=clock)
        if configure is not None:
            configure(service)
        total = len(good)
        _progress(0, total)
        results = await service.upsert_many(client_id=args.client, cases=[r.case for r in good], by=args.by,
                                            progress=lambda n: _progress(n, total), actor=cli_actor())
        sys.stderr.write("\n")
    counts = Counter(r.result for r in results)
    for r, row in zip(results, good, strict=True):
        if r.result == "error":
            bad.append(BadRow(row.line, [(e["field"], e["message"]) for e in r.errors]))
    bad.sort(key=lambda b: b.line)
    for b in bad:
        for field, reason in b.errors:
            print(f"line {b.line}: {field}: {reason}")
    if args.report is not None:
        with args.report.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["line", "field", "reason"])  # reasons may quote the file's cells: neutralised
            w.writerows(neutralise_row([b.line, f, reason]) for b in bad for f, reason in b.errors)
    print(f"created {counts['created']}, updated {counts['updated']}, unchanged {counts['unchanged']}, "
          f"bad rows {len(bad)}", file=sys.stderr)
    return 3 if bad else 0


def main(argv: Sequence[str] | None = None, *, configure: Configure | None = None) -> int:
    """Entry point of ``callguard import-cases`` (argv without the subcommand name)."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run_import(args, configure))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
