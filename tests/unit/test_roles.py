"""Roles are enforced in services: viewers change nothing, sponsor users see only their sponsor's rows."""
import pytest
from sqlalchemy import select

from services import accounts
from services.sponsorship import campaigns
from services.errors import Conflict, NotFound, PermissionDenied
from services.models import AuditLog, Sponsor
from services.tenancy import TenantContext


@pytest.fixture
def demo_ctx(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        sponsors = dict(s.execute(select(Sponsor.name, Sponsor.id)).all())
    return tenant.id, sponsors


def _ctx(tenant_id, role, sponsor_id=None):
    return TenantContext(tenant_id=tenant_id, role=role, user_id=None, sponsor_id=sponsor_id)


def test_staff_see_every_campaign_sponsors_only_their_own(db, demo_ctx):
    tenant_id, sponsors = demo_ctx
    assert len(campaigns.list_campaigns(db, _ctx(tenant_id, "viewer"))) == 3
    coffee = campaigns.list_campaigns(db, _ctx(tenant_id, "sponsor", sponsors["Northwind Coffee"]))
    assert {c.sponsor for c in coffee} == {"Northwind Coffee"} and len(coffee) == 2
    vpn_view = campaigns.list_sponsors(db, _ctx(tenant_id, "sponsor", sponsors["Lumen VPN"]))
    assert vpn_view == [(sponsors["Lumen VPN"], "Lumen VPN")]  # no other sponsor's name


def test_viewer_and_sponsor_cannot_change_status(db, demo_ctx):
    tenant_id, sponsors = demo_ctx
    campaign = campaigns.list_campaigns(db, _ctx(tenant_id, "owner"))[2]
    for ctx in (_ctx(tenant_id, "viewer"), _ctx(tenant_id, "sponsor", sponsors["Northwind Coffee"])):
        with pytest.raises(PermissionDenied):
            campaigns.change_campaign_status(db, ctx, campaign.id, "live")


def test_editor_moves_along_the_workflow_and_it_is_audited(db, demo_ctx):
    tenant_id, _ = demo_ctx
    approved = next(c for c in campaigns.list_campaigns(db, _ctx(tenant_id, "owner")) if c.status == "approved")
    editor = _ctx(tenant_id, "editor")
    assert campaigns.change_campaign_status(db, editor, approved.id, "live").status == "live"
    with pytest.raises(Conflict):
        campaigns.change_campaign_status(db, editor, approved.id, "draft")
    with db.session(tenant_id) as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.entity_id == approved.id, AuditLog.entity_type == "campaign")
                         .order_by(AuditLog.id.desc()).limit(1))  # the demo's own history comes first
    assert entry.detail == {"from": "approved", "to": "live"}


def test_another_tenant_can_neither_see_nor_change(db, demo_ctx):
    tenant_id, _ = demo_ctx
    other = accounts.create_tenant(db, "acme", "Acme")
    campaign = campaigns.list_campaigns(db, _ctx(tenant_id, "owner"))[0]
    assert campaigns.list_campaigns(db, _ctx(other.id, "owner")) == []
    assert campaigns.list_sponsors(db, _ctx(other.id, "owner")) == []
    with pytest.raises(NotFound):
        campaigns.change_campaign_status(db, _ctx(other.id, "owner"), campaign.id, "paused")
