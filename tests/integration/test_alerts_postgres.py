"""Integration: alert rules on PostgreSQL with Redis and a real RQ worker. Counting queues the delivery refresh, which
records the under-pacing notice and queues the rules' evaluation, which records `alert.triggered`; the hourly run
evaluates again without a second notice; the rule tables are walled per tenant by row-level security."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from jobs.alerts import evaluate_all_alerts
from jobs.measure import count_tenant
from jobs.queues import enqueue, job_status
from services import accounts, migrate
from services.db import Database
from services.models import (
    AlertEvaluation, AlertRule, Campaign, DomainEvent, DownloadRequest, Episode, PacingNotice, Placement, Podcast,
    Sponsor,
)
from services.notify import alert_evaluation, alerts
from services.tenancy import TenantContext
from tests.integration.workers import burst_worker

ALERT_TABLES = ("alert_rules", "alert_evaluations", "pacing_notices")


def _events(db, tenant_id, type_):
    with db.session(tenant_id) as s:
        return [e.payload for e in s.scalars(select(DomainEvent).where(DomainEvent.type == type_)
                                             .order_by(DomainEvent.id))]


def _small_network(db) -> tuple[int, int, int]:
    """A tenant with one show, one episode and 60 raw requests over the last three days (20 listeners a day), and a
    live campaign on the show with a goal no show could meet: behind pacing on any day of its flight."""
    today = datetime.now(timezone.utc).date()
    tenant = accounts.create_tenant(db, "alerting", "Alerting")
    with db.session(tenant.id, worker=True) as s:  # raw requests are the workers' (ingestion) to write
        podcast = Podcast(tenant_id=tenant.id, title="Signal", prefix_key="kalert")
        sponsor = Sponsor(tenant_id=tenant.id, name="Northwind")
        s.add_all([podcast, sponsor])
        s.flush()
        s.add(Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid="e1", title="Pilot", duration_seconds=600,
                      enclosure_url="https://media.example.com/signal/e1.mp3", enclosure_length=6_000_000,
                      published_at=datetime.now(timezone.utc) - timedelta(days=5)))
        for back in (1, 2, 3):
            midnight = datetime.combine(today - timedelta(days=back), datetime.min.time(), tzinfo=timezone.utc)
            s.add_all([DownloadRequest(
                request_uid=f"r{back}-{n}", ts=midnight + timedelta(hours=12, minutes=n), tenant_id=tenant.id,
                podcast_id=podcast.id, source="prefix", method="GET", status=200, bytes=6_000_000, range="bytes=0-",
                url="https://media.example.com/signal/e1.mp3", listener_key=f"listener{n:02d}",
                user_agent="Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", country="US")
                for n in range(20)])
        campaign = Campaign(tenant_id=tenant.id, sponsor_id=sponsor.id, name="Out of reach", status="live",
                            start_date=today - timedelta(days=5), end_date=today + timedelta(days=10),
                            goal_impressions=10**9, pricing="cpm", cpm=20)
        s.add(campaign)
        s.flush()
        s.add(Placement(tenant_id=tenant.id, campaign_id=campaign.id, podcast_id=podcast.id,
                        start_date=campaign.start_date, end_date=campaign.end_date))
        s.commit()
        return tenant.id, podcast.id, campaign.id


@pytest.mark.timeout(300)
def test_counting_on_rq_evaluates_rules_and_notes_under_pacing(pg_jobs):
    settings, db = pg_jobs
    tenant_id, podcast_id, campaign_id = _small_network(db)
    other = accounts.create_tenant(db, "acme", "Acme")
    rule = alerts.create_rule(db, TenantContext(tenant_id, "owner"), {
        "name": "Below 100 a day", "metric": "show_downloads", "target_id": podcast_id, "condition": "below",
        "threshold": 100, "window_days": 3, "channels": ["in_app"]})

    counting = enqueue(count_tenant, tenant_id, queue="measure", settings=settings)
    burst_worker(settings, "measure", "attribution")
    assert job_status(counting.id, settings).status == "finished"
    [alert] = _events(db, tenant_id, "alert.triggered")
    assert alert["rule_id"] == rule.id and alert["channels"] == ["in_app"] and alert["value"] == 20.0
    [notice] = _events(db, tenant_id, "delivery.under_pacing")
    assert notice["campaign_id"] == campaign_id and notice["delivered"] > 0 and notice["shortfall"] > 0
    with db.session(tenant_id) as s:
        runs = s.scalars(select(AlertEvaluation.run_id)).all()
    assert len(runs) == 1 and runs[0].startswith("count:")

    enqueue(evaluate_all_alerts, queue="measure", settings=settings)  # the hourly run, on the worker too
    burst_worker(settings, "measure")
    with db.session(tenant_id) as s:
        states = s.execute(select(AlertEvaluation.state, AlertEvaluation.notified).order_by(AlertEvaluation.id)).all()
    assert [tuple(r) for r in states] == [("triggered", True), ("triggered", False)]
    assert len(_events(db, tenant_id, "alert.triggered")) == 1  # not re-armed yet: no second notice
    assert _events(db, other.id, "alert.triggered") == []


@pytest.fixture
def pg_db(pg_url):
    migrate.upgrade(pg_url)
    db = Database(pg_url, "podcast_app")
    yield db
    db.dispose()


def test_alert_tables_carry_a_forced_tenant_policy(pg_db, pg_url):
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        policies = {row[0] for row in conn.execute("SELECT tablename FROM pg_policies WHERE schemaname='public'")}
        forced = {row[0] for row in conn.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity")}
    assert set(ALERT_TABLES) <= policies and set(ALERT_TABLES) <= forced


def test_rule_tables_are_walled_per_tenant(pg_db):
    a, b = accounts.create_tenant(pg_db, "alpha", "Alpha"), accounts.create_tenant(pg_db, "beta", "Beta")
    rule = alerts.create_rule(pg_db, TenantContext(a.id, "owner"), {
        "name": "Failed imports", "metric": "import_failures", "condition": "above", "threshold": 0})
    with pg_db.session(a.id) as s:  # a failed import in alpha: the rule triggers
        s.execute(text("INSERT INTO log_imports (tenant_id, filename, fingerprint, format, status, lines_total, "
                       "lines_imported, lines_rejected, errors, created_at) VALUES (:t, 'a.log', 'f1', 'combined', "
                       "'failed', 0, 0, 0, '[]', now())"), {"t": a.id})
        s.commit()
    assert alert_evaluation.evaluate_tenant(pg_db, a.id, "r1")[0].notified
    assert alert_evaluation.evaluate_tenant(pg_db, b.id, "r1") == []
    with pg_db.session(b.id) as s:  # no WHERE tenant_id: row-level security alone hides alpha's rows
        for table in (*ALERT_TABLES, "domain_events"):
            assert s.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
        assert s.get(AlertRule, rule.id) is None
    with pg_db.session(a.id) as s:
        assert s.execute(text("SELECT count(*) FROM alert_evaluations")).scalar() == 1
    with pg_db.session(b.id) as s:
        s.add(AlertRule(tenant_id=a.id, name="Smuggled", metric="feed_errors", condition="above", threshold=0,
                        window_days=7, rearm_hours=24, channels=[], recipients=[], state="ok"))
        with pytest.raises(ProgrammingError, match="row-level security"):
            s.commit()
    with pg_db.session(b.id) as s:
        assert s.execute(text("UPDATE alert_rules SET state = 'muted'")).rowcount == 0
        assert s.execute(text("DELETE FROM pacing_notices")).rowcount == 0
    assert PacingNotice.__tablename__ in ALERT_TABLES
