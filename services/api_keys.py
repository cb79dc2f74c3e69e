"""API keys: created per tenant, shown once, stored as a SHA-256 hash, revocable. A sponsor user's keys are
sponsor-scoped: they act as that sponsor user would, seeing only the sponsor's campaigns, delivery and attribution."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from services import audit, lookups
from services.db import Database
from services.errors import AuthenticationFailed, NotFound, ValidationError
from services.models import ApiKey, Tenant
from services.models.base import utcnow
from services.tenancy import TenantContext, require_role

KEY_PREFIX = "pk_"
SCOPES = ("read", "write")


@dataclass(frozen=True)
class ApiKeyInfo:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    sponsor_id: int | None = None


def _hash(plaintext: str) -> str:
    # Keys are 256-bit random, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _info(key: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(key.id, key.name, key.prefix, tuple(key.scopes), key.created_at, key.last_used_at, key.revoked_at,
                      key.sponsor_id)


def _may_manage(ctx: TenantContext) -> None:
    """Admins manage the tenant's keys; a sponsor user manages the keys of their own sponsor."""
    if not ctx.is_sponsor:
        require_role(ctx, "admin")


def _visible(stmt, ctx: TenantContext):
    stmt = stmt.where(ApiKey.tenant_id == ctx.tenant_id)
    return stmt.where(ApiKey.sponsor_id == ctx.sponsor_id) if ctx.is_sponsor else stmt


def create_api_key(db: Database, ctx: TenantContext, name: str = "",
                   scopes: tuple[str, ...] = ("read",)) -> tuple[ApiKeyInfo, str]:
    """Create a key for the context's tenant (a sponsor user's: scoped to their sponsor); the plaintext is returned
    once and never stored."""
    _may_manage(ctx)
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValidationError(f"scopes must be among {', '.join(SCOPES)}", {"scopes": f"unknown: {bad}"})
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    with db.session(ctx.tenant_id) as s:
        key = ApiKey(tenant_id=ctx.tenant_id, name=name.strip(), prefix=plaintext[:10], key_hash=_hash(plaintext),
                     scopes=list(scopes), created_by_user_id=ctx.user_id,
                     sponsor_id=ctx.sponsor_id if ctx.is_sponsor else None)
        s.add(key)
        s.flush()
        audit.record(s, ctx, "api_key.created", "api_key", key.id,
                     {"name": key.name, "scopes": list(scopes), "sponsor_id": key.sponsor_id})
        s.commit()
        return _info(key), plaintext


def list_api_keys(db: Database, ctx: TenantContext) -> list[ApiKeyInfo]:
    _may_manage(ctx)
    with db.session(ctx.tenant_id) as s:
        keys = s.scalars(_visible(select(ApiKey), ctx).order_by(ApiKey.id)).all()
        return [_info(k) for k in keys]


def revoke_api_key(db: Database, ctx: TenantContext, key_id: int) -> None:
    _may_manage(ctx)
    with db.session(ctx.tenant_id) as s:
        key = s.scalar(_visible(select(ApiKey), ctx).where(ApiKey.id == key_id))
        if key is None:
            raise NotFound(f"no API key {key_id}")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            audit.record(s, ctx, "api_key.revoked", "api_key", key.id)
        s.commit()


def authenticate_api_key(db: Database, plaintext: str) -> tuple[TenantContext, ApiKeyInfo]:
    """The tenant context a bearer key grants; AuthenticationFailed when unknown or revoked."""
    if not plaintext or not plaintext.startswith(KEY_PREFIX):
        raise AuthenticationFailed("missing or malformed API key")
    key_hash = _hash(plaintext)
    with db.session(bookkeeping=True) as s:  # last use: not a write the request reads back
        tenant_id = lookups.enter_tenant_of(s, "api_key", key_hash)  # the key names its tenant; then only that one
        if tenant_id is None:
            raise AuthenticationFailed("unknown or revoked API key")
        row = s.execute(select(ApiKey, Tenant).join(Tenant, Tenant.id == ApiKey.tenant_id)
                        .where(ApiKey.key_hash == key_hash, ApiKey.tenant_id == tenant_id)).first()
        if row is None or row.ApiKey.revoked_at is not None:
            raise AuthenticationFailed("unknown or revoked API key")
        key, tenant = row
        key.last_used_at = utcnow()
        s.commit()
        role = "sponsor" if key.sponsor_id is not None else "editor" if "write" in key.scopes else "viewer"
        ctx = TenantContext(tenant_id=tenant.id, role=role, sponsor_id=key.sponsor_id, tenant_slug=tenant.slug,
                            tenant_name=tenant.name, scopes=tuple(key.scopes))
        return ctx, _info(key)
