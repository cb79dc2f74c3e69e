"""privacy settings: per-tenant retention of raw requests and of conversions (tenants.raw_request_retention_days,
tenants.conversion_retention_days; NULL keeps the deployment default), and audit_log.user_pseudonym, which stands
for a deleted user in the entries they made. Both tables already carry the forced tenant policy of 0002; new
columns need no new policy or grant.

Revision ID: 0029
Revises: 0028
"""
from alembic import op
import sqlalchemy as sa

revision = '0029'
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_request_retention_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('conversion_retention_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_pseudonym', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('user_pseudonym')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('conversion_retention_days')
        batch_op.drop_column('raw_request_retention_days')
