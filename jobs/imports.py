"""Import jobs: a log file uploaded through the page, imported then counted, with progress for the page."""
from __future__ import annotations

import logging
from pathlib import Path

from jobs.campaigns import refresh_tenant_delivery
from jobs.context import get_db, get_settings
from jobs.progress import annotate, report_progress
from jobs.queues import IDEMPOTENT_RETRY, enqueue
from services.measurement import counting, engines, log_import
from services.tenancy import TenantContext

logger = logging.getLogger(__name__)


def import_log_file(tenant_id: int, user_id: int | None, path: str, fmt: str, host: str | None = None,
                    filename: str | None = None) -> dict:
    """Import an uploaded log for a tenant and count the days it covers; the upload is deleted afterwards."""
    annotate(tenant_id=tenant_id)
    ctx = TenantContext(tenant_id=tenant_id, role="editor", user_id=user_id)
    db = get_db()
    try:
        report = log_import.import_log(db, ctx, path, fmt, host, filename,
                                       progress=lambda f, m: report_progress(0.9 * f, m))
    finally:
        Path(path).unlink(missing_ok=True)
    counted = None
    if report.imported:
        report_progress(0.92, "counting downloads")
        with engines.open_engine(get_settings().counting_engine) as engine:
            counted = counting.count_downloads(db, tenant_id, report.first_day, report.last_day,
                                               engine=engine).downloads
        enqueue(refresh_tenant_delivery, tenant_id, report.first_day.isoformat(), queue="measure",
                retry=IDEMPOTENT_RETRY)
    report_progress(1.0, "done")
    return {"tenant_id": tenant_id, "filename": report.filename, "lines": report.lines, "imported": report.imported,
            "rejected": report.rejected, "unmatched": report.unmatched, "already_imported": report.already_imported,
            "downloads": counted, "errors": report.errors[:20]}
