"""Campaign delivery on PostgreSQL: campaign_metrics and campaign_reach carry the forced tenant policy, the refresh
runs as the app role, and the campaign API works end to end with delivery equal to the counted downloads."""
from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from app import create_app
from services import accounts, api_keys
from services.sponsorship import delivery
from services.models import CampaignMetric
from services.tenancy import TenantContext
from tests.conftest import make_settings

TABLES = ("campaign_metrics", "campaign_reach")


@pytest.fixture
def pg_app(seeded_pg, tmp_path):
    pg_url, seeded = seeded_pg  # the demo tenant already seeded
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url))  # no Redis: the refresh job runs in-process
    state = server.extensions["podcast_platform"]
    yield server, state.db, seeded["tenant_id"]
    state.db.dispose()


def test_new_tables_have_a_forced_tenant_policy_and_grants(pg_app, seeded_pg):
    with psycopg.connect(seeded_pg[0].replace("+psycopg", "")) as conn:
        for table in TABLES:
            forced = conn.execute("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = %s",
                                  (table,)).fetchone()[0]
            policies = conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = %s", (table,)).fetchone()[0]
            grants = {row[0] for row in conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants WHERE table_name = %s "
                "AND grantee = 'podcast_app'", (table,))}
            assert forced and policies == 1 and {"SELECT", "INSERT", "DELETE"} <= grants, table


def test_rows_are_walled_per_tenant(pg_app):
    _server, db, tenant_id = pg_app
    other = accounts.create_tenant(db, "other", "Other")
    with db.session(tenant_id) as s:
        assert all(s.execute(text(f"SELECT count(*) FROM {t}")).scalar() > 0 for t in TABLES)
    for scope in ({"tenant_id": other.id}, {}):
        with db.session(**scope) as s:  # another tenant, or no tenant at all: nothing, even without a WHERE
            assert all(s.execute(text(f"SELECT count(*) FROM {t}")).scalar() == 0 for t in TABLES)
    with db.session(other.id) as s:
        s.add(CampaignMetric(tenant_id=tenant_id, campaign_id=1, placement_id=1, episode_id=1, day=date.today(),
                             podcast_id=1, impressions=1, listeners=1))
        with pytest.raises(ProgrammingError, match="row-level security"):
            s.commit()
    with db.session(other.id) as s:
        assert s.execute(text("DELETE FROM campaign_metrics")).rowcount == 0


def test_refresh_on_postgres_equals_the_downloads(pg_app):
    _server, db, tenant_id = pg_app
    with db.session(tenant_id) as s:
        campaign_id, start, end = s.execute(text(
            "SELECT id, start_date, end_date FROM campaigns WHERE name = 'Privacy Month'")).one()
        expected = s.execute(text(
            "SELECT count(*), count(DISTINCT d.listener_key) FROM tenant_downloads d JOIN placements p "
            "ON p.podcast_id = d.podcast_id AND p.campaign_id = :c "
            "WHERE d.ts >= p.start_date::timestamptz AND d.ts < (p.end_date + 1)::timestamptz "
            # its placements are dynamic: only downloads from the campaign's target countries count
            "AND d.country IN (SELECT json_array_elements_text(target_countries) FROM campaigns WHERE id = :c)"),
            {"c": campaign_id}).one()
    assert delivery.refresh_campaign(db, tenant_id, campaign_id) == expected[0] > 0
    reach = delivery.reach(db, TenantContext(tenant_id, "viewer"), campaign_id)
    assert int(reach.loc[reach.podcast_id == 0, "reach"].iloc[0]) == expected[1]


def test_campaign_api_on_postgres(pg_app):
    server, db, tenant_id = pg_app
    _, key = api_keys.create_api_key(db, TenantContext(tenant_id, "owner"), "pg", ("read", "write"))
    headers = {"Authorization": f"Bearer {key}"}
    client = server.test_client()
    sponsor = client.post("/api/v1/sponsors", json={"name": "PG Tea", "industry": "Food & Beverage"}, headers=headers)
    assert sponsor.status_code == 201
    today = date.today()
    body = {"sponsor_id": sponsor.get_json()["id"], "name": "PG Campaign", "cpm": 15, "goal_impressions": 1000,
            "budget": 100, "start_date": (today - timedelta(days=7)).isoformat(), "end_date": today.isoformat()}
    created = client.post("/api/v1/campaigns", json=body, headers=headers)
    assert created.status_code == 201
    campaign_id = created.get_json()["id"]
    podcast_id = client.get("/api/v1/podcasts", headers=headers).get_json()["data"][0]["id"]
    assert client.post(f"/api/v1/campaigns/{campaign_id}/placements", json={"podcast_id": podcast_id},
                       headers=headers).status_code == 201
    with db.session(tenant_id) as s:
        expected = s.execute(text(
            "SELECT count(*) FROM tenant_downloads WHERE podcast_id = :p AND ts >= :lo AND ts < :hi"),
            {"p": podcast_id, "lo": today - timedelta(days=7), "hi": today + timedelta(days=1)}).scalar()
    rows = client.get(f"/api/v1/campaigns/{campaign_id}/delivery?group_by=day", headers=headers).get_json()["data"]
    assert sum(r["impressions"] for r in rows) == expected > 0
    assert client.patch(f"/api/v1/campaigns/{campaign_id}", json={"status": "completed"},
                        headers=headers).status_code == 409
    assert client.post("/api/v1/campaigns", json=body | {"cpm": "x"}, headers=headers).get_json()["errors"] == {
        "cpm": "an amount such as 25 or 22.50"}
