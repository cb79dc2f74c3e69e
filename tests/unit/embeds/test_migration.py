"""Migration 0018 (embeds) on SQLite: up to the head, down to 0017 and back up."""
from __future__ import annotations

from sqlalchemy import create_engine, inspect

from services import migrate


def test_0018_goes_down_and_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    engine = create_engine(url)
    columns = {c["name"] for c in inspect(engine).get_columns("embeds")}
    assert {"tenant_id", "created_by_user_id", "sponsor_id", "chart", "filters", "theme", "title", "expires_at",
            "allowed_origins", "revoked_at", "views", "last_viewed_at", "created_at"} <= columns
    migrate.downgrade(url, "0017")
    assert "embeds" not in inspect(engine).get_table_names()
    migrate.upgrade(url)
    assert "embeds" in inspect(engine).get_table_names()
    engine.dispose()
