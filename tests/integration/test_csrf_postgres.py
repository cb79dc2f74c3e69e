"""Cross-site requests and security headers on PostgreSQL (the app role, row-level security on): a forged
cross-origin "Create key" post from either tenant's signed-in admin makes no key; the genuine post makes one that
only its own tenant sees; /metrics asks for METRICS_TOKEN; every answer carries the policy."""
from __future__ import annotations

import json

import pytest

from app import create_app
from services import accounts, api_keys, demo
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD, make_settings
from tests.dash_client import call_callback

pytestmark = pytest.mark.timeout(300)

PASSWORD = "password-123"
EVIL = "https://evil.example.com"
METRICS_TOKEN = "scrape-token-0123456789"
KEY_OUTPUTS = [("apikeys-table", "children"), ("apikeys-new-key", "children"), ("apikeys-message", "children")]


@pytest.fixture(scope="module")
def pg_world(seeded_pg_template, tmp_path_factory):
    from tests.integration.conftest import create_database, drop_database

    name, url = create_database(seeded_pg_template[0])  # the demo tenant already seeded
    server = create_app(make_settings(tmp_path_factory.mktemp("pg-csrf"), DATABASE_URL=url,
                                      METRICS_TOKEN=METRICS_TOKEN))
    server.config["TESTING"] = True
    db = server.extensions["podcast_platform"].db
    tenant_id = seeded_pg_template[1]["tenant_id"]
    acme = accounts.create_tenant(db, "acme", "Acme").id
    accounts.create_user(db, "owner@acme.test", "acme", "owner", password=PASSWORD)
    yield {"app": server, "db": db, "demo": tenant_id, "acme": acme}
    db.dispose()
    drop_database(name)


def signed_in(world, email: str, password: str, **headers):
    client = world["app"].test_client()
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    client.environ_base.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return client


def create_key(client, name: str):
    return call_callback(client, KEY_OUTPUTS, [("apikeys-create", "n_clicks", 1), []],
                         [("apikeys-name", "value", name), ("apikeys-scopes", "value", ["read"])],
                         ["apikeys-create.n_clicks"])


def key_names(world, tenant: str) -> set[str]:
    return {k.name for k in api_keys.list_api_keys(world["db"], TenantContext(world[tenant], "owner"))}


def test_forged_form_posts_make_nothing_and_genuine_ones_stay_in_their_tenant(pg_world):
    demo_owner = (demo.DEMO_EMAIL, DEMO_PASSWORD)
    acme_owner = ("owner@acme.test", PASSWORD)
    for (email, password), forged in ((demo_owner, "forged demo"), (acme_owner, "forged acme")):
        assert create_key(signed_in(pg_world, email, password, Origin=EVIL), forged) == (403, None)
        assert create_key(signed_in(pg_world, email, password, **{"Sec-Fetch-Site": "cross-site"}), forged) == \
            (403, None)
    assert not ({"forged demo", "forged acme"} & (key_names(pg_world, "demo") | key_names(pg_world, "acme")))

    status, out = create_key(signed_in(pg_world, *acme_owner, Origin="http://localhost"), "acme genuine")
    assert status == 200 and "pk_" in json.dumps(out["apikeys-new-key"]["children"])
    assert "acme genuine" in key_names(pg_world, "acme") and "acme genuine" not in key_names(pg_world, "demo")


def test_headers_and_the_metrics_token_on_postgresql(pg_world):
    client = pg_world["app"].test_client()
    page = signed_in(pg_world, demo.DEMO_EMAIL, DEMO_PASSWORD).get("/")
    policy = page.headers["Content-Security-Policy"]
    assert page.status_code == 200 and "script-src 'self' 'sha256-" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
