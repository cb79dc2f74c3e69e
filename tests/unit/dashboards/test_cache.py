"""The dashboards' answer cache in memory (SQLite): never another tenant's or another role's answer, never an answer
from before a count or rollup refresh, a bump only for that tenant; and the JSON codec the Redis store uses."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from services import accounts
from services.dashboards import audience, episodes, overview
from services.dashboards.cache import DashboardCache, MemoryStore, make_cache
from services.dashboards.cache_codec import decode, encode
from services.dashboards.periods import ViewState
from services.db import Database
from services.errors import ConfigError, PermissionDenied
from services.measurement import counting, store
from services.models import DownloadRequest, Episode
from services.tenancy import TenantContext

ALL = ViewState(range="all")


@pytest.fixture
def cached_db(seeded_sqlite, tmp_path):
    """A copy of the demo database whose Database keeps a memory cache."""
    path = tmp_path / "demo.db"
    shutil.copy(seeded_sqlite, path)
    db = Database(f"sqlite:///{path}", cache=DashboardCache(MemoryStore(), f"sqlite:///{path}"))
    yield db
    db.dispose()


def _ctx(db, slug="demo", role="owner", sponsor_id=None):
    tenant = accounts.get_tenant_by_slug(db, slug)
    return TenantContext(tenant_id=tenant.id, role=role, sponsor_id=sponsor_id, tenant_slug=slug)


def test_a_cached_answer_is_never_served_to_another_tenant(cached_db):
    db = cached_db
    demo = _ctx(db)
    accounts.create_tenant(db, "acme", "Acme")
    acme = _ctx(db, "acme")
    first = overview.overview_kpis(db, demo, ALL)
    assert overview.overview_kpis(db, demo, ALL) == first and db.cache.hits == 1  # the same question is a hit
    assert first.current.downloads > 0
    kpis = overview.overview_kpis(db, acme, ALL)  # same question, same parameters, another tenant
    assert (kpis.current.downloads, kpis.current.episodes_released) == (0, 0)
    assert overview.top_episodes(db, demo, ALL).shape[0] > 0
    assert overview.top_episodes(db, acme, ALL).empty
    assert audience.breakdown(db, demo, ALL, "country")["downloads"].sum() > 0
    assert audience.breakdown(db, acme, ALL, "country").empty
    assert episodes.episode_choices(db, acme) == []


def test_a_sponsor_user_never_gets_the_staff_answer(cached_db):
    db = cached_db
    owner = _ctx(db)
    assert overview.overview_kpis(db, owner, ALL).current.downloads > 0
    assert overview.downloads_timeline(db, owner, ALL)["downloads"].sum() > 0
    sponsor = _ctx(db, role="sponsor", sponsor_id=1)
    with pytest.raises(PermissionDenied):
        overview.overview_kpis(db, sponsor, ALL)
    with pytest.raises(PermissionDenied):
        overview.downloads_timeline(db, sponsor, ALL)
    with pytest.raises(PermissionDenied):  # a refusal is not cached either
        overview.overview_kpis(db, sponsor, ALL)


def _demo_day(db, tenant_id):
    """A day the demo's raw requests cover (so a recount can restore it) with counted downloads."""
    with db.session(tenant_id) as s:
        newest = s.scalar(select(func.max(DownloadRequest.ts)).where(DownloadRequest.tenant_id == tenant_id))
    return pd.Timestamp(newest).date() - timedelta(days=1)


def _drop_counted_day(db, tenant_id, day) -> None:
    """Remove the day's counted downloads behind the services' back, then refresh the rollups (which bumps)."""
    start, end = store.day_bounds(day, day)
    with db.session(tenant_id) as s:
        s.execute(text("DELETE FROM downloads WHERE tenant_id = :t AND ts >= :a AND ts < :b"),
                  {"t": tenant_id, "a": start, "b": end})
        store.refresh_rollups(s, tenant_id, day, day)
        s.commit()


def test_after_a_rollup_refresh_and_a_recount_the_next_read_has_the_new_figures(cached_db):
    db = cached_db
    ctx = _ctx(db)
    day = _demo_day(db, ctx.tenant_id)
    state = ViewState(range="custom", start=day - timedelta(days=6), end=day)
    before = overview.overview_kpis(db, ctx, state)
    timeline = overview.downloads_timeline(db, ctx, state)
    assert overview.overview_kpis(db, ctx, state) == before and before.current.downloads > 0
    generation = db.cache.generation(ctx.tenant_id)

    _drop_counted_day(db, ctx.tenant_id, day)
    assert db.cache.generation(ctx.tenant_id) == generation + 1
    dropped = overview.overview_kpis(db, ctx, state)
    assert dropped == overview.overview_kpis.uncached(db, ctx, state)
    assert dropped.current.downloads < before.current.downloads
    assert overview.downloads_timeline(db, ctx, state).iloc[-1]["downloads"] == 0 < timeline.iloc[-1]["downloads"]

    report = counting.count_downloads(db, ctx.tenant_id, day, day)  # the recount restores the day
    assert report.downloads > 0
    assert overview.overview_kpis(db, ctx, state) == before
    pd.testing.assert_frame_equal(overview.downloads_timeline(db, ctx, state), timeline)


def test_a_catalog_change_is_a_new_generation(cached_db):
    db = cached_db
    ctx = _ctx(db)
    grid = episodes.episode_grid(db, ctx, ALL)
    episode_id = int(grid.iloc[0]["episode_id"])
    with db.session(ctx.tenant_id) as s:
        s.get(Episode, episode_id).title = "Renamed in the feed"
        s.commit()
    assert episodes.episode_grid(db, ctx, ALL).set_index("episode_id").loc[episode_id, "episode"] == \
        "Renamed in the feed"
    assert episodes.episode_info(db, ctx, episode_id).title == "Renamed in the feed"


def test_a_bump_moves_only_that_tenant(cached_db):
    db = cached_db
    demo = _ctx(db)
    accounts.create_tenant(db, "acme", "Acme")
    acme = _ctx(db, "acme")
    for ctx in (demo, acme):
        overview.top_apps(db, ctx, ALL)
    misses, acme_generation = db.cache.misses, db.cache.generation(acme.tenant_id)
    db.cache.bump(demo.tenant_id)
    overview.top_apps(db, acme, ALL)
    assert db.cache.misses == misses  # acme's answer is still served
    overview.top_apps(db, demo, ALL)
    assert db.cache.misses == misses + 1  # demo's is asked again
    assert db.cache.generation(acme.tenant_id) == acme_generation


def test_today_is_part_of_the_key(cached_db):
    """"Last 30 days" asked on another day is another answer, not yesterday's."""
    db, ctx = cached_db, _ctx(cached_db)
    today = datetime.now(timezone.utc).date()
    state = ViewState(range="30d")
    overview.downloads_timeline(db, ctx, state, today=today)
    later = overview.downloads_timeline(db, ctx, state, today=today + timedelta(days=1))
    assert later.iloc[-1]["period"] == pd.Timestamp(today + timedelta(days=1))
    assert db.cache.hits == 0


def test_a_returned_frame_changed_by_its_caller_does_not_change_the_cache(cached_db):
    db, ctx = cached_db, _ctx(cached_db)
    frame = overview.top_countries(db, ctx, ALL)
    frame["downloads"] = 0
    assert overview.top_countries(db, ctx, ALL)["downloads"].sum() > 0


def test_the_memory_store_is_bounded():
    memory = MemoryStore(max_entries=3)
    for i in range(5):
        memory.put(f"dashcache:t1:k{i}", i)
    assert len(memory) == 3
    assert memory.get("dashcache:t1:k4") == 4


def test_every_cached_answer_round_trips_through_the_redis_codec(cached_db):
    db, ctx = cached_db, _ctx(cached_db)
    state = ViewState(range="90d", granularity="week")
    episode_id = int(episodes.episode_grid(db, ctx, ALL).iloc[0]["episode_id"])
    answers = [overview.overview_kpis(db, ctx, state), overview.downloads_timeline(db, ctx, state),
               overview.top_episodes(db, ctx, state), overview.top_apps(db, ctx, state),
               audience.breakdown(db, ctx, state, "os"), audience.weekday_hour(db, ctx, state),
               episodes.episode_grid(db, ctx, ALL), episodes.episode_info(db, ctx, episode_id),
               episodes.episode_choices(db, ctx), episodes.launch_curves(db, ctx, episode_id),
               episodes.episode_breakdown(db, ctx, episode_id, "app", state),
               overview.downloads_timeline(db, ctx, state.with_(granularity="hour", range="7d")),
               episodes.episode_grid(db, ctx, ViewState(range="7d"))]
    for answer in answers:
        again = decode(encode(answer))
        if isinstance(answer, pd.DataFrame):
            pd.testing.assert_frame_equal(again, answer)
            assert again.attrs == answer.attrs
        else:
            assert again == answer


def test_the_codec_refuses_what_it_does_not_know():
    with pytest.raises(TypeError):
        encode(object())
    with pytest.raises(ValueError):
        decode(b'{"__reduce__": 1}')


def test_cache_modes():
    assert make_cache("off", "sqlite://") is None
    assert isinstance(make_cache("auto", "sqlite://").store, MemoryStore)
    with pytest.raises(ConfigError):
        make_cache("redis", "sqlite://")
    with pytest.raises(ConfigError):
        make_cache("sometimes", "sqlite://")


class _BrokenStore(MemoryStore):
    def generation(self, tenant_id):
        raise ConnectionError("the cache's server is down")


def test_a_cache_that_is_down_answers_from_the_database(cached_db):
    db, ctx = cached_db, _ctx(cached_db)
    db.cache = DashboardCache(_BrokenStore(), "broken")
    assert overview.overview_kpis(db, ctx, ALL).current.downloads > 0
