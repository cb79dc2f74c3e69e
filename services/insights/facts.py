"""The facts a written summary may state: figures, changes, top movers and anomalies of one scope (the network, a
show or a campaign) over one period, each with its name, value and source. Writers state only these.

Extra fact providers (forecasts, ...) plug in as callables taking the FactsRequest and returning facts."""
from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.db import Database
from services.insights import anomaly_store
from services.measurement.store import view
from services.models import (
    Episode, EpisodeDailyMetric, Podcast, PodcastAppDailyMetric, PodcastDailyMetric, PodcastGeoDailyMetric,
)
from services.sponsorship import delivery, pacing
from services.sponsorship.campaigns import get_campaign
from services.tenancy import TenantContext

SCOPES = ("network", "podcast", "campaign")
ROLLUP = "podcast_daily_metrics"


@dataclass(frozen=True)
class Fact:
    name: str
    value: int | float | str
    source: str

    def as_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "source": self.source}


@dataclass(frozen=True)
class FactsRequest:
    """What a provider is asked for: one scope over first..last, as `ctx` may see it."""

    db: Database
    ctx: TenantContext
    scope: str
    scope_id: int | None
    first: date
    last: date

    @property
    def previous(self) -> tuple[date, date]:
        """The period of the same length just before."""
        days = (self.last - self.first).days + 1
        return self.first - timedelta(days=days), self.first - timedelta(days=1)


FactProvider = Callable[[FactsRequest], Sequence[Fact]]


@dataclass
class Facts:
    scope: str
    first: date
    last: date
    items: list[Fact] = field(default_factory=list)

    def add(self, name: str, value, source: str) -> None:
        if value is not None:
            self.items.append(Fact(name, plain(value), source))

    def get(self, name: str, default=None):
        return next((f.value for f in self.items if f.name == name), default)

    def from_source(self, prefix: str) -> list[Fact]:
        return [f for f in self.items if f.source.startswith(prefix)]

    def as_list(self) -> list[dict]:
        return [f.as_dict() for f in self.items]


def plain(value) -> int | float | str:
    """A JSON-plain value: database decimals and numpy numbers become int or float."""
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (numbers.Real, Decimal)):
        number = float(value)
        return int(number) if isinstance(value, Decimal) and number.is_integer() else number
    return str(value)


def build_facts(request: FactsRequest, providers: Sequence[FactProvider] = ()) -> Facts:
    """The scope's facts, then each provider's. Access is checked by the caller (summaries.check_access)."""
    facts = Facts(request.scope, request.first, request.last)
    facts.add("period_first", request.first.isoformat(), "period")
    facts.add("period_last", request.last.isoformat(), "period")
    facts.add("period_days", (request.last - request.first).days + 1, "period")
    if request.scope == "campaign":
        _campaign_facts(facts, request)
    else:
        with request.db.session(request.ctx.tenant_id) as s:
            _audience_facts(facts, s, request)
        _anomaly_facts(facts, request)
    for provider in providers:
        for fact in provider(request):
            facts.add(fact.name, fact.value, fact.source)
    return facts


def change_pct(now: float, before: float) -> float | None:
    return round((now - before) / before * 100, 1) if before else None


def _audience_facts(facts: Facts, s: Session, request: FactsRequest) -> None:
    podcast_id = request.scope_id if request.scope == "podcast" else None
    if podcast_id is not None:
        facts.add("show", s.scalar(select(Podcast.title).where(Podcast.id == podcast_id,
                                                                Podcast.tenant_id == request.ctx.tenant_id)), "podcasts")
    now, listeners = _totals(s, request, request.first, request.last, podcast_id)
    before, _ = _totals(s, request, *request.previous, podcast_id)
    facts.add("downloads", now, ROLLUP)
    facts.add("downloads_previous", before, ROLLUP)
    facts.add("downloads_change_pct", change_pct(now, before), ROLLUP)
    facts.add("avg_daily_listeners", round(listeners / facts.get("period_days")), ROLLUP)
    if podcast_id is None:
        _show_movers(facts, s, request)
    else:
        _top_episode(facts, s, request, podcast_id)
    for model, key, name in ((PodcastAppDailyMetric, "app", "top_app"), (PodcastGeoDailyMetric, "country", "top_country")):
        top = _top_share(s, request, model, key, podcast_id)
        if top and now:
            facts.add(name, top[0], model.__tablename__)
            facts.add(f"{name}_share_pct", round(top[1] / now * 100, 1), model.__tablename__)


def _filtered(stmt, m, request: FactsRequest, first: date, last: date, podcast_id: int | None):
    stmt = stmt.where(m.tenant_id == request.ctx.tenant_id, m.day.between(first, last))
    return stmt.where(m.podcast_id == podcast_id) if podcast_id is not None else stmt


def _totals(s: Session, request: FactsRequest, first: date, last: date, podcast_id: int | None) -> tuple[int, int]:
    m = view(PodcastDailyMetric).c
    row = s.execute(_filtered(select(func.coalesce(func.sum(m.downloads), 0), func.coalesce(func.sum(m.listeners), 0)),
                              m, request, first, last, podcast_id)).one()
    return int(row[0]), int(row[1])


def _show_movers(facts: Facts, s: Session, request: FactsRequest) -> None:
    """The most downloaded show, and the shows that rose and fell most against the previous period."""
    m = view(PodcastDailyMetric).c
    per_show = {}
    for label, (first, last) in (("now", (request.first, request.last)), ("before", request.previous)):
        rows = s.execute(_filtered(select(m.podcast_id, func.sum(m.downloads)), m, request, first, last, None)
                         .group_by(m.podcast_id)).all()
        for podcast_id, n in rows:
            per_show.setdefault(podcast_id, {"now": 0, "before": 0})[label] = int(n)
    if not per_show:
        return
    titles = dict(s.execute(select(Podcast.id, Podcast.title).where(Podcast.tenant_id == request.ctx.tenant_id)).all())
    ranked = sorted(per_show.items(), key=lambda kv: (-kv[1]["now"], kv[0]))
    facts.add("top_show", titles.get(ranked[0][0]), ROLLUP)
    facts.add("top_show_downloads", ranked[0][1]["now"], ROLLUP)
    changes = sorted(((kv[1]["now"] - kv[1]["before"], kv[0], kv[1]) for kv in per_show.items() if kv[1]["before"]),
                     key=lambda c: (c[0], c[1]))
    if changes and changes[-1][0] > 0:
        _mover(facts, "top_riser", titles.get(changes[-1][1]), changes[-1][2])
    if changes and changes[0][0] < 0:
        _mover(facts, "top_faller", titles.get(changes[0][1]), changes[0][2])


def _mover(facts: Facts, name: str, title: str | None, counts: dict) -> None:
    facts.add(name, title, ROLLUP)
    facts.add(f"{name}_change_pct", change_pct(counts["now"], counts["before"]), ROLLUP)


def _top_episode(facts: Facts, s: Session, request: FactsRequest, podcast_id: int) -> None:
    m = view(EpisodeDailyMetric).c
    row = s.execute(_filtered(select(m.episode_id, func.sum(m.downloads)), m, request, request.first, request.last,
                              podcast_id).group_by(m.episode_id)
                    .order_by(func.sum(m.downloads).desc(), m.episode_id).limit(1)).first()
    if row:
        title = s.scalar(select(Episode.title).where(Episode.id == row[0], Episode.tenant_id == request.ctx.tenant_id))
        facts.add("top_episode", title, "episode_daily_metrics")
        facts.add("top_episode_downloads", int(row[1]), "episode_daily_metrics")


def _top_share(s: Session, request: FactsRequest, model, key: str, podcast_id: int | None):
    m = view(model).c
    col = getattr(m, key)
    return s.execute(_filtered(select(col, func.sum(m.downloads)), m, request, request.first, request.last,
                               podcast_id).group_by(col).order_by(func.sum(m.downloads).desc(), col).limit(1)).first()


def _anomaly_facts(facts: Facts, request: FactsRequest) -> None:
    """How many unusual days were flagged, and the newest show-level one."""
    podcast_id = request.scope_id if request.scope == "podcast" else None
    frame = anomaly_store.list_anomalies(request.db, request.ctx, request.first, request.last, podcast_id)
    facts.add("anomalies", len(frame), "anomalies")
    shows = frame[frame["dimension"] == "downloads"]
    if shows.empty:
        return
    newest = shows.iloc[0]
    facts.add("anomaly_show", newest["podcast"], "anomalies")
    facts.add("anomaly_day", newest["day"].isoformat(), "anomalies")
    facts.add("anomaly_kind", newest["kind"], "anomalies")
    facts.add("anomaly_downloads", int(round(newest["value"])), "anomalies")
    facts.add("anomaly_expected", int(round(newest["expected"])), "anomalies")
    if newest["cause"]:
        facts.add("anomaly_cause", newest["cause"], "anomalies")


def _campaign_facts(facts: Facts, request: FactsRequest) -> None:
    """Only the campaign's own figures: nothing of other sponsors or of the network."""
    db, ctx, campaign_id = request.db, request.ctx, request.scope_id
    campaign = get_campaign(db, ctx, campaign_id)
    facts.add("campaign", campaign.name, "campaigns")
    facts.add("flight_start", campaign.start_date.isoformat(), "campaigns")
    facts.add("flight_end", campaign.end_date.isoformat(), "campaigns")
    facts.add("flight_status", "ended" if campaign.end_date < request.first else
              "not started" if campaign.start_date > request.last else "flying", "campaigns")
    now = _impressions(db, ctx, campaign, request.first, request.last)
    before = _impressions(db, ctx, campaign, *request.previous)
    facts.add("impressions", now, "campaign_metrics")
    facts.add("impressions_previous", before, "campaign_metrics")
    facts.add("impressions_change_pct", change_pct(now, before), "campaign_metrics")
    pace = pacing.pacing(db, ctx, campaign_id, as_of=request.last)
    facts.add("delivered", pace.delivered, "campaign_metrics")
    if pace.goal:
        facts.add("goal_impressions", pace.goal, "campaigns")
        facts.add("delivered_pct_of_goal", round(pace.delivered / pace.goal * 100, 1), "campaign_metrics")
        facts.add("forecast_impressions", int(round(pace.forecast)), "pacing")
        facts.add("pace_pct", None if pace.pace is None else round(pace.pace * 100, 1), "pacing")
        facts.add("on_track", "no" if pace.under_delivery else "yes", "pacing")
    first, last = _in_flight(campaign, request.first, request.last)
    if first is not None:
        shows = delivery.delivery_by(db, ctx, campaign_id, "podcast", first, last)
        if not shows.empty and int(shows["impressions"].iloc[0]):
            facts.add("top_show", shows["podcast"].iloc[0], "campaign_metrics")
            facts.add("top_show_impressions", int(shows["impressions"].iloc[0]), "campaign_metrics")


def _in_flight(campaign, first: date, last: date) -> tuple[date | None, date | None]:
    first, last = max(first, campaign.start_date), min(last, campaign.end_date)
    return (first, last) if first <= last else (None, None)


def _impressions(db: Database, ctx: TenantContext, campaign, first: date, last: date) -> int:
    first, last = _in_flight(campaign, first, last)
    if first is None:
        return 0
    return int(delivery.delivery_by(db, ctx, campaign.id, "day", first, last)["impressions"].sum())
