"""The demo campaigns' delivery before and after the targeting rule (a dynamically inserted ad counts only downloads
from the campaign's target countries), and what the rule costs the delivery refresh.

"Before" is every carried download, which is what a baked-in placement counts; "after" is the rule with the demo's
placements as they are (dynamic, targeting US, GB and CA). Spend is at the campaign's CPM.

Run: python bench/bench_targeting.py   (SQLite; prints the figures, refresh times and a same-run baseline ratio)
"""
from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, update  # noqa: E402

from services import accounts, demo, migrate  # noqa: E402
from services.db import Database  # noqa: E402
from services.models import Campaign, Placement  # noqa: E402
from services.sponsorship import delivery, pacing  # noqa: E402
from services.tenancy import TenantContext  # noqa: E402

ROUNDS = 5


def baseline() -> float:
    """A fixed CPU task timed in the same run, so a slow host shows as a slower baseline, not a slower refresh."""
    start = time.perf_counter()
    sum(i * i for i in range(3_000_000))
    return time.perf_counter() - start


def set_insertion(db: Database, tenant_id: int, campaign_id: int, insertion: str) -> None:
    with db.session(tenant_id) as s:
        s.execute(update(Placement).where(Placement.campaign_id == campaign_id).values(insertion=insertion))
        s.commit()


def measure(db: Database, ctx: TenantContext, campaign_id: int) -> tuple[float, dict]:
    """The refresh's best time of ROUNDS, then the delivery, reach and spend it leaves."""
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        delivery.refresh_campaign(db, ctx.tenant_id, campaign_id)
        times.append(time.perf_counter() - start)
    p = pacing.pacing(db, ctx, campaign_id)
    return min(times), {"impressions": p.delivered, "reach": p.reach, "spend": p.spend, "forecast": round(p.forecast)}


def main() -> None:
    base = baseline()
    print(f"baseline task: {base:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        db = Database(url)
        demo.seed_demo(db, password="bench-password-1")
        ctx = TenantContext(accounts.get_tenant_by_slug(db, "demo").id, "owner")
        with db.session(ctx.tenant_id) as s:
            rows = s.execute(select(Campaign.id, Campaign.name, Campaign.target_countries)
                             .where(Campaign.tenant_id == ctx.tenant_id).order_by(Campaign.id)).all()
        digest = hashlib.sha256()
        cost = {"before": 0.0, "after": 0.0}
        print(f"{'campaign':<20} {'targets':<11} {'impressions before':>18} {'after':>8} {'share':>6} "
              f"{'reach before':>12} {'after':>6} {'spend before':>12} {'after':>8} {'forecast before':>15} {'after':>6}")
        for campaign_id, name, targets in rows:
            set_insertion(db, ctx.tenant_id, campaign_id, "baked")  # every carried download: the old count
            t_before, before = measure(db, ctx, campaign_id)
            set_insertion(db, ctx.tenant_id, campaign_id, "dynamic")  # the demo's placements as they are
            t_after, after = measure(db, ctx, campaign_id)
            cost["before"] += t_before
            cost["after"] += t_after
            share = after["impressions"] / before["impressions"] if before["impressions"] else 0.0
            print(f"{name:<20} {','.join(targets):<11} {before['impressions']:>18,} {after['impressions']:>8,} "
                  f"{share:>6.1%} {before['reach']:>12,} {after['reach']:>6,} {before['spend']:>12,.2f} "
                  f"{after['spend']:>8,.2f} {before['forecast']:>15,} {after['forecast']:>6,}")
            digest.update(repr((name, before, after)).encode())
        db.dispose()
    print(f"refresh, every carried download: {cost['before'] * 1000:.1f} ms ({cost['before'] / base:.3f}x baseline)")
    print(f"refresh, with the country rule: {cost['after'] * 1000:.1f} ms ({cost['after'] / base:.3f}x baseline; "
          f"{cost['after'] / cost['before']:.2f}x the unfiltered refresh)")
    print(f"digest of the figures: {digest.hexdigest()[:16]}")


if __name__ == "__main__":
    main()
