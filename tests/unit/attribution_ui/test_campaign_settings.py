"""The campaign's attribution settings: each field validated with its own message, stored, edited, and
round-tripped by the campaigns API."""
from __future__ import annotations

import pytest

from components.campaigns import CAMPAIGN_FIELDS, campaign_form, form_value
from services import accounts, api_keys
from services.sponsorship import campaigns
from services.sponsorship.campaign_fields import clean_campaign
from services.errors import ValidationError
from services.tenancy import TenantContext

BASE = {"sponsor_id": 1, "name": "Morning", "start_date": "2026-06-01", "end_date": "2026-06-30", "cpm": "25"}


def _errors(**fields) -> dict:
    with pytest.raises(ValidationError) as caught:
        clean_campaign({**BASE, **fields})
    return caught.value.fields


@pytest.mark.parametrize("value", [0, 61, "0", "61", "-3", "14.5", "two weeks", True])
def test_lookback_outside_1_to_60_whole_days_is_refused(value):
    assert _errors(lookback_days=value) == {"lookback_days": "a whole number of days from 1 to 60"}


@pytest.mark.parametrize("value", ["first", "position", "ridge", 3])
def test_an_unknown_model_is_refused_naming_the_seven(value):
    message = _errors(attribution_model=value)["attribution_model"]
    assert message.startswith("one of first_touch, last_touch, linear, time_decay, position_based, markov, shapley")


@pytest.mark.parametrize("value", [0, "0", -1, "nan", "inf", "soon", 366])
def test_half_life_must_be_above_zero(value):
    assert "above 0" in _errors(decay_half_life_days=value)["decay_half_life_days"]


@pytest.mark.parametrize("value", [0, 3, "3", "second", 1.5])
def test_markov_order_is_one_or_two(value):
    assert _errors(markov_order=value) == {"markov_order": "1 (each placement on its own) or 2 (pairs in order)"}


def test_markov_order_two_is_stored_and_blank_means_one(db):
    assert clean_campaign({**BASE, "markov_order": "2"})["markov_order"] == 2
    assert clean_campaign({**BASE, "markov_order": ""})["markov_order"] == 1
    tenant = accounts.get_tenant_by_slug(db, "demo")
    ctx = TenantContext(tenant.id, "editor")
    sponsor_id = next(s for s, _ in campaigns.list_sponsors(db, ctx))
    created = campaigns.create_campaign(db, ctx, {**BASE, "sponsor_id": sponsor_id})
    assert created.markov_order == 1
    assert campaigns.update_campaign(db, ctx, created.id, {"markov_order": 2}).markov_order == 2


def test_bad_settings_are_named_together_and_nothing_else():
    errors = _errors(lookback_days=0, attribution_model="x", decay_half_life_days=0, exclude_prior_customers="maybe")
    assert set(errors) == {"lookback_days", "attribution_model", "decay_half_life_days", "exclude_prior_customers"}


def test_good_settings_parse_and_blanks_mean_the_defaults():
    values = clean_campaign({**BASE, "lookback_days": "14", "attribution_model": " Shapley ",
                             "exclude_prior_customers": ["yes"], "decay_half_life_days": "3.5"})
    assert (values["lookback_days"], values["attribution_model"], values["exclude_prior_customers"],
            values["decay_half_life_days"]) == (14, "shapley", True, 3.5)
    values = clean_campaign({**BASE, "lookback_days": "", "attribution_model": None, "exclude_prior_customers": [],
                             "decay_half_life_days": " "})
    assert (values["lookback_days"], values["attribution_model"], values["exclude_prior_customers"],
            values["decay_half_life_days"]) == (30, "linear", False, 7.0)
    for edge in (1, 60):
        assert clean_campaign({**BASE, "lookback_days": edge})["lookback_days"] == edge
    assert "lookback_days" not in clean_campaign(BASE)  # missing: the stored value (or the column default) stays


def test_the_form_carries_every_setting_and_shows_a_stored_flag_as_the_checkbox():
    text = str(campaign_form("f-", "e-"))
    for name in ("lookback_days", "attribution_model", "exclude_prior_customers", "decay_half_life_days",
                 "markov_order"):
        assert name in CAMPAIGN_FIELDS and f"f-{name}" in text and f"e-{name}" in text
    assert form_value(True) == ["yes"] and form_value(False) == [] and form_value(7.0) == "7"


def test_settings_are_stored_defaulted_and_edited(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    ctx = TenantContext(tenant.id, "editor")
    sponsor_id = next(s for s, _ in campaigns.list_sponsors(db, ctx))
    created = campaigns.create_campaign(db, ctx, {**BASE, "sponsor_id": sponsor_id})
    assert (created.lookback_days, created.attribution_model, created.exclude_prior_customers,
            created.decay_half_life_days) == (30, "linear", False, 7.0)
    edited = campaigns.update_campaign(db, ctx, created.id, {"lookback_days": 14, "attribution_model": "markov",
                                                             "exclude_prior_customers": True})
    assert (edited.lookback_days, edited.attribution_model, edited.exclude_prior_customers,
            edited.decay_half_life_days) == (14, "markov", True, 7.0)
    with pytest.raises(ValidationError) as caught:
        campaigns.update_campaign(db, ctx, created.id, {"decay_half_life_days": 0})
    assert set(caught.value.fields) == {"decay_half_life_days"}
    assert campaigns.get_campaign(db, ctx, created.id).decay_half_life_days == 7.0


def _key(db, slug):
    tenant = accounts.get_tenant_by_slug(db, slug)
    _, key = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "settings", ("read", "write"))
    return {"Authorization": f"Bearer {key}"}


def test_the_api_round_trips_the_settings(client, db):
    headers = _key(db, "demo")
    sponsor_id = client.get("/api/v1/sponsors", headers=headers).get_json()["data"][0]["id"]
    body = {**BASE, "sponsor_id": sponsor_id, "lookback_days": 21, "attribution_model": "time_decay",
            "exclude_prior_customers": True, "decay_half_life_days": 2.5}
    created = client.post("/api/v1/campaigns", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    campaign_id = created.get_json()["id"]
    got = client.get(f"/api/v1/campaigns/{campaign_id}", headers=headers).get_json()
    assert {k: got[k] for k in ("lookback_days", "attribution_model", "exclude_prior_customers",
                                "decay_half_life_days")} == {"lookback_days": 21, "attribution_model": "time_decay",
                                                             "exclude_prior_customers": True,
                                                             "decay_half_life_days": 2.5}
    listed = {c["id"]: c for c in client.get("/api/v1/campaigns", headers=headers).get_json()["data"]}
    assert listed[campaign_id]["lookback_days"] == 21
    patched = client.patch(f"/api/v1/campaigns/{campaign_id}", json={"lookback_days": 60, "attribution_model":
                                                                      "position_based"}, headers=headers)
    assert patched.status_code == 200 and patched.get_json()["lookback_days"] == 60
    assert patched.get_json()["attribution_model"] == "position_based"
    refused = client.patch(f"/api/v1/campaigns/{campaign_id}", json={"lookback_days": 61, "attribution_model": "best",
                                                                      "decay_half_life_days": 0}, headers=headers)
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]) == {"lookback_days", "attribution_model", "decay_half_life_days"}
    # Another tenant's key neither sees nor changes it.
    accounts.create_tenant(db, "acme", "Acme")
    acme = _key(db, "acme")
    assert client.get(f"/api/v1/campaigns/{campaign_id}", headers=acme).status_code == 404
    assert client.patch(f"/api/v1/campaigns/{campaign_id}", json={"lookback_days": 5}, headers=acme).status_code == 404
    assert client.get(f"/api/v1/campaigns/{campaign_id}", headers=headers).get_json()["lookback_days"] == 60
