"""Per-tenant retention on PostgreSQL (row-level security on, the retention job on a real RQ worker): alpha's owner
sets 30 days on the privacy page; the job removes alpha's older raw requests and conversions only, and beta, on the
deployment default, keeps all of its own. Beta's owner, alpha's admin and alpha's sponsor user cannot change alpha's
setting, and bad values get clear errors."""
from __future__ import annotations

from sqlalchemy import select

from app import create_app
from jobs import measure
from jobs.queues import enqueue, job_status
from services import accounts
from services.models import AuditLog, Sponsor, Tenant
from tests.conftest import make_settings
from tests.integration.workers import burst_worker
from tests.retention_data import left, plant, save_retention
from tests.worlds import login

PASSWORD = "password-123"


def test_each_tenant_keeps_its_own_retention(pg_jobs, tmp_path):
    settings, db = pg_jobs
    server = create_app(make_settings(tmp_path / "web", DATABASE_URL=settings.database_url))
    server.config["TESTING"] = True
    web_db = server.extensions["podcast_platform"].db
    alpha, beta = (accounts.create_tenant(web_db, slug, slug.title()).id for slug in ("alpha", "beta"))
    with web_db.session(alpha) as s:
        sponsor = Sponsor(tenant_id=alpha, name="Alpha sponsor")
        s.add(sponsor)
        s.commit()
        sponsor_id = sponsor.id
    for email, slug, role in (("owner@alpha.test", "alpha", "owner"), ("admin@alpha.test", "alpha", "admin"),
                              ("owner@beta.test", "beta", "owner")):
        accounts.create_user(web_db, email, slug, role, password=PASSWORD)
    accounts.create_user(web_db, "buyer@alpha.test", "alpha", "sponsor", password=PASSWORD, sponsor_id=sponsor_id)
    clients = {e: login(server, e, PASSWORD) for e in ("owner@alpha.test", "admin@alpha.test", "owner@beta.test",
                                                       "buyer@alpha.test")}

    def stored(tenant_id):
        with web_db.session(system=True) as s:
            return tuple(s.execute(select(Tenant.raw_request_retention_days, Tenant.conversion_retention_days)
                                   .where(Tenant.id == tenant_id)).one())

    assert "raw requests: between 30 and 90 days" in save_retention(clients["owner@alpha.test"], "7", "")[2]
    assert "conversions: a whole number of days" in save_retention(clients["owner@alpha.test"], "", "1e3")[2]
    assert "may not do this" in save_retention(clients["admin@alpha.test"], "30", "30")[2]
    assert "may not do this" in save_retention(clients["buyer@alpha.test"], "30", "30")[2]
    save_retention(clients["owner@beta.test"], "45", "")  # beta's owner changes beta's, never alpha's
    assert stored(alpha) == (None, None) and stored(beta) == (45, None)
    save_retention(clients["owner@beta.test"], "", "")
    assert save_retention(clients["owner@alpha.test"], "30", "30")[:2] == ("30", "30")
    assert stored(alpha) == (30, 30) and stored(beta) == (None, None)
    with web_db.session(alpha) as s:  # alpha's session sees only alpha's entries
        changes = [(a.tenant_id, a.detail) for a in s.scalars(select(AuditLog).where(
            AuditLog.action == "privacy.retention_changed"))]
    assert changes == [(alpha, {"raw_request_retention_days": [None, 30], "conversion_retention_days": [None, 30]})]

    plant(db, alpha, "alpha")
    plant(db, beta, "beta")
    job = enqueue(measure.purge_expired, queue="measure", settings=settings)
    burst_worker(settings, "measure")
    handle = job_status(job.id, settings)
    assert handle.status == "finished", handle.error
    assert left(db, "alpha") == {"raw": [5], "conversions": [5], "touchpoints": [5]}
    assert left(db, "beta") == {"raw": [5, 35, 45], "conversions": [5, 35, 45], "touchpoints": [5, 35, 45]}
    assert handle.result["tenants"][alpha] == {"raw_requests": 2, "conversions": 2, "touchpoints": 2}
    assert handle.result["tenants"][beta] == {"raw_requests": 0, "conversions": 0, "touchpoints": 0}
    server.extensions["podcast_platform"].db.dispose()
