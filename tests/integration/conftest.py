"""Real services for the integration tier: a PostgreSQL database created and dropped per run, Redis db 9.

Every connection carries a connect timeout and a read timeout (PostgreSQL: statement_timeout; Redis:
socket_timeout), so a lost reply is an error, not a wait; the URLs handed to the app and its workers carry them."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import require_service

# Seconds to connect, and milliseconds one statement may run, on every test connection to PostgreSQL.
PG_TIMEOUTS = "connect_timeout=5&options=-c%20statement_timeout%3D120000"
PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9?socket_connect_timeout=5&socket_timeout=30")


def _pg_available() -> str | None:
    try:
        psycopg.connect(with_timeouts(PG_ADMIN)).close()
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN}: {exc}"
    return None


def _redis_available() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {REDIS_URL}: {exc}"
    return None


def with_timeouts(url: str) -> str:
    """`url` with the test connection timeouts added to its query string."""
    return f"{url}{'&' if '?' in url else '?'}{PG_TIMEOUTS}"


def create_database() -> tuple[str, str]:
    """Create an empty, uniquely named database; returns (name, SQLAlchemy URL with the test timeouts)."""
    name = f"podtest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.split("?", 1)[0].rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, with_timeouts(f"{base}/{name}")


def drop_database(name: str) -> None:
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_available():
    problem = _pg_available()
    require_service(problem is None, problem or "")


@pytest.fixture(scope="session")
def redis_url():
    problem = _redis_available()
    require_service(problem is None, problem or "")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def pg_url(postgres_available):
    name, url = create_database()
    yield url
    drop_database(name)


@pytest.fixture
def pg_jobs(pg_url, redis_url, tmp_path):
    """(settings, db) on a fresh migrated PostgreSQL database and the test Redis, set as the jobs' context, as a
    worker process sees them; the context is reset afterwards."""
    from jobs import context
    from services.db import Database
    from services.migrate import upgrade
    from services.settings import load_settings

    settings = load_settings({"REDIS_URL": redis_url, "DATABASE_URL": pg_url, "INSTANCE_PATH": str(tmp_path),
                              "SECRET_KEY": "integration-" + "k" * 24})
    upgrade(pg_url)
    db = Database(pg_url, settings.db_app_role)
    context.set_settings(settings)
    context.set_db(db)
    yield settings, db
    context.reset()
    db.dispose()


def pytest_collection_modifyitems(config, items):
    """Mark every test of this tier 'integration', so `-m integration` selects the tier and `-m "not integration"` leaves it out.

    Pytest hands every collected item to each conftest's hook: only this directory's are marked."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.integration)
