"""people sign in: a password per user (argon2id) and sessions as a kind of token

A session is a row of ``api_tokens`` with ``kind = 'session'``, so revocation, expiry, deactivation and
the client scope apply to it unchanged; existing rows are bearer tokens (``kind = 'token'``).

Revision ID: c0501e000016
Revises: b7e5e0a00017
Create Date: 2026-12-05 07:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c0501e000016'
down_revision: str | None = 'b7e5e0a00017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('users', sa.Column('password_hash', sa.String(length=200), nullable=True))
    op.add_column('users', sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('api_tokens', sa.Column('kind', sa.String(length=16), nullable=False, server_default='token'))


def downgrade() -> None:
    op.drop_column('api_tokens', 'kind')
    op.drop_column('users', 'password_changed_at')
    op.drop_column('users', 'password_hash')
