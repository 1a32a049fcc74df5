"""domain events carry the team of their call or case (the live stream's team wall)

Existing events keep ``team`` NULL: a supervisor with a team does not see them in a replay.

Revision ID: 7e4a0da7a012
Revises: 7e4a0da7a011
Create Date: 2026-12-04 19:00:01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '7e4a0da7a012'
down_revision: str | None = '7e4a0da7a011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE on both backends: a batch copy would lose the append-only triggers
    op.add_column('domain_events', sa.Column('team', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('domain_events', 'team')
