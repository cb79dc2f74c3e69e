"""Counting cases for comparing engines: a network with raw requests at every dedupe edge (the 24 h window's
edges, UTC midnight, slab boundaries, several episodes, bots, probes, byte ranges reassembled or not) among random
traffic, and a digest of everything counting writes for a tenant."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
from sqlalchemy import text

from services import accounts
from services.bulk import insert_frame
from services.db import Database
from services.measurement import store
from services.models import DownloadRequest, Episode, Podcast

DAY = date(2026, 3, 2)
FIRST, LAST = DAY - timedelta(days=1), DAY + timedelta(days=4)
SLAB_DAYS = 2  # small slabs, so the edges below straddle slab boundaries (slabs: D-1..D, D+1..D+2, D+3..D+4)
APPLE = "AppleCoreMedia/1.0.0.19B88 (iPhone; U; CPU OS 15_1 like Mac OS X; en_us)"
OVERCAST = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"
EPISODE_BYTES, EPISODE_SECONDS = 6_000_000, 600  # one minute: 600,000 bytes


def _at(days: int, clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"{DAY + timedelta(days=days)} {clock}", tz="UTC")


# (listener, episode, time, method, status, bytes, range, agent): log lines carry status and bytes, hits do not.
EDGE_REQUESTS = [
    ("edge-midnight", 0, _at(0, "23:59:30"), "GET", None, None, None, APPLE),  # across midnight and a slab boundary
    ("edge-midnight", 0, _at(1, "00:00:30"), "GET", None, None, None, APPLE),
    ("edge-exact24", 0, _at(2, "10:00:00"), "GET", None, None, None, APPLE),  # exactly 24 h apart
    ("edge-exact24", 0, _at(3, "10:00:00"), "GET", None, None, None, APPLE),
    ("edge-under24", 0, _at(2, "10:00:00"), "GET", None, None, None, OVERCAST),  # one microsecond under 24 h
    ("edge-under24", 0, _at(3, "09:59:59.999999"), "GET", None, None, None, OVERCAST),
    *[("edge-chain", 1, _at(d, c), "GET", None, None, None, APPLE)  # each request < 24 h after the one before
      for d, c in ((1, "08:00"), (1, "20:00"), (2, "07:00"), (2, "19:00"), (3, "06:00"))],
    *[("edge-episodes", e, _at(1, f"12:0{e}"), "GET", None, None, None, APPLE) for e in range(3)],
    ("edge-bot-listed", 0, _at(1, "13:00"), "GET", None, None, None,
     "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    ("edge-bot-empty", 0, _at(1, "13:01"), "GET", None, None, None, ""),
    ("edge-bot-named", 0, _at(1, "13:02"), "GET", None, None, None, "SomeNewCrawler/1.0"),
    # Two halves of a minute of audio reassemble into one download; the same range twice counts once (too little);
    # halves on two UTC days are judged per day (too little each).
    ("edge-ranges-whole", 0, _at(1, "14:00"), "GET", 206, 350_000, "bytes=0-349999", OVERCAST),
    ("edge-ranges-whole", 0, _at(1, "14:05"), "GET", 206, 350_000, "bytes=350000-699999", OVERCAST),
    ("edge-ranges-overlap", 0, _at(1, "15:00"), "GET", 206, 400_000, "bytes=0-399999", OVERCAST),
    ("edge-ranges-overlap", 0, _at(1, "15:01"), "GET", 206, 400_000, "bytes=0-399999", OVERCAST),
    ("edge-ranges-two-days", 0, _at(1, "23:50"), "GET", 206, 350_000, "bytes=0-349999", OVERCAST),
    ("edge-ranges-two-days", 0, _at(2, "00:10"), "GET", 206, 350_000, "bytes=350000-699999", OVERCAST),
    ("edge-probe", 1, _at(1, "16:00"), "GET", 206, 2, "bytes=0-1", APPLE),  # the probe alone is no download
    ("edge-probe", 1, _at(1, "16:00:01"), "GET", 206, 6_000_000, "bytes=0-", APPLE),
    ("edge-head", 1, _at(1, "17:00"), "HEAD", 200, 0, None, APPLE),
    ("edge-not-modified", 1, _at(1, "17:05"), "GET", 304, 0, None, APPLE),
    ("edge-ranges-lookback", 2, _at(2, "23:00"), "GET", 206, 700_000, "bytes=0-699999", OVERCAST),
    ("edge-ranges-lookback", 2, _at(3, "01:00"), "GET", 206, 700_000, "bytes=0-699999", OVERCAST),
]

# Downloads each edge listener makes, per dedupe window (the local rules, as IAB v2.3 words them).
EDGE_DOWNLOADS = {
    "calendar": {"edge-midnight": 2, "edge-exact24": 2, "edge-under24": 2, "edge-chain": 3, "edge-episodes": 3,
                 "edge-ranges-whole": 1, "edge-probe": 1, "edge-ranges-lookback": 2},
    "first-touch": {"edge-midnight": 1, "edge-exact24": 2, "edge-under24": 1, "edge-chain": 2, "edge-episodes": 3,
                    "edge-ranges-whole": 1, "edge-probe": 1, "edge-ranges-lookback": 1},
    "last-touch": {"edge-midnight": 1, "edge-exact24": 1, "edge-under24": 1, "edge-chain": 1, "edge-episodes": 3,
                   "edge-ranges-whole": 1, "edge-probe": 1, "edge-ranges-lookback": 1},
}


def seed_network(db: Database, slug: str, seed: int, n_random: int = 3000) -> int:
    """A tenant with one show of four episodes (the last of unknown size: no byte threshold) and raw requests:
    the edge cases and `n_random` random ones over FIRST..LAST. Returns the tenant id."""
    tenant = accounts.create_tenant(db, slug, slug.title())
    with db.session(tenant.id) as s:
        podcast = Podcast(tenant_id=tenant.id, title="Show", prefix_key=f"k{slug}")
        s.add(podcast)
        s.flush()
        for n in range(4):
            s.add(Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid=f"g{n}", title=f"E{n}",
                          enclosure_url=f"https://media.example.com/show/ep{n}.mp3",
                          enclosure_length=EPISODE_BYTES if n < 3 else None, duration_seconds=EPISODE_SECONDS))
        s.commit()
        frame = pd.concat([_edge_requests(tenant.id, podcast.id), _random_requests(tenant.id, podcast.id, seed,
                                                                                   n_random)], ignore_index=True)
        frame["request_uid"] = slug + ":" + frame["request_uid"]  # unique across tenants
        insert_frame(s, DownloadRequest.__table__, frame)
        s.commit()
    return tenant.id


def _edge_requests(tenant_id: int, podcast_id: int) -> pd.DataFrame:
    rows = []
    for i, (listener, episode, ts, method, status, sent, byte_range, agent) in enumerate(EDGE_REQUESTS):
        rows.append({"request_uid": f"edge:{i}", "ts": ts, "tenant_id": tenant_id, "podcast_id": podcast_id,
                     "source": "prefix" if status is None else "log", "method": method, "status": status,
                     "bytes": sent, "range": byte_range, "url": f"https://media.example.com/show/ep{episode}.mp3",
                     "user_agent": agent, "referer": None, "listener_key": listener, "country": "US", "region": "CA",
                     "household_key": f"{i % 3:032x}"})
    frame = pd.DataFrame(rows)
    frame["status"] = frame["status"].astype("Int64")
    frame["bytes"] = frame["bytes"].astype("Int64")
    return frame


def _random_requests(tenant_id: int, podcast_id: int, seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    agents = np.array([APPLE, OVERCAST, "", None, "weird\tagent \"quoted\"",
                       "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                       "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15"],
                      dtype=object)
    urls = np.array([f"https://media.example.com/show/ep{i}.mp3" for i in range(4)]
                    + ["https://dts.podtrac.com/redirect.mp3/media.example.com/show/ep1.mp3?_from=app",
                       "https://other.example.com/x.mp3"], dtype=object)
    ranges = np.array(["bytes=0-", "bytes=0-1", None, "", "bytes=1000-", "bytes=0-1, 9-10", "bytes=300000-899999",
                       "bytes=0-299999"], dtype=object)
    referers = np.array([None, "", "https://podcasts.apple.com/", "https://open.spotify.com/"], dtype=object)
    start = pd.Timestamp(FIRST, tz="UTC")
    log = rng.random(n) < 0.5
    # Listeners come back within minutes, hours or a day or two: many repeats near the 24 h edges.
    ts = start + pd.to_timedelta(rng.integers(0, (LAST - FIRST).days * 86_400 * 10**6 + 86_400 * 10**6, n), unit="us")
    return pd.DataFrame({
        "request_uid": [f"r:{i}" for i in range(n)], "ts": ts, "tenant_id": tenant_id, "podcast_id": podcast_id,
        "source": np.where(log, "log", "prefix"),
        "method": np.array(["GET", "GET", "GET", "HEAD", "get"], dtype=object)[rng.integers(0, 5, n)],
        "status": pd.Series(rng.choice([200, 206, 206, 304, 404], n), dtype="Int64").where(log, pd.NA),
        "bytes": pd.Series(rng.integers(0, EPISODE_BYTES, n), dtype="Int64").where(log, pd.NA),
        "range": ranges[rng.integers(0, len(ranges), n)],
        "url": urls[rng.integers(0, len(urls), n)],
        "user_agent": agents[rng.integers(0, len(agents), n)],
        "referer": referers[rng.integers(0, len(referers), n)],
        "listener_key": [f"{k:032x}" for k in rng.integers(0, 60, n)],
        "country": np.array(["US", "", None, "DE"], dtype=object)[rng.integers(0, 4, n)],
        "region": np.array(["CA", "", None], dtype=object)[rng.integers(0, 3, n)],
        "household_key": np.array([f"{k:032x}" for k in range(7)] + [None], dtype=object)[rng.integers(0, 8, n)],
    })


COUNTED_TABLES = ["downloads", *[model.__tablename__ for model, _keys, _bit in store.ROLLUP_SPECS], "counting_days"]


def _value(v) -> str:
    if isinstance(v, datetime):
        v = v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)
        return v.isoformat()
    return repr(v)


def table_digest(db: Database, tenant_id: int, table: str) -> tuple[int, str]:
    """Rows of the tenant in `table` and a sha256 over them, sorted (read past row-level security)."""
    with db.session(system=True) as s:
        result = s.execute(text(f"SELECT * FROM {table} WHERE tenant_id = :t"), {"t": tenant_id})
        columns = sorted(result.keys())
        rows = sorted("|".join(_value(row[c]) for c in columns) for row in (r._mapping for r in result))
    return len(rows), hashlib.sha256("\n".join(["|".join(columns), *rows]).encode()).hexdigest()


def counted_digest(db: Database, tenant_id: int, tables: list[str] = COUNTED_TABLES) -> dict[str, tuple[int, str]]:
    """Per table counting writes (downloads, every rollup, counting_days): the tenant's rows and their digest."""
    return {table: table_digest(db, tenant_id, table) for table in tables}


def wipe_counts(db: Database, tenant_id: int) -> None:
    """Forget what counting wrote for the tenant, so the next count writes everything afresh."""
    with db.session(system=True) as s:
        for table in [*COUNTED_TABLES, "counting_state"]:
            s.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": tenant_id})
        s.commit()


def edge_downloads(db: Database, tenant_id: int) -> dict[str, int]:
    with db.session(system=True) as s:
        rows = s.execute(text("SELECT listener_key, count(*) FROM downloads WHERE tenant_id = :t AND listener_key "
                              "LIKE 'edge-%' GROUP BY listener_key"), {"t": tenant_id}).all()
    return {key: n for key, n in rows}
