"""attribution inputs: sponsors.pixel_key (backfilled), campaign attribution settings, tracking_links,
household_secrets, the attribution_event_ids ledger, the attribution_events time series (hypertable on TimescaleDB,
tenant view on PostgreSQL) and attribution_rejections; forced tenant policies as 0002 on PostgreSQL

Revision ID: 0007
Revises: 0006
"""
import secrets

from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

RLS_TABLES = ("tracking_links", "attribution_event_ids", "attribution_rejections")
VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _timescale_installed() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first() is not None


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"

    with op.batch_alter_table('sponsors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pixel_key', sa.String(length=32), nullable=True))
    if postgres:  # the migrating user may be subject to the forced policy: declare the backfill a system task
        bind.execute(text("SELECT set_config('app.system', 'on', true)"))
    sponsors = bind.execute(text("SELECT id FROM sponsors")).scalars().all()
    for sponsor_id in sponsors:
        bind.execute(text("UPDATE sponsors SET pixel_key = :k WHERE id = :id"),
                     {"k": secrets.token_urlsafe(24), "id": sponsor_id})
    if postgres:
        bind.execute(text("SELECT set_config('app.system', '', true)"))
    with op.batch_alter_table('sponsors', schema=None) as batch_op:
        batch_op.alter_column('pixel_key', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_sponsors_pixel_key'), ['pixel_key'])

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lookback_days', sa.Integer(), nullable=False, server_default='30'))
        batch_op.add_column(sa.Column('attribution_model', sa.String(length=20), nullable=False,
                                      server_default='linear'))
        batch_op.add_column(sa.Column('exclude_prior_customers', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('decay_half_life_days', sa.Float(), nullable=False, server_default='7.0'))
        batch_op.create_check_constraint(op.f('ck_campaigns_lookback_days'), 'lookback_days BETWEEN 1 AND 60')

    op.create_table('tracking_links',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('campaign_id', BigId, nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_tracking_links_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tracking_links_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_links')),
    sa.UniqueConstraint('code', name=op.f('uq_tracking_links_code'))
    )
    with op.batch_alter_table('tracking_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tracking_links_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tracking_links_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('household_secrets',
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('epoch', name=op.f('pk_household_secrets'))
    )

    op.create_table('attribution_event_ids',
    sa.Column('sponsor_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_attribution_event_ids_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sponsor_id', 'event_id', name=op.f('pk_attribution_event_ids'))
    )
    with op.batch_alter_table('attribution_event_ids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attribution_event_ids_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('attribution_events',
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sponsor_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=True),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('type', sa.String(length=12), nullable=False),
    sa.Column('household_key', sa.String(length=32), nullable=True),
    sa.Column('household_key_prev', sa.String(length=32), nullable=True),
    sa.Column('ip_shared', sa.Boolean(), nullable=False),
    sa.Column('value', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('order_id', sa.String(length=128), nullable=True),
    sa.Column('promo_code', sa.String(length=64), nullable=True),
    sa.Column('page_url', sa.String(length=2000), nullable=True),
    sa.Column('referrer', sa.String(length=2000), nullable=True),
    sa.Column('utm', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('ts', 'sponsor_id', 'event_id', name=op.f('pk_attribution_events'))
    )
    with op.batch_alter_table('attribution_events', schema=None) as batch_op:
        batch_op.create_index('ix_attribution_events_sponsor_ts', ['sponsor_id', 'ts'], unique=False)
        batch_op.create_index('ix_attribution_events_tenant_ts', ['tenant_id', 'ts'], unique=False)
        batch_op.create_index('ix_attribution_events_household', ['household_key'], unique=False)

    op.create_table('attribution_rejections',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('sponsor_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'sponsor_id', 'day', 'reason', name=op.f('pk_attribution_rejections'))
    )

    if not postgres:
        op.execute("CREATE VIEW tenant_attribution_events AS SELECT * FROM attribution_events")
        return  # SQLite has only the service-layer wall
    if _timescale_installed():
        op.execute("SELECT create_hypertable('attribution_events', 'ts', migrate_data => true)")
    # Same definition as 0003's tenant views: the web role reads attribution events only through this.
    op.execute("CREATE VIEW tenant_attribution_events WITH (security_barrier) AS SELECT * FROM attribution_events "
               "WHERE tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint")
    role = context.config.attributes.get("app_role", "podcast_app")
    has_role = bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    for table in RLS_TABLES:
        cond = VISIBLE.format(col="tenant_id")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING {cond} WITH CHECK {cond}")
    if has_role:  # default privileges cover tables made by 0002's user; a different migrating user needs this
        for table in RLS_TABLES + ("household_secrets", "attribution_events"):
            op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{role}"')
        op.execute(f'GRANT SELECT ON tenant_attribution_events TO "{role}"')
        op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS tenant_attribution_events")
    op.drop_table('attribution_rejections')
    with op.batch_alter_table('attribution_events', schema=None) as batch_op:
        batch_op.drop_index('ix_attribution_events_household')
        batch_op.drop_index('ix_attribution_events_tenant_ts')
        batch_op.drop_index('ix_attribution_events_sponsor_ts')
    op.drop_table('attribution_events')
    with op.batch_alter_table('attribution_event_ids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attribution_event_ids_tenant_id'))
    op.drop_table('attribution_event_ids')
    op.drop_table('household_secrets')
    with op.batch_alter_table('tracking_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tracking_links_campaign_id'))
        batch_op.drop_index(batch_op.f('ix_tracking_links_tenant_id'))
    op.drop_table('tracking_links')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_campaigns_lookback_days'), type_='check')
        batch_op.drop_column('decay_half_life_days')
        batch_op.drop_column('exclude_prior_customers')
        batch_op.drop_column('attribution_model')
        batch_op.drop_column('lookback_days')
    with op.batch_alter_table('sponsors', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sponsors_pixel_key'), type_='unique')
        batch_op.drop_column('pixel_key')
