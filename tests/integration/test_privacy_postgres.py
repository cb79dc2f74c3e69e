"""Tenant export and deletion on PostgreSQL (row-level security on, jobs on a real RQ worker): the export holds only
its tenant's rows, and after the deletion no table holds a row of that tenant while the other keeps all of its own."""
from __future__ import annotations

import zipfile

import pandas as pd
from sqlalchemy import text

from jobs import privacy as privacy_jobs
from jobs.queues import enqueue, job_status
from services import accounts, privacy
from tests.integration.test_cross_tenant_postgres import _tenant
from tests.integration.workers import burst_worker


def _rows_of(db, tenant_id) -> dict[str, int]:
    with db.session(system=True) as s:
        tables = s.execute(text("SELECT table_name FROM information_schema.columns WHERE column_name = 'tenant_id' "
                                "AND table_schema = 'public'")).scalars().all()
        found = {t: s.execute(text(f"SELECT count(*) FROM {t} WHERE tenant_id = :t"), {"t": tenant_id}).scalar()
                 for t in tables}
        found["tenants"] = s.execute(text("SELECT count(*) FROM tenants WHERE id = :t"), {"t": tenant_id}).scalar()
    return found


def test_export_then_delete_one_tenant_on_a_worker(pg_jobs):
    settings, db = pg_jobs
    alpha, beta = _tenant(db, "alpha"), _tenant(db, "beta")
    accounts.create_user(db, "owner@alpha.test", "alpha", "owner", password="password-123")
    accounts.create_user(db, "both@alpha.test", "alpha", "viewer", password="password-123")
    accounts.create_user(db, "both@alpha.test", "beta", "viewer")
    export = enqueue(privacy_jobs.export_tenant, alpha["tenant"], queue="default", settings=settings)
    burst_worker(settings, "default")
    handle = job_status(export.id, settings)
    assert handle.status == "finished", handle.error
    with zipfile.ZipFile(privacy.exports_dir(settings) / handle.result["file"]) as archive:
        downloads = pd.read_csv(archive.open("downloads.csv"))
        assert len(downloads) == 5 and set(downloads["tenant_id"]) == {alpha["tenant"]}
        requests = pd.read_csv(archive.open("download_requests.csv"))
        assert set(requests["tenant_id"]) <= {alpha["tenant"]}

    before_alpha, before_beta = _rows_of(db, alpha["tenant"]), _rows_of(db, beta["tenant"])
    assert before_alpha["downloads"] == 5 and before_alpha["podcast_daily_metrics"] >= 1
    deletion = enqueue(privacy_jobs.delete_tenant, alpha["tenant"], queue="default", settings=settings)
    burst_worker(settings, "default")
    assert job_status(deletion.id, settings).status == "finished"
    assert set(_rows_of(db, alpha["tenant"]).values()) == {0}
    assert _rows_of(db, beta["tenant"]) == before_beta
    with db.session(system=True) as s:
        emails = set(s.execute(text("SELECT email FROM users")).scalars())
    assert "both@alpha.test" in emails and "owner@alpha.test" not in emails
