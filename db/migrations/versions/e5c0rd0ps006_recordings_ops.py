"""recordings ops: store-orphan gaps (wider kind/ref), recordings.key index, store scan position

Revision ID: e5c0rd0ps006
Revises: d41e7c0d0005
Create Date: 2026-12-01 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e5c0rd0ps006'
down_revision: str | None = 'd41e7c0d0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # PostgreSQL widens varchar in place (no table rewrite); SQLite's batch mode copies the table
    with op.batch_alter_table('recording_gaps', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=8), type_=sa.String(length=16),
                              existing_nullable=False)
        batch_op.alter_column('ref', existing_type=sa.String(length=64), type_=sa.String(length=1024),
                              existing_nullable=False)
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index('ix_recordings_key', ['key'], unique=False)
    op.create_table('recording_store_scans',
    sa.Column('location', sa.String(length=255), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.Column('seq', BigId, nullable=False),
    sa.Column('passes', sa.Integer(), nullable=False),
    sa.Column('pass_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pass_keys', BigId, nullable=False),
    sa.Column('last_pass_finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_pass_keys', BigId, nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('location', name=op.f('pk_recording_store_scans'))
    )


def downgrade() -> None:
    op.drop_table('recording_store_scans')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_key')
    op.execute("DELETE FROM recording_gaps WHERE kind = 'store-orphan'")  # do not fit the old columns
    with op.batch_alter_table('recording_gaps', schema=None) as batch_op:
        batch_op.alter_column('ref', existing_type=sa.String(length=1024), type_=sa.String(length=64),
                              existing_nullable=False)
        batch_op.alter_column('kind', existing_type=sa.String(length=16), type_=sa.String(length=8),
                              existing_nullable=False)
