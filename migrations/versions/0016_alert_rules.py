"""alert rules: alert_rules, alert_evaluations (history, one per rule per run), pacing_notices (one under-pacing
event per campaign per UTC day); forced tenant policy as 0002

Revision ID: 0016
Revises: 0015
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLES = ("alert_rules", "alert_evaluations", "pacing_notices")


def _tenant_fk(table: str):
    return sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f(f'fk_{table}_tenant_id_tenants'),
                                   ondelete='CASCADE')


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('alert_rules',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('target_id', BigId, nullable=True),
    sa.Column('condition', sa.String(length=16), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('rearm_hours', sa.Integer(), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('muted_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('triggered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_value', sa.Float(), nullable=True),
    sa.Column('created_by_user_id', BigId, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_alert_rules_created_by_user_id_users'), ondelete='SET NULL'),
    _tenant_fk('alert_rules'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rules'))
    )
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_rules_tenant_id'), ['tenant_id'], unique=False)
    op.create_table('alert_evaluations',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('rule_id', BigId, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('notified', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rules.id'], name=op.f('fk_alert_evaluations_rule_id_alert_rules'), ondelete='CASCADE'),
    _tenant_fk('alert_evaluations'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_evaluations')),
    sa.UniqueConstraint('rule_id', 'run_id', name='uq_alert_evaluations_rule_run')
    )
    with op.batch_alter_table('alert_evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_evaluations_rule_id'), ['rule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_evaluations_tenant_id'), ['tenant_id'], unique=False)
    op.create_table('pacing_notices',
    sa.Column('campaign_id', BigId, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('event_id', BigId, nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_pacing_notices_campaign_id_campaigns'), ondelete='CASCADE'),
    _tenant_fk('pacing_notices'),
    sa.PrimaryKeyConstraint('campaign_id', 'day', name=op.f('pk_pacing_notices'))
    )
    with op.batch_alter_table('pacing_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pacing_notices_tenant_id'), ['tenant_id'], unique=False)
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
    with op.batch_alter_table('pacing_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pacing_notices_tenant_id'))
    op.drop_table('pacing_notices')
    with op.batch_alter_table('alert_evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_evaluations_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_alert_evaluations_rule_id'))
    op.drop_table('alert_evaluations')
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_rules_tenant_id'))
    op.drop_table('alert_rules')
