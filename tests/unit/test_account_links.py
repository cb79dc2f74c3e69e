"""Password resets and team invitations by email (SQLite, jobs in-process, a real local SMTP server): single-use,
expiring links; the reset answer never tells whether an address has an account; invitations and role changes on the
Team page are for owners and admins of their own network only."""
from __future__ import annotations

import email
import email.policy
import re
import shutil
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update

from services import account_links, accounts
from services.models import AccountToken, Membership, User
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD, make_settings
from tests.unit.notify.smtp_server import Inbox, smtp_server
from tests.worlds import PASSWORD

ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def site(tmp_path, seeded_sqlite):
    from app import create_app

    shutil.copy(seeded_sqlite, tmp_path / "podcast.db")
    inbox = Inbox()
    with smtp_server(inbox) as url:
        server = create_app(make_settings(tmp_path, SMTP_URL=url))
        server.config["TESTING"] = True
        db = server.extensions["podcast_platform"].db
        demo = accounts.get_tenant_by_slug(db, "demo").id
        acme = accounts.create_tenant(db, "acme", "Acme").id
        accounts.create_user(db, "viewer@demo.test", "demo", "viewer", password=PASSWORD)
        accounts.create_user(db, "admin@demo.test", "demo", "admin", password=PASSWORD)
        accounts.create_user(db, "owner@acme.test", "acme", "owner", password=PASSWORD)
        yield {"app": server, "db": db, "inbox": inbox, "demo": demo, "acme": acme}
        db.dispose()


def _client(site, login=None, password=PASSWORD):
    client = site["app"].test_client()
    if login:
        password = DEMO_PASSWORD if login == "demo@example.com" else password
        assert client.post("/login", data={"email": login, "password": password}).status_code == 302
    return client


def _links(site, to: str) -> list[str]:
    found = []
    for recipients, raw in site["inbox"].messages:
        if to in recipients:
            body = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()
            found += re.findall(r"https?://[^\s]+(/login/(?:reset|invite)/[A-Za-z0-9_\-]+)", body)
    return found


def test_a_reset_link_sets_a_new_password_once_and_ends_old_sessions(site):
    old_session = _client(site, "viewer@demo.test")
    anonymous = _client(site)
    known = anonymous.post("/login/forgot", data={"email": "viewer@demo.test"}, headers=ORIGIN)
    unknown = anonymous.post("/login/forgot", data={"email": "nobody@demo.test"}, headers=ORIGIN)
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    [link] = _links(site, "viewer@demo.test")
    assert _links(site, "nobody@demo.test") == []
    assert anonymous.post(link, data={"password": "short"}, headers=ORIGIN).status_code == 422
    assert anonymous.post(link, data={"password": "brand-new-pass"}, headers=ORIGIN).status_code == 302
    again = anonymous.post(link, data={"password": "another-pass-1"}, headers=ORIGIN)
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)
    assert old_session.get("/settings").status_code == 302  # signed out by the reset
    assert _client(site).post("/login", data={"email": "viewer@demo.test", "password": PASSWORD}).status_code == 401
    _client(site, "viewer@demo.test", "brand-new-pass")


def test_an_expired_or_forged_reset_link_is_refused(site):
    _client(site).post("/login/forgot", data={"email": "viewer@demo.test"}, headers=ORIGIN)
    [link] = _links(site, "viewer@demo.test")
    with site["db"].session(system=True) as s:
        s.execute(update(AccountToken).values(expires_at=datetime(2020, 1, 1, tzinfo=timezone.utc)))
        s.commit()
    assert _client(site).post(link, data={"password": "brand-new-pass"}, headers=ORIGIN).status_code == 410
    assert _client(site).post("/login/reset/forged-token", data={"password": "brand-new-pass"},
                              headers=ORIGIN).status_code == 410
    cross_site = _client(site).post("/login/forgot", data={"email": "viewer@demo.test"},
                                    headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403


def _team(client, save=None, roles=(), invite=None):
    """Call the Team page's callback: save a role ({user id: role}) or invite (email, role, sponsor id)."""
    email_, role, sponsor = invite or (None, "viewer", None)
    save_inputs = [{"id": {"type": "team-save", "index": uid}, "property": "n_clicks", "value": 1 if uid == save
                    else None} for uid in roles]
    role_states = [{"id": {"type": "team-role", "index": uid}, "property": "value", "value": r}
                   for uid, r in roles.items()] if roles else []
    changed = ([f'{{"index":{save},"type":"team-save"}}.n_clicks'] if save else []) + \
        (["team-invite.n_clicks"] if invite else [])
    body = {"output": "..team-table.children...team-pending.children...team-invite-sponsor.options..."
                      "team-message.children..",
            "outputs": [{"id": i, "property": p} for i, p in (("team-table", "children"), ("team-pending", "children"),
                                                            ("team-invite-sponsor", "options"),
                                                            ("team-message", "children"))],
            "inputs": [save_inputs, {"id": "team-invite", "property": "n_clicks", "value": 1 if invite else None}],
            "state": [role_states, {"id": "team-invite-email", "property": "value", "value": email_},
                      {"id": "team-invite-role", "property": "value", "value": role},
                      {"id": "team-invite-sponsor", "property": "value", "value": sponsor}],
            "changedPropIds": changed}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    return str(response.get_json()["response"])


def test_an_invitation_joins_once_with_its_role(site):
    admin = _client(site, "admin@demo.test")
    assert "Invitation sent" in _team(admin, invite=("new@demo.test", "editor", None))
    assert "new@demo.test" in _team(admin)
    [link] = _links(site, "new@demo.test")
    page = _client(site).get(link)
    assert page.status_code == 200 and "Join Demo" in page.get_data(as_text=True)
    assert _client(site).post(link, data={"name": "New", "password": "new-user-pass"},
                              headers=ORIGIN).status_code == 302
    assert _client(site).post(link, data={"password": "new-user-pass"}, headers=ORIGIN).status_code == 410
    with site["db"].session(system=True) as s:
        role = s.scalar(select(Membership.role).join(User, User.id == Membership.user_id)
                        .where(User.email == "new@demo.test", Membership.tenant_id == site["demo"]))
    assert role == "editor"
    _client(site, "new@demo.test", "new-user-pass")


def test_an_existing_account_confirms_with_its_password(site):
    token = account_links.invite(site["db"], TenantContext(site["acme"], "owner"), "viewer@demo.test", "admin")
    link = f"/login/invite/{token}"
    assert _client(site).post(link, data={"password": "wrong-password"}, headers=ORIGIN).status_code == 422
    assert _client(site).post(link, data={"password": PASSWORD}, headers=ORIGIN).status_code == 302
    assert {m.tenant_id for m in accounts.memberships_for_user(
        site["db"], accounts.authenticate(site["db"], "viewer@demo.test", PASSWORD).id)} == {site["demo"],
                                                                                               site["acme"]}


def test_team_management_is_for_owners_and_admins_of_their_own_network(site):
    viewer, acme_owner = _client(site, "viewer@demo.test"), _client(site, "owner@acme.test")
    assert "may not do this" in _team(viewer, invite=("x@demo.test", "viewer", None))
    with site["db"].session(system=True) as s:
        viewer_id = s.scalar(select(User.id).where(User.email == "viewer@demo.test"))
        assert s.scalar(select(AccountToken.id).where(AccountToken.email == "x@demo.test")) is None
    assert "no member" in _team(acme_owner, save=viewer_id, roles={viewer_id: "admin"})
    assert "viewer@demo.test" not in _team(acme_owner)
    owner = _client(site, "demo@example.com")
    assert "Role saved" in _team(owner, save=viewer_id, roles={viewer_id: "editor"})
    assert [m.role for m in accounts.list_members(site["db"], TenantContext(site["demo"], "owner"))
            if m.email == "viewer@demo.test"] == ["editor"]
    assert viewer.get("/settings").status_code == 302  # the role change ended the viewer's session
    admin = _client(site, "admin@demo.test")
    assert "only an owner" in _team(admin, invite=("boss@demo.test", "owner", None))
    assert "already a member" in _team(admin, invite=("viewer@demo.test", "viewer", None))
