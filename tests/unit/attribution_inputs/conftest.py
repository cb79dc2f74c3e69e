"""The demo network on SQLite (tests/conftest.py's app) with API keys and the demo sponsors at hand."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from services import accounts, api_keys
from services.models import Campaign, Sponsor
from services.tenancy import TenantContext
from tests.conftest import clear_demo_conversions


def bearer(db, slug: str, scopes) -> dict:
    tenant = accounts.get_tenant_by_slug(db, slug)
    _, key = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "conversions", tuple(scopes))
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Demo:
    tenant_id: int
    sponsor_id: int
    pixel_key: str
    campaign_id: int
    promo_code: str
    landing_url: str

    def ctx(self, role: str = "editor") -> TenantContext:
        return TenantContext(self.tenant_id, role)


@pytest.fixture(autouse=True)
def _no_demo_conversions(db):
    clear_demo_conversions(db, accounts.get_tenant_by_slug(db, "demo").id)


@pytest.fixture
def demo_sponsor(db) -> Demo:
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        sponsor = s.scalar(select(Sponsor).where(Sponsor.name == "Northwind Coffee"))
        campaign = s.scalar(select(Campaign).where(Campaign.sponsor_id == sponsor.id).order_by(Campaign.id))
    return Demo(tenant.id, sponsor.id, sponsor.pixel_key, campaign.id, campaign.promo_code, campaign.landing_url)


@pytest.fixture
def write_key(db):
    return bearer(db, "demo", ("read", "write"))


@pytest.fixture
def read_key(db):
    return bearer(db, "demo", ("read",))


@pytest.fixture
def other_tenant_key(db):
    accounts.create_tenant(db, "acme", "Acme")
    return bearer(db, "acme", ("read", "write"))
