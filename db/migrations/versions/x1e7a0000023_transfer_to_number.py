"""transfers to an outside number: a leg may be an outside party (call_legs.number, no user), and a transfer
names the compliance decision that let it dial (call_transfers.decision_id)

Revision ID: x1e7a0000023
Revises: p0a7e0000022
Create Date: 2026-12-05 23:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'x1e7a0000023'
down_revision: str | None = 'p0a7e0000022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('call_legs') as batch:
        batch.alter_column('user_id', existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column('number', sa.String(length=20), nullable=True))
    with op.batch_alter_table('call_transfers') as batch:
        batch.add_column(sa.Column('decision_id', sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('call_transfers') as batch:
        batch.drop_column('decision_id')
    op.execute("DELETE FROM call_legs WHERE user_id IS NULL")
    with op.batch_alter_table('call_legs') as batch:
        batch.drop_column('number')
        batch.alter_column('user_id', existing_type=sa.String(length=64), nullable=False)
