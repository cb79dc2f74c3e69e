"""Keys and ids for the API's tests on either database: the demo tenant's keys (read, write, sponsor-scoped), another
tenant's key, and a real id of the demo tenant for every path parameter of the document."""
from __future__ import annotations

from sqlalchemy import select

from api.spec import OPERATIONS
from services import accounts, api_keys
from services.models import Campaign, Episode, Podcast, Sponsor
from services.models import WebhookEndpoint
from services.tenancy import TenantContext


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def tenant_key(db, slug: str, scopes=("read",)) -> dict:
    tenant = accounts.get_tenant_by_slug(db, slug)
    _, key = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), f"{slug} {'+'.join(scopes)}", scopes)
    return bearer(key)


def sponsor_key(db, slug: str, sponsor_id: int, scopes=("read",)) -> dict:
    tenant = accounts.get_tenant_by_slug(db, slug)
    ctx = TenantContext(tenant.id, "sponsor", sponsor_id=sponsor_id)
    _, key = api_keys.create_api_key(db, ctx, "sponsor key", scopes)
    return bearer(key)


def demo_ids(db) -> dict[str, int]:
    """A real id of the demo tenant for each path parameter name the document uses."""
    tenant = accounts.get_tenant_by_slug(db, "demo")
    ctx = TenantContext(tenant.id, "owner")
    from services.notify.webhooks import endpoints
    with db.session(tenant.id) as s:
        ids = {"campaign_id": s.scalar(select(Campaign.id).where(Campaign.tenant_id == tenant.id).order_by(Campaign.id)),
               "sponsor_id": s.scalar(select(Sponsor.id).where(Sponsor.tenant_id == tenant.id).order_by(Sponsor.id)),
               "podcast_id": s.scalar(select(Podcast.id).where(Podcast.tenant_id == tenant.id).order_by(Podcast.id)),
               "episode_id": s.scalar(select(Episode.id).where(Episode.tenant_id == tenant.id).order_by(Episode.id)),
               "endpoint_id": s.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.tenant_id == tenant.id))}
    if ids["endpoint_id"] is None:
        row, _ = endpoints.create_endpoint(db, ctx, {"url": "https://hooks.example.com/x"}, allow_private=True,
                                           resolver=lambda host, port: ["93.184.216.34"])
        ids["endpoint_id"] = row.id
    return ids


def id_operations():
    """Every documented operation that takes an id in its path."""
    return [op for op in OPERATIONS if op.path_params]


def fill(path: str, ids: dict[str, int]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    return path
