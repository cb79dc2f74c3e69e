"""The dashboards' services on PostgreSQL (app role, security-barrier tenant views, the LATERAL per-episode windows)
against independent SQL over `downloads`; migration 0005 down and up."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pandas as pd
import psycopg
import pytest
from sqlalchemy import text

from services import migrate
from services.dashboards import audience, episodes, exports, overview
from services.dashboards.periods import ViewState, resolve_period
from services.db import Database
from services.tenancy import TenantContext

NEW_ROLLUPS = ("episode_app_daily_metrics", "episode_device_daily_metrics", "episode_geo_daily_metrics")


@pytest.fixture(scope="module")
def pg_demo(seeded_pg_template):
    from tests.integration.conftest import create_database, drop_database

    name, url = create_database(seeded_pg_template[0])  # migrated, the demo tenant already seeded
    db = Database(url, "podcast_app")
    seeded = seeded_pg_template[1]
    yield db, seeded["tenant_id"], url
    db.dispose()
    drop_database(name)


def _sql(url: str, sql: str, **params) -> list:
    """As the login user (no tenant view, no role): the independent side."""
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return conn.execute(sql, params).fetchall()


def _bounds(first, last) -> dict:
    return {"start": datetime.combine(first, datetime.min.time(), tzinfo=timezone.utc),
            "end": datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)}


def test_overview_matches_downloads(pg_demo):
    db, tenant_id, url = pg_demo
    ctx, today = TenantContext(tenant_id=tenant_id, role="owner"), datetime.now(timezone.utc).date()
    state = ViewState(range="90d")
    period = resolve_period(state, today)
    kpis = overview.overview_kpis(db, ctx, state, today=today)
    (count, listeners), = _sql(url, "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date, "
                                    "podcast_id, listener_key FROM downloads WHERE tenant_id = %(t)s AND ts >= %(start)s "
                                    "AND ts < %(end)s) x) FROM downloads WHERE tenant_id = %(t)s AND ts >= %(start)s "
                                    "AND ts < %(end)s", t=tenant_id, **_bounds(period.first, period.last))
    assert kpis.current.downloads == count > 0
    assert kpis.current.avg_daily_listeners == pytest.approx(listeners / 90)
    medians = _sql(url, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM (SELECT e.id, count(d.ts) AS n "
                        "FROM episodes e LEFT JOIN downloads d ON d.episode_id = e.id AND d.ts >= date_trunc('day', "
                        "e.published_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AND d.ts < (date_trunc('day', "
                        "e.published_at AT TIME ZONE 'UTC') + interval '7 days') AT TIME ZONE 'UTC' WHERE e.tenant_id = %(t)s "
                        "AND (e.published_at AT TIME ZONE 'UTC')::date BETWEEN %(f)s AND %(l)s "
                        "AND (e.published_at AT TIME ZONE 'UTC')::date + 7 <= %(today)s GROUP BY e.id) x",
                   t=tenant_id, f=period.first, l=period.last, today=today)
    assert kpis.current.median_7d == pytest.approx(medians[0][0])
    timeline = overview.downloads_timeline(db, ctx, state.with_(granularity="week"), today=today)
    assert timeline["downloads"].sum() == count
    top = overview.top_countries(db, ctx, state, today=today)
    expected = dict(_sql(url, "SELECT coalesce(country, 'ZZ'), count(*) FROM downloads WHERE tenant_id = %(t)s AND "
                              "ts >= %(start)s AND ts < %(end)s GROUP BY 1", t=tenant_id,
                         **_bounds(period.first, period.last)))
    assert dict(zip(top["country"], top["downloads"])) == {k: expected[k] for k in top["country"]}


def test_episodes_match_downloads(pg_demo):
    db, tenant_id, url = pg_demo
    ctx, today = TenantContext(tenant_id=tenant_id, role="owner"), datetime.now(timezone.utc).date()
    grid = episodes.episode_grid(db, ctx, ViewState(range="all"), today=today).set_index("episode_id")
    rows = _sql(url, "SELECT e.id, count(d.ts), count(d.ts) FILTER (WHERE d.ts < (date_trunc('day', e.published_at "
                     "AT TIME ZONE 'UTC') + interval '3 days') AT TIME ZONE 'UTC') FROM episodes e LEFT JOIN downloads "
                     "d ON d.episode_id = e.id WHERE e.tenant_id = %(t)s GROUP BY e.id", t=tenant_id)
    for episode_id, total, three in rows:
        assert grid.loc[episode_id, "downloads_all_time"] == total
        if not pd.isna(grid.loc[episode_id, "downloads_3d"]):
            assert grid.loc[episode_id, "downloads_3d"] == three
    apps = _sql(url, "SELECT DISTINCT ON (e.id) e.id, coalesce(d.app, 'unknown') FROM episodes e JOIN downloads d ON "
                     "d.episode_id = e.id AND d.ts < (date_trunc('day', e.published_at AT TIME ZONE 'UTC') + "
                     "interval '7 days') AT TIME ZONE 'UTC' WHERE e.tenant_id = %(t)s GROUP BY e.id, 2 "
                     "ORDER BY e.id, count(*) DESC, 2", t=tenant_id)
    assert {e: a for e, a in apps} == {e: grid.loc[e, "top_app"] for e, _ in apps}

    latest = int(grid["downloads_1d"].dropna().index[0])
    curve = episodes.launch_curves(db, ctx, latest, today=today)
    mine = curve[curve.kind == "episode"].set_index("day")["downloads"]
    daily = _sql(url, "SELECT ((d.ts AT TIME ZONE 'UTC')::date - (e.published_at AT TIME ZONE 'UTC')::date) + 1, "
                      "count(*) FROM downloads d JOIN episodes e ON e.id = d.episode_id WHERE d.episode_id = %(e)s "
                      "GROUP BY 1 ORDER BY 1", e=latest)
    expected = pd.Series(dict(daily)).reindex(mine.index, fill_value=0).cumsum()
    assert mine.to_dict() == expected.astype(float).to_dict()
    countries = episodes.episode_breakdown(db, ctx, latest, "country", ViewState(range="all"), today=today)
    expected = dict(_sql(url, "SELECT coalesce(country, 'ZZ'), count(*) FROM downloads WHERE episode_id = %(e)s "
                              "GROUP BY 1", e=latest))
    assert dict(zip(countries["country"], countries["downloads"])) == expected


def test_audience_and_export_match_downloads(pg_demo):
    db, tenant_id, url = pg_demo
    ctx, today = TenantContext(tenant_id=tenant_id, role="owner"), datetime.now(timezone.utc).date()
    state = ViewState(range="30d", country="US")
    period = resolve_period(state, today)
    regions = audience.breakdown(db, ctx, state, "region", today=today)
    expected = dict(_sql(url, "SELECT coalesce(region, ''), count(*) FROM downloads WHERE tenant_id = %(t)s AND "
                              "country = 'US' AND ts >= %(start)s AND ts < %(end)s GROUP BY 1", t=tenant_id,
                         **_bounds(period.first, period.last)))
    assert dict(zip(regions["region"], regions["downloads"])) == expected
    heat = audience.weekday_hour(db, ctx, state, today=today).set_index(["weekday", "hour"])["downloads"]
    cells = _sql(url, "SELECT extract(isodow FROM ts AT TIME ZONE 'UTC')::int - 1, extract(hour FROM ts AT TIME ZONE "
                      "'UTC')::int, count(*) FROM downloads WHERE tenant_id = %(t)s AND ts >= %(start)s AND ts < %(end)s "
                      "GROUP BY 1, 2", t=tenant_id, **_bounds(period.first, period.last))
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    assert {(names[d], h): n for d, h, n in cells} == {k: v for k, v in heat.items() if v}
    text_ = "".join(exports.episode_days_csv(db, ctx, ViewState(range="all"), today=today, chunk_rows=1000))
    frame = pd.read_csv(io.StringIO(text_))
    (total,), = _sql(url, "SELECT count(*) FROM downloads WHERE tenant_id = %(t)s", t=tenant_id)
    assert frame["downloads"].sum() == total


def test_new_rollups_are_tenant_views_and_migrate_down_and_up(pg_demo):
    db, tenant_id, url = pg_demo
    with db.engine.connect() as conn:
        for name in NEW_ROLLUPS:
            assert conn.execute(text(f"SELECT count(*) FROM tenant_{name}")).scalar() == 0  # no tenant set
    with db.session(tenant_id) as s:
        for name in NEW_ROLLUPS:
            assert s.execute(text(f"SELECT count(*) FROM tenant_{name}")).scalar() > 0
    before = _sql(url, "SELECT count(*), sum(downloads) FROM episode_geo_daily_metrics")
    db.engine.dispose()
    migrate.downgrade(url, "0004")
    assert not _sql(url, "SELECT 1 FROM pg_class WHERE relname = 'episode_app_daily_metrics'")
    migrate.upgrade(url)  # backfills the new rollups from downloads
    assert _sql(url, "SELECT count(*), sum(downloads) FROM episode_geo_daily_metrics") == before
