"""The measurement pipeline on the real parts: the app on PostgreSQL + Redis takes prefix hits into the Redis
buffer, a real `rq` worker drains and counts them; with Redis down, hits spool to disk and are replayed."""
from __future__ import annotations

import json

import pytest
import redis
from sqlalchemy import func, select, text

from app import create_app
from jobs import context
from jobs.measure import count_tenant, drain_hits
from jobs.queues import enqueue, job_status
from services.measurement import ingest, journal
from services.models import DownloadRequest, Episode, Podcast
from tests.conftest import make_settings
from tests.integration.workers import burst_worker

AGENT = "Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0"


@pytest.fixture
def pipeline(seeded_pg, redis_url, tmp_path):
    pg_url, seeded = seeded_pg  # the demo tenant already seeded
    settings = make_settings(tmp_path, DATABASE_URL=pg_url, REDIS_URL=redis_url)
    server = create_app(settings)
    db = server.extensions["podcast_platform"].db
    redis.Redis.from_url(redis_url).delete(ingest.BUFFER_KEY, ingest.PROCESSING_KEY, ingest.DRAIN_LOCK_KEY)
    context.set_settings(settings)
    context.set_db(db)
    yield server, settings, db, seeded["tenant_id"]
    server.extensions["tracking"].sink.close()
    context.reset()
    db.dispose()




def _target(db, tenant_id):
    with db.session(tenant_id) as s:
        podcast = s.scalar(select(Podcast).order_by(Podcast.id))
        episode = s.scalar(select(Episode).where(Episode.podcast_id == podcast.id).order_by(Episode.id.desc()))
    return podcast.prefix_key, episode


def test_hits_flow_through_redis_and_a_real_worker_into_downloads(pipeline):
    server, settings, db, tenant_id = pipeline
    key, episode = _target(db, tenant_id)
    client = server.test_client()
    for i in range(20):
        response = client.get(f"/e/{key}/{episode.enclosure_url.removeprefix('https://')}",
                              headers={"User-Agent": AGENT}, environ_base={"REMOTE_ADDR": f"192.0.2.{i + 1}"})
        assert response.status_code == 302
    assert server.extensions["tracking"].sink.flush()  # the journal is shipped to Redis within milliseconds
    r = redis.Redis.from_url(settings.redis_url)
    assert r.llen(ingest.BUFFER_KEY) == 20

    drained = enqueue(drain_hits, queue="ingest", settings=settings)
    burst_worker(settings, "ingest")
    assert job_status(drained.id, settings).result == 20 and r.llen(ingest.BUFFER_KEY) == 0

    with db.session(tenant_id) as s:
        before = s.scalar(text("SELECT count(*) FROM tenant_downloads WHERE episode_id = :e"), {"e": episode.id})
    counted = enqueue(count_tenant, tenant_id, queue="measure", settings=settings)
    burst_worker(settings, "measure")
    assert job_status(counted.id, settings).status == "finished", job_status(counted.id, settings).error
    with db.session(tenant_id) as s:
        after = s.scalar(text("SELECT count(*) FROM tenant_downloads WHERE episode_id = :e"), {"e": episode.id})
    assert after == before + 20

    # Re-delivering the same hits (a retried drain) stores nothing new, and a recount changes nothing.
    again = enqueue(count_tenant, tenant_id, queue="measure", settings=settings)
    burst_worker(settings, "measure")
    assert job_status(again.id, settings).status == "finished"
    with db.session(tenant_id) as s:
        assert s.scalar(text("SELECT count(*) FROM tenant_downloads WHERE episode_id = :e"), {"e": episode.id}) == after


def test_redis_down_spools_to_disk_and_replays(pipeline, tmp_path):
    server, settings, db, tenant_id = pipeline
    key, episode = _target(db, tenant_id)
    spool = ingest.Spool(tmp_path / "spool")
    dead = redis.Redis(host="127.0.0.1", port=1, socket_timeout=0.2, socket_connect_timeout=0.2)
    sink = ingest.RedisSink(dead, spool)
    hits = [ingest.new_hit(key, f"198.51.100.{i}", AGENT, None, None, "GET", episode.enclosure_url) for i in range(5)]
    for hit in hits[:4]:
        sink.record(hit)
    assert spool.has_pending()
    live = redis.Redis.from_url(settings.redis_url)
    sink.redis = live  # Redis is back
    sink.record(hits[4])
    assert not spool.has_pending() and live.llen(ingest.BUFFER_KEY) == 5
    assert ingest.drain_buffer(db, live) == 5
    with db.session(tenant_id, worker=True) as s:  # raw requests: the workers' table
        stored = s.scalar(select(func.count()).select_from(DownloadRequest).where(
            DownloadRequest.request_uid.in_([h["uid"] for h in hits])))
    assert stored == 5


def _stored(db, tenant_id, hits) -> int:
    with db.session(tenant_id, worker=True) as s:  # raw requests: the workers' table
        return s.scalar(select(func.count()).select_from(DownloadRequest).where(
            DownloadRequest.request_uid.in_([h["uid"] for h in hits])))


def test_a_drainer_dying_mid_batch_loses_and_doubles_nothing(pipeline, monkeypatch):
    server, settings, db, tenant_id = pipeline
    key, episode = _target(db, tenant_id)
    live = redis.Redis.from_url(settings.redis_url)
    hits = [ingest.new_hit(key, f"203.0.113.{i}", AGENT, None, None, "GET", episode.enclosure_url) for i in range(25)]
    live.rpush(ingest.BUFFER_KEY, *[json.dumps(h) for h in hits])
    real_store = ingest.store_hits
    calls = []

    def store_then_die(db_, batch, locate=None):
        calls.append(1)
        if len(calls) == 1:  # the first batch is committed, then the worker dies before it can say so
            real_store(db_, batch, locate)
            raise SystemExit("worker killed")
        if len(calls) == 2:  # the next drain dies before committing its batch
            raise SystemExit("worker killed")
        return real_store(db_, batch, locate)

    monkeypatch.setattr(ingest, "store_hits", store_then_die)
    for _ in range(2):
        with pytest.raises(SystemExit):
            ingest.drain_buffer(db, live, batch=10)
        assert live.llen(ingest.PROCESSING_KEY) == 10  # the batch waits in the processing list, not lost
    assert _stored(db, tenant_id, hits) == 10
    assert ingest.drain_buffer(db, live, batch=10) == 15  # the 10 again (already stored: skipped) + the other 15
    assert live.llen(ingest.PROCESSING_KEY) == live.llen(ingest.BUFFER_KEY) == 0
    assert _stored(db, tenant_id, hits) == 25


def test_drain_stops_when_another_drainer_holds_the_lock(pipeline):
    server, settings, db, tenant_id = pipeline
    live = redis.Redis.from_url(settings.redis_url)
    live.rpush(ingest.BUFFER_KEY, json.dumps({"uid": "x"}))
    other = live.lock(ingest.DRAIN_LOCK_KEY, timeout=30)
    assert other.acquire(blocking=False)
    try:
        assert ingest.drain_buffer(db, live) == 0 and live.llen(ingest.BUFFER_KEY) == 1
    finally:
        other.release()
        live.delete(ingest.BUFFER_KEY)


def test_journal_on_a_real_redis_survives_an_outage_and_stores_each_hit_once(pipeline, tmp_path):
    """The app's sink: hits journaled while Redis is unreachable are shipped once it answers; a worker's journal
    left behind (shipped again by an adopter) still stores each hit once."""
    server, settings, db, tenant_id = pipeline
    key, episode = _target(db, tenant_id)
    live = redis.Redis.from_url(settings.redis_url)
    dead = redis.Redis(host="127.0.0.1", port=1, socket_timeout=0.2, socket_connect_timeout=0.2)
    sink = journal.JournalSink(dead, tmp_path / "journal", interval=0.001)
    hits = [ingest.new_hit(key, f"198.51.100.{i}", AGENT, None, None, "GET", episode.enclosure_url) for i in range(30)]
    for hit in hits[:20]:
        sink.record(hit)
    assert not sink.flush(timeout=0.5) and live.llen(ingest.BUFFER_KEY) == 0
    sink.redis = live  # Redis is back
    for hit in hits[20:]:
        sink.record(hit)
    assert sink.flush(timeout=10) and live.llen(ingest.BUFFER_KEY) == 30
    live.rpush(ingest.BUFFER_KEY, *[json.dumps(h) for h in hits[:10]])  # shipped twice (an adopted journal)
    sink.close()
    assert ingest.drain_buffer(db, live) == 30
    assert _stored(db, tenant_id, hits) == 30
