"""The demo database for the dashboard services, and the counted downloads as an independent pandas frame."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pandas as pd
import pytest
from sqlalchemy import text

from services import accounts
from services.db import Database
from services.tenancy import TenantContext


@pytest.fixture(scope="module")
def demo_db(seeded_sqlite, tmp_path_factory) -> Database:
    """A copy of the seeded demo database for one test module (the tests here only read it, unless they copy)."""
    path = tmp_path_factory.mktemp("dash") / "demo.db"
    shutil.copy(seeded_sqlite, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def demo_ctx(demo_db) -> TenantContext:
    tenant = accounts.get_tenant_by_slug(demo_db, "demo")
    return TenantContext(tenant_id=tenant.id, role="owner", tenant_slug="demo", tenant_name=tenant.name)


@pytest.fixture(scope="module")
def today():
    return datetime.now(timezone.utc).date()


def read_downloads(db: Database, tenant_id: int) -> pd.DataFrame:
    """Every counted download of the tenant, straight from `downloads` (never the rollups), with UTC day."""
    with db.session(tenant_id) as s:
        rows = s.execute(text("SELECT ts, podcast_id, episode_id, listener_key, app, device, os, country, region, "
                              "referrer FROM downloads WHERE tenant_id = :t"), {"t": tenant_id}).all()
    frame = pd.DataFrame(rows, columns=["ts", "podcast_id", "episode_id", "listener_key", "app", "device", "os",
                                        "country", "region", "referrer"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="mixed")
    frame["day"] = frame["ts"].dt.date
    return frame


def read_episodes(db: Database, tenant_id: int) -> pd.DataFrame:
    with db.session(tenant_id) as s:
        rows = s.execute(text("SELECT e.id, e.title, e.podcast_id, e.published_at, p.title FROM episodes e "
                              "JOIN podcasts p ON p.id = e.podcast_id WHERE e.tenant_id = :t"), {"t": tenant_id}).all()
    frame = pd.DataFrame(rows, columns=["episode_id", "title", "podcast_id", "published_at", "podcast"])
    frame["released"] = pd.to_datetime(frame["published_at"], utc=True, format="mixed").dt.date
    return frame


@pytest.fixture(scope="module")
def downloads(demo_db, demo_ctx) -> pd.DataFrame:
    return read_downloads(demo_db, demo_ctx.tenant_id)


@pytest.fixture(scope="module")
def episodes_frame(demo_db, demo_ctx) -> pd.DataFrame:
    return read_episodes(demo_db, demo_ctx.tenant_id)
