"""Benchmark: the counting job (raw requests -> IAB downloads) on PostgreSQL, against pandas' dedupe as baseline.

Issue targets: >= 200,000 raw rows/s on one core and < 2 GB peak memory, counting 5,000,000 requests over ~90 days.

Run from the project root:
    python bench/bench_counting.py [--rows 5000000] [--days 90] [--episodes 2000] [--listeners 1000000]
                                   [--window calendar|first-touch|last-touch] [--profile /tmp/counting.prof]
                                   [--keep-db]

What it does, in order:
  1. creates a fresh database on 127.0.0.1:5432 (user postgres), runs services.migrate.upgrade(url);
  2. creates a tenant (services.accounts.create_tenant) with podcasts and episodes (enclosure URL, match key,
     length, duration);
  3. generates --rows raw requests over --days days (listening sessions of 1-6 requests: probes, HEADs, ranges,
     304s, bots, tracking-prefix chains, client parameters; ~300 real OPAWG agents; a pool of --listeners listener
     keys) and COPYs them into download_requests in chunks;
  4. in a separate counting process (started at the outset, while this one is small, so its ru_maxrss is its own),
     times services.measurement.counting.count_downloads(db, tenant, first_day, last_day) on
     services.db.Database(url, "podcast_app"), then times it again (a recount must leave the downloads and rollups
     unchanged); the peak RSS is reset between runs (/proc/self/clear_refs) so each run reports its own ru_maxrss;
     with --profile a third (recount) run goes under cProfile and the top functions are printed;
  5. baseline in the same run: pandas drop_duplicates over the same number of (episode_id, listener_key, day) rows;
  6. the input/output floor in the same run (bench/counting_floor.py): PostgreSQL alone handing over the raw rows
     and taking the rows the count wrote, the wall-clock bound no counting process can beat on this host;
  7. drops the database (unless --keep-db).

Machine speed drifts, so the ratio to the baseline measured in the same run is the figure to compare.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import pandas as pd
import psycopg

from counting_floor import io_floor, print_floor  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "postgresql://postgres@127.0.0.1:5432/{name}"
APP_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
SEED = 20250630
LAST_DAY = date(2025, 6, 29)  # fixed, so runs are comparable
OPAWG = ROOT / "services" / "measurement" / "data" / "opawg"
RAW_COPY_COLUMNS = ["request_uid", "ts", "tenant_id", "podcast_id", "source", "method", "status", "bytes", "range",
                    "url", "user_agent", "referer", "listener_key", "country", "region"]

COUNTRIES = (("US", 0.48), ("GB", 0.10), ("CA", 0.07), ("AU", 0.06), ("DE", 0.05), ("IN", 0.04), ("NL", 0.03),
             ("IE", 0.02), ("NZ", 0.02), ("SE", 0.02), ("FR", 0.03), ("BR", 0.03), ("ES", 0.02), ("MX", 0.02),
             ("JP", 0.01))
REGIONS = {"US": ("CA", "NY", "TX", "FL", "WA", "IL", "MA", "CO", "GA", "OR", "PA", "OH", "NC", "MI"),
           "GB": ("ENG", "SCT", "WLS", "NIR"), "CA": ("ON", "QC", "BC", "AB"), "AU": ("NSW", "VIC", "QLD", "WA"),
           "DE": ("BE", "BY", "HH", "NW")}
HOSTS = ("media.example.com", "traffic.libsyn.com/secure", "audio.examplecdn.net/podcasts", "cdn.simplecast.example",
         "feeds.soundcloud.example/stream")
HOUR = np.array([.35, .25, .2, .18, .2, .3, .6, 1.0, 1.3, 1.2, 1.0, .95, 1.0, 1.05, 1.1, 1.15, 1.3, 1.35,
                 1.2, 1.0, .9, .8, .65, .5])
WEB_REFERERS = ("https://podcasts.apple.com/", "https://open.spotify.com/", "https://www.google.com/",
                "https://www.podchaser.com/", "https://castbox.fm/")


def _norm(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


# --- catalogue ----------------------------------------------------------------------------------------------------

def agent_pool(rng: np.random.Generator, size: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """~300 real podcast agents: the demo's 15 majors with their market shares, then a long tail of OPAWG
    user-agents-v2 examples (apps, libraries, browsers), ~20 bots and the empty agent. Returns agents, weights and
    a browser flag (browsers send a Referer now and then)."""
    from services.demo_traffic import AGENTS

    def examples(kind: str) -> list[str]:
        data = json.loads((OPAWG / f"{kind}.json").read_text(encoding="utf-8"))
        return [e for entry in data["entries"] for e in entry.get("examples", []) if e]

    majors = [a for a, _ in AGENTS]
    major_w = [w for _, w in AGENTS]
    seen = set(majors)
    apps = [a for a in examples("apps") if a not in seen]
    libs = [a for a in examples("libraries") if a not in seen]
    browsers = [a for a in examples("browsers") if a not in seen]
    bots = examples("bots")
    n_bots, n_browsers, n_libs = 20, 15, 25
    n_apps = size - len(majors) - n_bots - n_browsers - n_libs - 1
    tail = (list(rng.choice(apps, n_apps, replace=False)) + list(rng.choice(libs, n_libs, replace=False))
            + list(rng.choice(browsers, min(n_browsers, len(browsers)), replace=False)))
    tail_w = 0.045 * _norm(1.0 / np.arange(1, len(tail) + 1) ** 0.8)
    bot_agents = list(rng.choice(bots, n_bots, replace=False))
    bot_w = 0.035 * _norm(1.0 / np.arange(1, n_bots + 1))
    agents = np.array(majors + tail + bot_agents + [""], dtype=object)
    weights = _norm(np.concatenate([0.915 * _norm(major_w), tail_w, bot_w, [0.005]]))
    is_browser = np.array([a.startswith("Mozilla/5.0") and "bot" not in a.lower() for a in agents])
    return agents, weights, is_browser


def catalogue(n_podcasts: int, n_episodes: int, rng: np.random.Generator) -> pd.DataFrame:
    """One row per episode: podcast index, enclosure URL (some already behind a prefix in the feed), the bare
    host/path requests are built on, length, duration and a popularity weight."""
    per = np.full(n_podcasts, n_episodes // n_podcasts)
    per[: n_episodes % n_podcasts] += 1
    rows = []
    pod_w = 1.0 / np.arange(1, n_podcasts + 1) ** 0.9
    for p in range(n_podcasts):
        host = HOSTS[p % len(HOSTS)]
        bitrate = (16_000, 12_000, 8_000)[p % 3]
        for n in range(per[p]):
            bare = f"{host}/show-{p:03d}/episode-{n + 1:04d}.mp3"
            enclosure = f"https://dts.podtrac.com/redirect.mp3/{bare}" if p % 7 == 3 else f"https://{bare}"
            duration = int(rng.integers(8, 95) * 60 + rng.integers(0, 60)) if n % 25 else int(rng.integers(20, 55))
            rows.append({"podcast": p, "number": n + 1, "bare": bare, "enclosure_url": enclosure,
                         "duration": duration,
                         "length": None if (p % 11 == 5 and n % 4 == 0) else duration * bitrate + 40_000,
                         # newest episodes (highest numbers) draw most requests
                         "weight": pod_w[p] * 0.94 ** (per[p] - 1 - n)})
    frame = pd.DataFrame(rows)
    frame["weight"] = _norm(frame["weight"])
    return frame


def url_variants(bare: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[episode, variant] request URLs: plain, podtrac, chartable->podtrac, op3->podtrac chains, and client
    parameters apps append (removable ones and others the query-less fallback handles). Returns urls, weights."""
    queries = ([f"?_from=app{i}" for i in range(6)] + [f"?utm_source=rss&utm_medium=feed{i}" for i in range(6)]
               + [f"?source=apple&ts={1700000000 + 977 * i}" for i in range(4)]
               + ["?aw_0_1st.playerid=spotify", "?played_on=overcast", "?DIST=TuneIn&TGT=TuneIn&maxServers=2",
                  "?download=true"])
    forms = [("https://{b}", 0.50), ("https://dts.podtrac.com/redirect.mp3/{b}", 0.15),
             ("https://chrt.fm/track/AB12CD/dts.podtrac.com/redirect.mp3/{b}", 0.04),
             ("https://op3.dev/e/dts.podtrac.com/redirect.mp3/{b}", 0.03),
             ("https://pdst.fm/e/chrt.fm/track/XY99/{b}", 0.03),
             ("http://{b}", 0.02)]
    forms += [("https://{b}" + q, 0.15 / len(queries)) for q in queries]
    forms += [("https://dts.podtrac.com/redirect.mp3/{b}" + q, 0.08 / len(queries)) for q in queries]
    urls = np.empty((len(bare), len(forms)), dtype=object)
    for j, (form, _) in enumerate(forms):
        urls[:, j] = [form.format(b=b) for b in bare]
    return urls, _norm([w for _, w in forms])


# --- requests -----------------------------------------------------------------------------------------------------

class RequestGenerator:
    """Listening sessions -> raw request rows, in chunks, vectorised."""

    def __init__(self, episodes: pd.DataFrame, episode_podcast_ids: np.ndarray,
                 tenant_id: int, days: int, n_listeners: int, seed: int = SEED):
        self.rng = np.random.default_rng(seed)
        rng = self.rng
        self.tenant_id = tenant_id
        self.episodes = episodes
        self.episode_podcast_ids = episode_podcast_ids
        self.ep_weight = episodes["weight"].to_numpy()
        self.ep_length = episodes["length"].fillna(60_000_000).to_numpy(dtype=np.int64)
        self.urls, self.url_w = url_variants(episodes["bare"].to_numpy())
        self.agents, agent_w, is_browser = agent_pool(rng)
        self.n_listeners = n_listeners
        # Each listener key is one IP + one agent: agent, country and region are fixed per listener.
        keys = rng.integers(0, 2**63, size=(n_listeners, 2), dtype=np.int64)
        self.listener_keys = np.array([f"{a:016x}{b:016x}" for a, b in keys.tolist()], dtype=object)
        self.l_agent = rng.choice(len(self.agents), n_listeners, p=agent_w)
        self.l_browser = is_browser[self.l_agent]
        country_codes = np.array([c for c, _ in COUNTRIES], dtype=object)
        self.l_country = country_codes[rng.choice(len(COUNTRIES), n_listeners, p=_norm([w for _, w in COUNTRIES]))]
        self.l_region = np.array([rng.choice(REGIONS[c]) if c in REGIONS else None for c in self.l_country],
                                 dtype=object)
        # Heavy listeners: a zipf head over a shuffled order, plus a uniform body.
        self.l_order = rng.permutation(n_listeners)
        self.start = pd.Timestamp(LAST_DAY - timedelta(days=days - 1), tz="UTC")
        self.span_ns = days * 86_400 * 10**9
        self.hour_p = _norm(HOUR)
        self.produced = 0
        # What the baseline needs: (episode, listener, day) per row, as compact arrays.
        self.keep_episode: list[np.ndarray] = []
        self.keep_listener: list[np.ndarray] = []
        self.keep_day: list[np.ndarray] = []

    def chunk(self, n_rows: int) -> pd.DataFrame:
        rng = self.rng
        n_sessions = int(n_rows / 2.21 * 1.05) + 16  # ~2.21 requests per session; the surplus is trimmed
        # requests per session: 1 (plain GET), 2-3 (probe/HEAD + GET, resume), up to 6 (range walking)
        k = rng.choice(np.arange(1, 7), n_sessions, p=[0.38, 0.30, 0.16, 0.08, 0.05, 0.03])
        head = rng.random(n_sessions) < 0.35
        listener = np.where(head, self.l_order[np.minimum(rng.zipf(1.25, n_sessions) - 1, self.n_listeners - 1)],
                            rng.integers(0, self.n_listeners, n_sessions))
        episode = rng.choice(len(self.ep_weight), n_sessions, p=self.ep_weight)
        day = rng.integers(0, self.span_ns // (86_400 * 10**9), n_sessions)
        hour = rng.choice(24, n_sessions, p=self.hour_p)
        start_ns = (day * 86_400 + hour * 3600 + rng.integers(0, 3600, n_sessions)) * 10**9
        source_log = rng.random(n_sessions) < 0.4
        variant = rng.choice(self.urls.shape[1], n_sessions, p=self.url_w)
        unknown = rng.random(n_sessions) < 0.004  # old or deleted episodes: no match
        # per request
        sess = np.repeat(np.arange(n_sessions), k)
        pos = np.arange(len(sess)) - np.repeat(np.cumsum(k) - k, k)  # 0.. within session
        n = len(sess)
        # gaps: seconds apart mostly, a resume hours later sometimes, a re-listen a day or two later rarely
        gap = np.where(rng.random(n) < 0.85, rng.exponential(20, n), np.where(rng.random(n) < 0.8,
                       rng.exponential(4 * 3600, n), rng.uniform(86_400, 3 * 86_400, n)))
        gap[pos == 0] = 0
        offset = np.cumsum(gap)
        offset -= np.repeat(offset[np.cumsum(k) - k], k)
        ts_ns = (start_ns[sess] + (offset * 1e9).astype(np.int64)) % self.span_ns  # wrap late ones into the span
        ts = self.start + pd.to_timedelta(ts_ns, unit="ns")
        # request kind: first request of a multi-request session often a probe/HEAD, later ones resume ranges
        r = rng.random(n)
        first_multi = (pos == 0) & (k[sess] > 1)
        kind = np.select(
            [first_multi & (r < 0.35), first_multi & (r < 0.50), pos == 0, r < 0.08, r < 0.11],
            [1, 2, 0, 1, 2], 3)  # 0 = GET from 0, 1 = probe 0-1, 2 = HEAD, 3 = GET resume from an offset
        kind = np.where((pos == 0) & ~first_multi & (r < 0.08), 4, kind)  # 4 = GET without Range
        length = self.ep_length[episode[sess]]
        resume_at = (rng.random(n) * length * 0.9).astype(np.int64)
        ranges = np.select([kind == 0, kind == 1, kind == 3], ["bytes=0-", "bytes=0-1", "resume"], None).astype(object)
        resume = kind == 3
        ranges[resume] = [f"bytes={v}-" for v in resume_at[resume].tolist()]
        method = np.where(kind == 2, "HEAD", np.where(rng.random(n) < 0.001, "POST", "GET")).astype(object)
        log = source_log[sess]
        # served bytes (logs only): full or partial delivery; a tenth stop before a minute of audio
        frac = np.where(rng.random(n) < 0.1, rng.uniform(0.0, 0.01, n), rng.uniform(0.05, 1.0, n))
        sent = np.where(kind == 1, 2, np.where(kind == 2, 0, np.where(
            resume, ((length - resume_at) * frac).astype(np.int64), (length * frac).astype(np.int64))))
        status = np.where(kind == 4, 200, 206).astype(float)
        status[kind == 2] = 200
        not_modified = log & (rng.random(n) < 0.02)
        status[not_modified] = 304
        sent[not_modified] = 0
        status[~log] = np.nan
        sent_col = pd.array(np.where(log, sent, 0), dtype="Int64")
        sent_col[~log] = pd.NA
        status_col = pd.array(status, dtype="Float64").astype("Int64")
        lid = listener[sess]
        url = self.urls[episode[sess], variant[sess]]
        lost = unknown[sess]
        url[lost] = [f"https://media.example.com/retired/ep-{v}.mp3" for v in episode[sess][lost].tolist()]
        referer = np.full(n, None, dtype=object)
        web = self.l_browser[lid] & (rng.random(n) < 0.4)
        referer[web] = np.array(WEB_REFERERS, dtype=object)[rng.integers(0, len(WEB_REFERERS), int(web.sum()))]
        frame = pd.DataFrame({
            "request_uid": np.char.add("bench:", np.arange(self.produced, self.produced + n).astype(str)),
            "ts": ts, "tenant_id": self.tenant_id, "podcast_id": self.episode_podcast_ids[episode[sess]],
            "source": np.where(log, "log", "prefix"), "method": method, "status": status_col, "bytes": sent_col,
            "range": ranges, "url": url, "user_agent": self.agents[self.l_agent[lid]], "referer": referer,
            "listener_key": self.listener_keys[lid], "country": self.l_country[lid], "region": self.l_region[lid],
        })
        frame = frame.iloc[: n_rows]
        m = len(frame)
        self.produced += m
        self.keep_episode.append(episode[sess][:m].astype(np.int32))
        self.keep_listener.append(lid[:m].astype(np.int32))
        self.keep_day.append((ts_ns[:m] // (86_400 * 10**9)).astype(np.int16))
        return frame


def copy_frame(conn: psycopg.Connection, frame: pd.DataFrame) -> None:
    frame = frame[RAW_COPY_COLUMNS].copy()
    # ISO text with an explicit zone: formatting in numpy is far quicker than to_csv's strftime per value
    frame["ts"] = np.char.add(np.datetime_as_string(frame["ts"].dt.tz_convert(None).to_numpy(), unit="us"), "+00")
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False)
    data = buf.getvalue().encode("utf-8")
    sql = f"COPY download_requests ({', '.join(RAW_COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
    with conn.cursor() as cur, cur.copy(sql) as cp:
        for i in range(0, len(data), 8 << 20):
            cp.write(data[i: i + (8 << 20)])


# --- setup --------------------------------------------------------------------------------------------------------

def setup(url: str, dsn: str, args) -> dict:
    from services import accounts, migrate
    from services.db import Database
    from services.measurement.urls import try_enclosure_match_key
    from services.models import Episode, Podcast

    t0 = time.perf_counter()
    migrate.upgrade(url)
    db = Database(url, "podcast_app")
    tenant = accounts.create_tenant(db, "bench-counting", "Bench Counting Network")
    if args.window != "calendar":
        accounts.configure_tenant(db, "bench-counting", dedupe_window=args.window)
    rng = np.random.default_rng(SEED)
    cat = catalogue(args.podcasts, args.episodes, rng)
    with db.session(tenant.id) as s:
        podcasts = [Podcast(tenant_id=tenant.id, title=f"Bench Show {p}", prefix_key=f"bench{p}{uuid.uuid4().hex[:12]}",
                            language="en", category="Technology") for p in range(args.podcasts)]
        s.add_all(podcasts)
        s.flush()
        episodes = [Episode(tenant_id=tenant.id, podcast_id=podcasts[r.podcast].id, guid=f"bench-{r.podcast}-{r.number}",
                            title=f"Episode {r.number}", enclosure_url=r.enclosure_url, enclosure_type="audio/mpeg",
                            match_key=try_enclosure_match_key(r.enclosure_url),
                            enclosure_length=None if pd.isna(r.length) else int(r.length),
                            duration_seconds=int(r.duration),
                            published_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=int(r.number) * 3))
                    for r in cat.itertuples()]
        s.add_all(episodes)
        s.flush()
        episode_podcast_ids = np.array([e.podcast_id for e in episodes], dtype=np.int64)
        s.commit()
    db.dispose()
    print(f"schema + tenant {tenant.id}: {args.podcasts} podcasts, {len(cat)} episodes "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)

    t0 = time.perf_counter()
    gen = RequestGenerator(cat, episode_podcast_ids, tenant.id, args.days, args.listeners)
    t_gen = time.perf_counter() - t0
    gen_s = copy_s = 0.0
    with psycopg.connect(dsn) as conn:
        conn.execute("SET synchronous_commit TO off")  # load speed only; the data is thrown away afterwards
        left = args.rows
        while left > 0:
            a = time.perf_counter()
            frame = gen.chunk(min(args.chunk, left))
            b = time.perf_counter()
            copy_frame(conn, frame)
            conn.commit()
            gen_s += b - a
            copy_s += time.perf_counter() - b
            left -= len(frame)
            print(f"  {gen.produced:>10,} rows written ({time.perf_counter() - t0:.0f} s)", flush=True)
        conn.execute("ANALYZE download_requests")
        conn.commit()
        stats = conn.execute(
            "SELECT count(*), count(DISTINCT listener_key), count(DISTINCT url), count(DISTINCT user_agent), "
            "min(ts), max(ts), pg_total_relation_size('download_requests') FROM download_requests").fetchone()
    print(f"generated {gen.produced:,} requests: pools {t_gen:.1f} s, generate {gen_s:.1f} s, COPY {copy_s:.1f} s")
    print(f"  distinct listener keys {stats[1]:,}, URLs {stats[2]:,}, user agents {stats[3]:,}; "
          f"ts {stats[4]:%Y-%m-%d} .. {stats[5]:%Y-%m-%d}; table + indexes {stats[6] / 2**30:.2f} GiB")
    return {"tenant_id": tenant.id, "first": (LAST_DAY - timedelta(days=args.days - 1)).isoformat(),
            "last": LAST_DAY.isoformat(), "gen": gen, "rows": gen.produced}


# --- counting (child process) -------------------------------------------------------------------------------------

def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM, which ru_maxrss reads too) so each run's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mb(field: str = "VmHWM") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def downloads_fingerprint(dsn: str, tenant_id: int) -> dict:
    with psycopg.connect(dsn) as conn:
        count, flags, digest = conn.execute(
            "SELECT count(*), coalesce(sum(flags), 0), coalesce(sum(('x' || left(md5(ts::text || episode_id::text "
            "|| listener_key || coalesce(app, '') || coalesce(country, '')), 8))::bit(32)::int::bigint), 0) "
            "FROM downloads WHERE tenant_id = %s", (tenant_id,)).fetchone()
        rollup = conn.execute("SELECT coalesce(sum(downloads), 0), coalesce(sum(listeners), 0) FROM "
                              "podcast_daily_metrics WHERE tenant_id = %s", (tenant_id,)).fetchone()
    return {"downloads": count, "flags": int(flags), "digest": int(digest), "daily_downloads": int(rollup[0]),
            "daily_listeners": int(rollup[1])}


def count_child() -> None:
    """Runs in its own interpreter, started before the data is generated: on Linux a process's ru_maxrss starts
    from its parent's peak at exec time, so a child forked from the (large) generating parent would report the
    parent's memory. Reads its job as one JSON line on stdin, prints RESULT <json>."""
    import cProfile
    import pstats

    from services.db import Database
    from services.measurement import counting
    from services.measurement.useragents import default_classifier

    default_classifier()  # load the OPAWG tables before the clock starts (a worker has them loaded)
    line = sys.stdin.readline()
    if not line.strip():
        return  # the parent gave up before counting
    args = argparse.Namespace(**json.loads(line))
    url, dsn = APP_URL.format(name=args.db_name), PG_DB.format(name=args.db_name)
    first, last = date.fromisoformat(args.first), date.fromisoformat(args.last)
    db = Database(url, "podcast_app")
    out = {"rss_before_mb": rss_mb("VmRSS"), "slab_days": counting.SLAB_DAYS, "runs": []}
    for label in ("first count", "recount"):
        slabs = []
        t_prev = [time.perf_counter()]

        def progress(_f, message, slabs=slabs, t_prev=t_prev):
            now = time.perf_counter()
            slabs.append((message, now - t_prev[0]))
            t_prev[0] = now

        out["peak_reset"] = reset_peak_rss()
        cpu0, t0 = time.process_time(), time.perf_counter()
        report = counting.count_downloads(db, args.tenant, first, last, progress=progress)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        out["runs"].append({"label": label, "seconds": elapsed, "cpu_seconds": cpu,
                            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
                            "vmhwm_mb": rss_mb("VmHWM"), "requests": report.requests, "downloads": report.downloads,
                            "dropped": dict(report.dropped), "slabs": slabs,
                            "table": downloads_fingerprint(dsn, args.tenant)})
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        counting.count_downloads(db, args.tenant, first, last)
        profiler.disable()
        profiler.dump_stats(args.profile)
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        out["profile_text"] = buf.getvalue()
    db.dispose()
    print("RESULT " + json.dumps(out, default=str))


# --- baseline -----------------------------------------------------------------------------------------------------

def baseline(gen: RequestGenerator) -> tuple[float, int, int]:
    """pandas drop_duplicates on (episode_id, listener_key, day) over as many rows as were generated: the rows
    counting reads, with the listener key as the same 32-hex strings (pandas' default string dtype)."""
    episode = np.concatenate(gen.keep_episode).astype(np.int64) + 1
    listener = gen.listener_keys[np.concatenate(gen.keep_listener)]
    day = gen.start + pd.to_timedelta(np.concatenate(gen.keep_day).astype(np.int64), unit="D")
    frame = pd.DataFrame({"episode_id": episode, "listener_key": listener, "day": day})
    t0 = time.perf_counter()
    kept = frame.drop_duplicates(["episode_id", "listener_key", "day"])
    elapsed = time.perf_counter() - t0
    return elapsed, len(frame), len(kept)


# --- main ---------------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--podcasts", type=int, default=40)
    parser.add_argument("--episodes", type=int, default=2_000)
    parser.add_argument("--listeners", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=500_000, help="rows generated and COPYed per chunk")
    parser.add_argument("--window", default="calendar", choices=["calendar", "first-touch", "last-touch"])
    parser.add_argument("--profile", help="also run a recount under cProfile and save the stats here")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for inspection")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        count_child()
        return

    # The counting process starts now, while this one is small (see count_child), and waits for its job.
    child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child"], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    name = f"bench_counting_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    print(f"host: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"python {sys.version.split()[0]}, pandas {pd.__version__}, numpy {np.__version__}, psycopg {psycopg.__version__}")
    print(f"database {name}; {args.rows:,} rows over {args.days} days, {args.episodes} episodes, "
          f"{args.listeners:,} listeners, window {args.window}", flush=True)
    try:
        info = setup(APP_URL.format(name=name), PG_DB.format(name=name), args)
        base_s, base_rows, base_kept = baseline(info["gen"])
        del info["gen"]
        print(f"baseline: pandas drop_duplicates of {base_rows:,} (episode_id, listener_key, day) rows in "
              f"{base_s:.2f} s = {base_rows / base_s:,.0f} rows/s ({base_kept:,} kept)", flush=True)

        job = {"db_name": name, "tenant": info["tenant_id"], "first": info["first"], "last": info["last"],
               "profile": args.profile}
        print(f"counting {info['first']} .. {info['last']} in the counting process ...", flush=True)
        stdout, stderr = child.communicate(json.dumps(job) + "\n")
        if child.returncode != 0:
            print(stdout)
            print(stderr, file=sys.stderr)
            raise SystemExit(f"counting failed (exit {child.returncode})")
        result = json.loads(next(line for line in stdout.splitlines() if line.startswith("RESULT "))[7:])
        report(result, base_rows / base_s, args)
        first = result["runs"][0]
        print_floor(io_floor(PG_DB.format(name=name), info["tenant_id"]), first["requests"], first["seconds"])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if args.keep_db:
            print(f"kept database {name}")
        else:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            print(f"dropped database {name}")
        admin.close()


def report(result: dict, baseline_rate: float, args) -> None:
    first, again = result["runs"]
    print(f"counting process RSS before counting (imports, OPAWG tables loaded): {result['rss_before_mb']:.0f} MiB; "
          f"SLAB_DAYS = {result['slab_days']}")
    for run in result["runs"]:
        rate = run["requests"] / run["seconds"]
        print(f"{run['label']:>11}: {run['requests']:,} requests -> {run['downloads']:,} downloads in "
              f"{run['seconds']:.2f} s = {rate:,.0f} rows/s wall "
              f"(counting process cpu {run['cpu_seconds']:.2f} s = "
              f"{run['requests'] / run['cpu_seconds']:,.0f} rows/cpu-s) "
              f"[target >= 200,000: {'PASS' if rate >= 200_000 else 'FAIL'}]; "
              f"{rate / baseline_rate:.3f}x the pandas dedupe baseline (baseline {baseline_rate / rate:.0f}x faster)")
        print("             peak memory of the counting process during this run: "
              f"ru_maxrss {run['ru_maxrss_mb']:,.0f} MiB "
              f"(VmHWM {run['vmhwm_mb']:,.0f} MiB) [target < 2 GB: {'PASS' if run['ru_maxrss_mb'] < 2048 else 'FAIL'}]")
        print("             time per slab (SLAB_DAYS days): "
              + ", ".join(f"..{m.split()[-1]} {s:.1f} s" for m, s in run["slabs"])
              + f"; then rollups + commit {run['seconds'] - sum(s for _, s in run['slabs']):.1f} s")
    print("dropped (first count):")
    for reason, count in sorted(first["dropped"].items(), key=lambda kv: -kv[1]):
        print(f"  {count:>10,}  {reason}")
    if not result.get("peak_reset"):
        print("(peak RSS could not be reset between runs: ru_maxrss is cumulative over the child process)")
    same = first["table"] == again["table"] and first["downloads"] == again["downloads"]
    print(f"recount idempotent: {'yes' if same else 'NO'} (downloads table {first['table']} -> {again['table']})")
    if "profile_text" in result:
        print(f"\ncProfile of a further recount (saved to {args.profile}):")
        print(result["profile_text"])


if __name__ == "__main__":
    main()
