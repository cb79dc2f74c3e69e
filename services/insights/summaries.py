"""Written "This week" summaries per network, show and campaign: facts -> the template writer (default, offline,
deterministic) or the checked language-model writer -> cached per scope and period in insight_summaries.

Pages and the API read the cache (a miss is written by the template at once); the job after counting recomputes."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from services.db import Database
from services.errors import NotFound, ValidationError
from services.insights.facts import SCOPES, FactProvider, Facts, FactsRequest, build_facts
from services.insights.forecast_facts import forecast_facts
from services.insights.llm import LlmProvider, write_with_model
from services.models import NETWORK, Campaign, InsightSummary, Podcast
from services.sponsorship.campaigns import get_campaign
from services.tenancy import TenantContext

logger = logging.getLogger(__name__)

WEEK_DAYS = 7
MAX_DAYS = 366
# Extra fact providers every summary gets (forecasts plug in here).
DEFAULT_PROVIDERS: tuple[FactProvider, ...] = (forecast_facts,)  # the forecasts' facts
CAUSES = {"import_gap": "no raw requests arrived that day (an import gap)",
          "bot_surge": "bot-filtered requests surged that day",
          "app_share_collapse": "{detail}'s share of downloads collapsed",
          "country_spike": "downloads from {detail} spiked"}


@dataclass(frozen=True)
class Summary:
    scope: str
    scope_id: int | None
    first: date
    last: date
    text: str
    writer: str  # template | llm
    facts: list[dict]

    def as_dict(self) -> dict:
        return {"text": self.text, "writer": self.writer, "facts": self.facts,
                "from": self.first.isoformat(), "to": self.last.isoformat()}


def this_week(today: date | None = None) -> tuple[date, date]:
    """The seven complete UTC days before today."""
    last = (today or datetime.now(timezone.utc).date()) - timedelta(days=1)
    return last - timedelta(days=WEEK_DAYS - 1), last


def check_request(scope: str, scope_id: int | None, first: date, last: date) -> None:
    if scope not in SCOPES:
        raise ValidationError(f"scope must be one of {', '.join(SCOPES)}", {"scope": "network, podcast or campaign"})
    if scope != "network" and scope_id is None:
        raise ValidationError(f"scope {scope} needs an id", {"id": "required for this scope"})
    if first > last:
        raise ValidationError("from is after to", {"from": "on or before to"})
    if (last - first).days >= MAX_DAYS:
        raise ValidationError(f"the period is longer than {MAX_DAYS} days", {"from": "period too long"})


def check_access(db: Database, ctx: TenantContext, scope: str, scope_id: int | None) -> None:
    """A sponsor user sees only their own sponsor's campaigns; anything else they ask for does not exist for them.
    Another tenant's podcast or campaign is NotFound."""
    if scope == "campaign":
        get_campaign(db, ctx, scope_id)
        return
    if ctx.is_sponsor:
        raise NotFound(f"no {scope} summary for a sponsor")
    if scope == "podcast":
        with db.session(ctx.tenant_id) as s:
            if s.scalar(select(Podcast.id).where(Podcast.id == scope_id, Podcast.tenant_id == ctx.tenant_id)) is None:
                raise NotFound(f"no podcast {scope_id}")


def get_summary(db: Database, ctx: TenantContext, scope: str, scope_id: int | None = None, first: date | None = None,
                last: date | None = None, providers: Sequence[FactProvider] = DEFAULT_PROVIDERS) -> Summary:
    """The cached summary of the scope over first..last (default: this week); on a miss the template writes it now."""
    if first is None or last is None:
        first, last = this_week()
    check_request(scope, scope_id, first, last)
    check_access(db, ctx, scope, scope_id)
    cached = _cached(db, ctx.tenant_id, scope, scope_id, first, last)
    return cached or compute_summary(db, ctx, scope, scope_id, first, last, providers)


def compute_summary(db: Database, ctx: TenantContext, scope: str, scope_id: int | None, first: date, last: date,
                    providers: Sequence[FactProvider] = DEFAULT_PROVIDERS, writer: LlmProvider | None = None) -> Summary:
    """Build the facts, write (the model when given and its answer passes the check, else the template) and cache."""
    facts = build_facts(FactsRequest(db, ctx, scope, scope_id, first, last), providers)
    text, used = template_text(facts), "template"
    if writer is not None:
        written = write_with_model(facts, writer)
        if written is not None:
            text, used = written, "llm"
    summary = Summary(scope, scope_id, first, last, text, used, facts.as_list())
    _store(db, ctx.tenant_id, summary)
    return summary


def refresh_tenant_summaries(db: Database, tenant_id: int, since: date | None = None, today: date | None = None,
                             providers: Sequence[FactProvider] = DEFAULT_PROVIDERS,
                             writer: LlmProvider | None = None) -> int:
    """The job's use case after counting: drop cached summaries of periods reaching `since` (their figures moved),
    then write this week's for the network, every show and every campaign flying this week. Returns how many."""
    first, last = this_week(today)
    ctx = TenantContext(tenant_id, "owner")
    with db.session(tenant_id, worker=True) as s:
        if since is not None:
            s.execute(delete(InsightSummary).where(InsightSummary.tenant_id == tenant_id,
                                                   InsightSummary.last_day >= since))
            s.commit()
        podcasts = s.scalars(select(Podcast.id).where(Podcast.tenant_id == tenant_id).order_by(Podcast.id)).all()
        campaigns = s.scalars(select(Campaign.id).where(
            Campaign.tenant_id == tenant_id, Campaign.start_date <= last, Campaign.end_date >= first)
            .order_by(Campaign.id)).all()
    scopes = [("network", None)] + [("podcast", p) for p in podcasts] + [("campaign", c) for c in campaigns]
    for scope, scope_id in scopes:
        compute_summary(db, ctx, scope, scope_id, first, last, providers, writer)
    return len(scopes)


# --- the template writer ----------------------------------------------------------------------------------------

def template_text(facts: Facts) -> str:
    """3 to 6 plain sentences from the facts, the same facts always giving the same text."""
    sentences = _campaign_sentences(facts) if facts.scope == "campaign" else _audience_sentences(facts)
    sentences += [f"{_label(f.name)}: {_value(f.value)}." for f in facts.from_source("forecast")][:1]
    while len(sentences) < 3:
        sentences.append(f"The period covers {facts.get('period_days')} days, {_period(facts)}.")
    return " ".join(sentences[:6])


def _audience_sentences(facts: Facts) -> list[str]:
    who = f"{facts.get('show')}" if facts.scope == "podcast" else "the network"
    out = [f"From {_period(facts)}, {who} had {count(facts.get('downloads', 0))} downloads"
           f"{_change(facts.get('downloads_change_pct'))}."]
    if facts.get("avg_daily_listeners"):
        out.append(f"Listeners averaged {count(facts.get('avg_daily_listeners'))} a day.")
    if facts.get("top_show"):
        line = f"{facts.get('top_show')} led with {count(facts.get('top_show_downloads'))} downloads"
        if facts.get("top_riser") and facts.get("top_riser") != facts.get("top_show"):
            line += f", and {facts.get('top_riser')} rose most ({pct(facts.get('top_riser_change_pct'), True)})"
        out.append(line + ".")
    if facts.get("top_episode"):
        out.append(f"The most downloaded episode was {facts.get('top_episode')} "
                   f"with {count(facts.get('top_episode_downloads'))}.")
    if facts.get("top_app") and facts.get("top_country"):
        out.append(f"{facts.get('top_app')} was the top app ({pct(facts.get('top_app_share_pct'))} of downloads) "
                   f"and {facts.get('top_country')} the top country ({pct(facts.get('top_country_share_pct'))}).")
    out.append(_anomaly_sentence(facts))
    return out


def _anomaly_sentence(facts: Facts) -> str:
    n = facts.get("anomalies", 0)
    if not n:
        return "No anomalies were flagged."
    flagged = f"{n} anomal{'ies were' if n != 1 else 'y was'} flagged"
    if not facts.get("anomaly_show"):
        return flagged + "."
    line = (f"{flagged}; the latest: a {facts.get('anomaly_kind')} for {facts.get('anomaly_show')} on "
            f"{_day(facts.get('anomaly_day'))} ({count(facts.get('anomaly_downloads'))} downloads against "
            f"{count(facts.get('anomaly_expected'))} expected)")
    cause = cause_text(facts.get("anomaly_cause"))
    return line + (f", when {cause}." if cause else ".")


def _campaign_sentences(facts: Facts) -> list[str]:
    out = [f"From {_period(facts)}, {facts.get('campaign')} delivered {count(facts.get('impressions', 0))} "
           f"impressions{_change(facts.get('impressions_change_pct'))}."]
    if facts.get("flight_status") != "flying":
        out.append(f"Its flight {'ended' if facts.get('flight_status') == 'ended' else 'starts'} on "
                   f"{_day(facts.get('flight_end' if facts.get('flight_status') == 'ended' else 'flight_start'))}.")
    if facts.get("goal_impressions"):
        out.append(f"In all {count(facts.get('delivered'))} of {count(facts.get('goal_impressions'))} impressions "
                   f"are delivered ({pct(facts.get('delivered_pct_of_goal'))} of the goal).")
        on_track = facts.get("on_track") == "yes"
        if facts.get("flight_status") == "flying":
            out.append(f"The flight is {'on track' if on_track else 'behind'}, with "
                       f"{count(facts.get('forecast_impressions'))} impressions forecast by its end.")
    else:
        out.append(f"In all {count(facts.get('delivered'))} impressions are delivered.")
    if facts.get("top_show"):
        out.append(f"{facts.get('top_show')} carried the most, {count(facts.get('top_show_impressions'))} impressions.")
    return out


def cause_text(cause: str | None) -> str | None:
    """A stored cause ("code" or "code:detail") in plain words."""
    if not cause:
        return None
    code, _, detail = cause.partition(":")
    return CAUSES.get(code, code.replace("_", " ")).format(detail=detail)


def count(value) -> str:
    return f"{int(round(float(value or 0))):,}"


def pct(value, signed: bool = False) -> str:
    return f"{float(value):+.1f}%" if signed else f"{float(value):.1f}%"


def _change(change_pct) -> str:
    if change_pct is None:
        return ""
    if abs(change_pct) < 1:
        return ", about the same as the period before"
    return f", {'up' if change_pct > 0 else 'down'} {pct(abs(change_pct))} on the period before"


def _period(facts: Facts) -> str:
    return f"{_day(facts.get('period_first'))} to {_day(facts.get('period_last'))}"


def _day(iso: str) -> str:
    return pd.Timestamp(iso).strftime("%b %d").replace(" 0", " ")


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _value(value) -> str:
    return count(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


# --- the cache --------------------------------------------------------------------------------------------------

def _cached(db: Database, tenant_id: int, scope: str, scope_id: int | None, first: date, last: date) -> Summary | None:
    with db.session(tenant_id, worker=True) as s:
        row = s.scalar(select(InsightSummary).where(*_key(tenant_id, scope, scope_id, first, last)))
        if row is None:
            return None
        return Summary(scope, scope_id, first, last, row.text, row.writer, list(row.facts or []))


def _key(tenant_id: int, scope: str, scope_id: int | None, first: date, last: date) -> tuple:
    return (InsightSummary.tenant_id == tenant_id, InsightSummary.scope == scope,
            InsightSummary.scope_id == (scope_id or NETWORK), InsightSummary.first_day == first,
            InsightSummary.last_day == last)


def _store(db: Database, tenant_id: int, summary: Summary) -> None:
    """Replace the cached row of this scope and period (one transaction: never two rows, never none)."""
    with db.session(tenant_id, worker=True) as s:
        s.execute(delete(InsightSummary).where(*_key(tenant_id, summary.scope, summary.scope_id, summary.first,
                                                     summary.last)))
        s.add(InsightSummary(tenant_id=tenant_id, scope=summary.scope, scope_id=summary.scope_id or NETWORK,
                             first_day=summary.first, last_day=summary.last, text=summary.text,
                             writer=summary.writer, facts=summary.facts))
        try:
            s.commit()
        except IntegrityError:  # a concurrent writer stored the same period first: its row stands
            s.rollback()
