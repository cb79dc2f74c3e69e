"""The attribution inputs' pages on PostgreSQL, as the app role with the tenant wall: a sponsor's pixel status
(events through tenant_attribution_events, rejections), tracking links, promo uploads, the campaign settings and
the methodology's campaign values; another tenant and another sponsor's user see and change nothing."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app import create_app
from services import accounts
from services.sponsorship import campaigns
from services.errors import NotFound
from services.measurement.methodology import methodology
from services.models import AttributionRejection, Campaign, Sponsor
from services.sponsorship.attribution import inputs, links, pixel_status, promo_upload
from services.sponsorship.attribution.shared_ips import SharedIpClassifier
from services.tenancy import TenantContext
from tests.conftest import clear_demo_conversions, make_settings

pytestmark = pytest.mark.integration
HOUSEHOLDS = SharedIpClassifier(lambda ip: "EXAMPLE BROADBAND")


@pytest.fixture
def pg_demo(seeded_pg, tmp_path):
    pg_url, seeded = seeded_pg  # the demo tenant already seeded
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url))
    db = server.extensions["podcast_platform"].db
    tenant_id = seeded["tenant_id"]
    clear_demo_conversions(db, tenant_id)  # the demo seeds conversions; this test counts from none
    other = accounts.create_tenant(db, "acme", "Acme")
    with db.session(tenant_id) as s:
        sponsors = dict(s.execute(select(Sponsor.name, Sponsor.id)).all())
        campaign = s.scalar(select(Campaign).where(Campaign.sponsor_id == sponsors["Northwind Coffee"],
                                                   Campaign.status.in_(campaigns.EDITABLE_STATUSES)))
    yield db, tenant_id, other.id, sponsors, campaign
    db.dispose()


def test_pixel_status_links_promo_and_settings_stay_inside_tenant_and_sponsor(pg_demo):
    db, tenant_id, other_id, sponsors, campaign = pg_demo
    coffee, vpn = sponsors["Northwind Coffee"], sponsors["Lumen VPN"]
    staff, other = TenantContext(tenant_id, "editor"), TenantContext(other_id, "owner")
    own_user, vpn_user = (TenantContext(tenant_id, "sponsor", sponsor_id=coffee),
                          TenantContext(tenant_id, "sponsor", sponsor_id=vpn))
    now = datetime.now(timezone.utc)
    events = [{"event_id": f"e{n}", "type": "signup", "occurred_at": (now - timedelta(minutes=n)).isoformat(),
               "ip": "24.5.6.7"} for n in range(3)]
    inputs.record_conversions(db, staff, coffee, events, classifier=HOUSEHOLDS)
    with db.session(system=True) as s:
        s.add(AttributionRejection(tenant_id=tenant_id, sponsor_id=coffee, day=now.date(), reason="bad_type", count=2))
        s.commit()

    for ctx in (staff, own_user):
        assert [e.type for e in pixel_status.recent_events(db, ctx, coffee)] == ["signup"] * 3
        assert all(e.usable for e in pixel_status.recent_events(db, ctx, coffee))
        assert pixel_status.recent_rejections(db, ctx, coffee) == {"bad_type": 2}
    for ctx in (vpn_user, other):
        for call in (pixel_status.recent_events, pixel_status.recent_rejections):
            with pytest.raises(NotFound):
                call(db, ctx, coffee)
        assert coffee not in [sid for sid, _ in pixel_status.pixel_sponsors(db, ctx)]

    made = links.create_tracking_link(db, staff, campaign.id, "notes")
    with pytest.raises(NotFound):
        links.create_tracking_link(db, other, campaign.id, "stolen")
    with pytest.raises(NotFound):
        links.list_tracking_links(db, other, campaign.id)
    assert [link.code for link in links.list_tracking_links(db, staff, campaign.id)] == [made.code]

    csv = f"code,occurred_at,order_id,value\n{campaign.promo_code},{now.isoformat()},O-1,9.50\n"
    upload = "data:text/csv;base64," + base64.b64encode(csv.encode()).decode()
    with pytest.raises(NotFound):
        promo_upload.import_campaign_promo_upload(db, other, campaign.id, upload)
    assert promo_upload.import_campaign_promo_upload(db, staff, campaign.id, upload).accepted == 1

    edited = campaigns.update_campaign(db, staff, campaign.id, {"lookback_days": 14, "attribution_model": "shapley"})
    assert (edited.lookback_days, edited.attribution_model) == (14, "shapley")
    assert "14 days (1 campaign)" in methodology(db, staff)["attribution"]["lookback"]
    assert "no campaigns yet" in methodology(db, other)["attribution"]["lookback"]
    with pytest.raises(NotFound):
        campaigns.update_campaign(db, other, campaign.id, {"lookback_days": 5})
