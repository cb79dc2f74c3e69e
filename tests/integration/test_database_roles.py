"""The second wall with two roles: the web role (a LOGIN granted only `podcast_app`, as a production web login is)
reads no tenant's rows without a tenant, cannot switch on the cross-tenant mode nor become the worker, and has no
privilege on the base time series; the worker role's jobs still count, roll up and see across tenants."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import text

from services import accounts
from services.db import Database
from services.measurement import counting
from tests.integration.conftest import PG_ADMIN, with_timeouts


@pytest.fixture(scope="module")
def seeded(seeded_pg_template):
    """A migrated database holding the demo network (a copy of the run's seeded template) and a second, empty tenant;
    a web LOGIN role for raw SQL."""
    from tests.integration.conftest import create_database, drop_database

    name, url = create_database(seeded_pg_template[0])
    db = Database(url, "podcast_app")
    demo_id = accounts.get_tenant_by_slug(db, "demo").id
    other = accounts.create_tenant(db, "other", "Other")
    web_login = f"podtest_web_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{web_login}" LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE podcast_app')
    raw = url.replace("postgresql+psycopg://", "postgresql://").replace("postgres@", f"{web_login}@", 1)
    try:
        yield {"url": url, "db": db, "demo": demo_id, "other": other.id, "raw": raw}
    finally:
        db.dispose()
        drop_database(name)
        with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{web_login}"')


def _admin_rows(url: str, sql: str) -> list:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(sql).fetchall()


def _tenant_tables(url: str) -> list[str]:
    return [r[0] for r in _admin_rows(url, "SELECT DISTINCT tablename FROM pg_policies WHERE schemaname = 'public' "
                                           "ORDER BY 1")]


def _series(url: str) -> list[str]:
    return [r[0] for r in _admin_rows(url, "SELECT substr(viewname, 8) FROM pg_views WHERE schemaname = 'public' "
                                           "AND viewname LIKE 'tenant\\_%' ORDER BY 1")]


def _demo_rows(url: str, table: str, demo_id: int) -> int:
    col = "id" if table == "tenants" else "tenant_id"
    return _admin_rows(url, f"SELECT count(*) FROM {table} WHERE {col} = {demo_id}")[0][0]


def test_the_web_login_runs_as_the_web_role_only(seeded):
    with psycopg.connect(seeded["raw"]) as conn:
        user, superuser, bypass = conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
        assert not superuser and not bypass
        assert conn.execute("SELECT pg_has_role(current_user, 'podcast_app', 'MEMBER'), "
                            "pg_has_role(current_user, 'podcast_worker', 'MEMBER')").fetchone() == (True, False)


def test_without_a_tenant_the_web_role_sees_no_row_of_any_tenant_table_or_time_series(seeded):
    tables, series = _tenant_tables(seeded["url"]), _series(seeded["url"])
    filled = [t for t in tables if _demo_rows(seeded["url"], t, seeded["demo"])]
    assert len(tables) >= 30 and len(filled) >= 15, filled  # the check runs on tables that hold the demo's rows
    assert {"downloads", "download_requests", "podcast_daily_metrics"} <= set(series)
    with psycopg.connect(seeded["raw"], autocommit=True) as conn:
        conn.execute("SET ROLE podcast_app")
        for table in tables:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        for relation in series:
            assert conn.execute(f"SELECT count(*) FROM tenant_{relation}").fetchone()[0] == 0, relation


@pytest.mark.parametrize("switch", [
    "SELECT set_config('app.system', 'on', false)",
    "SET app.system = 'on'",
])
def test_the_web_role_cannot_set_its_way_around_the_wall(seeded, switch):
    tables = [t for t in _tenant_tables(seeded["url"]) if _demo_rows(seeded["url"], t, seeded["demo"])]
    with psycopg.connect(seeded["raw"], autocommit=True) as conn:
        conn.execute(switch)
        assert conn.execute("SELECT current_setting('app.system')").fetchone()[0] == "on"  # the switch is set...
        for table in tables:  # ...and opens nothing
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        for statement in ("SET ROLE podcast_worker", "SET ROLE postgres", "SET SESSION AUTHORIZATION postgres"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_web_role_has_no_privilege_on_the_base_time_series(seeded):
    for relation in _series(seeded["url"]):
        with psycopg.connect(seeded["raw"], autocommit=True) as conn:
            conn.execute(f"SELECT set_config('app.tenant_id', '{seeded['demo']}', false)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {relation} LIMIT 1")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"DELETE FROM {relation}")


def test_with_a_tenant_set_every_other_tenants_row_stays_hidden(seeded):
    """As the empty tenant, every table and view that holds demo rows shows none of them; as the demo, its own."""
    tables = [t for t in _tenant_tables(seeded["url"]) if _demo_rows(seeded["url"], t, seeded["demo"])]
    series = [r for r in _series(seeded["url"]) if _demo_rows(seeded["url"], r, seeded["demo"])]
    assert {"downloads", "podcast_daily_metrics"} <= set(series)
    with psycopg.connect(seeded["raw"], autocommit=True) as conn:
        conn.execute(f"SELECT set_config('app.tenant_id', '{seeded['other']}', false)")
        for table in tables:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == (1 if table == "tenants" else 0), table
        for relation in series:
            assert conn.execute(f"SELECT count(*) FROM tenant_{relation}").fetchone()[0] == 0, relation
        conn.execute(f"SELECT set_config('app.tenant_id', '{seeded['demo']}', false)")
        for relation in series:
            assert conn.execute(f"SELECT count(*) FROM tenant_{relation}").fetchone()[0] == _demo_rows(
                seeded["url"], relation, seeded["demo"]), relation


def test_the_worker_role_still_counts_and_works_across_tenants(seeded):
    worker = Database(seeded["url"], "podcast_worker")
    try:
        with worker.session(system=True) as s:
            assert s.execute(text("SELECT current_user")).scalar() == "podcast_worker"
            assert set(s.execute(text("SELECT id FROM tenants")).scalars()) >= {seeded["demo"], seeded["other"]}
        before = _admin_rows(seeded["url"], f"SELECT count(*), sum(downloads) FROM podcast_daily_metrics "
                                            f"WHERE tenant_id = {seeded['demo']}")[0]
        result = counting.count_downloads(worker, seeded["demo"])
        after = _admin_rows(seeded["url"], f"SELECT count(*), sum(downloads) FROM podcast_daily_metrics "
                                           f"WHERE tenant_id = {seeded['demo']}")[0]
        assert result.downloads > 0 and after == before  # a recount as the worker: the same figures, no error
    finally:
        worker.dispose()


def test_the_apps_system_sessions_run_as_the_worker_and_its_tenant_sessions_as_the_web_role(seeded):
    db = seeded["db"]
    with db.session(seeded["demo"]) as s:
        assert s.execute(text("SELECT current_user")).scalar() == "podcast_app"
    with db.session(system=True) as s:
        assert s.execute(text("SELECT current_user")).scalar() == "podcast_worker"
