"""Insights on PostgreSQL: the new tables carry the forced tenant policy, the API keeps tenants apart, and the job
after counting (on a real RQ worker) stores anomalies idempotently and rewrites the summaries."""
from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from app import create_app
from jobs.insights import refresh_tenant_insights
from jobs.measure import count_tenant
from jobs.queues import enqueue, job_status
from services import accounts, api_keys
from services.insights import summaries
from services.models import Anomaly, InsightSummary, Podcast
from services.tenancy import TenantContext
from tests.conftest import make_settings
from tests.integration.workers import burst_worker

TABLES = ("anomalies", "insight_summaries", "counting_days")


@pytest.fixture
def pg_url(seeded_pg):
    """Every test's database (pg_app's and pg_jobs's): a copy of the run's seeded demo template, which create_app and
    demo.seed_demo made of an empty one."""
    return seeded_pg[0]


@pytest.fixture
def pg_app(pg_url, seeded_pg, tmp_path):
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url))  # no Redis: jobs run in-process
    state = server.extensions["podcast_platform"]
    yield server, state.db, seeded_pg[1]["tenant_id"]
    state.db.dispose()


def _admin(pg_url: str) -> psycopg.Connection:
    return psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True)


def test_new_tables_have_a_forced_tenant_policy_grants_and_walls(pg_app, pg_url):
    _server, db, tenant_id = pg_app
    with _admin(pg_url) as conn:
        for table in TABLES:
            forced = conn.execute("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = %s",
                                  (table,)).fetchone()[0]
            policies = conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = %s", (table,)).fetchone()[0]
            grants = {row[0] for row in conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants WHERE table_name = %s "
                "AND grantee = 'podcast_app'", (table,))}
            assert forced and policies == 1 and {"SELECT", "INSERT", "DELETE"} <= grants, table
    other = accounts.create_tenant(db, "other", "Other")
    with db.session(tenant_id) as s:  # the demo seeding counted days and wrote summaries
        assert s.execute(text("SELECT count(*) FROM counting_days")).scalar() > 700
        assert s.execute(text("SELECT count(*) FROM insight_summaries")).scalar() > 0
    for scope in ({"tenant_id": other.id}, {}):
        with db.session(**scope) as s:  # another tenant, or none: nothing, even without a WHERE
            assert all(s.execute(text(f"SELECT count(*) FROM {t}")).scalar() == 0 for t in TABLES)
    with db.session(other.id) as s:
        s.add(Anomaly(tenant_id=tenant_id, podcast_id=1, day=summaries.this_week()[1], dimension="downloads",
                      value=1, expected=2, kind="drop"))
        with pytest.raises(ProgrammingError, match="row-level security"):
            s.commit()


def test_insights_api_keeps_tenants_apart_on_postgres(pg_app):
    server, db, tenant_id = pg_app
    other = accounts.create_tenant(db, "other", "Other")
    keys = {}
    for name, tid in (("demo", tenant_id), ("other", other.id)):
        _, key = api_keys.create_api_key(db, TenantContext(tid, "owner"), name, ("read",))
        keys[name] = {"Authorization": f"Bearer {key}"}
    with db.session(tenant_id) as s:
        podcast_id = s.scalar(select(Podcast.id).order_by(Podcast.id))
    client = server.test_client()
    own = client.get(f"/api/v1/insights/summary?scope=podcast&id={podcast_id}", headers=keys["demo"])
    assert own.status_code == 200 and own.get_json()["writer"] == "template" and own.get_json()["facts"]
    assert client.get(f"/api/v1/insights/summary?scope=podcast&id={podcast_id}", headers=keys["other"]).status_code == 404
    assert client.get(f"/api/v1/anomalies?podcast={podcast_id}", headers=keys["other"]).status_code == 404
    network = client.get("/api/v1/insights/summary", headers=keys["other"]).get_json()
    assert network["facts"] and next(f for f in network["facts"] if f["name"] == "downloads")["value"] == 0
    assert client.get("/api/v1/anomalies?from=2026-01-01&to=x", headers=keys["demo"]).status_code == 400


def test_the_job_after_counting_stores_anomalies_idempotently_on_a_real_worker(pg_jobs, pg_url, seeded_pg):
    settings, db = pg_jobs
    tenant_id = seeded_pg[1]["tenant_id"]
    _, last = summaries.this_week()
    day = last - timedelta(days=2)
    with db.session(tenant_id) as s:
        podcast_id = s.scalar(select(Podcast.id).order_by(Podcast.id))
    with _admin(pg_url) as conn:  # the show's downloads collapse that day (a broken feed), as the rollups show it
        conn.execute("UPDATE podcast_daily_metrics SET downloads = 0 WHERE tenant_id = %s AND podcast_id = %s "
                     "AND day = %s", (tenant_id, podcast_id, day))
        conn.execute("DELETE FROM insight_summaries WHERE tenant_id = %s", (tenant_id,))

    first = enqueue(refresh_tenant_insights, tenant_id, day.isoformat(), queue="measure")
    burst_worker(settings, "measure")
    result = job_status(first.id).result
    assert {(a["day"], a["podcast_id"], a["dimension"], a["kind"]) for a in result["new_anomalies"]} >= {
        (day.isoformat(), podcast_id, "downloads", "drop")}
    with db.session(tenant_id) as s:
        stored = s.execute(select(Anomaly.podcast_id, Anomaly.dimension, Anomaly.day, Anomaly.value)).all()
        assert (podcast_id, "downloads", day, 0.0) in stored
        assert s.scalar(select(text("count(*)")).select_from(InsightSummary)) == result["summaries"] > 0

    again = enqueue(refresh_tenant_insights, tenant_id, day.isoformat(), queue="measure")
    burst_worker(settings, "measure")
    assert job_status(again.id).result["new_anomalies"] == []  # nothing new: no second anomaly.detected
    with db.session(tenant_id) as s:
        assert sorted(s.execute(select(Anomaly.podcast_id, Anomaly.dimension, Anomaly.day, Anomaly.value)).all()) \
            == sorted(stored)


def test_counting_enqueues_the_insights_job(pg_jobs, seeded_pg):
    settings, db = pg_jobs
    tenant_id = seeded_pg[1]["tenant_id"]
    with db.session(tenant_id) as s:
        s.execute(text("DELETE FROM insight_summaries"))
        s.commit()
    counted = enqueue(count_tenant, tenant_id, queue="measure")
    burst_worker(settings, "measure")  # the count, then its follow-ups on the same queue
    assert job_status(counted.id).status == "finished"
    with db.session(tenant_id) as s:
        assert s.execute(text("SELECT count(*) FROM insight_summaries")).scalar() > 0
