"""Login sessions: a fresh session at sign-in, sign out everywhere, a role change ending the member's sessions (within
the asking tenant only), and the idle timeout (with a movable clock, not sleeps)."""
import pytest
from sqlalchemy import select

from api import sessions
from services import accounts, demo
from services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from services.models import AuditLog
from tests.conftest import DEMO_PASSWORD


def _login(client, email=demo.DEMO_EMAIL, password=DEMO_PASSWORD):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.data
    return response


def _signed_in(client) -> bool:
    return client.get("/_dash-layout").status_code == 200


def test_sign_in_starts_a_new_session(client):
    with client.session_transaction() as before:
        before["planted"] = "by someone else"
    _login(client)
    with client.session_transaction() as after:
        assert "planted" not in after and after["sid"] and after[sessions.GENERATION] == 0
        first_sid = after["sid"]
    client.post("/logout")
    _login(client)
    with client.session_transaction() as again:
        assert again["sid"] != first_sid


def test_sign_out_everywhere_ends_the_other_clients_sessions(app, db):
    laptop, phone = app.test_client(), app.test_client()
    _login(laptop), _login(phone)
    answer = laptop.post("/account/sign-out-everywhere")
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert not _signed_in(laptop) and not _signed_in(phone)
    _login(phone)  # a new sign-in carries the new generation
    assert _signed_in(phone)
    with db.session(system=True) as s:
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "user.signed_out_everywhere")) is not None


def test_sign_out_everywhere_needs_a_session_and_our_origin(app):
    anonymous = app.test_client()
    assert anonymous.post("/account/sign-out-everywhere").headers["Location"].startswith("/login")
    client = app.test_client()
    _login(client)
    assert client.post("/account/sign-out-everywhere", headers={"Origin": "https://evil.example.com"}).status_code == 403
    assert _signed_in(client)


def test_the_settings_page_offers_sign_out_everywhere(demo_client):
    from pages.settings import layout

    form = layout().children[-1].children[-1]
    assert form.action == "/account/sign-out-everywhere" and form.method == "post"


@pytest.fixture
def editor(db):
    user, _ = accounts.create_user(db, "editor@example.com", "demo", "editor", password="password-1")
    return user


def _owner(db):
    return accounts.resolve_context(db, accounts.authenticate(db, demo.DEMO_EMAIL, DEMO_PASSWORD).id)


def test_a_role_change_ends_the_members_sessions(app, db, editor):
    member, owner = app.test_client(), app.test_client()
    _login(member, "editor@example.com", "password-1"), _login(owner)
    changed = accounts.change_role(db, _owner(db), editor.id, "viewer")
    assert changed.role == "viewer"
    assert not _signed_in(member) and _signed_in(owner)
    _login(member, "editor@example.com", "password-1")
    assert accounts.resolve_context(db, editor.id).role == "viewer"
    with db.session(system=True) as s:
        detail = s.scalar(select(AuditLog.detail).where(AuditLog.action == "membership.role_changed"))
    assert detail == {"role": ["editor", "viewer"]}


def test_another_tenant_cannot_change_a_role_or_end_sessions(app, db, editor):
    accounts.create_tenant(db, "other", "Other Network")
    other_owner, _ = accounts.create_user(db, "owner@other.test", "other", "owner", password="password-1")
    member = app.test_client()
    _login(member, "editor@example.com", "password-1")
    with pytest.raises(NotFound):
        accounts.change_role(db, accounts.resolve_context(db, other_owner.id), editor.id, "viewer")
    assert _signed_in(member) and accounts.resolve_context(db, editor.id).role == "editor"


def test_role_change_rules(db, editor):
    owner = _owner(db)
    admin_user, _ = accounts.create_user(db, "admin@example.com", "demo", "admin", password="password-1")
    admin = accounts.resolve_context(db, admin_user.id)
    viewer = accounts.change_role(db, owner, editor.id, "viewer") and accounts.resolve_context(db, editor.id)
    with pytest.raises(PermissionDenied):
        accounts.change_role(db, viewer, editor.id, "admin")  # viewers change nothing
    with pytest.raises(PermissionDenied):
        accounts.change_role(db, admin, editor.id, "owner")  # only an owner makes owners
    with pytest.raises(ValidationError):
        accounts.change_role(db, owner, editor.id, "superuser")
    with pytest.raises(Conflict):
        accounts.change_role(db, owner, owner.user_id, "admin")  # the last owner stays
    assert accounts.change_role(db, admin, editor.id, "editor").role == "editor"


class Clock:
    def __init__(self):
        self.now = 3_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    ticking = Clock()
    monkeypatch.setattr(sessions, "_now", ticking)
    return ticking


def test_an_idle_session_is_signed_out(client, clock):
    _login(client)
    clock.now += 30
    first = client.get("/_dash-layout")
    assert first.status_code == 200 and "Set-Cookie" not in first.headers  # last-seen kept: no new cookie
    clock.now += 60
    refreshed = client.get("/_dash-layout")
    assert refreshed.status_code == 200 and "Set-Cookie" in refreshed.headers  # refreshed once a minute
    clock.now += 120 * 60  # exactly the limit since last seen: still in
    assert _signed_in(client)
    clock.now += 120 * 60 + 1
    assert not _signed_in(client)
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")


def test_idle_timeout_zero_is_off(tmp_path, seeded_sqlite, clock):
    import shutil

    from app import create_app
    from jobs import context as job_context
    from tests.conftest import make_settings

    shutil.copy(seeded_sqlite, tmp_path / "podcast.db")
    server = create_app(make_settings(tmp_path, SESSION_IDLE_MINUTES="0"))
    try:
        client = server.test_client()
        _login(client)
        clock.now += 30 * 24 * 3600
        assert _signed_in(client)
    finally:
        server.extensions["podcast_platform"].db.dispose()
        job_context.reset()
