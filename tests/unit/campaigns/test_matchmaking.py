"""Matchmaking on a constructed network where the right order is known by hand (matchmaking_network.py): hard
filters, factors, weights, the workflow handler, the reverse (sponsors for a show) ranking, and who may see what."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select

from services.errors import NotFound, PermissionDenied, ValidationError
from services.models import CampaignRecommendation, Download
from services.sponsorship import campaigns, match_scoring, match_weights, matchmaking, sponsors
from tests.unit.campaigns import matchmaking_network as mn

AS_OF = mn.as_of()


@pytest.fixture
def built(network):
    return mn.build(network)


def _ranked(network, campaign_id, ctx=None):
    return matchmaking.campaign_recommendations(network.db, ctx or network.ctx("viewer"), campaign_id, as_of=AS_OF)


def _keys(network, rows) -> list[str]:
    names = {v: k for k, v in network.podcasts.items()}
    return [names[r.key] for r in rows]


def _event(network, campaign_id, event_id=1):
    return SimpleNamespace(id=event_id, tenant_id=network.tenant_id, type="campaign.created",
                           payload={"campaign_id": campaign_id})


# --- the pure rules ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("category,targets,expected", [
    ("Technology", ["technology", "Business"], 1.0), ("Business News", ["Business"], 0.5),
    ("Arts", ["Business"], 0.0), (None, ["Business"], 0.0), ("Arts", [], 0.5)])
def test_category_fit(category, targets, expected):
    assert match_scoring.category_fit(category, targets) == expected


def test_factor_rules_by_hand():
    assert match_scoring.geo_fit({"US": 30, "GB": 10}, ["us"]) == 0.75
    assert match_scoring.geo_fit({}, ["US"]) == 0.0 and match_scoring.geo_fit({"DE": 5}, []) == 1.0
    assert match_scoring.inventory_fit(100, 400, 0) == 0.25 and match_scoring.inventory_fit(800, 400, 0) == 1.0
    assert match_scoring.inventory_fit(50, None, 200) == 0.25 and match_scoring.inventory_fit(0, 400, 9) == 0.0
    assert match_scoring.cpm_fit(80_000, 25.0, 1000.0) == 0.5  # costs 2000, 1000 left
    assert match_scoring.cpm_fit(80_000, None, 1000.0) == 1.0
    assert match_scoring.new_reach({"country:US": 1.0}, None) == 1.0
    assert match_scoring.new_reach({"country:US": 1.0}, {"country:US": 1.0}) == 0.0
    assert match_scoring.new_reach({"country:DE": 1.0}, {"country:US": 1.0}) == 1.0
    assert match_scoring.performance_fit(None, 4.0) == 0.5 and match_scoring.performance_fit(1.0, 4.0) == 0.25


def test_explanation_names_the_top_factors_and_the_weak_one_deterministically():
    factors = {"category_fit": 1.0, "geo_fit": 0.5, "inventory_fit": 0.25, "cpm_fit": 1.0, "new_reach": 1.0,
               "past_performance": 0.1}
    text = match_scoring.explain(factors, match_scoring.DEFAULT_WEIGHTS, 2, 5)
    assert text == ("#2 of 5: strong category fit (1.00) and fair audience in the target countries (0.50); "
                    "held back by past attributed performance (0.10).")
    assert match_scoring.explain(factors, match_scoring.DEFAULT_WEIGHTS, 2, 5) == text


# --- the campaign's ranking -------------------------------------------------------------------------------------

def test_order_and_factors_are_the_ones_worked_out_by_hand(network, built):
    result = _ranked(network, built["coffee"])
    assert _keys(network, result.ranked) == ["tech", "biz", "arts"]
    tech, biz, arts = result.ranked
    assert tech.factors == {"category_fit": 1.0, "geo_fit": 1.0, "inventory_fit": 1.0, "cpm_fit": 1.0,
                            "new_reach": 1.0, "past_performance": 0.5}
    assert biz.factors["geo_fit"] == 0.5 and biz.factors["inventory_fit"] == 0.5
    assert arts.factors["category_fit"] == 0.0 and arts.factors["geo_fit"] == 0.0
    assert arts.factors["inventory_fit"] == 0.25
    assert (tech.score, biz.score, arts.score) == (round(10 / 11, 4), round(8 / 11, 4), round(3.5 / 11, 4))
    assert tech.explanation.startswith("#1 of 3: strong category fit (1.00)")
    assert [r.rank for r in result.ranked] == [1, 2, 3]


def test_brand_safety_and_competitor_are_never_ranked(network, built):
    result = _ranked(network, built["coffee"])
    ranked = _keys(network, result.ranked)
    assert "news" not in ranked and "gadget" not in ranked
    excluded = {k: r.excluded_because for k, r in zip(_keys(network, result.excluded), result.excluded)}
    assert excluded["news"] == "in an excluded category (News)"
    assert "competing Food & Beverage sponsor" in excluded["gadget"] and "Acme Tea (Tea Time)" in excluded["gadget"]
    assert all(r.score is None and r.rank is None for r in result.excluded)


def test_no_conflict_when_days_do_not_overlap_or_the_rival_is_cancelled_or_another_industry(network):
    mn.add_shows(network)
    late = mn.make_campaign(network, "tea", "Late Tea", "2026-06-26", "2026-07-10")
    mn.place(network, late, "gadget")
    vpn = mn.make_campaign(network, "vpn", "Private", target_categories="Technology")
    mn.place(network, vpn, "gadget")
    cancelled = mn.make_campaign(network, "tea", "Cancelled Tea")
    mn.place(network, cancelled, "gadget")
    campaigns.change_campaign_status(network.db, network.ctx("editor"), cancelled, "cancelled")
    coffee = mn.make_campaign(network, "coffee")
    assert "gadget" in _keys(network, _ranked(network, coffee).ranked)
    mn.place(network, mn.make_campaign(network, "tea", "Overlap Tea", "2026-06-25", "2026-06-30"), "gadget")
    assert "gadget" in _keys(network, _ranked(network, coffee).excluded)


def test_a_placement_on_a_show_lowers_new_reach_for_shows_with_the_same_audience(network, built):
    mn.place(network, built["coffee"], "tech")
    weights = {name: 0 for name in match_scoring.FACTORS} | {"new_reach": 1}
    match_weights.save_weights(network.db, network.ctx("admin"), weights)
    result = _ranked(network, built["coffee"])
    by_key = dict(zip(_keys(network, result.ranked), result.ranked))
    assert by_key["tech"].factors["new_reach"] == 0.0  # the same listeners again
    assert by_key["arts"].factors["new_reach"] == 1.0  # nobody in common (DE, Spotify)
    assert 0 < by_key["biz"].factors["new_reach"] < 0.2  # half its countries and its app shared
    assert _keys(network, result.ranked) == ["arts", "biz", "tech"]


def test_weight_changes_reorder(network, built):
    assert _keys(network, _ranked(network, built["coffee"]).ranked) == ["tech", "biz", "arts"]
    only_new_reach = {name: 0 for name in match_scoring.FACTORS} | {"new_reach": 1}
    match_weights.save_weights(network.db, network.ctx("owner"), only_new_reach)
    tied = _ranked(network, built["coffee"])  # every show scores 1: ties go by title
    assert _keys(network, tied.ranked) == ["arts", "biz", "tech"] and {r.score for r in tied.ranked} == {1.0}
    match_weights.save_weights(network.db, network.ctx("owner"), {"category_fit": 0, "geo_fit": 0,
                                                                    "inventory_fit": 10, "past_performance": 0})
    assert _keys(network, _ranked(network, built["coffee"]).ranked) == ["tech", "biz", "arts"]


def test_past_performance_of_the_sponsor_then_of_its_industry(network, built):
    spring = mn.make_campaign(network, "coffee", "Spring", "2026-05-01", "2026-05-31")
    mn.store_results(network, spring, {"tech": (1000, 1.0), "biz": (1000, 4.0)})
    match_weights.save_weights(network.db, network.ctx("owner"),
                               {name: 0 for name in match_scoring.FACTORS} | {"past_performance": 1})
    result = _ranked(network, built["coffee"])
    perf = {k: r.factors["past_performance"] for k, r in zip(_keys(network, result.ranked), result.ranked)}
    assert perf == {"biz": 1.0, "arts": 0.5, "tech": 0.25}  # 4 and 1 per 1000; Art Hour unknown
    assert _keys(network, result.ranked) == ["biz", "arts", "tech"]
    # Acme Tea has no results of its own: its industry's (Northwind Coffee's) count for it.
    tea_other = mn.make_campaign(network, "tea", "Tea Two")
    tea = {k: r.factors["past_performance"] for k, r in
           zip(_keys(network, _ranked(network, tea_other).rows), _ranked(network, tea_other).rows)}
    assert tea["biz"] == 1.0 and tea["tech"] == 0.25


# --- the workflow's handler and the notification ----------------------------------------------------------------

def _stored_rows(network, campaign_id):
    with network.db.session(network.tenant_id) as s:
        return sorted((r.podcast_id, tuple(sorted(r.factors.items())), r.excluded_because) for r in s.scalars(
            select(CampaignRecommendation).where(CampaignRecommendation.campaign_id == campaign_id)))


def test_handler_stores_every_show_and_twice_is_the_same(network, built):
    assert _stored_rows(network, built["coffee"]) == []
    matchmaking.on_campaign_created(network.db, _event(network, built["coffee"]), as_of=AS_OF)
    first = _stored_rows(network, built["coffee"])
    assert len(first) == 5 and sum(reason is not None for _, _, reason in first) == 2
    matchmaking.on_campaign_created(network.db, _event(network, built["coffee"]), as_of=AS_OF)
    assert _stored_rows(network, built["coffee"]) == first
    stored = _ranked(network, built["coffee"])
    assert stored.computed_at is not None and _keys(network, stored.ranked) == ["tech", "biz", "arts"]


def test_handler_refuses_a_bad_payload_and_skips_a_missing_campaign(network, built):
    bad = SimpleNamespace(id=7, tenant_id=network.tenant_id, type="campaign.created", payload={"campaign_id": "x"})
    with pytest.raises(ValidationError, match="event 7: payload.campaign_id"):
        matchmaking.on_campaign_created(network.db, bad)
    matchmaking.on_campaign_created(network.db, _event(network, 999_999), as_of=AS_OF)  # no error, nothing stored
    other = SimpleNamespace(id=8, tenant_id=network.other_tenant_id, type="campaign.created",
                            payload={"campaign_id": built["coffee"]})
    matchmaking.on_campaign_created(network.db, other, as_of=AS_OF)  # another tenant's id: nothing
    assert _stored_rows(network, built["coffee"]) == []


def test_ready_message(network, built):
    title, body, _ = matchmaking.recommendations_ready_message(network.db, network.tenant_id, built["coffee"])
    assert (title, body) == ("Recommendations pending: Morning Ritual",
                             "No recommendations are stored for this campaign yet.")
    matchmaking.on_campaign_created(network.db, _event(network, built["coffee"]), as_of=AS_OF)
    title, body, link = matchmaking.recommendations_ready_message(network.db, network.tenant_id, built["coffee"])
    assert title == "Recommendations ready: Morning Ritual"
    assert body == ("Top shows: Tech Talk (0.91), Biz Daily (0.73), Art Hour (0.32). "
                    "2 shows excluded (brand safety or a competing sponsor).")
    assert link == f"/campaigns/{built['coffee']}#recommendations"
    with pytest.raises(NotFound):
        matchmaking.recommendations_ready_message(network.db, network.other_tenant_id, built["coffee"])


# --- sponsors for a show ----------------------------------------------------------------------------------------

def test_sponsors_for_a_show(network, built):
    vpn = mn.make_campaign(network, "vpn", "Private", target_categories="Technology")
    gadget = matchmaking.sponsor_recommendations(network.db, network.ctx("viewer"), network.podcasts["gadget"],
                                                 as_of=AS_OF)
    names = {network.sponsors[k]: k for k in ("coffee", "tea", "vpn")}
    assert [names[r.key] for r in gadget if r.excluded_because is None] == ["vpn", "tea"]
    coffee = next(r for r in gadget if r.key == network.sponsors["coffee"])
    assert "Acme Tea" in coffee.excluded_because and coffee.rank is None
    assert gadget[0].extra["campaign_id"] == vpn and gadget[0].factors["category_fit"] == 1.0
    # The same factors as the campaign's own ranking.
    tech = matchmaking.sponsor_recommendations(network.db, network.ctx("viewer"), network.podcasts["tech"],
                                               as_of=AS_OF)
    coffee_on_tech = next(r for r in tech if r.key == network.sponsors["coffee"])
    assert coffee_on_tech.factors == _ranked(network, built["coffee"]).ranked[0].factors


def test_closed_campaigns_and_archived_sponsors_are_not_offered(network, built):
    mn.make_campaign(network, "vpn", "Private")
    offered = lambda: [r.key for r in matchmaking.sponsor_recommendations(  # noqa: E731
        network.db, network.ctx("viewer"), network.podcasts["tech"], as_of=AS_OF)]
    assert {network.sponsors[k] for k in ("coffee", "tea", "vpn")} == set(offered())
    campaigns.change_campaign_status(network.db, network.ctx("editor"), built["coffee"], "cancelled")
    sponsors.archive_sponsor(network.db, network.ctx("editor"), network.sponsors["vpn"])
    assert offered() == [network.sponsors["tea"]]


def test_reads_the_rollups_not_the_downloads(network, built):
    before = _ranked(network, built["coffee"])
    with network.db.session(network.tenant_id) as s:
        assert s.execute(delete(Download)).rowcount > 0
        s.commit()
    after = _ranked(network, built["coffee"])
    assert [(r.key, r.factors) for r in after.rows] == [(r.key, r.factors) for r in before.rows]


# --- who may see and change what ---------------------------------------------------------------------------------

def test_another_tenant_and_sponsor_users_see_nothing(network, built):
    for call in (lambda ctx: _ranked(network, built["coffee"], ctx),
                 lambda ctx: matchmaking.sponsor_recommendations(network.db, ctx, network.podcasts["tech"], AS_OF),
                 lambda ctx: matchmaking.recompute_for(network.db, ctx, built["coffee"], AS_OF)):
        for ctx in (network.other("owner"), network.ctx("sponsor", sponsor="coffee"),
                    network.ctx("sponsor", sponsor="tea")):
            with pytest.raises(NotFound):
                call(ctx)
    with pytest.raises(NotFound):  # a podcast of another tenant
        matchmaking.sponsor_recommendations(network.db, network.ctx("owner"), network.podcasts["other"], AS_OF)


def test_only_editors_add_and_only_admins_weigh(network, built):
    viewer = _ranked(network, built["coffee"])
    assert (viewer.can_add, viewer.can_weigh) == (False, False)
    editor = _ranked(network, built["coffee"], network.ctx("editor"))
    assert (editor.can_add, editor.can_weigh) == (True, False)
    with pytest.raises(PermissionDenied):
        matchmaking.add_recommended_placement(network.db, network.ctx("viewer"), built["coffee"],
                                              network.podcasts["tech"])
    for ctx in (network.ctx("editor"), network.ctx("sponsor", sponsor="coffee")):
        with pytest.raises(PermissionDenied):
            match_weights.save_weights(network.db, ctx, {"new_reach": 2})
    with pytest.raises(PermissionDenied):
        match_weights.get_weights(network.db, network.ctx("sponsor", sponsor="coffee"))


def test_one_click_add_validates_like_the_form_and_recomputes(network, built):
    editor = network.ctx("editor")
    with pytest.raises(ValidationError, match="excluded"):
        matchmaking.add_recommended_placement(network.db, editor, built["coffee"], network.podcasts["news"], AS_OF)
    with pytest.raises(ValidationError):  # another tenant's show
        matchmaking.add_recommended_placement(network.db, editor, built["coffee"], network.podcasts["other"], AS_OF)
    row = matchmaking.add_recommended_placement(network.db, editor, built["coffee"], network.podcasts["biz"], AS_OF)
    assert (row.podcast_id, row.start_date.isoformat(), row.end_date.isoformat()) == (
        network.podcasts["biz"], *mn.FLIGHT)
    after = _ranked(network, built["coffee"])
    assert after.computed_at is not None
    assert next(r for r in after.ranked if r.key == network.podcasts["biz"]).factors["new_reach"] == 0.0


@pytest.mark.parametrize("data,field", [
    ({"geo_fit": "-1"}, "geo_fit"), ({"geo_fit": "11"}, "geo_fit"), ({"geo_fit": "lots"}, "geo_fit"),
    ({"reach": 1}, "reach"), ({name: 0 for name in match_scoring.FACTORS}, "weights")])
def test_bad_weights_are_named(network, data, field):
    with pytest.raises(ValidationError) as caught:
        match_weights.save_weights(network.db, network.ctx("admin"), data)
    assert field in caught.value.fields
    assert match_weights.get_weights(network.db, network.ctx("viewer")) == match_scoring.DEFAULT_WEIGHTS


def test_weights_are_per_tenant(network):
    match_weights.save_weights(network.db, network.ctx("owner"), {"geo_fit": 7})
    assert match_weights.get_weights(network.db, network.ctx("viewer"))["geo_fit"] == 7.0
    assert match_weights.get_weights(network.db, network.other("owner")) == match_scoring.DEFAULT_WEIGHTS
