"""The rollup tables and the triggers on ``calls`` that mark changed hours dirty, as today's code defines them.

The migrations carry their own frozen copy of this DDL; ``install`` (idempotent) serves tests, the synthetic
loader and the benchmarks, and ``set_triggers_sync`` switches the triggers off for a bulk load.

The triggers run inside the transaction that changes a call, so a committed change is never without its
dirty mark; the rollup job removes a mark only in the transaction that recomputes that hour from the raw
rows (see ``analytics.rollup``). On PostgreSQL the mark is an upsert ``DO UPDATE`` (never ``DO NOTHING``):
it waits for a job that holds the row locked and re-inserts the mark after the job deleted it.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from analytics.models import FILTER_INDEXES, dirty, rollup, rollup_daily, talk_daily, talk_hist, zones
from db.engine import Database

# Columns whose change can change a rollup row.
# (``direction`` is set when a call is inserted and never changes: the insert marks its hour.)
WATCHED = ("created_at", "agent_id", "team", "client_id", "batch_id", "number_kind", "state", "end_reason",
           "hangup_cause", "answered_at", "ended_at", "outcome", "talk_seconds", "ring_seconds")

_SQLITE_MARK = """INSERT INTO call_rollup_dirty (hour, gen, starts_at, ends_at) VALUES (
  CAST(strftime('%s', {row}.created_at) AS INTEGER) / 3600, 1,
  strftime('%Y-%m-%d %H:00:00.000000', {row}.created_at),
  strftime('%Y-%m-%d %H:00:00.000000', {row}.created_at, '+1 hour'))
  ON CONFLICT (hour) DO UPDATE SET gen = gen + 1;"""

SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS calls_rollup_ins AFTER INSERT ON calls BEGIN "
    + _SQLITE_MARK.format(row="NEW") + " END",
    f"CREATE TRIGGER IF NOT EXISTS calls_rollup_upd AFTER UPDATE OF {', '.join(WATCHED)} ON calls BEGIN "
    + _SQLITE_MARK.format(row="OLD") + _SQLITE_MARK.format(row="NEW") + " END",
    "CREATE TRIGGER IF NOT EXISTS calls_rollup_del AFTER DELETE ON calls BEGIN "
    + _SQLITE_MARK.format(row="OLD") + " END",
)
SQLITE_DROP = tuple(f"DROP TRIGGER IF EXISTS calls_rollup_{k}" for k in ("ins", "upd", "del"))

PG_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION callguard_rollup_mark_at(ts timestamptz) RETURNS void LANGUAGE sql AS $$
  INSERT INTO call_rollup_dirty (hour, gen, starts_at, ends_at)
  VALUES (floor(extract(epoch FROM ts) / 3600)::bigint, 1, date_trunc('hour', ts, 'UTC'),
          date_trunc('hour', ts, 'UTC') + interval '1 hour')
  ON CONFLICT (hour) DO UPDATE SET gen = call_rollup_dirty.gen + 1
$$""",
    """CREATE OR REPLACE FUNCTION callguard_rollup_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN PERFORM callguard_rollup_mark_at(OLD.created_at); END IF;
  IF TG_OP <> 'DELETE' THEN PERFORM callguard_rollup_mark_at(NEW.created_at); END IF;
  RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE TRIGGER calls_rollup AFTER INSERT OR DELETE OR UPDATE OF {', '.join(WATCHED)}
  ON calls FOR EACH ROW EXECUTE FUNCTION callguard_rollup_mark()""",
)


def install_sync(conn: Connection) -> None:
    """Create the rollup tables and triggers if missing."""
    rollup.create(conn, checkfirst=True)
    talk_hist.create(conn, checkfirst=True)
    dirty.create(conn, checkfirst=True)
    for table in (zones, rollup_daily, talk_daily):
        table.create(conn, checkfirst=True)
    for index in FILTER_INDEXES:  # tables created before the indexes existed get them too
        index.create(conn, checkfirst=True)
    statements = SQLITE_TRIGGERS if conn.dialect.name == "sqlite" else PG_TRIGGERS
    for stmt in statements:
        conn.execute(text(stmt))


def set_triggers_sync(conn: Connection, *, enabled: bool) -> None:
    """Switch the dirty-marking triggers off for an offline bulk load (then ``rebuild``) and back on."""
    if conn.dialect.name == "sqlite":
        for stmt in (SQLITE_TRIGGERS if enabled else SQLITE_DROP):
            conn.execute(text(stmt))
    else:
        conn.execute(text(f"ALTER TABLE calls {'ENABLE' if enabled else 'DISABLE'} TRIGGER calls_rollup"))


async def install(db: Database) -> None:
    """Create the rollup tables and triggers on ``db`` (idempotent)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(install_sync)
