"""The counting-lag reading on PostgreSQL: app_ops_reading() (migration 0032), called by the app role, answers as
the SQLite query does; 0032 goes down to 0031's reading and up again."""
from __future__ import annotations

import psycopg

from services import migrate
from services.db import Database
from tests.integration.conftest import create_database, drop_database
from tests.ops_lag_checks import check_counting_lag


def _admin(url: str, sql: str) -> list:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(sql).fetchall()


def test_counting_lag_is_how_long_the_oldest_uncounted_request_has_waited_on_postgres(pg_url):
    migrate.upgrade(pg_url)
    db = Database(pg_url, "podcast_app")
    try:
        check_counting_lag(db)
    finally:
        db.dispose()


def test_0032_goes_down_to_the_counted_until_reading_and_up(postgres_available):
    name, url = create_database()
    metrics = "SELECT string_agg(metric, ',') FROM app_ops_reading()"
    grants = ("SELECT has_function_privilege('public', 'app_ops_reading()', 'EXECUTE'), "
              "has_function_privilege('podcast_app', 'app_ops_reading()', 'EXECUTE'), "
              "has_function_privilege('podcast_worker', 'app_ops_reading()', 'EXECUTE')")
    definition = "SELECT prosrc FROM pg_proc WHERE proname = 'app_ops_reading'"
    try:
        migrate.upgrade(url)
        assert "oldest_uncounted_request" in _admin(url, definition)[0][0]
        assert _admin(url, grants) == [(False, True, True)]
        migrate.downgrade(url, "0031")
        assert "oldest_counted_until" in _admin(url, definition)[0][0]
        assert _admin(url, grants) == [(False, True, True)]
        migrate.upgrade(url)
        assert "oldest_uncounted_request" in _admin(url, definition)[0][0]
        assert _admin(url, metrics) == [(None,)]  # an empty database: no lag, no deliveries
    finally:
        drop_database(name)
