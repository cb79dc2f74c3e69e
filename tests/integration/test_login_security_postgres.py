"""Sign-in throttling and sessions with two app instances on one PostgreSQL database and one Redis: the IP limit and
the account backoff are counted once for both, a lockout is audited and shown in its own tenant only (under row-level
security), and sign out everywhere or a role change on one instance ends sessions held on the other."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app import create_app
from services import accounts
from services.errors import NotFound
from services.login_throttle import LOCKOUT_KIND
from services.models import AuditLog
from services.notify import inapp
from tests.conftest import make_settings

PASSWORD = "password-123"


@pytest.fixture
def two_apps(pg_url, redis_url, tmp_path):
    apps = [create_app(make_settings(tmp_path / name, DATABASE_URL=pg_url, REDIS_URL=redis_url,
                                     LOGIN_RATE_LIMIT_IP="4/minute")) for name in ("a", "b")]
    yield apps
    for server in apps:
        server.extensions["podcast_platform"].db.dispose()


@pytest.fixture
def world(two_apps):
    """Two tenants with an owner each (unique emails: Redis keeps counters between tests of a run)."""
    db = two_apps[0].extensions["podcast_platform"].db
    tag = uuid.uuid4().hex[:8]
    owners = {}
    for slug in ("acme", "beta"):
        accounts.create_tenant(db, f"{slug}-{tag}", slug.title())
        user, _ = accounts.create_user(db, f"owner-{tag}@{slug}.test", f"{slug}-{tag}", "owner", password=PASSWORD)
        owners[slug] = user
    editor, _ = accounts.create_user(db, f"editor-{tag}@acme.test", f"acme-{tag}", "editor", password=PASSWORD)
    return db, owners, editor, tag


def _from(client, ip):
    """Every request of this client comes from `ip` (the session is bound to its address)."""
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def _attempt(client, email, password, ip):
    return client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})


def test_the_ip_limit_is_shared_by_both_instances(two_apps, world):
    _, owners, _, tag = world
    ip = f"198.51.100.{int(tag[:2], 16) % 250 + 1}"
    a, b = (server.test_client() for server in two_apps)
    statuses = [_attempt(client, owners["acme"].email, "wrong", ip).status_code for client in (a, b, a, b)]
    over = _attempt(a, owners["acme"].email, PASSWORD, ip)
    assert statuses == [401] * 4 and over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert _attempt(b, owners["acme"].email, "wrong", ip).status_code == 429


def test_the_account_backoff_is_shared_and_audited_in_its_own_tenant(two_apps, world):
    db, owners, _, _ = world
    a, b = (server.test_client() for server in two_apps)
    email = owners["acme"].email
    statuses = [_attempt(a if i % 2 else b, email, "wrong", f"203.0.113.{i + 1}").status_code for i in range(10)]
    assert statuses == [401] * 10
    locked = [_attempt(client, email.upper(), PASSWORD, "203.0.113.200") for client in (a, b)]
    assert [r.status_code for r in locked] == [429, 429] and locked[0].headers["Retry-After"] == "60"
    # Another account is untouched, and a stranger's email gets the same refusal after the same run.
    assert _attempt(b, owners["beta"].email, PASSWORD, "203.0.113.201").status_code == 302
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@acme.test"
    assert [_attempt(a, unknown, "wrong", f"203.0.114.{i + 1}").status_code for i in range(10)] == [401] * 10
    assert _attempt(b, unknown, "wrong", "203.0.113.202").status_code == 429

    acme = accounts.resolve_context(db, owners["acme"].id)
    beta = accounts.resolve_context(db, owners["beta"].id)
    assert [n.kind for n in inapp.list_notifications(db, acme)] == [LOCKOUT_KIND]
    assert inapp.list_notifications(db, beta) == []
    with db.session(beta.tenant_id) as s:  # row-level security: beta's session sees none of acme's audit rows
        assert s.scalars(select(AuditLog.action).where(AuditLog.action == "login.locked")).all() == []
    with db.session(acme.tenant_id) as s:
        assert s.scalars(select(AuditLog.user_id).where(AuditLog.action == "login.locked")).all() == [owners["acme"].id]


def test_sign_out_everywhere_reaches_the_other_instance(two_apps, world):
    _, owners, _, _ = world
    a, b = (server.test_client() for server in two_apps)
    email = owners["acme"].email
    a, b = _from(a, "192.0.2.10"), _from(b, "192.0.2.11")
    assert _attempt(a, email, PASSWORD, "192.0.2.10").status_code == 302
    assert _attempt(b, email, PASSWORD, "192.0.2.11").status_code == 302
    assert b.get("/_dash-layout").status_code == 200
    assert a.post("/account/sign-out-everywhere").status_code == 302
    assert a.get("/_dash-layout").status_code == 401 and b.get("/_dash-layout").status_code == 401


def test_a_role_change_on_postgres_ends_only_that_members_sessions(two_apps, world):
    db, owners, editor, _ = world
    a, b = (server.test_client() for server in two_apps)
    a, b = _from(a, "192.0.2.21"), _from(b, "192.0.2.20")
    assert _attempt(b, editor.email, PASSWORD, "192.0.2.20").status_code == 302
    assert _attempt(a, owners["acme"].email, PASSWORD, "192.0.2.21").status_code == 302
    with pytest.raises(NotFound):  # another tenant's owner cannot reach this member
        accounts.change_role(db, accounts.resolve_context(db, owners["beta"].id), editor.id, "viewer")
    assert b.get("/_dash-layout").status_code == 200
    accounts.change_role(db, accounts.resolve_context(db, owners["acme"].id), editor.id, "viewer")
    assert b.get("/_dash-layout").status_code == 401 and a.get("/_dash-layout").status_code == 200
