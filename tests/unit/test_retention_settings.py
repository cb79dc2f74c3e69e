"""Per-tenant retention on the demo network (SQLite, jobs in-process): an owner sets 30 days on the privacy page, and
the daily retention job then removes that tenant's older raw requests and conversions only, never a request not
yet counted, while the other tenant (deployment default) keeps its own. Only an owner of the tenant changes it; bad
values get clear errors and change nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services import accounts
from services.measurement.methodology import methodology
from services.models import AuditLog, CountingState, Download, Tenant
from tests.retention_data import count, left, plant, save_retention
from tests.conftest import DEMO_PASSWORD
from tests.worlds import demo_world

ROLES = ("owner", "admin", "viewer", "sponsor_own", "other_tenant")


@pytest.fixture(scope="module")
def world(tmp_path_factory, seeded_sqlite):
    with demo_world(tmp_path_factory, seeded_sqlite, "retention", ROLES) as w:
        yield w


def _stored(db, tenant_id) -> tuple:
    with db.session(system=True) as s:
        return tuple(s.execute(select(Tenant.raw_request_retention_days, Tenant.conversion_retention_days)
                               .where(Tenant.id == tenant_id)).one())


@pytest.mark.parametrize("raw, conversions, error", [
    ("abc", "", "raw requests: a whole number of days"),
    ("29", "", "raw requests: between 30 and 90 days"),
    ("91", "", "raw requests: between 30 and 90 days"),
    ("-30", "", "raw requests: between 30 and 90 days"),
    ("", "3651", "conversions: between 30 and 3650 days"),
    ("", "12.5", "conversions: a whole number of days"),
    ("30", "ten", "conversions: a whole number of days"),
])
def test_bad_values_get_clear_errors_and_change_nothing(world, raw, conversions, error):
    before = _stored(world["db"], world["demo"])
    _r, _c, status = save_retention(world["clients"]["owner"], raw, conversions)
    assert error in status and _stored(world["db"], world["demo"]) == before


def test_only_an_owner_of_the_tenant_changes_its_retention(world):
    db, demo, acme = world["db"], world["demo"], world["acme"]
    before = _stored(db, demo)
    for role in ("admin", "viewer", "sponsor_own"):
        _r, _c, status = save_retention(world["clients"][role], "30", "30")
        assert "may not do this" in status or "sponsor users" in status, role
    assert _stored(db, demo) == before
    # Acme's owner sets acme's own retention; the demo network's stays.
    assert save_retention(world["clients"]["other_tenant"], "60", "")[:2] == ("60", "")
    assert _stored(db, acme) == (60, None) and _stored(db, demo) == before
    save_retention(world["clients"]["other_tenant"], "", "")
    assert _stored(db, acme) == (None, None)


def test_the_job_applies_each_tenants_own_retention(world):
    from jobs.measure import purge_expired

    db, demo, acme = world["db"], world["demo"], world["acme"]
    plant(db, demo, "a")  # demo (A): counted through today
    plant(db, acme, "b")  # acme (B): the deployment default, counted through today
    downloads = count(db, Download, demo)
    assert save_retention(world["clients"]["owner"], " 30 ", "30")[:2] == ("30", "30")
    assert _stored(db, demo) == (30, 30)
    owner = accounts.resolve_context(db, accounts.authenticate(db, "demo@example.com", DEMO_PASSWORD).id, demo)
    assert methodology(db, owner)["retention"].startswith("raw requests are kept 30 days")
    with db.session(system=True) as s:
        changed = s.scalars(select(AuditLog).where(AuditLog.action == "privacy.retention_changed",
                                                   AuditLog.tenant_id == demo)).all()
    assert [c.detail for c in changed] == [{"raw_request_retention_days": [None, 30],
                                           "conversion_retention_days": [None, 30]}]
    assert "Retention saved" in save_retention(world["clients"]["owner"], "30", "30")[2]
    with db.session(system=True) as s:  # saving the same values again is no change
        assert len(s.scalars(select(AuditLog).where(AuditLog.action == "privacy.retention_changed",
                                                    AuditLog.tenant_id == demo)).all()) == 1

    report = purge_expired()
    assert left(db, "a") == {"raw": [5], "conversions": [5], "touchpoints": [5]}
    assert left(db, "b") == {"raw": [5, 35, 45], "conversions": [5, 35, 45], "touchpoints": [5, 35, 45]}
    assert report["tenants"][demo]["raw_requests"] >= 2 and report["tenants"][demo]["conversions"] >= 2
    assert report["tenants"][demo]["touchpoints"] >= 2
    assert report["tenants"][acme] == {"raw_requests": 0, "conversions": 0, "touchpoints": 0}
    assert count(db, Download, demo) == downloads  # counted downloads stay


def test_raw_requests_not_yet_counted_are_kept(world):
    from services.measurement import retention

    db, acme = world["db"], world["acme"]
    plant(db, acme, "c", counted_days_ago=40)  # counting reached only 40 days ago
    save_retention(world["clients"]["other_tenant"], "30", "")
    report = retention.purge_expired(db)
    # Past 30 days but not yet counted (35 days old) stays; 45 days old, counted, goes. Conversions: default, kept.
    assert left(db, "c") == {"raw": [5, 35], "conversions": [5, 35, 45], "touchpoints": [5, 35, 45]}
    assert report["tenants"][acme]["raw_requests"] >= 1
    plant(db, acme, "d", counted_days_ago=None)
    with db.session(system=True) as s:
        s.delete(s.get(CountingState, acme))
        s.commit()
    retention.purge_expired(db)
    assert left(db, "d")["raw"] == [5, 35, 45]  # never counted: nothing goes
    assert retention.purge_expired(db, conversion_default_days=40)["tenants"][acme]["conversions"] >= 2
    assert left(db, "d")["conversions"] == [5, 35]
