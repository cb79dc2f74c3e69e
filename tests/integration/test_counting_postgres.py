"""Counting on PostgreSQL: raw requests read by COPY equal those a plain SELECT returns (NULL apart from '', text
with tabs, quotes and newlines), the downloads counted from either are the same, and the rollups counting writes
from its frame equal refresh_rollups over the downloads table."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text

from services import accounts, migrate
from services.bulk import insert_frame
from services.db import Database
from services.measurement import counting, counting_rules, raw_reads, store
from services.models import DownloadRequest, Episode, Podcast

DAY = date(2026, 3, 2)


@pytest.fixture
def pg(pg_url):
    migrate.upgrade(pg_url)
    db = Database(pg_url, "podcast_worker")  # counting is the workers' work: the worker role, as in an RQ worker
    tenant = accounts.create_tenant(db, "counting", "Counting")
    with db.session(tenant.id) as s:
        podcast = Podcast(tenant_id=tenant.id, title="Show", prefix_key="kcount")
        s.add(podcast)
        s.flush()
        for n in range(3):
            s.add(Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid=f"g{n}", title=f"E{n}",
                          enclosure_url=f"https://media.example.com/show/ep{n}.mp3", enclosure_length=6_000_000,
                          duration_seconds=600))
        s.commit()
        requests = _requests(tenant.id, podcast.id)
        insert_frame(s, DownloadRequest.__table__, requests)
        s.commit()
    yield db, tenant.id
    db.dispose()


def _requests(tenant_id: int, podcast_id: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    agents = np.array(["AppleCoreMedia/1.0.0.19B88 (iPhone; U; CPU OS 15_1 like Mac OS X; en_us)", "", None,
                       "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", "weird\tagent \"quoted\"\nline",
                       "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                       "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15"],
                      dtype=object)
    urls = np.array([f"https://media.example.com/show/ep{i}.mp3" for i in range(3)]
                    + ["https://media.example.com/show/ep1.mp3?_from=app", "https://other.example.com/x.mp3"],
                    dtype=object)
    ranges = np.array(["bytes=0-", "bytes=0-1", None, "", "bytes=1000-", "bytes=0-1, 9-10"], dtype=object)
    referers = np.array([None, "", "https://podcasts.apple.com/", "https://open.spotify.com/"], dtype=object)
    start = pd.Timestamp(DAY - timedelta(days=1), tz="UTC")
    log = rng.random(n) < 0.5
    return pd.DataFrame({
        "request_uid": [f"t:{i}" for i in range(n)],
        "ts": start + pd.to_timedelta(rng.integers(0, 3 * 86_400 * 10**6, n), unit="us"),
        "tenant_id": tenant_id, "podcast_id": podcast_id,
        "source": np.where(log, "log", "prefix"),
        "method": np.array(["GET", "GET", "GET", "HEAD", "get"], dtype=object)[rng.integers(0, 5, n)],
        "status": pd.Series(rng.choice([200, 206, 304, 404], n), dtype="Int64").where(log, pd.NA),
        "bytes": pd.Series(rng.integers(0, 6_000_000, n), dtype="Int64").where(log, pd.NA),
        "range": ranges[rng.integers(0, len(ranges), n)],
        "url": urls[rng.integers(0, len(urls), n)],
        "user_agent": agents[rng.integers(0, len(agents), n)],
        "referer": referers[rng.integers(0, len(referers), n)],
        "listener_key": [f"{k:032x}" for k in rng.integers(0, 40, n)],
        "country": np.array(["US", "", None, "DE"], dtype=object)[rng.integers(0, 4, n)],
        "region": np.array(["CA", "", None], dtype=object)[rng.integers(0, 3, n)],
        "household_key": np.array([f"{k:032x}" for k in range(7)] + [None], dtype=object)[rng.integers(0, 8, n)],
    })


def _by_select(s, tenant_id, start, end) -> pd.DataFrame:
    cols = [getattr(DownloadRequest, c) for c in raw_reads.RAW_COLUMNS]
    rows = s.execute(select(*cols).where(DownloadRequest.tenant_id == tenant_id, DownloadRequest.ts >= start,
                                         DownloadRequest.ts < end)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=raw_reads.RAW_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _plain(frame: pd.DataFrame) -> list[tuple]:
    def value(v):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            return None
        if isinstance(v, pd.Timestamp):
            return v.tz_convert("UTC")
        if isinstance(v, (int, float, np.integer, np.floating)):
            return int(v)
        return v

    rows = zip(*(frame[c].astype(object).tolist() for c in frame.columns))
    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def test_copy_read_equals_select(pg):
    db, tenant_id = pg
    start, end = store.day_bounds(DAY - timedelta(days=1), DAY + timedelta(days=1))
    with db.session(tenant_id) as s:
        by_copy = raw_reads.read_raw(s, tenant_id, start, end)
        by_select = _by_select(s, tenant_id, start, end)
        assert len(by_copy) == len(by_select) == 3000
        assert _plain(by_copy) == _plain(by_select)
        episodes = counting_rules.EpisodeIndex.load(s, tenant_id)
        for window in ("calendar", "first-touch", "last-touch"):
            since = pd.Timestamp(DAY, tz="UTC")
            a, dropped_a = counting_rules.count_frame(by_copy, episodes, window, since=since)
            b, dropped_b = counting_rules.count_frame(by_select, episodes, window, since=since)
            assert dropped_a == dropped_b
            assert len(a) > 0 and _plain(a) == _plain(b)


def test_counted_rollups_equal_the_sql_refresh(pg):
    db, tenant_id = pg
    report = counting.count_downloads(db, tenant_id, DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert report.downloads > 0
    assert report.requests == 3000 == report.downloads + sum(report.dropped.values())
    with db.session(tenant_id) as s:
        def rollups():
            out = {}
            for model, _keys, _bit in store.ROLLUP_SPECS:
                key = ", ".join(c.name for c in model.__table__.primary_key.columns)
                out[model] = s.execute(text(f"SELECT * FROM {model.__tablename__} ORDER BY {key}")).all()
            return out

        counted = rollups()
        assert all(counted.values())
        store.refresh_rollups(s, tenant_id, DAY - timedelta(days=1), DAY + timedelta(days=1))
        assert rollups() == counted
        s.rollback()
    again = counting.count_downloads(db, tenant_id, DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert (again.downloads, again.dropped) == (report.downloads, report.dropped)


def test_a_slab_without_requests_reads_empty(pg):
    db, tenant_id = pg
    start, end = store.day_bounds(DAY + timedelta(days=30), DAY + timedelta(days=31))
    with db.session(tenant_id) as s:
        assert raw_reads.read_raw(s, tenant_id, start, end).empty
        report = counting.count_in_session(s, tenant_id, DAY - timedelta(days=1), DAY + timedelta(days=40))
        assert report.requests == 3000  # the empty days in between count nothing and fail nothing
        s.rollback()


def test_an_unchanged_recount_rewrites_nothing_and_a_change_is_written(pg):
    db, tenant_id = pg
    first, last = DAY - timedelta(days=1), DAY + timedelta(days=1)
    report = counting.count_downloads(db, tenant_id, first, last)

    def downloads():
        with db.session(tenant_id) as s:
            return s.execute(text("SELECT xmin::text, ts, episode_id, listener_key, app, country, region, flags "
                                  "FROM downloads ORDER BY ts, episode_id, listener_key")).all()

    before = downloads()
    assert len(before) == report.downloads > 0
    assert counting.count_downloads(db, tenant_id, first, last).downloads == report.downloads
    assert downloads() == before  # same rows, same row versions: nothing was deleted or inserted
    with db.session(tenant_id) as s:  # a stored value drifts ('' is not NULL), and a request goes away
        drifted = s.execute(text("UPDATE downloads SET region = CASE WHEN region IS NULL THEN '' ELSE NULL END "
                                 "WHERE ctid = (SELECT min(ctid) FROM downloads) "
                                 "RETURNING ts, episode_id, listener_key")).one()
        gone = s.execute(text("DELETE FROM download_requests WHERE request_uid = (SELECT min(request_uid) FROM "
                              "download_requests WHERE method = 'GET' AND user_agent LIKE 'Overcast%') "
                              "RETURNING listener_key")).scalar_one()
        s.commit()
    assert downloads() != before  # the drift is stored
    again = counting.count_downloads(db, tenant_id, first, last)
    after = downloads()
    assert again.requests == report.requests - 1
    original = next(b for b in before if tuple(b[1:4]) == tuple(drifted))
    assert [a[1:] for a in after if tuple(a[1:4]) == tuple(drifted)] == [original[1:]]  # the drift is undone
    untouched = {b[1:] for b in before if b[3] != gone}  # every other listener's downloads are as they were
    assert untouched <= {a[1:] for a in after} and len(untouched) < len(before)
    with db.session(tenant_id) as s:
        by_copy = raw_reads.read_raw(s, tenant_id, *store.day_bounds(first - timedelta(days=1), last))
        episodes = counting_rules.EpisodeIndex.load(s, tenant_id)
        expected, _ = counting_rules.count_frame(by_copy, episodes, "calendar", since=pd.Timestamp(first, tz="UTC"))
    assert len(after) == len(expected) == again.downloads
    assert {r[0] for r in after} != {r[0] for r in before}  # rewritten
    restored = [r for r in after if r[1:] in {b[1:] for b in before}]
    assert len(restored) >= len(after) - 5  # the drifted region is back to what counting computes
    assert sorted((pd.Timestamp(r[1]), r[2], r[3]) for r in after) == sorted(
        (pd.Timestamp(t), e, k) for t, e, k in zip(expected["ts"], expected["episode_id"], expected["listener_key"]))


def test_an_unchanged_recount_rewrites_no_rollup_and_a_drifted_rollup_is_rewritten(pg):
    db, tenant_id = pg
    first, last = DAY - timedelta(days=1), DAY + timedelta(days=1)
    counting.count_downloads(db, tenant_id, first, last)

    def rollups():
        out = {}
        with db.session(tenant_id) as s:
            for model, _keys, _bit in store.ROLLUP_SPECS:
                key = ", ".join(c.name for c in model.__table__.primary_key.columns)
                out[model.__tablename__] = s.execute(text(
                    f"SELECT xmin::text, * FROM {model.__tablename__} ORDER BY {key}")).all()
        return out

    before = rollups()
    assert all(before.values())
    counting.count_downloads(db, tenant_id, first, last)
    assert rollups() == before  # same rows, same row versions: no rollup was deleted or inserted
    with db.session(tenant_id) as s:  # one rollup drifts (a count, a filled key), another loses a row
        s.execute(text("UPDATE episode_geo_daily_metrics SET downloads = downloads + 1 "
                       "WHERE ctid = (SELECT min(ctid) FROM episode_geo_daily_metrics)"))
        s.execute(text("UPDATE podcast_geo_daily_metrics SET region = 'XX' "
                       "WHERE ctid = (SELECT min(ctid) FROM podcast_geo_daily_metrics)"))
        s.execute(text("DELETE FROM podcast_hourly_metrics WHERE ctid = (SELECT min(ctid) FROM podcast_hourly_metrics)"))
        s.commit()
    counting.count_downloads(db, tenant_id, first, last)
    after = rollups()
    drifted = {"episode_geo_daily_metrics", "podcast_geo_daily_metrics", "podcast_hourly_metrics"}
    for name, rows in after.items():
        assert [r[1:] for r in rows] == [r[1:] for r in before[name]], name  # the counted rows are back
        assert (rows == before[name]) == (name not in drifted), name  # only the drifted rollups were rewritten
    with db.session(tenant_id) as s:  # and they equal the SQL refresh over the downloads table
        store.refresh_rollups(s, tenant_id, first, last)
        refreshed = {}
        for model, _keys, _bit in store.ROLLUP_SPECS:
            key = ", ".join(c.name for c in model.__table__.primary_key.columns)
            refreshed[model.__tablename__] = s.execute(text(
                f"SELECT * FROM {model.__tablename__} ORDER BY {key}")).all()
        s.rollback()
    assert refreshed == {name: [tuple(r[1:]) for r in rows] for name, rows in after.items()}


def test_rows_dropped_in_sql_count_as_pandas_would_drop_them(pg):
    """read_countable leaves HEADs, 304s, error statuses and plain probes on the server and reports them by
    reason; counting what it returns gives exactly what counting everything does, edge spellings included."""
    db, tenant_id = pg
    with db.session(tenant_id) as s:
        podcast_id = s.scalar(text("SELECT id FROM podcasts"))
        edge = _requests(tenant_id, podcast_id, n=600).assign(request_uid=[f"e:{i}" for i in range(600)])
        rng = np.random.default_rng(9)
        edge["method"] = np.array(["Head", "OPTIONS", "GET ", "gEt", "POST", "GET", "hEAD", "Gét"],
                                  dtype=object)[rng.integers(0, 8, 600)]
        edge["status"] = pd.Series(rng.choice([199, 200, 299, 300, 304, 500], 600), dtype="Int64").where(
            rng.random(600) < 0.8, pd.NA)
        # Plain ranges are parsed on the server, the others in pandas: backwards, open, suffix, 15 and 16 digits.
        ranges = np.array(["bytes=0-1", "bytes=0-0", "bytes=1-1", " bytes=0-1", "BYTES=0-1", "bytes=0-1 ",
                           "bytes=0-2", None, "bytes=0-1,2-3", "bytes=5000000-100", "bytes=4000000-",
                           "bytes=123456789012345-", "bytes=1234567890123456-", "Bytes=3000000-5000000",
                           "bytes= 10-20", "bytes=-500", "bytes=10-20-30", "bytes=2500000-6000000", ""],
                          dtype=object)
        edge["range"] = ranges[rng.integers(0, len(ranges), 600)]
        insert_frame(s, DownloadRequest.__table__, edge)
        s.commit()
        since = DAY
        start, end = store.day_bounds(DAY - timedelta(days=1), DAY + timedelta(days=1))
        everything = raw_reads.read_raw(s, tenant_id, start, end)
        countable, dropped_in_sql = raw_reads.read_countable(s, tenant_id, start, end,
                                                            since=store.day_bounds(since, since)[0])
        assert len(countable) < len(everything) and sum(dropped_in_sql.values()) > 0
        assert set(dropped_in_sql) == set(raw_reads._SQL_DROP_REASONS.values())
        plain = countable["range_start"].notna()
        assert plain.any() and countable.loc[plain, "range"].isna().all()
        assert set(countable.loc[~plain, "range"].dropna()) >= {"bytes=1234567890123456-", "bytes= 10-20", ""}
        episodes = counting_rules.EpisodeIndex.load(s, tenant_id)
        for window in ("calendar", "first-touch", "last-touch"):
            a, dropped_a = counting_rules.count_frame(everything, episodes, window, since=pd.Timestamp(since, tz="UTC"))
            b, dropped_b = counting_rules.count_frame(countable, episodes, window, since=pd.Timestamp(since, tz="UTC"))
            assert +dropped_a == +(dropped_b + dropped_in_sql)
            assert len(a) > 0 and _plain(a) == _plain(b)
        s.rollback()
    report = counting.count_downloads(db, tenant_id, DAY, DAY + timedelta(days=1))
    in_window = (everything["ts"] >= pd.Timestamp(since, tz="UTC")).sum()
    assert report.requests == in_window == report.downloads + sum(report.dropped.values())


def test_day_sized_slabs_equal_one_slab(pg, monkeypatch):
    """Day-sized slabs give the same report, downloads and rollups as one slab, progress comes in order, and a
    failed write fails the count and leaves what was there."""
    db, tenant_id = pg
    first, last = DAY - timedelta(days=1), DAY + timedelta(days=1)

    def table():
        with db.session(tenant_id) as s:
            return (s.execute(text("SELECT ts, episode_id, listener_key, app, country, region, flags FROM downloads "
                                   "ORDER BY ts, episode_id, listener_key")).all(),
                    s.execute(text("SELECT * FROM podcast_daily_metrics ORDER BY day")).all(),
                    s.execute(text("SELECT * FROM episode_geo_daily_metrics ORDER BY day, episode_id, country")).all())

    one = counting.count_downloads(db, tenant_id, first, last)
    whole = table()
    with db.session(tenant_id) as s:
        s.execute(text("DELETE FROM downloads"))
        for model, _keys, _bit in store.ROLLUP_SPECS:
            s.execute(text(f"DELETE FROM {model.__tablename__}"))
        s.commit()
    monkeypatch.setattr(counting, "SLAB_DAYS", 1)
    seen = []
    sliced = counting.count_downloads(db, tenant_id, first, last, progress=lambda f, m: seen.append(m))
    assert seen == [f"counted through {d}" for d in (first, DAY, last)]
    assert (sliced.requests, sliced.downloads, +sliced.dropped) == (one.requests, one.downloads, +one.dropped)
    assert table() == whole

    def failing(*args, **kwargs):
        raise RuntimeError("write failed")

    monkeypatch.setattr(store, "write_downloads", failing)
    with pytest.raises(RuntimeError, match="write failed"):
        counting.count_downloads(db, tenant_id, first, last)
    assert table() == whole
    monkeypatch.setattr(store, "prepare_downloads", failing)  # made ahead, on the count's preparer thread
    with pytest.raises(RuntimeError, match="write failed"):
        counting.count_downloads(db, tenant_id, first, last)
    assert table() == whole


def test_log_import_writing_while_parsing_equals_writing_in_turn(pg, tmp_path, monkeypatch):
    """On PostgreSQL a chunk's rows are written by a writer thread while the next chunk is parsed; with small
    chunks over two months (a hash secret fetched mid-import) the rows equal those of an import that writes each
    chunk in turn, and a failed write fails the import and leaves nothing."""
    from concurrent.futures import Future
    from functools import partial

    from services.measurement import log_import
    from services.measurement.logs import iter_log_chunks
    from services.models import LogImport
    from services.tenancy import TenantContext

    db, tenant_id = pg
    ctx = TenantContext(tenant_id=tenant_id, role="editor", tenant_slug="counting")
    agent = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"
    lines = []
    for i in range(60):
        when = f"{27 + i % 2:02d}/Feb/2026:0{i % 10}:15:00 +0000" if i < 30 else f"0{1 + i % 3}/Mar/2026:10:{i:02d}:00 +0000"
        path = f"/show/ep{i % 3}.mp3" if i % 7 else "/unknown.mp3"
        lines.append(f'10.0.{i % 5}.{i} - - [{when}] "GET {path} HTTP/1.1" 200 {1000 + i} "-" "{agent}"')
        if i % 11 == 0:
            lines.append("not a log line")
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(log_import, "iter_log_chunks", partial(iter_log_chunks, chunk_lines=7))

    def imported():
        with db.session(tenant_id) as s:
            return s.execute(text("SELECT request_uid, ts, url, listener_key, bytes FROM download_requests "
                                  "WHERE import_id IS NOT NULL ORDER BY request_uid")).all()

    def forget():
        with db.session(tenant_id) as s:
            s.execute(text("DELETE FROM download_requests WHERE import_id IS NOT NULL"))
            s.query(LogImport).delete()
            s.commit()

    threaded = log_import.import_log(db, ctx, log, "combined", host="media.example.com")
    rows = imported()
    assert len(rows) == threaded.imported == 60 - 9 and threaded.rejected == 6 and threaded.unmatched == 9
    forget()

    class InTurn:  # the executor's interface, running each write at once on this thread
        def __init__(self, *args, **kwargs):
            pass

        def submit(self, fn, *args, **kwargs):
            future = Future()
            future.set_result(fn(*args, **kwargs))
            return future

        def shutdown(self, wait=True):
            pass

    with monkeypatch.context() as m:
        m.setattr(log_import, "ThreadPoolExecutor", InTurn)
        in_turn = log_import.import_log(db, ctx, log, "combined", host="media.example.com")
    assert (in_turn.imported, in_turn.rejected, in_turn.unmatched, in_turn.first_day, in_turn.last_day) == (
        threaded.imported, threaded.rejected, threaded.unmatched, threaded.first_day, threaded.last_day)
    assert imported() == rows
    forget()

    calls = []

    def failing(session, table, frame, **kwargs):
        calls.append(len(frame))
        if len(calls) == 3:
            raise RuntimeError("write failed")
        return insert_frame(session, table, frame, **kwargs)

    monkeypatch.setattr(log_import, "insert_frame", failing)
    with pytest.raises(RuntimeError, match="write failed"):
        log_import.import_log(db, ctx, log, "combined", host="media.example.com")
    assert imported() == []
    with db.session(tenant_id) as s:
        assert s.scalar(select(LogImport.status)) == "failed"


def test_plain_ranges_parsed_on_the_server_start_where_pandas_says(pg):
    """read_countable sends a plain range's first byte instead of its text: the same first byte range_starts
    gives for the text (backwards ranges start at 0), and the other ranges' text unchanged."""
    db, tenant_id = pg
    texts = ["bytes=0-", "bytes=1000-", "bytes=5000000-100", "bytes=7-7", "bytes=123456789012345-",
             "bytes=1234567890123456-", "Bytes=3000-5000", "bytes= 10-20", "bytes=-500", "bytes=10-20-30",
             "bytes=2500000-6000000", "bytes=0-1, 9-10", "", None, "bytes=00042-99", "bytes=12a-5", "bytes=5-9x",
             "bytes=1--", "bytes=\u0663-", "bytes=0-1234567890123456", "bytes=0-123456789012345", "bytes=-", "bytes=7"]
    with db.session(tenant_id) as s:
        podcast_id = s.scalar(text("SELECT id FROM podcasts"))
        rows = _requests(tenant_id, podcast_id, n=len(texts)).assign(
            request_uid=[f"r:{i}" for i in range(len(texts))], method="GET", status=206, bytes=100, range=texts,
            ts=[pd.Timestamp(DAY + timedelta(days=30), tz="UTC") + pd.Timedelta(seconds=i) for i in range(len(texts))])
        insert_frame(s, DownloadRequest.__table__, rows)
        start, end = store.day_bounds(DAY + timedelta(days=30), DAY + timedelta(days=30))
        settings = text("SELECT current_setting('enable_seqscan'), current_setting('max_parallel_workers_per_gather')")
        before = s.execute(settings).one()
        countable, _ = raw_reads.read_countable(s, tenant_id, start, end, since=start)
        # the planner settings of the read (index scans, no parallel workers) do not outlast it
        assert before[0] == "on" and s.execute(settings).one() == before
        s.rollback()
    countable = countable.sort_values("ts").reset_index(drop=True)
    expected = counting_rules.range_starts(pd.Series(texts, dtype=object)).tolist()
    plain = countable["range_start"].notna().to_numpy()
    assert plain.sum() == 8  # the lowercase single ranges of at most 15 digits each
    got = np.where(plain, countable["range_start"].fillna(-1).to_numpy(np.int64),
                   counting_rules.range_starts(countable["range"].astype(object)).to_numpy())
    assert got.tolist() == expected
    sent = countable["range"].astype(object)
    assert sent.where(sent.notna(), None).where(~plain, "as a number").tolist() == [
        "as a number" if p else t for p, t in zip(plain, texts)]


def test_hits_and_log_lines_of_one_household_count_into_downloads_of_that_household(pg, tmp_path):
    """On PostgreSQL (COPY reads, the import's writer thread): a prefix hit and a log line from one address, with
    other agents, are two listeners of one household, the key conversions get; an IPv6 /64 is one household; a
    recount keeps the keys; the raw IP is nowhere."""
    from services.measurement import ingest, log_import
    from services.models import Download
    from services.sponsorship.attribution import households
    from services.tenancy import TenantContext

    db, tenant_id = pg
    at = (datetime.now(timezone.utc) - timedelta(days=2)).replace(hour=7, minute=0, second=0, microsecond=0)
    ip, v6a, v6b = "198.51.100.42", "2001:db8:42:1::5", "2001:db8:42:1:abcd::9"
    apple, overcast = "Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0", "Overcast/3.0 (+http://overcast.fm/)"
    hits = [ingest.new_hit("kcount", a, apple, None, None, "GET", f"https://media.example.com/show/ep{n}.mp3", at)
            for n, a in ((0, ip), (1, v6a))]
    assert ingest.store_hits(db, hits) == 2
    log = tmp_path / "access.log"
    log.write_text("".join(f'{a} - - [{at:%d/%b/%Y:%H:%M:%S} +0000] "GET /show/ep2.mp3 HTTP/1.1" 200 6000000 "-" '
                           f'"{overcast}"\n' for a in (ip, v6b)))
    ctx = TenantContext(tenant_id=tenant_id, role="editor", tenant_slug="counting")
    assert log_import.import_log(db, ctx, log, "combined", host="media.example.com").imported == 2
    with db.session(system=True) as s:
        expected = {households.household_key(s, ip, at), households.household_key(s, v6a, at)}
        s.commit()

    def counted():
        with db.session(tenant_id) as s:
            near = (Download.ts >= at - timedelta(hours=1), Download.ts < at + timedelta(hours=1))
            return sorted(s.execute(select(Download.episode_id, Download.listener_key, Download.household_key)
                                    .where(*near)).all())

    counting.count_downloads(db, tenant_id, at.date(), at.date())
    rows = counted()
    assert len(rows) == 4 and len({r.listener_key for r in rows}) == 4
    assert {r.household_key for r in rows} == expected and len(expected) == 2 and None not in expected
    counting.count_downloads(db, tenant_id, at.date(), at.date())
    assert counted() == rows  # a recount keeps the households
    with db.session(tenant_id) as s:
        dump = str(s.execute(text("SELECT * FROM download_requests")).all()) + str(
            s.execute(text("SELECT * FROM downloads")).all())
    assert not any(a in dump for a in (ip, v6a, v6b, "2001:db8:42"))


def test_one_log_imported_into_two_tenants_counts_in_each(pg, tmp_path):
    """COPY into download_requests: a second tenant whose feed carries the same enclosure URLs imports the same
    file (the same fingerprint and line numbers) and counts it; re-importing into either tenant adds nothing."""
    from services.measurement import log_import
    from services.tenancy import TenantContext

    db, tenant_id = pg
    other = accounts.create_tenant(db, "relay", "Relay")
    with db.session(other.id) as s:
        podcast = Podcast(tenant_id=other.id, title="Relayed", prefix_key="krelay")
        s.add(podcast)
        s.flush()
        s.add(Episode(tenant_id=other.id, podcast_id=podcast.id, guid="g0", title="E0",
                      enclosure_url="https://media.example.com/show/ep0.mp3", enclosure_length=6_000_000,
                      duration_seconds=600))
        s.commit()
    agent = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"
    log = tmp_path / "shared.log"
    log.write_text("".join(f'10.1.0.{n} - - [05/Mar/2026:10:{n:02d}:00 +0000] "GET /show/ep0.mp3 HTTP/1.1" 200 '
                           f'6000000 "-" "{agent}"\n' for n in range(12)))

    def raw(t):
        with db.session(t) as s:
            return s.scalar(text("SELECT count(*) FROM tenant_download_requests WHERE import_id IS NOT NULL"))

    for t in (tenant_id, other.id):
        ctx = TenantContext(tenant_id=t, role="editor")
        assert log_import.import_log(db, ctx, log, "combined", host="media.example.com").imported == 12
        assert log_import.import_log(db, ctx, log, "combined", host="media.example.com").already_imported
        assert raw(t) == 12
    assert counting.count_downloads(db, other.id, date(2026, 3, 5), date(2026, 3, 5)).downloads == 12


def test_slabs_read_ahead_in_a_second_session_count_as_slabs_read_in_turn(pg_url, monkeypatch):
    """On PostgreSQL the next slabs are read, and counted, in a session and on threads of their own while the
    count's session writes: in every dedupe window the downloads, rollups and report equal those of a count that
    reads each slab in turn in its own session; the other tenant's rows stay as they were; and a read that fails
    fails the count and writes nothing."""
    from tests import counting_cases as cases

    migrate.upgrade(pg_url)
    db = Database(pg_url, "podcast_worker")
    monkeypatch.setattr(counting, "SLAB_DAYS", cases.SLAB_DAYS)
    alpha = cases.seed_network(db, "alpha", seed=11)
    beta = cases.seed_network(db, "beta", seed=11)  # the same traffic: a mixed-up tenant would double it
    counting.count_downloads(db, beta, cases.FIRST, cases.LAST)
    beta_before = cases.counted_digest(db, beta, [*cases.COUNTED_TABLES, "download_requests"])
    ways = []
    started_slabs = counting._started_slabs

    def spy(s, reader, slabs, start, lookahead):
        slabs = list(slabs)
        ways.append((reader is not None, len(slabs)))
        return started_slabs(s, reader, slabs, start, lookahead)

    monkeypatch.setattr(counting, "_started_slabs", spy)
    encoded_writes = []  # a first count read ahead sends COPY data made ahead (store.prepare_downloads' encoded)
    write_encoded = store.write_encoded

    def spy_encoded(session, table, encoded):
        encoded_writes.append(table.name)
        return write_encoded(session, table, encoded)

    monkeypatch.setattr(store, "write_encoded", spy_encoded)
    for window in ("calendar", "first-touch", "last-touch"):
        accounts.configure_tenant(db, "alpha", dedupe_window=window)
        cases.wipe_counts(db, alpha)
        ahead = counting.count_downloads(db, alpha, cases.FIRST, cases.LAST)
        ahead_digest = cases.counted_digest(db, alpha)
        assert cases.edge_downloads(db, alpha) == cases.EDGE_DOWNLOADS[window]
        cases.wipe_counts(db, alpha)
        with db.session(alpha, worker=True) as s:
            in_turn = counting.count_in_session(s, alpha, cases.FIRST, cases.LAST)
            s.commit()
        assert cases.counted_digest(db, alpha) == ahead_digest and ahead_digest["downloads"][0] > 0
        assert (ahead.requests, ahead.downloads, ahead.dropped, ahead.bots_by_day) == (
            in_turn.requests, in_turn.downloads, in_turn.dropped, in_turn.bots_by_day)
    assert ways[:2] == [(True, 3), (False, 3)]  # read ahead by count_downloads, in turn by count_in_session alone
    assert encoded_writes.count("downloads") == 3 * 3 and "episode_daily_metrics" in encoded_writes
    assert cases.counted_digest(db, beta, [*cases.COUNTED_TABLES, "download_requests"]) == beta_before

    cases.wipe_counts(db, alpha)
    empty = cases.counted_digest(db, alpha)
    reads = []
    read_countable = counting.read_countable

    def failing(s, *args, **kwargs):
        reads.append(s)
        if len(reads) == 2:
            raise RuntimeError("read failed")
        return read_countable(s, *args, **kwargs)

    monkeypatch.setattr(counting, "read_countable", failing)
    with pytest.raises(RuntimeError, match="read failed"):
        counting.count_downloads(db, alpha, cases.FIRST, cases.LAST)
    assert cases.counted_digest(db, alpha) == empty
    db.dispose()
