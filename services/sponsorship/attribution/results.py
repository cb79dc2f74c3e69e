"""Computing and storing one campaign's attribution: match, credit, lift and counts into attribution_touchpoints and
attribution_runs. The report (report.py) reads only these, never recomputing on page load.

`attribute_campaign` is idempotent: the campaign's touchpoints are deleted and inserted again in one transaction
with the run's counts, so a retry never double counts. Rules: matching.py (exposures, conversions, matching, prior
customers), credit.py (the seven models), lift.py (exposed against control), and here:
- **Promo codes**: events with this campaign's id that carry its promo code (compared case-insensitively), of a
  conversion type, are credited to the campaign whether or not the household was exposed, and counted apart as
  promo-code conversions. They enter the modelled credit (the touchpoints) only when they also matched exposures;
  those that did not are added to the campaign's conversions and revenue as `promo_code_only`.
- **Usable IP share**: of the sponsor's conversions in the campaign window (flight start to flight end + lookback),
  the share with a household key from a non-shared address; below 20% the report warns that few can be matched.
- **Visitors**: households with a pageview or click matched to an exposure by the same rule as conversions.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.bulk import insert_frame
from services.db import Database
from services.events import outbox
from services.errors import NotFound
from services.frames import frame_of
from services.models import AttributionEvent, Campaign, Placement
from services.measurement.store import is_timescale, refresh_after_commit
from services.models.attribution import (
    CREDIT_MODELS, REVENUE_SUFFIX, AttributionDaily, AttributionRun, AttributionTouchpoint,
)
from services.models.base import utcnow
from services.sponsorship.attribution import matching
from services.sponsorship.attribution.credit import CHANNELS, credit_touchpoints
from services.sponsorship.attribution.lift import lift

logger = logging.getLogger(__name__)

USABLE_IP_WARNING = 0.20
TOUCHPOINT_COLUMNS = ["conversion_ts", "campaign_id", "event_id", "touch", "tenant_id", "household_key",
                      "conversion_type", "value", "exposure_ts", "placement_id", "podcast_id", "episode_id",
                      "days_since_exposure", *CREDIT_MODELS]
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class AttributionOutcome:
    """What one run did (the CLI prints it, the job returns it)."""

    run_id: int
    campaign_id: int
    conversions: int
    touchpoints: int
    counts: dict

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "campaign_id": self.campaign_id, "conversions": self.conversions,
                "touchpoints": self.touchpoints, **self.counts}


def campaigns_to_attribute(db: Database, tenant_id: int, sponsor_id: int | None = None) -> list[int]:
    """The tenant's campaigns with at least one placement (one sponsor's only, when given)."""
    with db.session(tenant_id, worker=True) as s:
        stmt = (select(Placement.campaign_id).join(Campaign, Campaign.id == Placement.campaign_id)
                .where(Placement.tenant_id == tenant_id).distinct())
        if sponsor_id is not None:
            stmt = stmt.where(Campaign.sponsor_id == sponsor_id)
        return sorted(s.scalars(stmt))


def attribute_campaign(db: Database, tenant_id: int, campaign_id: int, channel: str = "placement",
                       progress: Progress | None = None) -> AttributionOutcome:
    """Recompute one campaign's touchpoints, credits, lift and counts; a failure is recorded on its run and raised."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    report = progress or (lambda _f, _m: None)
    with db.session(tenant_id, worker=True) as s:
        campaign = s.scalar(select(Campaign).where(Campaign.id == campaign_id, Campaign.tenant_id == tenant_id))
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} not found")
        campaign_sponsor = campaign.sponsor_id
        run = AttributionRun(tenant_id=tenant_id, campaign_id=campaign_id, status="running", progress=0.0,
                             started_at=utcnow(), channel=channel, conversions=0, touchpoints=0)
        s.add(run)
        s.commit()
        run_id = run.id
    try:
        with db.session(tenant_id, worker=True) as s:
            frame, counts = _compute(s, tenant_id, campaign_id, channel, report)
            report(0.9, f"storing {len(frame)} touchpoints")
            stored = _stored_span(s, tenant_id, campaign_id)
            s.execute(delete(AttributionTouchpoint).where(AttributionTouchpoint.tenant_id == tenant_id,
                                                          AttributionTouchpoint.campaign_id == campaign_id))
            _insert(s, frame)
            _roll_up(s, frame, tenant_id, campaign_id, stored)
            run = s.get(AttributionRun, run_id)
            run.status, run.progress, run.computed_at = "finished", 1.0, utcnow()
            run.conversions, run.touchpoints, run.counts = counts["conversions"], len(frame), counts
            outbox.record(s, tenant_id, "attribution.completed",
                          {"campaign_id": campaign_id, "sponsor_id": campaign_sponsor, "run_id": run_id,
                           "channel": channel, "conversions": counts["conversions"], "touchpoints": len(frame)})
            s.commit()
    except Exception as exc:
        with db.session(tenant_id, worker=True) as s:
            run = s.get(AttributionRun, run_id)
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            s.commit()
        raise
    report(1.0, f"{counts['conversions']} conversions matched")
    logger.info("campaign attributed", extra={"tenant_id": tenant_id, "campaign_id": campaign_id,
                                              "conversions": counts["conversions"], "touchpoints": len(frame)})
    return AttributionOutcome(run_id, campaign_id, counts["conversions"], len(frame), counts)


def _insert(s: Session, frame: pd.DataFrame) -> None:
    insert_frame(s, AttributionTouchpoint.__table__, frame, per_row=("event_id", "household_key"))


def _stored_span(s: Session, tenant_id: int, campaign_id: int) -> tuple[datetime | None, datetime | None]:
    t = AttributionTouchpoint
    return tuple(s.execute(select(func.min(t.conversion_ts), func.max(t.conversion_ts))
                           .where(t.tenant_id == tenant_id, t.campaign_id == campaign_id)).one())


def _roll_up(s: Session, frame: pd.DataFrame, tenant_id: int, campaign_id: int,
             stored: tuple[datetime | None, datetime | None]) -> None:
    """Bring attribution_daily up to date with the campaign's new touchpoints. TimescaleDB: refresh the continuous
    aggregate over the UTC days of the old and new touchpoints once this transaction commits (only whole buckets
    refresh). Elsewhere: rewrite the campaign's rows of the plain table from `frame`."""
    if is_timescale(s):
        stamps = [ts for ts in (*stored, *(frame["conversion_ts"].agg(["min", "max"]) if len(frame) else ()))
                  if ts is not None and not pd.isna(ts)]
        if stamps:
            first = pd.Timestamp(min(stamps)).tz_convert("UTC").floor("D").to_pydatetime()
            last = pd.Timestamp(max(stamps)).tz_convert("UTC").floor("D").to_pydatetime() + timedelta(days=1)
            refresh_after_commit(s, first, last, views=(AttributionDaily.__tablename__,))
        return
    s.execute(delete(AttributionDaily).where(AttributionDaily.tenant_id == tenant_id,
                                             AttributionDaily.campaign_id == campaign_id))
    if len(frame):
        insert_frame(s, AttributionDaily.__table__, daily_rollup(frame))


def daily_rollup(frame: pd.DataFrame) -> pd.DataFrame:
    """Touchpoints summed per conversion day (UTC), placement, episode and whole days since the exposure."""
    ts = pd.to_datetime(frame["conversion_ts"], utc=True)
    keyed = frame.assign(day=ts.dt.floor("D").dt.date,
                         lag_days=np.floor(frame["days_since_exposure"].astype(float)).astype("int64"),
                         **{f"{m}{REVENUE_SUFFIX}": frame[m].astype(float) * frame["value"].astype(float)
                            for m in CREDIT_MODELS})
    sums = list(CREDIT_MODELS) + [f"{m}{REVENUE_SUFFIX}" for m in CREDIT_MODELS]
    keys = ["day", "tenant_id", "campaign_id", "placement_id", "episode_id", "lag_days"]
    rolled = keyed.groupby(keys, sort=False).agg(podcast_id=("podcast_id", "max"), **{c: (c, "sum") for c in sums})
    return rolled.reset_index()


def _compute(s: Session, tenant_id: int, campaign_id: int, channel: str, report: Progress) -> tuple[pd.DataFrame, dict]:
    campaign = s.scalar(select(Campaign).where(Campaign.id == campaign_id, Campaign.tenant_id == tenant_id))
    placements = list(s.scalars(select(Placement).where(Placement.tenant_id == tenant_id,
                                                        Placement.campaign_id == campaign_id)))
    promo, promo_revenue, promo_events = _promo_events(s, tenant_id, campaign)
    if not placements:
        return pd.DataFrame(columns=TOUCHPOINT_COLUMNS), _counts(promo_events=promo, promo_revenue=promo_revenue)
    window = matching.Window.of(placements, campaign.lookback_days)
    report(0.05, "reading exposures")
    downloads = matching.load_downloads(s, tenant_id, placements, window.first - window.lookback.to_pytimedelta(),
                                        window.conversions_end, campaign.target_countries or ())
    carrying = (downloads["placement_id"] != 0).to_numpy()
    exposures, control_downloads = downloads[carrying], downloads[~carrying]
    del downloads
    report(0.2, f"{len(exposures)} exposures; reading conversions")
    events = matching.load_sponsor_events(s, tenant_id, campaign.sponsor_id,
                                          window.first - timedelta(days=matching.PRIOR_CUSTOMER_DAYS),
                                          window.conversions_end)
    in_window = (events["ts"] >= window.first).to_numpy()
    conversions = events[matching.is_conversion(events).to_numpy()]
    exposed_keys = exposures["key"].unique()
    prior = matching.prior_customers(exposures, conversions) if campaign.exclude_prior_customers else set()
    if prior:
        exposures = exposures[~exposures["key"].isin(list(prior)).to_numpy()]
    usable = (matching.usable(events) & in_window).to_numpy()
    window_conversions = events[matching.is_conversion(events).to_numpy() & in_window]
    report(0.3, "matching conversions to households")
    matched = matching.match(exposures, events[usable & matching.is_conversion(events).to_numpy()], window.lookback)
    visits = matching.match(exposures, events[usable & ~matching.is_conversion(events).to_numpy()], window.lookback)
    converting = matched["exposure_key"].unique()
    non_converting = exposures[~exposures["key"].isin(converting).to_numpy()]
    report(0.45, f"crediting {matched['conversion'].nunique()} conversions under seven models")
    credits = credit_touchpoints(matched, non_converting, campaign.decay_half_life_days, channel,
                                 campaign.markov_order or 1)
    report(0.75, "measuring lift against unexposed households")
    control_downloads = control_downloads[~control_downloads["key"].isin(exposed_keys).to_numpy()]
    control_matched = matching.match(control_downloads, events[usable & matching.is_conversion(events).to_numpy()],
                                     window.lookback)
    measured = lift(int(exposures["key"].nunique()), len(converting),
                    int(control_downloads["key"].nunique()), int(control_matched["exposure_key"].nunique()))
    frame = _touchpoints(matched, credits, tenant_id, campaign_id)
    matched_ids = pd.MultiIndex.from_arrays([matched["event_id"], matched["ts"]])
    promo_only = promo_events[~pd.MultiIndex.from_arrays([promo_events["event_id"], promo_events["ts"]])
                              .isin(matched_ids)]
    usable_share = (float(matching.usable(window_conversions).mean()) if len(window_conversions) else None)
    conv_rows = matched.drop_duplicates("conversion")
    counts = _counts(
        conversions=len(conv_rows), revenue=float(conv_rows["value"].sum()),
        purchases=int((conv_rows["type"] == "purchase").sum()),
        households_reached=int(exposures["key"].nunique()), converting_households=len(converting),
        exposures=len(exposures), prior_customers_excluded=len(prior), visitors=int(visits["exposure_key"].nunique()),
        window_conversions=len(window_conversions), usable_ip_share=usable_share,
        usable_ip_warning=usable_share is not None and usable_share < USABLE_IP_WARNING,
        promo_events=promo, promo_revenue=promo_revenue, promo_only=len(promo_only),
        promo_only_revenue=float(promo_only["value"].sum()),
        promo_only_purchases=int((promo_only["type"] == "purchase").sum()), lift_figures=measured.as_dict(),
        markov_order=campaign.markov_order or 1)
    return frame, counts


def _counts(conversions: int = 0, revenue: float = 0.0, purchases: int = 0, households_reached: int = 0,
            converting_households: int = 0, exposures: int = 0, prior_customers_excluded: int = 0, visitors: int = 0,
            window_conversions: int = 0, usable_ip_share: float | None = None, usable_ip_warning: bool = False,
            promo_events: int = 0, promo_revenue: float = 0.0, promo_only: int = 0, promo_only_revenue: float = 0.0,
            promo_only_purchases: int = 0, lift_figures: dict | None = None, markov_order: int = 1) -> dict:
    """The run's counts as stored in attribution_runs.counts (JSON-simple)."""
    return {"conversions": conversions, "revenue": round(revenue, 2), "purchases": purchases,
            "households_reached": households_reached, "converting_households": converting_households,
            "exposures": exposures, "prior_customers_excluded": prior_customers_excluded, "visitors": visitors,
            "window_conversions": window_conversions, "usable_ip_share": usable_ip_share,
            "usable_ip_warning": usable_ip_warning, "promo_code_conversions": promo_events,
            "promo_code_revenue": round(promo_revenue, 2), "promo_code_only_conversions": promo_only,
            "promo_code_only_revenue": round(promo_only_revenue, 2), "promo_code_only_purchases": promo_only_purchases,
            "lift": lift_figures or lift(0, 0, 0, 0).as_dict(), "markov_order": markov_order}


def _promo_events(s: Session, tenant_id: int, campaign: Campaign) -> tuple[int, float, pd.DataFrame]:
    """This campaign's promo-code conversions: (count, revenue, the events' event_id, ts, type, value)."""
    columns = ["event_id", "ts", "type", "value"]
    if not campaign.promo_code:
        return 0, 0.0, pd.DataFrame(columns=columns)
    e = matching._source(s, AttributionEvent.__table__, matching.TENANT_EVENTS).c
    rows = s.execute(select(e.event_id, e.ts, e.type, e.value).where(
        e.tenant_id == tenant_id, e.sponsor_id == campaign.sponsor_id, e.campaign_id == campaign.id,
        func.upper(e.promo_code) == campaign.promo_code.upper(), e.type.not_in(matching.VISIT_TYPES))).all()
    frame = frame_of(rows, columns)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float).fillna(0.0)
    return len(frame), float(frame["value"].sum()), frame


def _touchpoints(matched: pd.DataFrame, credits: pd.DataFrame, tenant_id: int, campaign_id: int) -> pd.DataFrame:
    if matched.empty:
        return pd.DataFrame(columns=TOUCHPOINT_COLUMNS)
    conversion = matched["conversion"].to_numpy()
    new = np.r_[True, conversion[1:] != conversion[:-1]]
    starts = np.flatnonzero(new)
    touch = np.arange(len(conversion)) - np.repeat(starts, np.diff(np.r_[starts, len(conversion)]))
    frame = pd.DataFrame({
        "conversion_ts": matched["ts"], "campaign_id": campaign_id, "event_id": matched["event_id"], "touch": touch,
        "tenant_id": tenant_id, "household_key": matched["matched_key"], "conversion_type": matched["type"],
        "value": matched["value"].astype(float), "exposure_ts": matched["exposure_ts"],
        "placement_id": matched["placement_id"], "podcast_id": matched["podcast_id"],
        "episode_id": matched["episode_id"],
        "days_since_exposure": ((matched["ts"] - matched["exposure_ts"]) / pd.Timedelta(days=1)).round(6)})
    for name in CREDIT_MODELS:
        frame[name] = credits[name].to_numpy(dtype=float).round(9)
    return frame[TOUCHPOINT_COLUMNS]
