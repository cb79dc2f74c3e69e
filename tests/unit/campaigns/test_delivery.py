"""Delivery: campaign_metrics equal an independent computation over the counted downloads; the refresh is idempotent
and follows placement changes; sponsors and other tenants see only what is theirs."""
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from services.sponsorship import campaigns, delivery, pacing, placements
from services.errors import NotFound, ValidationError
from services.models import CampaignMetric, CampaignReach
from tests.unit.campaigns.conftest import ANCHOR, campaign_data, store_downloads


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
    return store_downloads(network, rows)


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
            pacing.pacing(network.db, ctx, campaign_id, ANCHOR)
    assert pacing.pacing(network.db, network.ctx("sponsor", "coffee"), campaign_id, ANCHOR).makegoods == []


def test_campaign_list_shows_delivery_so_far(network, delivered):
    campaign_id, expected = delivered
    summaries = delivery.campaign_summaries(network.db, network.ctx("viewer"))
    row = next(r for r in summaries if r.campaign.id == campaign_id)
    assert (row.impressions, row.reach) == (len(expected), expected.listener_key.nunique())
    assert row.goal_share == len(expected) / 40000
    assert delivery.campaign_summaries(network.db, network.ctx("sponsor", "tea")) == []
