"""Household keys on exposures: a prefix hit and a log line from one address (other agents, other listeners) give
downloads of the same household, the key conversions carry; one IPv6 /64 is one household; epochs rotate the key;
a recount keeps it; the raw IP is stored nowhere."""
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text

from services import accounts
from services.measurement import counting, ingest, log_import
from services.models import Download, DownloadRequest, Episode, Podcast
from services.sponsorship.attribution import households
from services.tenancy import TenantContext

APPLE = "Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0"
OVERCAST = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"
IP = "203.0.113.77"


@pytest.fixture
def show(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        podcast = s.scalar(select(Podcast).order_by(Podcast.id))
        episodes = s.scalars(select(Episode).where(Episode.podcast_id == podcast.id)
                             .order_by(Episode.id.desc()).limit(2)).all()
    return tenant.id, podcast, episodes


def _when(days_ago: int) -> datetime:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).replace(hour=6, minute=15, second=0,
                                                                           microsecond=0)


def _hit(podcast, episode, ip, agent, at):
    return ingest.new_hit(podcast.prefix_key, ip, agent, None, "bytes=0-", "GET", episode.enclosure_url, now=at)


def _downloads(db, tenant_id, hit_uid):
    """The downloads counted from the hit and from the imported log line."""
    with db.session(tenant_id) as s:
        listeners = set(s.scalars(text("SELECT listener_key FROM download_requests WHERE request_uid = :uid "
                                       "OR source = 'log'"), {"uid": hit_uid}))
        return s.execute(select(Download.listener_key, Download.household_key, Download.episode_id).where(
            Download.listener_key.in_(listeners))).all()


def test_a_prefix_hit_and_a_log_line_of_one_address_share_the_household(db, show, tmp_path):
    tenant_id, podcast, (episode, other) = show
    at = _when(2)
    hit = _hit(podcast, episode, IP, APPLE, at)
    assert ingest.store_hits(db, [hit]) == 1
    path = other.enclosure_url.removeprefix("https://media.example.com")
    size = other.enclosure_length
    line = f'{IP} - - [{at:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" 200 {size} "-" "{OVERCAST}"'
    (tmp_path / "access.log").write_text(line + "\n")
    ctx = TenantContext(tenant_id=tenant_id, role="editor", tenant_slug="demo")
    assert log_import.import_log(db, ctx, tmp_path / "access.log", "combined", host="media.example.com").imported == 1
    counting.count_downloads(db, tenant_id, at.date(), at.date())
    with db.session(system=True) as s:
        expected = households.household_key(s, IP, at)
        s.commit()
    rows = _downloads(db, tenant_id, hit["uid"])
    assert {r.episode_id for r in rows} == {episode.id, other.id}
    assert len({r.listener_key for r in rows}) == 2  # two agents: two listeners ...
    assert {r.household_key for r in rows} == {expected} and len(expected) == 32  # ... one household

    counting.count_downloads(db, tenant_id, at.date(), at.date())  # a recount keeps the household
    assert {r.household_key for r in _downloads(db, tenant_id, hit["uid"])} == {expected}

    with db.session(tenant_id) as s:
        dumps = [str(s.execute(text(f"SELECT * FROM {table}")).all())
                 for table in ("download_requests", "downloads")]
    assert not any(IP in dump for dump in dumps)  # raw IPs are never stored


def test_one_ipv6_slash_64_is_one_household_and_epochs_rotate_the_key(db, show):
    tenant_id, podcast, (episode, _) = show
    now, earlier = _when(1), _when(1 + households.EPOCH_DAYS)
    hits = [_hit(podcast, episode, "2001:db8:5:6::1", APPLE, now),
            _hit(podcast, episode, "2001:DB8:5:6:ffff:1:2:3", OVERCAST, now),
            _hit(podcast, episode, "2001:db8:5:7::1", APPLE, now),
            _hit(podcast, episode, "2001:db8:5:6::1", APPLE, earlier)]
    assert ingest.store_hits(db, hits) == 4
    with db.session(tenant_id) as s:
        keys = dict(s.execute(select(DownloadRequest.request_uid, DownloadRequest.household_key).where(
            DownloadRequest.request_uid.in_([h["uid"] for h in hits]))).all())
    same_a, same_b, other_net, other_epoch = (keys[h["uid"]] for h in hits)
    assert same_a == same_b and len(same_a) == 32
    assert other_net != same_a and other_epoch != same_a and other_epoch is not None
    with db.session(system=True) as s:
        assert same_a == households.household_key(s, "2001:db8:5:6::1", now)
        assert other_epoch == households.household_key(s, "2001:db8:5:6::1", earlier)


def test_household_keys_of_hashes_each_network_and_epoch_once_as_hash_household():
    rng = np.random.default_rng(3)
    pool = ["198.51.100.1", "198.51.100.2", "2001:db8::1", "2001:db8::2", "2001:db8:0:1::9", "::ffff:198.51.100.1"]
    ips = pd.Series(pd.Categorical(np.array(pool, dtype=object)[rng.integers(0, len(pool), 500)]))
    ts = pd.Series(pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 400, 500), unit="D"))
    ips[::50] = None
    epochs = households.epochs_of(ts)
    secrets = {e: bytes([e % 256]) * 32 for e in np.unique(epochs).tolist()}
    secrets[int(epochs.min())] = None  # an expired epoch: no key
    keys = households.household_keys_of(secrets, ips, epochs)
    expected = [None if ip is None or pd.isna(ip) or secrets[households.epoch_of(t)] is None
                else households.hash_household(secrets[households.epoch_of(t)], ip)
                for ip, t in zip(ips.astype(object), ts)]
    assert [None if pd.isna(k) else k for k in keys] == expected
    assert keys.notna().sum() > 0 and keys.isna().sum() > 0
    assert list(households.epochs_of(ts)) == [households.epoch_of(t) for t in ts]
