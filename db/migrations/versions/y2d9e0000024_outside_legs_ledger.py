"""an outside party's leg is counted by the gate's ledger: call_legs.created_at, case_id, debtor_key, number_kind
and the two index-only ledger indexes

Revision ID: y2d9e0000024
Revises: x1e7a0000023
Create Date: 2026-12-06 02:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'y2d9e0000024'
down_revision: str | None = 'x1e7a0000023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('call_legs') as batch:
        batch.add_column(sa.Column('created_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('case_id', sa.String(length=36), nullable=True))
        batch.add_column(sa.Column('debtor_key', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('number_kind', sa.String(length=16), nullable=True))
    op.create_index('ix_call_legs_number_ledger', 'call_legs',
                    ['number', 'created_at', 'ringing_at', 'ended_at', 'answered_at', 'number_kind', 'case_id'])
    op.create_index('ix_call_legs_debtor_ledger', 'call_legs',
                    ['debtor_key', 'created_at', 'ringing_at', 'ended_at', 'answered_at', 'number_kind',
                     'talk_seconds'])


def downgrade() -> None:
    op.drop_index('ix_call_legs_debtor_ledger', table_name='call_legs')
    op.drop_index('ix_call_legs_number_ledger', table_name='call_legs')
    with op.batch_alter_table('call_legs') as batch:
        batch.drop_column('number_kind')
        batch.drop_column('debtor_key')
        batch.drop_column('case_id')
        batch.drop_column('created_at')
