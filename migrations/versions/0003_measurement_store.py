"""measurement store: raw requests, counted downloads, rollups (tables here; continuous aggregates on
TimescaleDB from 0004), log imports, hash secrets, feed refresh state; tenant views over the time series

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


RLS_TABLES = ("log_imports", "counting_state")
# Frozen copy of the time-series relations at this revision; each gets a tenant view.
TIME_SERIES = (
    "download_requests", "downloads", "podcast_hourly_metrics", "podcast_daily_metrics", "episode_daily_metrics",
    "podcast_app_daily_metrics", "podcast_device_daily_metrics", "podcast_geo_daily_metrics",
    "podcast_referrer_daily_metrics",
)
VISIBLE = (
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)


def create_tenant_views(relations=TIME_SERIES) -> None:
    """`tenant_<relation>`: on PostgreSQL a security-barrier view showing only the transaction's tenant (the
    second wall where row-level security cannot be used); on SQLite a plain alias, so queries read the same."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for relation in relations:
        if postgres:
            op.execute(f"CREATE VIEW tenant_{relation} WITH (security_barrier) AS SELECT * FROM {relation} "
                       f"WHERE tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint")
        else:
            op.execute(f"CREATE VIEW tenant_{relation} AS SELECT * FROM {relation}")


def drop_tenant_views(relations=TIME_SERIES) -> None:
    for relation in relations:
        op.execute(f"DROP VIEW IF EXISTS tenant_{relation}")


def upgrade() -> None:
    op.create_table('download_requests',
    sa.Column('request_uid', sa.String(length=40), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('import_id', sa.BigInteger(), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=True),
    sa.Column('bytes', sa.BigInteger(), nullable=True),
    sa.Column('range', sa.String(length=200), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('user_agent', sa.String(length=1000), nullable=True),
    sa.Column('referer', sa.String(length=1000), nullable=True),
    sa.Column('listener_key', sa.String(length=32), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('request_uid', 'ts', name=op.f('pk_download_requests'))
    )
    with op.batch_alter_table('download_requests', schema=None) as batch_op:
        batch_op.create_index('ix_download_requests_tenant_ts', ['tenant_id', 'ts'], unique=False)

    op.create_table('downloads',
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('episode_id', sa.BigInteger(), nullable=False),
    sa.Column('listener_key', sa.String(length=32), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('app', sa.String(length=100), nullable=True),
    sa.Column('device', sa.String(length=50), nullable=True),
    sa.Column('os', sa.String(length=50), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('referrer', sa.String(length=100), nullable=True),
    sa.Column('flags', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('ts', 'tenant_id', 'episode_id', 'listener_key', name=op.f('pk_downloads'))
    )
    with op.batch_alter_table('downloads', schema=None) as batch_op:
        batch_op.create_index('ix_downloads_episode_ts', ['episode_id', 'ts'], unique=False)
        batch_op.create_index('ix_downloads_tenant_ts', ['tenant_id', 'ts'], unique=False)

    op.create_table('episode_daily_metrics',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('episode_id', sa.BigInteger(), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('downloads', sa.BigInteger(), nullable=False),
    sa.Column('listeners', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'episode_id', 'podcast_id', name=op.f('pk_episode_daily_metrics'))
    )
    with op.batch_alter_table('episode_daily_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_episode_daily_metrics_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('hash_secrets',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_hash_secrets'))
    )
    op.create_table('podcast_app_daily_metrics',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('app', sa.String(length=100), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('downloads', sa.BigInteger(), nullable=False),
    sa.Column('listeners', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'app', 'podcast_id', name=op.f('pk_podcast_app_daily_metrics'))
    )
    with op.batch_alter_table('podcast_app_daily_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_podcast_app_daily_metrics_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('podcast_daily_metrics',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('downloads', sa.BigInteger(), nullable=False),
    sa.Column('listeners', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'podcast_id', name=op.f('pk_podcast_daily_metrics'))
    )
    with op.batch_alter_table('podcast_daily_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_podcast_daily_metrics_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('podcast_device_daily_metrics',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('device', sa.String(length=50), nullable=False),
    sa.Column('os', sa.String(length=50), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('downloads', sa.BigInteger(), nullable=False),
    sa.Column('listeners', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'device', 'os', 'podcast_id', name=op.f('pk_podcast_device_daily_metrics'))
    )
    with op.batch_alter_table('podcast_device_daily_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_podcast_device_daily_metrics_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('podcast_geo_daily_metrics',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('downloads', sa.BigInteger(), nullable=False),
    sa.Column('listeners', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'country', 'region', 'podcast_id', name=op.f('pk_podcast_geo_daily_metrics'))
    )
    with op.batch_alter_table('podcast_geo_daily_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_podcast_geo_daily_metrics_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('podcast_hourly_metrics',
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('downloads', sa.BigInteger(), nullable=False),
    sa.Column('listeners', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('hour', 'podcast_id', name=op.f('pk_podcast_hourly_metrics'))
    )
    with op.batch_alter_table('podcast_hourly_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_podcast_hourly_metrics_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('podcast_referrer_daily_metrics',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('referrer', sa.String(length=100), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('downloads', sa.BigInteger(), nullable=False),
    sa.Column('listeners', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'referrer', 'podcast_id', name=op.f('pk_podcast_referrer_daily_metrics'))
    )
    with op.batch_alter_table('podcast_referrer_daily_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_podcast_referrer_daily_metrics_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('counting_state',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('counted_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_counting_state_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_counting_state'))
    )
    op.create_table('log_imports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lines_total', sa.Integer(), nullable=False),
    sa.Column('lines_imported', sa.Integer(), nullable=False),
    sa.Column('lines_rejected', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('message', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_log_imports_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_imports')),
    sa.UniqueConstraint('tenant_id', 'fingerprint', name='uq_log_imports_tenant_fingerprint')
    )
    with op.batch_alter_table('log_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_imports_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('episode_type', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('chapters_url', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('transcripts', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('match_key', sa.String(length=2000), nullable=True))
        batch_op.create_index(batch_op.f('ix_episodes_match_key'), ['match_key'], unique=False)

    with op.batch_alter_table('podcasts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feed_etag', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('feed_last_modified', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('feed_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('feed_error', sa.Text(), nullable=True))


    create_tenant_views()
    if op.get_bind().dialect.name == "postgresql":
        for table in RLS_TABLES:
            cond = VISIBLE.format(col="tenant_id")
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_isolation ON {table} USING {cond} WITH CHECK {cond}")


def downgrade() -> None:
    drop_tenant_views()
    with op.batch_alter_table('podcasts', schema=None) as batch_op:
        batch_op.drop_column('feed_error')
        batch_op.drop_column('feed_checked_at')
        batch_op.drop_column('feed_last_modified')
        batch_op.drop_column('feed_etag')

    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_episodes_match_key'))
        batch_op.drop_column('match_key')
        batch_op.drop_column('transcripts')
        batch_op.drop_column('chapters_url')
        batch_op.drop_column('episode_type')

    with op.batch_alter_table('log_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_imports_tenant_id'))

    op.drop_table('log_imports')
    op.drop_table('counting_state')
    with op.batch_alter_table('podcast_referrer_daily_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_podcast_referrer_daily_metrics_tenant_id'))

    op.drop_table('podcast_referrer_daily_metrics')
    with op.batch_alter_table('podcast_hourly_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_podcast_hourly_metrics_tenant_id'))

    op.drop_table('podcast_hourly_metrics')
    with op.batch_alter_table('podcast_geo_daily_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_podcast_geo_daily_metrics_tenant_id'))

    op.drop_table('podcast_geo_daily_metrics')
    with op.batch_alter_table('podcast_device_daily_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_podcast_device_daily_metrics_tenant_id'))

    op.drop_table('podcast_device_daily_metrics')
    with op.batch_alter_table('podcast_daily_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_podcast_daily_metrics_tenant_id'))

    op.drop_table('podcast_daily_metrics')
    with op.batch_alter_table('podcast_app_daily_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_podcast_app_daily_metrics_tenant_id'))

    op.drop_table('podcast_app_daily_metrics')
    op.drop_table('hash_secrets')
    with op.batch_alter_table('episode_daily_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_episode_daily_metrics_tenant_id'))

    op.drop_table('episode_daily_metrics')
    with op.batch_alter_table('downloads', schema=None) as batch_op:
        batch_op.drop_index('ix_downloads_tenant_ts')
        batch_op.drop_index('ix_downloads_episode_ts')

    op.drop_table('downloads')
    with op.batch_alter_table('download_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_download_requests_tenant_ts')

    op.drop_table('download_requests')
