"""debtors calling back: a call's direction, and callbacks an inbound call leaves for an agent or a team

``calls.direction`` is ``outbound`` for every existing call (the server default) and ``inbound`` for a call a
customer placed to a presented number. A callback left by an inbound call may have no case (an unknown
caller: the callback carries the caller's ``number``) and no agent (it is the team's), so ``case_id`` and
``agent_id`` become nullable; ``origin`` says what scheduled it (``disposition`` for every existing row). An inbound caller's channel
(``customer_uniqueid``) is looked up so that each is logged once: indexed. Reports group and filter by
``direction``: the rollup tables are made again with it as a dimension (below).

Revision ID: i0b0a0d00018
Revises: m0a1e0000017
Create Date: 2026-12-05 11:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'i0b0a0d00018'
down_revision: str | None = 'm0a1e0000017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Reports group and filter by direction: the rollup tables gain it as a dimension. They hold derived data only,
# so they are made again with the new key and every hour that has calls is marked dirty: until the rollup job
# has recomputed an hour from the raw calls, reports read that hour from the raw calls (exact either way).
# Frozen copies of the rollup tables' definitions (analytics/models.py as of this revision).
OLD_DIMS = ('agent_id', 'team', 'client_id', 'batch_id', 'number_kind')
NEW_DIMS = (*OLD_DIMS, 'direction')
COUNT_COLUMNS = (
    'attempts', 'connected', 'in_progress', 'completed', 'customer_busy', 'customer_no_answer',
    'customer_unreachable', 'agent_no_answer', 'agent_rejected', 'agent_unavailable', 'cancelled', 'failed',
    'invalid_number', 'o_right_party_contact', 'o_promise_to_pay', 'o_refuses', 'o_wrong_number',
    'o_third_party_answered', 'o_deceased', 'o_suspected_fraud', 'o_dispute', 'o_callback_requested',
    'o_no_answer', 'o_busy', 'o_left_message', 'o_other', 'talk_n', 'tta_n',
)
SUM_COLUMNS = ('talk_sum', 'tta_sum')
HOUR_COMMENT = 'UTC hours since 1970-01-01 of calls.created_at'
DAY_COMMENT = "local days since 1970-01-01 in the row's zone"
MARK_ALL = {
    'sqlite': """INSERT INTO call_rollup_dirty (hour, gen, starts_at, ends_at)
  SELECT DISTINCT CAST(strftime('%s', created_at) AS INTEGER) / 3600, 1,
    strftime('%Y-%m-%d %H:00:00.000000', created_at), strftime('%Y-%m-%d %H:00:00.000000', created_at, '+1 hour')
  FROM calls WHERE true
  ON CONFLICT (hour) DO UPDATE SET gen = gen + 1""",
    'postgresql': """INSERT INTO call_rollup_dirty (hour, gen, starts_at, ends_at)
  SELECT DISTINCT floor(extract(epoch FROM created_at) / 3600)::bigint, 1, date_trunc('hour', created_at, 'UTC'),
    date_trunc('hour', created_at, 'UTC') + interval '1 hour'
  FROM calls
  ON CONFLICT (hour) DO UPDATE SET gen = call_rollup_dirty.gen + 1""",
}


def _dims(dims: Sequence[str]) -> list[sa.Column]:
    return [sa.Column(d, sa.String(length=64), nullable=False) for d in dims]


def _rollup_tables(dims: Sequence[str]) -> None:
    """Drop the rollup tables and make them again keyed by ``dims``; every hour with calls dirty, zones unbuilt."""
    for table in ('call_talk_daily', 'call_rollup_daily', 'call_talk_hourly', 'call_rollup_hourly'):
        op.drop_table(table)
    op.create_table('call_rollup_hourly',
    sa.Column('hour', sa.BigInteger(), nullable=False, comment=HOUR_COMMENT),
    *_dims(dims),
    *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNT_COLUMNS),
    *(sa.Column(c, sa.Float(), nullable=False) for c in SUM_COLUMNS),
    sa.PrimaryKeyConstraint('hour', *dims, name='pk_call_rollup_hourly'),
    comment='Exact sums of calls per UTC hour and dimensions, for every hour absent from call_rollup_dirty.',
    sqlite_with_rowid=False,
    )
    op.create_table('call_talk_hourly',
    sa.Column('hour', sa.BigInteger(), nullable=False, comment=HOUR_COMMENT),
    *_dims(dims),
    sa.Column('sec', sa.Integer(), nullable=False, comment='talk seconds rounded half up to a whole second'),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('hour', *dims, 'sec', name='pk_call_talk_hourly'),
    comment='Sparse 1-second talk-time histogram of connected calls per UTC hour and dimensions (exact '
            'percentiles); kept with call_rollup_hourly, same dirty hours.',
    sqlite_with_rowid=False,
    )
    for table in ('call_rollup_hourly', 'call_talk_hourly'):
        for dim in ('agent_id', 'client_id'):
            op.create_index(f'ix_{table}_{dim}_hour', table, [dim, 'hour'], unique=False)
    op.create_table('call_rollup_daily',
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False, comment=DAY_COMMENT),
    *_dims(dims),
    *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNT_COLUMNS),
    *(sa.Column(c, sa.Float(), nullable=False) for c in SUM_COLUMNS),
    sa.PrimaryKeyConstraint('zone', 'day', *dims, name='pk_call_rollup_daily'),
    comment='call_rollup_hourly summed per local day of a zone in call_rollup_zones; a day is exact when '
            'none of its hours is in call_rollup_dirty.',
    sqlite_with_rowid=False,
    )
    op.create_table('call_talk_daily',
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('grain', sa.Integer(), nullable=False,
              comment='which dimensions the row is keyed by (TALK_GRAINS)'),
    sa.Column('day', sa.Integer(), nullable=False, comment=DAY_COMMENT),
    *_dims(dims),
    sa.Column('n', sa.Integer(), nullable=False, comment='connected calls with a talk time'),
    sa.Column('secs', sa.LargeBinary(), nullable=False,
              comment='their talk seconds (rounded half up), sorted, little-endian uint32, repeated per call'),
    sa.PrimaryKeyConstraint('zone', 'grain', 'day', *dims, name='pk_call_talk_daily'),
    comment='Talk seconds per local day of a zone and the dimensions of a grain, for exact percentiles '
            'without a row per second; kept with call_rollup_daily.',
    sqlite_with_rowid=False,
    )
    op.execute("UPDATE call_rollup_zones SET built_at = NULL")
    op.execute(MARK_ALL[op.get_bind().dialect.name])


def upgrade() -> None:
    op.add_column('calls', sa.Column('direction', sa.String(length=8), nullable=False, server_default='outbound'))
    op.create_index('ix_calls_customer_uniqueid', 'calls', ['customer_uniqueid'], unique=False)
    with op.batch_alter_table('callbacks') as batch:
        batch.alter_column('case_id', existing_type=sa.String(length=36), nullable=True)
        batch.alter_column('agent_id', existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column('number', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('origin', sa.String(length=16), nullable=False, server_default='disposition'))
    _rollup_tables(NEW_DIMS)


def downgrade() -> None:
    _rollup_tables(OLD_DIMS)
    # callbacks without a case or an agent cannot exist before this revision
    op.execute("DELETE FROM callbacks WHERE case_id IS NULL OR agent_id IS NULL")
    with op.batch_alter_table('callbacks') as batch:
        batch.drop_column('origin')
        batch.drop_column('number')
        batch.alter_column('agent_id', existing_type=sa.String(length=64), nullable=False)
        batch.alter_column('case_id', existing_type=sa.String(length=36), nullable=False)
    op.drop_index('ix_calls_customer_uniqueid', table_name='calls')
    op.drop_column('calls', 'direction')
