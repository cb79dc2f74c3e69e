"""The webhooks API and page on SQLite: owners and admins manage endpoints (API keys by scope), the secret is shown
once and never listed, bad bodies answer 422 naming the field, and another tenant or a sponsor user never sees,
changes or triggers a tenant's endpoints."""
from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from jobs import context as job_context
from services import accounts, api_keys
from services.errors import PermissionDenied
from services.notify.webhooks import deliveries, endpoints, on_event
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD, make_settings
from tests.unit.webhooks.conftest import fake_event
from tests.webhooks_client import manage, show_log
from tests.webhook_receiver import Receiver

PASSWORD = "password-123"


@pytest.fixture(scope="module")
def world(tmp_path_factory, seeded_sqlite):
    from app import create_app

    instance = tmp_path_factory.mktemp("webhooks")
    shutil.copy(seeded_sqlite, instance / "podcast.db")
    server = create_app(make_settings(instance, WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_TIMEOUT_SECONDS="5"))
    server.config["TESTING"] = True
    db = server.extensions["podcast_platform"].db
    demo = accounts.get_tenant_by_slug(db, "demo")
    acme = accounts.create_tenant(db, "acme", "Acme")
    users = {"owner": ("demo@example.com", DEMO_PASSWORD)}
    for role in ("admin", "editor", "viewer"):
        accounts.create_user(db, f"{role}@demo.test", "demo", role, password=PASSWORD)
        users[role] = (f"{role}@demo.test", PASSWORD)
    sponsor_id = _a_sponsor(db, demo.id)
    accounts.create_user(db, "sponsor@demo.test", "demo", "sponsor", password=PASSWORD, sponsor_id=sponsor_id)
    accounts.create_user(db, "owner@acme.test", "acme", "owner", password=PASSWORD)
    users.update(sponsor=("sponsor@demo.test", PASSWORD), other_tenant=("owner@acme.test", PASSWORD))
    clients = {}
    for role, (email, password) in users.items():
        client = server.test_client()
        assert client.post("/login", data={"email": email, "password": password}).status_code == 302
        clients[role] = client
    keys = {name: api_keys.create_api_key(db, TenantContext(tenant, "owner"), name, scopes)[1]
            for name, tenant, scopes in (("write", demo.id, ("read", "write")), ("read", demo.id, ("read",)),
                                         ("acme", acme.id, ("read", "write")))}
    receiver = Receiver().start()
    yield {"app": server, "db": db, "demo": demo.id, "acme": acme.id, "clients": clients, "keys": keys,
           "receiver": receiver, "sponsor_id": sponsor_id}
    receiver.stop()
    db.dispose()
    job_context.reset()


def _a_sponsor(db, tenant_id) -> int:
    from sqlalchemy import select

    from services.models import Sponsor

    with db.session(tenant_id) as s:
        return s.scalar(select(Sponsor.id).order_by(Sponsor.id))


def _api(world, method, path, key="write", **kwargs):
    client = world["app"].test_client()
    return client.open(path, method=method, headers={"Authorization": f"Bearer {world['keys'][key]}"}, **kwargs)


def _create(world, key="write", **body):
    return _api(world, "POST", "/api/v1/webhooks", key, json={"url": world["receiver"].url, **body})


# ---- API ----------------------------------------------------------------------------------------------------------

def test_api_creates_lists_without_secret_and_deletes(world):
    created = _create(world, events=["campaign.created"], description="CRM")
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["secret"].startswith("whsec_") and isinstance(body["id"], int)
    listed = _api(world, "GET", "/api/v1/webhooks")
    assert listed.status_code == 200 and "whsec_" not in listed.get_data(as_text=True)
    (row,) = [r for r in listed.get_json()["data"] if r["id"] == body["id"]]
    assert row["events"] == ["campaign.created"] and row["description"] == "CRM" and row["enabled"]
    assert _api(world, "DELETE", f"/api/v1/webhooks/{body['id']}").status_code == 204
    assert _api(world, "GET", f"/api/v1/webhooks/{body['id']}/deliveries").status_code == 404


def test_api_lists_one_endpoints_deliveries(world):
    body = _create(world).get_json()
    world["receiver"].secret = body["secret"]
    on_event(world["db"], fake_event(world["demo"], event_id=9001))
    response = _api(world, "GET", f"/api/v1/webhooks/{body['id']}/deliveries", key="read")
    (delivery,) = response.get_json()["data"]
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1 and delivery["response_excerpt"] == "ok"
    assert delivery["event_type"] == "campaign.created" and delivery["latency_ms"] is not None
    _api(world, "DELETE", f"/api/v1/webhooks/{body['id']}")


def test_api_read_key_cannot_create_or_delete(world):
    assert _create(world, key="read").status_code == 403
    body = _create(world).get_json()
    assert _api(world, "DELETE", f"/api/v1/webhooks/{body['id']}", key="read").status_code == 403
    _api(world, "DELETE", f"/api/v1/webhooks/{body['id']}")


@pytest.mark.parametrize("payload,field", [
    ({"events": []}, "url"), ({"url": 5}, "url"), ({"url": "ftp://x.test/"}, "url"),
    ({"url": "http://127.0.0.1/", "events": "all"}, "events"),
    ({"url": "http://127.0.0.1/", "events": ["Not A Type", "campaign.created"]}, "events[0]"),
    ({"url": "http://127.0.0.1/", "description": "x" * 501}, "description"),
    ({"url": "http://127.0.0.1/", "secret": "mine"}, "secret"),
])
def test_api_bad_bodies_name_the_field(world, payload, field):
    response = _api(world, "POST", "/api/v1/webhooks", json=payload)
    assert response.status_code == 422 and field in response.get_json()["errors"], response.get_json()


def test_api_body_must_be_a_json_object(world):
    response = _api(world, "POST", "/api/v1/webhooks", data="url=x", content_type="text/plain")
    assert response.status_code == 400 and response.get_json()["errors"] == {"body": "not JSON"}
    response = _api(world, "POST", "/api/v1/webhooks", json=["https://example.com/hook"])
    assert response.status_code == 422 and response.get_json()["errors"] == {"body": "a JSON object"}


def test_api_refuses_private_addresses_when_not_allowed(world):
    state = world["app"].extensions["podcast_platform"]
    allowed = state.settings
    state.settings = dataclasses.replace(allowed, webhook_allow_private=False)
    try:
        for url in ("http://127.0.0.1:9/x", "http://localhost:9/x", "http://169.254.169.254/latest",
                    "http://10.0.0.8/"):
            response = _api(world, "POST", "/api/v1/webhooks", json={"url": url})
            assert response.status_code == 422 and "address" in response.get_json()["errors"]["url"]
    finally:
        state.settings = allowed


def test_another_tenants_key_never_sees_changes_or_triggers_the_endpoint(world):
    body = _create(world).get_json()
    world["receiver"].secret = body["secret"]
    seen = len(world["receiver"].requests)
    listed = _api(world, "GET", "/api/v1/webhooks", key="acme").get_json()["data"]
    assert body["id"] not in [row["id"] for row in listed]
    assert _api(world, "GET", f"/api/v1/webhooks/{body['id']}/deliveries", key="acme").status_code == 404
    assert _api(world, "DELETE", f"/api/v1/webhooks/{body['id']}", key="acme").status_code == 404
    on_event(world["db"], fake_event(world["acme"], event_id=9100))  # an event of the other tenant
    assert len(world["receiver"].requests) == seen
    assert body["id"] in [row["id"] for row in _api(world, "GET", "/api/v1/webhooks").get_json()["data"]]
    _api(world, "DELETE", f"/api/v1/webhooks/{body['id']}")


@pytest.mark.parametrize("scopes", [(), ("read", "write")])
def test_sponsor_contexts_are_refused(world, scopes):
    sponsor = TenantContext(world["demo"], "sponsor", sponsor_id=world["sponsor_id"], scopes=scopes)
    with pytest.raises(PermissionDenied):
        endpoints.list_endpoints(world["db"], sponsor)
    with pytest.raises(PermissionDenied):
        endpoints.create_endpoint(world["db"], sponsor, {"url": world["receiver"].url}, allow_private=True)


# ---- page ---------------------------------------------------------------------------------------------------------

def _demo_endpoints(world):
    return endpoints.list_endpoints(world["db"], TenantContext(world["demo"], "owner"))


def test_owner_adds_an_endpoint_sees_the_secret_once_tests_and_replays(world):
    client, receiver = world["clients"]["owner"], world["receiver"]
    status, out = manage(client, "create", url=receiver.url, events=["campaign.created"])
    assert status == 200
    secret = next(w for w in json.dumps(out["webhooks-secret"]["children"]).replace('"', " ").split()
                  if w.startswith("whsec_"))
    assert "whsec_" not in json.dumps(out["webhooks-table"]["children"]) and receiver.url in json.dumps(out)
    endpoint_id = max(e.id for e in _demo_endpoints(world))
    receiver.secret = secret
    seen = len(receiver.requests)
    status, out = manage(client, "webhooks-test", index=endpoint_id)
    assert status == 200 and "Test event sent" in json.dumps(out["webhooks-message"]["children"])
    assert receiver.requests[-1].verified and receiver.requests[-1].body["type"] == "webhook.test"
    status, out = show_log(client, endpoint_id)
    assert status == 200 and "webhook.test" in json.dumps(out["webhooks-log"]["children"])
    (delivery,) = deliveries.list_deliveries(world["db"], TenantContext(world["demo"], "owner"), endpoint_id)
    assert str(delivery.id) in json.dumps(out["webhooks-log"]["children"])  # its Replay button
    status, out = show_log(client, endpoint_id, replay=delivery.id)
    assert status == 200 and "Delivery replayed" in json.dumps(out["webhooks-log-message"]["children"])
    assert len(receiver.requests) == seen + 2 and receiver.requests[-1].message_id == receiver.requests[-2].message_id
    status, out = manage(client, "webhooks-disable", index=endpoint_id)
    assert "disabled" in json.dumps(out["webhooks-table"]["children"])
    assert not next(e for e in _demo_endpoints(world) if e.id == endpoint_id).enabled
    manage(client, "webhooks-delete", index=endpoint_id)
    assert endpoint_id not in [e.id for e in _demo_endpoints(world)]


@pytest.mark.parametrize("role,refusal", [("editor", "may not do this"), ("viewer", "may not do this"),
                                          ("sponsor", "sponsor users")])
def test_editors_viewers_and_sponsor_users_cannot_manage_or_see(world, role, refusal):
    body = _create(world).get_json()
    before = len(_demo_endpoints(world))
    status, out = manage(world["clients"][role], "create", url=world["receiver"].url)
    assert status == 200 and refusal in json.dumps(out["webhooks-message"]["children"])
    assert out["webhooks-table"]["children"] is None and len(_demo_endpoints(world)) == before
    status, out = show_log(world["clients"][role], body["id"])
    assert refusal in json.dumps(out["webhooks-log-message"]["children"]) and out["webhooks-log"]["children"] is None
    _api(world, "DELETE", f"/api/v1/webhooks/{body['id']}")


def test_another_tenants_owner_cannot_see_or_change_the_endpoints(world):
    body = _create(world).get_json()
    client = world["clients"]["other_tenant"]
    status, out = manage(client)
    assert status == 200 and world["receiver"].url not in json.dumps(out["webhooks-table"]["children"])
    for kind in ("webhooks-delete", "webhooks-disable", "webhooks-rotate", "webhooks-test"):
        status, out = manage(client, kind, index=body["id"])
        assert "no webhook endpoint" in json.dumps(out["webhooks-message"]["children"])
    status, out = show_log(client, body["id"])
    assert "no webhook endpoint" in json.dumps(out["webhooks-log-message"]["children"])
    still = next(e for e in _demo_endpoints(world) if e.id == body["id"])
    assert still.enabled and still.rotating_until is None
    _api(world, "DELETE", f"/api/v1/webhooks/{body['id']}")


def test_the_page_is_registered_for_admins(world):
    assert world["clients"]["admin"].get("/settings/webhooks").status_code == 200
    status, out = manage(world["clients"]["admin"])
    assert status == 200 and out["webhooks-message"]["children"] is None
