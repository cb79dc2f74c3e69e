"""Counting on PostgreSQL: raw requests read by COPY equal those a plain SELECT returns (NULL apart from '', text
with tabs, quotes and newlines), the downloads counted from either are the same, and the rollups counting writes
from its frame equal refresh_rollups over the downloads table."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text

from services import accounts, migrate
from services.bulk import insert_frame
from services.db import Database
from services.measurement import counting, store
from services.models import DownloadRequest, Episode, Podcast

DAY = date(2026, 3, 2)


@pytest.fixture
def pg(pg_url):
    migrate.upgrade(pg_url)
    db = Database(pg_url, "podcast_app")
    tenant = accounts.create_tenant(db, "counting", "Counting")
    with db.session(tenant.id) as s:
        podcast = Podcast(tenant_id=tenant.id, title="Show", prefix_key="kcount")
        s.add(podcast)
        s.flush()
        for n in range(3):
            s.add(Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid=f"g{n}", title=f"E{n}",
                          enclosure_url=f"https://media.example.com/show/ep{n}.mp3", enclosure_length=6_000_000,
                          duration_seconds=600))
        s.commit()
        requests = _requests(tenant.id, podcast.id)
        insert_frame(s, DownloadRequest.__table__, requests)
        s.commit()
    yield db, tenant.id
    db.dispose()


def _requests(tenant_id: int, podcast_id: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    agents = np.array(["AppleCoreMedia/1.0.0.19B88 (iPhone; U; CPU OS 15_1 like Mac OS X; en_us)", "", None,
                       "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", "weird\tagent \"quoted\"\nline",
                       "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                       "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15"],
                      dtype=object)
    urls = np.array([f"https://media.example.com/show/ep{i}.mp3" for i in range(3)]
                    + ["https://media.example.com/show/ep1.mp3?_from=app", "https://other.example.com/x.mp3"],
                    dtype=object)
    ranges = np.array(["bytes=0-", "bytes=0-1", None, "", "bytes=1000-", "bytes=0-1, 9-10"], dtype=object)
    referers = np.array([None, "", "https://podcasts.apple.com/", "https://open.spotify.com/"], dtype=object)
    start = pd.Timestamp(DAY - timedelta(days=1), tz="UTC")
    log = rng.random(n) < 0.5
    return pd.DataFrame({
        "request_uid": [f"t:{i}" for i in range(n)],
        "ts": start + pd.to_timedelta(rng.integers(0, 3 * 86_400 * 10**6, n), unit="us"),
        "tenant_id": tenant_id, "podcast_id": podcast_id,
        "source": np.where(log, "log", "prefix"),
        "method": np.array(["GET", "GET", "GET", "HEAD", "get"], dtype=object)[rng.integers(0, 5, n)],
        "status": pd.Series(rng.choice([200, 206, 304, 404], n), dtype="Int64").where(log, pd.NA),
        "bytes": pd.Series(rng.integers(0, 6_000_000, n), dtype="Int64").where(log, pd.NA),
        "range": ranges[rng.integers(0, len(ranges), n)],
        "url": urls[rng.integers(0, len(urls), n)],
        "user_agent": agents[rng.integers(0, len(agents), n)],
        "referer": referers[rng.integers(0, len(referers), n)],
        "listener_key": [f"{k:032x}" for k in rng.integers(0, 40, n)],
        "country": np.array(["US", "", None, "DE"], dtype=object)[rng.integers(0, 4, n)],
        "region": np.array(["CA", "", None], dtype=object)[rng.integers(0, 3, n)],
    })


def _by_select(s, tenant_id, start, end) -> pd.DataFrame:
    cols = [getattr(DownloadRequest, c) for c in counting.RAW_COLUMNS]
    rows = s.execute(select(*cols).where(DownloadRequest.tenant_id == tenant_id, DownloadRequest.ts >= start,
                                         DownloadRequest.ts < end)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=counting.RAW_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _plain(frame: pd.DataFrame) -> list[tuple]:
    def value(v):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            return None
        if isinstance(v, pd.Timestamp):
            return v.tz_convert("UTC")
        if isinstance(v, (int, float, np.integer, np.floating)):
            return int(v)
        return v

    rows = zip(*(frame[c].astype(object).tolist() for c in frame.columns))
    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def test_copy_read_equals_select(pg):
    db, tenant_id = pg
    start, end = store.day_bounds(DAY - timedelta(days=1), DAY + timedelta(days=1))
    with db.session(tenant_id) as s:
        by_copy = counting.read_raw(s, tenant_id, start, end)
        by_select = _by_select(s, tenant_id, start, end)
        assert len(by_copy) == len(by_select) == 3000
        assert _plain(by_copy) == _plain(by_select)
        episodes = counting.EpisodeIndex.load(s, tenant_id)
        for window in ("calendar", "first-touch", "last-touch"):
            since = pd.Timestamp(DAY, tz="UTC")
            a, dropped_a = counting.count_frame(by_copy, episodes, window, since=since)
            b, dropped_b = counting.count_frame(by_select, episodes, window, since=since)
            assert dropped_a == dropped_b
            assert len(a) > 0 and _plain(a) == _plain(b)


def test_counted_rollups_equal_the_sql_refresh(pg):
    db, tenant_id = pg
    report = counting.count_downloads(db, tenant_id, DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert report.downloads > 0
    assert report.requests == 3000 == report.downloads + sum(report.dropped.values())
    with db.session(tenant_id) as s:
        def rollups():
            out = {}
            for model, _keys, _bit in store.ROLLUP_SPECS:
                key = ", ".join(c.name for c in model.__table__.primary_key.columns)
                out[model] = s.execute(text(f"SELECT * FROM {model.__tablename__} ORDER BY {key}")).all()
            return out

        counted = rollups()
        assert all(counted.values())
        store.refresh_rollups(s, tenant_id, DAY - timedelta(days=1), DAY + timedelta(days=1))
        assert rollups() == counted
        s.rollback()
    again = counting.count_downloads(db, tenant_id, DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert (again.downloads, again.dropped) == (report.downloads, report.dropped)


def test_a_slab_without_requests_reads_empty(pg):
    db, tenant_id = pg
    start, end = store.day_bounds(DAY + timedelta(days=30), DAY + timedelta(days=31))
    with db.session(tenant_id) as s:
        assert counting.read_raw(s, tenant_id, start, end).empty
        report = counting.count_in_session(s, tenant_id, DAY - timedelta(days=1), DAY + timedelta(days=40))
        assert report.requests == 3000  # the empty days in between count nothing and fail nothing
        s.rollback()
