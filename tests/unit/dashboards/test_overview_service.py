"""Overview numbers (read from the rollups) equal an independent pandas computation over the counted downloads."""
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from services.dashboards import overview
from services.dashboards.periods import ViewState, resolve_period


def _in(frame, first, last, column="day"):
    return frame[(frame[column] >= first) & (frame[column] <= last)]


def _daily_listeners(frame, key="podcast_id") -> int:
    """Distinct listeners per day (per show, or per episode), summed over days."""
    return int(frame.groupby(["day", key]).listener_key.nunique().sum())


def _median_at(downloads, episodes, first, last, today, days):
    released = _in(episodes, first, last, "released")
    ended = released[[r + timedelta(days=days) <= today for r in released["released"]]]
    if ended.empty:
        return None
    totals = [((downloads.episode_id == e.episode_id) & (downloads.day >= e.released)
               & (downloads.day < e.released + timedelta(days=days))).sum() for e in ended.itertuples()]
    return float(np.median(totals))


@pytest.mark.parametrize("query", ["", "?range=7d", "?range=90d&compare=year", "?range=12m&compare=none",
                                   "?range=all", "?podcast=2&range=90d"])
def test_kpis_match_downloads(demo_db, demo_ctx, downloads, episodes_frame, today, query):
    state = ViewState.from_query(query)
    kpis = overview.overview_kpis(demo_db, demo_ctx, state, today=today)
    raw, eps = downloads, episodes_frame
    if state.podcast:
        raw, eps = raw[raw.podcast_id == state.podcast], eps[eps.podcast_id == state.podcast]
    period = resolve_period(state, today, min(raw.day))
    for values, first, last in [(kpis.current, period.first, period.last),
                                (kpis.previous, period.compare_first, period.compare_last)]:
        if first is None:
            assert values is None
            continue
        window = _in(raw, first, last)
        assert values.downloads == len(window)
        assert values.avg_daily_listeners == pytest.approx(_daily_listeners(window) / ((last - first).days + 1))
        assert values.episodes_released == len(_in(eps, first, last, "released"))
        assert values.median_7d == _median_at(raw, eps, first, last, today, 7)
        assert values.median_30d == _median_at(raw, eps, first, last, today, 30)
    assert kpis.current.downloads > 0


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_timeline_matches_downloads(demo_db, demo_ctx, downloads, episodes_frame, today, granularity):
    state = ViewState(range="90d", granularity=granularity)
    frame = overview.downloads_timeline(demo_db, demo_ctx, state, today=today)
    period = resolve_period(state, today)

    def bucket(days: pd.Series) -> pd.Series:
        stamps = pd.to_datetime(days)
        if granularity == "day":
            return stamps
        return stamps.dt.to_period("W-SUN" if granularity == "week" else "M").dt.start_time

    window = _in(downloads, period.first, period.last)
    expected = window.groupby(bucket(window["day"])).size()
    got = frame.set_index("period")["downloads"]
    assert got.sum() == len(window) > 0
    assert got[got > 0].to_dict() == expected.to_dict()
    if granularity == "day":
        assert len(frame) == 90  # every day, zeros included
    shift = period.first - period.compare_first
    previous = _in(downloads, period.compare_first, period.compare_last)
    shifted = previous.groupby(bucket(previous["day"] + shift)).size()
    got_previous = frame.set_index("period")["previous_downloads"]
    assert got_previous[got_previous > 0].to_dict() == shifted[shifted.index.isin(got.index)].to_dict()
    released = _in(episodes_frame, period.first, period.last, "released")
    assert sorted(t for label in frame["releases"] if label for t in label.split("; ")) == sorted(released["title"])


def test_hourly_timeline_is_in_the_tenants_time_zone(tmp_path, seeded_sqlite, today):
    import shutil

    from services import accounts
    from services.db import Database
    from services.tenancy import TenantContext
    from tests.unit.dashboards.conftest import read_downloads

    shutil.copy(seeded_sqlite, tmp_path / "tz.db")
    db = Database(f"sqlite:///{tmp_path / 'tz.db'}")
    try:
        accounts.configure_tenant(db, "demo", timezone="America/New_York")
        tenant = accounts.get_tenant_by_slug(db, "demo")
        ctx = TenantContext(tenant_id=tenant.id, role="owner")
        state = ViewState(range="7d", granularity="hour", compare="none")
        frame = overview.downloads_timeline(db, ctx, state, today=today)
        raw = read_downloads(db, tenant.id)
        local = raw["ts"].dt.tz_convert("America/New_York")
        first = pd.Timestamp(today - timedelta(days=6))
        inside = local[(local.dt.tz_localize(None) >= first) & (local.dt.tz_localize(None) < pd.Timestamp(today) + pd.Timedelta(days=1))]
        expected = inside.dt.tz_localize(None).dt.floor("h").value_counts()
        got = frame.set_index("period")["downloads"]
        assert got[got > 0].sort_index().to_dict() == expected.sort_index().to_dict()
        assert got.index.min() == first and len(frame) >= 7 * 24 - 1
    finally:
        db.dispose()


@pytest.mark.parametrize("fn, key", [(overview.top_apps, "app"), (overview.top_countries, "country")])
def test_top_lists_match_downloads(demo_db, demo_ctx, downloads, today, fn, key):
    state = ViewState(range="90d")
    period = resolve_period(state, today)
    window = _in(downloads, period.first, period.last)
    column = window[key].fillna("unknown" if key == "app" else "ZZ")
    expected = window.assign(k=column).groupby("k").agg(downloads=("ts", "size"))
    frame = fn(demo_db, demo_ctx, state, today=today)
    assert len(frame) == min(10, len(expected))
    assert dict(zip(frame[key], frame["downloads"])) == expected["downloads"].nlargest(len(frame)).to_dict()
    listeners = window.assign(k=column).groupby(["day", "podcast_id", "k"]).listener_key.nunique().groupby("k").sum()
    assert dict(zip(frame[key], frame["listeners"])) == {k: listeners[k] for k in frame[key]}


def test_top_episodes_match_downloads(demo_db, demo_ctx, downloads, episodes_frame, today):
    state = ViewState(range="30d")
    period = resolve_period(state, today)
    window = _in(downloads, period.first, period.last)
    expected = window.groupby("episode_id").size().sort_values(ascending=False)
    frame = overview.top_episodes(demo_db, demo_ctx, state, today=today)
    assert list(frame["downloads"]) == list(expected.iloc[:10])
    titles = episodes_frame.set_index("episode_id")["title"]
    assert list(frame["episode"]) == [titles[e] for e in frame["episode_id"]]
    assert all(expected[e] == n for e, n in zip(frame["episode_id"], frame["downloads"]))
