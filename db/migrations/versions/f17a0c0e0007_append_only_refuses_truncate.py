"""append-only tables refuse TRUNCATE (PostgreSQL); the access log and domain events refuse UPDATE and DELETE too

The append-only tables are the compliance decision log, the recording access log and the domain events.
The decision log already refused UPDATE and DELETE (row triggers), but a row trigger does not fire on
TRUNCATE: a statement trigger refuses it here. SQLite has no TRUNCATE (its ``DELETE`` without ``WHERE``
fires the row triggers).

Revision ID: f17a0c0e0007
Revises: c11d0b0e0010
Create Date: 2026-12-04 18:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'f17a0c0e0007'
down_revision: str | None = 'c11d0b0e0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("compliance_decisions", "recording_access", "domain_events")
#: tables that had no UPDATE/DELETE trigger before this revision
NEWLY_GUARDED = ("recording_access", "domain_events")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in NEWLY_GUARDED:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        return
    op.execute(
        "CREATE FUNCTION callguard_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP; END $$"
    )
    for table in NEWLY_GUARDED:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION callguard_append_only()"
        )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION callguard_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in NEWLY_GUARDED:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        return
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    for table in NEWLY_GUARDED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS callguard_append_only()")
