"""insights: anomalies (one unusual day of a series, unique per tenant/podcast/dimension/day), insight_summaries
(cached written summaries per scope and period) and counting_days (raw and bot-filtered requests per tenant and
day, written by counting); each with the forced tenant policy of 0002

Revision ID: 0015
Revises: 0014
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLES = ("anomalies", "insight_summaries", "counting_days")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f(f'fk_{table}_tenant_id_tenants'),
                                   ondelete='CASCADE')


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('anomalies',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('podcast_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dimension', sa.String(length=120), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('cause', sa.String(length=200), nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    _tenant_fk('anomalies'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anomalies')),
    sa.UniqueConstraint('tenant_id', 'podcast_id', 'dimension', 'day', name='uq_anomalies_series_day')
    )
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.create_index('ix_anomalies_tenant_day', ['tenant_id', 'day'], unique=False)

    op.create_table('insight_summaries',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('scope', sa.String(length=12), nullable=False),
    sa.Column('scope_id', sa.BigInteger(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('writer', sa.String(length=12), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    _tenant_fk('insight_summaries'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insight_summaries')),
    sa.UniqueConstraint('tenant_id', 'scope', 'scope_id', 'first_day', 'last_day', name='uq_insight_summaries_period')
    )
    with op.batch_alter_table('insight_summaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insight_summaries_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('counting_days',
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('bot_requests', sa.Integer(), nullable=False),
    _tenant_fk('counting_days'),
    sa.PrimaryKeyConstraint('tenant_id', 'day', name=op.f('pk_counting_days'))
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
        op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def downgrade() -> None:
    op.drop_table('counting_days')
    with op.batch_alter_table('insight_summaries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insight_summaries_tenant_id'))
    op.drop_table('insight_summaries')
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.drop_index('ix_anomalies_tenant_day')
    op.drop_table('anomalies')
