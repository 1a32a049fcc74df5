"""two-person releases and kept webhook history: release requests (a legal hard stop, a do-not-call number
or a recording's legal hold is lifted by two different people), and deleted webhook subscriptions kept
(``deleted_at``, ``deleted_by``) with their deliveries

Revision ID: a99b0e0a0014
Revises: d0c11e0c0013
Create Date: 2026-12-05 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a99b0e0a0014'
down_revision: str | None = 'd0c11e0c0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('release_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('hold_reason', sa.String(length=32), nullable=True),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('recording_id', sa.String(length=36), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_role', sa.String(length=20), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_role', sa.String(length=20), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_release_requests'))
    )
    op.create_index('ix_release_requests_client_at', 'release_requests', ['client_id', 'requested_at', 'id'],
                    unique=False)
    op.create_index('ix_release_requests_subject_state', 'release_requests', ['subject', 'state'], unique=False)
    op.create_index(op.f('ix_release_requests_case_id'), 'release_requests', ['case_id'], unique=False)
    op.create_index(op.f('ix_release_requests_recording_id'), 'release_requests', ['recording_id'], unique=False)
    # plain ALTER TABLE ADD COLUMN on both backends (a batch copy of a referenced table is refused on SQLite)
    op.add_column('hook_subscriptions', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('hook_subscriptions', sa.Column('deleted_by', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('hook_subscriptions', 'deleted_by')
    op.drop_column('hook_subscriptions', 'deleted_at')
    op.drop_index(op.f('ix_release_requests_recording_id'), table_name='release_requests')
    op.drop_index(op.f('ix_release_requests_case_id'), table_name='release_requests')
    op.drop_index('ix_release_requests_subject_state', table_name='release_requests')
    op.drop_index('ix_release_requests_client_at', table_name='release_requests')
    op.drop_table('release_requests')
