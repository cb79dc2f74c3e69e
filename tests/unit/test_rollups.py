"""Daily rollups equal the counted downloads, and refreshing (all or from a day) is idempotent."""
from datetime import date, timedelta

from sqlalchemy import func, select

from services import accounts, rollups
from services.models import Download, EpisodeDailyMetric, PodcastDailyMetric


def _totals(s, tenant_id):
    return (s.scalar(select(func.sum(PodcastDailyMetric.downloads)).where(PodcastDailyMetric.tenant_id == tenant_id)),
            s.scalar(select(func.sum(EpisodeDailyMetric.downloads)).where(EpisodeDailyMetric.tenant_id == tenant_id)),
            s.scalar(select(func.count(EpisodeDailyMetric.day)).where(EpisodeDailyMetric.tenant_id == tenant_id)))


def test_refresh_is_idempotent_and_matches_downloads(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        before = _totals(s, tenant.id)
        raw = s.scalar(select(func.count(Download.id)).where(Download.tenant_id == tenant.id))
        assert before[0] == before[1] == raw
        written = rollups.refresh_daily_rollups(s, tenant.id)
        assert written == before[2] > 0
        assert _totals(s, tenant.id) == before
        recent = rollups.refresh_daily_rollups(s, tenant.id, since=date.today() - timedelta(days=6))
        assert 0 < recent < written
        assert _totals(s, tenant.id) == before
