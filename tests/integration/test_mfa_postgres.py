"""Two-factor sign-in on PostgreSQL under the app role (row-level security on): enrolment through the security
page, the code step at login, replay refusal, a recovery code consumed once even by racing requests, remembered
devices forgotten when MFA is reset, the tenant requirement kept inside its tenant, and audit rows per tenant."""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
from sqlalchemy import select, text

from app import create_app
from services import accounts, mfa
from services.errors import AuthenticationFailed
from services.models import AuditLog, User
from tests.conftest import make_settings
from tests.dash_client import call_callback

pytestmark = pytest.mark.timeout(300)
PASSWORD = "password-123"


@pytest.fixture(scope="module")
def pg_app(postgres_available, tmp_path_factory):
    from tests.integration.conftest import create_database, drop_database

    name, url = create_database()
    server = create_app(make_settings(tmp_path_factory.mktemp("pg-mfa"), DATABASE_URL=url))
    server.config["TESTING"] = True
    db = server.extensions["podcast_platform"].db
    for slug in ("north", "south"):
        accounts.create_tenant(db, slug, slug.title())
        accounts.create_user(db, f"owner@{slug}.test", slug, "owner", password=PASSWORD)
        accounts.create_user(db, f"viewer@{slug}.test", slug, "viewer", password=PASSWORD)
    yield server, db
    db.dispose()
    drop_database(name)


def _uid(db, email):
    with db.session(system=True) as s:
        return s.scalar(select(User.id).where(User.email == email))


def _signed_in(server, email):
    client = server.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


def _enrol_through_the_page(client):
    page = client.get("/account/security").get_data(as_text=True)
    secret = re.search(r'<code id="mfa-secret">([A-Z2-7]+)</code>', page).group(1)
    done = client.post("/account/security/enable", data={"code": pyotp.TOTP(secret).now()}).get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done)
    assert len(codes) == 10
    return pyotp.TOTP(secret), codes


def test_enrol_then_sign_in_with_a_code_once_and_a_recovery_code_once(pg_app):
    server, db = pg_app
    totp, codes = _enrol_through_the_page(_signed_in(server, "owner@north.test"))
    code = totp.at(time.time() + 30)
    client = server.test_client()
    asked = client.post("/login", data={"email": "owner@north.test", "password": PASSWORD, "next": "/"})
    assert asked.headers["Location"] == "/login/mfa" and client.get("/_dash-layout").status_code == 401
    assert client.post("/login/mfa", data={"code": code, "remember": "1"}).status_code == 302
    assert client.get("/_dash-layout").status_code == 200
    replay = server.test_client()
    replay.post("/login", data={"email": "owner@north.test", "password": PASSWORD})
    assert replay.post("/login/mfa", data={"code": code}).status_code == 401
    assert replay.post("/login/mfa", data={"code": codes[0]}).status_code == 302
    json_client = server.test_client()
    asked = json_client.post("/login", data={"email": "owner@north.test", "password": PASSWORD},
                             headers={"Accept": "application/json"})
    assert asked.get_json() == {"mfa_required": True}
    assert json_client.post("/login/mfa", json={"code": codes[0]}).status_code == 401  # used already
    assert json_client.post("/login/mfa", json={"code": codes[1]}).get_json()["user"]["email"] == "owner@north.test"
    # the remembered device skips the code, until MFA is turned off (and on again)
    client.post("/logout")
    assert client.post("/login", data={"email": "owner@north.test", "password": PASSWORD}).headers["Location"] == "/"
    uid = _uid(db, "owner@north.test")
    mfa.disable(db, uid, password=PASSWORD)
    secret = mfa.start_enrolment(db, uid).secret
    mfa.confirm_enrolment(db, uid, pyotp.TOTP(secret).now())
    client.post("/logout")
    again = client.post("/login", data={"email": "owner@north.test", "password": PASSWORD})
    assert again.headers["Location"] == "/login/mfa"


def test_racing_requests_consume_a_recovery_code_once(pg_app):
    server, db = pg_app
    uid = _uid(db, "viewer@south.test")
    secret = mfa.start_enrolment(db, uid).secret
    codes = mfa.confirm_enrolment(db, uid, pyotp.TOTP(secret).now())

    def attempt(_):
        try:
            return mfa.verify(db, uid, codes[5])
        except AuthenticationFailed:
            return None

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(attempt, range(4)))
    assert results.count("recovery") == 1 and results.count(None) == 3
    mfa.disable(db, uid, password=PASSWORD)


def _policy(client, clicks=None, value=None):
    return call_callback(client, [("settings-require-mfa", "value"), ("settings-mfa-message", "children")],
                         [("settings-mfa-save", "n_clicks", clicks)], [("settings-require-mfa", "value", value)],
                         ["settings-mfa-save.n_clicks"] if clicks else [])


def test_the_requirement_and_the_audit_stay_inside_their_tenant(pg_app):
    server, db = pg_app
    owner = _signed_in(server, "owner@south.test")
    _enrol_through_the_page(owner)
    _, out = _policy(owner, 1, ["required"])
    assert out["settings-require-mfa"]["value"] == ["required"]
    viewer = _signed_in(server, "viewer@south.test")
    assert viewer.get("/").headers["Location"] == "/account/security"
    assert viewer.get("/_dash-layout").status_code == 403
    north_viewer = _signed_in(server, "viewer@north.test")
    assert north_viewer.get("/_dash-layout").status_code == 200  # south's requirement does not reach north
    north_owner = server.test_client()
    north_owner.post("/login", data={"email": "owner@north.test", "password": PASSWORD})
    assert north_owner.get("/_dash-layout").status_code == 401  # MFA on: the code step comes first
    south_id = accounts.get_tenant_by_slug(db, "south").id
    north_id = accounts.get_tenant_by_slug(db, "north").id
    south_users = {_uid(db, "owner@south.test"), _uid(db, "viewer@south.test")}
    with db.session(north_id) as s:  # no WHERE: the tenant policy alone hides south's rows
        north_rows = s.execute(text("SELECT action, user_id FROM audit_log")).all()
        assert s.execute(text("SELECT count(*) FROM tenants WHERE require_mfa")).scalar() == 0
    assert not {uid for _, uid in north_rows} & south_users
    assert "tenant.mfa_required" not in {a for a, _ in north_rows}
    with db.session(south_id) as s:
        rows = set(s.execute(select(AuditLog.action, AuditLog.user_id)).all())
    owner_id = _uid(db, "owner@south.test")
    assert {("tenant.mfa_required", owner_id), ("mfa.enabled", owner_id)} <= rows
    assert {uid for _, uid in rows} <= south_users


def test_migration_0022_down_and_up_keeps_the_tenant_policy(pg_url):
    import psycopg

    from services import migrate

    migrate.upgrade(pg_url)
    migrate.downgrade(pg_url, "0021")
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT to_regclass('mfa_recovery_codes')").fetchone()[0] is None
    migrate.upgrade(pg_url)
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        forced = conn.execute("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class "
                              "WHERE relname = 'tenants'").fetchone()[0]
        column = conn.execute("SELECT column_default FROM information_schema.columns "
                              "WHERE table_name = 'tenants' AND column_name = 'require_mfa'").fetchone()[0]
    assert forced and column == "false"
