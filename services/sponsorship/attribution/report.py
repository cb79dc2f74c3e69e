"""The campaign's attribution report: stored touchpoints and the latest run's counts, read for pages and the API.

Nothing is recomputed here (results.py computes; the `attribution` job runs it). Figures, as applied:
- rows: the model's credit summed per show, placement, episode or conversion day (`conversions`), and credit times
  each conversion's value (`revenue`): the modelled credit only, promo-code conversions that matched no exposure
  are not in it.
- summary `conversions` and `revenue`: the matched conversions plus the promo-code conversions that matched none
  (results.py); `promo_code_conversions` counts every promo-code conversion of the campaign, matched or not.
- spend: as pacing computes it (CPM: delivered impressions x CPM / 1000; flat fee prorated over the elapsed flight).
- CR = matched conversions / households reached (exposed households with a household key; promo-code-only
  conversions come from households not known to be reached, so they stay out of it); CPA = spend / conversions;
  ROAS = revenue / spend; AOV = revenue / purchases; cost per visitor = spend / households with a matched pageview
  or click. A ratio whose denominator is 0 is None.
- lag: the model's credit by whole days between the exposure and the conversion (0 = the same 24 hours).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import Column, MetaData, Table, func, select
from sqlalchemy.orm import Session

from services.frames import frame_of
from services.sponsorship import pacing
from services.sponsorship.campaigns import visible_campaign
from services.db import Database
from services.errors import ValidationError
from services.models import CampaignMetric, Episode, Placement, Podcast
from services.models.attribution import CREDIT_MODELS, REVENUE_SUFFIX, AttributionDaily, AttributionRun
from services.sponsorship.attribution.lift import lift
from services.sponsorship.attribution.matching import _source
from services.tenancy import TenantContext, require_role, require_staff

logger = logging.getLogger(__name__)

GROUPS = ("podcast", "placement", "episode", "day")
MODEL_LABELS = {"first_touch": "First touch", "last_touch": "Last touch", "linear": "Linear",
                "time_decay": "Time decay", "position_based": "Position based", "markov": "Markov (removal effect)",
                "shapley": "Shapley"}
TENANT_DAILY = Table("tenant_attribution_daily", MetaData(), *[Column(c.name, c.type) for c in AttributionDaily.__table__.c])


@dataclass(frozen=True)
class AttributionReport:
    campaign_id: int
    model: str
    group_by: str
    rows: pd.DataFrame  # the group's ids and labels, conversions, revenue
    lag: pd.DataFrame  # days_since_exposure, conversions, revenue
    daily: pd.DataFrame  # day, conversions, revenue
    summary: dict
    computed_at: datetime | None
    status: str | None = None  # the latest run's: running | finished | failed (None: never run)
    error: str | None = None
    can_recompute: bool = False
    extra: dict = field(default_factory=dict)  # group -> rows, for the groupings asked with `also`


def model_label(model: str, summary: dict) -> str:
    """The model's name as pages show it; Markov says its order when the campaign asked for order 2."""
    if model == "markov" and summary.get("markov_order", 1) != 1:
        return f"Markov (removal effect, order {summary['markov_order']})"
    return MODEL_LABELS[model]


def check_params(model: str | None, group_by: str) -> None:
    errors = {}
    if model is not None and model not in CREDIT_MODELS:
        errors["model"] = "one of " + ", ".join(CREDIT_MODELS)
    if group_by not in GROUPS:
        errors["group_by"] = "one of " + ", ".join(GROUPS)
    if errors:
        raise ValidationError("bad " + " and ".join(errors), errors)


def attribution_report(db: Database, ctx: TenantContext, campaign_id: int, model: str | None = None,
                       group_by: str = "podcast", as_of: date | None = None,
                       also: tuple[str, ...] = (), first: date | None = None,
                       last: date | None = None) -> AttributionReport:
    """The stored attribution of a campaign the context may see (another tenant's or sponsor's: NotFound); `also`
    names more groupings to read in the same call (into `extra`, as the page shows several tables); `first`/`last`
    keep the tables and the lag chart to those conversion days (the summary is the latest run's, for the flight)."""
    check_params(model, group_by)
    for extra_group in also:
        check_params(model, extra_group)
    as_of = as_of or datetime.now(timezone.utc).date()
    with db.session(ctx.tenant_id) as s:
        campaign = visible_campaign(s, ctx, campaign_id)
        # The campaign's default model (services.models.campaigns.ATTRIBUTION_MODELS names the credit columns).
        model = model or (campaign.attribution_model if campaign.attribution_model in MODEL_LABELS else "linear")
        latest = s.scalar(select(AttributionRun).where(AttributionRun.tenant_id == ctx.tenant_id,
                                                       AttributionRun.campaign_id == campaign_id)
                          .order_by(AttributionRun.id.desc()).limit(1))
        done = latest if latest is not None and latest.status == "finished" else s.scalar(
            select(AttributionRun).where(AttributionRun.tenant_id == ctx.tenant_id,
                                         AttributionRun.campaign_id == campaign_id,
                                         AttributionRun.status == "finished")
            .order_by(AttributionRun.id.desc()).limit(1))
        t = _source(s, AttributionDaily.__table__, TENANT_DAILY)
        if first is not None or last is not None:  # the same columns, only the chosen conversion days
            t = select(t).where(t.c.day >= (first or date.min), t.c.day <= (last or date.max)).subquery()
        rows = _grouped(s, t, ctx.tenant_id, campaign_id, model, group_by)
        lag = _lag(s, t, ctx.tenant_id, campaign_id, model)
        daily = _grouped(s, t, ctx.tenant_id, campaign_id, model, "day")
        extra = {g: _grouped(s, t, ctx.tenant_id, campaign_id, model, g) for g in also}
        delivered = s.scalar(select(func.coalesce(func.sum(CampaignMetric.impressions), 0)).where(
            CampaignMetric.tenant_id == ctx.tenant_id, CampaignMetric.campaign_id == campaign_id,
            CampaignMetric.day <= as_of)) or 0
        spend = pacing.spend_to_date(campaign.pricing, int(delivered), _float(campaign.cpm), _float(campaign.flat_fee),
                                     campaign.start_date, campaign.end_date, as_of)
    counts = (done.counts or {}) if done is not None else {}
    summary = summarise(counts, spend, done.computed_at if done is not None else None)
    return AttributionReport(campaign_id=campaign_id, model=model, group_by=group_by, rows=rows, lag=lag, daily=daily,
                             summary=summary, computed_at=summary["computed_at"],
                             status=latest.status if latest is not None else None,
                             error=latest.error if latest is not None and latest.status == "failed" else None,
                             can_recompute=ctx.can("editor") and not ctx.is_sponsor, extra=extra)


def _float(value) -> float | None:
    return None if value is None else float(value)


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def summarise(counts: dict, spend: float, computed_at: datetime | None) -> dict:
    """The summary dict of the report and the API from a run's counts and the spend (see the module docstring)."""
    conversions = counts.get("conversions", 0) + counts.get("promo_code_only_conversions", 0)
    revenue = round(counts.get("revenue", 0.0) + counts.get("promo_code_only_revenue", 0.0), 2)
    purchases = counts.get("purchases", 0) + counts.get("promo_code_only_purchases", 0)
    reached = counts.get("households_reached", 0)
    return {
        "conversions": conversions, "modelled_conversions": counts.get("conversions", 0), "revenue": revenue,
        "spend": spend, "roas": _ratio(revenue, spend), "cpa": _ratio(spend, conversions),
        "aov": _ratio(revenue, purchases), "cr": _ratio(counts.get("conversions", 0), reached),
        "cost_per_visitor": _ratio(spend, counts.get("visitors", 0)), "visitors": counts.get("visitors", 0),
        "purchases": purchases, "promo_code_conversions": counts.get("promo_code_conversions", 0),
        "promo_code_only_conversions": counts.get("promo_code_only_conversions", 0),
        "households_reached": reached, "usable_ip_share": counts.get("usable_ip_share"),
        "usable_ip_warning": bool(counts.get("usable_ip_warning", False)),
        "prior_customers_excluded": counts.get("prior_customers_excluded", 0),
        "lift": counts.get("lift") or lift(0, 0, 0, 0).as_dict(), "markov_order": counts.get("markov_order", 1),
        "computed_at": computed_at.isoformat() if computed_at is not None else None,
    }


def _totals(t: Table, model: str) -> tuple:
    return (func.sum(t.c[model]).label("conversions"), func.sum(t.c[model + REVENUE_SUFFIX]).label("revenue"))


def _grouped(s: Session, t: Table, tenant_id: int, campaign_id: int, model: str, group_by: str) -> pd.DataFrame:
    """The rollup (attribution_daily) summed by the group: never the touchpoints themselves."""
    totals = _totals(t, model)
    where = (t.c.tenant_id == tenant_id, t.c.campaign_id == campaign_id)
    if group_by == "day":
        result = s.execute(select(t.c.day, *totals).where(*where).group_by(t.c.day).order_by(t.c.day)).all()
        frame = frame_of(result, ["day", "conversions", "revenue"])
        frame["day"] = pd.to_datetime(frame["day"]).dt.date if len(frame) else frame["day"]
    elif group_by == "podcast":
        result = s.execute(select(t.c.podcast_id, Podcast.title, *totals).join(Podcast, Podcast.id == t.c.podcast_id)
                           .where(*where).group_by(t.c.podcast_id, Podcast.title)).all()
        frame = frame_of(result, ["podcast_id", "podcast", "conversions", "revenue"])
    elif group_by == "episode":
        result = s.execute(select(t.c.episode_id, Episode.title, Podcast.title, *totals)
                           .join(Episode, Episode.id == t.c.episode_id).join(Podcast, Podcast.id == t.c.podcast_id)
                           .where(*where).group_by(t.c.episode_id, Episode.title, Podcast.title)).all()
        frame = frame_of(result, ["episode_id", "episode", "podcast", "conversions", "revenue"])
    else:
        result = s.execute(select(t.c.placement_id, Podcast.title, Placement.position, Episode.title, *totals)
                           .join(Placement, Placement.id == t.c.placement_id)
                           .join(Podcast, Podcast.id == Placement.podcast_id)
                           .outerjoin(Episode, Episode.id == Placement.episode_id).where(*where)
                           .group_by(t.c.placement_id, Podcast.title, Placement.position, Episode.title)).all()
        frame = pd.DataFrame([(pid, f"{show} · {episode or 'every episode'} · {position}", c, r)
                              for pid, show, position, episode, c, r in result],
                             columns=["placement_id", "placement", "conversions", "revenue"])
    frame["conversions"] = frame["conversions"].astype(float).round(4)
    frame["revenue"] = frame["revenue"].astype(float).round(2)
    if group_by != "day":
        frame = frame.sort_values(["conversions", frame.columns[0]], ascending=[False, True]).reset_index(drop=True)
    return frame


def _lag(s: Session, t: Table, tenant_id: int, campaign_id: int, model: str) -> pd.DataFrame:
    days = t.c.lag_days  # whole days from the exposure to the conversion (floored when rolled up)
    result = s.execute(select(days, *_totals(t, model))
                       .where(t.c.tenant_id == tenant_id, t.c.campaign_id == campaign_id)
                       .group_by(days).order_by(days)).all()
    frame = frame_of(result, ["days_since_exposure", "conversions", "revenue"])
    frame["days_since_exposure"] = frame["days_since_exposure"].astype(int)
    frame["conversions"] = frame["conversions"].astype(float).round(4)
    frame["revenue"] = frame["revenue"].astype(float).round(2)
    return frame


def check_recompute(db: Database, ctx: TenantContext, campaign_id: int) -> None:
    """Recompute is for tenant staff (editors and above) on a campaign of their tenant; raises otherwise."""
    require_role(ctx, "editor")
    require_staff(ctx)
    with db.session(ctx.tenant_id) as s:
        visible_campaign(s, ctx, campaign_id)
