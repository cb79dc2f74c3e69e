"""household keys on exposures: download_requests.household_key and downloads.household_key (the hashed IP alone,
per 90-day epoch, as conversions carry it) so attribution can match a conversion to the downloads of its household;
the two tenant views are recreated to show the column

Revision ID: 0008
Revises: 0007
"""
from alembic import context, op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TABLES = ("download_requests", "downloads")


def _recreate_views() -> None:
    """`SELECT *` views keep the columns they were made with: recreate them as 0003 made them."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for table in TABLES:
        op.execute(f"DROP VIEW IF EXISTS tenant_{table}")
        if postgres:
            op.execute(f"CREATE VIEW tenant_{table} WITH (security_barrier) AS SELECT * FROM {table} "
                       f"WHERE tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint")
        else:
            op.execute(f"CREATE VIEW tenant_{table} AS SELECT * FROM {table}")
    if not postgres:
        return
    role = context.config.attributes.get("app_role", "podcast_app")
    if bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        for table in TABLES:
            op.execute(f'GRANT SELECT ON tenant_{table} TO "{role}"')


def upgrade() -> None:
    for table in TABLES:
        # Nullable without a default: TimescaleDB adds it to a compressed hypertable too, and rows counted before
        # this revision simply have no household (they match no conversion).
        op.add_column(table, sa.Column('household_key', sa.String(length=32), nullable=True))
    _recreate_views()


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP VIEW IF EXISTS tenant_{table}")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('household_key')
    _recreate_views()
