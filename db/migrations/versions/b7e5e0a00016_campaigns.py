"""campaigns (preview mode): campaigns, their agents, one entry per case with its schedule and claim

Revision ID: b7e5e0a00016
Revises: b7e5e0a00015
Create Date: 2026-12-05 08:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b7e5e0a00016'
down_revision: str | None = 'b7e5e0a00015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('selection', sa.JSON(), nullable=False),
    sa.Column('busy_retry_s', sa.Integer(), nullable=False),
    sa.Column('no_answer_retry_s', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    op.create_index('ix_campaigns_client_id', 'campaigns', ['client_id'], unique=False)
    op.create_table('campaign_agents',
    sa.Column('campaign_id', sa.String(length=36), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id', 'agent_id', name=op.f('pk_campaign_agents'))
    )
    op.create_index('ix_campaign_agents_agent_id', 'campaign_agents', ['agent_id'], unique=False)
    op.create_table('campaign_entries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('campaign_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_call_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_result', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_entries')),
    sa.UniqueConstraint('campaign_id', 'case_id', name='uq_campaign_entries_campaign_case')
    )
    op.create_index('ix_campaign_entries_pick', 'campaign_entries',
                    ['campaign_id', 'state', 'first_call_by', 'priority', 'next_at'], unique=False)
    op.create_index('ix_campaign_entries_claimed', 'campaign_entries', ['claimed_by', 'state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_campaign_entries_claimed', table_name='campaign_entries')
    op.drop_index('ix_campaign_entries_pick', table_name='campaign_entries')
    op.drop_table('campaign_entries')
    op.drop_index('ix_campaign_agents_agent_id', table_name='campaign_agents')
    op.drop_table('campaign_agents')
    op.drop_index('ix_campaigns_client_id', table_name='campaigns')
    op.drop_table('campaigns')
