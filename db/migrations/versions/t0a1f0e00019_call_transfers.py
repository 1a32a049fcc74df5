"""call transfers and call legs: a call keeps its id across a transfer and gains legs (who talked to the
customer from when to when)

Revision ID: t0a1f0e00019
Revises: i0b0a0d00018
Create Date: 2026-12-05 11:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 't0a1f0e00019'
down_revision: str | None = 'i0b0a0d00018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('call_transfers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('call_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('from_agent', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('target_role', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('target_leg_id', sa.String(length=36), nullable=False),
    sa.Column('back_leg_id', sa.String(length=36), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consulting_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure', sa.String(length=64), nullable=True),
    sa.Column('dial_status', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_transfers')),
    sa.UniqueConstraint('call_id', 'seq', name=op.f('uq_call_transfers_call_id'))
    )
    op.create_table('call_legs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('call_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('sip_user', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('transfer_id', sa.String(length=36), nullable=True),
    sa.Column('channel', sa.String(length=128), nullable=True),
    sa.Column('ringing_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cause', sa.Integer(), nullable=True),
    sa.Column('talk_seconds', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_legs')),
    sa.UniqueConstraint('call_id', 'seq', name=op.f('uq_call_legs_call_id'))
    )
    op.create_index('ix_call_legs_user_answered', 'call_legs', ['user_id', 'answered_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_call_legs_user_answered', table_name='call_legs')
    op.drop_table('call_legs')
    op.drop_table('call_transfers')
