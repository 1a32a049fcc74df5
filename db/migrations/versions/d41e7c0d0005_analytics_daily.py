"""analytics: daily rollup per reporting zone (call_rollup_zones, call_rollup_daily, call_talk_daily)

Frozen: the tables are spelled out here as this revision created them (never read from today's code).

Revision ID: d41e7c0d0005
Revises: 8c1d2e3f4a5b
Create Date: 2026-11-29 19:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd41e7c0d0005'
down_revision: str | None = '8c1d2e3f4a5b'
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
DAY_COMMENT = "local days since 1970-01-01 in the row's zone"


def _dims() -> list[sa.Column]:
    return [sa.Column(d, sa.String(length=64), nullable=False) for d in DIM_COLUMNS]


def upgrade() -> None:
    op.create_table('call_rollup_zones',
    sa.Column('zone', sa.String(length=64), nullable=False,
              comment='IANA zone whose offset is always a whole hour'),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=True,
              comment="NULL until the zone's daily rows are complete"),
    sa.PrimaryKeyConstraint('zone', name='pk_call_rollup_zones'),
    comment='Zones with a daily rollup (call_rollup_daily / call_talk_daily); shared by every instance.',
    )
    op.create_table('call_rollup_daily',
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False, comment=DAY_COMMENT),
    *_dims(),
    *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNT_COLUMNS),
    *(sa.Column(c, sa.Float(), nullable=False) for c in SUM_COLUMNS),
    sa.PrimaryKeyConstraint('zone', 'day', *DIM_COLUMNS, name='pk_call_rollup_daily'),
    comment='call_rollup_hourly summed per local day of a zone in call_rollup_zones; a day is exact when '
            'none of its hours is in call_rollup_dirty.',
    sqlite_with_rowid=False,
    )
    op.create_table('call_talk_daily',
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('grain', sa.Integer(), nullable=False,
              comment='which dimensions the row is keyed by (TALK_GRAINS)'),
    sa.Column('day', sa.Integer(), nullable=False, comment=DAY_COMMENT),
    *_dims(),
    sa.Column('n', sa.Integer(), nullable=False, comment='connected calls with a talk time'),
    sa.Column('secs', sa.LargeBinary(), nullable=False,
              comment='their talk seconds (rounded half up), sorted, little-endian uint32, repeated per call'),
    sa.PrimaryKeyConstraint('zone', 'grain', 'day', *DIM_COLUMNS, name='pk_call_talk_daily'),
    comment='Talk seconds per local day of a zone and the dimensions of a grain, for exact percentiles '
            'without a row per second; kept with call_rollup_daily.',
    sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table('call_talk_daily')
    op.drop_table('call_rollup_daily')
    op.drop_table('call_rollup_zones')
