"""Database.read_session on SQLite: a second database file with its own content stands in for the replica, so each
answer shows which database gave it; a request that writes reads the primary from then on."""
from __future__ import annotations

import shutil
import sqlite3
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from services import accounts
from services.catalog import podcasts
from services.dashboards import episodes, overview
from services.dashboards.periods import ViewState
from services.db import Database
from services.errors import NotFound, PermissionDenied
from services.models import ApiKey, Episode, Podcast
from services.tenancy import TenantContext

REPLICA_TITLE = "Title on the replica"


@pytest.fixture
def routed(seeded_sqlite, tmp_path):
    primary, replica = tmp_path / "primary.db", tmp_path / "replica.db"
    shutil.copy(seeded_sqlite, primary)
    setup = Database(f"sqlite:///{primary}")
    acme = accounts.create_tenant(setup, "acme", "Acme").id
    tenant = accounts.get_tenant_by_slug(setup, "demo").id
    with setup.session(tenant) as s:
        podcast_id = s.scalar(select(func.min(Podcast.id)).where(Podcast.tenant_id == tenant))
    setup.dispose()
    shutil.copy(primary, replica)
    with sqlite3.connect(replica) as conn:
        conn.execute("UPDATE podcasts SET title = ? WHERE id = ?", (REPLICA_TITLE, podcast_id))
    request = {"store": SimpleNamespace()}
    db = Database(f"sqlite:///{primary}", read_url=f"sqlite:///{replica}", request_store=lambda: request["store"])
    yield db, request, TenantContext(tenant_id=tenant, role="owner"), TenantContext(tenant_id=acme, role="owner"), \
        podcast_id
    db.dispose()


def _titles(db, ctx) -> set[str]:
    return {p.title for p in podcasts.list_podcasts(db, ctx)}


def test_a_request_reads_the_replica_until_it_writes(routed):
    db, request, ctx, _acme, podcast_id = routed
    assert REPLICA_TITLE in _titles(db, ctx)
    with db.session(ctx.tenant_id, bookkeeping=True) as s:  # bookkeeping (an API key's last use) does not pin
        s.add(ApiKey(tenant_id=ctx.tenant_id, name="k", prefix="pk_x", key_hash="h" * 64, scopes=["read"]))
        s.commit()
    assert REPLICA_TITLE in _titles(db, ctx)
    with db.session(ctx.tenant_id) as s:
        s.get(Podcast, podcast_id).title = "Renamed on the primary"
        s.commit()
    assert "Renamed on the primary" in _titles(db, ctx)  # its own write
    request["store"] = SimpleNamespace()  # the next request
    assert REPLICA_TITLE in _titles(db, ctx)
    request["store"] = None  # no request (a job, a command): the primary
    assert "Renamed on the primary" in _titles(db, ctx)


def test_the_replica_shows_another_tenant_nothing(routed):
    db, _request, ctx, acme, podcast_id = routed
    with db.read_session(ctx.tenant_id) as s:
        episode_id = s.scalar(select(func.min(Episode.id)).where(Episode.tenant_id == ctx.tenant_id))
    assert episodes.episode_info(db, ctx, episode_id).podcast  # the demo's own episode, read on the replica
    assert _titles(db, acme) == set()
    with pytest.raises(NotFound):
        overview.top_episodes(db, acme, ViewState(podcast=podcast_id))
    with pytest.raises(NotFound):
        episodes.episode_info(db, acme, episode_id)
    with pytest.raises(PermissionDenied):
        overview.overview_kpis(db, TenantContext(tenant_id=ctx.tenant_id, role="sponsor", sponsor_id=1), ViewState())


def test_a_replica_session_refuses_to_write(routed):
    db, _request, ctx, _acme, podcast_id = routed
    with pytest.raises(RuntimeError), db.read_session(ctx.tenant_id) as s:
        s.get(Podcast, podcast_id).title = "written to the replica"
        s.flush()
