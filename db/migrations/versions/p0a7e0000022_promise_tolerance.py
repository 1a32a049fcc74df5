"""promises short of their amount within a client's tolerance count as kept: client_settings.promise_tolerance_percent
and promises.tolerance (the amount short that still counts, fixed when the promise is made)

Revision ID: p0a7e0000022
Revises: t0a1f0e00019
Create Date: 2026-12-05 16:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'p0a7e0000022'
down_revision: str | None = 't0a1f0e00019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('client_settings') as batch:
        batch.add_column(sa.Column('promise_tolerance_percent', sa.Numeric(5, 2, asdecimal=True), nullable=False,
                                   server_default='0'))
    with op.batch_alter_table('promises') as batch:
        batch.add_column(sa.Column('tolerance', sa.Numeric(18, 4, asdecimal=True), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('promises') as batch:
        batch.drop_column('tolerance')
    with op.batch_alter_table('client_settings') as batch:
        batch.drop_column('promise_tolerance_percent')
