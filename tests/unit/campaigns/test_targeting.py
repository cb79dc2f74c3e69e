"""Targeted delivery on SQLite: a dynamically inserted ad counts only downloads from the campaign's target countries
(none: everywhere), a baked-in read counts every download; delivery, reach, pacing, spend and attribution exposures
all follow the rule (the constructed history: tests/unit/campaigns/targeting_scenario.py)."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from services.db import Database
from services.errors import NotFound, PermissionDenied, ValidationError
from services.models import Placement, Sponsor
from services.sponsorship import campaigns, delivery, pacing, placements
from services.sponsorship.attribution import matching, report
from services.sponsorship.attribution.results import attribute_campaign
from services.tenancy import TenantContext
from tests.unit.campaigns import targeting_scenario as geo

NAMES = tuple(geo.RULES)


@pytest.fixture
def geo_db(tmp_path, migrated_template):
    path = tmp_path / "geo.db"
    shutil.copy(migrated_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture
def built(geo_db):
    sc = geo.build(geo_db)
    for campaign_id in sc.campaigns.values():
        delivery.refresh_campaign(geo_db, sc.tenant_id, campaign_id)
    return geo_db, sc


def check_delivery_follows_the_rule(db, sc, name: str) -> None:
    """Shared with the PostgreSQL tier: delivery, reach, pacing and spend of one campaign against the hand count."""
    want, campaign_id = geo.EXPECTED[name], sc.campaigns[name]
    viewer = TenantContext(sc.tenant_id, "viewer")
    assert delivery.refresh_campaign(db, sc.tenant_id, campaign_id) == want["impressions"]  # a rerun: same count
    by_day = delivery.delivery_by(db, viewer, campaign_id, "day", geo.FLIGHT[0], geo.AS_OF)
    assert int(by_day.impressions.sum()) == want["impressions"]
    assert by_day.set_index("day").impressions[lambda s: s > 0].tolist() == [want["impressions"] // 10] * 10
    assert by_day.set_index("day").listeners.max() == want["reach"]
    totals = delivery.reach(db, viewer, campaign_id).set_index("podcast_id")
    assert (int(totals.loc[0, "impressions"]), int(totals.loc[0, "reach"])) == (want["impressions"], want["reach"])
    pace = pacing.pacing(db, viewer, campaign_id, as_of=geo.AS_OF)
    assert (pace.delivered, pace.reach, pace.spend) == (want["impressions"], want["reach"], want["spend"])
    assert pace.frequency == 10.0


@pytest.mark.parametrize("name", NAMES)
def test_delivery_reach_pacing_and_spend_follow_the_rule(built, name):
    db, sc = built
    check_delivery_follows_the_rule(db, sc, name)


def test_delivery_by_country_reads_the_rollup(built):
    db, sc = built
    viewer = TenantContext(sc.tenant_id, "viewer")
    by_country = {name: dict(delivery.delivery_by(db, viewer, sc.campaigns[name], "country")
                             .itertuples(index=False, name=None)) for name in NAMES}
    assert by_country["targeted"] == {"US": 30, "GB": 10}
    assert by_country["everywhere"] == by_country["baked"] == {"US": 30, "DE": 20, "GB": 10, "ZZ": 10}


def check_forecast_scales_by_the_target_share(db, sc) -> None:
    """The rest of the flight: a dynamic targeted ad reaches 4 of the show's 7 daily downloads, the others all."""
    viewer = TenantContext(sc.tenant_id, "viewer")
    rest = {name: (lambda p: p.forecast - p.delivered)(pacing.pacing(db, viewer, sc.campaigns[name], geo.AS_OF))
            for name in NAMES}
    assert rest["everywhere"] > 100  # 20 more days of a show with 7 downloads a day
    assert rest["baked"] == pytest.approx(rest["everywhere"])
    assert rest["targeted"] == pytest.approx(rest["everywhere"] * 4 / 7)


def test_pacing_forecast_scales_by_the_target_countries_share(built):
    db, sc = built
    check_forecast_scales_by_the_target_share(db, sc)


def check_attribution_exposures_follow_the_rule(db, sc) -> None:
    for name in NAMES:
        campaign_id = sc.campaigns[name]
        with db.session(sc.tenant_id) as s:
            rows = list(s.scalars(select(Placement).where(Placement.campaign_id == campaign_id)))
            targets = geo.RULES[name][0]
            window = matching.Window.of(rows, 30)
            frame = matching.load_downloads(s, sc.tenant_id, rows, window.first, window.end, targets)
        exposures = frame[frame.placement_id != 0]
        assert len(exposures) == geo.EXPECTED[name]["impressions"], name
        households = {"targeted": {"u1", "u2", "u3", "g1"}}.get(name, set(geo.LISTENERS))
        if db.engine.dialect.name != "postgresql":  # there the key is a 64-bit hash of the household key
            assert set(exposures.key) == households, name
        else:
            assert exposures.key.nunique() == len(households), name
        attribute_campaign(db, sc.tenant_id, campaign_id)
        summary = report.attribution_report(db, TenantContext(sc.tenant_id, "viewer"), campaign_id).summary
        assert summary["conversions"] == geo.EXPECTED[name]["conversions"], name


def test_attribution_exposures_follow_the_rule(built):
    db, sc = built
    check_attribution_exposures_follow_the_rule(db, sc)


def test_retargeting_and_rerunning_the_refresh(built):
    """New targets take effect at the next refresh (the save enqueues one); a rerun never double counts."""
    db, sc = built
    owner = TenantContext(sc.tenant_id, "owner")
    campaign_id = sc.campaigns["targeted"]
    campaigns.update_campaign(db, owner, campaign_id, {"target_countries": "de"})
    assert delivery.refresh_campaign(db, sc.tenant_id, campaign_id) == 20
    assert delivery.refresh_campaign(db, sc.tenant_id, campaign_id) == 20
    by_country = delivery.delivery_by(db, owner, campaign_id, "country")
    assert by_country.to_dict("records") == [{"country": "DE", "impressions": 20}]


def test_placement_insertion_is_stored_and_checked(built):
    db, sc = built
    editor = TenantContext(sc.tenant_id, "editor")
    campaign_id = sc.campaigns["everywhere"]
    row = placements.create_placement(db, editor, campaign_id, {"podcast_id": sc.podcast_id, "insertion": " Baked "})
    assert row.insertion == "baked" and row.as_dict()["insertion"] == "baked"
    default = placements.create_placement(db, editor, campaign_id, {"podcast_id": sc.podcast_id})
    assert default.insertion == "dynamic"
    with pytest.raises(ValidationError) as refused:
        placements.create_placement(db, editor, campaign_id, {"podcast_id": sc.podcast_id, "insertion": "spliced"})
    assert "insertion" in refused.value.fields and "insertion" in refused.value.message
    assert len(placements.list_placements(db, editor, campaign_id)) == 3  # nothing partial written


def test_another_tenant_or_sponsor_sees_no_country_delivery(built):
    db, sc = built
    other = geo.build(db, slug="rival")
    delivery.refresh_campaign(db, other.tenant_id, other.campaigns["targeted"])
    with db.session(system=True) as s:
        stranger = Sponsor(tenant_id=sc.tenant_id, name="Stranger Co")
        s.add(stranger)
        s.commit()
        stranger_id = stranger.id
    campaign_id = sc.campaigns["targeted"]
    own_sponsor = TenantContext(sc.tenant_id, "sponsor", sponsor_id=sc.sponsor_id)
    assert int(delivery.delivery_by(db, own_sponsor, campaign_id, "country").impressions.sum()) == 40
    for ctx in (TenantContext(other.tenant_id, "owner"), TenantContext(sc.tenant_id, "sponsor",
                                                                       sponsor_id=stranger_id)):
        with pytest.raises(NotFound):
            delivery.delivery_by(db, ctx, campaign_id, "country")
        with pytest.raises((NotFound, PermissionDenied)):  # another tenant: not found; a sponsor user: refused
            placements.create_placement(db, ctx, campaign_id, {"podcast_id": sc.podcast_id, "insertion": "baked"})
    assert len(placements.list_placements(db, TenantContext(sc.tenant_id, "owner"), campaign_id)) == 1
    # The other tenant's own rollup holds only its own rows.
    rival = delivery.delivery_by(db, TenantContext(other.tenant_id, "owner"), other.campaigns["targeted"], "country")
    assert int(rival.impressions.sum()) == 40


def test_the_methodology_page_states_the_rule(built):
    from components.methodology import methodology_statement
    from services.measurement.methodology import methodology

    db, sc = built
    stated = methodology(db, TenantContext(sc.tenant_id, "viewer"))
    rules = dict(stated["delivery"])
    assert "only downloads from its target countries count" in rules["Dynamic insertion"]
    assert "every download counts" in rules["Baked in"]
    assert "dynamically inserted ad from one of the campaign's target countries" in stated["attribution"]["exposures"]
    page = str(methodology_statement(stated))
    assert "Sponsorship delivery" in page and "Dynamic insertion" in page and "Baked in" in page
