"""payments from the case system, promises to pay checked against them, and clients' settings

Revision ID: p0a7e0000020
Revises: c0501e000016
Create Date: 2026-12-05 11:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'p0a7e0000020'
down_revision: str | None = 'c0501e000016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(18, 4, asdecimal=True)


def upgrade() -> None:
    op.create_table('client_settings',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('pooling', sa.Boolean(), nullable=False),
    sa.Column('promise_grace_days', sa.Integer(), nullable=False),
    sa.Column('callback_team_grace_minutes', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_client_settings'))
    )
    op.create_table('payments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('batch_id', sa.String(length=64), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('client_id', 'external_id', name='uq_payments_client_external')
    )
    op.create_index('ix_payments_case_paid', 'payments', ['case_id', 'paid_at'], unique=False)
    op.create_index('ix_payments_client_paid', 'payments', ['client_id', 'paid_at'], unique=False)
    op.create_table('promises',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('disposition_id', sa.String(length=36), nullable=False),
    sa.Column('call_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('batch_id', sa.String(length=64), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('promised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('promise_date', sa.Date(), nullable=False),
    sa.Column('grace_days', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('paid', MONEY, nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promises')),
    sa.UniqueConstraint('disposition_id', name=op.f('uq_promises_disposition_id'))
    )
    op.create_index('ix_promises_status_deadline', 'promises', ['status', 'deadline'], unique=False)
    op.create_index('ix_promises_case_status', 'promises', ['case_id', 'status'], unique=False)
    op.create_index('ix_promises_client_promised', 'promises', ['client_id', 'promised_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_promises_client_promised', table_name='promises')
    op.drop_index('ix_promises_case_status', table_name='promises')
    op.drop_index('ix_promises_status_deadline', table_name='promises')
    op.drop_table('promises')
    op.drop_index('ix_payments_client_paid', table_name='payments')
    op.drop_index('ix_payments_case_paid', table_name='payments')
    op.drop_table('payments')
    op.drop_table('client_settings')
