"""due callbacks handed to the team after the client's grace: callbacks.team_due_at and handed_at

Revision ID: p0a7e0000021
Revises: p0a7e0000020
Create Date: 2026-12-05 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'p0a7e0000021'
down_revision: str | None = 'p0a7e0000020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('callbacks') as batch:
        batch.add_column(sa.Column('team_due_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('handed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_callbacks_state_team_due', 'callbacks', ['state', 'team_due_at'], unique=False)
    op.create_index('ix_callbacks_team_state_handed', 'callbacks', ['team', 'state', 'handed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_callbacks_team_state_handed', table_name='callbacks')
    op.drop_index('ix_callbacks_state_team_due', table_name='callbacks')
    with op.batch_alter_table('callbacks') as batch:
        batch.drop_column('handed_at')
        batch.drop_column('team_due_at')
