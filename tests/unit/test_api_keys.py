"""API keys: shown once, stored hashed, revocable, scoped to one tenant; /api/v1/me."""
import pytest
from sqlalchemy import select

from services import accounts, api_keys
from services.errors import AuthenticationFailed, PermissionDenied, ValidationError
from services.models import ApiKey, AuditLog
from services.tenancy import TenantContext


def _owner(db, slug):
    tenant = accounts.get_tenant_by_slug(db, slug)
    return TenantContext(tenant_id=tenant.id, role="owner", tenant_slug=slug)


def test_key_is_stored_hashed_and_authenticates(db):
    ctx = _owner(db, "demo")
    info, plaintext = api_keys.create_api_key(db, ctx, "reporting", ("read", "write"))
    with db.session(ctx.tenant_id) as s:
        stored = s.scalar(select(ApiKey).where(ApiKey.id == info.id))
        assert plaintext not in (stored.key_hash, stored.prefix) and plaintext.startswith(stored.prefix)
        assert s.scalar(select(AuditLog.action).where(AuditLog.entity_type == "api_key",
                                                      AuditLog.entity_id == info.id)) == "api_key.created"
    key_ctx, key = api_keys.authenticate_api_key(db, plaintext)
    assert (key_ctx.tenant_id, key_ctx.scopes, key.name) == (ctx.tenant_id, ("read", "write"), "reporting")


def test_revoked_and_unknown_keys_fail(db):
    ctx = _owner(db, "demo")
    info, plaintext = api_keys.create_api_key(db, ctx, "old")
    api_keys.revoke_api_key(db, ctx, info.id)
    for token in (plaintext, "pk_unknown", "", "Basic abc"):
        with pytest.raises(AuthenticationFailed):
            api_keys.authenticate_api_key(db, token)


def test_only_admins_manage_keys_and_scopes_are_checked(db):
    ctx = _owner(db, "demo")
    for role in ("editor", "viewer"):
        with pytest.raises(PermissionDenied):
            api_keys.create_api_key(db, TenantContext(ctx.tenant_id, role))
    with pytest.raises(ValidationError):
        api_keys.create_api_key(db, ctx, "x", ("admin",))


def test_another_tenant_cannot_revoke_or_list(db):
    demo_ctx = _owner(db, "demo")
    info, _ = api_keys.create_api_key(db, demo_ctx, "demo key")
    accounts.create_tenant(db, "acme", "Acme")
    acme_ctx = _owner(db, "acme")
    assert api_keys.list_api_keys(db, acme_ctx) == []
    with pytest.raises(Exception, match="no API key"):
        api_keys.revoke_api_key(db, acme_ctx, info.id)
    assert api_keys.list_api_keys(db, demo_ctx)[0].revoked_at is None


def test_me_endpoint(client, db):
    info, plaintext = api_keys.create_api_key(db, _owner(db, "demo"), "me test")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["tenant"]["slug"] == "demo" and body["scopes"] == ["read"] and body["key"]["id"] == info.id


@pytest.mark.parametrize("header", [None, "Bearer pk_nope", "Bearer ", "Token abc"])
def test_me_rejects_bad_keys_with_json(client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.get_json()["status"] == 401 and response.get_json()["detail"]


def test_me_rejects_revoked_key(client, db):
    ctx = _owner(db, "demo")
    info, plaintext = api_keys.create_api_key(db, ctx, "soon revoked")
    api_keys.revoke_api_key(db, ctx, info.id)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 401
