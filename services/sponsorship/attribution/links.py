"""Tracking links `/l/<code>`: a short link per campaign that redirects to its landing page with UTM parameters
and records a click (source `link`, the campaign set)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services import audit, lookups
from services.sponsorship.campaigns import visible_campaign
from services.db import Database
from services.errors import ValidationError
from services.models import Campaign, TrackingLink
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkRow:
    id: int
    campaign_id: int
    code: str
    label: str | None

    def as_dict(self) -> dict:
        return {"id": self.id, "campaign_id": self.campaign_id, "code": self.code, "label": self.label}


def with_utm(landing_url: str, campaign_id: int) -> str:
    """The landing URL with utm_source=podcast, utm_medium=audio, utm_campaign=<id> (replacing those three if
    present), its other query parameters and fragment kept."""
    parts = urlsplit(landing_url)
    ours = {"utm_source": "podcast", "utm_medium": "audio", "utm_campaign": str(campaign_id)}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    return urlunsplit(parts._replace(query=urlencode(query + list(ours.items()))))


def create_tracking_link(db: Database, ctx: TenantContext, campaign_id: int, label: str | None = None) -> LinkRow:
    """A new short link for one of the tenant's campaigns (editors and above); the campaign needs a landing URL."""
    require_role(ctx, "editor")
    label = (label or "").strip() or None
    if label is not None and len(label) > 200:
        raise ValidationError("label: at most 200 characters", {"label": "at most 200 characters"})
    with db.session(ctx.tenant_id) as s:
        campaign = visible_campaign(s, ctx, campaign_id)
        if not campaign.landing_url:
            raise ValidationError("the campaign has no landing URL", {"landing_url": "required for a tracking link"})
        for _ in range(5):  # 48 random bits: a clash is rare, and retried
            link = TrackingLink(tenant_id=ctx.tenant_id, campaign_id=campaign.id, label=label)
            try:
                with s.begin_nested():
                    s.add(link)
                break
            except IntegrityError:
                continue
        else:
            raise RuntimeError("could not find a free tracking-link code")
        audit.record(s, ctx, "tracking_link.created", "campaign", campaign.id, {"code": link.code})
        s.commit()
        return LinkRow(link.id, link.campaign_id, link.code, link.label)


def list_tracking_links(db: Database, ctx: TenantContext, campaign_id: int) -> list[LinkRow]:
    """The campaign's tracking links, oldest first (whoever may see the campaign)."""
    with db.session(ctx.tenant_id) as s:
        visible_campaign(s, ctx, campaign_id)
        rows = s.execute(select(TrackingLink.id, TrackingLink.campaign_id, TrackingLink.code, TrackingLink.label)
                         .where(TrackingLink.tenant_id == ctx.tenant_id, TrackingLink.campaign_id == campaign_id)
                         .order_by(TrackingLink.id)).all()
    return [LinkRow(*row) for row in rows]


def link_destination(db: Database, code: str) -> str | None:
    """Where `/l/<code>` goes (the landing URL with UTM), or None for an unknown code or a campaign without one."""
    if not code or len(code) > 16:
        return None
    with db.session() as s:
        tenant_id = lookups.enter_tenant_of(s, "link", code)  # an anonymous click: the code alone says which tenant
        if tenant_id is None:
            return None
        row = s.execute(select(Campaign.id, Campaign.landing_url).join(
            TrackingLink, TrackingLink.campaign_id == Campaign.id).where(TrackingLink.code == code,
                                                                         TrackingLink.tenant_id == tenant_id)).first()
    if row is None or not row.landing_url:
        return None
    return with_utm(row.landing_url, row.id)
