"""Privacy jobs: a tenant's export (progress for the page, a file under instance/exports) and a tenant's deletion."""
from __future__ import annotations

from jobs.context import get_db, get_settings
from jobs.progress import annotate, report_progress
from services import privacy


def export_tenant(tenant_id: int) -> dict:
    """Write the tenant's export zip; the page turns the file name into an expiring link."""
    annotate(tenant_id=tenant_id)
    path = privacy.export_tenant(get_db(), tenant_id, privacy.exports_dir(get_settings()), progress=report_progress)
    return {"tenant_id": tenant_id, "file": path.name, "bytes": path.stat().st_size}


def delete_tenant(tenant_id: int) -> dict:
    """Remove every row of the tenant (confirmed by its owner on the page beforehand)."""
    annotate(tenant_id=tenant_id)
    return {"tenant_id": tenant_id, "deleted": privacy.purge_tenant(get_db(), tenant_id, progress=report_progress)}
