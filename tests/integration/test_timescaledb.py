"""The TimescaleDB path of the measurement store, on PostgreSQL 17 + TimescaleDB 2.23 (the PGlite WASM build served
over the wire protocol by tools/timescaledb/server.mjs): hypertables, continuous aggregates as the rollups, policies,
and the dashboards' answers against an independent computation over `downloads`.

The server takes one connection at a time and shares one backend session between clients: everything here goes
through one Database (its pool reuses one connection) with psycopg's prepare_threshold=None."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from services import demo, downloads_report, migrate
from services.dashboards import overview
from services.dashboards.periods import ViewState
from services.db import Database
from services.measurement import counting, store
from services.sponsorship.attribution import report as attribution_report, results
from services.models import ROLLUPS
from services.models.attribution import AttributionDaily
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD
from tests.integration import pglite

INSERT_CHUNK = 20_000  # rows per INSERT on the PGlite server
# The first test's setup boots the WASM server and seeds the demo network (about 25 s on a quiet host).
pytestmark = pytest.mark.timeout(600)

# The listener bit each grouping counts (services.models: FIRST_PODCAST_DAY=1, FIRST_EPISODE_DAY=2, FIRST_PODCAST_HOUR=4)
INDEPENDENT = {
    "day": ("(ts AT TIME ZONE 'UTC')::date", 1),
    "hour": ("date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'", 4),
    "episode": ("episode_id", 2),
    "app": ("coalesce(app, 'unknown')", 1),
    "device": ("coalesce(device, 'unknown')", 1),
    "country": ("coalesce(country, 'ZZ')", 1),
}


@pytest.fixture(scope="module")
def timescale_server():
    server = pglite.Server()
    yield server
    assert server.stop() == 0, server.drain_output()[-2000:]


def _insert_frame_without_copy(session, table, frame, skip_existing=False, per_row=()) -> int:
    """Stand-in for services.bulk.insert_frame on the PGlite server only: its WASM backend cannot run COPY ... FROM
    STDIN (it answers `PGlite backend failed: unreachable`) nor pipelined executemany ("portal cannot be run"), so
    each chunk of rows goes as one INSERT ... SELECT FROM unnest(<one array per column>): a message of a few MB
    that the server reassembles from many TCP reads."""
    if frame.empty:
        return 0
    columns = list(frame.columns)
    arrays = ", ".join(f"%s::{table.c[name].type.compile(dialect=postgresql.dialect())}[]" for name in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
    if skip_existing:
        sql += " ON CONFLICT DO NOTHING"
    values = frame.astype(object).where(frame.notna(), None)
    inserted = 0
    with session.connection().connection.driver_connection.cursor() as cur:
        for at in range(0, len(values), INSERT_CHUNK):
            chunk = values.iloc[at:at + INSERT_CHUNK]
            cur.execute(sql, [chunk[name].tolist() for name in columns])
            inserted += cur.rowcount if cur.rowcount >= 0 else len(chunk)  # the server may send no row count
    return inserted


@pytest.fixture(scope="module")
def timescale(timescale_server):
    """(Database, demo tenant id): migrated to head, demo tenant seeded."""
    url = timescale_server.url()
    migrate.upgrade(url)  # its own short-lived connection, closed before the Database opens one
    db = Database(url + "&prepare_threshold=none")
    pglite.read_timeout(db.engine)
    with pytest.MonkeyPatch.context() as patch:
        for module in (demo, store, results):  # the writers these tests reach
            patch.setattr(module, "insert_frame", _insert_frame_without_copy)
        seeded = demo.seed_demo(db, password=DEMO_PASSWORD)
        assert seeded["created"] and seeded["downloads"] > 0
        yield db, seeded["tenant_id"]
    db.dispose()


def _sql(db: Database, sql: str, **params) -> list:
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def _window(days: int) -> tuple[date, date]:
    last = datetime.now(timezone.utc).date()
    return last - timedelta(days=days - 1), last


def _bounds(first: date, last: date) -> dict:
    return {"start": datetime.combine(first, datetime.min.time(), tzinfo=timezone.utc),
            "end": datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)}


def _independent(db: Database, tenant_id: int, group_by: str, first: date, last: date) -> pd.DataFrame:
    key, bit = INDEPENDENT[group_by]
    rows = _sql(db, f"SELECT {key} AS k, count(*) AS downloads, count(*) FILTER (WHERE flags & {bit} <> 0) AS listeners "
                    f"FROM downloads WHERE tenant_id = :t AND ts >= :start AND ts < :end GROUP BY 1 ORDER BY 1",
                t=tenant_id, **_bounds(first, last))
    label = downloads_report.GROUPINGS[group_by].label
    return pd.DataFrame(rows, columns=[label, "downloads", "listeners"]).astype(
        {"downloads": "int64", "listeners": "int64"})


def _normalise(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    frame = frame.copy()
    if key == "hour":
        frame[key] = pd.to_datetime(frame[key], utc=True)
    return frame.sort_values(key).reset_index(drop=True)


def test_schema_is_timescale(timescale):
    db, _ = timescale
    hypertables = {r[0] for r in _sql(db, "SELECT hypertable_name FROM timescaledb_information.hypertables "
                                          "WHERE hypertable_schema = 'public'")}
    assert {"download_requests", "downloads", "attribution_events", "attribution_touchpoints"} <= hypertables
    aggregates = {r[0]: r[1] for r in _sql(db, "SELECT view_name, materialized_only "
                                               "FROM timescaledb_information.continuous_aggregates")}
    assert aggregates == {m.__tablename__: False for m in (*ROLLUPS, AttributionDaily)}
    columns = dict(_sql(db, "SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'tenant_podcast_daily_metrics'"))
    assert columns["day"] == "date"
    assert set(columns) == {c.name for c in ROLLUPS[1].__table__.columns}
    # the refresh after the seed's commit materialised the aggregates (not only real-time answers)
    assert _sql(db, "SELECT count(*) FROM timescaledb_information.chunks "
                    "WHERE hypertable_name LIKE '_materialized_hypertable_%'")[0][0] > 0


def test_demo_attribution_runs_on_timescale(timescale):
    """The seed's conversions are matched to household exposures and credited here as on plain PostgreSQL: every
    campaign run finished, and each model's credit sums to the matched conversions."""
    db, tenant_id = timescale
    runs = _sql(db, "SELECT status, conversions FROM attribution_runs WHERE tenant_id = :t", t=tenant_id)
    assert runs and all(status == "finished" for status, _ in runs)
    matched = sum(conversions for _, conversions in runs)
    assert matched > 0
    sums = _sql(db, "SELECT sum(first_touch), sum(linear), sum(markov), sum(shapley) FROM attribution_touchpoints "
                    "WHERE tenant_id = :t", t=tenant_id)[0]
    assert [round(float(total), 6) for total in sums] == [matched] * 4


def test_attribution_rollup_is_a_continuous_aggregate_matching_the_touchpoints(timescale):
    """attribution_daily is a continuous aggregate over the touchpoints, materialised by the run's refresh, and the
    campaign report (which reads only it) equals sums over the touchpoints themselves."""
    db, tenant_id = timescale
    assert _sql(db, "SELECT count(*) FROM timescaledb_information.continuous_aggregates "
                    "WHERE view_name = 'attribution_daily'")[0][0] == 1
    campaign_id = _sql(db, "SELECT campaign_id FROM attribution_touchpoints WHERE tenant_id = :t "
                           "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1", t=tenant_id)[0][0]
    results.attribute_campaign(db, tenant_id, campaign_id)  # its commit refreshes the aggregate's days
    materialized = _sql(db, "SELECT materialization_hypertable_name FROM timescaledb_information.continuous_aggregates "
                            "WHERE view_name = 'attribution_daily'")[0][0]
    assert _sql(db, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = :h",
                h=materialized)[0][0] > 0
    ctx = TenantContext(tenant_id=tenant_id, role="owner")
    for model in ("linear", "markov"):
        by_day = attribution_report.attribution_report(db, ctx, campaign_id, model, "day")
        expected = _sql(db, f"SELECT (conversion_ts AT TIME ZONE 'UTC')::date, sum({model}), sum({model} * value) "
                            "FROM attribution_touchpoints WHERE tenant_id = :t AND campaign_id = :c GROUP BY 1 ORDER BY 1",
                        t=tenant_id, c=campaign_id)
        assert [(d, round(float(c), 4), round(float(r), 2)) for d, c, r in expected] == \
            [(r.day, r.conversions, r.revenue) for r in by_day.rows.itertuples()]
        lag = _sql(db, f"SELECT floor(days_since_exposure)::int, sum({model}) FROM attribution_touchpoints "
                       "WHERE tenant_id = :t AND campaign_id = :c GROUP BY 1 ORDER BY 1", t=tenant_id, c=campaign_id)
        assert [(d, round(float(c), 4)) for d, c in lag] == \
            [(r.days_since_exposure, r.conversions) for r in by_day.lag.itertuples()]


def test_policies(timescale):
    db, _ = timescale
    jobs = _sql(db, "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs")
    procs = [(p, h) for p, h, _ in jobs]
    assert ("policy_compression", "downloads") in procs
    assert ("policy_retention", "download_requests") in procs
    retention = next(c for p, h, c in jobs if p == "policy_retention")
    assert retention["drop_after"] in ("90 days", "90 days 00:00:00")
    assert sum(p == "policy_refresh_continuous_aggregate" for p, _ in procs) == len(ROLLUPS) + 1  # + attribution
    settings = _sql(db, "SELECT segmentby_column_index, attname FROM timescaledb_information.compression_settings "
                        "WHERE hypertable_name = 'downloads' AND segmentby_column_index IS NOT NULL")
    assert [r[1] for r in settings] == ["tenant_id"]


def test_dashboards_match_downloads(timescale):
    db, tenant_id = timescale
    ctx = TenantContext(tenant_id=tenant_id, role="owner")
    first, last = _window(30)
    state = ViewState.from_controls("custom", first.isoformat(), last.isoformat(), compare="previous")
    kpis = overview.overview_kpis(db, ctx, state, today=last)
    day = _independent(db, tenant_id, "day", first, last)
    assert kpis.current.downloads == day.downloads.sum() > 0
    assert kpis.current.avg_daily_listeners == pytest.approx(day.listeners.sum() / 30)
    previous = _independent(db, tenant_id, "day", first - timedelta(days=30), first - timedelta(days=1))
    assert kpis.previous.downloads == previous.downloads.sum()

    timeline = overview.downloads_timeline(db, ctx, state, today=last)
    per_day = {r.period.date(): r.downloads for r in timeline.itertuples()}
    rows = _sql(db, "SELECT (d.ts AT TIME ZONE 'UTC')::date, p.title, count(*) FROM downloads d "
                    "JOIN podcasts p ON p.id = d.podcast_id WHERE d.tenant_id = :t AND d.ts >= :start AND d.ts < :end "
                    "GROUP BY 1, 2", t=tenant_id, **_bounds(first, last))
    expected = {(d, title): n for d, title, n in rows}
    for podcast_id, title in _sql(db, "SELECT id, title FROM podcasts WHERE tenant_id = :t", t=tenant_id):
        by_podcast = overview.downloads_timeline(db, ctx, state.with_(podcast=podcast_id), today=last)
        got = {r.period.date(): r.downloads for r in by_podcast.itertuples() if r.downloads}
        assert got == {d: n for (d, t), n in expected.items() if t == title}, title
    totals: dict = {}
    for (d, _), n in expected.items():
        totals[d] = totals.get(d, 0) + n
    assert {d: n for d, n in per_day.items() if n} == totals

    for group_by in downloads_report.GROUPINGS:
        frame = downloads_report.downloads_by(db, ctx, group_by, first, last)
        label = downloads_report.GROUPINGS[group_by].label
        pd.testing.assert_frame_equal(_normalise(frame, label),
                                      _normalise(_independent(db, tenant_id, group_by, first, last), label),
                                      check_dtype=False, obj=group_by)


def test_recount_is_idempotent(timescale):
    db, tenant_id = timescale
    ctx = TenantContext(tenant_id=tenant_id, role="owner")
    last = datetime.now(timezone.utc).date() - timedelta(days=2)
    first = last - timedelta(days=3)  # below the aggregates' watermark: needs the post-commit refresh
    snapshot = "SELECT md5(string_agg(ts::text || episode_id || listener_key || flags, ',' ORDER BY ts, episode_id, " \
               "listener_key)), count(*) FROM downloads WHERE tenant_id = :t AND ts >= :start AND ts < :end"
    before = _sql(db, snapshot, t=tenant_id, **_bounds(first, last))
    report_before = downloads_report.downloads_by(db, ctx, "day", first, last)
    for _ in range(2):
        counting.count_downloads(db, tenant_id, first, last)
        assert _sql(db, snapshot, t=tenant_id, **_bounds(first, last)) == before
        pd.testing.assert_frame_equal(downloads_report.downloads_by(db, ctx, "day", first, last), report_before)
    assert before[0][1] > 0


def test_rollups_follow_a_change_below_the_watermark(timescale):
    """A recount that changes already-materialised days shows after the commit (the post-commit refresh)."""
    db, tenant_id = timescale
    ctx = TenantContext(tenant_id=tenant_id, role="owner")
    day = datetime.now(timezone.utc).date() - timedelta(days=5)
    bounds = _bounds(day, day)
    original = downloads_report.downloads_by(db, ctx, "day", day, day)
    with db.session(tenant_id) as s:
        s.execute(text("DELETE FROM downloads WHERE tenant_id = :t AND ts >= :start AND ts < :end "
                       "AND episode_id = (SELECT min(episode_id) FROM downloads WHERE tenant_id = :t "
                       "AND ts >= :start AND ts < :end)"), {"t": tenant_id, **bounds})
        store.refresh_rollups(s, tenant_id, day, day)
        s.commit()
    changed = downloads_report.downloads_by(db, ctx, "day", day, day)
    pd.testing.assert_frame_equal(changed, _independent(db, tenant_id, "day", day, day), check_dtype=False)
    assert changed.downloads.sum() < original.downloads.sum()
    counting.count_downloads(db, tenant_id, day, day)  # the recount restores the day
    pd.testing.assert_frame_equal(downloads_report.downloads_by(db, ctx, "day", day, day), original)


def test_tenant_views_hide_everything_without_a_tenant(timescale):
    db, tenant_id = timescale
    for model in ROLLUPS:
        assert _sql(db, f"SELECT count(*) FROM tenant_{model.__tablename__}")[0][0] == 0
        assert _sql(db, f"SELECT count(*) FROM {model.__tablename__}")[0][0] > 0
    assert _sql(db, "SELECT count(*) FROM tenant_downloads")[0][0] == 0
    with db.engine.connect() as conn:
        conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})
        assert conn.execute(text("SELECT count(*) FROM tenant_podcast_daily_metrics")).scalar() > 0
        conn.rollback()
    assert _sql(db, "SELECT current_setting('app.tenant_id', true)")[0][0] in (None, "")


def test_compression_keeps_answers(timescale):
    """Run the compression policy by hand (no background workers here): old chunks compress, answers stay."""
    db, tenant_id = timescale
    ctx = TenantContext(tenant_id=tenant_id, role="owner")
    first, last = _window(120)
    before = downloads_report.downloads_by(db, ctx, "app", first, last)
    job = _sql(db, "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' "
                   "AND hypertable_name = 'downloads'")[0][0]
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CALL run_job(:job)"), {"job": job})
    compressed = _sql(db, "SELECT count(*) FROM timescaledb_information.chunks "
                          "WHERE hypertable_name = 'downloads' AND is_compressed")[0][0]
    span = _sql(db, "SELECT min(ts) FROM downloads WHERE tenant_id = :t", t=tenant_id)[0][0]
    assert span < datetime.now(timezone.utc) - timedelta(days=45)  # the demo's two years reach past the policy
    assert compressed > 0
    pd.testing.assert_frame_equal(downloads_report.downloads_by(db, ctx, "app", first, last), before)
    old = (datetime.now(timezone.utc) - timedelta(days=40)).date()
    counting.count_downloads(db, tenant_id, old, old)  # a recount deletes and inserts in a compressed chunk
    pd.testing.assert_frame_equal(downloads_report.downloads_by(db, ctx, "app", first, last), before)


def test_episode_dimension_aggregates_match_downloads(timescale):
    """Migration 0005's continuous aggregates (episode x app / device / country) answer the episode page and the
    grid like an independent computation over `downloads`."""
    from services.dashboards import episodes as episode_views
    from services.dashboards.periods import ViewState

    db, tenant_id = timescale
    ctx = TenantContext(tenant_id=tenant_id, role="owner")
    episode_id = _sql(db, "SELECT episode_id FROM downloads WHERE tenant_id = :t GROUP BY 1 ORDER BY count(*) DESC "
                          "LIMIT 1", t=tenant_id)[0][0]
    for dimension, expr in (("app", "coalesce(app, 'unknown')"), ("device", "coalesce(device, 'unknown')"),
                            ("country", "coalesce(country, 'ZZ')")):
        frame = episode_views.episode_breakdown(db, ctx, episode_id, dimension, ViewState(range="all"))
        # filtered by the tenant (the compression segment) and grouped, then the episode picked here
        rows = _sql(db, f"SELECT episode_id, {expr}, count(*) FROM downloads WHERE tenant_id = :t GROUP BY 1, 2",
                    t=tenant_id)
        expected = {key: n for e, key, n in rows if e == episode_id}
        assert dict(zip(frame[dimension], frame["downloads"])) == expected, dimension
    grid = episode_views.episode_grid(db, ctx, ViewState(range="all")).set_index("episode_id")
    assert grid.loc[episode_id, "downloads_all_time"] == sum(expected.values())
    assert grid.loc[episode_id, "top_app"]


def test_one_log_imported_into_two_tenants_counts_in_each(timescale, tmp_path):
    """The same access log imported for the demo network and for a second tenant whose feeds carry the same
    enclosure URLs: each tenant's raw requests and downloads count it, and a re-import into either adds nothing."""
    from urllib.parse import urlsplit

    from services import accounts
    from services.measurement import log_import
    from services.models import Episode, Podcast

    db, demo_id = timescale
    other = accounts.create_tenant(db, "relay", "Relay Network")  # one session at a time on this server
    with db.session(system=True) as s:
        source = s.scalars(text("SELECT id FROM episodes WHERE tenant_id = :t ORDER BY id LIMIT 2"),
                           {"t": demo_id}).all()
        episodes = [s.get(Episode, i) for i in source]
        podcast = Podcast(tenant_id=other.id, title="Relayed", prefix_key="krelay")
        s.add(podcast)
        s.flush()
        for ep in episodes:
            s.add(Episode(tenant_id=other.id, podcast_id=podcast.id, guid=ep.guid, title=ep.title,
                          enclosure_url=ep.enclosure_url, enclosure_length=ep.enclosure_length,
                          duration_seconds=ep.duration_seconds, match_key=ep.match_key))
        s.commit()
    at = (datetime.now(timezone.utc) - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    agent = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"
    host = urlsplit(episodes[0].enclosure_url).hostname
    log = tmp_path / "shared.log"
    log.write_text("".join(
        f'198.51.100.{n} - - [{at + timedelta(minutes=n):%d/%b/%Y:%H:%M:%S} +0000] '
        f'"GET {urlsplit(episodes[n % 2].enclosure_url).path} HTTP/1.1" 200 50000000 "-" "{agent}"\n'
        for n in range(1, 9)))
    raw = "SELECT count(*) FROM download_requests WHERE tenant_id = :t AND source = 'log'"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_import, "insert_frame", _insert_frame_without_copy)
        for tenant_id, slug in ((demo_id, "demo"), (other.id, "relay")):
            ctx = TenantContext(tenant_id=tenant_id, role="editor", tenant_slug=slug)
            before = _sql(db, raw, t=tenant_id)[0][0]
            report = log_import.import_log(db, ctx, log, "combined", host=host)
            assert (report.imported, report.unmatched, report.rejected) == (8, 0, 0)
            assert log_import.import_log(db, ctx, log, "combined", host=host).already_imported
            assert _sql(db, raw, t=tenant_id)[0][0] == before + 8
    counted = counting.count_downloads(db, other.id, at.date(), at.date())
    assert counted.downloads == 8
    assert _sql(db, "SELECT count(*) FROM downloads WHERE tenant_id = :t", t=other.id)[0][0] == 8


def test_campaign_delivery_by_country_follows_the_targeting_rule(timescale):
    """campaign_metrics (a plain table next to the hypertables, with its country dimension since 0021): the demo's
    dynamically inserted placements count only downloads from their campaign's target countries, read back by
    country, and the pacing forecast's country share comes from the per-country continuous aggregate."""
    from services.sponsorship import delivery, pacing

    db, tenant_id = timescale
    campaign_id, targets = _sql(db, "SELECT id, target_countries::text FROM campaigns WHERE tenant_id = :t "
                                    "AND name = 'Privacy Month'", t=tenant_id)[0]
    expected = dict(_sql(db, "SELECT coalesce(d.country, 'ZZ'), count(*) FROM downloads d JOIN placements p "
                             "ON p.podcast_id = d.podcast_id AND p.campaign_id = :c WHERE d.tenant_id = :t "
                             "AND d.ts >= p.start_date::timestamptz AND d.ts < (p.end_date + 1)::timestamptz "
                             "AND d.country IN (SELECT json_array_elements_text(c.target_countries) FROM campaigns c "
                             "WHERE c.id = :c) GROUP BY 1", c=campaign_id, t=tenant_id))
    assert set(expected) == {"US", "GB", "CA"} and sum(expected.values()) > 0, targets
    assert delivery.refresh_campaign(db, tenant_id, campaign_id) == sum(expected.values())
    ctx = TenantContext(tenant_id, "viewer")
    got = delivery.delivery_by(db, ctx, campaign_id, "country")
    assert dict(got.itertuples(index=False, name=None)) == expected
    p = pacing.pacing(db, ctx, campaign_id)
    assert p.delivered <= sum(expected.values()) and p.forecast >= p.delivered
    with db.session(tenant_id) as s:
        share = pacing.served_share(s, tenant_id, _sql(db, "SELECT podcast_id FROM placements WHERE campaign_id = :c "
                                                           "ORDER BY id LIMIT 1", c=campaign_id)[0][0], None,
                                    ("US", "GB", "CA"), p.as_of)
    assert 0.5 < share < 0.9  # the demo's audience: about 71% from the three targets


def test_a_deleted_tenant_leaves_no_row_in_hypertables_or_aggregates(timescale):
    """Tenant deletion on TimescaleDB: its rows go from the hypertables and the plain tables, its continuous
    aggregates are refreshed to nothing, and the demo tenant's figures do not move."""
    from services import accounts, privacy
    from services.models import Episode, Podcast

    db, demo_id = timescale
    day = date.today() - timedelta(days=2)
    gone = accounts.create_tenant(db, "gone", "Gone Network")
    with db.session(system=True) as s:
        podcast = Podcast(tenant_id=gone.id, title="Gone show", prefix_key="kgone")
        s.add(podcast)
        s.flush()
        episode = Episode(tenant_id=gone.id, podcast_id=podcast.id, guid="gone-1", title="Gone #1",
                          published_at=datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc))
        s.add(episode)
        s.commit()
        ids = (podcast.id, episode.id)
    ts = pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=8)
    frame = pd.DataFrame({"ts": [ts + pd.Timedelta(minutes=n) for n in range(5)], "tenant_id": gone.id,
                          "podcast_id": ids[0], "episode_id": ids[1], "listener_key": [f"g{n}" for n in range(5)],
                          "app": "Overcast", "device": "phone", "os": "iOS", "country": "US", "region": None,
                          "referrer": None})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "insert_frame", _insert_frame_without_copy)
        with db.session(gone.id) as s:
            store.replace_downloads(s, gone.id, day, day, frame)
            store.refresh_rollups(s, gone.id, day, day)
            s.commit()
    aggregates = privacy._continuous_aggregates(db)
    assert {"podcast_daily_metrics", "episode_daily_metrics"} <= aggregates
    assert _sql(db, "SELECT sum(downloads) FROM podcast_daily_metrics WHERE tenant_id = :t", t=gone.id)[0][0] == 5
    tables = [r[0] for r in _sql(db, "SELECT DISTINCT table_name FROM information_schema.columns "
                                     "WHERE column_name = 'tenant_id' AND table_schema = 'public'")]
    assert aggregates <= set(tables)

    def counts(tenant_id):
        return {t: _sql(db, f"SELECT count(*) FROM {t} WHERE tenant_id = :t", t=tenant_id)[0][0] for t in tables}

    demo_before = counts(demo_id)
    privacy.purge_tenant(db, gone.id)
    assert {t: n for t, n in counts(gone.id).items() if n} == {}
    assert _sql(db, "SELECT count(*) FROM tenants WHERE id = :t", t=gone.id)[0][0] == 0
    assert counts(demo_id) == demo_before
