"""Summaries: the template's exact sentences from hand-built facts, the facts builder on the demo network (with an
extra fact provider, as forecasts plug in), the cache per period, and who may read which summary."""
from __future__ import annotations

import re
import shutil
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from services import demo
from services.db import Database
from services.errors import NotFound, ValidationError
from services.insights import summaries
from services.insights.facts import Fact, Facts, FactsRequest, build_facts
from services.models import Campaign, InsightSummary, Podcast, Sponsor, Tenant
from services.tenancy import TenantContext


def _facts(scope: str, items: dict) -> Facts:
    facts = Facts(scope, date(2026, 11, 23), date(2026, 11, 29))
    facts.add("period_first", "2026-11-23", "period")
    facts.add("period_last", "2026-11-29", "period")
    facts.add("period_days", 7, "period")
    for name, value in items.items():
        facts.add(name, value, "test")
    return facts


NETWORK = {"downloads": 12345, "downloads_previous": 10975, "downloads_change_pct": 12.5, "avg_daily_listeners": 1530,
           "top_show": "Signal & Noise", "top_show_downloads": 5012, "top_riser": "Market Hours",
           "top_riser_change_pct": 48.8, "top_app": "Apple Podcasts", "top_app_share_pct": 39.0, "top_country": "US",
           "top_country_share_pct": 49.6, "anomalies": 2, "anomaly_show": "Market Hours",
           "anomaly_day": "2026-11-26", "anomaly_kind": "drop", "anomaly_downloads": 40, "anomaly_expected": 130,
           "anomaly_cause": "app_share_collapse:Spotify"}


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.])\s+(?=[A-Z0-9])", text) if s]


def test_the_network_template_states_the_facts_in_plain_sentences():
    text = summaries.template_text(_facts("network", NETWORK))
    assert _sentences(text) == [
        "From Nov 23 to Nov 29, the network had 12,345 downloads, up 12.5% on the period before.",
        "Listeners averaged 1,530 a day.",
        "Signal & Noise led with 5,012 downloads, and Market Hours rose most (+48.8%).",
        "Apple Podcasts was the top app (39.0% of downloads) and US the top country (49.6%).",
        "2 anomalies were flagged; the latest: a drop for Market Hours on Nov 26 (40 downloads against 130 "
        "expected), when Spotify's share of downloads collapsed.",
    ]
    assert summaries.template_text(_facts("network", NETWORK)) == text  # deterministic


def test_a_quiet_show_still_gets_three_sentences_and_a_forecast_fact_is_stated():
    facts = _facts("podcast", {"show": "Tiny Show", "downloads": 12, "downloads_previous": 12,
                               "downloads_change_pct": 0.0, "anomalies": 0})
    facts.items.append(Fact("forecast_next_week_downloads", 14, "forecast:podcast"))
    assert _sentences(summaries.template_text(facts)) == [
        "From Nov 23 to Nov 29, Tiny Show had 12 downloads, about the same as the period before.",
        "No anomalies were flagged.",
        "Forecast next week downloads: 14.",
    ]


def test_the_campaign_template_speaks_only_of_the_campaign():
    facts = _facts("campaign", {"campaign": "Morning Ritual", "flight_status": "flying", "impressions": 2400,
                                "impressions_previous": 2000, "impressions_change_pct": 20.0, "delivered": 9000,
                                "goal_impressions": 30000, "delivered_pct_of_goal": 30.0,
                                "forecast_impressions": 27000, "on_track": "no", "top_show": "Signal & Noise",
                                "top_show_impressions": 1500})
    assert _sentences(summaries.template_text(facts)) == [
        "From Nov 23 to Nov 29, Morning Ritual delivered 2,400 impressions, up 20.0% on the period before.",
        "In all 9,000 of 30,000 impressions are delivered (30.0% of the goal).",
        "The flight is behind, with 27,000 impressions forecast by its end.",
        "Signal & Noise carried the most, 1,500 impressions.",
    ]


@pytest.fixture
def demo_db(tmp_path, seeded_sqlite):
    shutil.copy(seeded_sqlite, tmp_path / "demo.db")
    db = Database(f"sqlite:///{tmp_path / 'demo.db'}")
    yield db
    db.dispose()


def _demo(db):
    with db.session(system=True) as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == demo.DEMO_SLUG))
        podcast_id = s.scalar(select(Podcast.id).where(Podcast.tenant_id == tenant_id).order_by(Podcast.id))
        campaigns = s.execute(select(Campaign.id, Campaign.name, Campaign.sponsor_id, Sponsor.name)
                              .join(Sponsor, Sponsor.id == Campaign.sponsor_id)
                              .where(Campaign.tenant_id == tenant_id).order_by(Campaign.id)).all()
    return tenant_id, podcast_id, campaigns


def test_the_facts_builder_reads_the_rollups_and_takes_extra_providers(demo_db):
    tenant_id, podcast_id, _ = _demo(demo_db)
    ctx = TenantContext(tenant_id, "owner")
    first, last = summaries.this_week()
    seen = []

    def forecast_provider(request: FactsRequest) -> list[Fact]:
        seen.append((request.scope, request.scope_id, request.first, request.last))
        return [Fact("forecast_next_week_downloads", 777, "forecast:test")]

    facts = build_facts(FactsRequest(demo_db, ctx, "podcast", podcast_id, first, last), [forecast_provider])
    assert seen == [("podcast", podcast_id, first, last)]
    assert facts.get("forecast_next_week_downloads") == 777
    assert facts.get("downloads") > 0 and facts.get("top_episode") and facts.get("top_app")
    assert all(f.source for f in facts.items)
    summary = summaries.compute_summary(demo_db, ctx, "podcast", podcast_id, first, last, [forecast_provider])
    assert "777" in summary.text and summary.writer == "template"
    assert 3 <= len(_sentences(summary.text)) <= 6


def test_the_forecasts_are_facts_of_every_summary(demo_db):
    """The default provider: the shows' next 7 days (with the 80% interval) for the network and a show, the expected
    delivery and the chance of the goal for a campaign; a sponsor's own campaign gets its forecast too."""
    tenant_id, podcast_id, campaigns = _demo(demo_db)
    ctx = TenantContext(tenant_id, "owner")
    first, last = summaries.this_week()
    network = build_facts(FactsRequest(demo_db, ctx, "network", None, first, last), summaries.DEFAULT_PROVIDERS)
    show = build_facts(FactsRequest(demo_db, ctx, "podcast", podcast_id, first, last), summaries.DEFAULT_PROVIDERS)
    name = "forecast_downloads_next_7_days"
    for facts in (network, show):
        assert facts.get(name + "_low") <= facts.get(name) <= facts.get(name + "_high")
        assert {f.source for f in facts.from_source("forecast")} == {"forecast:shows"}
    assert network.get(name) > show.get(name) > 0  # the network sums its three shows
    campaign_id, _, sponsor_id, _ = campaigns[0]
    sponsor = TenantContext(tenant_id, "sponsor", sponsor_id=sponsor_id)
    facts = build_facts(FactsRequest(demo_db, sponsor, "campaign", campaign_id, first, last),
                        summaries.DEFAULT_PROVIDERS)
    assert facts.get("forecast_impressions_by_flight_end") >= 0
    assert [f.source for f in facts.from_source("forecast")][0] == "forecast:campaign"
    assert facts.get(name) is None  # the network's audience forecast is not a sponsor's to read


def test_summaries_are_cached_per_period_and_rewritten_after_counting(demo_db):
    tenant_id, _, _ = _demo(demo_db)
    ctx = TenantContext(tenant_id, "viewer")
    first, last = summaries.this_week()
    summary = summaries.get_summary(demo_db, ctx, "network")
    with demo_db.session(tenant_id) as s:
        s.execute(update(InsightSummary).values(text="cached text"))
        s.commit()
    assert summaries.get_summary(demo_db, ctx, "network").text == "cached text"
    other = summaries.get_summary(demo_db, ctx, "network", None, first - timedelta(days=7), last - timedelta(days=7))
    assert other.text != "cached text" and other.first == first - timedelta(days=7)
    summaries.refresh_tenant_summaries(demo_db, tenant_id, since=last)
    assert summaries.get_summary(demo_db, ctx, "network").text == summary.text
    with demo_db.session(tenant_id) as s:  # the older period did not reach the recounted day: still cached
        assert s.scalar(select(InsightSummary.id).where(InsightSummary.last_day == last - timedelta(days=7)))


def test_a_sponsor_user_reads_only_their_own_campaigns_summary(demo_db):
    tenant_id, podcast_id, campaigns = _demo(demo_db)
    own_id, own_name, sponsor_id, sponsor_name = campaigns[0]
    sponsor = TenantContext(tenant_id, "sponsor", sponsor_id=sponsor_id)
    summary = summaries.get_summary(demo_db, sponsor, "campaign", own_id)
    assert own_name in summary.text
    others = {name for _, name, sid, _ in campaigns if sid != sponsor_id} | \
        {sname for _, _, sid, sname in campaigns if sid != sponsor_id}
    shown = summary.text + repr(summary.facts)
    assert others and not any(name in shown for name in others)
    for cid, _, sid, _ in campaigns:
        if sid != sponsor_id:
            with pytest.raises(NotFound):
                summaries.get_summary(demo_db, sponsor, "campaign", cid)
    for scope, scope_id in (("network", None), ("podcast", podcast_id)):
        with pytest.raises(NotFound):
            summaries.get_summary(demo_db, sponsor, scope, scope_id)


def test_another_tenant_cannot_read_the_demos_summaries(demo_db):
    tenant_id, podcast_id, campaigns = _demo(demo_db)
    with demo_db.session(system=True) as s:
        s.add(Tenant(slug="acme", name="Acme"))
        s.commit()
        acme = s.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
    ctx = TenantContext(acme, "owner")
    for scope, scope_id in (("podcast", podcast_id), ("campaign", campaigns[0][0])):
        with pytest.raises(NotFound):
            summaries.get_summary(demo_db, ctx, scope, scope_id)
    network = summaries.get_summary(demo_db, ctx, "network")
    assert "0 downloads" in network.text and "Signal" not in network.text


@pytest.mark.parametrize("scope, scope_id, first, last, field", [
    ("galaxy", None, None, None, "scope"), ("podcast", None, None, None, "id"),
    ("network", None, date(2026, 2, 1), date(2026, 1, 1), "from"),
    ("network", None, date(2024, 1, 1), date(2026, 1, 1), "from"),
])
def test_bad_requests_name_the_field(demo_db, scope, scope_id, first, last, field):
    tenant_id, _, _ = _demo(demo_db)
    with pytest.raises(ValidationError) as error:
        summaries.get_summary(demo_db, TenantContext(tenant_id, "owner"), scope, scope_id, first, last)
    assert field in error.value.fields
