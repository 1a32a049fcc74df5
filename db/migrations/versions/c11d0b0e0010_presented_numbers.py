"""presented numbers: each client's caller numbers, and the number each call presented

Revision ID: c11d0b0e0010
Revises: 1d3a0d170008
Create Date: 2026-12-04 18:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c11d0b0e0010'
down_revision: str | None = '1d3a0d170008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('presented_numbers',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('client_id', 'position', name=op.f('pk_presented_numbers')),
    sa.UniqueConstraint('client_id', 'number', name=op.f('uq_presented_numbers_client_id'))
    )
    # plain ALTER TABLE on both backends (SQLite >= 3.35 drops a column in place): a batch copy of calls
    # would lose the analytics triggers on it
    op.add_column('calls', sa.Column('presented_number', sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column('calls', 'presented_number')
    op.drop_table('presented_numbers')
