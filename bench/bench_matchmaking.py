"""Benchmark: matchmaking on a synthetic network (SQLite), against reading its inputs alone as the same-run floor.

Run from the project root:
    python bench/bench_matchmaking.py [--shows 100] [--sponsors 40] [--campaigns 200] [--placements 1000]
                                      [--days 90] [--repeat 3]

It builds a network with random categories, industries, flights and placements and --days of daily, country and app
rollups per show; then times (median of --repeat): reading the network's inputs (load_network: the floor every call
pays), a campaign's ranking computed live, the workflow handler storing it, the stored ranking read back, and the
sponsors ranked for one show. The digest of the rankings lets two runs be compared for equal results.
"""
from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services import migrate  # noqa: E402
from services.db import Database  # noqa: E402
from services.models import (  # noqa: E402
    Campaign, Placement, Podcast, PodcastAppDailyMetric, PodcastDailyMetric, PodcastGeoDailyMetric, Sponsor, Tenant,
)
from services.sponsorship import matchmaking  # noqa: E402
from services.sponsorship.match_inputs import load_network  # noqa: E402
from services.tenancy import TenantContext  # noqa: E402

AS_OF = date(2026, 6, 15)
CATEGORIES = ("Technology", "Business", "News", "Arts", "Comedy", "Health", "Sports", "Society & Culture")
INDUSTRIES = ("Food & Beverage", "Technology", "Finance", "Travel", "Health")
COUNTRIES = ("US", "GB", "DE", "CA", "FR", "AU", "IN", "BR")
APPS = ("Overcast", "Spotify", "Apple Podcasts", "Pocket Casts")


def build(db: Database, args, rng: random.Random) -> tuple[int, int, int]:
    with db.session(system=True) as s:
        tenant = Tenant(slug="bench", name="Bench")
        s.add(tenant)
        s.flush()
        shows = [Podcast(tenant_id=tenant.id, title=f"Show {i}", category=rng.choice(CATEGORIES), prefix_key=f"k{i}")
                 for i in range(args.shows)]
        sponsors = [Sponsor(tenant_id=tenant.id, name=f"Sponsor {i}", industry=rng.choice(INDUSTRIES))
                    for i in range(args.sponsors)]
        s.add_all(shows + sponsors)
        s.flush()
        campaigns = []
        for i in range(args.campaigns):
            start = AS_OF + timedelta(days=rng.randint(-30, 30))
            campaigns.append(Campaign(
                tenant_id=tenant.id, sponsor_id=rng.choice(sponsors).id, name=f"Campaign {i}",
                status=rng.choice(("draft", "proposed", "approved", "live", "completed")), start_date=start,
                end_date=start + timedelta(days=30), pricing="cpm", cpm=20, budget=5000, goal_impressions=100_000,
                target_categories=rng.sample(CATEGORIES, 2), target_countries=["US", "GB"],
                excluded_categories=[rng.choice(CATEGORIES)]))
        s.add_all(campaigns)
        s.flush()
        for _ in range(args.placements):
            c = rng.choice(campaigns)
            s.add(Placement(tenant_id=tenant.id, campaign_id=c.id, podcast_id=rng.choice(shows).id,
                            start_date=c.start_date, end_date=c.end_date))
        daily, geo, apps = [], [], []
        for show in shows:
            base = rng.randint(50, 5000)
            for k in range(args.days):
                day = AS_OF - timedelta(days=k)
                common = {"tenant_id": tenant.id, "podcast_id": show.id, "day": day}
                daily.append({**common, "downloads": base, "listeners": base})
                geo += [{**common, "country": c, "region": "unknown", "downloads": rng.randint(0, base),
                         "listeners": 0} for c in COUNTRIES]
                apps += [{**common, "app": a, "downloads": rng.randint(0, base), "listeners": 0} for a in APPS]
        for model, rows in ((PodcastDailyMetric, daily), (PodcastGeoDailyMetric, geo), (PodcastAppDailyMetric, apps)):
            s.execute(model.__table__.insert(), rows)
        s.commit()
        return tenant.id, campaigns[0].id, shows[0].id


def timed(repeat: int, call) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("shows", 100), ("sponsors", 40), ("campaigns", 200), ("placements", 1000), ("days", 90),
                          ("repeat", 3)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    migrate.upgrade(url)
    db = Database(url)
    tenant_id, campaign_id, podcast_id = build(db, args, random.Random(20261203))
    ctx = TenantContext(tenant_id, "owner")

    def floor():
        with db.session(tenant_id) as s:
            return load_network(s, tenant_id, AS_OF)

    runs = [("inputs alone (floor)", floor),
            ("campaign ranking, live", lambda: matchmaking.campaign_recommendations(db, ctx, campaign_id, AS_OF)),
            ("handler: compute and store", lambda: matchmaking.recompute(db, tenant_id, campaign_id, AS_OF)),
            ("campaign ranking, stored", lambda: matchmaking.campaign_recommendations(db, ctx, campaign_id, AS_OF)),
            ("sponsors for a show", lambda: matchmaking.sponsor_recommendations(db, ctx, podcast_id, AS_OF))]
    print(f"network: {args.shows} shows, {args.sponsors} sponsors, {args.campaigns} campaigns, "
          f"{args.placements} placements, {args.days} days of rollups")
    digest = hashlib.sha256()
    base = None
    for label, call in runs:
        seconds, result = timed(args.repeat, call)
        base = base or seconds
        rows = getattr(result, "rows", result if isinstance(result, list) else [])
        digest.update(repr([(r.key, r.score, r.excluded_because) for r in rows]).encode())
        print(f"{label:28s} {seconds * 1000:8.1f} ms  ({seconds / base:4.1f}x the floor)")
    print(f"digest {digest.hexdigest()[:16]}")
    db.dispose()


if __name__ == "__main__":
    main()
