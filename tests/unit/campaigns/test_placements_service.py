"""Placements: validation inside the campaign's flight, and the competing-sponsor flag (same industry, different
sponsor, same episode, overlapping days)."""
from datetime import date

import pytest

from services.sponsorship import campaigns, placements
from services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.unit.campaigns.conftest import campaign_data


def _campaign(network, sponsor="coffee", start="2026-06-01", end="2026-06-30", **extra):
    data = campaign_data(network, sponsor_id=network.sponsors[sponsor], start_date=start, end_date=end,
                         promo_code=None, **extra)
    return campaigns.create_campaign(network.db, network.ctx("editor"), data).id


def test_defaults_to_the_campaigns_flight_and_every_episode(network):
    campaign_id = _campaign(network)
    row = placements.create_placement(network.db, network.ctx("editor"), campaign_id,
                                      {"podcast_id": network.podcasts["tech"], "price": "750"})
    assert (row.start_date, row.end_date) == (date(2026, 6, 1), date(2026, 6, 30))
    assert (row.episode_id, row.episode, row.position, row.read_type, row.price) == (
        None, None, "pre", "host_read", 750.0)
    assert row.conflicts == ()


@pytest.mark.parametrize("data,field,message", [
    ({}, "podcast_id", "required"),
    ({"podcast_id": "x"}, "podcast_id", "choose a podcast"),
    ({"podcast_id": 999999}, "podcast_id", "no such podcast"),
    ({"podcast_id": "tech", "episode_id": "biz0"}, "episode_id", "not an episode of this podcast"),
    ({"podcast_id": "tech", "position": "end"}, "position", "pre, mid or post"),
    ({"podcast_id": "tech", "read_type": "live"}, "read_type", "host_read or produced"),
    ({"podcast_id": "tech", "price": "-1"}, "price", "cannot be negative"),
    ({"podcast_id": "tech", "start_date": "2026-05-31"}, "start_date", "inside the campaign's flight"),
    ({"podcast_id": "tech", "end_date": "2026-07-01"}, "end_date", "inside the campaign's flight"),
    ({"podcast_id": "tech", "start_date": "2026-06-20", "end_date": "2026-06-10"}, "end_date", "on or after"),
    ({"podcast_id": "tech", "start_date": "June"}, "start_date", "YYYY-MM-DD"),
    ({"podcast_id": "tech", "slot": 1}, "slot", "unknown field"),
])
def test_bad_placement_fields_are_named(network, data, field, message):
    campaign_id = _campaign(network)
    data = dict(data)
    if data.get("podcast_id") in network.podcasts:
        data["podcast_id"] = network.podcasts[data["podcast_id"]]
    if data.get("episode_id") == "biz0":
        data["episode_id"] = network.episodes["biz"][0]
    with pytest.raises(ValidationError) as caught:
        placements.create_placement(network.db, network.ctx("editor"), campaign_id, data)
    assert message in caught.value.fields[field]


def test_host_read_mid_roll_on_one_episode(network):
    campaign_id = _campaign(network)
    episode = network.episodes["tech"][3]
    row = placements.create_placement(network.db, network.ctx("editor"), campaign_id, {
        "podcast_id": network.podcasts["tech"], "episode_id": str(episode), "position": "MID", "read_type": "produced",
        "start_date": "2026-06-10", "end_date": "2026-06-20"})
    assert (row.episode_id, row.position, row.read_type) == (episode, "mid", "produced")


def test_competing_sponsor_of_the_same_industry_is_flagged(network):
    editor = network.ctx("editor")
    coffee = _campaign(network, "coffee")
    tea = _campaign(network, "tea", start="2026-06-20", end="2026-07-20")
    vpn = _campaign(network, "vpn")
    tech, biz = network.podcasts["tech"], network.podcasts["biz"]
    placements.create_placement(network.db, editor, coffee, {"podcast_id": tech})
    # Tea is Food & Beverage too: same show, days overlap (June 20-30) -> flagged on both sides.
    tea_row = placements.create_placement(network.db, editor, tea, {"podcast_id": tech})
    assert tea_row.conflicts == ("Northwind Coffee (Morning Ritual)",)
    assert placements.list_placements(network.db, editor, coffee)[0].conflicts == ("Acme Tea (Morning Ritual)",)
    # Another industry, another show, or days that do not overlap: no flag.
    assert placements.create_placement(network.db, editor, vpn, {"podcast_id": tech}).conflicts == ()
    assert placements.create_placement(network.db, editor, tea, {"podcast_id": biz}).conflicts == ()
    late = _campaign(network, "tea", start="2026-07-01", end="2026-07-31")
    assert placements.create_placement(network.db, editor, late, {"podcast_id": tech}).conflicts == ()


def test_specific_episodes_conflict_only_when_the_same(network):
    editor = network.ctx("editor")
    coffee, tea = _campaign(network, "coffee"), _campaign(network, "tea")
    tech, eps = network.podcasts["tech"], network.episodes["tech"]
    placements.create_placement(network.db, editor, coffee, {"podcast_id": tech, "episode_id": eps[0]})
    other = placements.create_placement(network.db, editor, tea, {"podcast_id": tech, "episode_id": eps[1]})
    assert other.conflicts == ()
    same = placements.create_placement(network.db, editor, tea, {"podcast_id": tech, "episode_id": eps[0]})
    assert same.conflicts == ("Northwind Coffee (Morning Ritual)",)


def test_a_sponsor_sees_the_flag_but_not_the_competitor(network):
    editor = network.ctx("editor")
    coffee, tea = _campaign(network, "coffee"), _campaign(network, "tea")
    placements.create_placement(network.db, editor, coffee, {"podcast_id": network.podcasts["tech"]})
    placements.create_placement(network.db, editor, tea, {"podcast_id": network.podcasts["tech"]})
    seen = placements.list_placements(network.db, network.ctx("sponsor", "tea"), tea)
    assert seen[0].conflicts == ("another sponsor of your industry",)
    with pytest.raises(NotFound):
        placements.list_placements(network.db, network.ctx("sponsor", "tea"), coffee)


def test_cancelled_competitors_are_not_flagged(network):
    editor = network.ctx("editor")
    coffee, tea = _campaign(network, "coffee"), _campaign(network, "tea")
    placements.create_placement(network.db, editor, coffee, {"podcast_id": network.podcasts["tech"]})
    campaigns.change_campaign_status(network.db, editor, coffee, "cancelled")
    row = placements.create_placement(network.db, editor, tea, {"podcast_id": network.podcasts["tech"]})
    assert row.conflicts == ()


def test_who_may_add_and_remove(network):
    campaign_id = _campaign(network)
    data = {"podcast_id": network.podcasts["tech"]}
    for ctx in (network.ctx("viewer"), network.ctx("sponsor", "coffee")):
        with pytest.raises(PermissionDenied):
            placements.create_placement(network.db, ctx, campaign_id, data)
    with pytest.raises(NotFound):
        placements.create_placement(network.db, network.other("owner"), campaign_id, data)
    row = placements.create_placement(network.db, network.ctx("editor"), campaign_id, data)
    with pytest.raises(PermissionDenied):
        placements.delete_placement(network.db, network.ctx("viewer"), campaign_id, row.id)
    placements.delete_placement(network.db, network.ctx("editor"), campaign_id, row.id)
    assert placements.list_placements(network.db, network.ctx(), campaign_id) == []
    with pytest.raises(NotFound):
        placements.delete_placement(network.db, network.ctx("editor"), campaign_id, row.id)


def test_closed_campaigns_take_no_placements(network):
    campaign_id = _campaign(network)
    campaigns.change_campaign_status(network.db, network.ctx("editor"), campaign_id, "cancelled")
    with pytest.raises(Conflict):
        placements.create_placement(network.db, network.ctx("editor"), campaign_id,
                                    {"podcast_id": network.podcasts["tech"]})


def test_placement_form_choices_are_for_staff(network):
    staff = placements.placement_options(network.db, network.ctx("viewer"))
    assert {title for _, title in staff["podcasts"]} == {"Tech Talk", "Biz Daily"}
    with pytest.raises(PermissionDenied):
        placements.placement_options(network.db, network.ctx("sponsor", "coffee"))


def test_shows_in_an_excluded_category_are_refused(network):
    campaign_id = _campaign(network, target_categories=[], excluded_categories=["business"])
    with pytest.raises(ValidationError) as caught:
        placements.create_placement(network.db, network.ctx("editor"), campaign_id,
                                    {"podcast_id": network.podcasts["biz"]})
    assert caught.value.fields == {"podcast_id": "in an excluded category (Business)"}
    assert placements.create_placement(network.db, network.ctx("editor"), campaign_id,
                                       {"podcast_id": network.podcasts["tech"]}).podcast == "Tech Talk"


def test_the_flight_cannot_shrink_past_its_placements(network):
    editor = network.ctx("editor")
    campaign_id = _campaign(network)
    placements.create_placement(network.db, editor, campaign_id, {"podcast_id": network.podcasts["tech"],
                                                                  "start_date": "2026-06-05", "end_date": "2026-06-25"})
    with pytest.raises(ValidationError) as caught:
        campaigns.update_campaign(network.db, editor, campaign_id,
                                  {"start_date": "2026-06-10", "end_date": "2026-06-20"})
    assert caught.value.fields == {"start_date": "a placement starts 2026-06-05: on or before it",
                                   "end_date": "a placement runs to 2026-06-25: on or after it"}
    moved = campaigns.update_campaign(network.db, editor, campaign_id,
                                      {"start_date": "2026-06-05", "end_date": "2026-07-31"})
    assert (moved.start_date, moved.end_date) == (date(2026, 6, 5), date(2026, 7, 31))
