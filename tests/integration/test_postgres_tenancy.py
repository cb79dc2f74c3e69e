"""PostgreSQL's second wall: forced row-level security per tenant-owned table, and an app role without BYPASSRLS."""
from __future__ import annotations

from datetime import date

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from services import accounts, api_keys, migrate
from services.dashboards import overview
from services.dashboards.periods import ViewState
from services.db import Database
from services.models import (
    TENANT_OWNED_TABLES, AuditLog, Campaign, CountingState, Episode, LogImport, Placement, Podcast, Sponsor,
)
from services.tenancy import TenantContext


@pytest.fixture
def pg_db(pg_url):
    migrate.upgrade(pg_url)
    db = Database(pg_url, "podcast_app")
    yield db
    db.dispose()


@pytest.fixture
def seeded_db(seeded_pg):
    """(Database as the app role, seed_demo's result) on a copy of the run's seeded demo template: what
    demo.seed_demo made of an empty migrated database."""
    url, seeded = seeded_pg
    db = Database(url, "podcast_app")
    yield db, seeded
    db.dispose()


def _two_tenants(db):
    a = accounts.create_tenant(db, "alpha", "Alpha")
    b = accounts.create_tenant(db, "beta", "Beta")
    for tenant in (a, b):
        with db.session(tenant.id) as s:
            s.add(Podcast(tenant_id=tenant.id, title=f"{tenant.name} Show", prefix_key=f"k{tenant.id}"))
            s.add(Sponsor(tenant_id=tenant.id, name=f"{tenant.name} Sponsor"))
            s.commit()
    return a, b


def test_every_tenant_owned_table_has_a_forced_policy(pg_db, pg_url):
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        policies = {row[0] for row in conn.execute("SELECT tablename FROM pg_policies WHERE schemaname='public'")}
        forced = {row[0] for row in conn.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity")}
    assert set(TENANT_OWNED_TABLES) <= policies
    assert set(TENANT_OWNED_TABLES) <= forced


def test_app_role_is_not_privileged(pg_db):
    with pg_db.engine.connect() as conn:
        role, superuser, bypass = conn.execute(text(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
    assert role == "podcast_app" and not superuser and not bypass


# The tenant-owned tables _seed_both fills for each tenant (every other one is covered by its own module's test).
SEEDED = ("tenants", "memberships", "sponsors", "podcasts", "episodes", "campaigns", "placements", "api_keys",
          "audit_log", "log_imports", "counting_state")


def _seed_both(db):
    """Two tenants, each with a row in every table of SEEDED (written through its own tenant's session)."""
    a, b = _two_tenants(db)
    for tenant in (a, b):
        accounts.create_user(db, f"staff@{tenant.slug}.test", tenant.slug, "editor")
        api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), f"{tenant.slug} key")
        with db.session(tenant.id) as s:
            podcast = s.scalar(select(Podcast).where(Podcast.tenant_id == tenant.id))
            sponsor = s.scalar(select(Sponsor).where(Sponsor.tenant_id == tenant.id))
            episode = Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid=f"{tenant.slug}-1",
                              title=f"{tenant.name} Episode")
            campaign = Campaign(tenant_id=tenant.id, sponsor_id=sponsor.id, name=f"{tenant.name} Campaign",
                                start_date=date(2026, 6, 1), end_date=date(2026, 6, 30))
            s.add_all([episode, campaign])
            s.flush()
            s.add(Placement(tenant_id=tenant.id, campaign_id=campaign.id, podcast_id=podcast.id, episode_id=episode.id,
                            start_date=campaign.start_date, end_date=campaign.end_date))
            s.add(AuditLog(tenant_id=tenant.id, action="test.seeded", entity_type="tenant", entity_id=tenant.id))
            s.add(LogImport(tenant_id=tenant.id, filename=f"{tenant.slug}.log", fingerprint=tenant.slug * 4,
                            format="combined", status="completed"))
            s.add(CountingState(tenant_id=tenant.id))
            s.commit()
    with db.session(system=True) as s:  # the rows are there: what the walls below hide is real
        for table in SEEDED:
            col = "id" if table == "tenants" else "tenant_id"
            per_tenant = dict(s.execute(text(f"SELECT {col}, count(*) FROM {table} GROUP BY 1")).all())
            assert per_tenant.get(a.id, 0) > 0 and per_tenant.get(b.id, 0) > 0, table
    return a, b


def test_no_tenant_set_sees_no_rows(pg_db):
    _seed_both(pg_db)
    with pg_db.session() as s:
        for table in TENANT_OWNED_TABLES:
            assert s.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table


def test_with_a_tenant_set_another_tenants_rows_stay_hidden(pg_db):
    a, b = _seed_both(pg_db)
    for table in SEEDED:
        col = "id" if table == "tenants" else "tenant_id"
        for me, them in ((a, b), (b, a)):
            with pg_db.session(me.id) as s:  # as the app role, no WHERE on the tenant
                owners = s.execute(text(f"SELECT DISTINCT {col} FROM {table}")).scalars().all()
                assert owners == [me.id], (table, owners)
                hidden = s.execute(text(f"SELECT count(*) FROM {table} WHERE {col} = :them"), {"them": them.id})
                assert hidden.scalar() == 0, table
                changed = s.execute(text(f"UPDATE {table} SET {col} = {col} WHERE {col} = :them"), {"them": them.id})
                assert changed.rowcount == 0, table
                s.rollback()


def test_each_tenant_sees_only_its_rows_even_without_a_filter(pg_db):
    a, b = _two_tenants(pg_db)
    with pg_db.session(a.id) as s:
        assert s.scalars(select(Podcast.title)).all() == ["Alpha Show"]  # no WHERE tenant_id in this query
        assert s.scalars(select(Sponsor.name)).all() == ["Alpha Sponsor"]
        assert s.execute(text("SELECT slug FROM tenants")).scalars().all() == ["alpha"]


def test_writing_into_another_tenant_is_refused(pg_db):
    a, b = _two_tenants(pg_db)
    with pg_db.session(a.id) as s:
        s.add(Podcast(tenant_id=b.id, title="Smuggled", prefix_key="smuggled"))
        with pytest.raises(ProgrammingError, match="row-level security"):
            s.commit()
    with pg_db.session(a.id) as s:
        updated = s.execute(text("UPDATE podcasts SET title = 'x' WHERE tenant_id = :b"), {"b": b.id}).rowcount
        assert updated == 0


def test_setting_does_not_leak_between_transactions(pg_db):
    a, _ = _two_tenants(pg_db)
    with pg_db.session(a.id) as s:
        assert s.execute(text("SELECT count(*) FROM podcasts")).scalar() == 1
    with pg_db.session() as s:  # the same pooled connection, next transaction
        assert s.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar() in ("", None)
        assert s.execute(text("SELECT count(*) FROM podcasts")).scalar() == 0


def test_demo_seed_and_overview_on_postgres(seeded_db):
    pg_db, result = seeded_db
    assert result["created"] and result["downloads"] > 10_000
    ctx = TenantContext(tenant_id=result["tenant_id"], role="viewer")
    with pg_db.session(ctx.tenant_id) as s:
        first, last = s.execute(text("SELECT current_date - 89, current_date")).one()
        expected = s.execute(text(
            "SELECT count(*) FROM tenant_downloads WHERE (ts AT TIME ZONE 'UTC')::date "
            "BETWEEN current_date - 89 AND current_date")).scalar()
    state = ViewState.from_controls("custom", first.isoformat(), last.isoformat(), compare="none")
    assert overview.overview_kpis(pg_db, ctx, state, today=last).current.downloads == expected > 0
    other = accounts.create_tenant(pg_db, "other", "Other")
    everything = ViewState.from_query({"range": "all"})
    assert overview.overview_kpis(pg_db, TenantContext(tenant_id=other.id, role="owner"), everything
                                  ).current.downloads == 0


def test_time_series_views_are_the_tenant_wall(seeded_db):
    pg_db, result = seeded_db
    other = accounts.create_tenant(pg_db, "other", "Other")
    views = ["tenant_downloads", "tenant_podcast_daily_metrics", "tenant_episode_daily_metrics",
             "tenant_podcast_hourly_metrics", "tenant_podcast_app_daily_metrics"]
    with pg_db.session() as s:
        assert all(s.execute(text(f"SELECT count(*) FROM {v}")).scalar() == 0 for v in views)
    with pg_db.session(other.id) as s:
        assert all(s.execute(text(f"SELECT count(*) FROM {v}")).scalar() == 0 for v in views)
    with pg_db.session(result["tenant_id"]) as s:
        assert all(s.execute(text(f"SELECT count(*) FROM {v}")).scalar() > 0 for v in views)
        options = s.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'tenant_downloads'")).scalar()
    assert "security_barrier=true" in options
