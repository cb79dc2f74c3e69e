"""The demo network's people for the notification and event tests: owner, admin, editor, viewer, a sponsor user of
each demo sponsor, and another tenant's owner; with their tenant contexts."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from services import accounts, demo
from services.events import outbox, workflow
from services.models import Sponsor, User
from services.tenancy import TenantContext

PASSWORD = "password-123"


@dataclass
class People:
    tenant_id: int
    other_tenant_id: int
    sponsors: dict[str, int]
    ids: dict[str, int] = field(default_factory=dict)
    contexts: dict[str, TenantContext] = field(default_factory=dict)

    def ctx(self, who: str) -> TenantContext:
        return self.contexts[who]


def make_people(db) -> People:
    tenant = accounts.get_tenant_by_slug(db, "demo")
    other = accounts.create_tenant(db, "acme", "Acme")
    with db.session(tenant.id) as s:
        sponsors = dict(s.execute(select(Sponsor.name, Sponsor.id)).all())
        owner_id = s.scalar(select(User.id).where(User.email == demo.DEMO_EMAIL))
    people = People(tenant.id, other.id, sponsors, {"owner": owner_id})
    logins = {"admin": ("admin@demo.test", "demo", "admin", None),
              "editor": ("editor@demo.test", "demo", "editor", None),
              "viewer": ("viewer@demo.test", "demo", "viewer", None),
              "coffee": ("coffee@demo.test", "demo", "sponsor", sponsors["Northwind Coffee"]),
              "vpn": ("vpn@demo.test", "demo", "sponsor", sponsors["Lumen VPN"]),
              "acme": ("owner@acme.test", "acme", "owner", None)}
    for who, (email, slug, role, sponsor_id) in logins.items():
        user, _ = accounts.create_user(db, email, slug, role, password=PASSWORD, sponsor_id=sponsor_id)
        people.ids[who] = user.id
    for who, user_id in people.ids.items():
        people.contexts[who] = accounts.resolve_context(db, user_id)
    return people


def quiet_trigger(db) -> None:
    """Commits on this database enqueue nothing: the test runs the dispatcher itself."""
    outbox.set_trigger(db.engine, None)


def login(app, email: str):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


@pytest.fixture(name="people")
def people_fixture(db) -> People:
    return make_people(db)


@pytest.fixture(name="fakes")
def fakes_fixture(monkeypatch):
    """Other domains' handlers replaced by counting fakes (the real ones live on other branches)."""
    from tests.unit.events import fake_handlers

    fake_handlers.reset()
    monkeypatch.setitem(workflow.HANDLERS, "webhooks.fan_out", fake_handlers.fan_out)
    monkeypatch.setitem(workflow.HANDLERS, "matchmaking.recommend", fake_handlers.make("matchmaking"))
    yield fake_handlers
    fake_handlers.reset()


def campaign_form(sponsor_id: int, name: str = "Morning Ritual") -> dict:
    return {"sponsor_id": sponsor_id, "name": name, "start_date": "2026-06-01", "end_date": "2026-06-30",
            "pricing": "cpm", "cpm": "25"}
