"""embeds: one chart shared as a signed, revocable iframe link (locked filters, theme, title, expiry, allowed
origins, views); forced tenant policy as 0002

Revision ID: 0018
Revises: 0017
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('embeds',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('created_by_user_id', BigId, nullable=True),
    sa.Column('sponsor_id', BigId, nullable=True),
    sa.Column('chart', sa.String(length=32), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('theme', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('allowed_origins', sa.JSON(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('last_viewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_embeds_created_by_user_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sponsor_id'], ['sponsors.id'], name=op.f('fk_embeds_sponsor_id_sponsors'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_embeds_tenant_id_tenants'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embeds'))
    )
    with op.batch_alter_table('embeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_embeds_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_embeds_sponsor_id'), ['sponsor_id'], unique=False)
    if bind.dialect.name != "postgresql":
        return  # SQLite has only the service-layer wall
    cond = VISIBLE.format(col="tenant_id")
    role = context.config.attributes.get("app_role", "podcast_app")
    role_exists = bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    op.execute("ALTER TABLE embeds ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE embeds FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON embeds USING {cond} WITH CHECK {cond}")
    if role_exists:
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON embeds TO "{role}"')
        op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def downgrade() -> None:
    with op.batch_alter_table('embeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_embeds_sponsor_id'))
        batch_op.drop_index(batch_op.f('ix_embeds_tenant_id'))
    op.drop_table('embeds')
