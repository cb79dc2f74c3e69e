"""The web process with a login that holds `podcast_app` only, as a production web login does when the jobs run on
RQ workers: every web path that starts before a tenant is known (sign-in, API keys, embeds, the prefix, tracking
links, the pixel's sponsor, invitations, password resets, MFA, SSO's invitations, the live feed, /metrics, and
deleting an account) answers through the narrow lookups of migration 0031, never through the worker role, and
still sees each tenant's rows only."""
from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy
from sqlalchemy import event, select

from app import create_app
from services import account_links, accounts, api_keys, demo, lookups, mfa, migrate, user_deletion
from services.db import Database
from services.live.feed import LiveResolver
from services.models import Podcast
from services.sharing import store
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD, make_settings
from tests.integration.conftest import PG_ADMIN, create_database, drop_database, with_timeouts
from tests.lookups_checks import check_every_kind, check_user_memberships

SECRET = "test-secret-key-0123456789"


def _admin(url: str, sql: str, *params) -> list:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def web(tmp_path_factory, seeded_pg_template, redis_url):
    """The demo (a copy of the run's seeded template) and a second network, added by the owner; the app started as a
    web-only login."""
    name, url = create_database(seeded_pg_template[0])
    owner_db = Database(url, "podcast_app")
    other = accounts.create_tenant(owner_db, "other", "Other")
    accounts.create_user(owner_db, "owner@other.test", "other", "owner", password="other-password-1")
    other_ctx = TenantContext(other.id, "owner")
    _, other_key = api_keys.create_api_key(owner_db, other_ctx, "other")
    demo_id = accounts.get_tenant_by_slug(owner_db, "demo").id
    _, demo_key = api_keys.create_api_key(owner_db, TenantContext(demo_id, "owner"), "demo")
    login = f"podtest_web_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{login}\" LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE podcast_app")
    web_url = url.replace("postgres@", f"{login}@", 1)
    server = create_app(make_settings(tmp_path_factory.mktemp("web"), DATABASE_URL=web_url, REDIS_URL=redis_url))
    db = server.extensions["podcast_platform"].db
    worker_connections = []
    event.listen(db.worker_engine, "connect", lambda *_: worker_connections.append(1))
    try:
        yield {"server": server, "db": db, "url": url, "login": login, "demo": demo_id, "other": other.id,
               "demo_key": demo_key, "other_key": other_key, "owner_db": owner_db,
               "worker_connections": worker_connections}
    finally:
        server.extensions["tracking"].sink.close()
        server.extensions["live"].bus.close()
        db.dispose()
        owner_db.dispose()
        drop_database(name)
        with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS \"{login}\"")


def test_the_web_login_holds_the_web_role_only_and_started_on_a_migrated_database(web):
    with psycopg.connect(web["url"].replace("postgresql+psycopg://", "postgresql://")
                         .replace("postgres@", f"{web['login']}@", 1)) as conn:
        assert conn.execute("SELECT pg_has_role(current_user, 'podcast_app', 'MEMBER'), "
                            "pg_has_role(current_user, 'podcast_worker', 'MEMBER')").fetchone() == (True, False)


def test_sign_in_and_its_audit_need_no_worker_role(web):
    client = web["server"].test_client()
    assert client.post("/login", data={"email": demo.DEMO_EMAIL, "password": "wrong-password"}).status_code == 401
    assert client.post("/login", data={"email": demo.DEMO_EMAIL, "password": DEMO_PASSWORD}).status_code == 302
    assert client.get("/_dash-layout").status_code == 200
    actions = [r[0] for r in _admin(web["url"], "SELECT action FROM audit_log WHERE tenant_id = %s AND action LIKE "
                                                "'login.%%' ORDER BY id", web["demo"])]
    assert actions[-2:] == ["login.failed", "login.succeeded"]
    user = accounts.authenticate(web["db"], "owner@other.test", "other-password-1")
    assert [m.tenant_id for m in accounts.memberships_for_user(web["db"], user.id)] == [web["other"]]


def test_api_keys_name_their_tenant_and_nothing_else(web):
    client = web["server"].test_client()
    for key, slug in ((web["demo_key"], "demo"), (web["other_key"], "other")):
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.get_json()["tenant"]["slug"] == slug
    podcasts = client.get("/api/v1/podcasts", headers={"Authorization": f"Bearer {web['other_key']}"}).get_json()
    assert podcasts["data"] == []  # the other network has no podcast, though the demo's are in the same tables
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer pk_" + "x" * 40}).status_code == 401


def test_embeds_prefix_links_and_the_live_feed_resolve_their_tenant(web):
    db, client = web["db"], web["server"].test_client()
    owner = TenantContext(web["demo"], "owner")
    embed = store.create_embed(web["owner_db"], owner, {"chart": "downloads_timeline",
                                                        "filters": {"period": "last_30_days"}})
    keys = web["server"].extensions["podcast_platform"].settings.embed_keys
    assert client.get(f"/embed/{store.embed_token(embed.id, keys)}").status_code == 200
    key, enclosure = _admin(web["url"], "SELECT p.prefix_key, e.enclosure_url FROM podcasts p JOIN episodes e ON "
                                        "e.podcast_id = p.id WHERE p.tenant_id = %s AND e.enclosure_url IS NOT NULL "
                                        "LIMIT 1", web["demo"])[0]
    response = client.get(f"/e/{key}/{enclosure.split('://', 1)[1]}")
    assert response.status_code == 302 and response.headers["Location"] == enclosure
    assert client.get(f"/e/nosuchkey/{enclosure.split('://', 1)[1]}").status_code == 404
    code = _admin(web["url"], "SELECT code FROM tracking_links WHERE tenant_id = %s LIMIT 1", web["demo"])[0][0]
    assert client.get(f"/l/{code}").status_code == 302
    resolver = LiveResolver(db)
    assert resolver.show(key).tenant_id == web["demo"] and resolver.show("nosuchkey") is None
    pixel_key = _admin(web["url"], "SELECT pixel_key FROM sponsors WHERE tenant_id = %s LIMIT 1", web["demo"])[0][0]
    assert resolver.sponsor(pixel_key)[0] == web["demo"]
    assert lookups.tenant_of(db, "prefix", key) == web["demo"] and lookups.tenant_of(db, "embed", "12x") is None
    with db.session() as s:  # the lookup answered; the session itself still sees no tenant's podcast
        assert s.scalars(select(Podcast.id)).all() == []


def test_invitations_resets_and_mfa_run_as_the_web_role(web):
    db = web["db"]
    ctx = TenantContext(web["other"], "owner", user_id=accounts.authenticate(db, "owner@other.test",
                                                                             "other-password-1").id)
    token = account_links.invite(db, ctx, "new@other.test", "viewer")
    assert account_links.invitation(db, token)[1] == "new@other.test"
    user = account_links.accept_invite(db, token, "new-password-1")
    assert [m.tenant_id for m in accounts.memberships_for_user(db, user.id)] == [web["other"]]
    account_links.request_reset(db, "new@other.test")
    assert _admin(web["url"], "SELECT tenant_id FROM account_tokens WHERE email = 'new@other.test' AND "
                              "purpose = 'reset'") == [(web["other"],)]
    enrolment = mfa.start_enrolment(db, user.id)
    import pyotp
    codes = mfa.confirm_enrolment(db, user.id, pyotp.TOTP(enrolment.secret).now())
    assert len(codes) == 10 and mfa.is_enabled(db, user.id)
    assert "mfa.enabled" in [r[0] for r in _admin(web["url"], "SELECT action FROM audit_log WHERE tenant_id = %s",
                                                    web["other"])]
    user_deletion.delete_own_account(db, SECRET, user.id, "new-password-1")
    assert _admin(web["url"], "SELECT count(*) FROM users WHERE email = 'new@other.test'") == [(0,)]
    assert _admin(web["url"], "SELECT count(*) FROM memberships WHERE user_id = %s", user.id) == [(0,)]
    assert _admin(web["url"], "SELECT count(*) FROM audit_log WHERE user_id = %s", user.id) == [(0,)]


def test_every_lookup_kind_and_a_users_memberships_as_the_web_role(web):
    db = web["db"]
    store.create_embed(web["owner_db"], TenantContext(web["demo"], "owner"),
                       {"chart": "downloads_timeline", "filters": {"period": "last_7_days"}})
    check_every_kind(db, web["demo"])
    with db.session() as s, pytest.raises(sqlalchemy.exc.DataError, match="unknown lookup kind"):
        s.scalar(sqlalchemy.text("SELECT app_tenant_of('no-such-kind', 'x')"))
    owner = accounts.authenticate(db, "owner@other.test", "other-password-1")
    check_user_memberships(db, owner.id, [web["other"]])


def test_acting_in_a_tenant_ends_in_the_sessions_own_scope_and_a_database_error_surfaces_as_itself(web):
    db, scope = web["db"], sqlalchemy.text("SELECT current_setting('app.tenant_id', true)")
    with db.session() as s:
        with lookups.acting_in(s, web["demo"]):
            assert s.execute(scope).scalar() == str(web["demo"])
        assert s.execute(scope).scalar() == ""
        with pytest.raises(ValueError), lookups.acting_in(s, web["other"]):
            raise ValueError("not the database's")
        assert s.execute(scope).scalar() == ""
    with db.session() as s, pytest.raises(sqlalchemy.exc.ProgrammingError, match="no_such_table"):
        with lookups.acting_in(s, web["demo"]):
            s.execute(sqlalchemy.text("SELECT * FROM no_such_table"))


def test_public_may_not_call_the_lookups_and_0031_goes_down_and_up(web, postgres_available):
    name, url = create_database()
    try:
        migrate.upgrade(url)
        functions = "SELECT count(*) FROM pg_proc WHERE proname IN ('app_tenant_of', 'app_user_memberships', " \
                    "'app_user_traces', 'app_ops_reading')"
        assert _admin(url, functions) == [(4,)]
        assert _admin(url, "SELECT bool_or(has_function_privilege('public', oid, 'EXECUTE')), "
                           "bool_and(has_function_privilege('podcast_app', oid, 'EXECUTE')) FROM pg_proc "
                           "WHERE proname LIKE 'app\\_%%'") == [(False, True)]
        migrate.downgrade(url, "0030")
        assert _admin(url, functions) == [(0,)]
        migrate.upgrade(url)
        assert _admin(url, functions) == [(4,)]
    finally:
        drop_database(name)


def test_metrics_read_the_gauges_through_the_lookup(web):
    text = web["server"].test_client().get("/metrics").get_data(as_text=True)
    assert "# TYPE emails gauge" in text and "counting_lag_seconds" in text


def test_no_web_path_above_opened_a_worker_connection(web):
    # Runs last in this module: every test above went through the web database only.
    assert web["worker_connections"] == []
