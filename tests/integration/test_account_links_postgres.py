"""Invitations and password resets on PostgreSQL (row-level security on account_tokens): one tenant's invitations
are invisible to another's owner, a link joins once, and a reset link sets the password once."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from app import create_app
from services import account_links, accounts
from services.errors import Gone
from services.models import AccountToken
from services.tenancy import TenantContext
from tests.conftest import make_settings


@pytest.fixture
def app_pg(pg_url, tmp_path):
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url))
    db = server.extensions["podcast_platform"].db
    tenants = {}
    for slug in ("alpha", "beta"):
        tenants[slug] = accounts.create_tenant(db, slug, slug.title()).id
        accounts.create_user(db, f"owner@{slug}.test", slug, "owner", password="password-123")
    yield db, tenants
    db.dispose()


def test_invitations_stay_in_their_tenant_and_links_work_once(app_pg):
    db, tenants = app_pg
    alpha, beta = (TenantContext(tenants[t], "owner") for t in ("alpha", "beta"))
    token = account_links.invite(db, alpha, "new@alpha.test", "viewer")
    assert [p.email for p in account_links.pending_invites(db, alpha)] == ["new@alpha.test"]
    assert account_links.pending_invites(db, beta) == []
    with db.session(tenants["beta"]) as s:  # the policy hides alpha's token from a beta session
        assert s.query(AccountToken).count() == 0
    user = account_links.accept_invite(db, token, "new-user-pass")
    with pytest.raises(Gone):
        account_links.accept_invite(db, token, "new-user-pass")
    assert [m.role for m in accounts.memberships_for_user(db, user.id)] == ["viewer"]
    account_links.request_reset(db, "new@alpha.test")
    with db.session(system=True) as s:
        reset_rows = s.execute(text("SELECT tenant_id FROM account_tokens WHERE purpose = 'reset'")).scalars().all()
    assert reset_rows == [tenants["alpha"]]
