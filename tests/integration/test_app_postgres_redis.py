"""The whole app on PostgreSQL and Redis: readiness, login, the overview callback, and API keys across tenants."""
from __future__ import annotations

import pytest

from app import create_app
from services import accounts, api_keys, demo
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD, make_settings
from tests.dash_client import call_overview


@pytest.fixture
def pg_app(seeded_pg, redis_url, tmp_path):
    pg_url = seeded_pg[0]  # the demo tenant already seeded
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url, REDIS_URL=redis_url))
    state = server.extensions["podcast_platform"]
    yield server
    state.db.dispose()


def test_readyz_checks_database_and_redis(pg_app):
    response = pg_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_metrics_read_the_ingest_buffer_and_the_deliveries_on_postgres(pg_app, redis_url):
    import redis
    from prometheus_client.parser import text_string_to_metric_families

    from services.measurement.ingest import BUFFER_KEY

    client = redis.Redis.from_url(redis_url)
    client.delete(BUFFER_KEY)
    client.rpush(BUFFER_KEY, "a", "b", "c")
    try:
        text = pg_app.test_client().get("/metrics").get_data(as_text=True)
    finally:
        client.delete(BUFFER_KEY)
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}
    assert samples["ingest_buffer_hits"] == 3
    assert samples["counting_lag_seconds"] >= 0
    assert "# TYPE webhook_deliveries gauge" in text and "# TYPE emails gauge" in text


def test_readyz_names_a_failing_redis(pg_url, tmp_path):
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url, REDIS_URL="redis://127.0.0.1:1/0"))
    try:
        body = server.test_client().get("/readyz")
        assert body.status_code == 503 and body.get_json()["failing"] == ["redis"]
    finally:
        server.extensions["podcast_platform"].db.dispose()


def test_login_and_overview_on_postgres(pg_app):
    client = pg_app.test_client()
    assert client.get("/_dash-layout").status_code == 401
    assert client.post("/login", data={"email": demo.DEMO_EMAIL, "password": DEMO_PASSWORD}).status_code == 302
    status, out = call_overview(client, 30)
    assert status == 200
    traces = out["overview-downloads-chart"]["figure"]["data"]
    # Downloads, the comparison period and the releases; the demo's own anomalies (they depend on the hour it was
    # seeded) add an "Anomaly" marker trace on some runs.
    assert len([t for t in traces if t.get("name") != "Anomaly"]) == 3 and traces[0]["name"] == "Downloads"


def test_api_keys_never_cross_tenants(pg_app):
    db = pg_app.extensions["podcast_platform"].db
    acme = accounts.create_tenant(db, "acme", "Acme")
    _, acme_key = api_keys.create_api_key(db, TenantContext(tenant_id=acme.id, role="owner"), "acme")
    demo_tenant = accounts.get_tenant_by_slug(db, "demo")
    _, demo_key = api_keys.create_api_key(db, TenantContext(tenant_id=demo_tenant.id, role="owner"), "demo")
    client = pg_app.test_client()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {acme_key}"}).get_json()
    assert me["tenant"]["slug"] == "acme"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {demo_key}"}).get_json()["tenant"]["slug"] == "demo"
    assert [k.name for k in api_keys.list_api_keys(db, TenantContext(tenant_id=acme.id, role="owner"))] == ["acme"]
