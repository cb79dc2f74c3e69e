"""The audit log on PostgreSQL: sign-ins and failures are written to each of the user's tenants, and the owners' view
lists only their own tenant's entries, through the page's callback and the service."""
from __future__ import annotations

import pytest

from app import create_app
from services import accounts, audit
from services.tenancy import TenantContext
from tests.conftest import make_settings
from tests.dash_client import call_callback

PASSWORD = "password-123"
OUTPUTS = [("audit-table", "children"), ("audit-count", "children"), ("audit-message", "children"),
           ("audit-family", "options")]


@pytest.fixture
def app_pg(pg_url, tmp_path):
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url))
    db = server.extensions["podcast_platform"].db
    for slug in ("alpha", "beta"):
        accounts.create_tenant(db, slug, slug.title())
        accounts.create_user(db, f"owner@{slug}.test", slug, "owner", password=PASSWORD)
    yield server, db
    db.dispose()


def _login(server, email, password=PASSWORD, expect=302):
    client = server.test_client()
    assert client.post("/login", data={"email": email, "password": password}).status_code == expect
    return client


def test_each_owner_sees_only_their_tenants_sign_ins(app_pg):
    server, db = app_pg
    _login(server, "owner@beta.test", "wrong-password", expect=401)
    alpha, beta = _login(server, "owner@alpha.test"), _login(server, "owner@beta.test")
    tenants = {t: accounts.get_tenant_by_slug(db, t).id for t in ("alpha", "beta")}
    frames = {t: audit.entries(db, TenantContext(tid, "owner")) for t, tid in tenants.items()}
    assert set(frames["alpha"]["who"]) == {"owner@alpha.test"}
    assert list(frames["beta"]["action"]) == ["login.succeeded", "login.failed"]
    assert set(frames["beta"]["who"]) == {"owner@beta.test"}
    status, out = call_callback(alpha, OUTPUTS, [("audit-family", "value", None), ("audit-who", "value", "beta"),
                                                 ("audit-start", "value", None),
                                                 ("audit-end", "value", None)])
    assert status == 200 and out["audit-count"]["children"] == "0 entries"
    status, out = call_callback(beta, OUTPUTS, [("audit-family", "value", "login"), ("audit-who", "value", None),
                                                ("audit-start", "value", None),
                                                ("audit-end", "value", None)])
    assert status == 200 and out["audit-count"]["children"] == "2 entries"
