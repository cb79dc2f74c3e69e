"""Read API: podcasts, episodes and downloads by group, equal to an independent computation; tenants never mix."""
import io
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from services import accounts, api_keys
from services.tenancy import TenantContext


@pytest.fixture
def demo_key(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    _, key = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "read api")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def acme_key(db):
    tenant = accounts.create_tenant(db, "acme", "Acme")
    _, key = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "acme")
    return {"Authorization": f"Bearer {key}"}


def _downloads(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        frame = pd.DataFrame(s.execute(text("SELECT * FROM downloads")).mappings().all())
    frame["ts"] = pd.to_datetime(frame.ts, utc=True, format="mixed")
    frame["day"] = frame.ts.dt.date.astype(str)
    return frame


def test_podcasts_and_episodes(client, demo_key):
    podcasts = client.get("/api/v1/podcasts", headers=demo_key).get_json()["data"]
    assert {p["title"] for p in podcasts} == {"Signal & Noise", "Market Hours", "The Long Way Round"}
    first = podcasts[0]
    assert "/e/" in first["prefix_url"] and first["prefix_url"].endswith("/")
    episodes = client.get(f"/api/v1/episodes?podcast={first['id']}", headers=demo_key).get_json()["data"]
    assert episodes and all({"id", "guid", "title"} <= set(e) for e in episodes)
    assert len(episodes) == first["episodes"]


@pytest.mark.parametrize("group_by,column", [("day", "day"), ("episode", "episode_id"), ("app", "app"),
                                              ("country", "country"), ("device", "device")])
def test_downloads_grouped_equal_the_counted_downloads(client, db, demo_key, group_by, column):
    first, last = date.today() - timedelta(days=29), date.today()
    body = client.get(f"/api/v1/downloads?from={first}&to={last}&group_by={group_by}", headers=demo_key).get_json()
    got = {str(row[column]): row["downloads"] for row in body["data"]}
    frame = _downloads(db)
    frame = frame[(frame.day >= str(first)) & (frame.day <= str(last))]
    frame["device"] = frame["device"].fillna("unknown")
    expected = frame.groupby(column).size()
    assert got == {str(k): int(v) for k, v in expected.items()}


def test_downloads_for_one_podcast_and_one_episode(client, db, demo_key):
    frame = _downloads(db)
    episode_id = int(frame.episode_id.value_counts().index[0])
    podcast_id = int(frame[frame.episode_id == episode_id].podcast_id.iloc[0])
    span = f"from={frame.day.min()}&to={frame.day.max()}"
    by_podcast = client.get(f"/api/v1/downloads?{span}&group_by=day&podcast={podcast_id}", headers=demo_key)
    assert sum(r["downloads"] for r in by_podcast.get_json()["data"]) == int((frame.podcast_id == podcast_id).sum())
    by_episode = client.get(f"/api/v1/downloads?{span}&group_by=day&episode={episode_id}", headers=demo_key)
    assert sum(r["downloads"] for r in by_episode.get_json()["data"]) == int((frame.episode_id == episode_id).sum())


def test_csv_equals_json(client, demo_key):
    json_rows = client.get("/api/v1/downloads?group_by=app", headers=demo_key).get_json()["data"]
    response = client.get("/api/v1/downloads?group_by=app&format=csv", headers=demo_key)
    assert response.mimetype == "text/csv"
    csv_rows = pd.read_csv(io.StringIO(response.get_data(as_text=True))).to_dict("records")
    assert csv_rows == json_rows


@pytest.mark.parametrize("query,field", [("group_by=week", "group_by"), ("from=yesterday", "from"),
                                         ("from=2026-02-01&to=2026-01-01", "from"), ("podcast=abc", "podcast"),
                                         ("episode=1&group_by=app", "group_by"), ("format=xml", "format")])
def test_bad_parameters_are_named(client, demo_key, query, field):
    response = client.get(f"/api/v1/downloads?{query}", headers=demo_key)
    assert response.status_code == 422 and field in response.get_json()["errors"]


def test_another_tenant_sees_nothing_and_gets_404_for_demo_ids(client, demo_key, acme_key):
    demo_podcast = client.get("/api/v1/podcasts", headers=demo_key).get_json()["data"][0]["id"]
    assert client.get("/api/v1/podcasts", headers=acme_key).get_json()["data"] == []
    assert client.get(f"/api/v1/episodes?podcast={demo_podcast}", headers=acme_key).status_code == 404
    assert client.get(f"/api/v1/downloads?podcast={demo_podcast}", headers=acme_key).status_code == 404
    assert client.get("/api/v1/downloads?group_by=day", headers=acme_key).get_json()["data"] == []
    assert client.get("/api/v1/downloads").status_code == 401


def test_another_tenants_episode_id_is_not_found_in_downloads(client, db, demo_key, acme_key):
    frame = _downloads(db)
    episode_id = int(frame.episode_id.value_counts().index[0])
    span = f"from={frame.day.min()}&to={frame.day.max()}"
    assert sum(r["downloads"] for r in client.get(f"/api/v1/downloads?{span}&episode={episode_id}",
                                                  headers=demo_key).get_json()["data"]) > 0
    for group_by in ("day", "episode"):
        for fmt in ("json", "csv"):
            response = client.get(f"/api/v1/downloads?{span}&episode={episode_id}&group_by={group_by}&format={fmt}",
                                  headers=acme_key)
            assert response.status_code == 404, (group_by, fmt)
            assert f"no episode {episode_id}" in response.get_data(as_text=True)
