"""Migration 0022 (two-factor sign-in) on SQLite: up to the head, down to 0021 and back up."""
from __future__ import annotations

from sqlalchemy import create_engine, inspect

from services import migrate

MFA_USER_COLUMNS = {"mfa_secret", "mfa_pending_secret", "mfa_enabled_at", "mfa_last_timestep", "mfa_generation",
                    "mfa_failures", "mfa_failed_at"}


def test_0022_goes_down_and_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    assert MFA_USER_COLUMNS <= {c["name"] for c in inspect(engine).get_columns("users")}
    assert "require_mfa" in {c["name"] for c in inspect(engine).get_columns("tenants")}
    migrate.downgrade(url, "0021")
    engine.dispose()
    engine = create_engine(url)
    assert "mfa_recovery_codes" not in inspect(engine).get_table_names()
    assert not MFA_USER_COLUMNS & {c["name"] for c in inspect(engine).get_columns("users")}
    migrate.upgrade(url)
    engine.dispose()
    engine = create_engine(url)
    assert "mfa_recovery_codes" in inspect(engine).get_table_names()
    engine.dispose()
