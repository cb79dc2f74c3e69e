"""One app on a copy of the demo database for the embeds tests: the demo tenant (owner, viewer, two sponsors'
users), a second tenant, API keys, and logged-in clients."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services import api_keys
from services.models import Campaign, Podcast
from services.tenancy import TenantContext
from tests.worlds import demo_world


@pytest.fixture(scope="package")
def world(tmp_path_factory, seeded_sqlite):
    roles = ("owner", "viewer", "sponsor_own", "sponsor_other", "other_tenant")
    with demo_world(tmp_path_factory, seeded_sqlite, "embeds", roles) as w:
        db = w["db"]
        with db.session(w["demo"]) as s:
            campaigns = dict(s.execute(select(Campaign.name, Campaign.id)).all())
            podcasts = list(s.scalars(select(Podcast.id).order_by(Podcast.id)).all())
        clients = {name: w["clients"][role] for name, role in (("owner", "owner"), ("viewer", "viewer"),
                   ("coffee", "sponsor_own"), ("vpn", "sponsor_other"), ("acme", "other_tenant"))}
        keys = {}
        for name, tenant_id in (("demo", w["demo"]), ("acme", w["acme"])):
            for scope in ("read", "write"):
                scopes = ("read", "write") if scope == "write" else ("read",)
                keys[f"{name}_{scope}"] = api_keys.create_api_key(db, TenantContext(tenant_id, "owner"), scope,
                                                                  scopes)[1]
        yield {**w, "campaigns": campaigns, "podcasts": podcasts, "clients": clients, "keys": keys}


def owner(world) -> TenantContext:
    return TenantContext(world["demo"], "owner", user_id=None)


def sponsor_ctx(world, sponsor: str) -> TenantContext:
    return TenantContext(world["demo"], "sponsor", sponsor_id=world["sponsors"][sponsor])


def bearer(world, key: str) -> dict:
    return {"Authorization": f"Bearer {world['keys'][key]}"}
