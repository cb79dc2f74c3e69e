"""two-factor sign-in (TOTP): users carry their confirmed and pending secrets, the last accepted time step, a count of
wrong codes and a generation that remembered devices are bound to; mfa_recovery_codes keeps the hashes of single-use recovery codes
(per user, not tenant-owned, like users); tenants.require_mfa lets owners require a second factor of every member.
tenants keeps 0002's forced tenant policy (ALTER TABLE leaves it in place).

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mfa_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('mfa_pending_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('mfa_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('mfa_last_timestep', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('mfa_generation', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('mfa_failures', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('mfa_failed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_mfa', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('mfa_recovery_codes',
    sa.Column('id', BigId, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_recovery_codes_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_recovery_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_mfa_recovery_codes_code_hash'))
    )
    with op.batch_alter_table('mfa_recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_recovery_codes_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mfa_recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_recovery_codes_user_id'))
    op.drop_table('mfa_recovery_codes')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('require_mfa')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('mfa_failed_at')
        batch_op.drop_column('mfa_failures')
        batch_op.drop_column('mfa_generation')
        batch_op.drop_column('mfa_last_timestep')
        batch_op.drop_column('mfa_enabled_at')
        batch_op.drop_column('mfa_pending_secret')
        batch_op.drop_column('mfa_secret')
