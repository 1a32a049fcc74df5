"""gate side doors: agreed windows carry their evidence; case numbers indexed for dials without a case

Revision ID: 9a7e0d000009
Revises: f17a0c0e0007
Create Date: 2026-12-04 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '9a7e0d000009'
down_revision: str | None = 'f17a0c0e0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # windows recorded before this revision have no evidence (NULL): the gate no longer honours them
    with op.batch_alter_table('agreed_windows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence', sa.String(length=16), nullable=True))
    with op.batch_alter_table('case_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_case_contacts_number', ['number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_case_contacts_number')
    with op.batch_alter_table('agreed_windows', schema=None) as batch_op:
        batch_op.drop_column('evidence')
