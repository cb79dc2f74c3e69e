"""Migration 0029 (per-tenant retention, audit_log.user_pseudonym) on SQLite: existing tenants keep the deployment
default (NULL); down and back up."""
from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from services import migrate


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_0029_goes_down_and_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url, "0027")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (slug, name, timezone, dedupe_window, created_at) "
                          "VALUES ('demo', 'Demo', 'UTC', 'calendar', '2026-01-01 00:00:00')"))
    migrate.upgrade(url, "0029")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT raw_request_retention_days, conversion_retention_days FROM tenants")
                            ).one() == (None, None)
    assert "user_pseudonym" in _columns(engine, "audit_log")
    migrate.downgrade(url, "0027")
    assert not {"raw_request_retention_days", "conversion_retention_days"} & _columns(engine, "tenants")
    assert "user_pseudonym" not in _columns(engine, "audit_log")
    migrate.upgrade(url, "0029")
    assert "conversion_retention_days" in _columns(engine, "tenants")
    engine.dispose()
