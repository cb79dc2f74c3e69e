"""attribution rollup: attribution_daily (each model's credit and revenue per conversion day, placement, episode and
whole days since exposure; a continuous aggregate over attribution_touchpoints on TimescaleDB, a plain table kept by
the attribution run elsewhere; tenant view on PostgreSQL) and campaigns.markov_order (1, or 2 where asked)

Revision ID: 0017
Revises: 0016
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

CREDITS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")  # frozen
KEYS = ("tenant_id", "campaign_id", "placement_id", "episode_id")
TENANT_VIEW = ("CREATE VIEW tenant_attribution_daily WITH (security_barrier) AS SELECT * FROM attribution_daily "
               "WHERE tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint")


def _timescale_installed() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first() is not None


def _sums() -> str:
    return ", ".join([f"sum({m}) AS {m}" for m in CREDITS] + [f"sum({m} * value) AS {m}_revenue" for m in CREDITS])


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('markov_order', sa.Integer(), nullable=False, server_default='1'))
        batch_op.create_check_constraint(op.f('ck_campaigns_markov_order'), 'markov_order IN (1, 2)')
    keys = ", ".join(KEYS)
    if _timescale_installed():
        bucket = "time_bucket('1 day', conversion_ts)"
        op.execute("CREATE MATERIALIZED VIEW attribution_daily WITH (timescaledb.continuous, "
                   "timescaledb.materialized_only = false) AS "
                   f"SELECT ({bucket} AT TIME ZONE 'UTC')::date AS day, {keys}, "
                   "floor(days_since_exposure)::integer AS lag_days, max(podcast_id) AS podcast_id, "
                   f"{_sums()} FROM attribution_touchpoints "
                   f"GROUP BY {bucket}, {keys}, floor(days_since_exposure)::integer WITH NO DATA")
        op.execute("SELECT add_continuous_aggregate_policy('attribution_daily', start_offset => INTERVAL '90 days', "
                   "end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour')")
    else:
        op.create_table('attribution_daily',
        sa.Column('day', sa.Date(), nullable=False),
        *[sa.Column(k, sa.BigInteger(), nullable=False) for k in KEYS],
        sa.Column('lag_days', sa.Integer(), nullable=False),
        sa.Column('podcast_id', sa.BigInteger(), nullable=False),
        *[sa.Column(m, sa.Float(), nullable=False) for m in CREDITS],
        *[sa.Column(f"{m}_revenue", sa.Float(), nullable=False) for m in CREDITS],
        sa.PrimaryKeyConstraint('day', *KEYS, 'lag_days', name=op.f('pk_attribution_daily'))
        )
        with op.batch_alter_table('attribution_daily', schema=None) as batch_op:
            batch_op.create_index('ix_attribution_daily_campaign', ['tenant_id', 'campaign_id'], unique=False)
        day = "(conversion_ts AT TIME ZONE 'UTC')::date" if postgres else "date(conversion_ts)"
        lag = "floor(days_since_exposure)::integer" if postgres else "CAST(days_since_exposure AS INTEGER)"
        op.execute(f"INSERT INTO attribution_daily (day, {keys}, lag_days, podcast_id, "
                   f"{', '.join(CREDITS)}, {', '.join(m + '_revenue' for m in CREDITS)}) "
                   f"SELECT {day}, {keys}, {lag}, max(podcast_id), {_sums()} FROM attribution_touchpoints "
                   f"GROUP BY {day}, {keys}, {lag}")
    if not postgres:
        op.execute("CREATE VIEW tenant_attribution_daily AS SELECT * FROM attribution_daily")
        return
    op.execute(TENANT_VIEW)
    role = context.config.attributes.get("app_role", "podcast_app")
    if bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        privileges = "SELECT" if _timescale_installed() else "SELECT, INSERT, UPDATE, DELETE"
        op.execute(f'GRANT {privileges} ON attribution_daily TO "{role}"')
        op.execute(f'GRANT SELECT ON tenant_attribution_daily TO "{role}"')


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS tenant_attribution_daily")
    if _timescale_installed():
        op.execute("DROP MATERIALIZED VIEW IF EXISTS attribution_daily")
    else:
        with op.batch_alter_table('attribution_daily', schema=None) as batch_op:
            batch_op.drop_index('ix_attribution_daily_campaign')
        op.drop_table('attribution_daily')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_campaigns_markov_order'), type_='check')
        batch_op.drop_column('markov_order')
