"""Database engine and units of work; on PostgreSQL every transaction carries the tenant for row-level security.
An optional read replica answers read-only sessions; a request that wrote reads its own writes from the primary."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from services.errors import ConfigError

logger = logging.getLogger(__name__)

# Seconds to wait for a PostgreSQL connection unless DATABASE_URL says otherwise (`?connect_timeout=N`): a server
# that does not answer is an error after this long, not a request or job that waits forever.
CONNECT_TIMEOUT = 10
# The role of workers' and system sessions (DB_WORKER_ROLE): ingestion, counting, rollups, cross-tenant work.
DEFAULT_WORKER_ROLE = "podcast_worker"


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
    """Run the connection as `app_role`: always from a superuser or BYPASSRLS login (which must not run queries as
    itself), and from a plain login that is a member of it; a plain login that is not runs as itself."""
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    try:
        cur = dbapi_conn.cursor()
        cur.execute("SELECT rolsuper OR rolbypassrls, current_user = %s, "
                    "EXISTS (SELECT FROM pg_roles WHERE rolname = %s) FROM pg_roles WHERE rolname = current_user",
                    (app_role, app_role))
        privileged, already, exists = cur.fetchone()
        if privileged and not exists:
            raise ConfigError("DATABASE_URL", f"role {app_role!r} is missing; run `flask --app app db upgrade`")
        if not already and exists:
            cur.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (app_role,))
            member = cur.fetchone()[0]
            if privileged or member:
                cur.execute(f'SET ROLE "{app_role}"')
        cur.close()
    finally:
        dbapi_conn.autocommit = autocommit


# Tables whose rows the dashboards' answers show besides the rollups: a flushed change to one of them changes the
# tenant's data (an episode renamed, a podcast added, the time zone), as a count or a rollup refresh does.
DASHBOARD_TABLES = frozenset({"tenants", "podcasts", "episodes"})
_CHANGED = "changed_tenants"


class Database:
    """Owns the engine; hands out sessions scoped to one tenant (or to the system, for cross-tenant work).

    `read_url`: a read replica for `read_session` (None: reads use the primary). `cache`: the dashboards' answer
    cache (services.dashboards.cache), told after each commit which tenants' data changed. `request_store`: returns
    the current request's attribute store (flask.g) or None outside a request; a primary session that flushes or
    commits marks it, so the rest of that request reads from the primary (its own writes), never the replica."""

    def __init__(self, url: str, app_role: str | None = None, *, worker_role: str | None = DEFAULT_WORKER_ROLE,
                 read_url: str | None = None, cache=None, request_store: Callable[[], object | None] | None = None):
        self.url = url
        self.engine = make_engine(url, app_role)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        # System sessions (cross-tenant work) run as the worker role: the policies honour `app.system` for it only.
        separate = self.is_postgres and app_role is not None and worker_role not in (None, app_role)
        self.worker_engine = make_engine(url, worker_role) if separate else self.engine
        self._system_factory = sessionmaker(self.worker_engine, expire_on_commit=False) if separate else self._factory
        self.read_engine = make_engine(read_url, app_role) if read_url else None
        self._read_factory = sessionmaker(self.read_engine, expire_on_commit=False) if read_url else None
        self.cache = cache
        self.request_store = request_store
        self.companions: list[Database] = []  # disposed with this one (the web's database for in-process jobs)
        factories = (self._factory,) if self._system_factory is self._factory else (self._factory, self._system_factory)
        for factory in factories:
            if self.is_postgres:
                event.listen(factory, "after_begin", _apply_scope)
            event.listen(factory, "after_flush", self._after_flush)
            event.listen(factory, "after_commit", self._after_commit)
            event.listen(factory, "after_rollback", lambda s: s.info.pop(_CHANGED, None))
        if self._read_factory is not None and self.read_engine.dialect.name == "postgresql":
            event.listen(self._read_factory, "after_begin", _apply_scope)
        if self._read_factory is not None:
            event.listen(self._read_factory, "before_flush", _refuse_write)

    @contextmanager
    def session(self, tenant_id: int | None = None, *, system: bool = False, worker: bool = False,
                bookkeeping: bool = False) -> Iterator[Session]:
        """A unit of work: commit explicitly with `session.commit()`; anything uncommitted rolls back.

        `tenant_id` scopes PostgreSQL row-level security to that tenant. `system=True` is for the few
        cross-tenant paths (login, API key lookup, operator commands, schedulers); services still filter. On
        PostgreSQL those run as the worker role (its own pooled connections), the only role the policies let see
        across tenants. `worker=True`: the worker role within one tenant, for the workers' work on the time series
        (ingestion, counting, rollups, attribution), which the web role may only read through the tenant views.
        `bookkeeping=True`: its writes are nothing the request reads back (an API key's last use), so they leave
        the request's reads on the replica.
        """
        session = (self._system_factory if system or worker else self._factory)()
        session.info["tenant_id"] = tenant_id
        session.info["system"] = system
        session.info["bookkeeping"] = bookkeeping
        session.info["cache"] = self.cache
        try:
            yield session
        finally:
            session.close()  # rolls back whatever was not committed; loaded objects stay readable

    @contextmanager
    def read_session(self, tenant_id: int | None = None) -> Iterator[Session]:
        """A session for reading only (dashboards, API GETs): on the replica when one is configured, inside a request
        that has not written; otherwise on the primary (outside a request nothing says the replica has caught up with
        what the caller just wrote). A flush on a replica session raises."""
        if self._read_factory is None or not self._replica_allowed():
            with self.session(tenant_id) as session:
                yield session
            return
        session = self._read_factory()
        session.info.update(tenant_id=tenant_id, system=False, replica=True)
        try:
            yield session
        finally:
            session.close()

    def _replica_allowed(self) -> bool:
        store = self.request_store() if self.request_store else None
        return store is not None and not getattr(store, WROTE, False)

    def _pin_request(self, session: Session) -> None:
        if session.info.get("bookkeeping"):
            return
        store = self.request_store() if self.request_store else None
        if store is not None:
            setattr(store, WROTE, True)

    def _after_flush(self, session: Session, _context) -> None:
        self._pin_request(session)
        for obj in (*session.new, *session.dirty, *session.deleted):
            table = getattr(obj, "__tablename__", None)
            if table in DASHBOARD_TABLES:
                tenant_data_changed(session, obj.id if table == "tenants" else obj.tenant_id)

    def _after_commit(self, session: Session) -> None:
        self._pin_request(session)
        if session.info.get("timescale_refresh"):
            return  # the continuous aggregates refresh after this commit; run_pending_changes follows them
        run_pending_changes(session)

    def dispose(self) -> None:
        for companion in self.companions:
            companion.dispose()
        self.engine.dispose()
        if self.worker_engine is not self.engine:
            self.worker_engine.dispose()
        if self.read_engine is not None:
            self.read_engine.dispose()


WROTE = "db_wrote"  # the request-store attribute: this request wrote on the primary


def tenant_data_changed(session: Session, tenant_id: int | None) -> None:
    """Record that this transaction changes what the tenant's dashboards show (counted downloads, rollups, catalog):
    after it commits, the Database's cache moves that tenant to a new generation. Nothing happens on rollback."""
    if tenant_id is not None:
        session.info.setdefault(_CHANGED, set()).add(int(tenant_id))


def run_pending_changes(session: Session) -> None:
    """Tell the cache about the tenants this committed transaction changed (the after-commit step; the TimescaleDB
    refresh calls it once the continuous aggregates are current, so no answer is cached from before them)."""
    tenants = session.info.pop(_CHANGED, None)
    cache = session.info.get("cache")
    if tenants and cache is not None:
        for tenant_id in sorted(tenants):
            cache.bump(tenant_id)


def _refuse_write(session: Session, _context, _instances) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read-only session (the replica) cannot write; use Database.session")


def _apply_scope(session: Session, _transaction, connection) -> None:
    tenant_id = session.info.get("tenant_id")
    connection.execute(
        text("SELECT set_config('app.tenant_id', :tenant, true), set_config('app.system', :system, true)"),
        {"tenant": "" if tenant_id is None else str(tenant_id), "system": "on" if session.info.get("system") else "off"},
    )
