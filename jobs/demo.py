"""Job: seed the "Demo Network" tenant, reporting progress for the UI's progress bar."""
from __future__ import annotations

import logging

from jobs.context import get_db
from jobs.progress import report_progress
from services import demo

logger = logging.getLogger(__name__)


def seed_demo_data(password: str | None = None) -> dict:
    """Create the demo tenant unless it exists (idempotent); returns what `services.demo.seed_demo` reports,
    less the password: job results sit in Redis, and a password has no business there."""
    result = demo.seed_demo(get_db(), password=password, progress=report_progress)
    report_progress(1.0, "demo data ready" if result["created"] else "demo data already present")
    return {key: value for key, value in result.items() if key != "password"}
