"""matchmaking: campaign_recommendations (a campaign's shows with their factors or exclusion) and matchmaking_weights
(the network's factor weights), both with the forced tenant policy of 0002

Revision ID: 0012
Revises: 0011
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLES = ("campaign_recommendations", "matchmaking_weights")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('campaign_recommendations',
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('campaign_id', BigId, nullable=False),
    sa.Column('podcast_id', BigId, nullable=False),
    sa.Column('factors', sa.JSON(), nullable=False),
    sa.Column('excluded_because', sa.String(length=500), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_recommendations_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['podcast_id'], ['podcasts.id'], name=op.f('fk_campaign_recommendations_podcast_id_podcasts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_campaign_recommendations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'podcast_id', name=op.f('pk_campaign_recommendations'))
    )
    with op.batch_alter_table('campaign_recommendations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_recommendations_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('matchmaking_weights',
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_matchmaking_weights_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_matchmaking_weights'))
    )

    if bind.dialect.name != "postgresql":
        return  # SQLite has only the service-layer wall
    cond = VISIBLE.format(col="tenant_id")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING {cond} WITH CHECK {cond}")
    role = context.config.attributes.get("app_role", "podcast_app")
    if bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        for table in TABLES:
            op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{role}"')


def downgrade() -> None:
    op.drop_table('matchmaking_weights')
    with op.batch_alter_table('campaign_recommendations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_recommendations_tenant_id'))
    op.drop_table('campaign_recommendations')
