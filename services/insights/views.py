"""What the insights page and the dashboards' insight parts ask: stored anomalies and cached summaries for a
dashboard view (its period and podcast filter). Reads stored results only."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from services.dashboards.common import dashboard_scope
from services.dashboards.periods import ViewState
from services.db import Database
from services.insights import anomaly_store, summaries
from services.tenancy import TenantContext


def view_period(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None) -> tuple[date, date]:
    """The view's days (staff only; another tenant's podcast is NotFound)."""
    with dashboard_scope(db, ctx, state, today) as scope:
        return scope.period.first, scope.period.last


def anomalies_in_view(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None) -> pd.DataFrame:
    """Stored anomalies in the view's period (and podcast), as list_anomalies gives them; the page's CSV."""
    first, last = view_period(db, ctx, state, today)
    return anomaly_store.list_anomalies(db, ctx, first, last, state.podcast)


def summary_in_view(db: Database, ctx: TenantContext, state: ViewState,
                    today: date | None = None) -> summaries.Summary:
    """The written summary of the view's period (its last year at most), for its podcast or the network."""
    first, last = view_period(db, ctx, state, today)
    first = max(first, last - timedelta(days=summaries.MAX_DAYS - 1))
    return week_summary(db, ctx, state.podcast, first, last)


def week_summary(db: Database, ctx: TenantContext, podcast_id: int | None = None, first: date | None = None,
                 last: date | None = None) -> summaries.Summary:
    """This week's summary (or first..last's) of a podcast, or of the network without one."""
    scope = "network" if podcast_id is None else "podcast"
    return summaries.get_summary(db, ctx, scope, podcast_id, first, last)


def timeline_anomalies(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None) -> pd.DataFrame:
    """The show-level anomalies to mark on the view's downloads timeline."""
    frame = anomalies_in_view(db, ctx, state, today)
    return frame[frame["dimension"] == "downloads"]
