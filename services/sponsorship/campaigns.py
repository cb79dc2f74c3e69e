"""Campaigns as each role may see them: validated create and edit, and status changes along the workflow, each
recorded in the audit log with who and when."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from services import audit
from services.events import outbox
from services.sponsorship.campaign_fields import FIELDS as CAMPAIGN_FIELDS, clean_campaign
from services.db import Database
from services.errors import Conflict, NotFound, ValidationError
from services.models import AuditLog, Campaign, Placement, Sponsor, User
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
        campaign = visible_campaign(s, ctx, campaign_id)
        _transition(s, ctx, campaign, status)
        s.commit()
    return next(c for c in list_campaigns(db, ctx) if c.id == campaign_id)


def _transition(s, ctx: TenantContext, campaign: Campaign, status: str) -> None:
    if status not in TRANSITIONS:
        raise ValidationError(f"unknown status {status!r}", {"status": f"one of {', '.join(TRANSITIONS)}"})
    if status not in TRANSITIONS[campaign.status]:
        raise Conflict(f"a {campaign.status} campaign cannot become {status}")
    previous, campaign.status = campaign.status, status
    audit.record(s, ctx, "campaign.status_changed", "campaign", campaign.id, {"from": previous, "to": status})
    outbox.record(s, ctx.tenant_id, "campaign.status_changed",
                  {"campaign_id": campaign.id, "name": campaign.name, "sponsor_id": campaign.sponsor_id,
                   "from": previous, "to": status})


def visible_campaign(s, ctx: TenantContext, campaign_id: int) -> Campaign:
    """The campaign if this context may see it; another tenant's or another sponsor's is simply not found."""
    campaign = s.scalar(select(Campaign).where(Campaign.id == campaign_id, Campaign.tenant_id == ctx.tenant_id))
    if campaign is None or (ctx.is_sponsor and campaign.sponsor_id != ctx.sponsor_id):
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


@dataclass(frozen=True)
class CampaignDetail:
    id: int
    sponsor_id: int
    sponsor: str
    name: str
    objective: str | None
    status: str
    start_date: date
    end_date: date
    budget: float | None
    pricing: str
    cpm: float | None
    flat_fee: float | None
    goal_impressions: int | None
    target_categories: list
    target_countries: list
    excluded_categories: list
    landing_url: str | None
    promo_code: str | None
    lookback_days: int = 30
    attribution_model: str = "linear"
    exclude_prior_customers: bool = False
    decay_half_life_days: float = 7.0
    markov_order: int = 1

    @property
    def next_statuses(self) -> list[str]:
        return sorted(TRANSITIONS[self.status])

    @property
    def flight_days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    def as_dict(self) -> dict:
        data = asdict(self)
        data["start_date"], data["end_date"] = self.start_date.isoformat(), self.end_date.isoformat()
        return data


def _number(value) -> float | None:
    return None if value is None else float(value)


def _detail(campaign: Campaign, sponsor_name: str) -> CampaignDetail:
    return CampaignDetail(
        id=campaign.id, sponsor_id=campaign.sponsor_id, sponsor=sponsor_name, name=campaign.name,
        objective=campaign.objective, status=campaign.status, start_date=campaign.start_date,
        end_date=campaign.end_date, budget=_number(campaign.budget), pricing=campaign.pricing,
        cpm=_number(campaign.cpm), flat_fee=_number(campaign.flat_fee), goal_impressions=campaign.goal_impressions,
        target_categories=list(campaign.target_categories or []),
        target_countries=list(campaign.target_countries or []),
        excluded_categories=list(campaign.excluded_categories or []), landing_url=campaign.landing_url,
        promo_code=campaign.promo_code, lookback_days=campaign.lookback_days,
        attribution_model=campaign.attribution_model, exclude_prior_customers=bool(campaign.exclude_prior_customers),
        decay_half_life_days=float(campaign.decay_half_life_days), markov_order=int(campaign.markov_order or 1))


def list_campaign_details(db: Database, ctx: TenantContext) -> list[CampaignDetail]:
    """Every campaign this context may see, with all its fields (the API's list), in one query."""
    with db.session(ctx.tenant_id) as s:
        stmt = _scoped(select(Campaign, Sponsor.name).join(Sponsor, Sponsor.id == Campaign.sponsor_id), ctx,
                       Campaign.sponsor_id)
        return [_detail(c, name) for c, name in s.execute(stmt.order_by(Campaign.start_date, Campaign.id)).all()]


def get_campaign(db: Database, ctx: TenantContext, campaign_id: int) -> CampaignDetail:
    with db.session(ctx.tenant_id) as s:
        campaign = visible_campaign(s, ctx, campaign_id)
        return _detail(campaign, s.scalar(select(Sponsor.name).where(Sponsor.id == campaign.sponsor_id)))


def _check_sponsor(s, ctx: TenantContext, sponsor_id: int, allow_archived_id: int | None = None) -> str:
    sponsor = s.scalar(select(Sponsor).where(Sponsor.id == sponsor_id, Sponsor.tenant_id == ctx.tenant_id))
    if sponsor is None:
        raise ValidationError(f"no sponsor {sponsor_id}", {"sponsor_id": "no such sponsor"})
    if sponsor.archived_at is not None and sponsor.id != allow_archived_id:
        raise ValidationError(f"sponsor {sponsor.name!r} is archived", {"sponsor_id": "this sponsor is archived"})
    return sponsor.name


def _check_promo_code(s, ctx: TenantContext, code: str | None, campaign_id: int | None = None) -> None:
    if not code:
        return
    clash = s.scalar(select(Campaign.name).where(Campaign.tenant_id == ctx.tenant_id,
                                                 func.upper(Campaign.promo_code) == code.upper(),
                                                 Campaign.id != (campaign_id or 0)))
    if clash is not None:
        raise ValidationError(f"promo code {code} is used by {clash!r}",
                              {"promo_code": "already used by another campaign"})


def create_campaign(db: Database, ctx: TenantContext, data: dict) -> CampaignDetail:
    """Validate and store a new campaign (editors and above); it starts as a draft."""
    require_role(ctx, "editor")
    status = data.get("status") or "draft"
    if status != "draft":
        raise ValidationError("a new campaign starts as a draft", {"status": "a new campaign starts as draft"})
    values = clean_campaign({k: v for k, v in data.items() if k != "status"})
    with db.session(ctx.tenant_id) as s:
        sponsor = _check_sponsor(s, ctx, values["sponsor_id"])
        _check_promo_code(s, ctx, values.get("promo_code"))
        campaign = Campaign(tenant_id=ctx.tenant_id, status="draft", **values)
        s.add(campaign)
        s.flush()
        audit.record(s, ctx, "campaign.created", "campaign", campaign.id, {"to": "draft", "name": campaign.name})
        outbox.record(s, ctx.tenant_id, "campaign.created",
                      {"campaign_id": campaign.id, "name": campaign.name, "sponsor_id": campaign.sponsor_id})
        s.commit()
        return _detail(campaign, sponsor)


EDITABLE_STATUSES = ("draft", "proposed", "approved", "live", "paused")


def update_campaign(db: Database, ctx: TenantContext, campaign_id: int, data: dict) -> CampaignDetail:
    """Change some fields (editors and above), validated against the whole result; `status` moves the workflow."""
    require_role(ctx, "editor")
    status = data.get("status")
    fields = {k: v for k, v in data.items() if k != "status"}
    with db.session(ctx.tenant_id) as s:
        campaign = visible_campaign(s, ctx, campaign_id)
        if fields and campaign.status not in EDITABLE_STATUSES:
            raise Conflict(f"a {campaign.status} campaign cannot be edited")
        current = _detail(campaign, "").as_dict()
        merged = {k: current[k] for k in CAMPAIGN_FIELDS}
        values = clean_campaign({**merged, **fields})
        changed = {k: v for k, v in values.items() if k in fields and getattr(campaign, k) != v}
        if {"start_date", "end_date"} & set(changed):
            _check_flight_covers_placements(s, campaign, values["start_date"], values["end_date"])
        if "sponsor_id" in changed:
            _check_sponsor(s, ctx, changed["sponsor_id"], allow_archived_id=campaign.sponsor_id)
        if "promo_code" in changed:
            _check_promo_code(s, ctx, changed["promo_code"], campaign.id)
        for key, value in changed.items():
            setattr(campaign, key, value)
        if changed:
            audit.record(s, ctx, "campaign.updated", "campaign", campaign.id,
                         {k: str(v) if isinstance(v, (date, float)) or hasattr(v, "as_tuple") else v
                          for k, v in changed.items()})
        if status is not None and status != campaign.status:
            _transition(s, ctx, campaign, status)
        s.commit()
    return get_campaign(db, ctx, campaign_id)


def _check_flight_covers_placements(s, campaign: Campaign, start: date, end: date) -> None:
    first, last = s.execute(select(func.min(Placement.start_date), func.max(Placement.end_date))
                            .where(Placement.campaign_id == campaign.id)).one()
    errors = {}
    if first is not None and start > first:
        errors["start_date"] = f"a placement starts {first}: on or before it"
    if last is not None and end < last:
        errors["end_date"] = f"a placement runs to {last}: on or after it"
    if errors:
        raise ValidationError("the flight must cover the campaign's placements", errors)


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    who: str
    from_status: str | None
    to_status: str


def status_history(db: Database, ctx: TenantContext, campaign_id: int) -> list[StatusChange]:
    """Creation and every status change of the campaign, oldest first, from the audit log."""
    with db.session(ctx.tenant_id) as s:
        visible_campaign(s, ctx, campaign_id)
        rows = s.execute(select(AuditLog.created_at, User.email, AuditLog.action, AuditLog.detail)
                         .outerjoin(User, User.id == AuditLog.user_id)
                         .where(AuditLog.tenant_id == ctx.tenant_id, AuditLog.entity_type == "campaign",
                                AuditLog.entity_id == campaign_id,
                                AuditLog.action.in_(("campaign.created", "campaign.status_changed")))
                         .order_by(AuditLog.created_at, AuditLog.id)).all()
    def who(email: str | None) -> str:
        if ctx.is_sponsor:  # a sponsor sees that the network moved it, not which staff member
            return "network"
        return email or "API key or system"

    return [StatusChange(at, who(email), detail.get("from"), detail.get("to"))
            for at, email, _action, detail in rows]
