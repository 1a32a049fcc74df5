"""analytics: hourly rollup and 1-second talk-time histogram of calls, and the triggers that mark changed hours

Frozen: the tables, indexes and triggers are spelled out here as this revision created them (never read
from today's analytics code).

Revision ID: 8c1d2e3f4a5b
Revises: 74454f9ad67d
Create Date: 2026-11-29 17:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '8c1d2e3f4a5b'
down_revision: str | None = '74454f9ad67d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIM_COLUMNS = ('agent_id', 'team', 'client_id', 'batch_id', 'number_kind')
COUNT_COLUMNS = (
    'attempts', 'connected', 'in_progress', 'completed', 'customer_busy', 'customer_no_answer',
    'customer_unreachable', 'agent_no_answer', 'agent_rejected', 'agent_unavailable', 'cancelled', 'failed',
    'invalid_number', 'o_right_party_contact', 'o_promise_to_pay', 'o_refuses', 'o_wrong_number',
    'o_third_party_answered', 'o_deceased', 'o_suspected_fraud', 'o_dispute', 'o_callback_requested',
    'o_no_answer', 'o_busy', 'o_left_message', 'o_other', 'talk_n', 'tta_n',
)
SUM_COLUMNS = ('talk_sum', 'tta_sum')
HOUR_COMMENT = 'UTC hours since 1970-01-01 of calls.created_at'

# Columns of calls whose change can change a rollup row.
WATCHED = ('created_at', 'agent_id', 'team', 'client_id', 'batch_id', 'number_kind', 'state', 'end_reason',
           'hangup_cause', 'answered_at', 'ended_at', 'outcome', 'talk_seconds', 'ring_seconds')

SQLITE_MARK = """INSERT INTO call_rollup_dirty (hour, gen, starts_at, ends_at) VALUES (
  CAST(strftime('%s', {row}.created_at) AS INTEGER) / 3600, 1,
  strftime('%Y-%m-%d %H:00:00.000000', {row}.created_at),
  strftime('%Y-%m-%d %H:00:00.000000', {row}.created_at, '+1 hour'))
  ON CONFLICT (hour) DO UPDATE SET gen = gen + 1;"""

SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS calls_rollup_ins AFTER INSERT ON calls BEGIN "
    + SQLITE_MARK.format(row="NEW") + " END",
    f"CREATE TRIGGER IF NOT EXISTS calls_rollup_upd AFTER UPDATE OF {', '.join(WATCHED)} ON calls BEGIN "
    + SQLITE_MARK.format(row="OLD") + SQLITE_MARK.format(row="NEW") + " END",
    "CREATE TRIGGER IF NOT EXISTS calls_rollup_del AFTER DELETE ON calls BEGIN "
    + SQLITE_MARK.format(row="OLD") + " END",
)

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


def _dims() -> list[sa.Column]:
    return [sa.Column(d, sa.String(length=64), nullable=False) for d in DIM_COLUMNS]


def upgrade() -> None:
    op.create_table('call_rollup_hourly',
    sa.Column('hour', sa.BigInteger(), nullable=False, comment=HOUR_COMMENT),
    *_dims(),
    *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNT_COLUMNS),
    *(sa.Column(c, sa.Float(), nullable=False) for c in SUM_COLUMNS),
    sa.PrimaryKeyConstraint('hour', *DIM_COLUMNS, name='pk_call_rollup_hourly'),
    comment='Exact sums of calls per UTC hour and dimensions, for every hour absent from call_rollup_dirty.',
    sqlite_with_rowid=False,
    )
    op.create_table('call_talk_hourly',
    sa.Column('hour', sa.BigInteger(), nullable=False, comment=HOUR_COMMENT),
    *_dims(),
    sa.Column('sec', sa.Integer(), nullable=False, comment='talk seconds rounded half up to a whole second'),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('hour', *DIM_COLUMNS, 'sec', name='pk_call_talk_hourly'),
    comment='Sparse 1-second talk-time histogram of connected calls per UTC hour and dimensions (exact '
            'percentiles); kept with call_rollup_hourly, same dirty hours.',
    sqlite_with_rowid=False,
    )
    op.create_table('call_rollup_dirty',
    sa.Column('hour', sa.BigInteger(), nullable=False),
    sa.Column('gen', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hour', name='pk_call_rollup_dirty'),
    comment='UTC hours whose calls changed since they were rolled up (set by triggers on calls).',
    )
    # reports filtered by agent or client (the primary keys lead with the hour, for ranges of time)
    for table in ('call_rollup_hourly', 'call_talk_hourly'):
        for dim in ('agent_id', 'client_id'):
            op.create_index(f'ix_{table}_{dim}_hour', table, [dim, 'hour'], unique=False)
    # the marks commit with the call change that makes them (see analytics/rollup.py)
    for stmt in SQLITE_TRIGGERS if op.get_bind().dialect.name == 'sqlite' else PG_TRIGGERS:
        op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for kind in ('ins', 'upd', 'del'):
            op.execute(f'DROP TRIGGER IF EXISTS calls_rollup_{kind}')
    else:
        op.execute('DROP TRIGGER IF EXISTS calls_rollup ON calls')
        op.execute('DROP FUNCTION IF EXISTS callguard_rollup_mark()')
        op.execute('DROP FUNCTION IF EXISTS callguard_rollup_mark_at(timestamptz)')
    op.drop_table('call_rollup_dirty')
    op.drop_table('call_talk_hourly')
    op.drop_table('call_rollup_hourly')
