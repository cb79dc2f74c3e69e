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


def create_database(template: str | None = None) -> tuple[str, str]:
    """Create a uniquely named database, empty or a copy of `template`; returns (name, SQLAlchemy URL with the test
    timeouts)."""
    name = f"podtest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        if template is None:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:  # a copy needs the template to itself: nothing of a test ever connects to it, but make sure
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
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


@pytest.fixture(scope="session")
def seeded_pg_template(postgres_available, tmp_path_factory):
    """A PostgreSQL database migrated and seeded with the demo tenant through the app, once per run: the template
    seeded_pg copies. Nothing connects to it after seeding."""
    from app import create_app
    from services import demo
    from tests.conftest import DEMO_PASSWORD, make_settings

    name, url = create_database()
    server = create_app(make_settings(tmp_path_factory.mktemp("seeded-pg"), DATABASE_URL=url))
    db = server.extensions["podcast_platform"].db
    seeded = demo.seed_demo(db, password=DEMO_PASSWORD)
    db.dispose()
    yield name, seeded
    drop_database(name)


@pytest.fixture
def seeded_pg(seeded_pg_template):
    """(URL, seed_demo's result) of a database of its own holding what create_app and demo.seed_demo make of an empty
    one: a copy of the run's seeded template (CREATE DATABASE ... TEMPLATE), in a fraction of a second instead of
    seeding again. The dashboards' cache cannot mix copies up: its keys name the database."""
    template, seeded = seeded_pg_template
    name, url = create_database(template)
    yield url, dict(seeded)
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
