"""hook subscriptions belong to one client

Existing subscriptions keep ``client_id`` NULL: platform subscriptions of a global admin, which receive
every client's events and are visible to global admins only.

Revision ID: 7e4a0da7a011
Revises: 9a7e0d000009
Create Date: 2026-12-04 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '7e4a0da7a011'
down_revision: str | None = '9a7e0d000009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('hook_subscriptions', sa.Column('client_id', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_hook_subscriptions_client_id'), 'hook_subscriptions', ['client_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_hook_subscriptions_client_id'), table_name='hook_subscriptions')
    op.drop_column('hook_subscriptions', 'client_id')
