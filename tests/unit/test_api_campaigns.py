"""Campaign API: create answers 201 with the id, validation 422 names each field (problem+json), a forbidden move
409; delivery equals the counted downloads; keys of another tenant see nothing."""
import io
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from services import accounts, api_keys
from services.tenancy import TenantContext


def _key(db, slug, scopes):
    tenant = accounts.get_tenant_by_slug(db, slug)
    _, key = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "campaigns", scopes)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def write_key(db):
    return _key(db, "demo", ("read", "write"))


@pytest.fixture
def read_key(db):
    return _key(db, "demo", ("read",))


@pytest.fixture
def acme_key(db):
    accounts.create_tenant(db, "acme", "Acme")
    return _key(db, "acme", ("read", "write"))


def _campaign_body(sponsor_id, **extra):
    today = date.today()
    body = {"sponsor_id": sponsor_id, "name": "Tea Time", "objective": "awareness",
            "start_date": (today - timedelta(days=14)).isoformat(),
            "end_date": (today + timedelta(days=14)).isoformat(),
            "budget": 2000, "pricing": "cpm", "cpm": 20, "goal_impressions": 50000, "target_categories": ["Technology"],
            "target_countries": ["US"], "excluded_categories": ["News"], "landing_url": "https://tea.example.com",
            "promo_code": "TEA15"}
    body.update(extra)
    return body


def _demo_downloads(db) -> pd.DataFrame:
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        frame = pd.DataFrame(s.execute(text("SELECT ts, podcast_id, episode_id, listener_key, country FROM downloads"))
                             .mappings().all())
    frame["ts"] = pd.to_datetime(frame.ts, utc=True, format="mixed")
    return frame


def test_create_sponsor_campaign_placement_then_move_it_live(client, db, write_key):
    response = client.post("/api/v1/sponsors", json={"name": "Acme Tea", "industry": "Food & Beverage",
                                                      "website": "https://tea.example.com"}, headers=write_key)
    assert response.status_code == 201 and isinstance(response.get_json()["id"], int)
    sponsor_id = response.get_json()["id"]
    assert any(s["id"] == sponsor_id for s in client.get("/api/v1/sponsors", headers=write_key).get_json()["data"])

    response = client.post("/api/v1/campaigns", json=_campaign_body(sponsor_id), headers=write_key)
    assert response.status_code == 201, response.get_json()
    campaign = response.get_json()
    assert campaign["status"] == "draft" and response.headers["Location"] == f"/api/v1/campaigns/{campaign['id']}"
    assert {k: campaign[k] for k in ("cpm", "budget", "pricing", "target_countries")} == {
        "cpm": 20.0, "budget": 2000.0, "pricing": "cpm", "target_countries": ["US"]}

    podcasts = client.get("/api/v1/podcasts", headers=write_key).get_json()["data"]
    show = next(p for p in podcasts if p["title"] == "Signal & Noise")
    response = client.post(f"/api/v1/campaigns/{campaign['id']}/placements",
                           json={"podcast_id": show["id"], "position": "mid", "read_type": "host_read", "price": 300},
                           headers=write_key)
    assert response.status_code == 201 and response.get_json()["position"] == "mid"

    assert client.patch(f"/api/v1/campaigns/{campaign['id']}", json={"status": "live"},
                        headers=write_key).status_code == 409
    for status in ("proposed", "approved", "live"):
        response = client.patch(f"/api/v1/campaigns/{campaign['id']}", json={"status": status}, headers=write_key)
        assert response.status_code == 200 and response.get_json()["status"] == status
    conflict = client.patch(f"/api/v1/campaigns/{campaign['id']}", json={"status": "draft"}, headers=write_key)
    assert conflict.status_code == 409 and conflict.content_type == "application/problem+json"

    detail = client.get(f"/api/v1/campaigns/{campaign['id']}", headers=write_key).get_json()
    assert [h["to"] for h in detail["status_history"]] == ["draft", "proposed", "approved", "live"]
    assert detail["placements"][0]["podcast"] == "Signal & Noise"

    # The placement's delivery was measured right away (the refresh job runs in-process here).
    frame = _demo_downloads(db)
    lo = pd.Timestamp(campaign["start_date"], tz="UTC")
    hi = pd.Timestamp(campaign["end_date"], tz="UTC") + pd.Timedelta(days=1)
    # A dynamically inserted placement (the default) counts only downloads from the target countries (US).
    expected = frame[(frame.podcast_id == show["id"]) & (frame.ts >= lo) & (frame.ts < hi) & (frame.country == "US")]
    body = client.get(f"/api/v1/campaigns/{campaign['id']}/delivery?group_by=episode", headers=write_key).get_json()
    assert {r["episode_id"]: r["impressions"] for r in body["data"]} == expected.groupby("episode_id").size().to_dict()
    assert body["summary"]["reach"] == expected.listener_key.nunique()
    assert body["summary"]["spend"] == round(len(expected) * 20 / 1000, 2)


def test_validation_errors_name_each_field(client, db, write_key):
    response = client.post("/api/v1/campaigns", json=_campaign_body(
        999999, name="", end_date="2020-01-01", cpm="free", target_countries=["USA"], promo_code="PRIVACY20"),
        headers=write_key)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    errors = response.get_json()["errors"]
    assert {"name", "end_date", "cpm", "target_countries"} <= set(errors)
    response = client.post("/api/v1/campaigns", json=_campaign_body(1, promo_code="privacy20"), headers=write_key)
    assert response.status_code == 422 and response.get_json()["errors"] == {
        "promo_code": "already used by another campaign"}
    response = client.post("/api/v1/sponsors", json={"website": "x"}, headers=write_key)
    assert set(response.get_json()["errors"]) == {"name", "website"}
    response = client.post("/api/v1/sponsors", data="not json", headers=write_key, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["errors"] == {"body": "not JSON"}
    response = client.post("/api/v1/sponsors", json=["a list"], headers=write_key)
    assert response.status_code == 422 and response.get_json()["errors"] == {"body": "a JSON object"}


def test_demo_delivery_equals_the_downloads_and_csv_equals_json(client, db, read_key):
    campaigns = client.get("/api/v1/campaigns", headers=read_key).get_json()["data"]
    privacy = next(c for c in campaigns if c["name"] == "Privacy Month")
    detail = client.get(f"/api/v1/campaigns/{privacy['id']}", headers=read_key).get_json()
    frame = _demo_downloads(db)
    lo = pd.Timestamp(privacy["start_date"], tz="UTC")
    hi = pd.Timestamp(privacy["end_date"], tz="UTC") + pd.Timedelta(days=1)
    shows = {p["podcast_id"] for p in detail["placements"]}
    expected = frame[frame.podcast_id.isin(shows) & (frame.ts >= lo) & (frame.ts < hi)
                     & frame.country.isin(privacy["target_countries"])]  # its placements are dynamic
    by_podcast = client.get(f"/api/v1/campaigns/{privacy['id']}/delivery?group_by=podcast",
                            headers=read_key).get_json()["data"]
    assert {r["podcast_id"]: r["impressions"] for r in by_podcast} == expected.groupby("podcast_id").size().to_dict()
    first = (date.today() - timedelta(days=6)).isoformat()
    url = f"/api/v1/campaigns/{privacy['id']}/delivery?group_by=day&from={first}&to={date.today()}"
    by_day = client.get(url, headers=read_key).get_json()["data"]
    days = expected.assign(day=expected.ts.dt.date.astype(str)).groupby("day").size()
    assert {r["day"]: r["impressions"] for r in by_day} == {d: int(days.get(d, 0)) for d in (r["day"] for r in by_day)}
    assert len(by_day) == 7
    csv = client.get(url + "&format=csv", headers=read_key)
    assert csv.mimetype == "text/csv"
    from_csv = pd.read_csv(io.StringIO(csv.get_data(as_text=True)))
    assert from_csv.impressions.tolist() == [r["impressions"] for r in by_day]


@pytest.mark.parametrize("query,field", [("group_by=show", "group_by"), ("from=last-week", "from"),
                                         ("to=2026-13-01", "to"), ("format=xml", "format")])
def test_bad_delivery_parameters_are_named(client, read_key, query, field):
    campaign_id = client.get("/api/v1/campaigns", headers=read_key).get_json()["data"][0]["id"]
    response = client.get(f"/api/v1/campaigns/{campaign_id}/delivery?{query}", headers=read_key)
    assert response.status_code == 422 and field in response.get_json()["errors"]


def test_read_keys_cannot_write_and_other_tenants_see_nothing(client, read_key, acme_key):
    campaign_id = client.get("/api/v1/campaigns", headers=read_key).get_json()["data"][0]["id"]
    assert client.post("/api/v1/sponsors", json={"name": "X"}, headers=read_key).status_code == 403
    assert client.patch(f"/api/v1/campaigns/{campaign_id}", json={"name": "X"}, headers=read_key).status_code == 403
    assert client.get("/api/v1/campaigns", headers=acme_key).get_json()["data"] == []
    assert client.get("/api/v1/sponsors", headers=acme_key).get_json()["data"] == []
    for method, url in (("get", f"/api/v1/campaigns/{campaign_id}"),
                        ("get", f"/api/v1/campaigns/{campaign_id}/delivery"),
                        ("get", f"/api/v1/campaigns/{campaign_id}/delivery?group_by=country"),
                        ("patch", f"/api/v1/campaigns/{campaign_id}"),
                        ("post", f"/api/v1/campaigns/{campaign_id}/placements")):
        assert getattr(client, method)(url, json={"name": "x"}, headers=acme_key).status_code == 404, url
    assert client.get("/api/v1/campaigns").status_code == 401
    assert client.get("/api/v1/campaigns/999999", headers=read_key).status_code == 404


def test_a_baked_placement_counts_every_country_and_retargeting_measures_again(client, db, write_key):
    sponsor_id = client.post("/api/v1/sponsors", json={"name": "Acme Tea"}, headers=write_key).get_json()["id"]
    campaign = client.post("/api/v1/campaigns", json=_campaign_body(sponsor_id), headers=write_key).get_json()
    show = next(p for p in client.get("/api/v1/podcasts", headers=write_key).get_json()["data"]
                if p["title"] == "Signal & Noise")
    url = f"/api/v1/campaigns/{campaign['id']}"
    refused = client.post(url + "/placements", json={"podcast_id": show["id"], "insertion": "spliced"},
                          headers=write_key)
    assert refused.status_code == 422 and set(refused.get_json()["errors"]) == {"insertion"}
    assert client.get(url, headers=write_key).get_json()["placements"] == []  # nothing partial
    baked = client.post(url + "/placements", json={"podcast_id": show["id"], "insertion": "baked"}, headers=write_key)
    assert baked.status_code == 201 and baked.get_json()["insertion"] == "baked"

    frame = _demo_downloads(db)
    lo = pd.Timestamp(campaign["start_date"], tz="UTC")
    hi = pd.Timestamp(campaign["end_date"], tz="UTC") + pd.Timedelta(days=1)
    carried = frame[(frame.podcast_id == show["id"]) & (frame.ts >= lo) & (frame.ts < hi)]
    by_country = client.get(url + "/delivery?group_by=country", headers=write_key).get_json()["data"]
    assert {r["country"]: r["impressions"] for r in by_country} == \
        carried.country.fillna("ZZ").value_counts().to_dict()  # baked in: every country, targets or not
    assert len(by_country) > 1

    # A dynamic placement on the same show counts only the target countries; new targets are measured at once.
    client.post(url + "/placements", json={"podcast_id": show["id"]}, headers=write_key)
    body = client.get(url + "/delivery?group_by=country", headers=write_key).get_json()["data"]
    us = int((carried.country == "US").sum())
    assert {r["country"]: r["impressions"] for r in body}["US"] == 2 * us
    assert client.patch(url, json={"target_countries": ["GB"]}, headers=write_key).status_code == 200
    body = client.get(url + "/delivery?group_by=country", headers=write_key).get_json()["data"]
    got = {r["country"]: r["impressions"] for r in body}
    assert got["US"] == us and got["GB"] == 2 * int((carried.country == "GB").sum())
