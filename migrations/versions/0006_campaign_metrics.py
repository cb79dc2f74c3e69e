"""campaign delivery rollups: campaign_metrics (per placement, episode and day) and campaign_reach (per campaign and
show), plain tables on every engine, with the forced tenant policy of 0002 on PostgreSQL

Revision ID: 0006
Revises: 0005
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TABLES = ("campaign_metrics", "campaign_reach")
VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('campaign_metrics',
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('campaign_id', BigId, nullable=False),
    sa.Column('placement_id', sa.BigInteger(), nullable=False),
    sa.Column('episode_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('listeners', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_metrics_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_campaign_metrics_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'placement_id', 'episode_id', 'day', name=op.f('pk_campaign_metrics'))
    )
    with op.batch_alter_table('campaign_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_metrics_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('campaign_reach',
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('campaign_id', BigId, nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('reach', sa.BigInteger(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_reach_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_campaign_reach_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'podcast_id', name=op.f('pk_campaign_reach'))
    )
    with op.batch_alter_table('campaign_reach', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_reach_tenant_id'), ['tenant_id'], unique=False)

    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has only the service-layer wall
    role = context.config.attributes.get("app_role", "podcast_app")
    has_role = op.get_bind().execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    for table in TABLES:
        cond = VISIBLE.format(col="tenant_id")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING {cond} WITH CHECK {cond}")
        if has_role:  # default privileges cover tables made by 0002's user; a different migrating user needs this
            op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{role}"')


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_tenant_id'))
        op.drop_table(table)
