"""analytics: hourly rollup and 1-second talk-time histogram of calls, and the triggers that mark changed hours

Revision ID: 8c1d2e3f4a5b
Revises: 74454f9ad67d
Create Date: 2026-11-29 17:30:00
"""
from collections.abc import Sequence

from alembic import op

from analytics.schema import install_sync

revision: str = '8c1d2e3f4a5b'
down_revision: str | None = '74454f9ad67d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    install_sync(op.get_bind())


def downgrade() -> None:
    op.drop_table("call_rollup_dirty")
    op.drop_table("call_talk_hourly")
    op.drop_table("call_rollup_hourly")
