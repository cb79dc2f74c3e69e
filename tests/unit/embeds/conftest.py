"""One app on a copy of the demo database for the embeds tests: the demo tenant (owner, viewer, two sponsors'
users), a second tenant, API keys, and logged-in clients."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from jobs import context as job_context
from services import accounts, api_keys
from services.models import Campaign, Podcast, Sponsor
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD, make_settings

PASSWORD = "password-123"


@pytest.fixture(scope="package")
def world(tmp_path_factory, seeded_sqlite):
    from app import create_app

    instance = tmp_path_factory.mktemp("embeds")
    shutil.copy(seeded_sqlite, instance / "podcast.db")
    server = create_app(make_settings(instance))
    server.config["TESTING"] = True
    db = server.extensions["podcast_platform"].db
    demo = accounts.get_tenant_by_slug(db, "demo")
    with db.session(demo.id) as s:
        sponsors = dict(s.execute(select(Sponsor.name, Sponsor.id)).all())
        campaigns = dict(s.execute(select(Campaign.name, Campaign.id)).all())
        podcasts = list(s.scalars(select(Podcast.id).order_by(Podcast.id)).all())
    acme = accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "viewer@demo.test", "demo", "viewer", password=PASSWORD)
    accounts.create_user(db, "coffee@demo.test", "demo", "sponsor", password=PASSWORD,
                         sponsor_id=sponsors["Northwind Coffee"])
    accounts.create_user(db, "vpn@demo.test", "demo", "sponsor", password=PASSWORD, sponsor_id=sponsors["Lumen VPN"])
    accounts.create_user(db, "owner@acme.test", "acme", "owner", password=PASSWORD)
    logins = {"owner": ("demo@example.com", DEMO_PASSWORD), "viewer": ("viewer@demo.test", PASSWORD),
              "coffee": ("coffee@demo.test", PASSWORD), "vpn": ("vpn@demo.test", PASSWORD),
              "acme": ("owner@acme.test", PASSWORD)}
    clients = {}
    for name, (email, password) in logins.items():
        client = server.test_client()
        assert client.post("/login", data={"email": email, "password": password}).status_code == 302
        clients[name] = client
    keys = {}
    for name, tenant_id in (("demo", demo.id), ("acme", acme.id)):
        for scope in ("read", "write"):
            scopes = ("read", "write") if scope == "write" else ("read",)
            keys[f"{name}_{scope}"] = api_keys.create_api_key(db, TenantContext(tenant_id, "owner"), scope,
                                                              scopes)[1]
    yield {"app": server, "db": db, "settings": server.extensions["podcast_platform"].settings, "demo": demo.id,
           "acme": acme.id, "sponsors": sponsors, "campaigns": campaigns, "podcasts": podcasts, "clients": clients,
           "keys": keys}
    db.dispose()
    job_context.reset()


def owner(world) -> TenantContext:
    return TenantContext(world["demo"], "owner", user_id=None)


def sponsor_ctx(world, sponsor: str) -> TenantContext:
    return TenantContext(world["demo"], "sponsor", sponsor_id=world["sponsors"][sponsor])


def bearer(world, key: str) -> dict:
    return {"Authorization": f"Bearer {world['keys'][key]}"}
