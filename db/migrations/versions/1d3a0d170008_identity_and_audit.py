"""identity and audit: users' clients, token expiry and last use, EventSource tickets, failed sign-ins,
and the append-only audit trail (triggers refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE)

Revision ID: 1d3a0d170008
Revises: c0a1e5ce0004
Create Date: 2026-12-04 17:40:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op


revision: str = '1d3a0d170008'
down_revision: str | None = 'c0a1e5ce0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
# tokens issued before expiry existed get the people's default from the day of the upgrade
EXISTING_TOKEN_DAYS = 90


def upgrade() -> None:
    # plain ALTER TABLE ADD COLUMN (no batch copy): on SQLite, copying users would drop a table that
    # api_tokens references, which the foreign keys refuse once tokens exist
    op.add_column('users', sa.Column('clients', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    op.add_column('users', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('api_tokens', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('api_tokens', sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('api_tokens', sa.Column('revoked_by', sa.String(length=64), nullable=True))
    # every token gets an expiry (the application refuses one without); nullable in the table because
    # SQLite adds a NOT NULL column only with a default, and a copy of the table would reorder its constraints
    expires_at = datetime.now(UTC) + timedelta(days=EXISTING_TOKEN_DAYS)
    if op.get_bind().dialect.name == "sqlite":  # stored as naive UTC there, as the application stores it
        expires_at = expires_at.replace(tzinfo=None)
    tokens = sa.table('api_tokens', sa.column('expires_at', sa.DateTime(timezone=True)))
    op.execute(tokens.update().values(expires_at=expires_at))

    op.create_table('auth_tickets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('ticket_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('token_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_tickets')),
    sa.UniqueConstraint('ticket_hash', name=op.f('uq_auth_tickets_ticket_hash'))
    )
    with op.batch_alter_table('auth_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_tickets_expires_at'), ['expires_at'], unique=False)

    op.create_table('auth_failures',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('token_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_failures'))
    )
    with op.batch_alter_table('auth_failures', schema=None) as batch_op:
        batch_op.create_index('ix_auth_failures_address_at', ['address', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_failures_at'), ['at'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=False),
    sa.Column('target_id', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_at_id', ['at', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_target', ['target_type', 'target_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)

    # The audit trail is append-only: the database itself refuses UPDATE, DELETE (and TRUNCATE on PostgreSQL).
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table('audit_log')  # the SQLite triggers go with the table
    op.drop_table('auth_failures')
    op.drop_table('auth_tickets')
    # in place (SQLite >= 3.35): a batch copy would reorder constraints, or drop a referenced table
    for table, column in (('api_tokens', 'revoked_by'), ('api_tokens', 'last_used_at'),
                          ('api_tokens', 'expires_at'), ('users', 'deactivated_at'), ('users', 'updated_at'),
                          ('users', 'clients')):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
