"""services.db: what a database URL tells about the server's sessions (no connection is made)."""
from __future__ import annotations

import pytest

from services.db import Database


@pytest.mark.parametrize(("url", "shared"), [
    ("sqlite:///:memory:", False),
    ("postgresql+psycopg://app@127.0.0.1/app", False),
    ("postgresql+psycopg://app@127.0.0.1/app?prepare_threshold=5", False),
    ("postgresql+psycopg://app@127.0.0.1/app?prepare_threshold=none", True),
    ("postgresql+psycopg://app@127.0.0.1/app?sslmode=disable&prepare_threshold=None", True),
])
def test_a_shared_backend_is_told_by_prepare_threshold_none(url, shared):
    """Clients of a shared backend session (PgBouncer transaction pooling, the PGlite server) never prepare
    statements; counting then reads on its own connection only, as a second one would wait for the first."""
    db = Database(url)
    try:
        assert db.shared_backend is shared
    finally:
        db.dispose()
