"""Catalog jobs: refresh every feed (conditional GET), one job per podcast so one slow feed holds up nothing."""
from __future__ import annotations

import logging

from jobs.context import get_db, get_settings
from jobs.progress import report_progress
from jobs.queues import enqueue
from services.catalog import podcasts
from services.catalog.prefix import own_hosts

logger = logging.getLogger(__name__)


def refresh_feed(podcast_id: int) -> str:
    outcome = podcasts.refresh_feed(get_db(), podcast_id, own_hosts(get_settings()))
    report_progress(1.0, outcome)
    return outcome


def refresh_all_feeds() -> list[str]:
    """The periodic job: enqueue refresh_feed for every podcast that has a feed URL."""
    return [enqueue(refresh_feed, podcast_id, queue="imports").id for podcast_id in podcasts.podcasts_with_feeds(get_db())]
