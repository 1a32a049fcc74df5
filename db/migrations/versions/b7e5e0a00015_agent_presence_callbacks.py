"""agent presence (facts and state per agent, state history) and scheduled callbacks

Revision ID: b7e5e0a00015
Revises: a99b0e0a0014
Create Date: 2026-12-05 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b7e5e0a00015'
down_revision: str | None = 'a99b0e0a0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('agent_presence',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('intent', sa.String(length=16), nullable=False),
    sa.Column('pause_code', sa.String(length=32), nullable=True),
    sa.Column('registered', sa.Boolean(), nullable=True),
    sa.Column('device_state', sa.String(length=20), nullable=True),
    sa.Column('device_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pbx', sa.String(length=32), nullable=True),
    sa.Column('call_id', sa.String(length=36), nullable=True),
    sa.Column('call_phase', sa.String(length=16), nullable=True),
    sa.Column('wrap_up_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('agent_id', name=op.f('pk_agent_presence'))
    )
    op.create_index('ix_agent_presence_state_wrap_up', 'agent_presence', ['state', 'wrap_up_until'], unique=False)
    op.create_table('agent_state_history',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('pause_code', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('call_id', sa.String(length=36), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_state_history'))
    )
    op.create_index('ix_agent_state_history_agent_started', 'agent_state_history', ['agent_id', 'started_at'],
                    unique=False)
    op.create_index('ix_agent_state_history_started', 'agent_state_history', ['started_at'], unique=False)
    op.create_table('callbacks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source_call_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_reason', sa.String(length=16), nullable=True),
    sa.Column('done_call_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks'))
    )
    op.create_index('ix_callbacks_state_due', 'callbacks', ['state', 'due_at'], unique=False)
    op.create_index('ix_callbacks_agent_state_due', 'callbacks', ['agent_id', 'state', 'due_at'], unique=False)
    op.create_index('ix_callbacks_case_state', 'callbacks', ['case_id', 'state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_callbacks_case_state', table_name='callbacks')
    op.drop_index('ix_callbacks_agent_state_due', table_name='callbacks')
    op.drop_index('ix_callbacks_state_due', table_name='callbacks')
    op.drop_table('callbacks')
    op.drop_index('ix_agent_state_history_started', table_name='agent_state_history')
    op.drop_index('ix_agent_state_history_agent_started', table_name='agent_state_history')
    op.drop_table('agent_state_history')
    op.drop_index('ix_agent_presence_state_wrap_up', table_name='agent_presence')
    op.drop_table('agent_presence')
