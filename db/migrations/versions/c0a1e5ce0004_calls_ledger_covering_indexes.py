"""calls: covering indexes for the compliance gate's ledger reads

The (number, created_at) and (debtor_key, created_at) indexes are replaced by indexes that also hold
every other column the gate's ledger query filters on or returns (compliance.ledger_sql), so that the
query is answered from the indexes alone, without visiting rows of calls. Every query the old indexes
served is served by the new ones (same leading columns).

Revision ID: c0a1e5ce0004
Revises: e5c0rd0ps006
Create Date: 2026-11-29 19:18:15.702708
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'c0a1e5ce0004'
down_revision: str | None = 'e5c0rd0ps006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_debtor_created'))
        batch_op.drop_index(batch_op.f('ix_calls_number_created'))
        batch_op.create_index('ix_calls_debtor_ledger', ['debtor_key', 'created_at', 'customer_ringing_at', 'ended_at',
                                                         'answered_at', 'number_kind', 'talk_seconds', 'outcome'],
                              unique=False)
        batch_op.create_index('ix_calls_number_ledger', ['number', 'created_at', 'customer_ringing_at', 'ended_at',
                                                         'answered_at', 'number_kind', 'case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_number_ledger')
        batch_op.drop_index('ix_calls_debtor_ledger')
        batch_op.create_index(batch_op.f('ix_calls_number_created'), ['number', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_debtor_created'), ['debtor_key', 'created_at'], unique=False)
