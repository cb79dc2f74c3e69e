"""The measurement store: every rollup equals an independent pandas computation over the counted downloads,
listener flags count distinct listeners, and refreshing (all or from a day) is idempotent."""
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from services import accounts
from services.measurement import store
from services.models import ROLLUPS, EpisodeDailyMetric


@pytest.fixture
def demo_tenant(db):
    return accounts.get_tenant_by_slug(db, "demo").id


def _frame(s, sql, tenant_id):
    return pd.DataFrame(s.execute(text(sql), {"t": tenant_id}).mappings().all())


def _downloads(s, tenant_id):
    frame = _frame(s, "SELECT * FROM downloads WHERE tenant_id = :t", tenant_id)
    frame["ts"] = pd.to_datetime(frame.ts, utc=True, format="mixed")
    frame["day"] = frame.ts.dt.date.astype(str)
    frame["hour"] = frame.ts.dt.floor("h").dt.strftime("%Y-%m-%d %H")
    return frame


@pytest.mark.parametrize("table,keys", [
    ("podcast_daily_metrics", ["podcast_id", "day"]),
    ("episode_daily_metrics", ["episode_id", "day"]),
    ("podcast_hourly_metrics", ["podcast_id", "hour"]),
    ("podcast_app_daily_metrics", ["podcast_id", "day", "app"]),
    ("podcast_geo_daily_metrics", ["podcast_id", "day", "country"]),
])
def test_rollup_equals_independent_computation(db, demo_tenant, table, keys):
    with db.session(demo_tenant) as s:
        downloads = _downloads(s, demo_tenant)
        rollup = _frame(s, f"SELECT * FROM tenant_{table} WHERE tenant_id = :t", demo_tenant)
    if "hour" in keys:
        rollup["hour"] = pd.to_datetime(rollup.hour).dt.strftime("%Y-%m-%d %H")
    else:
        rollup["day"] = rollup.day.astype(str)
    listener_grain = ["episode_id", "day"] if "episode_id" in keys else ["podcast_id", "hour" if "hour" in keys else "day"]
    expected = downloads.groupby(keys).agg(downloads=("ts", "size"), listeners=("listener_key", "nunique"))
    got = rollup.groupby(keys)[["downloads", "listeners"]].sum()
    assert len(got) == len(expected) > 0
    pd.testing.assert_series_equal(got.downloads.sort_index(), expected.downloads.sort_index(), check_dtype=False)
    if keys == listener_grain or len(keys) == 3:  # listeners per grain (a listener's app and country are fixed)
        pd.testing.assert_series_equal(got.listeners.sort_index(), expected.listeners.sort_index(), check_dtype=False)


def test_refresh_is_idempotent(db, demo_tenant):
    with db.session(demo_tenant) as s:
        def totals():
            return [s.scalar(select(func.sum(m.downloads)).where(m.tenant_id == demo_tenant)) for m in ROLLUPS]

        before = totals()
        raw = s.scalar(text("SELECT count(*) FROM downloads WHERE tenant_id = :t"), {"t": demo_tenant})
        assert set(before) == {raw}
        written = store.refresh_tenant(s, demo_tenant)
        assert written == s.scalar(select(func.count()).select_from(EpisodeDailyMetric)) > 0
        assert totals() == before
        recent = store.refresh_tenant(s, demo_tenant, since=date.today() - timedelta(days=6))
        assert 0 < recent < written
        assert totals() == before


def test_replace_downloads_is_idempotent(db, demo_tenant):
    with db.session(demo_tenant) as s:
        downloads = _downloads(s, demo_tenant)
        day = downloads.ts.max().date()
        todays = downloads[downloads.ts.dt.date == day][store.DOWNLOAD_COLUMNS[:-1]]
        for _ in range(2):
            store.replace_downloads(s, demo_tenant, day, day, todays)
        assert s.scalar(text("SELECT count(*) FROM downloads WHERE tenant_id = :t"), {"t": demo_tenant}) == len(downloads)


def test_listener_flags_mark_first_per_grain():
    ts = pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:30", "2026-01-01 12:00", "2026-01-02 09:00"], utc=True)
    frame = pd.DataFrame({"ts": ts, "podcast_id": 1, "episode_id": [1, 2, 1, 1], "listener_key": "a"})
    flags = store.listener_flags(frame).tolist()
    # first of podcast-day (1) + first of episode-day (2) + first of podcast-hour (4)
    assert flags == [1 + 2 + 4, 2, 4, 1 + 2 + 4]


def test_rollups_from_the_counted_frame_equal_the_sql_refresh(db, demo_tenant):
    """Counting writes each rollup from the frame it counted (rollup_frames); refresh_rollups computes the same
    from the downloads table. Every entry of ROLLUP_SPECS must agree, row for row."""
    with db.session(demo_tenant) as s:
        downloads = _downloads(s, demo_tenant)[store.DOWNLOAD_COLUMNS]
        first, last = downloads.ts.min().date(), downloads.ts.max().date()
        store.refresh_rollups(s, demo_tenant, first, last)
        from_sql = {model: _frame(s, f"SELECT * FROM {model.__tablename__} WHERE tenant_id = :t", demo_tenant)
                    for model, _keys, _bit in store.ROLLUP_SPECS}
        store.replace_rollups(s, demo_tenant, first, last, downloads)
        for model, _keys, _bit in store.ROLLUP_SPECS:
            from_frame = _frame(s, f"SELECT * FROM {model.__tablename__} WHERE tenant_id = :t", demo_tenant)
            key = [c.name for c in model.__table__.primary_key.columns]
            expected = from_sql[model].sort_values(key).reset_index(drop=True)
            got = from_frame.sort_values(key).reset_index(drop=True)
            assert len(expected) > 0, model.__tablename__
            pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False, obj=model.__tablename__)
        s.rollback()


def test_rollup_frames_fill_missing_dimensions():
    ts = pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:30", "2026-01-02 09:00"], utc=True)
    frame = pd.DataFrame({"ts": ts, "tenant_id": 1, "episode_id": [1, 2, 1], "listener_key": ["a", "b", "a"],
                          "podcast_id": 7, "app": pd.Categorical(["X", None, None]), "device": [None, "phone", None],
                          "os": None, "country": ["", None, "US"], "region": None, "referrer": None,
                          "flags": [7, 7, 7]})
    frames = dict(store.rollup_frames(frame))
    apps = frames[store.PodcastAppDailyMetric].sort_values(["day", "app"])
    assert apps[["app", "downloads"]].values.tolist() == [["X", 1], [store.UNKNOWN, 1], [store.UNKNOWN, 1]]
    geo = frames[store.PodcastGeoDailyMetric].sort_values(["day", "country"])
    assert geo[["country", "region"]].values.tolist() == [["", ""], ["ZZ", ""], ["US", ""]]
    hourly = frames[store.PodcastHourlyMetric]
    assert sorted(hourly["hour"].dt.strftime("%m-%d %H")) == ["01-01 10", "01-02 09"]


def test_every_rollup_has_exactly_one_spec():
    """ROLLUPS drives the TimescaleDB refresh and the tenant views; ROLLUP_SPECS drives the plain-table writes.
    A rollup missing from either would silently stay empty on one engine."""
    specs = [model for model, _keys, _bit in store.ROLLUP_SPECS]
    assert sorted(m.__tablename__ for m in specs) == sorted(m.__tablename__ for m in ROLLUPS)
