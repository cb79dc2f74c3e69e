"""A network built for matchmaking, where the right order is known by hand (as of ANCHOR, a 10-day flight of 40 000
impressions... scaled down: a goal of 400 over June 16-25).

Shows (daily downloads over the 28 days to ANCHOR; country and app of every download):
- tech    "Tech Talk"      Technology  40/day  US, Overcast
- biz     "Biz Daily"      Business    20/day  half US half GB, Overcast
- arts    "Art Hour"       Arts        10/day  DE, Spotify
- news    "World News"     News        80/day  US, Overcast  -> brand safety: the campaign excludes News
- gadget  "Gadget Kitchen" Technology  80/day  US, Overcast  -> Acme Tea (same industry as Northwind Coffee) is on it
                                                               June 20-30: a competitor in overlapping days

Northwind Coffee's campaign (Technology, Business; US; goal 400 at CPM 25, budget 1000, June 16-25), defaults:
tech 1,1,1,1,1,0.5 -> 10/11; biz 1,0.5,0.5,1,1,0.5 -> 8/11; arts 0,0,0.25,1,1,0.5 -> 3.5/11."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd

from services.measurement import store
from services.models import CampaignReach, Episode, Podcast
from services.models.attribution import CREDIT_MODELS, AttributionDaily, AttributionRun, AttributionTouchpoint
from services.sponsorship import campaigns, placements
from tests.unit.campaigns.conftest import ANCHOR, campaign_data

FLIGHT = ("2026-06-16", "2026-06-25")
SHOWS = {  # key: (title, category, downloads a day, [(country, app, share)])
    "arts": ("Art Hour", "Arts", 10, [("DE", "Spotify", 1.0)]),
    "news": ("World News", "News", 80, [("US", "Overcast", 1.0)]),
    "gadget": ("Gadget Kitchen", "Technology", 80, [("US", "Overcast", 1.0)]),
}
MIXES = {"tech": [("US", "Overcast", 1.0)], "biz": [("US", "Overcast", 0.5), ("GB", "Overcast", 0.5)]}
RATES = {"tech": 40, "biz": 20}


def add_shows(network) -> None:
    with network.db.session(network.tenant_id) as s:
        for key, (title, category, _rate, _mix) in SHOWS.items():
            podcast = Podcast(tenant_id=network.tenant_id, title=title, category=category, prefix_key=f"key-{key}")
            s.add(podcast)
            s.flush()
            episode = Episode(tenant_id=network.tenant_id, podcast_id=podcast.id, guid=f"{key}-0", title=f"{title} #0",
                              published_at=datetime(2026, 5, 1, 9, tzinfo=timezone.utc))
            s.add(episode)
            s.flush()
            network.podcasts[key], network.episodes[key] = podcast.id, [episode.id]
        s.commit()


def store_audience(network, days: int = 28) -> None:
    """Every show's downloads over the `days` days to ANCHOR, with its country and app mix, and the rollups."""
    rows = []
    plan = {**{k: (RATES[k], MIXES[k]) for k in RATES}, **{k: (v[2], v[3]) for k, v in SHOWS.items()}}
    for key, (rate, mix) in plan.items():
        for d in range(days):
            day = ANCHOR - timedelta(days=d)
            n = 0
            for country, app, share in mix:
                for _ in range(int(round(rate * share))):
                    ts = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(minutes=n)
                    rows.append((ts, network.tenant_id, network.podcasts[key], network.episodes[key][0],
                                 f"{key}-{day}-{n}", app, country))
                    n += 1
    frame = pd.DataFrame(rows, columns=["ts", "tenant_id", "podcast_id", "episode_id", "listener_key", "app",
                                        "country"]).assign(device="phone", os="iOS", region=None, referrer=None)
    first, last = ANCHOR - timedelta(days=days - 1), ANCHOR
    with network.db.session(network.tenant_id) as s:
        store.replace_downloads(s, network.tenant_id, first, last, frame, rollups=True)
        s.commit()


def make_campaign(network, sponsor="coffee", name="Morning Ritual", start=FLIGHT[0], end=FLIGHT[1], **extra) -> int:
    data = campaign_data(network, sponsor_id=network.sponsors[sponsor], name=name, start_date=start, end_date=end,
                         promo_code=None, goal_impressions="400", cpm="25", budget="1000", target_countries="US",
                         **extra)
    return campaigns.create_campaign(network.db, network.ctx("editor"), data).id


def place(network, campaign_id: int, show: str, start: str | None = None, end: str | None = None) -> None:
    data = {"podcast_id": network.podcasts[show]}
    if start:
        data.update(start_date=start, end_date=end)
    placements.create_placement(network.db, network.ctx("editor"), campaign_id, data)


def build(network) -> dict:
    """The shows, their audience, Acme Tea on Gadget Kitchen June 20-30, and Northwind Coffee's campaign."""
    add_shows(network)
    store_audience(network)
    tea = make_campaign(network, "tea", "Tea Time", "2026-06-20", "2026-06-30", target_categories="Food")
    place(network, tea, "gadget")
    coffee = make_campaign(network, "coffee")
    return {"coffee": coffee, "tea": tea}


def store_results(network, campaign_id: int, results: dict[str, tuple[int, float]]) -> None:
    """A finished attribution of `campaign_id`: per show, (impressions delivered, linear credit), stored as a run
    stores it: touchpoints and their daily rollup."""
    ts = datetime(2026, 5, 20, 12, tzinfo=timezone.utc)
    with network.db.session(network.tenant_id) as s:
        s.add(AttributionRun(tenant_id=network.tenant_id, campaign_id=campaign_id, status="finished",
                             computed_at=ts))
        for touch, (show, (impressions, credit)) in enumerate(sorted(results.items())):
            s.add(CampaignReach(tenant_id=network.tenant_id, campaign_id=campaign_id,
                                podcast_id=network.podcasts[show], impressions=impressions, reach=impressions))
            s.add(AttributionTouchpoint(
                conversion_ts=ts, campaign_id=campaign_id, event_id=f"e-{show}", touch=touch,
                tenant_id=network.tenant_id, household_key="h", conversion_type="purchase", value=10.0,
                exposure_ts=ts - timedelta(days=1), placement_id=0, podcast_id=network.podcasts[show],
                episode_id=network.episodes[show][0], days_since_exposure=1.0,
                **{m: credit for m in CREDIT_MODELS}))
            s.add(AttributionDaily(
                day=ts.date(), tenant_id=network.tenant_id, campaign_id=campaign_id, placement_id=0,
                episode_id=network.episodes[show][0], lag_days=1, podcast_id=network.podcasts[show],
                **{m: credit for m in CREDIT_MODELS}, **{m + "_revenue": credit * 10.0 for m in CREDIT_MODELS}))
        s.commit()


def as_of() -> date:
    return ANCHOR
