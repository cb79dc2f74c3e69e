"""Integration: the dispatcher's batches on PostgreSQL, Redis and a real RQ worker. A burst of events from two tenants
is handled by a couple of dispatch jobs (no job per event or per delivery): each event reaches its own tenant's
webhook receiver and owner exactly once. Two dispatchers running at once, each with threads, claim disjoint events
and handle each once."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy import select

from jobs import context as job_context
from jobs.queues import get_queue
from services import accounts
from services.events import dispatch, outbox
from services.models import DomainEvent, EventHandling, Notification
from services.notify.webhooks import endpoints
from services.tenancy import TenantContext
from tests.integration.workers import burst_worker
from tests.webhook_receiver import Receiver


@pytest.fixture
def two_networks(pg_jobs, monkeypatch):
    """alpha and beta, each with an owner and a webhook endpoint on its own local receiver."""
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "true")  # the worker inherits it: the receivers are on loopback
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "5")
    settings, db = pg_jobs
    networks = {}
    receivers = []
    for slug in ("alpha", "beta"):
        tenant_id = accounts.create_tenant(db, slug, slug.title()).id
        user_id = accounts.create_user(db, f"owner@{slug}.test", slug, "owner", password="password-123")[0].id
        receiver = Receiver().start()
        receivers.append(receiver)
        _, receiver.secret = endpoints.create_endpoint(db, TenantContext(tenant_id, "owner"), {"url": receiver.url},
                                                       allow_private=True)
        networks[slug] = (tenant_id, user_id, receiver)
    yield settings, db, networks
    for receiver in receivers:
        receiver.stop()


def _alert(db, tenant_id, user_id, title) -> int:
    with db.session(tenant_id) as s:
        event_id = outbox.record(s, tenant_id, "alert.triggered",
                                 {"title": title, "channels": ["in_app"], "user_ids": [user_id]}).id
        s.commit()  # with the jobs' trigger installed, this queues the dispatcher (one waiting job at most)
    return event_id


def _check_each_event_once(db, networks, recorded) -> None:
    with db.session(system=True) as s:
        notified = s.execute(select(Notification.event_id, Notification.user_id)).all()
        statuses = dict(s.execute(select(DomainEvent.id, DomainEvent.status)).all())
        ledger = s.execute(select(EventHandling.event_id, EventHandling.handler, EventHandling.status)).all()
    for slug, (_tenant_id, user_id, receiver) in networks.items():
        titles = [title for title, event_slug in recorded.values() if event_slug == slug]
        assert sorted(b["data"]["title"] for b in receiver.bodies()) == sorted(titles), slug
        assert len(receiver.processed) == len(titles) and receiver.duplicates == 0
        assert all(r.verified for r in receiver.requests), receiver.dump()
        mine = [event_id for event_id, (_, event_slug) in recorded.items() if event_slug == slug]
        assert sorted(e for e, u in notified if u == user_id) == sorted(mine), slug
    assert len(notified) == len(recorded)
    assert {statuses[e] for e in recorded} == {"done"}
    assert sorted(ledger) == sorted((e, h, "done") for e in recorded for h in ("notify.alert", "webhooks.fan_out"))


def test_a_burst_from_two_tenants_is_handled_in_batches_each_event_once_by_its_tenant(two_networks):
    settings, db, networks = two_networks
    recorded = {}
    for n in range(30):
        slug = "alpha" if n % 3 else "beta"
        tenant_id, user_id, _ = networks[slug]
        recorded[_alert(db, tenant_id, user_id, f"{slug} alert {n}")] = (f"{slug} alert {n}", slug)

    queue = get_queue("notify", settings)
    before = set(queue.finished_job_registry.get_job_ids())  # earlier tests' jobs, if any
    burst_worker(settings, "notify")

    _check_each_event_once(db, networks, recorded)
    funcs = [queue.fetch_job(job_id).func_name for job_id in queue.finished_job_registry.get_job_ids()
             if job_id not in before]
    assert funcs and set(funcs) == {"jobs.events.dispatch_events"} and len(funcs) <= 4, funcs


def test_two_dispatchers_with_threads_claim_disjoint_events_and_handle_each_once(two_networks):
    settings, db, networks = two_networks
    outbox.set_trigger(db.engine, None)  # this test runs the dispatchers itself, in this process
    job_context.set_settings(replace(settings, webhook_allow_private=True, webhook_timeout_seconds=5))
    recorded = {}
    for n in range(24):
        slug = "beta" if n % 4 == 0 else "alpha"
        tenant_id, user_id, _ = networks[slug]
        recorded[_alert(db, tenant_id, user_id, f"{slug} alert {n}")] = (f"{slug} alert {n}", slug)

    with ThreadPoolExecutor(2) as pool:
        handled = list(pool.map(lambda _: dispatch.handle_due(db, limit=12, threads=4), range(2)))

    assert sorted(handled) == [12, 12]
    _check_each_event_once(db, networks, recorded)
    assert dispatch.handle_due(db, limit=12, threads=4) == 0
