"""Shared fixtures: settings on a temporary SQLite database, the app factory, logged-in clients."""
from __future__ import annotations

import faulthandler
import os
import shutil
import signal
from pathlib import Path

import pytest
from sqlalchemy import text

from jobs import context as job_context
from services import demo, migrate
from services.db import Database
from services.settings import Settings, load_settings

DEMO_PASSWORD = "demo-password-123"

# .ci/run's overall limit sends SIGUSR1 before it stops a run: every thread's stack goes to this file, which
# pytest's output capture cannot swallow.
if os.environ.get("PYTEST_STACKS_FILE"):
    _stacks = open(os.environ["PYTEST_STACKS_FILE"], "w")  # noqa: SIM115 (open for the whole session)
    faulthandler.register(signal.SIGUSR1, file=_stacks, all_threads=True)


def require_service(available: bool, reason: str) -> None:
    """Skip a test whose real service is missing, except in CI where a missing service fails the run."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing service fails the run)", pytrace=False)
    pytest.skip(reason)


def make_settings(instance: Path, **env: str) -> Settings:
    # Every test signs in from 127.0.0.1, and the integration tier's apps share one Redis: the per-IP sign-in limit
    # is raised here so unrelated tests never throttle each other (the throttling tests set their own limits).
    base = {"INSTANCE_PATH": str(instance), "SECRET_KEY": "test-secret-key-0123456789", "LOG_LEVEL": "WARNING",
            "LOGIN_RATE_LIMIT_IP": "600/minute"}
    return load_settings({**base, **env})


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory) -> Path:
    """A migrated SQLite database holding the demo tenant, built once; tests copy it."""
    path = tmp_path_factory.mktemp("seeded") / "demo.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    db = Database(url)
    demo.seed_demo(db, password=DEMO_PASSWORD)
    db.dispose()
    return path


def clear_demo_conversions(db: Database, tenant_id: int) -> None:
    """The demo seeds its sponsors' conversions, clicks and links; tests of the attribution inputs count from none."""
    with db.session(system=True) as s:
        for table in ("attribution_events", "attribution_event_ids", "tracking_links"):
            s.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": tenant_id})
        s.commit()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def demo_settings(tmp_path, seeded_sqlite) -> Settings:
    shutil.copy(seeded_sqlite, tmp_path / "podcast.db")
    return make_settings(tmp_path)


@pytest.fixture
def app(demo_settings):
    from app import create_app

    server = create_app(demo_settings)
    server.config["TESTING"] = True
    yield server
    server.extensions["podcast_platform"].db.dispose()
    job_context.reset()


@pytest.fixture
def db(app) -> Database:
    return app.extensions["podcast_platform"].db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def demo_client(app):
    client = app.test_client()
    response = client.post("/login", data={"email": demo.DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.data
    return client
