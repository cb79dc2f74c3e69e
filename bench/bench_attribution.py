"""Benchmark: one campaign's attribution end to end on PostgreSQL: 1,000,000 exposures and 100,000 conversions over 50
placements, matched to households and credited by all seven models through attribute_campaign.

Issue targets: at most 30 s wall and under 2 GB peak RSS for attribute_campaign.

Run from the project root:
    python bench/bench_attribution.py [--exposures 1000000] [--conversions 100000] [--placements 50]
                                      [--households 250000] [--keep-db]

What it does, in order:
  1. creates a fresh database `bench_attr_<random>` on 127.0.0.1:5432 (user postgres), runs services.migrate.upgrade;
  2. one tenant, 5 shows of 20 episodes, one sponsor and a 60-day campaign (lookback 14 days) with --placements
     placements, each on one episode; the other episodes of the same shows carry none (the lift's control);
  3. generates with numpy (seeded) --exposures downloads of the placed episodes by --households household keys
     (skewed: some listen a lot), 20% as many downloads of the unplaced episodes (controls and exposed alike), and
     --conversions conversion events of the sponsor (65% by exposed households a few days after one of their
     exposures, the rest by anyone, 5% from shared IPs, 10% before the flight) plus 20,000 pageviews; loads them
     with COPY and runs VACUUM ANALYZE;
  4. baseline, same run: PostgreSQL alone sending the rows attribution reads (the downloads of the campaign's shows
     in its window, the sponsor's events) as plain COPY ... TO STDOUT, bytes thrown away (best of 3);
  5. runs attribute_campaign in a fresh child process (as the web role, through the tenant views, as the job does)
     and prints its wall seconds and the child's peak RSS; then a digest of the stored results: conversions,
     touchpoints, each model's total credit (each must equal the conversions), each model's top placement, the lift;
  6. drops the database (unless --keep-db).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
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

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "postgresql://postgres@127.0.0.1:5432/{name}"
APP_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
SEED = 20261203
SHOWS, EPISODES_PER_SHOW = 5, 20
FLIGHT_START, FLIGHT_DAYS, LOOKBACK = date(2026, 3, 1), 60, 14
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")


def create_database() -> str:
    name = f"bench_attr_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_catalog(db, placements: int) -> dict:
    from services import accounts
    from services.models import Campaign, Episode, Placement, Podcast, Sponsor

    tenant = accounts.create_tenant(db, "bench", "Bench Network")
    end = FLIGHT_START + timedelta(days=FLIGHT_DAYS - 1)
    with db.session(tenant.id) as s:
        shows = [Podcast(tenant_id=tenant.id, title=f"Show {i}", prefix_key=uuid.uuid4().hex[:12]) for i in range(SHOWS)]
        s.add_all(shows)
        s.flush()
        episodes = [Episode(tenant_id=tenant.id, podcast_id=show.id, guid=f"g{show.id}-{i}", title=f"{show.title} #{i}")
                    for show in shows for i in range(EPISODES_PER_SHOW)]
        sponsor = Sponsor(tenant_id=tenant.id, name="Bench Coffee", industry="Coffee")
        s.add_all([*episodes, sponsor])
        s.flush()
        campaign = Campaign(tenant_id=tenant.id, sponsor_id=sponsor.id, name="Bench launch", status="live",
                            start_date=FLIGHT_START, end_date=end, pricing="cpm", cpm=25, lookback_days=LOOKBACK,
                            exclude_prior_customers=True, decay_half_life_days=7.0, promo_code="BENCH10")
        s.add(campaign)
        s.flush()
        # Spread the placements over the shows: every show keeps unplaced episodes for the control.
        placed = [e for i in range(EPISODES_PER_SHOW) for e in episodes[i::EPISODES_PER_SHOW]][:placements]
        s.add_all([Placement(tenant_id=tenant.id, campaign_id=campaign.id, podcast_id=e.podcast_id, episode_id=e.id,
                             start_date=FLIGHT_START, end_date=end) for e in placed])
        s.commit()
        placed_ids = {e.id for e in placed}
        return {"tenant_id": tenant.id, "sponsor_id": sponsor.id, "campaign_id": campaign.id,
                "placed": [(e.id, e.podcast_id) for e in placed],
                "unplaced": [(e.id, e.podcast_id) for e in episodes if e.id not in placed_ids]}


def generate(rng, world: dict, exposures: int, conversions: int, households: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    start = pd.Timestamp(FLIGHT_START, tz="UTC")
    flight = FLIGHT_DAYS * 86400
    weights = rng.gamma(2.0, 1.0, households)  # some households listen more, none thousands of times
    weights /= weights.sum()

    def downloads(episodes, n):
        pick = rng.integers(0, len(episodes), n)
        ids = np.array(episodes)
        return pd.DataFrame({"household": rng.choice(households, n, p=weights),
                             "ts": start + pd.to_timedelta(rng.uniform(0, flight, n).round(3), unit="s"),
                             "episode_id": ids[pick, 0], "podcast_id": ids[pick, 1]})

    exp = downloads(world["placed"], exposures)
    other = downloads(world["unplaced"], exposures // 5)
    # Controls: households that only ever heard unplaced episodes.
    other.loc[other.index[::2], "household"] = households + rng.integers(0, households // 4, len(other.index[::2]))
    frame = pd.concat([exp, other], ignore_index=True)
    frame["listener_key"] = [f"{i:032x}" for i in range(len(frame))]
    frame["household_key"] = frame["household"].map("{:024x}".format)

    n_exposed = int(conversions * .65)
    base = exp.sample(n_exposed, random_state=SEED, replace=True)
    conv_exposed = pd.DataFrame({"household": base["household"].to_numpy(),
                                 "ts": base["ts"].reset_index(drop=True)
                                       + pd.to_timedelta(rng.exponential(3, n_exposed), unit="D")})
    n_rest = conversions - n_exposed
    conv_rest = pd.DataFrame({"household": rng.integers(0, households + households // 4, n_rest),
                              "ts": start + pd.to_timedelta(rng.uniform(-10 * 86400, flight + LOOKBACK * 86400, n_rest),
                                                            unit="s")})
    conv = pd.concat([conv_exposed, conv_rest], ignore_index=True)
    conv["type"] = rng.choice(["purchase", "signup", "lead"], len(conv), p=[.6, .3, .1])
    conv["value"] = np.where(conv["type"] == "purchase", rng.gamma(2, 20, len(conv)).round(2), np.nan)
    views = pd.DataFrame({"household": rng.choice(households, 20_000, p=weights),
                          "ts": start + pd.to_timedelta(rng.uniform(0, flight, 20_000), unit="s"), "type": "pageview",
                          "value": np.nan})
    events = pd.concat([conv, views], ignore_index=True)
    events["ts"] = pd.to_datetime(events["ts"], utc=True).dt.floor("ms")
    events["event_id"] = [f"e{i}" for i in range(len(events))]
    events["household_key"] = events["household"].map("{:024x}".format)
    events["ip_shared"] = rng.random(len(events)) < .05
    return frame, events


def copy(dsn: str, table: str, frame: pd.DataFrame, columns: list[str]) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as cp:
            for start in range(0, len(frame), 500_000):
                buf = io.StringIO()
                frame.iloc[start:start + 500_000][columns].to_csv(buf, header=False, index=False,
                                                                  date_format="%Y-%m-%d %H:%M:%S.%f+00")
                cp.write(buf.getvalue())
        conn.commit()


def baseline(dsn: str, world: dict) -> tuple[float, int]:
    """PostgreSQL alone: the downloads of the campaign's shows in its window (exposures and control candidates) and
    the sponsor's events, each as one plain COPY ... TO STDOUT whose bytes are thrown away (best of 3)."""
    a = datetime.combine(FLIGHT_START, datetime.min.time(), tzinfo=UTC) - timedelta(days=LOOKBACK)
    b = datetime.combine(FLIGHT_START + timedelta(days=FLIGHT_DAYS), datetime.min.time(), tzinfo=UTC) \
        + timedelta(days=LOOKBACK)
    shows = sorted({show for _, show in world["placed"]})
    queries = [
        f"SELECT household_key, ts, podcast_id, episode_id FROM downloads WHERE tenant_id = {world['tenant_id']} "
        f"AND podcast_id IN ({', '.join(map(str, shows))}) AND ts >= '{a.isoformat()}' AND ts < '{b.isoformat()}' "
        "AND household_key IS NOT NULL",
        f"SELECT ts, event_id, type, household_key, household_key_prev, ip_shared, value, campaign_id, promo_code "
        f"FROM attribution_events WHERE tenant_id = {world['tenant_id']} AND sponsor_id = {world['sponsor_id']} "
        f"AND ts >= '{(a - timedelta(days=60)).isoformat()}' AND ts < '{b.isoformat()}'"]
    best, size = float("inf"), 0
    for _ in range(3):
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            t0, size = time.perf_counter(), 0
            for query in queries:
                with cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as cp:
                    for block in cp:
                        size += len(block)
            best = min(best, time.perf_counter() - t0)
    return best, size


def child(name: str, tenant_id: int, campaign_id: int) -> None:
    """Run attribute_campaign as the job would, and print wall seconds and this process's peak RSS as JSON."""
    from services.db import Database
    from services.sponsorship.attribution.results import attribute_campaign

    db = Database(APP_URL.format(name=name), "podcast_worker")
    phases: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    outcome = attribute_campaign(db, tenant_id, campaign_id,
                                 progress=lambda _f, message: phases.append((time.perf_counter() - t0, message)))
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"wall": wall, "rss": rss, "conversions": outcome.conversions,
                      "touchpoints": outcome.touchpoints, "lift": outcome.counts["lift"], "phases": phases}))


def digest(dsn: str, world: dict) -> list[str]:
    lines = []
    with psycopg.connect(dsn) as conn:
        sums = conn.execute("SELECT count(*), count(DISTINCT event_id), "
                            + ", ".join(f"round(sum({m})::numeric, 3)" for m in MODELS)
                            + " FROM attribution_touchpoints WHERE campaign_id = %s", (world["campaign_id"],)).fetchone()
        lines.append(f"touchpoints {sums[0]:,}, conversions {sums[1]:,}")
        lines.append("total credit per model: " + ", ".join(f"{m}={v}" for m, v in zip(MODELS, sums[2:])))
        tops, h = [], hashlib.sha256()
        for m in MODELS:
            rows = conn.execute(f"SELECT placement_id, round(sum({m})::numeric, 3) FROM attribution_touchpoints "
                                f"WHERE campaign_id = %s GROUP BY 1 ORDER BY 2 DESC, 1", (world["campaign_id"],)).fetchall()
            tops.append(f"{m}: placement {rows[0][0]} ({rows[0][1]})")
            h.update(repr([(p, str(c)) for p, c in rows]).encode())
        lines.append("top placement: " + "; ".join(tops))
        lines.append(f"sha256 of the per-placement credits: {h.hexdigest()[:16]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exposures", type=int, default=1_000_000)
    parser.add_argument("--conversions", type=int, default=100_000)
    parser.add_argument("--placements", type=int, default=50)
    parser.add_argument("--households", type=int, default=250_000)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("DB", "TENANT", "CAMPAIGN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    from services import migrate
    from services.db import Database

    name = create_database()
    dsn = PG_DB.format(name=name)
    try:
        t0 = time.perf_counter()
        migrate.upgrade(APP_URL.format(name=name))
        db = Database(APP_URL.format(name=name), "podcast_worker")
        world = build_catalog(db, args.placements)
        db.dispose()
        downloads, events = generate(np.random.default_rng(SEED), world, args.exposures, args.conversions,
                                     args.households)
        downloads = downloads.assign(tenant_id=world["tenant_id"], flags=0)
        copy(dsn, "downloads", downloads, ["ts", "tenant_id", "episode_id", "listener_key", "podcast_id", "flags",
                                           "household_key"])
        events = events.assign(tenant_id=world["tenant_id"], sponsor_id=world["sponsor_id"], source="s2s")
        copy(dsn, "attribution_events", events, ["ts", "sponsor_id", "event_id", "tenant_id", "source", "type",
                                                 "household_key", "ip_shared", "value"])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        exposures = int((downloads["episode_id"].isin([e for e, _ in world["placed"]])).sum())
        print(f"database {name}: {len(downloads):,} downloads ({exposures:,} exposures on {args.placements} "
              f"placements), {len(events):,} events ({args.conversions:,} conversions); built in "
              f"{time.perf_counter() - t0:.1f}s", flush=True)
        del downloads, events
        base, size = baseline(dsn, world)
        print(f"baseline: PostgreSQL alone sends the shows' downloads and the sponsor's events ({size / 2**20:,.0f} "
              f"MiB of CSV) in {base:.2f}s (best of 3)", flush=True)
        out = subprocess.run([sys.executable, __file__, "--child", name, str(world["tenant_id"]),
                              str(world["campaign_id"])], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"attribute_campaign failed:\n{out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"attribute_campaign: {result['wall']:.2f}s wall (target <= 30), peak RSS "
              f"{result['rss'] / 2**20:,.0f} MiB (target < 2048); {result['wall'] / base:.1f}x the baseline read")
        print("  phases (seconds from the start, then what began): "
              + "; ".join(f"{at:.1f} {message}" for at, message in result["phases"]))
        lift = result["lift"]
        print(f"lift: exposed {lift['exposed_converters']:,}/{lift['exposed_households']:,}, control "
              f"{lift['control_converters']:,}/{lift['control_households']:,}: {lift['message']}")
        for line in digest(dsn, world):
            print(line)
    finally:
        if not args.keep_db:
            drop_database(name)


if __name__ == "__main__":
    main()
