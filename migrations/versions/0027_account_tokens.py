"""account tokens: single-use, expiring links sent by email (team invitations, password resets), stored as hashes;
forced tenant policy as 0002

Revision ID: 0027
Revises: 0023
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0027'
down_revision = '0023'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('account_tokens',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=True),
    sa.Column('sponsor_id', BigId, nullable=True),
    sa.Column('user_id', BigId, nullable=True),
    sa.Column('created_by_user_id', BigId, nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_account_tokens_tenant_id_tenants'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sponsor_id'], ['sponsors.id'], name=op.f('fk_account_tokens_sponsor_id_sponsors'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_tokens_user_id_users'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'],
                            name=op.f('fk_account_tokens_created_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_tokens_token_hash'))
    )
    with op.batch_alter_table('account_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_tokens_tenant_id'), ['tenant_id'], unique=False)
    if bind.dialect.name != "postgresql":
        return  # SQLite has only the service-layer wall
    cond = VISIBLE.format(col="tenant_id")
    role = context.config.attributes.get("app_role", "podcast_app")
    role_exists = bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    op.execute("ALTER TABLE account_tokens ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE account_tokens FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON account_tokens USING {cond} WITH CHECK {cond}")
    if role_exists:
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON account_tokens TO "{role}"')
        op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def downgrade() -> None:
    with op.batch_alter_table('account_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_tokens_tenant_id'))
    op.drop_table('account_tokens')
