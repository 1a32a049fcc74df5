"""do-not-call entries belong to a client ('' = every client): a bank's list binds that bank's dials only

Existing entries become entries of every client (``client_id`` ''), as they applied before.

Revision ID: d0c11e0c0013
Revises: 7e4a0da7a012
Create Date: 2026-12-05 08:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'd0c11e0c0013'
down_revision: str | None = '7e4a0da7a012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the primary key grows by the client: a batch copy on SQLite (the table has no triggers to lose)
    with op.batch_alter_table('do_not_call', recreate='always') as batch:
        batch.add_column(sa.Column('client_id', sa.String(length=64), nullable=False, server_default=''))
        batch.drop_constraint('pk_do_not_call', type_='primary')
        batch.create_primary_key('pk_do_not_call', ['value', 'kind', 'client_id'])


def downgrade() -> None:
    # entries of one client become entries of every client again (the stricter reading), one per number
    op.execute("DELETE FROM do_not_call WHERE client_id <> '' AND EXISTS (SELECT 1 FROM do_not_call AS o "
               "WHERE o.value = do_not_call.value AND o.kind = do_not_call.kind "
               "AND o.client_id < do_not_call.client_id)")
    with op.batch_alter_table('do_not_call', recreate='always') as batch:
        batch.drop_constraint('pk_do_not_call', type_='primary')
        batch.create_primary_key('pk_do_not_call', ['value', 'kind'])
        batch.drop_column('client_id')
