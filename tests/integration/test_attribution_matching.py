"""Integration: attribution on real PostgreSQL (row-level security, the web role, the tenant views) with a real RQ
worker: the job computes the hand-worked case's touchpoints and reports progress; the tenant view
`tenant_attribution_touchpoints` hides another tenant's touchpoints; the report and API refuse another tenant."""
from __future__ import annotations

import time

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select, text

from jobs import attribution as attribution_jobs
from jobs.attribution import attribute_campaign, enqueue_campaign
from jobs.queues import get_queue, get_redis, job_status
from services.errors import NotFound
from services.models.attribution import AttributionRun
from services.sponsorship.attribution import report
from services.sponsorship.attribution.results import attribute_campaign as attribute_now
from services.tenancy import TenantContext
from tests.campaign_client import WHOLE_FLIGHT
from tests.integration.workers import burst_worker
from tests.unit.attribution_matching import scenario


@pytest.fixture
def pg(pg_jobs):
    return pg_jobs


def _touchpoints(db, tenant_id):
    with db.session(tenant_id) as s:  # the view alone: no tenant filter of our own
        return s.execute(text("SELECT event_id, touch, tenant_id FROM tenant_attribution_touchpoints "
                              "ORDER BY event_id, touch")).all()


def test_the_job_on_a_worker_computes_the_touchpoints(pg):
    settings, db = pg
    brew = scenario.build(db)
    handle = enqueue_campaign(brew.tenant_id, brew.campaign_id)
    burst_worker(settings, "attribution")
    done = job_status(handle.id, settings)
    assert done.status == "finished", done.error
    assert done.meta["progress"] == 1.0 and done.meta["campaign_id"] == brew.campaign_id
    assert done.result["conversions"] == 2 and done.result["touchpoints"] == 5
    rows = _touchpoints(db, brew.tenant_id)
    assert [(e, t) for e, t, _ in rows] == [("h1-buy", 0), ("h1-buy", 1), ("h2-buy", 0), ("h2-buy", 1),
                                            ("h2-buy", 2)]
    summary = report.attribution_report(db, TenantContext(brew.tenant_id, "owner"), brew.campaign_id).summary
    assert (summary["conversions"], summary["revenue"], summary["promo_code_conversions"]) == (3, 120.0, 1)


def test_tenant_view_hides_another_tenants_touchpoints(pg):
    _, db = pg
    brew = scenario.build(db, slug="brew")
    rival = scenario.build(db, slug="rival", exclude_prior=False)
    attribute_campaign(brew.tenant_id, brew.campaign_id)  # the job function, in-process
    attribute_now(db, rival.tenant_id, rival.campaign_id)
    brew_rows, rival_rows = _touchpoints(db, brew.tenant_id), _touchpoints(db, rival.tenant_id)
    assert {t for _, _, t in brew_rows} == {brew.tenant_id} and len(brew_rows) == 5
    assert {t for _, _, t in rival_rows} == {rival.tenant_id} and len(rival_rows) == 6  # h3 matches here
    with db.session(None) as s:  # no tenant set: the view shows nothing
        assert s.scalar(text("SELECT count(*) FROM tenant_attribution_touchpoints")) == 0
    with db.session(brew.tenant_id) as s:  # runs carry the forced tenant policy
        runs = s.scalars(select(AttributionRun.campaign_id)).all()
        assert runs == [brew.campaign_id]
        assert s.scalar(select(func.count()).select_from(AttributionRun)
                        .where(AttributionRun.campaign_id == rival.campaign_id)) == 0
    with pytest.raises(NotFound):
        report.attribution_report(db, TenantContext(brew.tenant_id, "owner"), rival.campaign_id)
    with pytest.raises(NotFound):
        report.attribution_report(db, TenantContext(brew.tenant_id, "sponsor", sponsor_id=rival.sponsor_id),
                                  rival.campaign_id)


def test_api_and_page_on_postgres_refuse_another_tenant_and_sponsor(pg_url, redis_url, tmp_path):
    import json

    from app import create_app
    from services import accounts, api_keys
    from services.models import Sponsor
    from tests.conftest import make_settings
    from tests.dash_client import call_callback

    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url, REDIS_URL=redis_url))
    db = server.extensions["podcast_platform"].db
    try:
        brew, rival = scenario.build(db, slug="brew"), scenario.build(db, slug="rival")
        attribute_now(db, brew.tenant_id, brew.campaign_id)
        with db.session(brew.tenant_id) as s:
            other = Sponsor(tenant_id=brew.tenant_id, name="Other Co")
            s.add(other)
            s.commit()
            other_id = other.id
        keys = {slug: api_keys.create_api_key(db, TenantContext(t, "owner"), "k", ("read",))[1]
                for slug, t in (("brew", brew.tenant_id), ("rival", rival.tenant_id))}
        client = server.test_client()
        url = f"/api/v1/campaigns/{brew.campaign_id}/attribution?model=markov"
        own = client.get(url, headers={"Authorization": f"Bearer {keys['brew']}"})
        assert own.status_code == 200 and own.get_json()["summary"]["conversions"] == 3
        assert sum(r["conversions"] for r in own.get_json()["data"]) == pytest.approx(2.0)
        assert client.get(url, headers={"Authorization": f"Bearer {keys['rival']}"}).status_code == 404
        outputs = scenario.SECTION_OUTPUTS
        for email, slug, role, sponsor in (("o@rival.test", "rival", "owner", None),
                                           ("s@brew.test", "brew", "sponsor", other_id),
                                           ("me@brew.test", "brew", "sponsor", brew.sponsor_id)):
            accounts.create_user(db, email, slug, role, password="password-123", sponsor_id=sponsor)
            browser = server.test_client()
            assert browser.post("/login", data={"email": email, "password": "password-123"}).status_code == 302
            status, out = call_callback(browser, outputs, [("campaign-id", "data", brew.campaign_id),
                                                           ("campaign-attribution-model", "value", None),
                                                           ("campaign-attribution-recompute", "n_clicks", None),
                                                           *WHOLE_FLIGHT],
                                        changed=["campaign-id.data"])
            seen = "Show A" in json.dumps(out, ensure_ascii=False)
            assert status == 200 and seen == (email == "me@brew.test"), email
    finally:
        db.dispose()


def test_a_burst_of_conversions_runs_once_at_once_and_once_at_the_windows_end_on_a_worker(pg, monkeypatch):
    """With Redis: the first arrival enqueues a run; later arrivals in the window leave one run scheduled for its
    end (RQ's scheduler, which the worker runs, starts it), never two."""
    settings, db = pg
    brew = scenario.build(db)
    monkeypatch.setattr(attribution_jobs, "THROTTLE_SECONDS", 2)
    # Tenant and sponsor ids repeat in each test's fresh database, and an earlier test's window may still be open in
    # the session's Redis: start from none.
    redis = get_redis(settings)
    for key in redis.scan_iter(f"attribution:throttle:{brew.tenant_id}:{brew.sponsor_id}*"):
        redis.delete(key)
    registry = ScheduledJobRegistry(queue=get_queue("attribution", settings))
    for job_id in registry.get_job_ids():  # runs an earlier test's conversions left scheduled in the session's Redis
        registry.remove(job_id, delete_job=True)
    first = attribution_jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id)
    trailing = attribution_jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id)
    assert attribution_jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id) is None
    assert first.status == "queued" and trailing.status == "scheduled"
    assert registry.get_job_ids() == [trailing.id]
    time.sleep(3.5)  # past the window's end: the scheduled run is due
    burst_worker(settings, "attribution")
    assert [job_status(h.id, settings).status for h in (first, trailing)] == ["finished", "finished"]
    with db.session(brew.tenant_id) as s:
        assert s.scalar(select(func.count()).select_from(AttributionRun)
                        .where(AttributionRun.campaign_id == brew.campaign_id)) == 2
