"""campaign entries carry the case's agent and a tier; the pick reads one index in its own order

Revision ID: b7e5e0a00017
Revises: b7e5e0a00016
Create Date: 2026-12-05 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b7e5e0a00017'
down_revision: str | None = 'b7e5e0a00016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('campaign_entries', sa.Column('assigned_agent', sa.String(length=64), nullable=True))
    op.add_column('campaign_entries', sa.Column('tier', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE campaign_entries SET tier = CASE WHEN first_call_by IS NULL THEN 1 ELSE 0 END, "
               "priority = -priority")  # priority now sorts ascending: minus the days overdue
    op.execute("UPDATE campaign_entries SET assigned_agent = "
               "(SELECT cases.assigned_agent FROM cases WHERE cases.id = campaign_entries.case_id)")
    op.drop_index('ix_campaign_entries_pick', table_name='campaign_entries')
    op.create_index('ix_campaign_entries_next', 'campaign_entries',
                    ['campaign_id', 'state', 'assigned_agent', 'tier', 'first_call_by', 'priority', 'next_at', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_campaign_entries_next', table_name='campaign_entries')
    op.create_index('ix_campaign_entries_pick', 'campaign_entries',
                    ['campaign_id', 'state', 'first_call_by', 'priority', 'next_at'], unique=False)
    op.execute("UPDATE campaign_entries SET priority = -priority")
    op.drop_column('campaign_entries', 'tier')
    op.drop_column('campaign_entries', 'assigned_agent')
