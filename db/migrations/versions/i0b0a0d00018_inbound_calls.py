"""debtors calling back: a call's direction, and callbacks an inbound call leaves for an agent or a team

``calls.direction`` is ``outbound`` for every existing call (the server default) and ``inbound`` for a call a
customer placed to a presented number. A callback left by an inbound call may have no case (an unknown
caller: the callback carries the caller's ``number``) and no agent (it is the team's), so ``case_id`` and
``agent_id`` become nullable; ``origin`` says what scheduled it (``disposition`` for every existing row). An inbound caller's channel
(``customer_uniqueid``) is looked up so that each is logged once: indexed.

Revision ID: i0b0a0d00018
Revises: c0501e000016
Create Date: 2026-12-05 11:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'i0b0a0d00018'
down_revision: str | None = 'c0501e000016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('calls', sa.Column('direction', sa.String(length=8), nullable=False, server_default='outbound'))
    op.create_index('ix_calls_customer_uniqueid', 'calls', ['customer_uniqueid'], unique=False)
    with op.batch_alter_table('callbacks') as batch:
        batch.alter_column('case_id', existing_type=sa.String(length=36), nullable=True)
        batch.alter_column('agent_id', existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column('number', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('origin', sa.String(length=16), nullable=False, server_default='disposition'))


def downgrade() -> None:
    # callbacks without a case or an agent cannot exist before this revision
    op.execute("DELETE FROM callbacks WHERE case_id IS NULL OR agent_id IS NULL")
    with op.batch_alter_table('callbacks') as batch:
        batch.drop_column('origin')
        batch.drop_column('number')
        batch.alter_column('agent_id', existing_type=sa.String(length=64), nullable=False)
        batch.alter_column('case_id', existing_type=sa.String(length=36), nullable=False)
    op.drop_index('ix_calls_customer_uniqueid', table_name='calls')
    op.drop_column('calls', 'direction')
