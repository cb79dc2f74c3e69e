"""Another tenant's ids through the REST API on PostgreSQL, with rows of both tenants present: downloads for its
episode, a placement on its podcast, a campaign moved to its sponsor. Each is refused and nothing is written."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import text

from app import create_app
from services import accounts, api_keys
from services.measurement import store
from services.models import Episode, Podcast, Sponsor
from services.tenancy import TenantContext
from tests.conftest import make_settings

DAY = date.today() - timedelta(days=3)


def _tenant(db, slug: str) -> dict:
    """A tenant with a podcast, an episode with counted downloads on DAY, a sponsor, and a read/write API key."""
    tenant = accounts.create_tenant(db, slug, slug.title())
    with db.session(tenant.id, worker=True) as s:  # downloads and rollups are the workers' to write
        podcast = Podcast(tenant_id=tenant.id, title=f"{slug} show", prefix_key=f"k{slug}")
        sponsor = Sponsor(tenant_id=tenant.id, name=f"{slug} sponsor")
        s.add_all([podcast, sponsor])
        s.flush()
        episode = Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid=f"{slug}-1", title=f"{slug} #1",
                          published_at=datetime.combine(DAY, datetime.min.time(), tzinfo=timezone.utc))
        s.add(episode)
        s.flush()
        ts = pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=8)
        frame = pd.DataFrame({"ts": [ts + pd.Timedelta(minutes=n) for n in range(5)], "tenant_id": tenant.id,
                              "podcast_id": podcast.id, "episode_id": episode.id,
                              "listener_key": [f"{slug}{n}" for n in range(5)], "app": "Overcast", "device": "phone",
                              "os": "iOS", "country": "US", "region": None, "referrer": None})
        store.replace_downloads(s, tenant.id, DAY, DAY, frame)
        store.refresh_rollups(s, tenant.id, DAY, DAY)
        s.commit()
        ids = {"tenant": tenant.id, "podcast": podcast.id, "episode": episode.id, "sponsor": sponsor.id}
    _, key = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), slug, ("read", "write"))
    return ids | {"headers": {"Authorization": f"Bearer {key}"}}


@pytest.fixture
def two_tenants(pg_url, tmp_path):
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url))
    db = server.extensions["podcast_platform"].db
    yield server.test_client(), db, _tenant(db, "alpha"), _tenant(db, "beta")
    db.dispose()


def _written(db) -> tuple:
    with db.session(system=True) as s:
        return tuple(s.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                     for t in ("campaigns", "placements", "audit_log", "domain_events"))


def test_downloads_of_another_tenants_episode_are_not_found(two_tenants):
    client, _db, alpha, beta = two_tenants
    span = f"from={DAY}&to={DAY}"
    own = client.get(f"/api/v1/downloads?{span}&episode={alpha['episode']}", headers=alpha["headers"])
    assert [r["downloads"] for r in own.get_json()["data"]] == [5]
    for group_by in ("day", "episode"):
        foreign = client.get(f"/api/v1/downloads?{span}&episode={alpha['episode']}&group_by={group_by}",
                             headers=beta["headers"])
        assert foreign.status_code == 404 and f"no episode {alpha['episode']}" in foreign.get_data(as_text=True)
    by_episode = client.get(f"/api/v1/downloads?{span}&group_by=episode", headers=beta["headers"]).get_json()["data"]
    assert [(r["episode_id"], r["downloads"]) for r in by_episode] == [(beta["episode"], 5)]


def test_placements_and_sponsors_of_another_tenant_are_refused(two_tenants):
    client, db, alpha, beta = two_tenants
    body = {"sponsor_id": alpha["sponsor"], "name": "Alpha Campaign", "cpm": 20, "budget": 100,
            "start_date": DAY.isoformat(), "end_date": (DAY + timedelta(days=10)).isoformat()}
    created = client.post("/api/v1/campaigns", json=body, headers=alpha["headers"])
    assert created.status_code == 201
    campaign_id = created.get_json()["id"]
    before = _written(db)
    response = client.post(f"/api/v1/campaigns/{campaign_id}/placements", json={"podcast_id": beta["podcast"]},
                           headers=alpha["headers"])
    assert response.status_code == 422 and response.get_json()["errors"] == {"podcast_id": "no such podcast"}
    response = client.post(f"/api/v1/campaigns/{campaign_id}/placements",
                           json={"podcast_id": alpha["podcast"], "episode_id": beta["episode"]},
                           headers=alpha["headers"])
    assert response.status_code == 422 and "episode_id" in response.get_json()["errors"]
    response = client.patch(f"/api/v1/campaigns/{campaign_id}", json={"sponsor_id": beta["sponsor"]},
                            headers=alpha["headers"])
    assert response.status_code == 422 and response.get_json()["errors"] == {"sponsor_id": "no such sponsor"}
    response = client.patch(f"/api/v1/campaigns/{campaign_id}", json={"name": "Taken"}, headers=beta["headers"])
    assert response.status_code == 404
    assert client.post("/api/v1/campaigns", json=body, headers=beta["headers"]).status_code == 422
    assert _written(db) == before
    with db.session(system=True) as s:
        assert s.execute(text("SELECT sponsor_id, name FROM campaigns WHERE id = :c"),
                         {"c": campaign_id}).one() == (alpha["sponsor"], "Alpha Campaign")
