"""Campaign service: every validation rule names its field; every workflow move is allowed or refused exactly as
TRANSITIONS says, and each allowed move is audited with who and when."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.sponsorship import campaigns, sponsors
from services.sponsorship.campaigns import TRANSITIONS
from services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from services.models import AuditLog, Campaign
from tests.unit.campaigns.conftest import campaign_data


def test_create_stores_parsed_values_as_a_draft(network):
    created = campaigns.create_campaign(network.db, network.ctx("editor", user_id=None), campaign_data(network))
    assert created.status == "draft" and created.sponsor == "Northwind Coffee"
    assert created.start_date == date(2026, 6, 1) and created.end_date == date(2026, 6, 30)
    assert created.cpm == 25.0 and created.budget == 1000.0 and created.goal_impressions == 40000
    assert created.target_categories == ["Technology", "Business"] and created.target_countries == ["US", "GB"]
    assert created.excluded_categories == ["News"] and created.promo_code == "RITUAL20"
    assert created.next_statuses == ["cancelled", "proposed"]
    history = campaigns.status_history(network.db, network.ctx(), created.id)
    assert [(h.from_status, h.to_status) for h in history] == [(None, "draft")]


@pytest.mark.parametrize("overrides,field,message", [
    ({"bogus": 1}, "bogus", "unknown field"),
    ({"sponsor_id": None}, "sponsor_id", "required"),
    ({"sponsor_id": "abc"}, "sponsor_id", "choose a sponsor"),
    ({"name": "  "}, "name", "required"),
    ({"name": "x" * 201}, "name", "at most 200"),
    ({"name": 5}, "name", "text"),
    ({"objective": "fame"}, "objective", "one of"),
    ({"start_date": None}, "start_date", "required"),
    ({"start_date": "01/06/2026"}, "start_date", "YYYY-MM-DD"),
    ({"end_date": "2026-02-30"}, "end_date", "YYYY-MM-DD"),
    ({"end_date": "2026-05-31"}, "end_date", "on or after the start date"),
    ({"end_date": "2030-01-01"}, "end_date", "at most three years"),
    ({"pricing": "cpc"}, "pricing", "cpm or flat"),
    ({"cpm": "cheap"}, "cpm", "an amount"),
    ({"cpm": "25.001"}, "cpm", "an amount"),
    ({"cpm": "-5"}, "cpm", "cannot be negative"),
    ({"cpm": None}, "cpm", "a CPM above 0"),
    ({"cpm": "0"}, "cpm", "a CPM above 0"),
    ({"pricing": "flat", "flat_fee": None}, "flat_fee", "a fee above 0"),
    ({"pricing": "flat", "flat_fee": "-1"}, "flat_fee", "cannot be negative"),
    ({"budget": "lots"}, "budget", "an amount"),
    ({"budget": "-1"}, "budget", "cannot be negative"),
    ({"budget": "999.99"}, "budget", "below the goal's cost"),
    ({"pricing": "flat", "flat_fee": "5000", "budget": "4000"}, "budget", "below the flat fee"),
    ({"goal_impressions": "many"}, "goal_impressions", "whole number"),
    ({"goal_impressions": 2.5}, "goal_impressions", "whole number"),
    ({"goal_impressions": True}, "goal_impressions", "whole number"),
    ({"goal_impressions": "0"}, "goal_impressions", "more than 0"),
    ({"target_countries": "US, Britain"}, "target_countries", "Britain"),
    ({"target_countries": [1, 2]}, "target_countries", "two-letter"),
    ({"target_categories": 7}, "target_categories", "a list"),
    ({"excluded_categories": "business"}, "excluded_categories", "also targeted: business"),
    ({"landing_url": "javascript:alert(1)"}, "landing_url", "http"),
    ({"landing_url": "northwind.example.com"}, "landing_url", "http"),
    ({"promo_code": "a!"}, "promo_code", "letters, digits"),
    ({"status": "live"}, "status", "starts as draft"),
])
def test_each_bad_field_is_named(network, overrides, field, message):
    with pytest.raises(ValidationError) as caught:
        campaigns.create_campaign(network.db, network.ctx("editor"), campaign_data(network, **overrides))
    assert message in caught.value.fields[field]
    assert set(caught.value.fields) == {field}  # only the bad field is blamed


def test_several_bad_fields_are_named_together(network):
    with pytest.raises(ValidationError) as caught:
        campaigns.create_campaign(network.db, network.ctx("editor"),
                                  {"sponsor_id": network.sponsors["coffee"], "start_date": "soon", "cpm": "x"})
    assert {"name", "start_date", "end_date", "cpm"} <= set(caught.value.fields)


def test_sponsor_must_be_this_tenants_and_not_archived(network):
    editor = network.ctx("editor")
    with pytest.raises(ValidationError) as caught:
        campaigns.create_campaign(network.db, editor, campaign_data(network, sponsor_id=network.sponsors["other"]))
    assert caught.value.fields == {"sponsor_id": "no such sponsor"}
    sponsors.archive_sponsor(network.db, editor, network.sponsors["tea"])
    with pytest.raises(ValidationError) as caught:
        campaigns.create_campaign(network.db, editor, campaign_data(network, sponsor_id=network.sponsors["tea"]))
    assert caught.value.fields == {"sponsor_id": "this sponsor is archived"}


def test_promo_code_is_unique_per_tenant_whatever_its_case(network):
    editor = network.ctx("editor")
    first = campaigns.create_campaign(network.db, editor, campaign_data(network, promo_code="SAVE10"))
    with pytest.raises(ValidationError) as caught:
        campaigns.create_campaign(network.db, editor, campaign_data(network, name="Second", promo_code="save10"))
    assert caught.value.fields == {"promo_code": "already used by another campaign"}
    # The same campaign keeps its own code on edit; another tenant may use the same code.
    assert campaigns.update_campaign(network.db, editor, first.id, {"promo_code": "Save10"}).promo_code == "SAVE10"
    with network.db.session(network.other_tenant_id) as s:
        s.add(Campaign(tenant_id=network.other_tenant_id, sponsor_id=network.sponsors["other"], name="x",
                       start_date=date(2026, 1, 1), end_date=date(2026, 1, 2), promo_code="SAVE10"))
        s.commit()


def test_a_campaign_without_promo_code_or_goal_is_valid(network):
    created = campaigns.create_campaign(network.db, network.ctx("editor"), campaign_data(
        network, promo_code="", goal_impressions=None, budget=None, landing_url=None, objective=None))
    assert created.promo_code is None and created.goal_impressions is None
    again = campaigns.create_campaign(network.db, network.ctx("editor"), campaign_data(network, promo_code=None))
    assert again.promo_code is None  # many campaigns may have no code


def test_flat_fee_pricing(network):
    created = campaigns.create_campaign(network.db, network.ctx("editor"), campaign_data(
        network, pricing="flat", cpm=None, flat_fee="5000.50", budget="6000"))
    assert created.pricing == "flat" and created.flat_fee == 5000.5


def test_update_validates_the_whole_result_and_audits_changes(network):
    editor = network.ctx("editor")
    created = campaigns.create_campaign(network.db, editor, campaign_data(network))
    with pytest.raises(ValidationError) as caught:
        campaigns.update_campaign(network.db, editor, created.id, {"start_date": "2026-07-15"})
    assert caught.value.fields == {"end_date": "on or after the start date"}
    updated = campaigns.update_campaign(network.db, editor, created.id, {"name": "Evening Ritual", "cpm": 20})
    assert updated.name == "Evening Ritual" and updated.cpm == 20.0
    with network.db.session(network.tenant_id) as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "campaign.updated"))
    assert entry.detail["name"] == "Evening Ritual" and entry.entity_id == created.id


def test_closed_campaigns_cannot_be_edited(network):
    editor = network.ctx("editor")
    created = campaigns.create_campaign(network.db, editor, campaign_data(network))
    campaigns.change_campaign_status(network.db, editor, created.id, "cancelled")
    with pytest.raises(Conflict):
        campaigns.update_campaign(network.db, editor, created.id, {"name": "Too late"})


ALL_MOVES = [(a, b) for a in TRANSITIONS for b in TRANSITIONS if a != b]


def _campaign_in(network, status: str) -> int:
    created = campaigns.create_campaign(network.db, network.ctx("editor"), campaign_data(network, promo_code=None))
    with network.db.session(network.tenant_id) as s:
        s.get(Campaign, created.id).status = status
        s.commit()
    return created.id


@pytest.mark.parametrize("current,target", ALL_MOVES)
def test_every_move_follows_the_workflow(network, current, target):
    campaign_id = _campaign_in(network, current)
    editor = network.ctx("editor", user_id=None)
    if target in TRANSITIONS[current]:
        assert campaigns.change_campaign_status(network.db, editor, campaign_id, target).status == target
        history = campaigns.status_history(network.db, network.ctx(), campaign_id)
        assert (history[-1].from_status, history[-1].to_status) == (current, target)
        assert history[-1].at is not None and history[-1].who
    else:
        with pytest.raises(Conflict):
            campaigns.change_campaign_status(network.db, editor, campaign_id, target)
        assert campaigns.get_campaign(network.db, network.ctx(), campaign_id).status == current


def test_the_whole_happy_path_and_who_moved_it(network):
    from services import accounts
    user, _ = accounts.create_user(network.db, "ed@net.test", "net", "editor", password="password-1")
    editor = network.ctx("editor", user_id=user.id)
    campaign_id = campaigns.create_campaign(network.db, editor, campaign_data(network)).id
    for status in ("proposed", "approved", "live", "paused", "live", "completed"):
        campaigns.update_campaign(network.db, editor, campaign_id, {"status": status})
    history = campaigns.status_history(network.db, network.ctx(), campaign_id)
    assert [h.to_status for h in history] == ["draft", "proposed", "approved", "live", "paused", "live", "completed"]
    assert {h.who for h in history} == {"ed@net.test"}
    sponsor_view = campaigns.status_history(network.db, network.ctx("sponsor", "coffee"), campaign_id)
    assert {h.who for h in sponsor_view} == {"network"}  # a sponsor does not learn staff emails


def test_unknown_status_is_a_validation_error(network):
    campaign_id = _campaign_in(network, "draft")
    with pytest.raises(ValidationError) as caught:
        campaigns.change_campaign_status(network.db, network.ctx("editor"), campaign_id, "archived")
    assert "status" in caught.value.fields


@pytest.mark.parametrize("role,sponsor", [("viewer", None), ("sponsor", "coffee")])
def test_viewers_and_sponsors_change_nothing(network, role, sponsor):
    campaign_id = _campaign_in(network, "draft")
    ctx = network.ctx(role, sponsor)
    with pytest.raises(PermissionDenied):
        campaigns.create_campaign(network.db, ctx, campaign_data(network))
    with pytest.raises(PermissionDenied):
        campaigns.update_campaign(network.db, ctx, campaign_id, {"name": "x"})
    with pytest.raises(PermissionDenied):
        campaigns.change_campaign_status(network.db, ctx, campaign_id, "proposed")


def test_sponsors_and_other_tenants_see_only_their_own(network):
    campaign_id = _campaign_in(network, "live")  # Northwind Coffee's
    assert campaigns.get_campaign(network.db, network.ctx("sponsor", "coffee"), campaign_id).id == campaign_id
    for ctx in (network.ctx("sponsor", "tea"), network.other()):
        with pytest.raises(NotFound):
            campaigns.get_campaign(network.db, ctx, campaign_id)
        with pytest.raises(NotFound):
            campaigns.status_history(network.db, ctx, campaign_id)
    assert campaigns.list_campaigns(network.db, network.ctx("sponsor", "tea")) == []
    with pytest.raises(NotFound):
        campaigns.update_campaign(network.db, network.other("owner"), campaign_id, {"name": "stolen"})


def test_money_is_stored_exactly(network):
    created = campaigns.create_campaign(network.db, network.ctx("editor"), campaign_data(network, cpm="22.50"))
    with network.db.session(network.tenant_id) as s:
        assert s.get(Campaign, created.id).cpm == Decimal("22.50")
