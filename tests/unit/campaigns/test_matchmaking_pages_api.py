"""Matchmaking's panel, callbacks and API on the demo network (SQLite): each role gets exactly what it should. Tenant
staff see the ranking, editors and above add from it, owners and admins weigh it; sponsor users (their own sponsor's
or another's) and another tenant see no panel and no data; API keys of another tenant get 404."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from services import api_keys
from services.models import Campaign, Placement, Podcast
from services.sponsorship import campaigns, match_scoring, match_weights
from services.tenancy import TenantContext
from tests.dash_client import call_callback
from tests.worlds import demo_world
FACTORS = match_scoring.FACTORS
PANEL = [("campaign-match-box", "style"), ("campaign-match-message", "children"),
         ("campaign-match-computed", "children"), ("campaign-match-list", "children"),
         ("campaign-match-excluded", "children"), ("campaign-match-recompute", "style"),
         ("campaign-match-weights-box", "style")]
PANEL += [("campaign-match-weight-" + n, "value") for n in FACTORS]
PANEL += [("campaign-match-weight-error-" + n, "children") for n in (*FACTORS, "weights")]


@pytest.fixture(scope="module")
def world(tmp_path_factory, seeded_sqlite):
    """One app, a login per role, and a Northwind Coffee draft that excludes Business (Market Hours)."""
    with demo_world(tmp_path_factory, seeded_sqlite, "matchmaking") as w:
        db, sponsors = w["db"], w["sponsors"]
        with db.session(w["demo"]) as s:
            shows = dict(s.execute(select(Podcast.title, Podcast.id)).all())
        today = date.today()
        campaign = campaigns.create_campaign(db, TenantContext(w["demo"], "owner"), {
            "sponsor_id": sponsors["Northwind Coffee"], "name": "Matchmaking", "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=30)).isoformat(), "cpm": 20, "goal_impressions": 20000,
            "budget": 1000, "target_categories": ["Technology"], "target_countries": ["US"],
            "excluded_categories": ["Business"]}).id
        keys = {}
        for name, tenant_id in (("demo", w["demo"]), ("acme", w["acme"])):
            _, key = api_keys.create_api_key(db, TenantContext(tenant_id, "owner"), "match", ("read",))
            keys[name] = {"Authorization": f"Bearer {key}"}
        yield {"db": db, "clients": w["clients"], "campaign": campaign, "tenant_id": w["demo"], "shows": shows,
               "keys": keys, "sponsors": sponsors, "client": w["app"].test_client()}


def _changed(component_id) -> list[str]:
    if isinstance(component_id, dict):
        component_id = json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return [f"{component_id}.n_clicks"]


def panel(client, campaign_id, action=None, weights=None):
    """Load the panel, or click Recompute ('recompute') or Save weights ('save', with `weights`)."""
    inputs = [("campaign-id", "data", campaign_id),
              ("campaign-match-recompute", "n_clicks", 1 if action == "recompute" else None),
              ("campaign-match-save-weights", "n_clicks", 1 if action == "save" else None)]
    state = [("campaign-match-weight-" + n, "value", (weights or {}).get(n)) for n in FACTORS]
    changed = _changed("campaign-match-" + ("save-weights" if action == "save" else action)) if action else \
        ["campaign-id.data"]
    return call_callback(client, PANEL, inputs, state, changed)


def _add_outputs(client) -> list[tuple[str, str]]:
    """The add callback's outputs as the renderer names them: each carries Dash's allow_duplicate suffix."""
    spec = next(d["output"] for d in client.get("/_dash-dependencies").get_json()
                if "campaign-placements.children@" in d["output"])
    return [tuple(part.split(".", 1)) for part in spec.strip(".").split("...")]


def add(client, campaign_id, podcast_id):
    button = {"type": "campaign-match-add", "index": podcast_id}
    status, out = call_callback(client, _add_outputs(client), [[(button, "n_clicks", 1)]],
                                [("campaign-id", "data", campaign_id)], _changed(button))
    return status, out and {key: {p.split("@")[0]: v for p, v in props.items()} for key, props in out.items()}


def sponsors_section(client, podcast_id):
    return call_callback(client, [("podcast-match-box", "style"), ("podcast-match-list", "children"),
                                  ("podcast-match-excluded", "children")],
                         [("podcast-show", "data", podcast_id)], changed=["podcast-show.data"])


def _text(out) -> str:
    return json.dumps(out)


def _placements(world) -> list[int]:
    with world["db"].session(world["tenant_id"]) as s:
        return list(s.scalars(select(Placement.podcast_id).where(Placement.campaign_id == world["campaign"])))


# --- the panel ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role,add_buttons,recompute,weights", [
    ("owner", True, True, True), ("admin", True, True, True), ("editor", True, True, False),
    ("viewer", False, False, False)])
def test_staff_see_the_ranking_with_factors_and_why(world, role, add_buttons, recompute, weights):
    status, out = panel(world["clients"][role], world["campaign"])
    assert status == 200 and out["campaign-match-box"]["style"] == {}
    listing, excluded = _text(out["campaign-match-list"]), _text(out["campaign-match-excluded"])
    assert "Signal &amp; Noise" in listing or "Signal & Noise" in listing
    assert "#1 of 2: " in listing and "Target countries" in listing  # the sentence and the factor bars
    assert "Market Hours" in excluded and "in an excluded category (Business)" in excluded
    assert "Market Hours" not in listing
    assert ("campaign-match-add" in listing) is add_buttons
    assert (out["campaign-match-recompute"]["style"] == {}) is recompute
    assert (out["campaign-match-weights-box"]["style"] == {}) is weights
    assert out["campaign-match-weight-category_fit"]["value"] == "3"
    assert "Weights: category fit 3, target countries 2" in _text(out["campaign-match-computed"])


@pytest.mark.parametrize("role", ["sponsor_own", "sponsor_other", "other_tenant"])
def test_sponsor_users_and_other_tenants_get_no_panel(world, role):
    status, out = panel(world["clients"][role], world["campaign"])
    assert status == 200 and out["campaign-match-box"]["style"] == {"display": "none"}
    assert out["campaign-match-list"]["children"] is None and out["campaign-match-excluded"]["children"] is None
    assert "Signal" not in _text(out)


@pytest.mark.parametrize("role", ["viewer", "sponsor_own", "sponsor_other", "other_tenant"])
def test_only_editors_add_from_a_recommendation(world, role):
    before = _placements(world)
    status, out = add(world["clients"][role], world["campaign"], world["shows"]["Signal & Noise"])
    assert status == 200 and "not added" in _text(out["campaign-match-message"])
    assert _placements(world) == before


def test_editor_adds_in_one_click_with_the_forms_validation(world):
    clients, shows = world["clients"], world["shows"]
    status, out = add(clients["editor"], world["campaign"], shows["Market Hours"])  # excluded: refused as the form does
    assert status == 200 and "Business is excluded by this campaign" in _text(out["campaign-match-message"])
    assert shows["Market Hours"] not in _placements(world)
    status, out = add(clients["editor"], world["campaign"], shows["The Long Way Round"])
    assert status == 200 and "Placement added on The Long Way Round" in _text(out["campaign-match-message"])
    assert shows["The Long Way Round"] in _placements(world)
    assert "The Long Way Round" in _text(out["campaign-placements"])
    _, again = panel(clients["viewer"], world["campaign"])
    assert "Computed " in _text(again["campaign-match-computed"])  # stored by the add's recompute


def test_weights_form_is_for_owners_and_admins(world):
    db, tenant_ctx = world["db"], TenantContext(world["tenant_id"], "viewer")
    status, out = panel(world["clients"]["editor"], world["campaign"], "save", {"geo_fit": "9"})
    assert status == 200 and "may not" in _text(out["campaign-match-message"])
    assert match_weights.get_weights(db, tenant_ctx)["geo_fit"] == 2.0
    status, out = panel(world["clients"]["admin"], world["campaign"], "save", {"geo_fit": "lots"})
    assert out["campaign-match-weight-error-geo_fit"]["children"] == "a number from 0 to 10"
    status, out = panel(world["clients"]["admin"], world["campaign"], "save", {"geo_fit": "9"})
    assert "Weights saved" in _text(out["campaign-match-message"])
    assert out["campaign-match-weight-geo_fit"]["value"] == "9"
    assert match_weights.get_weights(db, tenant_ctx)["geo_fit"] == 9.0
    for role in ("sponsor_own", "other_tenant"):
        panel(world["clients"][role], world["campaign"], "save", {"geo_fit": "1"})
    assert match_weights.get_weights(db, tenant_ctx)["geo_fit"] == 9.0
    match_weights.save_weights(db, TenantContext(world["tenant_id"], "owner"), {})  # back to the defaults


# --- the podcast page ---------------------------------------------------------------------------------------------

def test_podcast_page_ranks_sponsors_for_staff_only(world):
    show = world["shows"]["Signal & Noise"]
    status, out = sponsors_section(world["clients"]["viewer"], show)
    assert status == 200 and out["podcast-match-box"]["style"] == {}
    assert "Northwind Coffee" in _text(out["podcast-match-list"]) and "Lumen VPN" in _text(out["podcast-match-list"])
    for role in ("sponsor_own", "sponsor_other", "other_tenant"):
        status, out = sponsors_section(world["clients"][role], show)
        assert status == 200 and out["podcast-match-box"]["style"] == {"display": "none"}
        assert "Northwind" not in _text(out)


# --- the API -----------------------------------------------------------------------------------------------------

def test_campaign_recommendations_api(world):
    response = world["client"].get(f"/api/v1/campaigns/{world['campaign']}/recommendations",
                                   headers=world["keys"]["demo"])
    assert response.status_code == 200
    data = response.get_json()["data"]
    ranked = [r for r in data if "excluded_because" not in r]
    excluded = [r for r in data if "excluded_because" in r]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert [r["score"] for r in ranked] == sorted((r["score"] for r in ranked), reverse=True)
    assert set(ranked[0]["factors"]) == set(FACTORS) and all(0 <= v <= 1 for v in ranked[0]["factors"].values())
    assert [(r["podcast_id"], r["score"]) for r in excluded] == [(world["shows"]["Market Hours"], None)]
    assert response.get_json()["weights"] == match_scoring.DEFAULT_WEIGHTS


def test_sponsor_recommendations_api(world):
    show = world["shows"]["Signal & Noise"]
    response = world["client"].get(f"/api/v1/podcasts/{show}/sponsor-recommendations", headers=world["keys"]["demo"])
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert {r["sponsor_id"] for r in data} == set(world["sponsors"].values())
    assert all({"score", "factors", "campaign_id"} <= set(r) for r in data)


def test_api_another_tenant_and_unknown_ids_are_404(world):
    client, acme, demo = world["client"], world["keys"]["acme"], world["keys"]["demo"]
    show = world["shows"]["Signal & Noise"]
    for url, headers in ((f"/api/v1/campaigns/{world['campaign']}/recommendations", acme),
                         (f"/api/v1/podcasts/{show}/sponsor-recommendations", acme),
                         ("/api/v1/campaigns/999999/recommendations", demo),
                         ("/api/v1/podcasts/999999/sponsor-recommendations", demo)):
        response = client.get(url, headers=headers)
        assert response.status_code == 404, url
        assert "Signal" not in response.get_data(as_text=True)
    assert client.get(f"/api/v1/campaigns/{world['campaign']}/recommendations").status_code == 401
    with world["db"].session(world["tenant_id"]) as s:
        assert s.scalar(select(Campaign.id).where(Campaign.id == world["campaign"])) is not None
