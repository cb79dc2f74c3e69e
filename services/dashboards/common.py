"""What every dashboard question starts with: staff only, one tenant session, the podcast filter checked, the
period resolved in the tenant's time zone; and the SQL date helpers both dialects share."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Date, cast, func, select, true
from sqlalchemy.orm import Session

from services.dashboards.periods import Period, ViewState, resolve_period, today_in
from services.db import Database
from services.errors import NotFound
from services.measurement.store import view
from services.models import Episode, Podcast, PodcastDailyMetric, Tenant
from services.tenancy import TenantContext, require_staff


@dataclass(frozen=True)
class Scope:
    """One dashboard request: the session, the resolved period and the tenant's time zone."""

    session: Session
    ctx: TenantContext
    state: ViewState
    period: Period
    tz: str
    today: date

    @property
    def postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"


@contextmanager
def dashboard_scope(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None) -> Iterator[Scope]:
    """Staff only (a sponsor user gets PermissionDenied); another tenant's podcast id is NotFound."""
    require_staff(ctx)
    with db.read_session(ctx.tenant_id) as s:
        check_podcast(s, ctx, state.podcast)
        tz = s.scalar(select(Tenant.timezone).where(Tenant.id == ctx.tenant_id)) or "UTC"
        today = today or today_in(tz)
        first_day = first_data_day(s, ctx, state.podcast) if state.range == "all" else None
        yield Scope(s, ctx, state, resolve_period(state, today, first_day), tz, today)


def tenant_today(db: Database, ctx: TenantContext) -> date:
    """Today in the tenant's time zone: where the presets end and the date pickers open."""
    with db.read_session(ctx.tenant_id) as s:
        return today_in(s.scalar(select(Tenant.timezone).where(Tenant.id == ctx.tenant_id)))


def check_podcast(s: Session, ctx: TenantContext, podcast_id: int | None) -> None:
    if podcast_id is not None and s.scalar(
            select(Podcast.id).where(Podcast.id == podcast_id, Podcast.tenant_id == ctx.tenant_id)) is None:
        raise NotFound(f"no podcast {podcast_id}")


def owned_episode(s: Session, ctx: TenantContext, episode_id: int) -> Episode:
    episode = s.scalar(select(Episode).where(Episode.id == episode_id, Episode.tenant_id == ctx.tenant_id))
    if episode is None:
        raise NotFound(f"no episode {episode_id}")
    return episode


def first_data_day(s: Session, ctx: TenantContext, podcast_id: int | None = None) -> date | None:
    m = view(PodcastDailyMetric).c
    stmt = select(func.min(m.day)).where(m.tenant_id == ctx.tenant_id)
    if podcast_id is not None:
        stmt = stmt.where(m.podcast_id == podcast_id)
    value = s.scalar(stmt)
    return pd.Timestamp(value).date() if value is not None else None


def release_day(scope: Scope):
    """SQL: the UTC date an episode was published."""
    if scope.postgres:
        return cast(func.timezone("UTC", Episode.published_at), Date)
    return func.date(Episode.published_at)


def days_after(scope: Scope, day_expr, days: int):
    """SQL: `day_expr` plus `days` days (a DATE on PostgreSQL, an ISO string on SQLite, as the rollups' day is)."""
    if scope.postgres:
        return day_expr + days
    return func.date(day_expr, f"+{days} days")


def as_date(value) -> date | None:
    if value is None:
        return None
    return value if isinstance(value, date) and not isinstance(value, pd.Timestamp) else pd.Timestamp(value).date()


def filtered(stmt, scope: Scope, columns, first: date | None = None, last: date | None = None):
    """Tenant, podcast filter and day range on a rollup view's columns."""
    stmt = stmt.where(columns.tenant_id == scope.ctx.tenant_id)
    if scope.state.podcast is not None:
        stmt = stmt.where(columns.podcast_id == scope.state.podcast)
    if first is not None:
        stmt = stmt.where(columns.day.between(first, last))
    return stmt


def first_days(scope: Scope, model, episodes, days: int, keys: tuple[str, ...] = ()):
    """Rows of a per-episode rollup on each episode's first `days` days: columns episode_id, released, day,
    downloads, listeners, *keys (day NULL for an episode without any; an outer join).

    `episodes` selects (episode id, release day) pairs. On PostgreSQL each episode is one (episode_id, day) index
    range through the security-barrier view, so the cost follows the episodes asked about, not the tenant's history:
    a LATERAL subquery, with both the window's bounds computed beforehand as plain columns (a bound computed inside
    the join would be a non-leakproof expression the view may not see, and PostgreSQL would read every row of the
    episode); OFFSET 0 keeps the planner from flattening either subquery into one hash join over the tenant."""
    first_day = episodes.selected_columns[1]
    bounds = episodes.add_columns(days_after(scope, first_day, days).label("window_end"))
    eps = (bounds.offset(0) if scope.postgres else bounds).subquery("eps")
    ep_id, rel, end = eps.c[0], eps.c[1], eps.c.window_end
    rollup = view(model)
    m = rollup.c
    columns = [m.day, m.downloads, m.listeners, *(getattr(m, k) for k in keys)]
    cond = (m.episode_id == ep_id) & (m.tenant_id == scope.ctx.tenant_id) & (m.day >= rel) & (m.day < end)
    if scope.postgres:
        window = select(*columns).where(cond).offset(0).lateral("w")
        return select(ep_id.label("episode_id"), rel.label("released"), *window.c).select_from(eps).outerjoin(
            window, true())
    return select(ep_id.label("episode_id"), rel.label("released"), *columns).select_from(eps).outerjoin(rollup, cond)
