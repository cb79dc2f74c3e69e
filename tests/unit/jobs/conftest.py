"""Fixtures for job tests: explicit embedded-mode settings (never the environment) and a temp SQLite database."""
from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobs import context
from services import accounts
from services.db import Database
from services.migrate import upgrade
from services.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def embedded_settings(directory: Path) -> Settings:
    """Settings for a SQLite database in `directory` and no Redis, whatever the environment says."""
    return load_settings({"DATABASE_URL": f"sqlite:///{directory / 'jobs.db'}", "SECRET_KEY": "s" * 32,
                          "INSTANCE_PATH": str(directory)})


@pytest.fixture(scope="session")
def make_settings() -> Callable[[Path], Settings]:
    """For module-scoped fixtures, which cannot use the per-test `settings`."""
    return embedded_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return embedded_settings(tmp_path)


@pytest.fixture(autouse=True)
def job_context(settings: Settings) -> Iterator[None]:
    context.set_settings(settings)
    yield
    context.reset()


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    context.set_db(database)
    yield database
    database.dispose()


@pytest.fixture
def demo_db(settings: Settings, seeded_sqlite: Path) -> Iterator[tuple[Database, int]]:
    """(db, the demo tenant's id): `db` holding the demo network, a copy of the run's seeded SQLite database (what
    demo.seed_demo makes of an empty migrated one) instead of seeding again."""
    shutil.copy(seeded_sqlite, settings.database_url.removeprefix("sqlite:///"))
    database = Database(settings.database_url)
    context.set_db(database)
    yield database, accounts.get_tenant_by_slug(database, "demo").id
    database.dispose()
