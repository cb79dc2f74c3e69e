"""Attribution inputs on the real parts: PostgreSQL with row-level security, Redis and a real `rq` worker.
Server-to-server duplicates count once; pixel calls go journal -> Redis -> worker -> store; a pixel call while
Redis is down still answers the GIF and is stored once after Redis is back (journal adoption); tenants see only
their own events through `tenant_attribution_events`."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select, text

from api.attribution import PIXEL_GIF
from app import create_app
from jobs import context
from jobs.measure import drain_hits
from jobs.queues import enqueue, job_status
from services import accounts, api_keys
from services.errors import NotFound
from services.measurement import ingest, journal
from services.models import AttributionEvent, Sponsor
from services.sponsorship.attribution import inputs
from services.sponsorship.attribution.pixel import RECORD_STORES
from services.tenancy import TenantContext
from tests.conftest import clear_demo_conversions, make_settings
from tests.integration.workers import burst_worker

pytestmark = pytest.mark.integration



def _clear(redis_url):
    redis.Redis.from_url(redis_url).delete(ingest.BUFFER_KEY, ingest.PROCESSING_KEY, ingest.DRAIN_LOCK_KEY)


@pytest.fixture
def network(seeded_pg, redis_url, tmp_path):
    pg_url, seeded = seeded_pg  # the demo tenant already seeded
    settings = make_settings(tmp_path / "live", DATABASE_URL=pg_url, REDIS_URL=redis_url)
    server = create_app(settings)
    db = server.extensions["podcast_platform"].db
    clear_demo_conversions(db, seeded["tenant_id"])  # the demo seeds conversions; these tests count from none
    _clear(redis_url)
    context.set_settings(settings)
    context.set_db(db)
    with db.session(seeded["tenant_id"]) as s:
        sponsor = s.scalar(select(Sponsor).where(Sponsor.name == "Northwind Coffee"))
    yield server, settings, db, seeded["tenant_id"], sponsor
    server.extensions["tracking"].sink.close()
    context.reset()
    db.dispose()
    _clear(redis_url)




def _drain_with_worker(settings) -> int:
    job = enqueue(drain_hits, queue="ingest", settings=settings)
    burst_worker(settings, "ingest")
    status = job_status(job.id, settings)
    assert status.status == "finished", status.error
    return status.result


def _pixel_events(db, tenant_id, sponsor_id, event_ids):
    with db.session(tenant_id) as s:
        return s.execute(text("SELECT event_id, type, value, household_key FROM tenant_attribution_events "
                              "WHERE sponsor_id = :s AND event_id = ANY(:ids) ORDER BY event_id"),
                         {"s": sponsor_id, "ids": list(event_ids)}).all()


def test_s2s_duplicates_count_once_on_postgres(network):
    server, settings, db, tenant_id, sponsor = network
    _, key = api_keys.create_api_key(db, TenantContext(tenant_id, "owner"), "s2s", ("read", "write"))
    client = server.test_client()
    at = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()
    events = [{"event_id": f"pg-{i}", "type": "purchase", "occurred_at": at, "ip": f"24.5.6.{i}",
               "user_agent": "Mozilla/5.0", "value": 10 + i, "currency": "USD"} for i in range(5)]
    url = f"/api/v1/sponsors/{sponsor.id}/conversions"
    headers = {"Authorization": f"Bearer {key}"}
    assert client.post(url, json={"events": events}, headers=headers).get_json() == {
        "accepted": 5, "duplicates": 0, "errors": []}
    assert client.post(url, json={"events": events + events[:2]}, headers=headers).get_json() == {
        "accepted": 0, "duplicates": 7, "errors": []}
    assert len(_pixel_events(db, tenant_id, sponsor.id, [e["event_id"] for e in events])) == 5


def test_pixel_goes_journal_redis_worker_store(network):
    server, settings, db, tenant_id, sponsor = network
    client = server.test_client()
    for i in range(6):
        response = client.get(f"/px.gif?k={sponsor.pixel_key}&e=purchase&id=px-{i % 4}&v=9.99&c=USD",
                              environ_base={"REMOTE_ADDR": f"24.5.6.{i}"})
        assert response.status_code == 200 and response.data == PIXEL_GIF
    client.get("/px.gif?k=nosuchkey&e=lead&id=1")
    assert server.extensions["tracking"].sink.flush()
    live = redis.Redis.from_url(settings.redis_url)
    assert live.llen(ingest.BUFFER_KEY) == 7
    assert _drain_with_worker(settings) == 4  # px-0..px-3; px-0 and px-1 twice: once each
    rows = _pixel_events(db, tenant_id, sponsor.id, [f"px-{i}" for i in range(4)])
    assert [r.event_id for r in rows] == ["px-0", "px-1", "px-2", "px-3"]
    assert all(str(r.value) == "9.99" and len(r.household_key) == 32 for r in rows)
    with db.session(system=True) as s:
        assert s.scalar(text("SELECT count FROM attribution_rejections WHERE reason = 'unknown_key'")) == 1


def test_pixel_while_redis_is_down_is_stored_once_when_it_is_back(network, tmp_path):
    _server, live_settings, db, tenant_id, sponsor = network
    dead_settings = make_settings(tmp_path / "down", DATABASE_URL=live_settings.database_url,
                                  REDIS_URL="redis://127.0.0.1:1/9")
    down = create_app(dead_settings)
    client = down.test_client()
    for i in range(3):
        response = client.get(f"/px.gif?k={sponsor.pixel_key}&e=signup&id=down-{i}",
                              environ_base={"REMOTE_ADDR": "24.5.6.7"})
        assert response.status_code == 200 and response.data == PIXEL_GIF
        assert "no-store" in response.headers["Cache-Control"]
    sink = down.extensions["tracking"].sink
    assert not sink.flush(timeout=0.5)  # nothing reaches the dead Redis: the calls wait in the journal
    sink.close()  # the worker stops while Redis is still down: its journal stays on disk
    down.extensions["podcast_platform"].db.dispose()
    directory = Path(dead_settings.instance_path) / "spool" / "journal"
    assert any(directory.glob("*.jsonl"))

    live = redis.Redis.from_url(live_settings.redis_url)
    adopter = journal.JournalSink(live, directory)
    assert adopter.adopt_orphans() == 3 and live.llen(ingest.BUFFER_KEY) == 3
    lines = live.lrange(ingest.BUFFER_KEY, 0, -1)
    live.rpush(ingest.BUFFER_KEY, *lines)  # shipped twice (another adopter raced): still stored once
    _drain_with_worker(live_settings)
    ids = [f"down-{i}" for i in range(3)]
    assert [r.event_id for r in _pixel_events(db, tenant_id, sponsor.id, ids)] == ids
    live.rpush(ingest.BUFFER_KEY, *lines)  # and once more, after the store
    assert ingest.drain_buffer(db, live, stores=RECORD_STORES) == 0
    with db.session(system=True) as s:
        assert s.scalar(select(func.count()).select_from(AttributionEvent).where(
            AttributionEvent.event_id.in_(ids))) == 3


def test_tenants_see_only_their_events_through_the_view(network):
    _server, _settings, db, tenant_id, sponsor = network
    other = accounts.create_tenant(db, "acme", "Acme")
    with db.session(other.id) as s:
        acme_sponsor = Sponsor(tenant_id=other.id, name="Acme Tea")
        s.add(acme_sponsor)
        s.commit()
    at = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    event = {"event_id": "same-id", "type": "lead", "occurred_at": at, "ip": "24.5.6.7"}
    inputs.record_conversions(db, TenantContext(tenant_id, "editor"), sponsor.id, [event])
    inputs.record_conversions(db, TenantContext(other.id, "editor"), acme_sponsor.id, [event])
    for tenant, sponsor_id in ((tenant_id, sponsor.id), (other.id, acme_sponsor.id)):
        with db.session(tenant) as s:
            rows = s.execute(text("SELECT tenant_id, sponsor_id FROM tenant_attribution_events")).all()
            ledger = s.execute(text("SELECT tenant_id FROM attribution_event_ids")).scalars().all()
        assert rows == [(tenant, sponsor_id)] and ledger == [tenant]
    with db.session() as s:  # no tenant set: nothing
        assert s.scalar(text("SELECT count(*) FROM tenant_attribution_events")) == 0
        assert s.scalar(text("SELECT count(*) FROM attribution_event_ids")) == 0
    # A tenant cannot post into another tenant's sponsor through the service either.
    with pytest.raises(NotFound):
        inputs.record_conversions(db, TenantContext(other.id, "editor"), sponsor.id, [event])
