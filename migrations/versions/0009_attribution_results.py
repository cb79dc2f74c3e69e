"""attribution results: attribution_touchpoints (a conversion's exposures with each model's credit; hypertable on the
conversion ts on TimescaleDB, tenant view on PostgreSQL) and attribution_runs (status, progress and counts of each
run; forced tenant policy as 0002)

Revision ID: 0009
Revises: 0008
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
CREDITS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")


def _timescale_installed() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first() is not None


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table('attribution_touchpoints',
    sa.Column('conversion_ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('touch', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('household_key', sa.String(length=32), nullable=False),
    sa.Column('conversion_type', sa.String(length=12), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('exposure_ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('placement_id', sa.BigInteger(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('episode_id', sa.BigInteger(), nullable=False),
    sa.Column('days_since_exposure', sa.Float(), nullable=False),
    *[sa.Column(name, sa.Float(), nullable=False) for name in CREDITS],
    sa.PrimaryKeyConstraint('conversion_ts', 'campaign_id', 'event_id', 'touch', name=op.f('pk_attribution_touchpoints'))
    )
    with op.batch_alter_table('attribution_touchpoints', schema=None) as batch_op:
        batch_op.create_index('ix_attribution_touchpoints_campaign', ['tenant_id', 'campaign_id', 'conversion_ts'],
                              unique=False)

    op.create_table('attribution_runs',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('campaign_id', BigId, nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('conversions', sa.Integer(), nullable=False),
    sa.Column('touchpoints', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_attribution_runs_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_attribution_runs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attribution_runs'))
    )
    with op.batch_alter_table('attribution_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attribution_runs_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attribution_runs_campaign_id'), ['campaign_id'], unique=False)

    if not postgres:
        op.execute("CREATE VIEW tenant_attribution_touchpoints AS SELECT * FROM attribution_touchpoints")
        return  # SQLite has only the service-layer wall
    if _timescale_installed():
        op.execute("SELECT create_hypertable('attribution_touchpoints', 'conversion_ts', migrate_data => true)")
    # Same definition as 0003's tenant views: the web role reads touchpoints only through this.
    op.execute("CREATE VIEW tenant_attribution_touchpoints WITH (security_barrier) AS SELECT * FROM "
               "attribution_touchpoints WHERE tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint")
    cond = VISIBLE.format(col="tenant_id")
    op.execute("ALTER TABLE attribution_runs ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE attribution_runs FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON attribution_runs USING {cond} WITH CHECK {cond}")
    role = context.config.attributes.get("app_role", "podcast_app")
    if bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        for table in ("attribution_touchpoints", "attribution_runs"):
            op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{role}"')
        op.execute(f'GRANT SELECT ON tenant_attribution_touchpoints TO "{role}"')
        op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS tenant_attribution_touchpoints")
    with op.batch_alter_table('attribution_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attribution_runs_campaign_id'))
        batch_op.drop_index(batch_op.f('ix_attribution_runs_tenant_id'))
    op.drop_table('attribution_runs')
    with op.batch_alter_table('attribution_touchpoints', schema=None) as batch_op:
        batch_op.drop_index('ix_attribution_touchpoints_campaign')
    op.drop_table('attribution_touchpoints')
