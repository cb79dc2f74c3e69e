"""The demo network (tests/conftest.py's app) with a login per role this module's pages care about: an editor,
a viewer, Northwind Coffee's own sponsor user, Lumen VPN's sponsor user, and another tenant's owner."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from services import accounts
from services.models import Campaign, Sponsor
from services.tenancy import TenantContext
from tests.conftest import clear_demo_conversions

PASSWORD = "password-123"


@dataclass
class Demo:
    tenant_id: int
    other_tenant_id: int
    sponsors: dict[str, int]
    pixel_keys: dict[str, str]
    campaigns: dict[str, int]
    clients: dict[str, object] = field(default_factory=dict)

    def ctx(self, role: str = "editor", sponsor: str | None = None) -> TenantContext:
        return TenantContext(self.tenant_id, role, sponsor_id=self.sponsors[sponsor] if sponsor else None)


@pytest.fixture(autouse=True)
def _no_demo_conversions(db):
    clear_demo_conversions(db, accounts.get_tenant_by_slug(db, "demo").id)


@pytest.fixture
def demo(app, db) -> Demo:
    tenant = accounts.get_tenant_by_slug(db, "demo")
    other = accounts.create_tenant(db, "acme", "Acme")
    with db.session(tenant.id) as s:
        rows = s.execute(select(Sponsor.name, Sponsor.id, Sponsor.pixel_key)).all()
        campaigns = dict(s.execute(select(Campaign.name, Campaign.id)).all())
    found = Demo(tenant.id, other.id, {n: i for n, i, _ in rows}, {n: k for n, _, k in rows}, campaigns)
    logins = {"editor": ("editor@demo.test", "demo", "editor", None),
              "viewer": ("viewer@demo.test", "demo", "viewer", None),
              "sponsor_own": ("coffee@demo.test", "demo", "sponsor", found.sponsors["Northwind Coffee"]),
              "sponsor_other": ("vpn@demo.test", "demo", "sponsor", found.sponsors["Lumen VPN"]),
              "other_tenant": ("owner@acme.test", "acme", "owner", None)}
    for role, (email, slug, kind, sponsor_id) in logins.items():
        accounts.create_user(db, email, slug, kind, password=PASSWORD, sponsor_id=sponsor_id)
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
        found.clients[role] = client
    return found
