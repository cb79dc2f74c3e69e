"""Sponsors and campaigns as each role may see them; status changes follow the campaign workflow."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from services import audit
from services.db import Database
from services.errors import Conflict, NotFound
from services.models import Campaign, Sponsor
from services.tenancy import TenantContext, require_role

# Allowed moves of the campaign workflow: draft -> proposed -> approved -> live -> completed, with paused and cancelled.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"proposed", "cancelled"}),
    "proposed": frozenset({"approved", "draft", "cancelled"}),
    "approved": frozenset({"live", "cancelled"}),
    "live": frozenset({"paused", "completed", "cancelled"}),
    "paused": frozenset({"live", "cancelled", "completed"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    sponsor_id: int
    sponsor: str
    status: str
    start_date: date
    end_date: date
    goal_impressions: int | None


def _scoped(stmt, ctx: TenantContext, sponsor_column):
    """Tenant staff see the tenant's rows; a sponsor user sees only their sponsor's."""
    stmt = stmt.where(sponsor_column.table.c.tenant_id == ctx.tenant_id)
    if ctx.is_sponsor:
        stmt = stmt.where(sponsor_column == ctx.sponsor_id)
    return stmt


def list_sponsors(db: Database, ctx: TenantContext) -> list[tuple[int, str]]:
    with db.session(ctx.tenant_id) as s:
        stmt = _scoped(select(Sponsor.id, Sponsor.name), ctx, Sponsor.id).order_by(Sponsor.name)
        return [tuple(row) for row in s.execute(stmt).all()]


def list_campaigns(db: Database, ctx: TenantContext) -> list[CampaignRow]:
    with db.session(ctx.tenant_id) as s:
        stmt = _scoped(select(Campaign.id, Campaign.name, Campaign.sponsor_id, Sponsor.name, Campaign.status,
                              Campaign.start_date, Campaign.end_date, Campaign.goal_impressions)
                       .join(Sponsor, Sponsor.id == Campaign.sponsor_id), ctx, Campaign.sponsor_id)
        return [CampaignRow(*row) for row in s.execute(stmt.order_by(Campaign.start_date)).all()]


def change_campaign_status(db: Database, ctx: TenantContext, campaign_id: int, status: str) -> CampaignRow:
    """Move a campaign along its workflow (editors and above); the move is audited."""
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        campaign = s.scalar(select(Campaign).where(Campaign.id == campaign_id, Campaign.tenant_id == ctx.tenant_id))
        if campaign is None:
            raise NotFound(f"no campaign {campaign_id}")
        if status not in TRANSITIONS.get(campaign.status, ()):
            raise Conflict(f"a {campaign.status} campaign cannot become {status}")
        previous, campaign.status = campaign.status, status
        audit.record(s, ctx, "campaign.status_changed", "campaign", campaign.id, {"from": previous, "to": status})
        s.commit()
    return next(c for c in list_campaigns(db, ctx) if c.id == campaign_id)
