"""Schema migrations (Alembic) run from code: on start, from `flask db upgrade`, and in tests."""
from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text

from services.errors import ConfigError
from services.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

MIGRATION_LOCK = 7_201_104  # arbitrary, constant advisory-lock key for schema migrations


def alembic_config(database_url: str, app_role: str = "podcast_app", worker_role: str = "podcast_worker") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["app_role"] = app_role
    cfg.attributes["worker_role"] = worker_role
    return cfg


def upgrade(database_url: str, revision: str = "head", app_role: str = "podcast_app",
            worker_role: str = "podcast_worker") -> None:
    """Bring the schema to `revision`, as the login user of DATABASE_URL (not the app role).

    On PostgreSQL an advisory lock serialises concurrent starts (several web workers at once)."""
    cfg = alembic_config(database_url, app_role, worker_role)
    if not database_url.startswith("postgresql"):
        command.upgrade(cfg, revision)
        return
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()
            try:
                if revision == "head" and MigrationContext.configure(conn).get_current_revision() == head_revision():
                    conn.commit()
                    return  # nothing to do: a web login that may not migrate (nor hold the worker role) starts
                check_app_role(conn, app_role)
                check_worker_role(conn, worker_role)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                conn.commit()
    finally:
        engine.dispose()


def check_app_role(conn, app_role: str) -> None:
    """Raise ConfigError, before any change, when the login of DATABASE_URL could not use the app role afterwards.

    A superuser or BYPASSRLS login runs each app connection as `app_role` (services.db), so a BYPASSRLS one must be
    a member of it, and the role must exist; on a shared cluster the role can predate this database and the owner
    may have no right to create it or grant it to itself. A plain login needs neither: it runs under the forced
    row-level security policies itself, and the migrations grant the role what it needs when it exists."""
    me = conn.execute(text(
        "SELECT current_user, rolsuper, rolbypassrls, rolcreaterole, "
        "  EXISTS (SELECT FROM pg_roles WHERE rolname = :role) AS role_exists "
        "FROM pg_roles WHERE rolname = current_user"), {"role": app_role}).one()
    conn.commit()
    if me.rolsuper or not me.rolbypassrls or me.current_user == app_role:
        return
    if not me.role_exists:
        if me.rolcreaterole:
            return  # migration 0002 creates it and grants it to this login
        raise ConfigError("DB_APP_ROLE", f"role {app_role!r} does not exist and {me.current_user!r} may not create "
                                         f"it; as a superuser run: CREATE ROLE \"{app_role}\" NOLOGIN NOSUPERUSER "
                                         f"NOBYPASSRLS; GRANT \"{app_role}\" TO \"{me.current_user}\";")
    if _holds_or_may_grant(conn, app_role, me.rolcreaterole):
        return
    raise ConfigError("DB_APP_ROLE", f"{me.current_user!r} bypasses row-level security, so the app runs its sessions "
                                     f"as {app_role!r}, which already exists and is not granted to it; as a superuser "
                                     f"(or a holder of its admin option) run: GRANT \"{app_role}\" TO "
                                     f"\"{me.current_user}\"; or set DB_APP_ROLE to a role it is a member of")


def _holds_or_may_grant(conn, role: str, createrole: bool) -> bool:
    """The login is a member of `role`, holds its admin option, or may grant it by CREATEROLE alone (before
    PostgreSQL 16; from 16 on that takes the admin option)."""
    member, admin = conn.execute(text(
        "SELECT pg_has_role(current_user, :role, 'MEMBER'), pg_has_role(current_user, :role, 'MEMBER WITH ADMIN OPTION')"),
        {"role": role}).one()
    conn.commit()
    createrole_grants = createrole and int(conn.execute(text("SHOW server_version_num")).scalar()) < 160000
    conn.commit()
    return bool(member or admin or createrole_grants)


def check_worker_role(conn, worker_role: str) -> None:
    """Raise ConfigError, before any change, when the worker role (DB_WORKER_ROLE) cannot be made or used: the
    migrations create it when the login may, and grant it to the login, whose system sessions run as it."""
    me = conn.execute(text(
        "SELECT current_user, rolsuper, rolcreaterole, EXISTS (SELECT FROM pg_roles WHERE rolname = :role) "
        "FROM pg_roles WHERE rolname = current_user"), {"role": worker_role}).one()
    conn.commit()
    user, superuser, createrole, exists = me
    if superuser or user == worker_role:
        return
    if not exists:
        if createrole:
            return  # migration 0030 creates it and grants it to this login
        raise ConfigError("DB_WORKER_ROLE", f"role {worker_role!r} does not exist and {user!r} may not create it; as a "
                                            f"superuser run: CREATE ROLE \"{worker_role}\" NOLOGIN NOSUPERUSER "
                                            f"NOBYPASSRLS; GRANT \"{worker_role}\" TO \"{user}\";")
    if _holds_or_may_grant(conn, worker_role, createrole):
        return
    raise ConfigError("DB_WORKER_ROLE", f"the workers' and system sessions run as {worker_role!r}, which already exists "
                                        f"and is not granted to {user!r}; as a superuser (or a holder of its admin "
                                        f"option) run: GRANT \"{worker_role}\" TO \"{user}\"; or set DB_WORKER_ROLE "
                                        f"to a role it is a member of")


def downgrade(database_url: str, revision: str, app_role: str = "podcast_app",
              worker_role: str = "podcast_worker") -> None:
    command.downgrade(alembic_config(database_url, app_role, worker_role), revision)


def current_revision(database_url: str) -> str | None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
