"""Single sign-on with OpenID Connect on SQLite, against a real provider on 127.0.0.1 (tests/oidc_provider.py): the
browser's round trip through the provider over HTTP, existing users by verified email only, invitations accepted into
their own tenant, MFA still asked, state and nonce checked, the (issuer, subject) link kept over a changed email, and
every signed-in user seeing only their own tenant (and sponsor)."""
from __future__ import annotations

import json
import shutil
import socket
import time
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from sqlalchemy import select, update

from jobs import context as job_context
from services import account_links, accounts, mfa
from services.models import AccountToken, AuditLog, Membership, Sponsor, User, UserIdentity
from services.tenancy import TenantContext
from tests import campaign_client as cc
from tests.conftest import make_settings
from tests.dash_client import call_callback
from tests.oidc_provider import OidcProvider, sign_in

PASSWORD = "password-123"
REFUSED = "We could not sign you in with Acme SSO"


@pytest.fixture(scope="module")
def site(tmp_path_factory, seeded_sqlite):
    from app import create_app

    instance = tmp_path_factory.mktemp("sso")
    shutil.copy(seeded_sqlite, instance / "podcast.db")
    with OidcProvider() as provider:
        server = create_app(make_settings(instance, **provider.settings_env()))
        server.config["TESTING"] = True
        db = server.extensions["podcast_platform"].db
        demo = accounts.get_tenant_by_slug(db, "demo").id
        acme = accounts.create_tenant(db, "acme", "Acme").id
        with db.session(demo) as s:
            sponsors = dict(s.execute(select(Sponsor.name, Sponsor.id)).all())
        accounts.create_user(db, "owner@acme.test", "acme", "owner", password=PASSWORD)
        accounts.create_user(db, "coffee@demo.test", "demo", "sponsor", password=PASSWORD,
                             sponsor_id=sponsors["Northwind Coffee"])
        yield {"app": server, "db": db, "provider": provider, "demo": demo, "acme": acme}
        db.dispose()
        job_context.reset()


def _as(site, email, sub, verified=True):
    site["provider"].identity = {"sub": sub, "email": email, "email_verified": verified, "name": email.split("@")[0]}
    site["provider"].id_token_claims, site["provider"].id_token_omits = {}, ()
    return site["app"].test_client()


def _user_id(db, email):
    with db.session(system=True) as s:
        return s.scalar(select(User.id).where(User.email == email))


def _signed_in_as(client) -> int | None:
    with client.session_transaction() as session:
        return int(session["_user_id"]) if "_user_id" in session else None


def _podcasts(client) -> str:
    status, out = call_callback(client, [("podcasts-table", "children"), ("podcasts-message", "children")],
                                [("podcasts-url", "pathname", "/podcasts"), ("podcasts-import", "n_clicks", None)],
                                [("podcasts-feed", "value", None)])
    assert status == 200
    return json.dumps(out)


def _audit(db, user_id, action):
    with db.session(system=True) as s:
        return s.execute(select(AuditLog.tenant_id, AuditLog.detail).where(AuditLog.user_id == user_id,
                                                                           AuditLog.action == action)
                         .order_by(AuditLog.id)).all()


def test_sso_is_off_without_its_settings(client):
    assert "Sign in with" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404
    assert "could not sign you in" not in client.get("/login?sso=refused").get_data(as_text=True)


def test_the_login_page_offers_the_provider(site):
    page = site["app"].test_client().get("/login?next=/podcasts").get_data(as_text=True)
    assert "Sign in with Acme SSO" in page and 'href="/login/oidc?next=/podcasts"' in page


def test_an_existing_user_signs_in_by_verified_email_on_a_new_session(site):
    db, provider = site["db"], site["provider"]
    uid = _user_id(db, "demo@example.com")
    client = _as(site, "Demo@Example.com", "sub-demo")
    response = sign_in(client, "/podcasts")
    assert response.status_code == 302 and response.headers["Location"] == "/podcasts"
    assert _signed_in_as(client) == uid and client.get("/_dash-layout").status_code == 200
    assert client.get("/login/oidc?next=/sponsors").headers["Location"] == "/sponsors"  # signed in: as /login does
    with client.session_transaction() as session:  # a new session: the flow's state and next are gone
        assert session["sid"] and not [k for k in session if k.startswith("_state_") or k == "oidc_next"]
    request = provider.token_requests[-1]
    assert request["grant_type"] == "authorization_code" and len(request["code_verifier"]) >= 43
    assert "Signal &amp; Noise" in _podcasts(client) or "Signal & Noise" in _podcasts(client)
    [(tenant, detail)] = _audit(db, uid, "login.succeeded")[-1:]
    assert tenant == site["demo"] and detail == {"method": "oidc", "linked": True}
    with db.session(system=True) as s:
        link = s.scalar(select(UserIdentity).where(UserIdentity.subject == "sub-demo"))
    assert (link.user_id, link.issuer, link.email) == (uid, provider.issuer, "demo@example.com")
    again = _as(site, "demo@example.com", "sub-demo")
    assert sign_in(again).headers["Location"] == "/"
    assert _audit(db, uid, "login.succeeded")[-1][1] == {"method": "oidc"}


@pytest.mark.parametrize("verified", [False, "false", None])
def test_an_unverified_email_is_refused(site, verified):
    db = site["db"]
    uid = _user_id(db, "owner@acme.test")
    client = _as(site, "owner@acme.test", f"sub-unverified-{verified}", verified)
    response = sign_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/login?sso=refused"
    assert _signed_in_as(client) is None and client.get("/_dash-layout").status_code == 401
    assert REFUSED in client.get(response.headers["Location"]).get_data(as_text=True)
    tenant, detail = _audit(db, uid, "login.failed")[-1]
    assert tenant == site["acme"] and detail == {"method": "oidc", "reason": "email_unverified"}
    with db.session(system=True) as s:
        assert s.scalar(select(UserIdentity.id).where(UserIdentity.user_id == uid)) is None


def test_an_unknown_email_is_refused_exactly_like_an_unverified_one(site):
    db = site["db"]
    users = accounts.count_users(db)
    unknown = _as(site, "stranger@example.org", "sub-stranger")
    response = sign_in(unknown)
    unverified = sign_in(_as(site, "owner@acme.test", "sub-unverified-2", False))
    assert response.status_code == unverified.status_code == 302
    assert response.headers["Location"] == unverified.headers["Location"] == "/login?sso=refused"
    assert _signed_in_as(unknown) is None and accounts.count_users(db) == users
    page = unknown.get("/login?sso=refused").get_data(as_text=True)
    assert REFUSED in page and "stranger" not in page and "no account" not in page.lower()


def test_an_invited_email_joins_the_inviting_tenant_only(site):
    db = site["db"]
    token = account_links.invite(db, TenantContext(site["acme"], "owner", user_id=_user_id(db, "owner@acme.test")),
                                 "new@acme.test", "viewer")
    account_links.invite(db, TenantContext(site["demo"], "owner"), "late@acme.test", "admin")
    with db.session(system=True) as s:
        s.execute(update(AccountToken).where(AccountToken.email == "late@acme.test")
                  .values(expires_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
        s.commit()
    client = _as(site, "new@acme.test", "sub-new")
    response = sign_in(client, "/podcasts")
    assert response.headers["Location"] == "/podcasts"
    uid = _signed_in_as(client)
    assert uid == _user_id(db, "new@acme.test")
    assert [(m.tenant_id, m.role) for m in accounts.memberships_for_user(db, uid)] == [(site["acme"], "viewer")]
    assert "Signal" not in _podcasts(client)  # the demo network's shows stay invisible
    assert [t for t, _ in _audit(db, uid, "member.joined")] == [site["acme"]]
    assert site["app"].test_client().get(f"/login/invite/{token}").status_code == 410  # the link was used
    with pytest.raises(Exception):
        accounts.authenticate(db, "new@acme.test", "")  # no password was set
    assert sign_in(_as(site, "late@acme.test", "sub-late")).headers["Location"] == "/login?sso=refused"
    assert _user_id(db, "late@acme.test") is None
    with db.session(system=True) as s:  # SSO did not use the expired invitation
        assert s.scalar(select(AccountToken.used_at).where(AccountToken.email == "late@acme.test")) is None
    assert sign_in(_as(site, "new@acme.test", "sub-new")).headers["Location"] == "/"  # later: the link signs in


def test_a_user_with_mfa_enrolled_is_asked_for_a_code(site):
    db = site["db"]
    accounts.create_user(db, "mfa@demo.test", "demo", "editor", password=PASSWORD)
    uid = _user_id(db, "mfa@demo.test")
    secret = mfa.start_enrolment(db, uid).secret
    now = time.time()
    mfa.confirm_enrolment(db, uid, pyotp.TOTP(secret).at(now), at=now)
    client = _as(site, "mfa@demo.test", "sub-mfa")
    response = sign_in(client, "/podcasts")
    assert response.headers["Location"] == "/login/mfa"
    assert client.get("/_dash-layout").status_code == 401 and _signed_in_as(client) is None
    done = client.post("/login/mfa", data={"code": pyotp.TOTP(secret).at(time.time() + 30)})
    assert done.status_code == 302 and done.headers["Location"] == "/podcasts"
    assert _signed_in_as(client) == uid and client.get("/_dash-layout").status_code == 200


def test_a_tenant_requiring_mfa_sends_an_sso_user_to_enrolment(site):
    db = site["db"]
    accounts.create_tenant(db, "strict", "Strict")
    accounts.create_user(db, "viewer@strict.test", "strict", "viewer", password=PASSWORD)
    mfa.set_tenant_requirement(db, TenantContext(accounts.get_tenant_by_slug(db, "strict").id, "owner"), True)
    client = _as(site, "viewer@strict.test", "sub-strict")
    assert sign_in(client).status_code == 302
    assert client.get("/podcasts").headers["Location"] == "/account/security"


def test_a_state_mismatch_or_a_replayed_answer_is_refused(site):
    provider = site["provider"]
    client = _as(site, "demo@example.com", "sub-demo")
    asked = len(provider.token_requests)
    response = sign_in(client, tamper=lambda q: {**q, "state": "forged-state"})
    assert response.headers["Location"] == "/login?sso=failed"
    assert len(provider.token_requests) == asked and _signed_in_as(client) is None  # the code was never redeemed
    assert "did not complete" in client.get("/login?sso=failed").get_data(as_text=True)
    answers = []
    first = sign_in(_as(site, "demo@example.com", "sub-demo"), tamper=lambda q: answers.append(q) or q)
    assert first.headers["Location"] == "/"
    replay = site["app"].test_client().get("/login/oidc/callback?code={code}&state={state}".format(**answers[0]))
    assert replay.headers["Location"] == "/login?sso=failed"


def test_an_id_token_with_another_nonce_is_refused(site):
    client = _as(site, "demo@example.com", "sub-demo")
    site["provider"].id_token_claims = {"nonce": "replayed-nonce"}
    assert sign_in(client).headers["Location"] == "/login?sso=failed"
    assert _signed_in_as(client) is None


def test_an_id_token_from_another_issuer_is_refused(site):
    client = _as(site, "demo@example.com", "sub-demo")
    site["provider"].id_token_claims = {"iss": "https://elsewhere.example.com"}
    assert sign_in(client).headers["Location"] == "/login?sso=failed"
    assert _signed_in_as(client) is None


def test_the_address_may_come_from_userinfo_instead_of_the_id_token(site):
    accounts.create_user(site["db"], "userinfo@demo.test", "demo", "viewer", password=PASSWORD)
    client = _as(site, "userinfo@demo.test", "sub-userinfo")  # not linked yet: only the address can decide
    site["provider"].id_token_omits = ("email", "email_verified")
    assert sign_in(client).headers["Location"] == "/"
    assert _signed_in_as(client) == _user_id(site["db"], "userinfo@demo.test")
    unlinked = _as(site, "owner@acme.test", "sub-userinfo-unverified", False)
    site["provider"].id_token_omits = ("email", "email_verified")
    assert sign_in(unlinked).headers["Location"] == "/login?sso=refused"  # userinfo's unverified address counts too


def test_the_identity_link_wins_over_a_changed_email(site):
    db = site["db"]
    accounts.create_user(db, "linked@demo.test", "demo", "viewer", password=PASSWORD)
    accounts.create_user(db, "other@acme.test", "acme", "owner", password=PASSWORD)
    linked, other = _user_id(db, "linked@demo.test"), _user_id(db, "other@acme.test")
    assert sign_in(_as(site, "linked@demo.test", "sub-linked")).status_code == 302
    moved = _as(site, "other@acme.test", "sub-linked")  # the provider now reports another account's address
    sign_in(moved)
    assert _signed_in_as(moved) == linked and "Signal" in _podcasts(moved)
    with db.session(system=True) as s:
        assert s.scalar(select(UserIdentity.id).where(UserIdentity.user_id == other)) is None
    # another account at the provider claiming the linked address does not take it over
    intruder = _as(site, "linked@demo.test", "sub-intruder")
    assert sign_in(intruder).headers["Location"] == "/login?sso=refused" and _signed_in_as(intruder) is None
    assert _audit(db, linked, "login.failed")[-1][1] == {"method": "oidc", "reason": "linked_elsewhere"}


def test_a_sponsor_user_lands_in_the_portal_and_sees_only_their_sponsor(site):
    client = _as(site, "coffee@demo.test", "sub-coffee")
    assert sign_in(client).headers["Location"] == "/campaigns"
    status, out = cc.campaigns_view(client)
    text = cc.text_of(out)
    assert status == 200 and "Holiday Blend" in text and "Lumen VPN" not in text


def test_a_provider_that_never_answers_times_out_back_to_login(tmp_path, seeded_sqlite):
    from app import create_app

    shutil.copy(seeded_sqlite, tmp_path / "podcast.db")
    silent = socket.socket()  # accepts connections (the backlog) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    server = create_app(make_settings(tmp_path, OIDC_ISSUER=f"http://127.0.0.1:{silent.getsockname()[1]}",
                                      OIDC_CLIENT_ID="x", OIDC_CLIENT_SECRET="y", OIDC_TIMEOUT_SECONDS="1"))
    try:
        client = server.test_client()
        began = time.monotonic()
        response = client.get("/login/oidc")
        assert time.monotonic() - began < 10
        assert response.status_code == 302 and response.headers["Location"] == "/login?sso=unavailable"
        assert "SSO could not be reached" in client.get("/login?sso=unavailable").get_data(as_text=True)
    finally:
        silent.close()
        server.extensions["podcast_platform"].db.dispose()
        job_context.reset()


def test_membership_rows_of_the_inviting_tenant_only(site):
    """The invitation path never adds a membership anywhere but its own tenant, even with invitations pending in two."""
    db = site["db"]
    account_links.invite(db, TenantContext(site["demo"], "owner"), "twice@acme.test", "viewer")
    account_links.invite(db, TenantContext(site["acme"], "owner"), "twice@acme.test", "editor")
    client = _as(site, "twice@acme.test", "sub-twice")
    assert sign_in(client).status_code == 302
    with db.session(system=True) as s:
        rows = s.execute(select(Membership.tenant_id, Membership.role).join(User, User.id == Membership.user_id)
                         .where(User.email == "twice@acme.test")).all()
    assert rows == [(site["acme"], "editor")]  # the newest invitation


def test_refusals_count_towards_the_same_account_backoff_as_wrong_passwords(site):
    db = site["db"]
    accounts.create_user(db, "backoff@demo.test", "demo", "viewer", password=PASSWORD)
    for attempt in range(10):
        assert sign_in(_as(site, "backoff@demo.test", f"sub-backoff-{attempt}", False)).status_code == 302
    client = _as(site, "backoff@demo.test", "sub-backoff")
    locked = sign_in(client)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "Too many sign-in attempts" in locked.get_data(as_text=True) and _signed_in_as(client) is None
    password = site["app"].test_client().post("/login", data={"email": "backoff@demo.test", "password": PASSWORD})
    assert password.status_code == 429  # one account, one backoff, whichever way it signs in
