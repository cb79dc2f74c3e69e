"""Webhook test fixtures: a migrated SQLite database with two tenants, set as the jobs' context (jobs run
in-process, private addresses allowed), and a real local receiver."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from jobs import context as job_context
from services import accounts, migrate
from services.db import Database
from services.models.base import utcnow
from services.notify.webhooks import endpoints
from services.tenancy import TenantContext
from tests.conftest import make_settings
from tests.webhook_receiver import Receiver


@pytest.fixture
def wh_settings(tmp_path):
    return make_settings(tmp_path, WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_TIMEOUT_SECONDS="5")


@pytest.fixture
def wh_db(wh_settings):
    migrate.upgrade(wh_settings.database_url)
    db = Database(wh_settings.database_url)
    job_context.set_settings(wh_settings)
    job_context.set_db(db)
    yield db
    job_context.reset()
    db.dispose()


@pytest.fixture
def tenants(wh_db) -> dict[str, int]:
    return {slug: accounts.create_tenant(wh_db, slug, slug.title()).id for slug in ("acme", "globex")}


@pytest.fixture
def receivers():
    """Start receivers on demand: `receivers()` returns a started one; all stop after the test."""
    started: list[Receiver] = []

    def start() -> Receiver:
        started.append(Receiver().start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def receiver(receivers):
    return receivers()


def owner(tenant_id: int) -> TenantContext:
    return TenantContext(tenant_id, "owner", user_id=None)


def add_endpoint(db: Database, tenant_id: int, url: str, events: list[str] | None = None) -> tuple[int, str]:
    info, secret = endpoints.create_endpoint(db, owner(tenant_id), {"url": url, "events": events or []},
                                             allow_private=True)
    return info.id, secret


def fake_event(tenant_id: int, type_: str = "campaign.created", event_id: int = 101, payload: dict | None = None):
    """What the dispatcher hands a handler (services.events.outbox.Event's fields), without a recorded event."""
    return SimpleNamespace(id=event_id, tenant_id=tenant_id, type=type_, payload=payload or {"campaign_id": 5},
                           occurred_at=utcnow())
