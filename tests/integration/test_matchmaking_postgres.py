"""Matchmaking on PostgreSQL: campaign_recommendations and matchmaking_weights carry the forced tenant policy, the
workflow handler stores through it as the app role (twice is the same), the rollups are read through the tenant
views, and the API answers another tenant's key with 404."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from types import SimpleNamespace

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from app import create_app
from services import accounts, api_keys
from services.models import CampaignRecommendation, MatchmakingWeights, Podcast, Sponsor
from services.sponsorship import campaigns, matchmaking
from services.tenancy import TenantContext
from tests.conftest import make_settings

TABLES = ("campaign_recommendations", "matchmaking_weights")


@pytest.fixture
def pg_app(seeded_pg, tmp_path):
    pg_url, seeded = seeded_pg  # the demo tenant already seeded
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url))
    state = server.extensions["podcast_platform"]
    db, tenant_id = state.db, seeded["tenant_id"]
    with db.session(tenant_id) as s:
        coffee = s.scalar(select(Sponsor.id).where(Sponsor.name == "Northwind Coffee"))
        shows = dict(s.execute(select(Podcast.title, Podcast.id)).all())
    today = date.today()
    campaign = campaigns.create_campaign(db, TenantContext(tenant_id, "owner"), {
        "sponsor_id": coffee, "name": "PG Match", "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=30)).isoformat(), "cpm": 20, "goal_impressions": 20000, "budget": 1000,
        "target_categories": ["Technology"], "target_countries": ["US"], "excluded_categories": ["Business"]}).id
    yield server, db, tenant_id, campaign, shows
    db.dispose()


def _event(tenant_id, campaign_id):
    return SimpleNamespace(id=1, tenant_id=tenant_id, type="campaign.created", payload={"campaign_id": campaign_id})


def _stored(db, tenant_id, campaign_id):
    with db.session(tenant_id) as s:
        return sorted((r.podcast_id, tuple(sorted(r.factors.items())), r.excluded_because) for r in s.scalars(
            select(CampaignRecommendation).where(CampaignRecommendation.campaign_id == campaign_id)))


def test_new_tables_have_a_forced_tenant_policy_and_grants(pg_app, seeded_pg):
    with psycopg.connect(seeded_pg[0].replace("+psycopg", "")) as conn:
        for table in TABLES:
            forced = conn.execute("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = %s",
                                  (table,)).fetchone()[0]
            policies = conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = %s", (table,)).fetchone()[0]
            grants = {row[0] for row in conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants WHERE table_name = %s "
                "AND grantee = 'podcast_app'", (table,))}
            assert forced and policies == 1 and {"SELECT", "INSERT", "UPDATE", "DELETE"} <= grants, table


def test_handler_stores_through_the_policy_and_twice_is_the_same(pg_app):
    _server, db, tenant_id, campaign, shows = pg_app
    matchmaking.on_campaign_created(db, _event(tenant_id, campaign))
    first = _stored(db, tenant_id, campaign)
    assert len(first) == len(shows) == 3
    by_show = {pid: (dict(factors), reason) for pid, factors, reason in first}
    assert by_show[shows["Market Hours"]][1] == "in an excluded category (Business)"
    # The rollups were read through the tenant views: the demo's shows have downloads and US listeners.
    tech = by_show[shows["Signal & Noise"]][0]
    assert tech["category_fit"] == 1.0 and tech["inventory_fit"] > 0 and tech["geo_fit"] > 0
    matchmaking.on_campaign_created(db, _event(tenant_id, campaign))
    assert _stored(db, tenant_id, campaign) == first


def test_two_recomputes_at_once_replace_in_turn(pg_app):
    _server, db, tenant_id, campaign, shows = pg_app
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: matchmaking.recompute(db, tenant_id, campaign), range(4)))
    assert results == [len(shows)] * 4
    assert len(_stored(db, tenant_id, campaign)) == len(shows)


def test_rows_are_walled_per_tenant(pg_app):
    _server, db, tenant_id, campaign, _shows = pg_app
    matchmaking.recompute(db, tenant_id, campaign)
    with db.session(tenant_id) as s:
        s.add(MatchmakingWeights(tenant_id=tenant_id, weights={"geo_fit": 5}))
        s.commit()
    other = accounts.create_tenant(db, "other", "Other")
    for scope in ({"tenant_id": other.id}, {}):
        with db.session(**scope) as s:  # another tenant, or none: nothing, even without a WHERE
            assert all(s.execute(text(f"SELECT count(*) FROM {t}")).scalar() == 0 for t in TABLES)
    with db.session(other.id) as s:  # writing into the demo tenant from another: refused
        s.add(MatchmakingWeights(tenant_id=tenant_id, weights={}))
        with pytest.raises(ProgrammingError, match="row-level security"):
            s.commit()
    with db.session(other.id) as s:
        assert s.execute(text("DELETE FROM campaign_recommendations")).rowcount == 0
        s.commit()
    with db.session(tenant_id) as s:
        assert s.execute(text("SELECT count(*) FROM campaign_recommendations")).scalar() == 3
    # The handler given another tenant's campaign id stores nothing (it is not found under that tenant).
    matchmaking.on_campaign_created(db, _event(other.id, campaign))
    with db.session(other.id) as s:
        assert s.execute(text("SELECT count(*) FROM campaign_recommendations")).scalar() == 0


def test_api_answers_own_tenant_and_404_to_another(pg_app):
    server, db, tenant_id, campaign, shows = pg_app
    other = accounts.create_tenant(db, "acme", "Acme")
    keys = {}
    for name, tid in (("demo", tenant_id), ("acme", other.id)):
        _, key = api_keys.create_api_key(db, TenantContext(tid, "owner"), "pg", ("read",))
        keys[name] = {"Authorization": f"Bearer {key}"}
    client = server.test_client()
    matchmaking.recompute(db, tenant_id, campaign)
    own = client.get(f"/api/v1/campaigns/{campaign}/recommendations", headers=keys["demo"])
    assert own.status_code == 200
    data = own.get_json()["data"]
    assert [r["podcast_id"] for r in data if "excluded_because" in r] == [shows["Market Hours"]]
    assert [r["rank"] for r in data if "excluded_because" not in r] == [1, 2]
    sponsors = client.get(f"/api/v1/podcasts/{shows['Signal & Noise']}/sponsor-recommendations", headers=keys["demo"])
    assert sponsors.status_code == 200 and len(sponsors.get_json()["data"]) == 2
    for url in (f"/api/v1/campaigns/{campaign}/recommendations",
                f"/api/v1/podcasts/{shows['Signal & Noise']}/sponsor-recommendations"):
        response = client.get(url, headers=keys["acme"])
        assert response.status_code == 404 and "Signal" not in response.get_data(as_text=True)
