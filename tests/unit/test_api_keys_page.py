"""The API keys page: an admin creates a key (shown once) and revokes it; a viewer cannot; a sponsor user makes
keys of their own sponsor only."""
import json

from services import accounts, api_keys
from services.tenancy import TenantContext
from tests.dash_client import call_callback

OUTPUTS = [("apikeys-table", "children"), ("apikeys-new-key", "children"), ("apikeys-message", "children")]


def _call(client, create_clicks=None, revoke=(), name="reporting", scopes=("read",), changed=None):
    revoke_inputs = [({"type": "apikeys-revoke", "index": key_id}, "n_clicks", clicks) for key_id, clicks in revoke]
    return call_callback(client, OUTPUTS,
                         [("apikeys-create", "n_clicks", create_clicks), revoke_inputs],
                         [("apikeys-name", "value", name), ("apikeys-scopes", "value", list(scopes))], changed)


def test_admin_creates_sees_once_and_revokes(demo_client, db):
    status, out = _call(demo_client, create_clicks=1, changed=["apikeys-create.n_clicks"])
    assert status == 200
    shown = json.dumps(out["apikeys-new-key"]["children"])
    key = next(word for word in shown.replace('"', " ").split() if word.startswith("pk_"))
    ctx, info = api_keys.authenticate_api_key(db, key)
    assert ctx.tenant_slug == "demo" and info.name == "reporting"
    assert key not in json.dumps(out["apikeys-table"]["children"])  # the list shows only the prefix

    status, out = _call(demo_client, revoke=[(info.id, 1)],
                        changed=[json.dumps({"index": info.id, "type": "apikeys-revoke"}, separators=(",", ":"))
                                 + ".n_clicks"])
    assert status == 200 and "revoked" in json.dumps(out["apikeys-table"]["children"])
    assert api_keys.list_api_keys(db, TenantContext(ctx.tenant_id, "owner"))[0].revoked_at is not None


def test_viewer_gets_a_message_not_keys(app, db):
    accounts.create_user(db, "viewer@demo.test", "demo", "viewer", password="password-1")
    client = app.test_client()
    client.post("/login", data={"email": "viewer@demo.test", "password": "password-1"})
    status, out = _call(client, create_clicks=1, changed=["apikeys-create.n_clicks"])
    assert status == 200
    assert "may not do this" in json.dumps(out["apikeys-message"]["children"])
    tenant = accounts.get_tenant_by_slug(db, "demo")
    assert api_keys.list_api_keys(db, TenantContext(tenant.id, "owner")) == []


def test_another_tenants_admin_cannot_revoke_demo_keys(app, db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    info, _ = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "demo key")
    accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "admin@acme.test", "acme", "admin", password="password-1")
    client = app.test_client()
    client.post("/login", data={"email": "admin@acme.test", "password": "password-1"})
    status, out = _call(client, revoke=[(info.id, 1)],
                        changed=[json.dumps({"index": info.id, "type": "apikeys-revoke"}, separators=(",", ":"))
                                 + ".n_clicks"])
    assert status == 200 and "no API key" in json.dumps(out["apikeys-message"]["children"])
    assert api_keys.list_api_keys(db, TenantContext(tenant.id, "owner"))[0].revoked_at is None


def test_anonymous_callback_is_refused(client):
    status, _ = _call(client, create_clicks=1, changed=["apikeys-create.n_clicks"])
    assert status == 401


def test_a_sponsor_user_creates_a_key_that_sees_only_its_sponsor(app, db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    staff_key, _ = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "staff key")
    sponsor_id = api_keys_sponsor(db, tenant.id)
    accounts.create_user(db, "buyer@sponsor.test", "demo", "sponsor", sponsor_id=sponsor_id, password="password-1")
    client = app.test_client()
    client.post("/login", data={"email": "buyer@sponsor.test", "password": "password-1"})
    status, out = _call(client, create_clicks=1, changed=["apikeys-create.n_clicks"])
    assert status == 200
    listed = json.dumps(out["apikeys-table"]["children"])
    assert "reporting" in listed and "staff key" not in listed  # the tenant's other keys stay hidden
    key = next(word for word in json.dumps(out["apikeys-new-key"]["children"]).replace('"', " ").split()
               if word.startswith("pk_"))
    ctx, info = api_keys.authenticate_api_key(db, key)
    assert (ctx.role, ctx.sponsor_id, info.sponsor_id) == ("sponsor", sponsor_id, sponsor_id)
    assert client.get("/settings/api-keys").status_code == 200


def api_keys_sponsor(db, tenant_id):
    from services.sponsorship import sponsors
    return sponsors.list_sponsors(db, TenantContext(tenant_id, "owner"))[0].id
