"""Database engine and units of work; on PostgreSQL every transaction carries the tenant for row-level security."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from services.errors import ConfigError

logger = logging.getLogger(__name__)

# Seconds to wait for a PostgreSQL connection unless DATABASE_URL says otherwise (`?connect_timeout=N`): a server
# that does not answer is an error after this long, not a request or job that waits forever.
CONNECT_TIMEOUT = 10


def make_engine(url: str, app_role: str | None = None) -> Engine:
    """Engine for the app. On PostgreSQL, sessions of a superuser or BYPASSRLS login drop to `app_role`."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine

    target, connect_args = _driver_options(url)
    engine = create_engine(target, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args)
    if app_role:

        @event.listens_for(engine, "connect")
        def _drop_privileges(dbapi_conn, _record):
            _set_app_role(dbapi_conn, app_role)

    return engine


def _driver_options(url: str) -> tuple[URL, dict]:
    """psycopg connect options: CONNECT_TIMEOUT unless the URL sets `connect_timeout`.

    `?prepare_threshold=none` (or a number) on a postgresql+psycopg URL sets psycopg's prepare_threshold and is
    not passed on as a connection parameter. `none` never prepares statements: needed where clients share one
    backend session (PgBouncer transaction pooling; the PGlite TimescaleDB server of the integration tier), where
    a server-side prepared statement of one client collides with the next's."""
    target = make_url(url)
    options = {} if "connect_timeout" in target.query else {"connect_timeout": CONNECT_TIMEOUT}
    threshold = target.query.get("prepare_threshold")
    if threshold is None:
        return target, options
    options["prepare_threshold"] = None if str(threshold).lower() in ("none", "") else int(threshold)
    return target.difference_update_query(["prepare_threshold"]), options


def _set_app_role(dbapi_conn, app_role: str) -> None:
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    try:
        cur = dbapi_conn.cursor()
        cur.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        privileged = cur.fetchone()[0]
        if privileged:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app_role,))
            if cur.fetchone() is None:
                raise ConfigError("DATABASE_URL", f"role {app_role!r} is missing; run `flask --app app db upgrade`")
            cur.execute(f'SET ROLE "{app_role}"')
        cur.close()
    finally:
        dbapi_conn.autocommit = autocommit


class Database:
    """Owns the engine; hands out sessions scoped to one tenant (or to the system, for cross-tenant work)."""

    def __init__(self, url: str, app_role: str | None = None):
        self.url = url
        self.engine = make_engine(url, app_role)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        if self.is_postgres:
            event.listen(self._factory, "after_begin", _apply_scope)

    @contextmanager
    def session(self, tenant_id: int | None = None, *, system: bool = False) -> Iterator[Session]:
        """A unit of work: commit explicitly with `session.commit()`; anything uncommitted rolls back.

        `tenant_id` scopes PostgreSQL row-level security to that tenant. `system=True` is for the few
        cross-tenant paths (login, API key lookup, operator commands, schedulers); services still filter.
        """
        session = self._factory()
        session.info["tenant_id"] = tenant_id
        session.info["system"] = system
        try:
            yield session
        finally:
            session.close()  # rolls back whatever was not committed; loaded objects stay readable

    def dispose(self) -> None:
        self.engine.dispose()


def _apply_scope(session: Session, _transaction, connection) -> None:
    tenant_id = session.info.get("tenant_id")
    connection.execute(
        text("SELECT set_config('app.tenant_id', :tenant, true), set_config('app.system', :system, true)"),
        {"tenant": "" if tenant_id is None else str(tenant_id), "system": "on" if session.info.get("system") else "off"},
    )
