"""Access matrix for the sponsor and campaign pages, their callbacks and API routes: each role (owner, admin,
editor, viewer, the sponsor's own user, another sponsor's user, a user of another tenant) gets exactly what it should.

API keys belong to a tenant, not to a user: a read key acts as a viewer, a write key as an editor; sponsor users have
no API keys, so their rows of the matrix are the pages and callbacks."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from services import accounts, api_keys
from services.sponsorship import campaigns, placements
from services.models import Campaign, Podcast
from services.tenancy import TenantContext
from tests import campaign_client as cc
from tests.worlds import PASSWORD, ROLES, demo_world


@pytest.fixture(scope="module")
def world(tmp_path_factory, seeded_sqlite):
    """One app for the module, with a login per role; the target is Northwind Coffee's "Holiday Blend"."""
    with demo_world(tmp_path_factory, seeded_sqlite, "access") as w:
        with w["db"].session(w["demo"]) as s:
            target = s.scalar(select(Campaign.id).where(Campaign.name == "Holiday Blend"))
        yield {"app": w["app"], "db": w["db"], "clients": w["clients"], "target": target, "tenant_id": w["demo"],
               "sponsors": w["sponsors"]}


def _draft(world) -> int:
    """A fresh Northwind Coffee draft, for actions that change a campaign."""
    owner = TenantContext(world["tenant_id"], "owner")
    today = date.today()
    return campaigns.create_campaign(world["db"], owner, {
        "sponsor_id": world["sponsors"]["Northwind Coffee"], "name": "Matrix", "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=30)).isoformat(), "cpm": 20}).id


def _status(world, campaign_id) -> str:
    return campaigns.get_campaign(world["db"], TenantContext(world["tenant_id"], "owner"), campaign_id).status


STAFF = {"owner", "admin", "editor", "viewer"}
EDITORS = {"owner", "admin", "editor"}
ADMINS = {"owner", "admin"}
OWN = STAFF | {"sponsor_own"}


def sees_management_nav(world, role):
    _, out = cc.nav(world["clients"][role])
    links = [link["props"]["children"] for link in out["shell-nav"]["children"]]
    if role.startswith("sponsor"):
        assert links == ["Campaigns", "API keys", "Embeds", "Reports"]  # the portal: campaigns, keys, embeds, reports
    return "Sponsors" in links


def sees_sponsor_directory(world, role):
    _, out = cc.sponsors_view(world["clients"][role])
    return "Northwind Coffee" in json.dumps(out["sponsors-table"])


def gets_the_sponsor_forms(world, role):
    _, out = cc.sponsors_view(world["clients"][role])
    form, invite = out["sponsors-form-box"]["style"] == {}, out["sponsors-invite-box"]["style"] == {}
    assert not invite or form  # who may invite may also edit
    return (form, invite)


def edits_a_sponsor(world, role):
    values = {"name": "Lumen VPN", "industry": "Technology", "website": "https://lumen.example.com"}
    _, out = cc.sponsors_view(world["clients"][role], "save", values, editing=world["sponsors"]["Lumen VPN"])
    return "Saved" in json.dumps(out["sponsors-message"])


def invites_a_sponsor_user(world, role):
    _, out = cc.invite(world["clients"][role], world["sponsors"]["Lumen VPN"], f"invited-{role}@lumen.test")
    return "secret" in json.dumps(out)


def sees_the_target_campaign_listed(world, role):
    _, out = cc.campaigns_view(world["clients"][role])
    table = json.dumps(out["campaigns-table"])
    if role.startswith("sponsor"):  # a sponsor never sees another sponsor's campaigns or name
        other = "Northwind Coffee" if role == "sponsor_other" else "Lumen VPN"
        assert other not in table and other not in json.dumps(out)
    return "Holiday Blend" in table


def gets_the_campaign_form(world, role):
    _, out = cc.campaigns_view(world["clients"][role])
    return out["campaigns-form-box"]["style"] == {}


def creates_a_campaign(world, role):
    today = date.today()
    values = {"sponsor_id": world["sponsors"]["Northwind Coffee"], "name": f"By {role}", "pricing": "cpm",
              "cpm": "20", "start_date": today.isoformat(), "end_date": (today + timedelta(days=9)).isoformat()}
    _, out = cc.campaigns_view(world["clients"][role], values)
    return "as a draft" in json.dumps(out["campaigns-message"])


def opens_the_target_campaign(world, role):
    _, out = cc.campaign_view(world["clients"][role], world["target"])
    text = json.dumps(out)
    if role in ("sponsor_other", "other_tenant"):
        assert "Northwind" not in text and "Holiday Blend" not in text
    return "Holiday Blend" in json.dumps(out["campaign-header"])


def gets_status_buttons(world, role):
    _, out = cc.campaign_view(world["clients"][role], world["target"])
    return bool(out["campaign-status-buttons"]["children"]) and out["campaign-placement-box"]["style"] == {}


def moves_a_campaign(world, role):
    campaign_id = _draft(world)
    cc.campaign_view(world["clients"][role], campaign_id, move="proposed", statuses=("proposed", "cancelled"))
    return _status(world, campaign_id) == "proposed"


def adds_a_placement(world, role):
    campaign_id = _draft(world)
    with world["db"].session(world["tenant_id"]) as s:
        podcast = s.scalar(select(Podcast.id).where(Podcast.tenant_id == world["tenant_id"]))
    _, out = cc.campaign_view(world["clients"][role], campaign_id, placement={"podcast_id": podcast})
    return "Placement added" in json.dumps(out["campaign-message"])


def removes_a_placement(world, role):
    campaign_id = _draft(world)
    owner = TenantContext(world["tenant_id"], "owner")
    with world["db"].session(world["tenant_id"]) as s:
        podcast = s.scalar(select(Podcast.id).where(Podcast.tenant_id == world["tenant_id"]))
    placement = placements.create_placement(world["db"], owner, campaign_id, {"podcast_id": podcast})
    cc.campaign_view(world["clients"][role], campaign_id, remove=placement.id)
    return placements.list_placements(world["db"], owner, campaign_id) == []


def edits_a_campaign(world, role):
    campaign_id = _draft(world)
    detail = campaigns.get_campaign(world["db"], TenantContext(world["tenant_id"], "owner"), campaign_id).as_dict()
    values = {k: detail[k] for k in ("sponsor_id", "start_date", "end_date", "pricing", "cpm")} | {"name": "Edited"}
    cc.campaign_view(world["clients"][role], campaign_id, edit=values)
    return campaigns.get_campaign(world["db"], TenantContext(world["tenant_id"], "owner"), campaign_id).name == "Edited"


def gets_the_placement_choices(world, role):
    _, out = cc.load_forms(world["clients"][role], world["target"])
    return bool(out["campaign-placement-field-podcast_id"]["options"])


def downloads_the_csv(world, role):
    status, out = cc.download(world["clients"][role], world["target"], "podcast")
    return status == 200 and "impressions" in out["campaign-download"]["data"]["content"]


MATRIX = {
    sees_management_nav: STAFF | {"other_tenant"},  # the other tenant's owner sees its own tenant's menu
    sees_sponsor_directory: STAFF,
    edits_a_sponsor: EDITORS,
    invites_a_sponsor_user: ADMINS,
    sees_the_target_campaign_listed: OWN,
    gets_the_campaign_form: EDITORS | {"other_tenant"},  # for its own tenant's sponsors
    creates_a_campaign: EDITORS,  # the other tenant cannot use this tenant's sponsor
    opens_the_target_campaign: OWN,
    gets_status_buttons: EDITORS,
    moves_a_campaign: EDITORS,
    adds_a_placement: EDITORS,
    removes_a_placement: EDITORS,
    edits_a_campaign: EDITORS,
    gets_the_placement_choices: STAFF,
    downloads_the_csv: OWN,
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(MATRIX), ids=lambda f: f.__name__)
def test_access_matrix(world, action, role):
    assert action(world, role) is (role in MATRIX[action])


@pytest.mark.parametrize("role", ROLES)
def test_sponsor_forms_show_by_role(world, role):
    # The other tenant's owner manages its own sponsors: its forms show, with none of this tenant's sponsors.
    expected = {"owner": (True, True), "admin": (True, True), "editor": (True, False), "viewer": (False, False),
                "sponsor_own": (False, False), "sponsor_other": (False, False), "other_tenant": (True, True)}
    assert gets_the_sponsor_forms(world, role) == expected[role]


@pytest.mark.parametrize("path", ["/sponsors", "/campaigns", "/campaigns/1"])
def test_pages_need_a_login_and_callbacks_refuse_anonymous(world, path):
    anonymous = world["app"].test_client()
    response = anonymous.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert world["clients"]["sponsor_own"].get(path).status_code == 200  # the shell; callbacks decide the content
    assert cc.campaigns_view(anonymous)[0] == 401
    assert cc.campaign_view(anonymous, world["target"])[0] == 401
    assert cc.sponsors_view(anonymous)[0] == 401


def test_a_sponsor_logs_in_to_the_portal(world):
    response = world["app"].test_client().post("/login", data={"email": "coffee@demo.test", "password": PASSWORD})
    assert response.headers["Location"] == "/campaigns"


# --- API: read key (viewer), write key (editor), another tenant's key -------------------------------------------

KEYS = ("read", "write", "other_tenant")


@pytest.fixture(scope="module")
def keys(world):
    db = world["db"]
    acme = accounts.get_tenant_by_slug(db, "acme")
    out = {}
    for name, tenant_id, scopes in (("read", world["tenant_id"], ("read",)),
                                    ("write", world["tenant_id"], ("read", "write")),
                                    ("other_tenant", acme.id, ("read", "write"))):
        _, key = api_keys.create_api_key(db, TenantContext(tenant_id, "owner"), name, scopes)
        out[name] = {"Authorization": f"Bearer {key}"}
    return out


def _api_routes(world):
    target, today = world["target"], date.today()
    campaign = {"sponsor_id": world["sponsors"]["Northwind Coffee"], "name": "API", "cpm": 10,
                "start_date": today.isoformat(), "end_date": (today + timedelta(days=5)).isoformat()}
    return [
        ("get", "/api/v1/sponsors", None, {"read": 200, "write": 200, "other_tenant": "empty"}),
        ("post", "/api/v1/sponsors", {"name": "Key Sponsor {key}"}, {"read": 403, "write": 201, "other_tenant": 201}),
        ("get", "/api/v1/campaigns", None, {"read": 200, "write": 200, "other_tenant": "empty"}),
        ("post", "/api/v1/campaigns", campaign, {"read": 403, "write": 201, "other_tenant": 422}),
        ("get", f"/api/v1/campaigns/{target}", None, {"read": 200, "write": 200, "other_tenant": 404}),
        ("patch", f"/api/v1/campaigns/{target}", {"landing_url": "https://northwind.example.com/holiday"},
         {"read": 403, "write": 200, "other_tenant": 404}),
        ("post", f"/api/v1/campaigns/{target}/placements", {"podcast_id": 1},
         {"read": 403, "write": 201, "other_tenant": 404}),
        ("get", f"/api/v1/campaigns/{target}/delivery?group_by=podcast", None,
         {"read": 200, "write": 200, "other_tenant": 404}),
    ]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("index", range(8))
def test_api_matrix(world, keys, key, index):
    method, url, body, expected = _api_routes(world)[index]
    client = world["app"].test_client()
    if body and "name" in body:
        body = {**body, "name": body["name"].format(key=key)}
    response = getattr(client, method)(url, json=body, headers=keys[key])
    if expected[key] == "empty":
        assert response.status_code == 200 and response.get_json()["data"] == []
    else:
        assert response.status_code == expected[key], response.get_json()
    assert getattr(client, method)(url, json=body).status_code == 401
