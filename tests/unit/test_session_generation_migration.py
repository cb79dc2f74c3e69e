"""Migration 0023 (users.session_generation) on SQLite: existing users start at 0; down and back up."""
from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from services import migrate


def test_0023_goes_down_and_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url, "0022")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (email, name, is_active, created_at) "
                          "VALUES ('a@x.test', '', 1, '2026-01-01 00:00:00')"))
    migrate.upgrade(url, "0023")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT session_generation FROM users")).scalar_one() == 0
    migrate.downgrade(url, "0022")
    assert "session_generation" not in {c["name"] for c in inspect(engine).get_columns("users")}
    migrate.upgrade(url, "0023")
    assert "session_generation" in {c["name"] for c in inspect(engine).get_columns("users")}
    engine.dispose()
