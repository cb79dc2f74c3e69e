"""targeted delivery: placements.insertion ('dynamic' or 'baked', how the ad is put in the audio) and a country
dimension on campaign_metrics (per placement, episode, UTC day and listener country), so delivery by country is read
from the rollup. Both tables keep 0002's and 0006's forced tenant policies (ALTER TABLE leaves them in place); the
rollup's rows are rebuilt by the next delivery refresh, existing ones take country 'ZZ' (unknown).

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

INSERTIONS = ("dynamic", "baked")  # frozen copy of services.models.campaigns.INSERTIONS
OLD_KEY = ['campaign_id', 'placement_id', 'episode_id', 'day']


def upgrade() -> None:
    allowed = ", ".join(f"'{v}'" for v in INSERTIONS)
    with op.batch_alter_table('placements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('insertion', sa.String(length=8), nullable=False, server_default='dynamic'))
        batch_op.create_check_constraint(op.f('ck_placements_insertion'), f"insertion IN ({allowed})")
    with op.batch_alter_table('campaign_metrics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=False, server_default='ZZ'))
        batch_op.drop_constraint('pk_campaign_metrics', type_='primary')
        batch_op.create_primary_key('pk_campaign_metrics', OLD_KEY + ['country'])


def downgrade() -> None:
    # Rows of one key in several countries fold back into one (listener keys have one country, so listeners add).
    op.execute("CREATE TEMPORARY TABLE folded AS SELECT tenant_id, campaign_id, placement_id, episode_id, day, "
               "podcast_id, sum(impressions) AS impressions, sum(listeners) AS listeners "
               "FROM campaign_metrics GROUP BY 1, 2, 3, 4, 5, 6")
    op.execute("DELETE FROM campaign_metrics")
    with op.batch_alter_table('campaign_metrics', schema=None) as batch_op:
        batch_op.drop_constraint('pk_campaign_metrics', type_='primary')
        batch_op.drop_column('country')
        batch_op.create_primary_key('pk_campaign_metrics', OLD_KEY)
    op.execute("INSERT INTO campaign_metrics (tenant_id, campaign_id, placement_id, episode_id, day, podcast_id, "
               "impressions, listeners) SELECT tenant_id, campaign_id, placement_id, episode_id, day, podcast_id, "
               "impressions, listeners FROM folded")
    op.execute("DROP TABLE folded")
    with op.batch_alter_table('placements', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_placements_insertion'), type_='check')
        batch_op.drop_column('insertion')
