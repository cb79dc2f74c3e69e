"""Embeds on PostgreSQL: the embeds table carries the forced tenant policy; through the API and the public
/embed/<token> route (the app role, row-level security on), one tenant never sees, revokes or draws another's
embeds or data, a sponsor's embed reads as that sponsor, and views count under the policy."""
from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from api.framing import frame_ancestors_of
from app import create_app
from services import accounts, api_keys
from services.dashboards import overview
from services.sharing import store
from services.sharing.filters import view_state
from services.models import Campaign, Embed, Podcast, Sponsor
from services.errors import NotFound
from services.models.base import utcnow
from services.tenancy import TenantContext
from tests.conftest import make_settings
from tests.unit.embeds.helpers import bars

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def pg_world(seeded_pg_template, tmp_path_factory):
    from tests.integration.conftest import create_database, drop_database

    name, url = create_database(seeded_pg_template[0])  # the demo tenant already seeded
    server = create_app(make_settings(tmp_path_factory.mktemp("pg-embeds"), DATABASE_URL=url))
    server.config["TESTING"] = True
    db = server.extensions["podcast_platform"].db
    tenant_id = seeded_pg_template[1]["tenant_id"]
    acme = accounts.create_tenant(db, "acme", "Acme").id
    with db.session(tenant_id) as s:
        podcasts = list(s.scalars(select(Podcast.id).order_by(Podcast.id)).all())
        sponsors = dict(s.execute(select(Sponsor.name, Sponsor.id)).all())
        campaigns = dict(s.execute(select(Campaign.name, Campaign.id)).all())
    keys = {f"{name}_write": api_keys.create_api_key(db, TenantContext(tid, "owner"), "w", ("read", "write"))[1]
            for name, tid in (("demo", tenant_id), ("acme", acme))}
    yield {"app": server, "db": db, "url": url, "demo": tenant_id, "acme": acme, "podcasts": podcasts,
           "sponsors": sponsors, "campaigns": campaigns, "keys": keys}
    db.dispose()
    drop_database(name)


def _auth(world, name: str) -> dict:
    return {"Authorization": f"Bearer {world['keys'][name]}"}


def test_embeds_table_has_a_forced_tenant_policy(pg_world):
    db, url = pg_world["db"], pg_world["url"]
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        forced = conn.execute("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class "
                              "WHERE relname = 'embeds'").fetchone()[0]
        grants = {row[0] for row in conn.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants WHERE table_name = 'embeds' "
            "AND grantee = 'podcast_app'")}
    assert forced and {"SELECT", "INSERT", "UPDATE", "DELETE"} <= grants
    store.create_embed(db, TenantContext(pg_world["demo"], "owner"), {"chart": "top_apps"})
    with db.session(pg_world["acme"]) as s:  # no WHERE: the policy alone hides the demo's rows
        assert s.execute(text("SELECT count(*) FROM embeds")).scalar() == 0
        s.add(Embed(tenant_id=pg_world["demo"], chart="top_apps", filters={}, theme="light", title="",
                    allowed_origins=[], views=0, created_at=utcnow()))
        with pytest.raises(ProgrammingError, match="row-level security"):
            s.commit()
    with db.session(pg_world["demo"]) as s:
        assert s.execute(text("SELECT count(*) FROM embeds")).scalar() >= 1


def test_api_and_embed_route_keep_tenants_apart(pg_world):
    client, db = pg_world["app"].test_client(), pg_world["db"]
    podcast = pg_world["podcasts"][0]
    created = client.post("/api/v1/embeds", headers=_auth(pg_world, "demo_write"), json={
        "chart": "top_countries", "filters": {"podcast": podcast, "period": "last_90_days"},
        "allowed_origins": ["http://127.0.0.1:8123"]})
    assert created.status_code == 201, created.get_json()
    embed_id, token = created.get_json()["id"], created.get_json()["token"]
    page = client.get(f"/embed/{token}?podcast={pg_world['podcasts'][1]}&range=all")
    assert page.status_code == 200
    assert frame_ancestors_of(page.headers["Content-Security-Policy"]) == "frame-ancestors http://127.0.0.1:8123"
    ctx = TenantContext(pg_world["demo"], "viewer")
    expected = overview.top_countries(db, ctx, view_state({"podcast": podcast, "period": "last_90_days"}))
    assert bars(page) == dict(zip(expected["country"], expected["downloads"])) != {}

    acme = _auth(pg_world, "acme_write")
    assert embed_id not in [e["id"] for e in client.get("/api/v1/embeds", headers=acme).get_json()["data"]]
    assert client.delete(f"/api/v1/embeds/{embed_id}", headers=acme).status_code == 404
    refused = client.post("/api/v1/embeds", headers=acme, json={"chart": "top_apps", "filters": {"podcast": podcast}})
    assert refused.status_code == 422 and "filters.podcast" in refused.get_json()["errors"]
    acme_embed = client.post("/api/v1/embeds", headers=acme, json={"chart": "top_countries",
                                                                   "filters": {"period": "all_time"}}).get_json()
    acme_page = client.get(f"/embed/{acme_embed['token']}?tenant_id={pg_world['demo']}")
    assert acme_page.status_code == 200 and "No downloads in this period yet." in acme_page.get_data(as_text=True)

    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/embed/{tampered}").status_code == 404
    listed = next(e for e in client.get("/api/v1/embeds", headers=_auth(pg_world, "demo_write")).get_json()["data"]
                  if e["id"] == embed_id)
    assert listed["views"] == 1 and listed["last_viewed_at"]  # counted as the app role, under the policy
    assert client.delete(f"/api/v1/embeds/{embed_id}", headers=_auth(pg_world, "demo_write")).status_code == 204
    gone = client.get(f"/embed/{token}")
    assert gone.status_code == 410 and "revoked" in gone.get_data(as_text=True)


def test_sponsor_embed_reads_as_its_sponsor_and_expires(pg_world):
    db = pg_world["db"]
    coffee = TenantContext(pg_world["demo"], "sponsor", sponsor_id=pg_world["sponsors"]["Northwind Coffee"])
    vpn = TenantContext(pg_world["demo"], "sponsor", sponsor_id=pg_world["sponsors"]["Lumen VPN"])
    info = store.create_embed(db, coffee, {"chart": "campaign_delivery",
                                           "filters": {"campaign": pg_world["campaigns"]["Morning Ritual Q3"]}})
    assert info.id not in [e.id for e in store.list_embeds(db, vpn)]
    with pytest.raises(NotFound):
        store.revoke_embed(db, vpn, info.id)
    token = store.embed_token(info.id, pg_world["app"].extensions["podcast_platform"].settings.embed_keys)
    client = pg_world["app"].test_client()
    page = client.get(f"/embed/{token}")
    assert page.status_code == 200 and "Delivery against goal" in page.get_data(as_text=True)
    past = store.create_embed(db, coffee, {"chart": "campaign_attribution", "expires_at": utcnow() - timedelta(hours=1),
                                           "filters": {"campaign": pg_world["campaigns"]["Morning Ritual Q3"]}},
                              now=utcnow() - timedelta(days=1))
    expired = client.get("/embed/" + store.embed_token(
        past.id, pg_world["app"].extensions["podcast_platform"].settings.embed_keys))
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)


def test_migration_0018_down_and_up(pg_url):
    from services import migrate

    migrate.upgrade(pg_url)
    migrate.downgrade(pg_url, "0017")
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT to_regclass('embeds')").fetchone()[0] is None
    migrate.upgrade(pg_url)
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = 'embeds'").fetchone()[0] == 1
