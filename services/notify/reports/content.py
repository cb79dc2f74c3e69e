"""A report's figures, read through the dashboards' and sponsorship services with the subscriber's own context (so
a report holds only what its subscriber may see): KPIs against the previous period, top episodes, apps and countries
for the network or a show; delivery, pacing and attribution for a campaign. Nothing here draws or sends."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from services.dashboards import overview
from services.dashboards.periods import ViewState
from services.db import Database
from services.notify.reports.charts import Chart, bar_chart
from services.notify.reports.schedule import Occurrence
from services.sponsorship import delivery, pacing
from services.sponsorship.attribution.report import attribution_report
from services.sponsorship.campaigns import get_campaign
from services.tenancy import TenantContext

TOP = 5


@dataclass(frozen=True)
class Kpi:
    label: str
    value: float | None
    previous: float | None = None
    unit: str = ""  # "", "%" (a share), "money"

    @property
    def change(self) -> float | None:
        if self.previous in (None, 0) or self.value is None:
            return None
        return (self.value - self.previous) / self.previous


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list]
    empty: str = "Nothing in this period."


@dataclass(frozen=True)
class ReportContent:
    title: str
    period_start: date
    period_end: date
    previous_start: date
    previous_end: date
    kpis: list[Kpi]
    tables: list[Table]
    charts: list[Chart]
    notes: list[str]  # sentences shown above the figures (an empty period says so here)
    csv_header: list[str]
    csv_rows: list[list]
    link: str  # the page in the app
    empty: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def period_label(self) -> str:
        return f"{self.period_start:%d %b %Y} – {self.period_end:%d %b %Y}"

    @property
    def subject(self) -> str:
        return f"{self.title} · {self.period_label}"


def _state(first: date, last: date, podcast: int | None) -> ViewState:
    return ViewState(range="custom", start=first, end=last, compare="none", podcast=podcast)


def audience_report(db: Database, ctx: TenantContext, title: str, occurrence: Occurrence,
                    podcast_id: int | None = None) -> ReportContent:
    """The network's (or one show's) report: the overview dashboard's questions over the period."""
    first, last = occurrence.period_start, occurrence.period_end
    prev_first, prev_last = occurrence.previous
    today = last + timedelta(days=1)
    state = _state(first, last, podcast_id)
    now = overview.overview_kpis(db, ctx, state, today).current
    before = overview.overview_kpis(db, ctx, _state(prev_first, prev_last, podcast_id), today).current
    timeline = overview.downloads_timeline(db, ctx, state, today)
    episodes = overview.top_episodes(db, ctx, state, today, TOP)
    apps = overview.top_apps(db, ctx, state, today, TOP)
    countries = overview.top_countries(db, ctx, state, today, TOP)
    kpis = [Kpi("Downloads", now.downloads, before.downloads),
            Kpi("Avg daily listeners", round(now.avg_daily_listeners, 1), round(before.avg_daily_listeners, 1)),
            Kpi("Episodes released", now.episodes_released, before.episodes_released)]
    days = [d.date() for d in timeline["period"]]
    empty = now.downloads == 0
    notes = [f"No downloads were counted from {first:%d %b} to {last:%d %b %Y}."] if empty else []
    charts = [] if empty else [
        bar_chart("downloads-per-day", "Downloads per day", [f"{d:%d %b}" for d in days], timeline["downloads"],
                  name="Downloads"),
        bar_chart("top-apps", "Top apps by downloads", apps["app"], apps["downloads"], horizontal=True)]
    tables = [Table("Top episodes", ["Episode", "Show", "Downloads"],
                    [[r.episode, r.podcast, int(r.downloads)] for r in episodes.itertuples()]),
              Table("Top apps", ["App", "Downloads"], [[r.app, int(r.downloads)] for r in apps.itertuples()]),
              Table("Top countries", ["Country", "Downloads"],
                    [[r.country, int(r.downloads)] for r in countries.itertuples()])]
    return ReportContent(title, first, last, prev_first, prev_last, kpis, tables, charts, notes,
                         ["day", "downloads"], [[d.isoformat(), int(n)] for d, n in zip(days, timeline["downloads"])],
                         f"/podcasts/{podcast_id}" if podcast_id else "/", empty)


def campaign_report(db: Database, ctx: TenantContext, campaign_id: int, occurrence: Occurrence) -> ReportContent:
    """A campaign's report: delivery in the period against the previous one, pacing and attribution as of its end."""
    first, last = occurrence.period_start, occurrence.period_end
    prev_first, prev_last = occurrence.previous
    campaign = get_campaign(db, ctx, campaign_id)
    daily = delivery.delivery_by(db, ctx, campaign_id, "day", first, last)
    before = delivery.delivery_by(db, ctx, campaign_id, "day", prev_first, prev_last)
    shows = delivery.delivery_by(db, ctx, campaign_id, "podcast", first, last)
    pace = pacing.pacing(db, ctx, campaign_id, last)
    summary = attribution_report(db, ctx, campaign_id, as_of=last).summary
    impressions = int(daily["impressions"].sum())
    kpis = [Kpi("Impressions", impressions, int(before["impressions"].sum())),
            Kpi("Delivered to date", pace.delivered), Kpi("Goal", pace.goal),
            Kpi("Pace", None if pace.pace is None else round(pace.pace * 100, 1), unit="%"),
            Kpi("Forecast", round(pace.forecast)),
            Kpi("Attributed conversions", summary["conversions"]), Kpi("Revenue", summary["revenue"], unit="money"),
            Kpi("ROAS", summary["roas"])]
    empty = impressions == 0
    notes = [f"No impressions were delivered from {first:%d %b} to {last:%d %b %Y}."] if empty else []
    if pace.under_delivery:
        notes.append(f"Behind pace: forecast to fall {pace.shortfall:,} impressions short of the goal.")
    charts = []
    if not empty:
        charts.append(bar_chart("impressions-per-day", "Impressions per day", [f"{d:%d %b}" for d in daily["day"]],
                                daily["impressions"], name="Impressions"))
    if pace.delivered or pace.goal:
        charts.append(bar_chart("delivery-vs-goal", "Delivery against goal",
                                ["Delivered", "Expected to date", "Forecast", "Goal"],
                                [pace.delivered, round(pace.expected), round(pace.forecast), pace.goal or 0]))
    tables = [Table("Impressions by show", ["Show", "Impressions"],
                    [[r.podcast, int(r.impressions)] for r in shows.itertuples()])]
    return ReportContent(f"Campaign report: {campaign.name}", first, last, prev_first, prev_last, kpis, tables, charts,
                         notes, ["day", "impressions", "listeners"],
                         [[d.isoformat(), int(n), int(listeners)] for d, n, listeners
                          in zip(daily["day"], daily["impressions"], daily["listeners"])],
                         f"/campaigns/{campaign_id}", empty)
