"""Single sign-on on PostgreSQL under the app role (row-level security on), against a real provider on 127.0.0.1: an
existing user signed in by the provider sees only their own tenant's shows, an invited address lands in the inviting
tenant and sees nothing of another, a sponsor user sees only their sponsor, and identity links and audit rows land
where they belong."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from app import create_app
from services import account_links, accounts
from services.sponsorship import campaigns
from services.models import AuditLog, Podcast, Sponsor, User, UserIdentity
from services.tenancy import TenantContext
from tests import campaign_client as cc
from tests.conftest import make_settings
from tests.dash_client import call_callback
from tests.oidc_provider import OidcProvider, sign_in

pytestmark = pytest.mark.timeout(300)
PASSWORD = "password-123"


@pytest.fixture(scope="module")
def pg_site(postgres_available, tmp_path_factory):
    from tests.integration.conftest import create_database, drop_database

    name, url = create_database()
    with OidcProvider() as provider:
        server = create_app(make_settings(tmp_path_factory.mktemp("pg-sso"), DATABASE_URL=url,
                                          **provider.settings_env()))
        server.config["TESTING"] = True
        db = server.extensions["podcast_platform"].db
        tenants = {}
        for slug in ("north", "south"):
            tenant = accounts.create_tenant(db, slug, slug.title())
            with db.session(tenant.id) as s:
                s.add_all([Podcast(tenant_id=tenant.id, title=f"{slug.title()} Morning Show", prefix_key=f"k{slug}"),
                           Sponsor(tenant_id=tenant.id, name=f"{slug.title()} Roasters"),
                           Sponsor(tenant_id=tenant.id, name=f"{slug.title()} Bikes")])
                s.commit()
                sponsors = dict(s.execute(select(Sponsor.name, Sponsor.id)).all())
            tenants[slug] = {"id": tenant.id, "sponsors": sponsors}
            accounts.create_user(db, f"owner@{slug}.test", slug, "owner", password=PASSWORD)
            for sponsor, campaign in (("Roasters", "Roast Season"), ("Bikes", "Bike Week")):
                campaigns.create_campaign(db, TenantContext(tenant.id, "owner"), {
                    "sponsor_id": sponsors[f"{slug.title()} {sponsor}"], "name": f"{slug.title()} {campaign}",
                    "start_date": date.today().isoformat(),
                    "end_date": (date.today() + timedelta(days=30)).isoformat(), "cpm": 20})
        accounts.create_user(db, "roasters@north.test", "north", "sponsor", password=PASSWORD,
                             sponsor_id=tenants["north"]["sponsors"]["North Roasters"])
        yield {"app": server, "db": db, "provider": provider, "tenants": tenants}
        db.dispose()
    drop_database(name)


def _as(site, email, sub):
    site["provider"].identity = {"sub": sub, "email": email, "email_verified": True, "name": ""}
    return site["app"].test_client()


def _podcasts(client) -> str:
    status, out = call_callback(client, [("podcasts-table", "children"), ("podcasts-message", "children")],
                                [("podcasts-url", "pathname", "/podcasts"), ("podcasts-import", "n_clicks", None)],
                                [("podcasts-feed", "value", None)])
    assert status == 200
    return json.dumps(out)


def _uid(db, email):
    with db.session(system=True) as s:
        return s.scalar(select(User.id).where(User.email == email))


def test_an_sso_user_sees_only_their_own_tenant(pg_site):
    client = _as(pg_site, "owner@north.test", "north-owner")
    assert sign_in(client, "/podcasts").headers["Location"] == "/podcasts"
    shows = _podcasts(client)
    assert "North Morning Show" in shows and "South Morning Show" not in shows
    db, north = pg_site["db"], pg_site["tenants"]["north"]["id"]
    with db.session(north) as s:  # the login's audit row sits in north only, visible under north's policy
        rows = s.execute(select(AuditLog.tenant_id, AuditLog.detail).where(
            AuditLog.action == "login.succeeded", AuditLog.user_id == _uid(db, "owner@north.test"))).all()
    assert rows == [(north, {"method": "oidc", "linked": True})]
    south = pg_site["tenants"]["south"]["id"]
    with db.session(south) as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.user_id == _uid(db, "owner@north.test"))) is None


def test_an_invited_user_lands_in_the_inviting_tenant_and_sees_no_other(pg_site):
    db, tenants = pg_site["db"], pg_site["tenants"]
    account_links.invite(db, TenantContext(tenants["south"]["id"], "owner"), "new@south.test", "editor")
    client = _as(pg_site, "new@south.test", "south-new")
    assert sign_in(client, "/podcasts").headers["Location"] == "/podcasts"
    uid = _uid(db, "new@south.test")
    assert [(m.tenant_id, m.role) for m in accounts.memberships_for_user(db, uid)] == [(tenants["south"]["id"],
                                                                                         "editor")]
    shows = _podcasts(client)
    assert "South Morning Show" in shows and "North Morning Show" not in shows
    with db.session(tenants["north"]["id"]) as s:  # north's policy shows nothing of the new member
        assert s.execute(text("SELECT count(*) FROM memberships WHERE user_id = :u"), {"u": uid}).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM audit_log WHERE user_id = :u"), {"u": uid}).scalar() == 0
    with db.session(system=True) as s:
        assert s.scalar(select(UserIdentity.user_id).where(UserIdentity.subject == "south-new")) == uid


def test_an_unknown_address_is_refused_and_nothing_is_created(pg_site):
    db = pg_site["db"]
    users = accounts.count_users(db)
    client = _as(pg_site, "nobody@north.test", "nobody")
    assert sign_in(client).headers["Location"] == "/login?sso=refused"
    assert accounts.count_users(db) == users and client.get("/_dash-layout").status_code == 401


def test_a_sponsor_user_sees_only_their_sponsor(pg_site):
    client = _as(pg_site, "roasters@north.test", "north-roasters")
    assert sign_in(client).headers["Location"] == "/campaigns"
    status, out = cc.campaigns_view(client)
    text = cc.text_of(out)
    assert status == 200 and "North Roast Season" in text
    assert "Bike" not in text and "South" not in text  # not the other sponsor, not the other tenant
    _, nav = cc.nav(client)
    assert [link["props"]["children"] for link in nav["shell-nav"]["children"]][0] == "Campaigns"
    assert "North" in cc.text_of(nav["shell-tenant"])


def test_migration_0028_down_and_up_under_the_app_role(pg_url):
    import psycopg

    from services import migrate
    from services.db import Database

    migrate.upgrade(pg_url)
    migrate.downgrade(pg_url, "0027")
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT to_regclass('user_identities')").fetchone()[0] is None
    migrate.upgrade(pg_url)
    db = Database(pg_url, "podcast_app")
    try:
        tenant = accounts.create_tenant(db, "solo", "Solo")
        user, _ = accounts.create_user(db, "solo@solo.test", "solo", "owner", password=PASSWORD)
        with db.session(tenant.id) as s:  # the app role reads and writes links (users are not tenant-owned)
            s.add(UserIdentity(user_id=user.id, issuer="https://idp.test", subject="s", email="solo@solo.test"))
            s.commit()
            assert s.scalar(select(UserIdentity.subject).where(UserIdentity.user_id == user.id)) == "s"
    finally:
        db.dispose()
