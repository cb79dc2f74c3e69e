"""Delivery: campaign_metrics equal an independent computation over the counted downloads; the refresh is idempotent;
pacing, forecast and makegoods behave on constructed histories."""
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from services import campaigns, delivery, placements
from services.errors import NotFound, ValidationError
from services.measurement import store
from services.models import CampaignMetric, CampaignReach
from tests.unit.campaigns.conftest import ANCHOR, campaign_data


def _store_downloads(network, rows: list[tuple]) -> pd.DataFrame:
    """rows: (ts, tenant_id, podcast_id, episode_id, listener_key); stored as counted downloads with rollups."""
    frame = pd.DataFrame(rows, columns=["ts", "tenant_id", "podcast_id", "episode_id", "listener_key"])
    frame = frame.drop_duplicates(["ts", "tenant_id", "episode_id", "listener_key"]).reset_index(drop=True)
    frame = frame.assign(app="Overcast", device="phone", os="iOS", country="US", region=None, referrer=None)
    first, last = frame.ts.min().date(), frame.ts.max().date()
    for tenant_id, part in frame.groupby("tenant_id"):
        with network.db.session(int(tenant_id)) as s:
            store.replace_downloads(s, int(tenant_id), first, last, part)
            store.refresh_rollups(s, int(tenant_id), first, last)
            s.commit()
    return frame


def _random_history(network, n=4000, seed=7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2026, 5, 20, tzinfo=timezone.utc)
    shows = [("tech", network.podcasts["tech"]), ("biz", network.podcasts["biz"])]
    rows = []
    for _ in range(n):
        key, podcast = shows[rng.integers(0, 2)]
        episode = network.episodes[key][rng.integers(0, 6)]
        ts = start + timedelta(seconds=int(rng.integers(0, 45 * 86400)))
        rows.append((ts, network.tenant_id, podcast, episode, f"L{rng.integers(0, 400):04d}"))
    # Flight edges: the first and last second of June count, the seconds around them do not.
    tech_ep = network.episodes["tech"][2]
    for ts in ("2026-05-31 23:59:59", "2026-06-01 00:00:00", "2026-06-30 23:59:59", "2026-07-01 00:00:00"):
        rows.append((pd.Timestamp(ts, tz="UTC").to_pydatetime(), network.tenant_id, network.podcasts["tech"], tech_ep,
                     "EDGE"))
    # Another tenant's downloads in the same days never count.
    for i in range(200):
        rows.append((start + timedelta(hours=i * 5), network.other_tenant_id, network.podcasts["other"], 10_000,
                     f"O{i}"))
    return _store_downloads(network, rows)


def _expected(frame: pd.DataFrame, network, lines: list[dict]) -> pd.DataFrame:
    """The independent computation: each placement's downloads, straight from the stored frame."""
    mine = frame[frame.tenant_id == network.tenant_id]
    parts = []
    for line in lines:
        lo = pd.Timestamp(line["start"], tz="UTC")
        hi = pd.Timestamp(line["end"], tz="UTC") + pd.Timedelta(days=1)
        hit = mine[(mine.ts >= lo) & (mine.ts < hi)]
        if line.get("episode_id"):
            hit = hit[hit.episode_id == line["episode_id"]]
        else:
            hit = hit[hit.podcast_id == line["podcast_id"]]
        parts.append(hit.assign(line=line["name"]))
    out = pd.concat(parts, ignore_index=True)
    out["day"] = out.ts.dt.date
    return out


@pytest.fixture
def delivered(network):
    frame = _random_history(network)
    editor = network.ctx("editor")
    campaign_id = campaigns.create_campaign(network.db, editor, campaign_data(
        network, start_date="2026-06-01", end_date="2026-06-30", promo_code=None)).id
    tech, biz, ep = network.podcasts["tech"], network.podcasts["biz"], network.episodes["biz"][4]
    lines = [{"name": "tech all", "podcast_id": tech, "start": "2026-06-01", "end": "2026-06-30"},
             {"name": "biz one", "podcast_id": biz, "episode_id": ep, "start": "2026-06-05", "end": "2026-06-12"},
             {"name": "tech mid", "podcast_id": tech, "start": "2026-06-10", "end": "2026-06-11"}]
    for line in lines:
        placements.create_placement(network.db, editor, campaign_id, {
            "podcast_id": line["podcast_id"], "episode_id": line.get("episode_id"), "start_date": line["start"],
            "end_date": line["end"]})
    delivery.refresh_campaign(network.db, network.tenant_id, campaign_id)
    return campaign_id, _expected(frame, network, lines)


def test_delivery_by_day_podcast_and_episode_equal_the_downloads(network, delivered):
    campaign_id, expected = delivered
    viewer = network.ctx("viewer")
    by_day = delivery.delivery_by(network.db, viewer, campaign_id, "day")
    assert len(by_day) == 30 and by_day.day.min() == date(2026, 6, 1)  # every flight day, zeros included
    want = expected.groupby("day").size()
    assert by_day.set_index("day").impressions[lambda s: s > 0].to_dict() == want.to_dict()
    assert by_day.impressions.sum() == len(expected) > 500
    by_podcast = delivery.delivery_by(network.db, viewer, campaign_id, "podcast")
    assert dict(zip(by_podcast.podcast_id, by_podcast.impressions)) == expected.groupby("podcast_id").size().to_dict()
    by_episode = delivery.delivery_by(network.db, viewer, campaign_id, "episode")
    assert dict(zip(by_episode.episode_id, by_episode.impressions)) == expected.groupby("episode_id").size().to_dict()
    edge = expected[expected.listener_key == "EDGE"]
    assert sorted(edge.ts.dt.strftime("%m-%d %H:%M:%S")) == ["06-01 00:00:00", "06-30 23:59:59"]


def test_listeners_reach_and_frequency_equal_the_downloads(network, delivered):
    campaign_id, expected = delivered
    by_day = delivery.delivery_by(network.db, network.ctx(), campaign_id, "day").set_index("day")
    per_line_day = expected.groupby(["line", "episode_id", "day"]).listener_key.nunique().groupby("day").sum()
    assert by_day.listeners[lambda s: s > 0].to_dict() == per_line_day.to_dict()
    reach = delivery.reach(network.db, network.ctx(), campaign_id).set_index("podcast_id")
    assert reach.loc[0, "reach"] == expected.listener_key.nunique()
    assert reach.loc[0, "impressions"] == len(expected)
    assert reach.loc[0, "frequency"] == round(len(expected) / expected.listener_key.nunique(), 2)
    for podcast_id, part in expected.groupby("podcast_id"):
        assert reach.loc[podcast_id, "reach"] == part.listener_key.nunique()


def test_a_date_range_narrows_the_delivery(network, delivered):
    campaign_id, expected = delivered
    frame = delivery.delivery_by(network.db, network.ctx(), campaign_id, "podcast", date(2026, 6, 10),
                                 date(2026, 6, 11))
    part = expected[(expected.day >= date(2026, 6, 10)) & (expected.day <= date(2026, 6, 11))]
    assert frame.impressions.sum() == len(part)
    with pytest.raises(ValidationError) as caught:
        delivery.delivery_by(network.db, network.ctx(), campaign_id, "week")
    assert "group_by" in caught.value.fields
    with pytest.raises(ValidationError):
        delivery.delivery_by(network.db, network.ctx(), campaign_id, "day", date(2026, 6, 11), date(2026, 6, 10))


def test_refresh_is_idempotent_and_follows_placement_changes(network, delivered):
    campaign_id, expected = delivered

    def snapshot():
        with network.db.session(network.tenant_id) as s:
            return (sorted(tuple(r) for r in s.execute(select(
                CampaignMetric.placement_id, CampaignMetric.episode_id, CampaignMetric.day, CampaignMetric.impressions,
                CampaignMetric.listeners)).all()),
                    sorted(tuple(r) for r in s.execute(select(CampaignReach.podcast_id, CampaignReach.reach)).all()))

    before = snapshot()
    assert delivery.refresh_campaign(network.db, network.tenant_id, campaign_id) == len(expected)
    assert snapshot() == before
    row = placements.list_placements(network.db, network.ctx(), campaign_id)[0]
    placements.delete_placement(network.db, network.ctx("editor"), campaign_id, row.id)
    delivery.refresh_campaign(network.db, network.tenant_id, campaign_id)
    with network.db.session(network.tenant_id) as s:
        assert s.scalar(select(func.count()).where(CampaignMetric.placement_id == row.id)) == 0


def test_sponsor_and_other_tenant_access(network, delivered):
    campaign_id, expected = delivered
    own = delivery.delivery_by(network.db, network.ctx("sponsor", "coffee"), campaign_id, "day")
    assert own.impressions.sum() == len(expected)
    for ctx in (network.ctx("sponsor", "tea"), network.other()):
        with pytest.raises(NotFound):
            delivery.delivery_by(network.db, ctx, campaign_id, "day")
        with pytest.raises(NotFound):
            delivery.pacing(network.db, ctx, campaign_id, ANCHOR)
    assert delivery.pacing(network.db, network.ctx("sponsor", "coffee"), campaign_id, ANCHOR).makegoods == []


# --- pacing and forecast on constructed histories ---------------------------------------------------------------

def test_expected_to_date_prorates_the_goal():
    start, end = date(2026, 6, 1), date(2026, 6, 30)
    assert delivery.expected_to_date(3000, start, end, date(2026, 5, 20)) == 0
    assert delivery.expected_to_date(3000, start, end, date(2026, 6, 1)) == 100
    assert delivery.expected_to_date(3000, start, end, date(2026, 6, 15)) == 1500
    assert delivery.expected_to_date(3000, start, end, date(2026, 8, 1)) == 3000


def test_spend_to_date():
    start, end = date(2026, 6, 1), date(2026, 6, 30)
    assert delivery.spend_to_date("cpm", 12_345, 20.0, None, start, end, date(2026, 6, 15)) == 246.9
    assert delivery.spend_to_date("flat", 999, None, 3000.0, start, end, date(2026, 6, 10)) == 1000.0
    assert delivery.spend_to_date("flat", 999, None, 3000.0, start, end, date(2026, 7, 10)) == 3000.0
    assert delivery.spend_to_date("flat", 0, None, 3000.0, start, end, date(2026, 5, 10)) == 0.0


def test_recent_daily_rate_counts_missing_days_as_zero():
    as_of = date(2026, 6, 15)
    daily = pd.Series({as_of - timedelta(days=i): 10.0 for i in range(14)})  # 14 of the last 28 days
    assert delivery.recent_daily_rate(daily, as_of) == 5.0
    assert delivery.recent_daily_rate(daily, as_of, days=7) == 10.0
    assert delivery.recent_daily_rate(pd.Series(dtype=float), as_of) == 0.0


def test_forecast_remaining_counts_only_days_still_to_come():
    as_of = date(2026, 6, 15)
    rates = [(100.0, date(2026, 6, 1), date(2026, 6, 30)),  # 15 days left
             (10.0, date(2026, 6, 20), date(2026, 6, 24)),  # not started: all 5 days
             (50.0, date(2026, 6, 1), date(2026, 6, 10))]  # over
    assert delivery.forecast_remaining(rates, as_of) == 100 * 15 + 10 * 5


def test_upcoming_releases_follow_the_shows_cadence():
    published = [datetime(2026, 6, d, 9, tzinfo=timezone.utc) for d in (1, 8, 15)]
    assert delivery.upcoming_releases(published, date(2026, 6, 15), date(2026, 7, 6)) == [
        date(2026, 6, 22), date(2026, 6, 29), date(2026, 7, 6)]
    assert delivery.upcoming_releases(published[:1], date(2026, 6, 15), date(2026, 7, 6)) == []


def test_makegoods_cover_the_shortfall_with_the_earliest_episodes():
    mk = lambda d, n: delivery.Makegood(1, "Show", date(2026, 7, d), n)  # noqa: E731
    chosen = delivery.suggest_makegoods(1000, [mk(20, 400), mk(6, 400), mk(13, 0), mk(27, 400), mk(13, 400)])
    assert [m.release.day for m in chosen] == [6, 13, 20]
    assert delivery.suggest_makegoods(0, [mk(6, 400)]) == []
    assert len(delivery.suggest_makegoods(10**9, [mk(d, 1) for d in range(1, 30)], limit=8)) == 8


def _steady_history(network):
    """100 downloads a day on Tech Talk over the 28 days to ANCHOR; each Biz Daily episode 50 on release day."""
    rows = []
    for day in range(28):
        moment = datetime.combine(ANCHOR - timedelta(days=day), time(12), tzinfo=timezone.utc)
        for i in range(100):
            rows.append((moment + timedelta(seconds=i), network.tenant_id, network.podcasts["tech"],
                         network.episodes["tech"][i % 6], f"T{day}-{i}"))
    for n, episode in enumerate(network.episodes["biz"]):
        released = datetime.combine(ANCHOR - timedelta(days=7 * (6 - n)), time(10), tzinfo=timezone.utc)
        rows += [(released + timedelta(seconds=i), network.tenant_id, network.podcasts["biz"], episode, f"B{n}-{i}")
                 for i in range(50)]
    _store_downloads(network, rows)


@pytest.mark.parametrize("goal,under", [(4000, True), (3000, False)])
def test_pacing_forecast_and_makegoods_on_a_steady_show(network, goal, under):
    _steady_history(network)
    editor = network.ctx("editor")
    campaign_id = campaigns.create_campaign(network.db, editor, campaign_data(
        network, start_date="2026-06-01", end_date="2026-06-30", goal_impressions=goal, promo_code=None,
        excluded_categories=[])).id
    placements.create_placement(network.db, editor, campaign_id, {"podcast_id": network.podcasts["tech"]})
    delivery.refresh_campaign(network.db, network.tenant_id, campaign_id)
    p = delivery.pacing(network.db, network.ctx("viewer"), campaign_id, as_of=ANCHOR)
    assert p.delivered == 15 * 100  # June 1..15
    assert p.expected == goal * 15 / 30 and p.pace == pytest.approx(1500 / (goal / 2))
    assert p.forecast == pytest.approx(1500 + 100 * 15)  # the show's recent 100 a day for the 15 days left
    assert p.spend == 1500 * 25 / 1000
    assert p.under_delivery is under and p.shortfall == (goal - 3000 if under else 0)
    if under:
        # Biz Daily releases weekly (next ones expected June 22, 29, ...), each worth its recent launches (50);
        # Tech Talk's releases inside the flight are already in the forecast: only later ones are offered.
        assert [m.release for m in p.makegoods[:2]] == [date(2026, 6, 22), date(2026, 6, 29)]
        assert all(m.expected_impressions == 50 for m in p.makegoods if m.podcast == "Biz Daily")
        assert all(m.release > date(2026, 6, 30) for m in p.makegoods if m.podcast == "Tech Talk")
        assert sum(m.expected_impressions for m in p.makegoods[:-1]) < p.shortfall  # no more than needed
    else:
        assert p.makegoods == []
    after = delivery.pacing(network.db, network.ctx("viewer"), campaign_id, as_of=date(2026, 7, 5))
    assert after.flight_over and not p.flight_over
    assert after.forecast == after.delivered == 1500 and after.expected == goal and after.shortfall == goal - 1500


def test_makegoods_respect_brand_safety_exclusions(network):
    _steady_history(network)
    editor = network.ctx("editor")
    campaign_id = campaigns.create_campaign(network.db, editor, campaign_data(
        network, goal_impressions=40000, target_categories=[], excluded_categories=["Business"], promo_code=None)).id
    placements.create_placement(network.db, editor, campaign_id, {"podcast_id": network.podcasts["tech"]})
    delivery.refresh_campaign(network.db, network.tenant_id, campaign_id)
    p = delivery.pacing(network.db, network.ctx(), campaign_id, as_of=ANCHOR)
    assert p.under_delivery and all(m.podcast != "Biz Daily" for m in p.makegoods)


def test_campaign_list_shows_delivery_so_far(network, delivered):
    campaign_id, expected = delivered
    summaries = delivery.campaign_summaries(network.db, network.ctx("viewer"))
    row = next(r for r in summaries if r.campaign.id == campaign_id)
    assert (row.impressions, row.reach) == (len(expected), expected.listener_key.nunique())
    assert row.goal_share == len(expected) / 40000
    assert delivery.campaign_summaries(network.db, network.ctx("sponsor", "tea")) == []
