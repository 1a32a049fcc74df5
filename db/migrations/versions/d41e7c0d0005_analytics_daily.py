"""analytics: daily rollup per reporting zone (call_rollup_zones, call_rollup_daily, call_talk_daily)

Revision ID: d41e7c0d0005
Revises: 8c1d2e3f4a5b
Create Date: 2026-11-29 19:50:00
"""
from collections.abc import Sequence

from alembic import op

from analytics.schema import install_sync

revision: str = 'd41e7c0d0005'
down_revision: str | None = '8c1d2e3f4a5b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    install_sync(op.get_bind())


def downgrade() -> None:
    op.drop_table("call_talk_daily")
    op.drop_table("call_rollup_daily")
    op.drop_table("call_rollup_zones")
