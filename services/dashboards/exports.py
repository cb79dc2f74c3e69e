"""CSV exports too large to build in memory: rows stream from the rollups in chunks (a server-side cursor on
PostgreSQL), tenant-scoped like every dashboard question."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date

from sqlalchemy import select

from services.dashboards.common import dashboard_scope
from services.dashboards.episodes import GRID_COLUMNS, episode_grid
from services.dashboards.periods import ViewState
from services.db import Database
from services.measurement.store import view
from services.models import Episode, EpisodeDailyMetric
from services.tenancy import TenantContext

CHUNK_ROWS = 5000
EPISODE_DAY_COLUMNS = ["day", "episode_id", "episode", "podcast_id", "downloads", "listeners"]


def _csv(rows: Iterable) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def episode_days_csv(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None,
                     chunk_rows: int = CHUNK_ROWS) -> Iterator[str]:
    """Downloads per episode per UTC day over the view's period (any length, e.g. all time), as CSV text chunks;
    the first chunk is the header, yielded only after the access checks passed."""
    with dashboard_scope(db, ctx, state, today) as scope:
        m, p = view(EpisodeDailyMetric).c, scope.period
        stmt = (select(m.day, m.episode_id, Episode.title, m.podcast_id, m.downloads, m.listeners)
                .join(Episode, Episode.id == m.episode_id)
                .where(m.tenant_id == ctx.tenant_id, m.day.between(p.first, p.last)))
        if state.podcast is not None:
            stmt = stmt.where(m.podcast_id == state.podcast)
        yield _csv([EPISODE_DAY_COLUMNS])
        result = scope.session.execute(stmt.order_by(m.day, m.episode_id).execution_options(yield_per=chunk_rows))
        for part in result.partitions():
            yield _csv(part)


def episode_grid_csv(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None,
                     chunk_rows: int = CHUNK_ROWS) -> Iterator[str]:
    """The episodes grid (all rows, every column) as CSV chunks; same frame the grid shows."""
    frame = episode_grid(db, ctx, state, today)
    yield _csv([GRID_COLUMNS])
    for start in range(0, len(frame), chunk_rows):
        yield frame.iloc[start:start + chunk_rows].to_csv(index=False, header=False)
