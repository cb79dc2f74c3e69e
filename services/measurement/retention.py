"""Retention: raw requests are kept RAW_RETENTION_DAYS; hash secrets no raw request needs any more are deleted,
so old listener keys can never be linked back to an address."""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import delete

from services.db import Database
from services.measurement.hashing import month_of
from services.measurement.methodology import RAW_RETENTION_DAYS
from services.models import DownloadRequest, HashSecret

logger = logging.getLogger(__name__)


def purge_expired(db: Database, now: datetime | None = None) -> dict:
    """Delete raw requests past retention and the monthly secrets older than the oldest month still kept."""
    now = now or datetime.now(timezone.utc)
    # Whole UTC days only, so the oldest day kept is complete and can still be recounted.
    cutoff = datetime.combine((now - timedelta(days=RAW_RETENTION_DAYS)).date(), time.min, tzinfo=timezone.utc)
    with db.session(system=True) as s:  # retention applies to every tenant alike
        requests = s.execute(delete(DownloadRequest).where(DownloadRequest.ts < cutoff)).rowcount
        secrets = s.execute(delete(HashSecret).where(HashSecret.month < month_of(cutoff))).rowcount
        s.commit()
    logger.info("retention applied", extra={"raw_requests": requests, "hash_secrets": secrets})
    return {"raw_requests": requests, "hash_secrets": secrets, "cutoff": cutoff.isoformat()}
