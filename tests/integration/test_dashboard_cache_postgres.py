"""The dashboards' cache in real Redis over PostgreSQL (tenants, role scope, recounts, generations, JSON values), and
the read replica: a second PostgreSQL database holding different content shows which one answered."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pandas as pd
import psycopg
import pytest
import redis
from flask import Flask
from sqlalchemy import func, select, text

from api.state import request_store
from services import accounts
from services.dashboards import episodes, overview
from services.dashboards.cache import PREFIX, DashboardCache, RedisStore
from services.dashboards.periods import ViewState
from services.db import Database
from services.errors import NotFound, PermissionDenied
from services.measurement import counting, store
from services.models import DownloadRequest, Podcast
from services.tenancy import TenantContext

ALL = ViewState(range="all")
REPLICA_TITLE = "Title on the replica"


@pytest.fixture(scope="module")
def databases(seeded_pg_template):
    """(primary URL, replica URL, demo tenant id, acme tenant id): the demo seeded on the primary, then the replica
    cloned from it with the demo's first podcast renamed there only."""
    from tests.integration.conftest import PG_ADMIN, create_database, drop_database, with_timeouts

    name, url = create_database(seeded_pg_template[0])  # migrated, the demo tenant already seeded
    db = Database(url, "podcast_app")
    tenant_id = seeded_pg_template[1]["tenant_id"]
    acme_id = accounts.create_tenant(db, "acme", "Acme").id
    db.dispose()
    replica = f"{name}_replica"
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{replica}" TEMPLATE "{name}"')
    replica_url = url.replace(f"/{name}?", f"/{replica}?")
    with psycopg.connect(replica_url.replace("+psycopg", "")) as conn:
        conn.execute("UPDATE podcasts SET title = %s WHERE id = (SELECT min(id) FROM podcasts WHERE tenant_id = %s)",
                     (REPLICA_TITLE, tenant_id))
    yield url, replica_url, tenant_id, acme_id
    drop_database(replica)
    drop_database(name)


@pytest.fixture
def redis_cached(databases, redis_url):
    url, _replica, tenant_id, acme_id = databases
    client = redis.Redis.from_url(redis_url)
    db = Database(url, "podcast_app", cache=DashboardCache(RedisStore(client), url))
    yield db, client, TenantContext(tenant_id=tenant_id, role="owner"), TenantContext(tenant_id=acme_id, role="owner")
    db.dispose()


def test_redis_never_serves_another_tenant_or_role(redis_cached):
    db, client, demo_ctx, acme_ctx = redis_cached
    first = overview.overview_kpis(db, demo_ctx, ALL)
    assert first.current.downloads > 0
    assert overview.overview_kpis(db, demo_ctx, ALL) == first and db.cache.hits == 1
    assert overview.overview_kpis(db, acme_ctx, ALL).current.downloads == 0
    assert overview.top_episodes(db, acme_ctx, ALL).empty
    with pytest.raises(PermissionDenied):
        overview.overview_kpis(db, TenantContext(tenant_id=demo_ctx.tenant_id, role="sponsor", sponsor_id=1), ALL)
    values = [client.get(k) for k in client.scan_iter(f"{PREFIX}:t{demo_ctx.tenant_id}:*")]
    assert values and all(v.startswith(b"{") for v in values)  # JSON, never a pickle
    assert client.ttl(next(client.scan_iter(f"{PREFIX}:t{demo_ctx.tenant_id}:*"))) > 0


def test_redis_after_a_rollup_refresh_and_a_recount_the_next_read_is_new(redis_cached):
    db, _client, ctx, acme_ctx = redis_cached
    with db.session(ctx.tenant_id, worker=True) as s:  # raw requests and downloads: the workers' tables
        day = pd.Timestamp(s.scalar(select(func.max(DownloadRequest.ts))
                                    .where(DownloadRequest.tenant_id == ctx.tenant_id))).date() - timedelta(days=1)
    state = ViewState(range="custom", start=day - timedelta(days=6), end=day)
    before = overview.overview_kpis(db, ctx, state)
    overview.overview_kpis(db, acme_ctx, state)
    acme_generation = db.cache.generation(acme_ctx.tenant_id)
    start, end = store.day_bounds(day, day)
    with db.session(ctx.tenant_id, worker=True) as s:
        s.execute(text("DELETE FROM downloads WHERE tenant_id = :t AND ts >= :a AND ts < :b"),
                  {"t": ctx.tenant_id, "a": start, "b": end})
        store.refresh_rollups(s, ctx.tenant_id, day, day)
        s.commit()
    dropped = overview.overview_kpis(db, ctx, state)
    assert dropped.current.downloads < before.current.downloads
    assert dropped == overview.overview_kpis.uncached(db, ctx, state)
    assert db.cache.generation(acme_ctx.tenant_id) == acme_generation  # only the demo moved
    hits = db.cache.hits
    overview.overview_kpis(db, acme_ctx, state)
    assert db.cache.hits == hits + 1
    assert counting.count_downloads(db, ctx.tenant_id, day, day).downloads > 0
    assert overview.overview_kpis(db, ctx, state) == before


def _first_podcast(db, ctx) -> int:
    with db.session(ctx.tenant_id) as s:
        return s.scalar(select(func.min(Podcast.id)).where(Podcast.tenant_id == ctx.tenant_id))


def _an_episode(db, ctx, podcast_id) -> int:
    with db.session(ctx.tenant_id) as s:
        return s.scalar(text("SELECT min(id) FROM episodes WHERE podcast_id = :p"), {"p": podcast_id})


def test_reads_go_to_the_replica_until_the_request_writes(databases):
    url, replica_url, tenant_id, acme_id = databases
    request = SimpleNamespace()
    current = {"store": request}
    db = Database(url, "podcast_app", read_url=replica_url, request_store=lambda: current["store"])
    try:
        ctx = TenantContext(tenant_id=tenant_id, role="owner")
        podcast_id = _first_podcast(db, ctx)
        episode_id = _an_episode(db, ctx, podcast_id)
        assert episodes.episode_info(db, ctx, episode_id).podcast == REPLICA_TITLE  # the replica answered
        current["store"] = None  # outside a request: the primary
        assert episodes.episode_info(db, ctx, episode_id).podcast != REPLICA_TITLE
        current["store"] = request
        with db.session(tenant_id) as s:  # the request writes on the primary ...
            s.get(Podcast, podcast_id).title = "Renamed on the primary"
            s.commit()
        assert episodes.episode_info(db, ctx, episode_id).podcast == "Renamed on the primary"  # ... and reads it
        current["store"] = SimpleNamespace()  # the next request reads the replica again
        assert episodes.episode_info(db, ctx, episode_id).podcast == REPLICA_TITLE
        acme = TenantContext(tenant_id=acme_id, role="owner")
        with pytest.raises(NotFound):  # another tenant sees nothing of the demo's through the replica
            episodes.episode_info(db, acme, episode_id)
        with db.read_session(acme_id) as s:  # row-level security holds on the replica's connections too
            assert s.scalar(text("SELECT count(*) FROM podcasts")) == 0
        with pytest.raises(PermissionDenied):
            overview.top_episodes(db, TenantContext(tenant_id=tenant_id, role="sponsor", sponsor_id=1), ALL)
        with pytest.raises(RuntimeError), db.read_session(tenant_id) as s:
            s.get(Podcast, podcast_id).title = "written to a replica"
            s.flush()
    finally:
        with db.session(tenant_id) as s:
            s.execute(text("UPDATE podcasts SET title = 'Demo' WHERE id = :p AND title = 'Renamed on the primary'"),
                      {"p": podcast_id})
            s.commit()
        db.dispose()


def test_flask_requests_pin_to_the_primary_after_a_write(databases):
    url, replica_url, tenant_id, _acme = databases
    db = Database(url, "podcast_app", read_url=replica_url, request_store=request_store)
    server = Flask(__name__)
    try:
        ctx = TenantContext(tenant_id=tenant_id, role="owner")
        podcast_id = _first_podcast(db, ctx)
        episode_id = _an_episode(db, ctx, podcast_id)
        with server.test_request_context("/"):
            assert episodes.episode_info(db, ctx, episode_id).podcast == REPLICA_TITLE
            with db.session(tenant_id) as s:
                s.execute(text("SELECT 1"))
                s.add(Podcast(tenant_id=tenant_id, title="Added in this request", prefix_key="pinned-req"))
                s.flush()  # a flush pins, even before the commit
                s.rollback()
            assert episodes.episode_info(db, ctx, episode_id).podcast != REPLICA_TITLE
        with server.test_request_context("/"):
            assert episodes.episode_info(db, ctx, episode_id).podcast == REPLICA_TITLE
    finally:
        db.dispose()


def test_the_api_reads_from_the_replica_and_another_tenant_sees_nothing(databases, tmp_path):
    from app import create_app
    from jobs import context
    from services import api_keys
    from tests.conftest import make_settings

    url, replica_url, tenant_id, acme_id = databases
    server = create_app(make_settings(tmp_path, DATABASE_URL=url, DATABASE_READ_URL=replica_url))
    db = server.extensions["podcast_platform"].db
    try:
        assert db.read_engine is not None and db.cache is not None  # memory cache: no REDIS_URL
        _, demo_key = api_keys.create_api_key(db, TenantContext(tenant_id=tenant_id, role="owner"), "demo")
        _, acme_key = api_keys.create_api_key(db, TenantContext(tenant_id=acme_id, role="owner"), "acme")
        client = server.test_client()
        listed = client.get("/api/v1/podcasts", headers={"Authorization": f"Bearer {demo_key}"})
        assert listed.status_code == 200
        assert REPLICA_TITLE in [p["title"] for p in listed.get_json()["data"]]  # the replica answered
        other = client.get("/api/v1/podcasts", headers={"Authorization": f"Bearer {acme_key}"})
        assert other.status_code == 200 and other.get_json()["data"] == []
    finally:
        context.reset()
        db.dispose()
