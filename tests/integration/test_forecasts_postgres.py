"""Forecasts on PostgreSQL with a real RQ worker: counting queues the forecasting job, which stores each show's and
recent episode's forecast under the tenant wall; the API answers from them, and another tenant sees, reads and
writes none of them."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import ProgrammingError

from app import create_app
from jobs.measure import count_tenant
from jobs.queues import enqueue, job_status
from services import accounts, api_keys
from services.models import Forecast, Podcast
from services.tenancy import TenantContext
from tests.integration.workers import burst_worker

pytestmark = pytest.mark.integration


def _key(db, tenant_id: int) -> dict:
    _, key = api_keys.create_api_key(db, TenantContext(tenant_id, "owner"), "forecasts")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def pg_url(seeded_pg):
    """pg_jobs's database: a copy of the run's seeded demo template rather than an empty one."""
    return seeded_pg[0]


@pytest.mark.timeout(600)
def test_counting_stores_forecasts_and_tenants_never_see_each_others(pg_jobs, seeded_pg):
    settings, db = pg_jobs
    tenant_id = seeded_pg[1]["tenant_id"]
    other = accounts.create_tenant(db, "acme", "Acme")
    counting = enqueue(count_tenant, tenant_id, "2020-01-01", queue="measure", settings=settings)
    burst_worker(settings, "measure", "default")  # the count queues the forecasts on `default`, run in this burst
    assert job_status(counting.id, settings).status == "finished"

    with db.session(tenant_id) as s:
        kinds = dict(s.execute(select(Forecast.kind, func.count()).group_by(Forecast.kind)).all())
        podcast_id = s.scalar(select(Podcast.id).order_by(Podcast.id))
        stored = s.get(Forecast, (tenant_id, "podcast", podcast_id))
    assert kinds["podcast"] == 3 and kinds["episode"] > 0
    with db.session(other.id) as s:  # no WHERE: the policy alone hides the demo's rows
        assert s.scalar(text("SELECT count(*) FROM forecasts")) == 0
        s.add(Forecast(tenant_id=tenant_id, kind="podcast", subject_id=999, as_of=stored.as_of, points=[]))
        with pytest.raises(ProgrammingError):  # nor can it write one into the demo tenant
            s.flush()

    server = create_app(settings)
    client = server.test_client()
    demo_key, acme_key = _key(db, tenant_id), _key(db, other.id)
    response = client.get(f"/api/v1/podcasts/{podcast_id}/forecast?days=14", headers=demo_key)
    assert response.status_code == 200
    rows = response.get_json()["data"]
    assert [r["downloads"] for r in rows] == [p["downloads"] for p in stored.points[:14]]  # read, not recomputed
    assert client.get(f"/api/v1/podcasts/{podcast_id}/forecast", headers=acme_key).status_code == 404
    with db.session(tenant_id) as s:
        episode_id = s.scalar(select(Forecast.subject_id).where(Forecast.kind == "episode"))
    assert client.get(f"/api/v1/episodes/{episode_id}/forecast", headers=demo_key).status_code == 200
    assert client.get(f"/api/v1/episodes/{episode_id}/forecast", headers=acme_key).status_code == 404
    assert client.get(f"/api/v1/podcasts/{podcast_id}/forecast?days=0", headers=demo_key).status_code == 400
    server.extensions["podcast_platform"].db.dispose()
