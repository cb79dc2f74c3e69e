"""domain events: the outbox (domain_events) and the per-handler ledger (event_handlings); forced tenant policy as 0002

Revision ID: 0010
Revises: 0009
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLES = ("domain_events", "event_handlings")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('domain_events',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_domain_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_domain_events'))
    )
    with op.batch_alter_table('domain_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_domain_events_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_domain_events_status_id', ['status', 'id'], unique=False)
    op.create_table('event_handlings',
    sa.Column('event_id', BigId, nullable=False),
    sa.Column('handler', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['domain_events.id'], name=op.f('fk_event_handlings_event_id_domain_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_event_handlings_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'handler', name=op.f('pk_event_handlings'))
    )
    with op.batch_alter_table('event_handlings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_handlings_tenant_id'), ['tenant_id'], unique=False)
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
    with op.batch_alter_table('event_handlings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_handlings_tenant_id'))
    op.drop_table('event_handlings')
    with op.batch_alter_table('domain_events', schema=None) as batch_op:
        batch_op.drop_index('ix_domain_events_status_id')
        batch_op.drop_index(batch_op.f('ix_domain_events_tenant_id'))
    op.drop_table('domain_events')
