"""Counting: raw requests -> IAB v2.3 downloads, against the database. The days are planned in slabs; each slab's
raw requests are read, counted by the rules (counting_rules.py) in this process or, with a Dask engine, on workers
(engines.py), and written over the counted days (so a recount is a no-op)."""
from __future__ import annotations

import functools
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from services.db import Database
from services.measurement import store
from services.measurement.counting_rules import EpisodeIndex, count_partition
from services.measurement.engines import LOCAL, CountingEngine, SlabCount
from services.measurement.raw_reads import read_countable
from services.models import CountingDay, CountingState, Download, DownloadRequest, Tenant
from services.models.base import utcnow

logger = logging.getLogger(__name__)

SLAB_DAYS = 31  # at most this many days counted per pass
SLAB_ROWS = 500_000  # and at most about this many raw requests (a busier day is a slab of its own): bounds memory,
# and smaller slabs overlap more of the reads with the writes (see _started_slabs)
PREFETCH_SLABS = 2  # with a reader session, slabs read ahead of the one being counted
RAMP_SLABS = (0.25, 0.5)  # the first slabs are smaller: the first write, and with it the overlap, starts sooner


@dataclass
class CountReport:
    tenant_id: int
    first_day: date | None = None
    last_day: date | None = None
    requests: int = 0
    downloads: int = 0
    dropped: Counter = field(default_factory=Counter)
    bots_by_day: Counter = field(default_factory=Counter)  # day -> requests dropped as bots

    def as_dict(self) -> dict:
        return {"tenant_id": self.tenant_id, "first_day": self.first_day and self.first_day.isoformat(),
                "last_day": self.last_day and self.last_day.isoformat(), "requests": self.requests,
                "downloads": self.downloads, "dropped": dict(self.dropped)}


def count_downloads(db: Database, tenant_id: int, first: date | None = None, last: date | None = None,
                    progress: Callable[[float, str], None] | None = None,
                    engine: CountingEngine | None = None) -> CountReport:
    """Count the tenant's raw requests on days first..last (default: from the last counted day to the newest
    request) into downloads and rollups, in one transaction. Idempotent: counting the same days again changes
    nothing. `engine` runs the rules (default: in this process)."""
    with db.session(tenant_id, worker=True) as s:
        # On PostgreSQL the raw requests are read in a second session, ahead of the writes. Not on TimescaleDB:
        # there the count writes only downloads (the continuous aggregates follow by refresh), so there is little
        # write to overlap, and its test server takes one connection at a time.
        read_ahead = db.is_postgres and not store.is_timescale(s)
        reader = (lambda: db.session(tenant_id, worker=True)) if read_ahead else None
        report = count_in_session(s, tenant_id, first, last, progress, engine, reader=reader)
        s.commit()
    logger.info("downloads counted", extra=report.as_dict())
    return report


def count_in_session(s: Session, tenant_id: int, first: date | None = None, last: date | None = None,
                     progress: Callable[[float, str], None] | None = None,
                     engine: CountingEngine | None = None,
                     reader: Callable[[], AbstractContextManager[Session]] | None = None) -> CountReport:
    """count_downloads inside the caller's transaction (the caller commits). `reader` opens a second session
    (on PostgreSQL): the raw requests are then read there, a slab ahead, on a thread of their own, while this
    session writes the slab before (the raw requests are committed data; the count writes none)."""
    engine = engine or LOCAL
    report = CountReport(tenant_id)
    progress = progress or (lambda _f, _m: None)
    window = s.scalar(select(Tenant.dedupe_window).where(Tenant.id == tenant_id))
    span = s.execute(select(func.min(DownloadRequest.ts), func.max(DownloadRequest.ts))
                     .where(DownloadRequest.tenant_id == tenant_id)).one()
    if span[0] is None:
        return report
    state = s.get(CountingState, tenant_id)
    default_first = pd.Timestamp(span[0]).date()
    if state and state.counted_until:
        default_first = max(default_first, pd.Timestamp(state.counted_until).date() - timedelta(days=1))
    # Days before the oldest raw request kept are never recounted: their requests are gone (retention), and a
    # recount would erase their downloads.
    first = max(first or default_first, pd.Timestamp(span[0]).date())
    last = last or pd.Timestamp(span[1]).date()
    if first > last:
        return report
    report.first_day, report.last_day = first, last
    episodes = EpisodeIndex.load(s, tenant_id)
    # Each slab is read, handed to the engine, and written once counted, in order; the next slabs are read and
    # counted while this session writes (see _started_slabs). The slabs are planned from every day's requests
    # (plan_slabs), all but the first: that one is found from one request's time, so that its read starts at once
    # and the days are counted (a scan of all the requests) here meanwhile.
    head = _first_slab(s, tenant_id, first, last)
    per_day: dict[date, int] = {}

    def planned() -> Iterator[tuple[date, date]]:
        yield head
        per_day.update(_requests_per_day(s, tenant_id, first, last))
        if head[1] < last:
            yield from plan_slabs(per_day, head[1] + timedelta(days=1), last, ramp=RAMP_SLABS[1:])

    rollups = not store.is_timescale(s)  # plain rollup tables written with the downloads
    reader = reader if head[1] < last else None  # one slab: nothing to read ahead of
    # Days with no downloads yet (a first count) will be written: their COPY data is then made ahead, with the rest
    # of each slab's writes (see _start_slab), instead of by this session between its writes.
    types = store.copy_types(s) if reader is not None and not _any_downloads(s, tenant_id, first, last) else None
    start = functools.partial(_start_slab, tenant_id=tenant_id, episodes=episodes, window=window, engine=engine,
                              rollups=rollups, types=types)
    with _started_slabs(s, reader, planned(), start, engine.lookahead) as started:
        for slab in started:
            done = _finish_slab(s, tenant_id, slab, report, rollups)
            progress((done - first).days / max((last - first).days, 1), f"counted through {done}")
    _record_counting_days(s, tenant_id, first, last, per_day, report.bots_by_day)
    if store.is_timescale(s):
        store.refresh_rollups(s, tenant_id, first, last)  # continuous aggregates; plain rollups follow each slab
    counted_until = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    if state is None:
        s.add(CountingState(tenant_id=tenant_id, counted_until=counted_until))
    else:
        previous = _utc(state.counted_until) if state.counted_until else None
        state.counted_until = max(previous, counted_until) if previous else counted_until
        state.updated_at = utcnow()
    return report


def plan_slabs(per_day: dict[date, int], first: date, last: date, max_rows: int | None = None,
               max_days: int | None = None, ramp: tuple[float, ...] = ()) -> list[tuple[date, date]]:
    """Consecutive day ranges covering first..last, each of at most `max_days` days and, unless one day alone
    is more, at most `max_rows` requests (per_day: requests per UTC day, days missing = none); the first slabs
    at most `ramp` times that many."""
    max_rows = max_rows or SLAB_ROWS
    max_days = max_days or SLAB_DAYS
    slabs: list[tuple[date, date]] = []
    lo, rows, day = first, 0, first
    while day <= last:
        n = per_day.get(day, 0)
        bound = max_rows * ramp[len(slabs)] if len(slabs) < len(ramp) else max_rows
        if day > lo and ((day - lo).days >= max_days or rows + n > bound):
            slabs.append((lo, day - timedelta(days=1)))
            lo, rows = day, 0
        rows += n
        day += timedelta(days=1)
    slabs.append((lo, last))
    return slabs


def _first_slab(s: Session, tenant_id: int, first: date, last: date) -> tuple[date, date]:
    """plan_slabs(...)[0] for the days first..last (its ramp included), from the time of the first request that would
    overfill it (an index read of that many keys) rather than from every day's requests."""
    bound = int(SLAB_ROWS * RAMP_SLABS[0]) if RAMP_SLABS else SLAB_ROWS
    start, end = store.day_bounds(first, last)
    over = s.scalar(select(DownloadRequest.ts).where(DownloadRequest.tenant_id == tenant_id,
                                                     DownloadRequest.ts >= start, DownloadRequest.ts < end)
                    .order_by(DownloadRequest.ts).offset(bound).limit(1))
    most = min(last, first + timedelta(days=SLAB_DAYS - 1))
    if over is None:
        return first, most
    # The day of that request is the first that does not fit; a busier day than the bound is a slab of its own.
    return first, min(most, max(first, _utc(over).date() - timedelta(days=1)))


def _any_downloads(s: Session, tenant_id: int, first: date, last: date) -> bool:
    start, end = store.day_bounds(first, last)
    return s.scalar(select(Download.ts).where(Download.tenant_id == tenant_id, Download.ts >= start,
                                              Download.ts < end).limit(1)) is not None


def _requests_per_day(s: Session, tenant_id: int, first: date, last: date) -> dict[date, int]:
    start, end = store.day_bounds(first, last)
    if s.get_bind().dialect.name == "postgresql":
        day = func.date(func.timezone("UTC", DownloadRequest.ts))
    else:
        day = func.date(DownloadRequest.ts)
    rows = s.execute(select(day, func.count()).where(DownloadRequest.tenant_id == tenant_id,
                                                     DownloadRequest.ts >= start, DownloadRequest.ts < end)
                     .group_by(day)).all()
    return {pd.Timestamp(d).date(): n for d, n in rows}


def _record_counting_days(s: Session, tenant_id: int, first: date, last: date, per_day: dict[date, int],
                          bots_by_day: Counter) -> None:
    """One counting_days row per day first..last (a day without requests too: that is how an import gap shows);
    a recount replaces its days."""
    s.execute(delete(CountingDay).where(CountingDay.tenant_id == tenant_id, CountingDay.day.between(first, last)))
    days = pd.date_range(first, last, freq="D").date
    rows = [{"tenant_id": tenant_id, "day": d, "requests": int(per_day.get(d, 0)),
             "bot_requests": int(bots_by_day.get(d, 0))} for d in days]
    for chunk in range(0, len(rows), 1000):  # multi-row INSERTs: one statement each, no executemany pipeline
        s.execute(insert(CountingDay).values(rows[chunk:chunk + 1000]))


def _utc(moment: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands times back without their zone)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@dataclass
class _Slab:
    first: date
    last: date
    requests: int  # the raw requests on its days (not the day before it, read for dedupe only)
    dropped_in_sql: Counter
    counted: Callable[[], SlabCount] | None  # None: no raw requests to count
    prepared: Future | None = None  # (SlabCount, PreparedDownloads), made ahead on a thread; None: made when written


def _start_slab(s: Session, first: date, last: date, *, tenant_id: int, episodes: EpisodeIndex, window: str,
                engine: CountingEngine, rollups: bool, types: dict | None = None,
                preparer: ThreadPoolExecutor | None = None) -> _Slab:
    """Read the slab's countable raw requests, with the day before it (rolling windows look one day back; those
    rows only inform dedupe), and hand them to the engine; with `preparer`, what the slab's write needs is made
    there as soon as it is counted (with `types`, its COPY data too: store.prepare_downloads)."""
    start, end = store.day_bounds(first, last)
    raw, dropped_in_sql = read_countable(s, tenant_id, start - timedelta(days=1), end, since=start)
    requests = sum(dropped_in_sql.values())
    if not len(raw):
        return _Slab(first, last, requests, dropped_in_sql, None)
    requests += int((raw["ts"] >= pd.Timestamp(start)).sum())
    slab = _Slab(first, last, requests, dropped_in_sql,
                 engine.count(count_partition, raw, episodes, window, pd.Timestamp(start)))
    if preparer is not None:
        slab.prepared = preparer.submit(_counted_and_prepared, slab.counted, tenant_id, rollups, types)
    return slab


def _counted_and_prepared(counted: Callable[[], SlabCount], tenant_id: int, rollups: bool,
                          types: dict | None = None) -> tuple[SlabCount, store.PreparedDownloads]:
    result = counted()
    return result, store.prepare_downloads(result.downloads.assign(tenant_id=tenant_id), rollups, types)


@contextmanager
def _started_slabs(s: Session, reader, slabs: Iterable[tuple[date, date]], start: Callable[..., _Slab],
                   lookahead: int) -> Iterator[Iterator[_Slab]]:
    """The slabs in order, each started (read and handed to the engine) ahead of the one the caller writes.

    Without `reader`, started in `s`, `lookahead` slabs ahead. With it, started in a session of its own, on one
    thread, PREFETCH_SLABS ahead: the next slabs are read, counted on the engine, and made ready to write (on a
    third thread) while the caller writes (whatever those threads are doing when the count stops is awaited, then
    the reader's session is closed)."""
    if reader is None:
        def in_turn() -> Iterator[_Slab]:
            in_flight: deque[_Slab] = deque()
            for first, last in slabs:
                in_flight.append(start(s, first, last))
                while len(in_flight) > lookahead:
                    yield in_flight.popleft()
            yield from in_flight
        yield in_turn()
        return
    with reader() as rs:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="counting-reader")
        preparer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="counting-preparer")
        pending: deque[Future] = deque()

        def ahead() -> Iterator[_Slab]:
            upcoming = iter(slabs)
            while True:
                while len(pending) <= PREFETCH_SLABS and (slab := next(upcoming, None)) is not None:
                    pending.append(pool.submit(start, rs, *slab, preparer=preparer))
                if not pending:
                    return
                yield pending.popleft().result()
        try:
            yield ahead()
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)  # before the reader's session closes: nothing still uses it
            preparer.shutdown(wait=True)


def _finish_slab(s: Session, tenant_id: int, slab: _Slab, report: CountReport, rollups: bool) -> date:
    """Write the slab's counted downloads and rollups (replacing its days); returns its last day."""
    report.requests += slab.requests
    report.dropped.update(slab.dropped_in_sql)
    if slab.counted is None:
        prepared = store.prepare_downloads(pd.DataFrame(), rollups)
    else:
        counted, prepared = (slab.prepared.result() if slab.prepared is not None
                             else _counted_and_prepared(slab.counted, tenant_id, rollups))
        report.dropped.update(counted.dropped)
        report.bots_by_day.update(counted.bots_by_day)
    slab.counted = slab.prepared = None  # the frames go as soon as they are written
    report.downloads += store.write_downloads(s, tenant_id, slab.first, slab.last, prepared)
    return slab.last
