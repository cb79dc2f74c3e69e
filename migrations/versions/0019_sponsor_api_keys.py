"""sponsor API keys: api_keys.sponsor_id (set: the key sees only that sponsor's campaigns, delivery and attribution;
the key goes with its sponsor). api_keys keeps the tenant RLS policy of 0002; a new column needs no new grant.

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sponsor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_api_keys_sponsor_id_sponsors'), 'sponsors', ['sponsor_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_api_keys_sponsor_id'), ['sponsor_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_sponsor_id'))
        batch_op.drop_constraint(batch_op.f('fk_api_keys_sponsor_id_sponsors'), type_='foreignkey')
        batch_op.drop_column('sponsor_id')
