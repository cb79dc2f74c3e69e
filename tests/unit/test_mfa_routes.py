"""Two-factor sign-in over HTTP: the second login step (form and JSON), remembered devices, the account security
page, the tenant requirement, and that nobody reaches another user's or another tenant's MFA state."""
import json
import re
import time

import pyotp
from sqlalchemy import select

from services import accounts, mfa
from services.demo import DEMO_EMAIL
from services.models import AuditLog, User
from tests.conftest import DEMO_PASSWORD
from tests.dash_client import call_callback

JSON = {"Accept": "application/json"}


def _uid(db, email):
    with db.session(system=True) as s:
        return s.scalar(select(User.id).where(User.email == email))


def enrol(db, email):
    """MFA on for `email` with a code of the current step; sign-in codes then come from later steps."""
    uid = _uid(db, email)
    secret = mfa.start_enrolment(db, uid).secret
    now = time.time()
    codes = mfa.confirm_enrolment(db, uid, pyotp.TOTP(secret).at(now), at=now)
    return pyotp.TOTP(secret), codes


def next_code(totp):
    return totp.at(time.time() + 30)


def _password(client, email=DEMO_EMAIL, password=DEMO_PASSWORD, headers=None):
    return client.post("/login", data={"email": email, "password": password, "next": "/podcasts"}, headers=headers)


def test_password_alone_does_not_sign_in_an_mfa_user(client, db):
    totp, _ = enrol(db, DEMO_EMAIL)
    response = _password(client)
    assert response.status_code == 302 and response.headers["Location"] == "/login/mfa"
    assert client.get("/_dash-layout").status_code == 401 and client.get("/").status_code == 302
    assert b"authenticator app" in client.get("/login/mfa").data
    wrong = client.post("/login/mfa", data={"code": "12345x"})
    assert wrong.status_code == 401 and b"wrong or already used code" in wrong.data
    assert client.get("/_dash-layout").status_code == 401
    ok = client.post("/login/mfa", data={"code": next_code(totp)})
    assert ok.status_code == 302 and ok.headers["Location"] == "/podcasts"
    assert client.get("/_dash-layout").status_code == 200


def test_a_code_is_refused_the_second_time(app, db):
    totp, _ = enrol(db, DEMO_EMAIL)
    code = next_code(totp)
    first, second = app.test_client(), app.test_client()
    _password(first)
    assert first.post("/login/mfa", data={"code": code}).status_code == 302
    _password(second)
    assert second.post("/login/mfa", data={"code": code}).status_code == 401
    assert second.get("/_dash-layout").status_code == 401


def test_recovery_code_signs_in_once_and_is_audited(app, db):
    _, codes = enrol(db, DEMO_EMAIL)
    client = app.test_client()
    _password(client)
    assert client.post("/login/mfa", data={"code": codes[3]}).status_code == 302
    again = app.test_client()
    _password(again)
    assert again.post("/login/mfa", data={"code": codes[3]}).status_code == 401
    with db.session(system=True) as s:
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.user_id == _uid(db, DEMO_EMAIL))))
    assert actions.count("mfa.recovery_code_used") == 1 and actions.count("mfa.failed") == 1


def test_json_login_asks_for_the_code_and_a_json_post_completes(app, client, db):
    accounts.create_user(db, "plain@demo.test", "demo", "viewer", password="password-1")
    plain = app.test_client().post("/login", data={"email": "plain@demo.test", "password": "password-1"},
                                   headers=JSON)
    assert plain.status_code == 200 and plain.get_json()["user"]["email"] == "plain@demo.test"  # no MFA: unchanged
    totp, _ = enrol(db, DEMO_EMAIL)
    asked = _password(client, headers=JSON)
    assert asked.status_code == 200 and asked.get_json() == {"mfa_required": True}
    assert client.post("/login/mfa", json={"code": "000000x"}).status_code == 401
    done = client.post("/login/mfa", json={"code": next_code(totp)}, headers=JSON)
    assert done.status_code == 200 and done.get_json()["user"]["email"] == DEMO_EMAIL and done.get_json()["tenant_id"]
    assert client.get("/_dash-layout").status_code == 200


def test_code_step_needs_the_password_step_first_and_a_same_origin_post(client, db):
    totp, _ = enrol(db, DEMO_EMAIL)
    assert client.post("/login/mfa", json={"code": next_code(totp)}).status_code == 401
    assert client.get("/login/mfa").headers["Location"] == "/login"
    _password(client)
    cross = client.post("/login/mfa", data={"code": next_code(totp)}, headers={"Origin": "https://evil.example.com"})
    assert cross.status_code == 403 and client.get("/_dash-layout").status_code == 401


def _remembered_login(app, db, email, password, totp):
    client = app.test_client()
    _password(client, email, password)
    response = client.post("/login/mfa", data={"code": next_code(totp), "remember": "1"})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("mfa_device="))
    assert "HttpOnly" in cookie and "Max-Age=2592000" in cookie and "SameSite=Lax" in cookie
    client.post("/logout")
    return client


def test_a_remembered_device_skips_the_code_until_mfa_is_reset(app, db):
    totp, _ = enrol(db, DEMO_EMAIL)
    client = _remembered_login(app, db, DEMO_EMAIL, DEMO_PASSWORD, totp)
    again = _password(client)
    assert again.status_code == 302 and again.headers["Location"] == "/podcasts"  # no code asked
    assert client.get("/_dash-layout").status_code == 200
    client.post("/logout")
    uid = _uid(db, DEMO_EMAIL)
    mfa.disable(db, uid, password=DEMO_PASSWORD)
    secret = mfa.start_enrolment(db, uid).secret
    now = time.time()
    mfa.confirm_enrolment(db, uid, pyotp.TOTP(secret).at(now), at=now)
    assert _password(client).headers["Location"] == "/login/mfa"  # the old remembered device no longer counts


def test_a_remembered_device_is_bound_to_its_user(app, db):
    totp, _ = enrol(db, DEMO_EMAIL)
    accounts.create_user(db, "b@demo.test", "demo", "viewer", password="password-1")
    enrol(db, "b@demo.test")
    client = _remembered_login(app, db, DEMO_EMAIL, DEMO_PASSWORD, totp)
    assert _password(client, "b@demo.test", "password-1").headers["Location"] == "/login/mfa"
    forged = app.test_client()
    forged.set_cookie("mfa_device", "e30.forged.signature", path="/login")
    assert _password(forged).headers["Location"] == "/login/mfa"


def test_security_page_enrols_shows_recovery_codes_once_and_turns_off(demo_client, db):
    page = demo_client.get("/account/security")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in html and "is <strong>off</strong>" in html
    secret = re.search(r'<code id="mfa-secret">([A-Z2-7]+)</code>', html).group(1)
    bad = demo_client.post("/account/security/enable", data={"code": "000000"})
    assert bad.status_code == 400 and "does not match" in bad.get_data(as_text=True)
    done = demo_client.post("/account/security/enable", data={"code": pyotp.TOTP(secret).now()}).get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done)
    assert len(codes) == 10 and "is <strong>on</strong>" in done
    shown_again = demo_client.get("/account/security").get_data(as_text=True)
    assert codes[0] not in shown_again and "Recovery codes left: 10" in shown_again and secret not in shown_again
    regen = demo_client.post("/account/security/recovery-codes", data={"password": DEMO_PASSWORD}).get_data(as_text=True)
    assert len(re.findall(r"<li><code>", regen)) == 10 and codes[0] not in regen
    wrong = demo_client.post("/account/security/disable", data={"password": "nope-nope"})
    assert wrong.status_code == 400 and mfa.is_enabled(db, _uid(db, DEMO_EMAIL))
    off = demo_client.post("/account/security/disable", data={"password": DEMO_PASSWORD})
    assert off.status_code == 200 and not mfa.is_enabled(db, _uid(db, DEMO_EMAIL))
    assert demo_client.post("/account/security/disable", data={"password": DEMO_PASSWORD},
                            headers={"Origin": "https://evil.example.com"}).status_code == 403


def test_anonymous_visitors_cannot_reach_the_security_page(client):
    assert client.get("/account/security").headers["Location"].startswith("/login")
    assert client.post("/account/security/disable", data={"password": DEMO_PASSWORD}).status_code == 302


def _login(app, email, password="password-1"):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    return client


def test_one_user_neither_sees_nor_changes_another_users_mfa(app, db):
    _, codes = enrol(db, DEMO_EMAIL)
    accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "other@acme.test", "acme", "owner", password="password-1")
    other = _login(app, "other@acme.test")
    page = other.get("/account/security").get_data(as_text=True)
    assert "other@acme.test" in page and "is <strong>off</strong>" in page and DEMO_EMAIL not in page
    for path in ("/account/security/disable", "/account/security/recovery-codes"):
        refused = other.post(path, data={"code": codes[0], "password": DEMO_PASSWORD})
        assert refused.status_code == 400
    assert mfa.is_enabled(db, _uid(db, DEMO_EMAIL)) and mfa.status(db, _uid(db, DEMO_EMAIL)).recovery_codes_left == 10


def _policy(client, clicks=None, value=None):
    return call_callback(client, [("settings-require-mfa", "value"), ("settings-mfa-message", "children")],
                         [("settings-mfa-save", "n_clicks", clicks)], [("settings-require-mfa", "value", value)],
                         ["settings-mfa-save.n_clicks"] if clicks else [])


def test_required_mfa_sends_members_to_enrolment_and_nowhere_else(app, db, demo_client):
    _, out = _policy(demo_client, 1, ["required"])
    assert "your own account first" in json.dumps(out)
    enrol(db, DEMO_EMAIL)
    _, out = _policy(demo_client, 1, ["required"])
    assert out["settings-require-mfa"]["value"] == ["required"] and "Saved" in json.dumps(out)
    accounts.create_user(db, "v@demo.test", "demo", "viewer", password="password-1")
    viewer = _login(app, "v@demo.test")
    assert viewer.get("/").headers["Location"] == "/account/security"
    assert viewer.get("/campaigns").headers["Location"] == "/account/security"
    blocked = viewer.get("/_dash-layout")
    assert blocked.status_code == 403 and blocked.get_json()["enrol"] == "/account/security"
    page = viewer.get("/account/security").get_data(as_text=True)
    assert "requires two-factor sign-in" in page
    secret = re.search(r'<code id="mfa-secret">([A-Z2-7]+)</code>', page).group(1)
    viewer.post("/account/security/enable", data={"code": pyotp.TOTP(secret).now()})
    assert viewer.get("/_dash-layout").status_code == 200 and viewer.get("/").status_code == 200


def test_sponsor_users_must_enrol_too_and_cannot_change_the_policy(app, db, demo_client):
    enrol(db, DEMO_EMAIL)
    _policy(demo_client, 1, ["required"])
    accounts.create_user(db, "s@demo.test", "demo", "sponsor", password="password-1", sponsor_id=1)
    sponsor = _login(app, "s@demo.test")
    assert sponsor.get("/campaigns").headers["Location"] == "/account/security"
    enrol(db, "s@demo.test")
    _, out = _policy(sponsor, 1, [])
    assert "may not do this" in json.dumps(out)
    assert mfa.tenant_requirement(db, accounts.resolve_context(db, _uid(db, DEMO_EMAIL)))


def test_another_tenants_owner_neither_sees_nor_changes_the_policy(app, db, demo_client):
    enrol(db, DEMO_EMAIL)
    _policy(demo_client, 1, ["required"])
    accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "owner@acme.test", "acme", "owner", password="password-1")
    acme = _login(app, "owner@acme.test")
    assert acme.get("/_dash-layout").status_code == 200  # demo's requirement does not reach acme
    _, out = _policy(acme)
    assert out["settings-require-mfa"]["value"] == []
    enrol(db, "owner@acme.test")
    _policy(acme, 1, [])
    assert mfa.tenant_requirement(db, accounts.resolve_context(db, _uid(db, DEMO_EMAIL)))
    accounts.create_user(db, "admin@demo.test", "demo", "admin", password="password-1")
    totp, _ = enrol(db, "admin@demo.test")
    admin = app.test_client()
    _password(admin, "admin@demo.test", "password-1")
    assert admin.post("/login/mfa", data={"code": next_code(totp)}).status_code == 302
    _, out = _policy(admin, 1, [])
    assert "may not do this" in json.dumps(out)  # owners only
    assert mfa.tenant_requirement(db, accounts.resolve_context(db, _uid(db, DEMO_EMAIL)))
