"""monitor sessions: supervisor listen / whisper / barge on live calls (issue #14)

Revision ID: m0a1e0000017
Revises: p0a7e0000021
Create Date: 2026-12-05 11:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'm0a1e0000017'
down_revision: str | None = 'p0a7e0000021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'monitor_sessions',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('call_id', sa.String(length=36), nullable=False),
        sa.Column('supervisor_id', sa.String(length=64), nullable=False),
        sa.Column('supervisor_role', sa.String(length=16), nullable=False),
        sa.Column('sip_user', sa.String(length=64), nullable=False),
        sa.Column('pbx', sa.String(length=32), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=True),
        sa.Column('team', sa.String(length=64), nullable=True),
        sa.Column('agent_id', sa.String(length=64), nullable=False),
        sa.Column('mode', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('channel', sa.String(length=128), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('end_reason', sa.String(length=16), nullable=True),
        sa.Column('ended_by', sa.String(length=64), nullable=True),
        sa.Column('hangup_cause', sa.Integer(), nullable=True),
        sa.Column('mode_changes', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_monitor_sessions_call', 'monitor_sessions', ['call_id', 'created_at'])
    op.create_index('ix_monitor_sessions_supervisor', 'monitor_sessions', ['supervisor_id', 'state'])


def downgrade() -> None:
    op.drop_index('ix_monitor_sessions_supervisor', table_name='monitor_sessions')
    op.drop_index('ix_monitor_sessions_call', table_name='monitor_sessions')
    op.drop_table('monitor_sessions')
