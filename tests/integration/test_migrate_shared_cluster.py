"""Migrating on a shared cluster: the app and worker roles already exist (another database's install made them) and
the database's owner, who runs the migrations, is no superuser and holds no admin option on them: the upgrade stops
before any change, naming the setting and the GRANT to run, and works once it has been run."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import text

from services import accounts, migrate
from services.db import Database
from services.errors import ConfigError
from tests.integration.conftest import PG_ADMIN, with_timeouts


@pytest.fixture
def shared_cluster(postgres_available):
    """(owner's SQLAlchemy URL, app role, owner role, worker role): pre-existing NOLOGIN app and worker roles, and a
    database owned by a plain LOGIN role; everything is dropped afterwards (roles are cluster-wide)."""
    suffix = uuid.uuid4().hex[:8]
    app_role, owner, name = f"podtest_app_{suffix}", f"podtest_owner_{suffix}", f"podtest_{suffix}"
    worker_role = f"podtest_worker_{suffix}"
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{app_role}" NOLOGIN NOSUPERUSER NOBYPASSRLS')
        conn.execute(f'CREATE ROLE "{worker_role}" NOLOGIN NOSUPERUSER NOBYPASSRLS')
        conn.execute(f'CREATE ROLE "{owner}" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB')
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    base = PG_ADMIN.split("?", 1)[0].rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = with_timeouts(base.replace("postgres@", f"{owner}@", 1) + f"/{name}")
    yield url, app_role, owner, worker_role
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{owner}"')
        conn.execute(f'DROP ROLE IF EXISTS "{app_role}"')
        conn.execute(f'DROP ROLE IF EXISTS "{worker_role}"')


def _admin(sql: str) -> None:
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        conn.execute(sql)


def test_a_plain_owner_migrates_beside_existing_roles_once_granted_the_worker_role(shared_cluster):
    url, app_role, owner, worker_role = shared_cluster
    with pytest.raises(ConfigError) as raised:  # its system sessions run as the worker role: it must be a member
        migrate.upgrade(url, app_role=app_role, worker_role=worker_role)
    message = str(raised.value)
    assert "DB_WORKER_ROLE" in message and f'GRANT "{worker_role}" TO "{owner}";' in message
    assert migrate.current_revision(url) is None  # nothing was migrated
    _admin(f'GRANT "{worker_role}" TO "{owner}"')  # what the message says to run
    migrate.upgrade(url, app_role=app_role, worker_role=worker_role)
    assert migrate.current_revision(url) == migrate.head_revision()
    db = Database(url, app_role, worker_role=worker_role)
    try:
        with db.engine.connect() as conn:
            user, granted = conn.execute(text(
                "SELECT current_user, has_table_privilege(:role, 'podcasts', 'SELECT')"), {"role": app_role}).one()
        assert (user, granted) == (owner, True)  # the app role got its grants; the app runs as the owner
        a = accounts.create_tenant(db, "alpha", "Alpha")
        b = accounts.create_tenant(db, "beta", "Beta")
        with db.session(a.id) as s:  # the owner's own sessions are under the forced policies too
            assert s.execute(text("SELECT id FROM tenants")).scalars().all() == [a.id] != [b.id]
        with db.session(system=True) as s:  # cross-tenant work as the worker role
            assert s.execute(text("SELECT current_user")).scalar() == worker_role
            assert sorted(s.execute(text("SELECT id FROM tenants")).scalars()) == sorted([a.id, b.id])
    finally:
        db.dispose()
    migrate.upgrade(url, app_role=app_role, worker_role=worker_role)  # a second start migrates nothing, fails nothing


def test_an_owner_that_must_switch_to_the_app_role_is_told_the_grant_to_run(shared_cluster):
    """A BYPASSRLS login has to SET ROLE to the app role on every connection, so it must be a member: without the
    means to grant that to itself, the upgrade stops before any change and names the setting and the GRANT."""
    url, app_role, owner, worker_role = shared_cluster
    _admin(f'ALTER ROLE "{owner}" BYPASSRLS')
    for setting, role in (("DB_APP_ROLE", app_role), ("DB_WORKER_ROLE", worker_role)):
        with pytest.raises(ConfigError) as raised:
            migrate.upgrade(url, app_role=app_role, worker_role=worker_role)
        message = str(raised.value)
        assert setting in message and f'GRANT "{role}" TO "{owner}";' in message
        assert migrate.current_revision(url) is None  # nothing was migrated
        _admin(f'GRANT "{role}" TO "{owner}"')  # what the message says to run
    migrate.upgrade(url, app_role=app_role, worker_role=worker_role)
    db = Database(url, app_role, worker_role=worker_role)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == app_role
        with db.worker_engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == worker_role
    finally:
        db.dispose()
