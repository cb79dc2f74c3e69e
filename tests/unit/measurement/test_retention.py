"""Retention drops raw requests past 90 days and the secrets of months no kept request needs."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from services.measurement import retention
from services.models import DownloadRequest, HashSecret


def test_purge_keeps_recent_requests_and_their_secrets(db):
    with db.session(system=True) as s:
        oldest = s.scalar(select(func.min(DownloadRequest.ts)))
        total = s.scalar(select(func.count()).select_from(DownloadRequest))
        for month in ("2020-01", "2099-01"):
            s.add(HashSecret(month=month, secret="00" * 32))
        s.commit()
    now = datetime.now(timezone.utc)
    result = retention.purge_expired(db, now)
    cutoff = datetime.fromisoformat(result["cutoff"])
    assert cutoff.time() == datetime.min.time() and cutoff > now - timedelta(days=retention.RAW_RETENTION_DAYS + 1)
    with db.session(system=True) as s:
        kept = s.scalar(select(func.count()).select_from(DownloadRequest))
        left = s.scalar(select(func.min(DownloadRequest.ts)))
        months = set(s.scalars(select(HashSecret.month)))
    assert oldest.replace(tzinfo=timezone.utc) < cutoff and result["raw_requests"] == total - kept > 0
    assert left.replace(tzinfo=timezone.utc) >= cutoff
    assert "2020-01" not in months and "2099-01" in months
    assert retention.purge_expired(db, now)["raw_requests"] == 0  # idempotent


def test_days_past_retention_are_never_recounted(db):
    from datetime import date

    from sqlalchemy import text

    from services import accounts
    from services.measurement import counting

    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        before = s.scalar(text("SELECT count(*) FROM downloads"))
    retention.purge_expired(db)
    report = counting.count_downloads(db, tenant.id, date(2020, 1, 1), date.today())
    assert report.first_day > date.today() - timedelta(days=retention.RAW_RETENTION_DAYS + 1)
    with db.session(tenant.id) as s:
        assert s.scalar(text("SELECT count(*) FROM downloads")) == before  # old downloads survive
