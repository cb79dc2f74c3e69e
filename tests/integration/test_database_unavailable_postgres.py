"""PostgreSQL goes away under a running app and comes back: pages, dashboard callbacks and the REST API answer a
clear 503 "data temporarily unavailable" (Retry-After, X-Data-Unavailable) instead of a raw 500 while it is away,
and the same client is answered normally again once it is back, with no restart. The database is taken away by a
TCP relay between the app and the real server (tests/tcp_relay.py): refused connections, dropped sessions."""
from __future__ import annotations

import pytest

from app import create_app
from services import accounts, api_keys, migrate
from services.db import Database
from services.tenancy import TenantContext
from tests.conftest import make_settings
from tests.dash_client import call_overview
from tests.integration.conftest import create_database, drop_database
from tests.tcp_relay import close_app, relayed

PASSWORD = "unavailable-password-1"


@pytest.fixture(scope="module")
def away(tmp_path_factory, postgres_available, redis_url):
    name, url = create_database()
    migrate.upgrade(url)
    owner = Database(url, "podcast_app")
    tenant = accounts.create_tenant(owner, "relay", "Relay")
    accounts.create_user(owner, "owner@relay.test", "relay", "owner", password=PASSWORD)
    _, key = api_keys.create_api_key(owner, TenantContext(tenant.id, "owner"), "relay")
    owner.dispose()
    try:
        with relayed(url) as (relay, through):
            settings = make_settings(tmp_path_factory.mktemp("away"), DATABASE_URL=through, REDIS_URL=redis_url)
            server = create_app(settings)
            client = server.test_client()
            assert client.post("/login", data={"email": "owner@relay.test", "password": PASSWORD}).status_code == 302
            try:
                yield {"server": server, "client": client, "relay": relay, "key": key}
            finally:
                close_app(server)
    finally:
        drop_database(name)


def _api(client, key):
    return client.get("/api/v1/podcasts", headers={"Authorization": f"Bearer {key}"})


def test_away_and_back_without_a_restart(away):
    client, relay = away["client"], away["relay"]
    assert client.get("/").status_code == 200
    assert call_overview(client, 30)[0] == 200
    assert _api(client, away["key"]).status_code == 200

    relay.stop()
    try:
        page = client.get("/")
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "5" and page.headers["X-Data-Unavailable"] == "1"
        body = page.get_data(as_text=True)
        assert "Data temporarily unavailable" in body and 'http-equiv="refresh"' in body

        callback = client.post("/_dash-update-component", json={"output": "overview-downloads-chart.figure",
                                                                "outputs": {"id": "overview-downloads-chart",
                                                                            "property": "figure"},
                                                                "inputs": [], "state": [], "changedPropIds": []})
        assert callback.status_code == 503 and callback.headers["X-Data-Unavailable"] == "1"
        assert callback.get_json()["error"] == "data temporarily unavailable"

        api = _api(client, away["key"])
        assert api.status_code == 503 and api.content_type == "application/problem+json"
        assert api.get_json()["title"] == "ServiceUnavailable" and api.headers["Retry-After"] == "5"

        ready = client.get("/readyz")  # what assets/unavailable.js polls before reloading the page
        assert ready.status_code == 503 and ready.get_json()["checks"]["database"] != "ok"
    finally:
        relay.start()

    assert client.get("/readyz").get_json()["checks"]["database"] == "ok"
    assert client.get("/").status_code == 200  # the same signed-in client: its session outlived the outage
    assert call_overview(client, 30)[0] == 200
    assert _api(client, away["key"]).status_code == 200

