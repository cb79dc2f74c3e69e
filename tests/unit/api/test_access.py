"""Who reaches what through /api: rate limits per key and per IP (429 problems with Retry-After and RateLimit-*),
sponsor-scoped keys that stay inside their sponsor, and another tenant's key answered 404 on every id route."""
import shutil

import pytest
from flask import Flask
from sqlalchemy import select

from api.ratelimit import init_rate_limits, limit_by_ip
from api.state import init_state
from app import create_app
from jobs import context as job_context
from services import accounts, api_keys
from services.errors import PermissionDenied
from services.models import Campaign
from services.tenancy import TenantContext
from tests.api_world import demo_ids, fill, id_operations, sponsor_key, tenant_key
from tests.conftest import make_settings

PROBLEM = "application/problem+json"


@pytest.fixture
def limited_app(tmp_path, seeded_sqlite):
    shutil.copy(seeded_sqlite, tmp_path / "podcast.db")
    server = create_app(make_settings(tmp_path, API_RATE_LIMIT="3/minute", API_ANON_RATE_LIMIT="2/minute"))
    server.config["TESTING"] = True
    yield server
    server.extensions["podcast_platform"].db.dispose()
    job_context.reset()


def test_keys_are_limited_each_on_its_own(limited_app):
    db, client = limited_app.extensions["podcast_platform"].db, limited_app.test_client()
    first, second = tenant_key(db, "demo"), tenant_key(db, "demo")
    answers = [client.get("/api/v1/me", headers=first) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3" and answers[0].headers["RateLimit-Remaining"] == "2"
    over = answers[-1]
    assert over.content_type == PROBLEM and over.get_json()["status"] == 429
    assert 0 < int(over.headers["Retry-After"]) <= 60 and over.headers["RateLimit-Remaining"] == "0"
    assert client.get("/api/v1/me", headers=second).status_code == 200  # another key has its own budget


def test_requests_without_a_key_are_limited_per_ip(limited_app):
    client = limited_app.test_client()
    here = [client.get("/api/v1/openapi.json").status_code, client.get("/api/v1/podcasts").status_code,
            client.get("/api/docs").status_code]
    assert here == [200, 401, 429]
    elsewhere = client.get("/api/v1/openapi.json", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert elsewhere.status_code == 200 and elsewhere.headers["RateLimit-Limit"] == "2"


def test_limit_by_ip_is_a_hook_for_other_routes(tmp_path):
    server = Flask(__name__)
    settings = make_settings(tmp_path)
    init_state(server, settings, db=None)
    init_rate_limits(server, settings, [])

    @server.post("/login-form")
    @limit_by_ip("1/minute")
    def login_form():
        return "ok"

    client = server.test_client()
    assert [client.post("/login-form").status_code for _ in range(2)] == [200, 429]


@pytest.fixture
def sponsors_world(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        rows = s.execute(select(Campaign.id, Campaign.sponsor_id).where(Campaign.tenant_id == tenant.id)).all()
    mine = rows[0].sponsor_id
    return {"tenant": tenant, "mine": mine, "own": {r.id for r in rows if r.sponsor_id == mine},
            "others": {r.id for r in rows if r.sponsor_id != mine}}


def test_a_sponsor_user_makes_keys_of_its_own_sponsor(db, sponsors_world):
    tenant, mine = sponsors_world["tenant"], sponsors_world["mine"]
    ctx = TenantContext(tenant.id, "sponsor", sponsor_id=mine)
    info, _ = api_keys.create_api_key(db, ctx, "my reports")
    assert info.sponsor_id == mine
    api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "staff key")
    assert [k.id for k in api_keys.list_api_keys(db, ctx)] == [info.id]  # not the tenant's other keys
    other = TenantContext(tenant.id, "sponsor", sponsor_id=mine + 1000)
    with pytest.raises(Exception, match="no API key"):
        api_keys.revoke_api_key(db, other, info.id)
    with pytest.raises(PermissionDenied):
        api_keys.create_api_key(db, TenantContext(tenant.id, "viewer"), "not mine to make")


def test_a_sponsor_key_sees_only_its_sponsor(client, db, sponsors_world):
    own, others, mine = sponsors_world["own"], sponsors_world["others"], sponsors_world["mine"]
    assert own and others
    key = sponsor_key(db, "demo", mine, ("read", "write"))
    me = client.get("/api/v1/me", headers=key).get_json()
    assert me["key"]["sponsor_id"] == mine
    assert {c["id"] for c in client.get("/api/v1/campaigns", headers=key).get_json()["data"]} == own
    assert [s["id"] for s in client.get("/api/v1/sponsors", headers=key).get_json()["data"]] == [mine]
    campaign_id = min(own)
    for suffix in ("", "/delivery", "/attribution"):
        assert client.get(f"/api/v1/campaigns/{campaign_id}{suffix}", headers=key).status_code == 200, suffix
    for campaign_id in others:
        for suffix in ("", "/delivery", "/attribution"):
            assert client.get(f"/api/v1/campaigns/{campaign_id}{suffix}", headers=key).status_code == 404
    other_sponsor = next(iter({s["id"] for s in client.get("/api/v1/sponsors", headers=tenant_key(db, "demo"))
                               .get_json()["data"]} - {mine}))
    assert client.get(f"/api/v1/sponsors/{other_sponsor}", headers=key).status_code == 404
    ids = demo_ids(db)
    tenant_wide = [("GET", "/api/v1/podcasts"), ("GET", "/api/v1/episodes"), ("GET", "/api/v1/downloads"),
                   ("GET", "/api/v1/anomalies"), ("GET", "/api/v1/webhooks"), ("POST", "/api/v1/sponsors"),
                   ("POST", "/api/v1/campaigns"), ("POST", "/api/v1/webhooks"),
                   ("PATCH", f"/api/v1/campaigns/{min(own)}"), ("POST", f"/api/v1/sponsors/{mine}/conversions"),
                   ("GET", fill("/api/v1/podcasts/{podcast_id}/forecast", ids)),
                   ("GET", f"/api/v1/campaigns/{min(own)}/recommendations"), ("GET", "/api/v1/exports/episodes.csv")]
    for method, url in tenant_wide:
        response = client.open(url, method=method, json={}, headers=key)
        assert response.status_code == 403 and response.content_type == PROBLEM, (method, url)


def test_another_tenants_key_gets_404_for_every_id_route(client, db):
    accounts.create_tenant(db, "acme", "Acme")
    acme, ids = tenant_key(db, "acme", ("read", "write")), demo_ids(db)
    ops = [op for op in id_operations() if "{name}" not in op.path]
    assert len(ops) >= 12
    for op in ops:
        response = client.open(fill(op.path, ids), method=op.method, json={}, headers=acme)
        assert (response.status_code, response.content_type) == (404, PROBLEM), (op.method, op.path)
    demo_key = tenant_key(db, "demo", ("read", "write"))
    for op in ops:  # the same ids with the owner's key reach the resource: the 404 above is the wall, not a typo
        if op.method == "GET":
            assert client.get(fill(op.path, ids), headers=demo_key).status_code == 200, op.path
