"""TimescaleDB, when the extension is available: hypertables for the raw and counted time series, the seven rollups
as continuous aggregates of the same names and columns, refresh / compression / retention policies

On SQLite, or PostgreSQL without `timescaledb` in pg_available_extensions, this revision does nothing: the rollups
stay the plain tables 0003 made, kept current by services.measurement.store.refresh_rollups.

Notes
- `day` stays a DATE column: `(time_bucket('1 day', ts) AT TIME ZONE 'UTC')::date` (immutable; independent of the
  session TimeZone), so `day BETWEEN date AND date` and the dashboards' date-keyed frames read it as before.
  `hour` is `time_bucket('1 hour', ts)` (timestamptz, as in 0003).
- materialized_only = false: the aggregates answer with real-time aggregation above the materialization watermark,
  so fresh downloads show before any refresh; store.refresh_rollups refreshes recounted ranges below it.
- download_requests and downloads carry no row-level security (TimescaleDB refuses compression and continuous
  aggregates beside it); reads go through the security-barrier tenant views, recreated here over the aggregates.

Revision ID: 0004
Revises: 0003
"""
from alembic import context, op
from sqlalchemy import text


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

FIRST_PODCAST_DAY, FIRST_EPISODE_DAY, FIRST_PODCAST_HOUR = 1, 2, 4  # frozen copy of Download.flags bits
RAW_RETENTION_DAYS = 90  # frozen copy of services.measurement.methodology.RAW_RETENTION_DAYS
COMPRESS_AFTER_DAYS = 30
DAY = "(time_bucket('1 day', ts) AT TIME ZONE 'UTC')::date"  # grouped by time_bucket('1 day', ts)
HOUR = "time_bucket('1 hour', ts)"
BUCKET_GROUP = {"day": "time_bucket('1 day', ts)", "hour": HOUR}
# Frozen copy of the rollups at this revision: name -> (bucket column, bucket expression, [(key, expr, type)], bit).
ROLLUPS = {
    "podcast_hourly_metrics": ("hour", HOUR, [], FIRST_PODCAST_HOUR),
    "podcast_daily_metrics": ("day", DAY, [], FIRST_PODCAST_DAY),
    "episode_daily_metrics": ("day", DAY, [("episode_id", "episode_id", "BIGINT")], FIRST_EPISODE_DAY),
    "podcast_app_daily_metrics": ("day", DAY, [("app", "coalesce(app, 'unknown')", "VARCHAR(100)")],
                                  FIRST_PODCAST_DAY),
    "podcast_device_daily_metrics": ("day", DAY, [("device", "coalesce(device, 'unknown')", "VARCHAR(50)"),
                                                  ("os", "coalesce(os, 'unknown')", "VARCHAR(50)")], FIRST_PODCAST_DAY),
    "podcast_geo_daily_metrics": ("day", DAY, [("country", "coalesce(country, 'ZZ')", "VARCHAR(2)"),
                                               ("region", "coalesce(region, '')", "VARCHAR(100)")], FIRST_PODCAST_DAY),
    "podcast_referrer_daily_metrics": ("day", DAY, [("referrer", "coalesce(referrer, 'unknown')", "VARCHAR(100)")],
                                       FIRST_PODCAST_DAY),
}


def _timescale_available() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bind.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")).first() is not None


def _timescale_installed() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first() is not None


def _aggregate_select(name: str) -> str:
    bucket, expr, keys, bit = ROLLUPS[name]
    bucket_group = BUCKET_GROUP[bucket]
    cols = ", ".join(f"{e} AS {k}" for k, e, _ in keys)
    groups = ", ".join(e for _, e, _ in keys)
    return (f"SELECT {expr} AS {bucket}, {cols + ', ' if cols else ''}tenant_id, podcast_id, "
            f"count(*) AS downloads, count(*) FILTER (WHERE flags & {bit} <> 0) AS listeners FROM downloads "
            f"GROUP BY {bucket_group}, {groups + ', ' if groups else ''}tenant_id, podcast_id")


def _create_tenant_views() -> None:
    """Same definition as 0003's create_tenant_views on PostgreSQL."""
    for name in ROLLUPS:
        op.execute(f"CREATE VIEW tenant_{name} WITH (security_barrier) AS SELECT * FROM {name} "
                   f"WHERE tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint")


def _grant(names) -> None:
    role = context.config.attributes.get("app_role", "podcast_app")
    if op.get_bind().execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        for name in names:
            op.execute(f'GRANT SELECT ON {name} TO "{role}"')


def upgrade() -> None:
    if not _timescale_available():
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    for name in ROLLUPS:
        op.execute(f"DROP VIEW IF EXISTS tenant_{name}")
    for table in ("download_requests", "downloads"):
        op.execute(f"SELECT create_hypertable('{table}', 'ts', migrate_data => true)")
    for name in ROLLUPS:
        op.execute(f"DROP TABLE {name}")
        # WITH NO DATA: materialising cannot run inside the migration's transaction; real-time aggregation
        # (materialized_only = false) answers until the first refresh.
        op.execute(f"CREATE MATERIALIZED VIEW {name} WITH (timescaledb.continuous, timescaledb.materialized_only = false) "
                   f"AS {_aggregate_select(name)} WITH NO DATA")
        bucket = ROLLUPS[name][0]
        op.execute(f"SELECT add_continuous_aggregate_policy('{name}', start_offset => INTERVAL "
                   f"'{'3 days' if bucket == 'hour' else '7 days'}', end_offset => INTERVAL '1 hour', "
                   f"schedule_interval => INTERVAL '1 hour')")
    _create_tenant_views()
    _grant(list(ROLLUPS) + [f"tenant_{name}" for name in ROLLUPS])
    op.execute("ALTER TABLE downloads SET (timescaledb.compress, timescaledb.compress_segmentby = 'tenant_id', "
               "timescaledb.compress_orderby = 'ts DESC')")
    op.execute(f"SELECT add_compression_policy('downloads', INTERVAL '{COMPRESS_AFTER_DAYS} days')")
    op.execute(f"SELECT add_retention_policy('download_requests', INTERVAL '{RAW_RETENTION_DAYS} days')")


def downgrade() -> None:
    """Back to 0003's plain rollup tables, refilled from downloads. download_requests and downloads stay hypertables
    (TimescaleDB cannot turn a hypertable back into a plain table; they read and write as plain tables), and the
    extension stays installed; policies and compression are removed."""
    if not _timescale_installed():
        return
    op.execute("SELECT remove_retention_policy('download_requests', if_exists => true)")
    op.execute("SELECT remove_compression_policy('downloads', if_exists => true)")
    op.execute("SELECT decompress_chunk(c, true) FROM show_chunks('downloads') c")
    op.execute("ALTER TABLE downloads SET (timescaledb.compress = false)")
    for name, (bucket, _expr, keys, _bit) in ROLLUPS.items():
        op.execute(f"DROP VIEW IF EXISTS tenant_{name}")
        op.execute(f"DROP MATERIALIZED VIEW IF EXISTS {name}")  # drops its refresh policy too
        bucket_type = "TIMESTAMP WITH TIME ZONE" if bucket == "hour" else "DATE"
        key_cols = "".join(f"{k} {t} NOT NULL, " for k, _, t in keys)
        pk = ", ".join([bucket] + [k for k, _, _ in keys] + ["podcast_id"])  # 0003's key order
        op.execute(f"CREATE TABLE {name} ({bucket} {bucket_type} NOT NULL, {key_cols}tenant_id BIGINT NOT NULL, "
                   f"podcast_id BIGINT NOT NULL, downloads BIGINT NOT NULL, listeners BIGINT NOT NULL, "
                   f"CONSTRAINT pk_{name} PRIMARY KEY ({pk}))")
        op.execute(f"CREATE INDEX ix_{name}_tenant_id ON {name} (tenant_id)")
        cols = ", ".join([bucket] + [k for k, _, _ in keys] + ["tenant_id", "podcast_id", "downloads", "listeners"])
        op.execute(f"INSERT INTO {name} ({cols}) {_aggregate_select(name)}")
    _create_tenant_views()
    role = context.config.attributes.get("app_role", "podcast_app")
    if op.get_bind().execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        for name in ROLLUPS:
            op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO "{role}"')
            op.execute(f'GRANT SELECT ON tenant_{name} TO "{role}"')
