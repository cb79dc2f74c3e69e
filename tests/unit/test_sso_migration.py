"""Migration 0028 (user_identities) on SQLite: one link per (issuer, subject), removed with its user; down and up."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from services import migrate

LINK = ("INSERT INTO user_identities (user_id, issuer, subject, email, created_at) "
        "VALUES (:u, 'https://idp.test', :s, 'a@x.test', '2026-01-01 00:00:00')")


def test_0028_goes_down_and_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url, "0028")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("PRAGMA foreign_keys = ON"))
        conn.execute(text("INSERT INTO users (email, name, is_active, created_at, session_generation, mfa_generation, "
                          "mfa_failures) VALUES ('a@x.test', '', 1, '2026-01-01 00:00:00', 0, 0, 0)"))
        conn.execute(text(LINK), {"u": 1, "s": "sub-1"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(LINK), {"u": 1, "s": "sub-1"})  # one user per (issuer, subject)
    with engine.begin() as conn:
        conn.execute(text("PRAGMA foreign_keys = ON"))
        conn.execute(text("DELETE FROM users"))
        assert conn.execute(text("SELECT count(*) FROM user_identities")).scalar_one() == 0
    migrate.downgrade(url, "0027")
    assert "user_identities" not in inspect(engine).get_table_names()
    migrate.upgrade(url, "0028")
    assert "user_identities" in inspect(engine).get_table_names()
    engine.dispose()
