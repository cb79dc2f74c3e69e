"""Audience: countries (with regions where known), apps, device types, OS, referrers, and downloads by weekday x
hour in the tenant's time zone."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import func, select

from services.dashboards.cache import cached
from services.dashboards.common import dashboard_scope, filtered
from services.dashboards.periods import ViewState, zone
from services.db import Database
from services.errors import ValidationError
from services.frames import frame_of
from services.measurement.store import view
from services.models import (
    PodcastAppDailyMetric, PodcastDeviceDailyMetric, PodcastGeoDailyMetric, PodcastHourlyMetric,
    PodcastReferrerDailyMetric,
)
from services.tenancy import TenantContext

DIMENSIONS = {"country": PodcastGeoDailyMetric, "region": PodcastGeoDailyMetric, "app": PodcastAppDailyMetric,
              "device": PodcastDeviceDailyMetric, "os": PodcastDeviceDailyMetric,
              "referrer": PodcastReferrerDailyMetric}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@cached
def breakdown(db: Database, ctx: TenantContext, state: ViewState, dimension: str,
              today: date | None = None) -> pd.DataFrame:
    """Downloads by one dimension over the view's period: columns <dimension>, downloads, listeners (daily
    distinct listeners summed over days); most downloaded first. `region` needs state.country and answers for
    that country ("" is an unknown region)."""
    model = DIMENSIONS.get(dimension)
    if model is None:
        raise ValidationError(f"dimension must be one of {', '.join(DIMENSIONS)}", {"dimension": "unknown"})
    if dimension == "region" and not state.country:
        raise ValidationError("regions need a country", {"country": "missing"})
    with dashboard_scope(db, ctx, state, today) as scope:
        m, p = view(model).c, scope.period
        key = getattr(m, dimension)
        stmt = filtered(select(key, func.sum(m.downloads), func.sum(m.listeners)), scope, m, p.first, p.last)
        if dimension == "region":
            stmt = stmt.where(m.country == state.country)
        rows = scope.session.execute(stmt.group_by(key).order_by(func.sum(m.downloads).desc(), key)).all()
    return frame_of(rows, [dimension, "downloads", "listeners"]).astype(
        {"downloads": "int64", "listeners": "int64"})


@cached
def weekday_hour(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None) -> pd.DataFrame:
    """All 168 cells: weekday (Mon..Sun), hour (0..23) in the tenant's time zone, downloads over the period's local
    days; frame.attrs["timezone"] names the zone."""
    with dashboard_scope(db, ctx, state, today) as scope:
        tz, p = zone(scope.tz), scope.period
        lo = datetime.combine(p.first, time.min, tzinfo=tz)
        hi = datetime.combine(p.last + timedelta(days=1), time.min, tzinfo=tz)
        m = view(PodcastHourlyMetric).c
        rows = scope.session.execute(filtered(select(m.hour, func.sum(m.downloads)), scope, m)
                                     .where(m.hour >= lo, m.hour < hi).group_by(m.hour)).all()
    frame = frame_of(rows, ["hour_utc", "downloads"])
    local = pd.to_datetime(frame["hour_utc"], utc=True).dt.tz_convert(tz)
    frame = pd.DataFrame({"weekday": local.dt.day_of_week, "hour": local.dt.hour, "downloads": frame["downloads"]})
    grid = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday", "hour"])
    cells = frame.groupby(["weekday", "hour"])["downloads"].sum().reindex(grid, fill_value=0).reset_index()
    cells["weekday"] = cells["weekday"].map(dict(enumerate(WEEKDAYS)))
    cells = cells.astype({"downloads": "int64"})
    cells.attrs["timezone"] = scope.tz  # for the axis title; not a column, so not in the CSV
    return cells
