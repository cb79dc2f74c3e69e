"""Matchmaking: which shows of the network suit a campaign, and which sponsors suit a show.

Every show is checked against two hard filters, then scored on six factors (match_scoring.py states them):
- brand safety: a show in one of the campaign's excluded categories is out;
- competition: a show carrying a placement of another sponsor of the same industry (a campaign not cancelled) whose
  days overlap the campaign's flight is out.
When a campaign is created the workflow calls `on_campaign_created`, which stores each show's factors (or why it is
out) in campaign_recommendations; a recompute replaces them. Scores, ranks and sentences follow from the stored
factors and the network's current weights when read, so a weight change re-orders at once.
Sponsor users see no matchmaking (it would show other sponsors' placements): for them every call here is NotFound.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import NotFound, ValidationError
from services.models import Campaign, CampaignRecommendation, Podcast
from services.models.base import utcnow
from services.sponsorship import match_scoring as scoring
from services.sponsorship import pacing, placements
from services.sponsorship.campaigns import visible_campaign
from services.sponsorship.match_inputs import CampaignFacts, NetworkInputs, Show, load_network
from services.sponsorship.match_weights import weights_in_session
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

OPEN_STATUSES = ("draft", "proposed", "approved", "live")  # campaigns a show's sponsor ranking considers
Candidate = scoring.Candidate  # (podcast or sponsor id, label, factors, excluded_because, extra)


# --- the rules over the network's inputs ------------------------------------------------------------------------

def exclusion(show: Show, campaign: CampaignFacts, net: NetworkInputs) -> str | None:
    """Why a hard filter keeps the show out of the campaign, or None."""
    if show.category and show.category.lower() in {c.lower() for c in campaign.excluded_categories}:
        return f"in an excluded category ({show.category})"
    industry = (campaign.industry or "").lower()
    rivals = sorted({f"{p.sponsor} ({p.campaign})" for p in net.placements_on(show.id)
                     if industry and p.start_date <= campaign.end_date and p.end_date >= campaign.start_date
                     and p.sponsor_id != campaign.sponsor_id and p.status != "cancelled"
                     and (p.industry or "").lower() == industry})
    if rivals:
        return f"a competing {campaign.industry} sponsor is on this show in overlapping days: {', '.join(rivals)}"
    return None


def performance_rates(net: NetworkInputs, campaign: CampaignFacts) -> dict[int, float]:
    """Attributed conversions per 1000 impressions per show, over the sponsor's other campaigns with finished
    attribution, or when there are none, those of its industry's other sponsors."""
    def pool(same) -> list[int]:
        return [c.id for c in net.campaigns.values() if c.id != campaign.id and c.id in net.attributed and same(c)]

    campaigns = pool(lambda c: c.sponsor_id == campaign.sponsor_id)
    if not campaigns and campaign.industry:
        campaigns = pool(lambda c: (c.industry or "").lower() == campaign.industry.lower())
    rates = {}
    for show in net.shows:
        shown = sum(net.impressions.get((c, show.id), 0) for c in campaigns)
        if shown:
            rates[show.id] = 1000 * sum(net.credit.get((c, show.id), 0.0) for c in campaigns) / shown
    return rates


def _merged_mix(net: NetworkInputs, show_ids: set[int]) -> dict[str, float] | None:
    if not show_ids:
        return None
    countries: dict[str, float] = {}
    apps: dict[str, float] = {}
    for sid in show_ids:
        for key, n in net.countries.get(sid, {}).items():
            countries[key] = countries.get(key, 0.0) + n
        for key, n in net.apps.get(sid, {}).items():
            apps[key] = apps.get(key, 0.0) + n
    return scoring.audience_mix(countries, apps)


def _flight_days_left(start: date, end: date, as_of: date) -> int:
    """The flight's days after as_of (all of them before it starts)."""
    first = max(start, as_of + timedelta(days=1))
    return max((end - first).days + 1, 0)


def show_candidates(net: NetworkInputs, campaign: CampaignFacts, only: int | None = None) -> list[Candidate]:
    """Every show of the network for the campaign (or the one show `only`): its factors, and why it is out when a
    hard filter says so. The scales (the largest forecast, the best past rate) are always the whole network's."""
    as_of = net.as_of
    days_left = _flight_days_left(campaign.start_date, campaign.end_date, as_of)
    forecasts = {s.id: net.daily_rate.get(s.id, 0.0) * days_left for s in net.shows}
    reasons = {s.id: exclusion(s, campaign, net) for s in net.shows}
    eligible = {i for i, reason in reasons.items() if reason is None}
    largest = max((forecasts[i] for i in eligible), default=0.0)
    remaining_goal = campaign.goal - campaign.delivered if campaign.goal else None
    spent = pacing.spend_to_date(campaign.pricing, campaign.delivered, campaign.cpm, campaign.flat_fee,
                                 campaign.start_date, campaign.end_date, as_of)
    remaining_budget = campaign.budget - spent if campaign.budget is not None and campaign.pricing == "cpm" else None
    cpm = campaign.cpm if campaign.pricing == "cpm" else None
    placed = _merged_mix(net, {p.podcast_id for p in net.placements if p.campaign_id == campaign.id})
    rates = performance_rates(net, campaign)
    best_rate = max((rates[i] for i in rates if i in eligible), default=0.0)
    out = []
    for show in net.shows:
        if only is not None and show.id != only:
            continue
        factors = scoring.clean_factor_values({
            "category_fit": scoring.category_fit(show.category, campaign.target_categories),
            "geo_fit": scoring.geo_fit(net.countries.get(show.id, {}), campaign.target_countries),
            "inventory_fit": scoring.inventory_fit(forecasts[show.id], remaining_goal, largest),
            "cpm_fit": scoring.cpm_fit(forecasts[show.id], cpm, remaining_budget),
            "new_reach": scoring.new_reach(net.mixes.get(show.id, {}), placed),
            "past_performance": scoring.performance_fit(rates.get(show.id), best_rate),
        })
        extra = {"category": show.category, "forecast_impressions": int(round(forecasts[show.id]))}
        out.append((show.id, show.title, factors, reasons[show.id], extra))
    return out


# --- storing (the workflow's handler and recompute) ------------------------------------------------------------

def _today() -> date:
    return datetime.now(timezone.utc).date()


def recompute_in_session(s: Session, tenant_id: int, campaign_id: int, as_of: date | None = None) -> int:
    """Replace the campaign's stored recommendations (the caller commits); returns how many shows were stored.
    The campaign's row is locked first (PostgreSQL), so two recomputes at once replace in turn, never collide."""
    if s.scalar(select(Campaign.id).where(Campaign.id == campaign_id, Campaign.tenant_id == tenant_id)
                .with_for_update()) is None:
        raise NotFound(f"no campaign {campaign_id}")
    net = load_network(s, tenant_id, as_of or _today())
    candidates = show_candidates(net, net.campaigns[campaign_id])
    s.execute(delete(CampaignRecommendation).where(CampaignRecommendation.tenant_id == tenant_id,
                                                   CampaignRecommendation.campaign_id == campaign_id))
    now = utcnow()
    s.add_all([CampaignRecommendation(tenant_id=tenant_id, campaign_id=campaign_id, podcast_id=pid, factors=factors,
                                      excluded_because=reason, computed_at=now)
               for pid, _label, factors, reason, _extra in candidates])
    return len(candidates)


def recompute(db: Database, tenant_id: int, campaign_id: int, as_of: date | None = None) -> int:
    """Idempotent: the campaign's rows are deleted and written again in one transaction."""
    with db.session(tenant_id, worker=True) as s:
        stored = recompute_in_session(s, tenant_id, campaign_id, as_of)
        s.commit()
    logger.info("campaign recommendations stored", extra={"tenant_id": tenant_id, "campaign_id": campaign_id,
                                                          "shows": stored})
    return stored


def _event_campaign_id(event) -> int:
    payload = getattr(event, "payload", None)
    value = payload.get("campaign_id") if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"event {getattr(event, 'id', None)}: payload.campaign_id must be an integer id",
                              {"payload.campaign_id": "an integer id"})
    return value


def on_campaign_created(db: Database, event, as_of: date | None = None) -> None:
    """The workflow's handler for a created campaign: compute and store its recommendations (a retry replaces them,
    so it never doubles). A campaign deleted since is skipped."""
    campaign_id = _event_campaign_id(event)
    try:
        recompute(db, int(event.tenant_id), campaign_id, as_of)
    except NotFound:
        logger.info("campaign gone before matchmaking", extra={"tenant_id": event.tenant_id,
                                                               "campaign_id": campaign_id, "event_id": event.id})


# --- reading (pages, callbacks and the API) ---------------------------------------------------------------------

def _require_matchmaking(ctx: TenantContext) -> None:
    if ctx.is_sponsor:  # the ranking shows where other sponsors are placed
        raise NotFound("no recommendations here")


@dataclass(frozen=True)
class Recommendations:
    campaign_id: int
    rows: list[scoring.Ranked]  # ranked shows first, then the excluded ones
    weights: dict[str, float]
    computed_at: datetime | None  # None: nothing stored yet, computed for this read
    can_add: bool  # editors and above, on an open campaign
    can_weigh: bool  # owners and admins

    @property
    def ranked(self) -> list[scoring.Ranked]:
        return [r for r in self.rows if r.excluded_because is None]

    @property
    def excluded(self) -> list[scoring.Ranked]:
        return [r for r in self.rows if r.excluded_because is not None]


def _stored(s: Session, tenant_id: int, campaign_id: int) -> tuple[list[Candidate], datetime | None]:
    rows = s.execute(select(CampaignRecommendation, Podcast.title, Podcast.category)
                     .join(Podcast, Podcast.id == CampaignRecommendation.podcast_id)
                     .where(CampaignRecommendation.tenant_id == tenant_id,
                            CampaignRecommendation.campaign_id == campaign_id)).all()
    candidates = [(r.podcast_id, title, scoring.clean_factor_values(r.factors or {}), r.excluded_because,
                   {"category": category}) for r, title, category in rows]
    return candidates, max((r.computed_at for r, _, _ in rows), default=None)


def campaign_recommendations(db: Database, ctx: TenantContext, campaign_id: int,
                             as_of: date | None = None) -> Recommendations:
    """The campaign's shows, ranked with the network's weights: the stored factors, or when none are stored yet,
    factors computed for this read (not stored)."""
    _require_matchmaking(ctx)
    with db.session(ctx.tenant_id) as s:
        campaign = visible_campaign(s, ctx, campaign_id)
        weights = weights_in_session(s, ctx.tenant_id)
        candidates, computed_at = _stored(s, ctx.tenant_id, campaign_id)
        if computed_at is None:
            net = load_network(s, ctx.tenant_id, as_of or _today())
            candidates = show_candidates(net, net.campaigns[campaign_id])
        status = campaign.status
    return Recommendations(campaign_id, scoring.rank(candidates, weights), weights, computed_at,
                           can_add=ctx.can("editor") and status not in placements.CLOSED,
                           can_weigh=ctx.can("admin"))


def recompute_for(db: Database, ctx: TenantContext, campaign_id: int, as_of: date | None = None) -> int:
    """Recompute and store a campaign's recommendations on request (editors and above)."""
    _require_matchmaking(ctx)
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        visible_campaign(s, ctx, campaign_id)
    return recompute(db, ctx.tenant_id, campaign_id, as_of)


def add_recommended_placement(db: Database, ctx: TenantContext, campaign_id: int, podcast_id: int,
                              as_of: date | None = None) -> placements.PlacementRow:
    """One click: a show-wide placement over the campaign's flight, through the placement form's own validation
    (so an excluded category is refused there too); the stored recommendations are then recomputed."""
    _require_matchmaking(ctx)
    row = placements.create_placement(db, ctx, campaign_id, {"podcast_id": podcast_id})
    recompute(db, ctx.tenant_id, campaign_id, as_of)
    return row


def sponsor_recommendations(db: Database, ctx: TenantContext, podcast_id: int,
                            as_of: date | None = None) -> list[scoring.Ranked]:
    """The network's sponsors for one show: each sponsor's best open campaign for it (same factors and filters as
    the campaign's ranking), ranked; a sponsor whose every open campaign is filtered out comes after, with why."""
    _require_matchmaking(ctx)
    with db.session(ctx.tenant_id) as s:
        if s.scalar(select(Podcast.id).where(Podcast.id == podcast_id, Podcast.tenant_id == ctx.tenant_id)) is None:
            raise NotFound(f"no podcast {podcast_id}")
        weights = weights_in_session(s, ctx.tenant_id)
        net = load_network(s, ctx.tenant_id, as_of or _today())
    best: dict[int, Candidate] = {}
    for campaign in sorted(net.campaigns.values(), key=lambda c: c.id):
        if campaign.status not in OPEN_STATUSES or campaign.sponsor_archived:
            continue
        _pid, _title, factors, reason, _extra = show_candidates(net, campaign, only=podcast_id)[0]
        candidate = (campaign.sponsor_id, campaign.sponsor, factors, reason,
                     {"campaign_id": campaign.id, "campaign": campaign.name})
        held = best.get(campaign.sponsor_id)
        if held is None or _better(candidate, held, weights):
            best[campaign.sponsor_id] = candidate
    return scoring.rank(list(best.values()), weights)


def _better(candidate: Candidate, held: Candidate, weights: dict[str, float]) -> bool:
    if (candidate[3] is None) != (held[3] is None):
        return candidate[3] is None
    return scoring.score(candidate[2], weights) > scoring.score(held[2], weights)


def recommendations_ready_message(db: Database, tenant_id: int, campaign_id: int) -> tuple[str, str, str]:
    """The notification when a campaign's recommendations are stored: (title, body, link)."""
    with db.session(tenant_id, worker=True) as s:
        name = s.scalar(select(Campaign.name).where(Campaign.id == campaign_id, Campaign.tenant_id == tenant_id))
        if name is None:
            raise NotFound(f"no campaign {campaign_id}")
        weights = weights_in_session(s, tenant_id)
        candidates, _ = _stored(s, tenant_id, campaign_id)
    if not candidates:
        return f"Recommendations pending: {name}", "No recommendations are stored for this campaign yet.", \
            f"/campaigns/{campaign_id}#recommendations"
    ranked = scoring.rank(candidates, weights)
    top = [r for r in ranked if r.excluded_because is None][:3]
    excluded = sum(r.excluded_because is not None for r in ranked)
    if top:
        body = "Top shows: " + ", ".join(f"{r.label} ({r.score:.2f})" for r in top) + "."
    else:
        body = "No show of the network passes this campaign's filters."
    if excluded:
        body += f" {excluded} show{'s' if excluded != 1 else ''} excluded (brand safety or a competing sponsor)."
    return f"Recommendations ready: {name}", body, f"/campaigns/{campaign_id}#recommendations"


def as_api_rows(rows: list[scoring.Ranked], key: str) -> list[dict]:
    """The API's records: `key` (podcast_id or sponsor_id), score, rank, factors, explanation, and for an excluded
    one, excluded_because (its score and rank are null)."""
    out = []
    for r in rows:
        record = {key: r.key, "name": r.label, "score": r.score, "rank": r.rank, "factors": r.factors,
                  "explanation": r.explanation or None}
        record.update({k: v for k, v in r.extra.items() if k in ("campaign_id", "campaign")})
        if r.excluded_because is not None:
            record["excluded_because"] = r.excluded_because
        out.append(record)
    return out
