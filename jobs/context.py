"""Per-process settings and database for job functions, created lazily so jobs take ids, not objects."""
from __future__ import annotations

import logging
import os
import threading

from services.db import Database
from services.settings import Settings, load_settings

logger = logging.getLogger(__name__)

_lock = threading.RLock()
# The few process-wide extension objects: settings, and a Database tied to the process that created it.
_state: dict = {"settings": None, "db": None, "pid": None}


def get_settings() -> Settings:
    """Settings from the environment, read once per process (unless a test set them)."""
    with _lock:
        if _state["settings"] is None:
            _state["settings"] = load_settings()
        return _state["settings"]


def get_db() -> Database:
    """The process's Database; a forked child (RQ work horse) gets its own engine, never the parent's pool."""
    with _lock:
        if _state["db"] is not None and _state["pid"] not in (None, os.getpid()):
            # Inherited across fork: drop the parent's pooled connections without closing them under it.
            _state["db"].engine.dispose(close=False)
            _state["db"] = None
        if _state["db"] is None:
            settings = get_settings()
            # Jobs (ingestion, counting, rollups, retention, cross-tenant schedules) run as the worker role.
            _state["db"] = Database(settings.database_url, settings.db_worker_role, worker_role=settings.db_worker_role,
                                    cache=_dashboard_cache(settings))
            _state["pid"] = os.getpid()
            _watch_events(_state["db"])
        return _state["db"]


def _dashboard_cache(settings: Settings):
    """The dashboards' cache the web processes read, so a job's count moves its tenant to a new generation there."""
    from jobs.queues import get_redis
    from services.dashboards.cache import make_cache

    return make_cache(settings.dashboard_cache, settings.database_url,
                      get_redis(settings) if settings.redis_url else None)


def set_settings(settings: Settings | None) -> None:
    """Use these settings for jobs in this process (tests, embedded app); None forgets them."""
    with _lock:
        _state["settings"] = settings


def set_db(db: Database | None) -> None:
    """Use this Database for jobs in this process (tests, embedded app); None forgets it."""
    with _lock:
        _watch_events(_state["db"], False)
        _state["db"] = db
        _state["pid"] = None  # an injected database is used as given, even after a fork
        _watch_events(db)


def _watch_events(db: Database | None, on: bool = True) -> None:
    """Commits that record events or queue emails on the jobs' database enqueue their jobs (only on that one)."""
    from jobs.events import watch  # jobs.events reads this module's database

    if db is not None:
        watch(db.engine, on)


def reset() -> None:
    """Forget settings and database; the next call reads the environment again. Does not dispose engines."""
    with _lock:
        _watch_events(_state["db"], False)
        _state.update(settings=None, db=None, pid=None)
