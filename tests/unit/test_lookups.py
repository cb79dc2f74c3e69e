"""The web lookups on SQLite: the same questions as PostgreSQL's SECURITY DEFINER functions, as plain queries."""
from __future__ import annotations

import pytest

from services import accounts, api_keys, demo, lookups
from services.sharing import store
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD
from tests.lookups_checks import check_every_kind, check_user_memberships


def test_every_kind_names_its_tenant_and_unknown_keys_none(db):
    tenant_id = accounts.get_tenant_by_slug(db, "demo").id
    other = accounts.create_tenant(db, "other", "Other")
    owner = TenantContext(tenant_id, "owner")
    api_keys.create_api_key(db, owner, "k")
    api_keys.create_api_key(db, TenantContext(other.id, "owner"), "theirs")
    store.create_embed(db, owner, {"chart": "downloads_timeline", "filters": {"period": "last_30_days"}})
    check_every_kind(db, tenant_id)
    with pytest.raises(KeyError):
        lookups.tenant_of(db, "no-such-kind", "x")


def test_a_users_memberships_and_nobody_elses(db):
    user = accounts.authenticate(db, demo.DEMO_EMAIL, DEMO_PASSWORD)
    tenant_id = accounts.get_tenant_by_slug(db, "demo").id
    accounts.create_tenant(db, "other", "Other")
    accounts.create_user(db, demo.DEMO_EMAIL, "other", "viewer")
    check_user_memberships(db, user.id, [tenant_id, accounts.get_tenant_by_slug(db, "other").id])
