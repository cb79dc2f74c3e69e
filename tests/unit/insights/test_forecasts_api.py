"""Forecasts on the demo network (SQLite): the API routes and their errors, the job that stores them, the episode
page's band and the podcast page's chart; another tenant's ids and a sponsor's session see nothing."""
import json
from datetime import date, timedelta

import pytest

from jobs import context as job_context
from jobs.forecasts import refresh_forecasts
from jobs.measure import count_tenant
from services import accounts, api_keys
from services.catalog import podcasts
from services.errors import NotFound, PermissionDenied
from services.insights import forecast_store
from services.models import Forecast, Sponsor
from services.tenancy import TenantContext
from tests.dash_client import call_callback, call_csv
from tests.unit.test_overview_callbacks import figure_values


@pytest.fixture
def demo(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    ctx = TenantContext(tenant.id, "owner")
    shows = podcasts.list_podcasts(db, ctx)
    newest = max(podcasts.list_episodes(db, ctx), key=lambda e: e["published_at"])
    _, key = api_keys.create_api_key(db, ctx, "forecasts")
    return {"ctx": ctx, "podcast": shows[0].id, "episode": newest["id"], "headers": {"Authorization": f"Bearer {key}"}}


@pytest.fixture
def acme_headers(db):
    tenant = accounts.create_tenant(db, "acme", "Acme")
    _, key = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "acme")
    return {"Authorization": f"Bearer {key}"}


def test_podcast_forecast_answers_the_coming_days_with_intervals(client, demo):
    body = client.get(f"/api/v1/podcasts/{demo['podcast']}/forecast", headers=demo["headers"]).get_json()
    rows = body["data"]
    assert len(rows) == 56 and set(rows[0]) == {"day", "downloads", "lower", "upper"}
    first = forecast_store.last_complete_day().toordinal() + 1
    assert [r["day"] for r in rows[:2]] == [str(date_of(first)), str(date_of(first + 1))]
    assert all(0 <= r["lower"] <= r["downloads"] <= r["upper"] for r in rows)
    assert sum(r["downloads"] for r in rows) > 0
    short = client.get(f"/api/v1/podcasts/{demo['podcast']}/forecast?days=7", headers=demo["headers"]).get_json()
    assert short["data"] == rows[:7]


def date_of(ordinal: int) -> date:
    return date.fromordinal(ordinal)


@pytest.mark.parametrize("days", ["abc", "0", "-3", "92", "7.5"])
def test_bad_days_is_a_400_naming_days(client, demo, days):
    response = client.get(f"/api/v1/podcasts/{demo['podcast']}/forecast?days={days}", headers=demo["headers"])
    assert response.status_code == 400 and response.content_type == "application/problem+json"
    body = response.get_json()
    assert "days" in body["errors"] and "1 to 91" in body["detail"]


def test_episode_forecast_is_by_day_since_release(client, demo):
    response = client.get(f"/api/v1/episodes/{demo['episode']}/forecast", headers=demo["headers"])
    rows = response.get_json()["data"]
    assert [r["day"] for r in rows] == list(range(1, 91))
    seen = [r for r in rows if r["observed"]]
    ahead = [r for r in rows if not r["observed"]]
    assert seen and ahead  # the newest demo episode is a few days old
    assert all(r["lower"] == r["downloads"] == r["upper"] for r in seen)
    assert all(r["lower"] <= r["downloads"] <= r["upper"] for r in ahead)
    assert ahead[0]["downloads"] >= seen[-1]["downloads"]  # cumulative: never below what has been counted


def test_another_tenants_ids_are_404(client, demo, acme_headers):
    for path in (f"/api/v1/podcasts/{demo['podcast']}/forecast", f"/api/v1/episodes/{demo['episode']}/forecast",
                 "/api/v1/podcasts/999999/forecast"):
        response = client.get(path, headers=acme_headers)
        assert response.status_code == 404 and response.get_json()["status"] == 404
    assert client.get(f"/api/v1/podcasts/{demo['podcast']}/forecast").status_code == 401  # no key


def test_sponsor_users_cannot_read_tenant_forecasts(db, demo):
    sponsor = TenantContext(demo["ctx"].tenant_id, "sponsor", sponsor_id=1)
    with pytest.raises(PermissionDenied):
        forecast_store.podcast_forecast(db, sponsor, demo["podcast"])
    with pytest.raises(PermissionDenied):
        forecast_store.episode_forecast(db, sponsor, demo["episode"])
    with pytest.raises(NotFound):
        forecast_store.podcast_forecast(db, TenantContext(demo["ctx"].tenant_id + 1, "owner"), demo["podcast"])


def test_the_job_stores_each_show_and_recent_episode_and_the_api_reads_them(app, client, db, demo):
    job_context.set_db(db)
    result = refresh_forecasts(demo["ctx"].tenant_id)
    assert result["podcasts"] == 3 and result["episodes"] > 0
    with db.session(demo["ctx"].tenant_id) as s:
        stored = s.get(Forecast, (demo["ctx"].tenant_id, "podcast", demo["podcast"]))
        stored.points = [{**p, "downloads": 4242.0, "lower": 4000.0, "upper": 4500.0} for p in stored.points]
        s.commit()  # a marked stored row: the API must answer from it, not compute anew
    rows = client.get(f"/api/v1/podcasts/{demo['podcast']}/forecast?days=3", headers=demo["headers"]).get_json()
    assert [r["downloads"] for r in rows["data"]] == [4242.0] * 3
    again = refresh_forecasts(demo["ctx"].tenant_id)  # a rerun replaces, never adds
    assert again == result
    with db.session(demo["ctx"].tenant_id) as s:
        assert s.query(Forecast).count() == result["podcasts"] + result["episodes"]


def test_counting_queues_the_forecasts(app, db, demo):
    last = forecast_store.last_complete_day()
    with db.session(demo["ctx"].tenant_id) as s:
        assert s.query(Forecast).count() == 0
    count_tenant(demo["ctx"].tenant_id, (last - timedelta(days=1)).isoformat(), last.isoformat())  # in-process here
    with db.session(demo["ctx"].tenant_id) as s:
        assert s.query(Forecast).filter(Forecast.kind == "podcast").count() == 3
        assert {f.as_of for f in s.query(Forecast)} == {last}


def _sponsor_client(app, db, tenant_id):
    with db.session(tenant_id) as s:
        sponsor = Sponsor(tenant_id=tenant_id, name="Sponsor Co")
        s.add(sponsor)
        s.commit()
        sponsor_id = sponsor.id
    accounts.create_user(db, "s@sponsor.test", "demo", "sponsor", password="password-1", sponsor_id=sponsor_id)
    client = app.test_client()
    assert client.post("/login", data={"email": "s@sponsor.test", "password": "password-1"}).status_code == 302
    return client


def test_podcast_page_forecast_chart_and_its_csv(app, db, demo_client, demo):
    status, out = call_callback(demo_client, [("podcast-forecast-chart", "figure")],
                                [("podcast-show", "data", demo["podcast"])])
    assert status == 200
    traces = out["podcast-forecast-chart"]["figure"]["data"]
    assert [t["name"] for t in traces] == ["Downloads", "Forecast: upper", "Forecast: 80% interval", "Forecast"]
    assert traces[2]["fill"] == "tonexty" and len(traces[3]["x"]) == 56 and len(traces[0]["x"]) == 56
    assert max(traces[0]["x"]) < min(traces[3]["x"])  # the band comes after the actual series
    status, data = call_csv(demo_client, "podcast", "forecast", podcast_id="podcast-show", podcast=demo["podcast"])
    assert status == 200 and data["content"].splitlines()[0] == "day,kind,downloads,lower,upper"
    assert len(data["content"].splitlines()) == 1 + 112
    sponsor = _sponsor_client(app, db, demo["ctx"].tenant_id)
    status, out = call_callback(sponsor, [("podcast-forecast-chart", "figure")],
                                [("podcast-show", "data", demo["podcast"])])
    assert status == 200 and "sponsor users see only" in json.dumps(out) and "Forecast" not in json.dumps(out)


def test_episode_page_band_surrounds_the_launch_curve(app, db, demo_client, demo):
    status, out = call_callback(demo_client, [("episode-launch-chart", "figure"), ("episode-message", "children")],
                                [("episode-id", "data", demo["episode"]), ("episode-compare-episodes", "value", [])])
    traces = {t["name"]: t for t in out["episode-launch-chart"]["figure"]["data"]}
    assert {"Forecast", "Forecast: 80% interval", "Forecast: upper"} <= set(traces)
    episode_curve = next(t for t in out["episode-launch-chart"]["figure"]["data"] if t["line"]["width"] == 3)
    band_days, curve_days = figure_values(traces["Forecast"]["x"]), figure_values(episode_curve["x"])
    assert min(band_days) >= max(curve_days) and max(band_days) == 60  # the band continues the actual curve
    other = accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "o@acme.test", "acme", "owner", password="password-1")
    acme = app.test_client()
    assert acme.post("/login", data={"email": "o@acme.test", "password": "password-1"}).status_code == 302
    status, out = call_callback(acme, [("episode-launch-chart", "figure"), ("episode-message", "children")],
                                [("episode-id", "data", demo["episode"]), ("episode-compare-episodes", "value", [])])
    assert status == 200 and "Forecast" not in json.dumps(out) and f"no episode {demo['episode']}" in json.dumps(out)
    assert other.id != demo["ctx"].tenant_id


def test_campaign_delivery_shows_the_forecast_interval_and_goal_chance(client, demo):
    campaigns = client.get("/api/v1/campaigns", headers=demo["headers"]).get_json()["data"]
    live = next(c for c in campaigns if c["goal_impressions"] and c["end_date"] >= str(forecast_store.last_complete_day()))
    summary = client.get(f"/api/v1/campaigns/{live['id']}/delivery", headers=demo["headers"]).get_json()["summary"]
    assert summary["forecast_lower"] <= summary["forecast"] <= summary["forecast_upper"]
    assert 0.0 <= summary["goal_probability"] <= 1.0
    assert summary["delivered"] <= summary["forecast_lower"]
