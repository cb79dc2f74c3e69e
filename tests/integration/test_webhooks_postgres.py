"""Integration: webhooks on PostgreSQL, Redis and a real RQ worker, delivered to a real local receiver that verifies
signatures with `standardwebhooks`. The receiver is down, then back: every event arrives once, the log shows one
success per delivery; a 410 disables its endpoint and records `webhook.disabled`; row-level security keeps each
tenant's endpoints and deliveries to itself."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text, update

from jobs import context as job_context
from services import accounts
from services.errors import NotFound
from services.events import outbox
from services.events.outbox import Event
from services.models import DomainEvent, WebhookDelivery, WebhookEndpoint
from services.notify.webhooks import deliveries, endpoints, on_event
from services.notify.webhooks.retries import JITTER, SCHEDULE
from services.tenancy import TenantContext
from tests.integration.workers import burst_worker
from tests.webhook_receiver import Receiver


@pytest.fixture
def webhook_env(pg_jobs, monkeypatch):
    """pg_jobs, with the worker allowed to reach the local receiver (the worker inherits this environment), and so
    this process too (the webhooks step makes first attempts where it runs)."""
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "5")
    settings, db = pg_jobs
    settings = replace(settings, webhook_allow_private=True, webhook_timeout_seconds=5)
    job_context.set_settings(settings)
    return settings, db


def _owner(tenant_id: int) -> TenantContext:
    return TenantContext(tenant_id, "owner")


def _add(db, tenant_id: int, url: str, events: list[str] | None = None) -> tuple[int, str]:
    info, secret = endpoints.create_endpoint(db, _owner(tenant_id), {"url": url, "events": events or []},
                                             allow_private=True)
    return info.id, secret


def _record_and_hand_over(db, tenant_id: int, type_: str, payload: dict) -> Event:
    """What the workflow does: record the event with the change, then (after commit) run the webhooks handler."""
    with db.session(tenant_id) as s:
        event = Event.of(outbox.record(s, tenant_id, type_, payload))
        s.commit()
    on_event(db, event)
    return event


def test_receiver_down_then_back_gets_every_event_once(webhook_env):
    settings, db = webhook_env
    alpha, beta = (accounts.create_tenant(db, slug, slug.title()).id for slug in ("alpha", "beta"))
    down = Receiver().start()
    port = down.port
    down.stop()  # the receiver is down: connections are refused
    # campaign.created only: the workflow would also deliver the webhook.disabled event below to an all-events one
    endpoint_id, secret = _add(db, alpha, f"http://127.0.0.1:{port}/hooks", ["campaign.created"])
    gone = Receiver().start()
    gone_id, gone.secret = _add(db, alpha, gone.url, ["campaign.created"])
    gone.fail_next(5, 410, body=b"no such hook")
    other = Receiver().start()
    _, other.secret = _add(db, beta, other.url)
    try:
        # The webhooks step makes the first attempts itself (here, in this process); their retries go to the queue.
        events = [_record_and_hand_over(db, alpha, "campaign.created", {"campaign_id": n}) for n in range(3)]
        started = time.monotonic()
        with db.session(alpha) as s:
            rows = s.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)).all()
            assert [(r.status, r.attempts) for r in rows] == [("pending", 1)] * 3
            assert all("Connection" in r.error for r in rows)
            gone_row = s.get(WebhookEndpoint, gone_id)
            assert not gone_row.enabled and "410" in gone_row.disabled_reason
            assert s.scalar(select(func.count()).select_from(DomainEvent)
                            .where(DomainEvent.type == "webhook.disabled")) == 1
        assert len(gone.requests) == 1  # disabled after the first 410: the other two events fail without a call

        back = Receiver(secret=secret, port=port).start()  # the receiver is back, on the same address
        try:
            time.sleep(max(0.0, SCHEDULE[1] * (1 + JITTER) + 0.5 - (time.monotonic() - started)))
            # The worker dispatches the recorded events (their deliveries exist: nothing new is sent); its scheduler
            # part enqueues the due retries, and it runs them.
            burst_worker(settings, "notify")
            assert all(r.verified for r in back.requests), back.dump()
            assert sorted(b["data"]["campaign_id"] for b in back.bodies()) == [0, 1, 2]
            assert len(back.processed) == 3 and back.duplicates == 0
        finally:
            back.stop()
        logged = deliveries.list_deliveries(db, _owner(alpha), endpoint_id)
        assert sorted((d.status, d.attempts) for d in logged) == [("succeeded", 2)] * 3
        assert {d.message_id for d in logged} == set(back.processed)
        assert {d.event_id for d in logged} == {e.id for e in events}
        assert other.requests == []  # the other tenant's endpoint is never triggered
    finally:
        gone.stop()
        other.stop()


def test_row_level_security_keeps_endpoints_and_deliveries_to_their_tenant(webhook_env):
    settings, db = webhook_env
    alpha, beta = (accounts.create_tenant(db, slug, slug.title()).id for slug in ("alpha", "beta"))
    endpoint_id, _ = _add(db, alpha, "http://127.0.0.1:9/hooks")
    with db.session(alpha) as s:
        event = Event.of(outbox.record(s, alpha, "campaign.created", {"campaign_id": 1}))
        s.commit()
    (delivery_id,) = deliveries.create_deliveries(db, event)
    with db.session(beta) as s:  # no tenant filter in these statements: the policy does it
        assert s.execute(text("SELECT count(*) FROM webhook_endpoints")).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar() == 0
        changed = s.execute(update(WebhookEndpoint).values(url="http://evil.test/")
                            .execution_options(synchronize_session=False)).rowcount
        s.commit()
    assert changed == 0
    with db.session(alpha) as s:
        assert s.get(WebhookEndpoint, endpoint_id).url == "http://127.0.0.1:9/hooks"
        assert s.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar() == 1
    assert endpoints.list_endpoints(db, _owner(beta)) == []
    with pytest.raises(NotFound):
        deliveries.list_deliveries(db, _owner(beta), endpoint_id)
    with pytest.raises(NotFound):
        deliveries.replay_delivery(db, _owner(beta), delivery_id)
    with pytest.raises(NotFound):
        endpoints.delete_endpoint(db, _owner(beta), endpoint_id)
    # a beta event never creates deliveries for alpha's endpoint
    with db.session(beta) as s:
        beta_event = Event.of(outbox.record(s, beta, "campaign.created", {}))
        s.commit()
    assert deliveries.create_deliveries(db, beta_event) == []
    # the sweep is system work across tenants: it sees alpha's due delivery
    assert (alpha, delivery_id) in deliveries.due_deliveries(db, deliveries.utcnow())
    with db.session(system=True) as s:
        forced = set(s.scalars(text("SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname "
                                    "WHERE c.relrowsecurity AND c.relforcerowsecurity")))
    assert {"webhook_endpoints", "webhook_deliveries"} <= forced


@pytest.fixture
def pg_app(pg_url, tmp_path):
    """The app on PostgreSQL (the app role, under row-level security), two tenants, their logins and keys."""
    from app import create_app
    from services import api_keys
    from services.models import Sponsor
    from tests.conftest import make_settings

    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url, WEBHOOK_ALLOW_PRIVATE="true",
                                      WEBHOOK_TIMEOUT_SECONDS="5"))
    server.config["TESTING"] = True
    db = server.extensions["podcast_platform"].db
    tenants = {slug: accounts.create_tenant(db, slug, slug.title()).id for slug in ("alpha", "beta")}
    with db.session(tenants["alpha"]) as s:
        sponsor = Sponsor(tenant_id=tenants["alpha"], name="Alpha Sponsor")
        s.add(sponsor)
        s.commit()
    logins = {"owner": ("owner@alpha.test", "alpha", "owner", None),
              "sponsor": ("sponsor@alpha.test", "alpha", "sponsor", sponsor.id),
              "other_tenant": ("owner@beta.test", "beta", "owner", None)}
    clients = {}
    for name, (email, slug, role, sponsor_id) in logins.items():
        accounts.create_user(db, email, slug, role, password="password-123", sponsor_id=sponsor_id)
        clients[name] = server.test_client()
        assert clients[name].post("/login", data={"email": email, "password": "password-123"}).status_code == 302
    keys = {slug: api_keys.create_api_key(db, _owner(tenant_id), slug, ("read", "write"))[1]
            for slug, tenant_id in tenants.items()}
    yield server, db, tenants, clients, keys
    db.dispose()
    job_context.reset()


def test_api_and_page_keep_endpoints_to_their_tenant_on_postgres(pg_app):
    from tests.webhooks_client import manage, show_log

    server, db, tenants, clients, keys = pg_app
    receiver = Receiver().start()
    try:
        def api(method, path, slug, **kwargs):
            return server.test_client().open(path, method=method, headers={"Authorization": f"Bearer {keys[slug]}"},
                                             **kwargs)

        created = api("POST", "/api/v1/webhooks", "alpha", json={"url": receiver.url, "events": ["campaign.created"]})
        assert created.status_code == 201
        endpoint_id, receiver.secret = created.get_json()["id"], created.get_json()["secret"]
        _record_and_hand_over(db, tenants["alpha"], "campaign.created", {"campaign_id": 1})  # in-process: no Redis
        assert [r.verified for r in receiver.requests] == [True]
        delivered = api("GET", f"/api/v1/webhooks/{endpoint_id}/deliveries", "alpha").get_json()["data"]
        assert [d["status"] for d in delivered] == ["succeeded"]

        assert api("GET", "/api/v1/webhooks", "beta").get_json()["data"] == []
        assert api("GET", f"/api/v1/webhooks/{endpoint_id}/deliveries", "beta").status_code == 404
        assert api("DELETE", f"/api/v1/webhooks/{endpoint_id}", "beta").status_code == 404
        _record_and_hand_over(db, tenants["beta"], "campaign.created", {"campaign_id": 2})
        assert len(receiver.requests) == 1  # the other tenant's event triggers nothing here

        status, out = manage(clients["owner"])
        assert status == 200 and receiver.url in str(out["webhooks-table"]["children"])
        for name in ("other_tenant", "sponsor"):
            status, out = manage(clients[name])
            assert status == 200 and receiver.url not in str(out)
            status, out = manage(clients[name], "webhooks-delete", index=endpoint_id)
            assert receiver.url not in str(out) and out["webhooks-message"]["children"] is not None
            status, out = show_log(clients[name], endpoint_id)
            assert out["webhooks-log"]["children"] is None and out["webhooks-log-message"]["children"] is not None
        assert [e.id for e in endpoints.list_endpoints(db, _owner(tenants["alpha"]))] == [endpoint_id]
        assert api("DELETE", f"/api/v1/webhooks/{endpoint_id}", "alpha").status_code == 204
    finally:
        receiver.stop()
