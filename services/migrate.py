"""Schema migrations (Alembic) run from code: on start, from `flask db upgrade`, and in tests."""
from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text

from services.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

MIGRATION_LOCK = 7_201_104  # arbitrary, constant advisory-lock key for schema migrations


def alembic_config(database_url: str, app_role: str = "podcast_app") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["app_role"] = app_role
    return cfg


def upgrade(database_url: str, revision: str = "head", app_role: str = "podcast_app") -> None:
    """Bring the schema to `revision`, as the login user of DATABASE_URL (not the app role).

    On PostgreSQL an advisory lock serialises concurrent starts (several web workers at once)."""
    cfg = alembic_config(database_url, app_role)
    if not database_url.startswith("postgresql"):
        command.upgrade(cfg, revision)
        return
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                conn.commit()
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str, app_role: str = "podcast_app") -> None:
    command.downgrade(alembic_config(database_url, app_role), revision)


def current_revision(database_url: str) -> str | None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
