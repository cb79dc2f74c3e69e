"""Overview numbers equal an independent computation over the counted downloads; tenants never mix."""
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from services import accounts, analytics
from services.errors import PermissionDenied
from services.tenancy import TenantContext


def _ctx(db, slug="demo", role="owner"):
    tenant = accounts.get_tenant_by_slug(db, slug)
    return TenantContext(tenant_id=tenant.id, role=role, tenant_slug=slug, tenant_name=tenant.name)


def _raw(db, tenant_id):
    with db.session(tenant_id) as s:
        rows = s.execute(text("SELECT ts, podcast_id, listener_key FROM downloads WHERE tenant_id = :t"),
                         {"t": tenant_id}).all()
    frame = pd.DataFrame(rows, columns=["ts", "podcast_id", "listener_key"])
    frame["day"] = pd.to_datetime(frame["ts"], utc=True, format="mixed").dt.date
    return frame


@pytest.mark.parametrize("days", [7, 30, 90])
def test_overview_matches_raw_downloads(db, days):
    ctx = _ctx(db)
    end = date.today()
    raw = _raw(db, ctx.tenant_id)
    start = end - timedelta(days=days - 1)
    window = raw[(raw.day >= start) & (raw.day <= end)]
    previous = raw[(raw.day >= start - timedelta(days=days)) & (raw.day < start)]
    summary = analytics.overview_summary(db, ctx, days=days, end=end)
    assert summary.downloads == len(window) > 0
    assert summary.previous_downloads == len(previous)
    daily_listeners = window.groupby(["day", "podcast_id"]).listener_key.nunique().sum()
    assert summary.avg_daily_listeners == pytest.approx(daily_listeners / days)
    assert summary.podcasts == 3

    by_day = analytics.downloads_by_day(db, ctx, days=days, end=end)
    assert len(by_day) == days * 3  # every day for every show, zeros included
    assert by_day.downloads.sum() == len(window)
    expected = window.groupby("day").size()
    got = by_day.groupby("day").downloads.sum()
    assert (got[got > 0] == expected).all()


def test_sponsor_users_get_no_tenant_totals(db):
    ctx = _ctx(db)
    sponsor = TenantContext(tenant_id=ctx.tenant_id, role="sponsor", sponsor_id=1)
    with pytest.raises(PermissionDenied):
        analytics.overview_summary(db, sponsor)
    with pytest.raises(PermissionDenied):
        analytics.downloads_by_day(db, sponsor)


def test_another_tenant_sees_nothing_of_demo(db):
    accounts.create_tenant(db, "acme", "Acme")
    acme = _ctx(db, "acme")
    summary = analytics.overview_summary(db, acme, days=365)
    assert (summary.downloads, summary.podcasts, summary.episodes_released) == (0, 0, 0)
    assert analytics.downloads_by_day(db, acme, days=365).empty
