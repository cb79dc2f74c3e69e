"""forecasts: each show's and recent episode's stored forecast (forced tenant policy as 0002)

Revision ID: 0014
Revises: 0013
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

VISIBLE = (  # frozen copy of 0002's policy condition
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('forecasts',
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('subject_id', sa.BigInteger(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('points', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_forecasts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'kind', 'subject_id', name=op.f('pk_forecasts'))
    )
    if bind.dialect.name != "postgresql":
        return  # SQLite has only the service-layer wall
    cond = VISIBLE.format(col="tenant_id")
    op.execute("ALTER TABLE forecasts ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE forecasts FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON forecasts USING {cond} WITH CHECK {cond}")
    role = context.config.attributes.get("app_role", "podcast_app")
    if bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON forecasts TO "{role}"')


def downgrade() -> None:
    op.drop_table('forecasts')
