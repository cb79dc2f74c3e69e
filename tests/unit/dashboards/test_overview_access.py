"""The overview's questions: sponsor users get no tenant totals, and another tenant sees nothing of the demo's."""
import pytest

from services import accounts
from services.dashboards import overview
from services.dashboards.periods import ViewState
from services.errors import PermissionDenied
from services.tenancy import TenantContext


def _ctx(db, slug="demo", role="owner"):
    tenant = accounts.get_tenant_by_slug(db, slug)
    return TenantContext(tenant_id=tenant.id, role=role, tenant_slug=slug, tenant_name=tenant.name)


ALL = ViewState.from_query({"range": "all"})


def test_sponsor_users_get_no_tenant_totals(db):
    ctx = _ctx(db)
    assert overview.overview_kpis(db, ctx, ALL).current.downloads > 0
    sponsor = TenantContext(tenant_id=ctx.tenant_id, role="sponsor", sponsor_id=1)
    with pytest.raises(PermissionDenied):
        overview.overview_kpis(db, sponsor, ALL)
    with pytest.raises(PermissionDenied):
        overview.downloads_timeline(db, sponsor, ALL)


def test_another_tenant_sees_nothing_of_demo(db):
    assert overview.overview_kpis(db, _ctx(db), ALL).current.downloads > 0
    accounts.create_tenant(db, "acme", "Acme")
    acme = _ctx(db, "acme")
    kpis = overview.overview_kpis(db, acme, ALL)
    assert (kpis.current.downloads, kpis.current.episodes_released) == (0, 0)
    assert overview.downloads_timeline(db, acme, ALL).downloads.sum() == 0
    assert overview.top_episodes(db, acme, ALL).empty
