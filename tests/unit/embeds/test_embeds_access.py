"""Who may share, list, revoke and delete embeds, through the services, the API and the pages' callbacks: another
tenant's user or key never sees or changes the demo tenant's embeds, and an embed never shows another tenant's
data; a sponsor user shares only their own campaign's charts and sees only their sponsor's embeds."""
from __future__ import annotations

import pytest

from services.sharing import store
from services.errors import NotFound, PermissionDenied, ValidationError
from services.tenancy import TenantContext
from tests.dash_client import call_callback, control_inputs
from tests.unit.embeds.conftest import bearer, owner, sponsor_ctx
from tests.unit.embeds.helpers import bars, make


def _acme(world) -> TenantContext:
    return TenantContext(world["acme"], "owner")


def test_another_tenant_cannot_list_revoke_or_delete(world):
    info, token = make(world, owner(world), "top_apps")
    assert info.id not in [e.id for e in store.list_embeds(world["db"], _acme(world))]
    for change in (store.revoke_embed, store.delete_embed, store.get_embed):
        with pytest.raises(NotFound):
            change(world["db"], _acme(world), info.id)
    assert world["app"].test_client().get(f"/embed/{token}").status_code == 200  # untouched


def test_an_embed_never_shows_another_tenants_data(world):
    with pytest.raises(ValidationError) as caught:  # the demo's podcast, from acme
        make(world, _acme(world), "top_apps", {"podcast": world["podcasts"][0]})
    assert "filters.podcast" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        make(world, _acme(world), "campaign_delivery", {"campaign": world["campaigns"]["Morning Ritual Q3"]})
    assert "filters.campaign" in caught.value.fields
    _, token = make(world, _acme(world), "top_countries", {"period": "all_time"})  # acme has no downloads at all
    response = world["app"].test_client().get(f"/embed/{token}?tenant=demo&podcast={world['podcasts'][0]}")
    assert response.status_code == 200 and "No downloads in this period yet." in response.get_data(as_text=True)


def test_viewers_list_but_do_not_share_or_revoke(world):
    info, _ = make(world, owner(world), "top_apps")
    viewer = TenantContext(world["demo"], "viewer")
    assert info.id in [e.id for e in store.list_embeds(world["db"], viewer)]
    with pytest.raises(PermissionDenied):
        make(world, viewer, "top_apps")
    with pytest.raises(PermissionDenied):
        store.revoke_embed(world["db"], viewer, info.id)


def test_sponsor_users_share_only_their_own_campaigns_charts(world):
    coffee, vpn = sponsor_ctx(world, "Northwind Coffee"), sponsor_ctx(world, "Lumen VPN")
    own = world["campaigns"]["Morning Ritual Q3"]
    info, token = make(world, coffee, "campaign_delivery", {"campaign": own})
    assert info.sponsor_id == world["sponsors"]["Northwind Coffee"]
    with pytest.raises(PermissionDenied):
        make(world, coffee, "downloads_timeline")
    with pytest.raises(ValidationError) as caught:
        make(world, coffee, "campaign_attribution", {"campaign": world["campaigns"]["Privacy Month"]})
    assert "filters.campaign" in caught.value.fields
    staff_embed, _ = make(world, owner(world), "top_apps")
    listed = [e.id for e in store.list_embeds(world["db"], coffee)]
    assert info.id in listed and staff_embed.id not in listed
    assert info.id not in [e.id for e in store.list_embeds(world["db"], vpn)]
    with pytest.raises(NotFound):
        store.revoke_embed(world["db"], vpn, info.id)
    with pytest.raises(NotFound):
        store.revoke_embed(world["db"], coffee, staff_embed.id)
    response = world["app"].test_client().get(f"/embed/{token}")
    assert response.status_code == 200 and "Delivery against goal" in response.get_data(as_text=True)
    assert store.revoke_embed(world["db"], coffee, info.id).revoked_at is not None


def test_api_status_codes(world):
    client = world["app"].test_client()
    body = {"chart": "top_apps", "filters": {"period": "last_7_days", "podcast": world["podcasts"][0]},
            "theme": "dark", "title": "Apps", "expires_at": "2099-01-01T00:00:00Z",
            "allowed_origins": ["http://127.0.0.1:8123"]}
    assert client.post("/api/v1/embeds", json=body).status_code == 401
    assert client.post("/api/v1/embeds", json=body, headers=bearer(world, "demo_read")).status_code == 403
    created = client.post("/api/v1/embeds", json=body, headers=bearer(world, "demo_write"))
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert set(data) == {"id", "url", "token"} and data["url"].endswith(f"/embed/{data['token']}")
    assert client.get(f"/embed/{data['token']}").status_code == 200
    listed = client.get("/api/v1/embeds", headers=bearer(world, "demo_read")).get_json()["data"]
    mine = next(e for e in listed if e["id"] == data["id"])
    assert mine["state"] == "active" and mine["theme"] == "dark" and mine["url"] == data["url"]
    assert mine["filters"] == {"podcast": world["podcasts"][0], "period": "last_7_days"}
    assert client.delete(f"/api/v1/embeds/{data['id']}", headers=bearer(world, "demo_read")).status_code == 403
    assert client.delete(f"/api/v1/embeds/{data['id']}", headers=bearer(world, "acme_write")).status_code == 404
    assert data["id"] not in [e["id"] for e in client.get("/api/v1/embeds",
                                                          headers=bearer(world, "acme_read")).get_json()["data"]]
    assert client.get(f"/embed/{data['token']}").status_code == 200  # acme's attempt changed nothing
    assert client.delete(f"/api/v1/embeds/{data['id']}", headers=bearer(world, "demo_write")).status_code == 204
    assert client.get(f"/embed/{data['token']}").status_code == 410
    assert client.delete("/api/v1/embeds/999999", headers=bearer(world, "demo_write")).status_code == 404


@pytest.mark.parametrize("body, fields", [
    ({"chart": "pie"}, {"chart"}),
    ({"chart": "top_apps", "filters": {"podcast": "x", "nope": 1}}, {"filters.podcast", "filters.nope"}),
    ({"chart": "top_apps", "theme": "blue", "expires_at": "2020-01-01"}, {"theme", "expires_at"}),
    ({"chart": "top_apps", "allowed_origins": ["https://ok.example", "javascript:alert(1)"]}, {"allowed_origins[1]"}),
    ({"chart": "top_apps", "expires_at": "2020-01-01T00:00:00Z"}, {"expires_at"}),
    ({"chart": "episode_launch"}, {"filters.episode"}),
    ({"chart": "top_apps", "filters": {"podcast": 999999}}, {"filters.podcast"}),
    ({"chart": "top_apps", "allowed_origins": ["https://a.example/path"]}, {"allowed_origins[0]"}),
])
def test_api_bad_bodies_are_422_naming_fields_and_write_nothing(world, body, fields):
    client = world["app"].test_client()
    before = len(store.list_embeds(world["db"], owner(world)))
    response = client.post("/api/v1/embeds", json=body, headers=bearer(world, "demo_write"))
    assert response.status_code == 422, response.get_json()
    assert response.content_type == "application/problem+json"
    assert fields <= set(response.get_json()["errors"]), response.get_json()
    assert len(store.list_embeds(world["db"], owner(world))) == before


def test_api_non_json_body_is_a_problem(world):
    response = world["app"].test_client().post("/api/v1/embeds", data="chart=top_apps",
                                               headers=bearer(world, "demo_write"))
    # The API's rule for every body: not JSON is 400, JSON of the wrong shape is 422 naming the fields.
    assert response.status_code == 400 and response.content_type == "application/problem+json"
    assert "JSON" in response.get_json()["detail"]


def _share(client, prefix: str, chart: str, states: list, origins: str = "https://site.example"):
    return call_callback(client, [(f"{prefix}-embed-box", "style"), (f"{prefix}-embed-chart", "data"),
                                  (f"{prefix}-embed-result", "children")],
                         [[], (f"{prefix}-embed-close", "n_clicks", None), (f"{prefix}-embed-create", "n_clicks", 1)],
                         [(f"{prefix}-embed-chart", "data", chart), (f"{prefix}-embed-theme", "value", "light"),
                          (f"{prefix}-embed-title", "value", "Shared"), (f"{prefix}-embed-expiry", "value", 30),
                          (f"{prefix}-embed-origins", "value", origins), *states],
                         changed=[f"{prefix}-embed-create.n_clicks"])


def _control_states(prefix: str, **controls) -> list:
    return control_inputs(prefix, **controls)


def test_share_form_locks_the_pages_current_filters(world):
    client = world["clients"]["owner"]
    podcast = world["podcasts"][1]
    status, out = _share(client, "overview", "top_countries",
                         _control_states("overview", range_="90d", podcast=podcast))
    assert status == 200
    text = str(out["overview-embed-result"]["children"])
    assert "Embed created" in text and "<iframe src=" in text
    latest = store.list_embeds(world["db"], owner(world))[0]
    assert latest.chart == "top_countries" and latest.filters == {"podcast": podcast, "period": "last_90_days"}
    assert latest.allowed_origins == ["https://site.example"] and latest.expires_at is not None
    token = store.embed_token(latest.id, world["settings"].embed_keys)
    assert bars(world["app"].test_client().get(f"/embed/{token}"))


def test_share_form_says_why_not(world):
    status, out = _share(world["clients"]["owner"], "overview", "top_apps", _control_states("overview"),
                         origins="not an origin")
    assert status == 200 and "allowed_origins[0]" in str(out["overview-embed-result"]["children"])
    status, out = _share(world["clients"]["viewer"], "overview", "top_apps", _control_states("overview"))
    assert status == 200 and "may not" in str(out["overview-embed-result"]["children"])


def test_sponsor_shares_from_the_campaign_page_and_sees_only_their_embeds(world):
    own, other = world["campaigns"]["Morning Ritual Q3"], world["campaigns"]["Privacy Month"]
    coffee = world["clients"]["coffee"]
    status, out = _share(coffee, "campaign", "campaign_delivery", [("campaign-id", "data", own)])
    assert status == 200 and "Embed created" in str(out["campaign-embed-result"]["children"])
    status, out = _share(coffee, "campaign", "campaign_delivery", [("campaign-id", "data", other)])
    assert "filters.campaign" in str(out["campaign-embed-result"]["children"])
    listing = [("embeds-refresh", "data", 0), [], []]
    outputs = [("embeds-table", "children"), ("embeds-message", "children")]
    status, mine = call_callback(coffee, outputs, listing)
    status_vpn, theirs = call_callback(world["clients"]["vpn"], outputs, listing)
    status_acme, acme = call_callback(world["clients"]["acme"], outputs, listing)
    assert status == status_vpn == status_acme == 200
    assert "Campaign delivery" in str(mine["embeds-table"]["children"])
    assert "Campaign delivery" not in str(theirs["embeds-table"]["children"])
    assert "Campaign delivery" not in str(acme["embeds-table"]["children"])
    coffee_embed = store.list_embeds(world["db"], sponsor_ctx(world, "Northwind Coffee"))[0]
    revoke = [("embeds-refresh", "data", 0),
              [({"type": "embeds-revoke", "index": coffee_embed.id}, "n_clicks", 1)], []]
    changed = ['{"index":%d,"type":"embeds-revoke"}.n_clicks' % coffee_embed.id]
    call_callback(world["clients"]["vpn"], outputs, revoke, changed=changed)
    assert store.get_embed(world["db"], owner(world), coffee_embed.id).revoked_at is None
    call_callback(coffee, outputs, revoke, changed=changed)
    assert store.get_embed(world["db"], owner(world), coffee_embed.id).revoked_at is not None
