"""scheduled email reports: report_subscriptions (a user's own weekly or monthly report of the network, a show or a
campaign) and report_runs (one per subscription per period, with its outcome); forced tenant policy as 0002

Revision ID: 0020
Revises: 0019
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLES = ("report_subscriptions", "report_runs")


def _tenant_fk(table: str):
    return sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f(f'fk_{table}_tenant_id_tenants'),
                                   ondelete='CASCADE')


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('report_subscriptions',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('sponsor_id', BigId, nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', BigId, nullable=True),
    sa.Column('frequency', sa.String(length=12), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_subscriptions_user_id_users'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sponsor_id'], ['sponsors.id'], name=op.f('fk_report_subscriptions_sponsor_id_sponsors'),
                            ondelete='CASCADE'),
    _tenant_fk('report_subscriptions'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_subscriptions'))
    )
    with op.batch_alter_table('report_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_subscriptions_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_subscriptions_user_id'), ['user_id'], unique=False)
    op.create_table('report_runs',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('subscription_id', BigId, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('period_key', sa.String(length=32), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('to_address', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['report_subscriptions.id'],
                            name=op.f('fk_report_runs_subscription_id_report_subscriptions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_runs_user_id_users'), ondelete='CASCADE'),
    _tenant_fk('report_runs'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_runs')),
    sa.UniqueConstraint('subscription_id', 'period_key', name='uq_report_runs_subscription_period')
    )
    with op.batch_alter_table('report_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_runs_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_runs_tenant_id'), ['tenant_id'], unique=False)
    if bind.dialect.name != "postgresql":
        return  # SQLite has only the service-layer wall
    cond = VISIBLE.format(col="tenant_id")
    role = context.config.attributes.get("app_role", "podcast_app")
    role_exists = bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING {cond} WITH CHECK {cond}")
        if role_exists:
            op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{role}"')
    if role_exists:
        op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def downgrade() -> None:
    with op.batch_alter_table('report_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_runs_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_report_runs_subscription_id'))
    op.drop_table('report_runs')
    with op.batch_alter_table('report_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_subscriptions_user_id'))
        batch_op.drop_index(batch_op.f('ix_report_subscriptions_tenant_id'))
    op.drop_table('report_subscriptions')
