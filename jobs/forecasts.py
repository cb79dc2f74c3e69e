"""Forecast jobs: after a tenant's count, recompute and store each show's forecast and each recent episode's launch
curve forecast. Idempotent: each run replaces the tenant's stored forecasts in one transaction."""
from __future__ import annotations

import logging

from jobs.context import get_db
from jobs.progress import annotate, report_progress
from services.insights import forecast_store

logger = logging.getLogger(__name__)


def refresh_forecasts(tenant_id: int) -> dict:
    """Every show's and recent episode's forecast from the daily rollups; progress goes to job.meta."""
    annotate(tenant_id=tenant_id)
    return forecast_store.refresh_tenant_forecasts(get_db(), tenant_id, progress=report_progress)
