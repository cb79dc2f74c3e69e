"""notifications: in-app notifications, per-user channel preferences per event kind, and the email log; forced
tenant policy as 0002

Revision ID: 0011
Revises: 0010
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLES = ("notifications", "notification_preferences", "email_log")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('notifications',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('sponsor_id', BigId, nullable=True),
    sa.Column('event_id', BigId, nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_notifications_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sponsor_id'], ['sponsors.id'], name=op.f('fk_notifications_sponsor_id_sponsors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['domain_events.id'], name=op.f('fk_notifications_event_id_domain_events'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('user_id', 'event_id', name='uq_notifications_user_event')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_notifications_user_unread', ['tenant_id', 'user_id', 'read_at'], unique=False)
    op.create_table('notification_preferences',
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_notification_preferences_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'user_id', 'kind', 'channel', name=op.f('pk_notification_preferences'))
    )
    op.create_table('email_log',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('dedupe_key', sa.String(length=128), nullable=True),
    sa.Column('to_address', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_email_log_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_log')),
    sa.UniqueConstraint('tenant_id', 'dedupe_key', name='uq_email_log_tenant_dedupe_key')
    )
    with op.batch_alter_table('email_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_log_tenant_id'), ['tenant_id'], unique=False)
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
    with op.batch_alter_table('email_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_log_tenant_id'))
    op.drop_table('email_log')
    op.drop_table('notification_preferences')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_unread')
        batch_op.drop_index(batch_op.f('ix_notifications_tenant_id'))
    op.drop_table('notifications')
