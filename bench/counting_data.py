"""The data bench_counting.py counts: a catalogue of podcasts and episodes, and raw requests generated in chunks
(listening sessions of 1-6 requests: probes, HEADs, ranges, 304s, bots, tracking-prefix chains, client parameters;
~300 real OPAWG agents; a pool of listener keys), COPYed into download_requests."""
from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

ROOT = Path(__file__).resolve().parents[1]
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


def empty_counts(dsn: str) -> None:
    """Empty what counting writes (the bench database holds one tenant), so the next count is a first count."""
    from services.measurement import store

    tables = ["downloads", "counting_days", "counting_state"] + [m.__tablename__ for m, _k, _b in store.ROLLUP_SPECS]
    with psycopg.connect(dsn) as conn:
        plain = [t for t in tables if conn.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)",
                                                   (t,)).fetchone() in (("r",), ("p",))]  # not continuous aggregates
        conn.execute(f"TRUNCATE {', '.join(plain)}")
        conn.commit()
