"""Demo traffic: raw requests for the demo episodes, as podcast apps really send them (real OPAWG example agents,
repeats, HEAD checks, 0-1 probes, bots, prefix chains), for the counting job to turn into downloads. Each listener
lives in a household with an address (some households hold several listeners, some listen to several shows); the
address only ever becomes a household key, as in real ingestion."""
from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np
import pandas as pd

SEED = 20240611

# Real agents from the OPAWG user-agents-v2 examples, with each one's share of listeners.
AGENTS = (
    ("Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0", 0.34),
    ("Podcasts/1410.53 CFNetwork/1111 Darwin/19.0.0 (x86_64)", 0.03),
    ("AirPodcasts/4022.700.8 CFNetwork/1410.0.3 Darwin/22.6.0", 0.02),
    ("Spotify/8.7.10 iOS/15.3.1 (iPhone13,2)", 0.12),
    ("Spotify-Lite: Spotify-Lite/0.13.48.96 Android/22 (SM-G531H)", 0.08),
    ("Spotify/4.3.2.0 Volvo/30 (Volvo)", 0.01),
    ("Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", 0.06),
    ("Pocket%20Casts/7.96.0.4 CFNetwork/3826.600.41 Darwin/24.6.0", 0.03),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) PocketCasts/2.2.0 "
     "Chrome/144.0.7559.220 Electron/40.6.1 Safari/537.36", 0.01),
    ("PodcastAddict/v5 ( https://podcastaddict.com/; Android podcast app)", 0.05),
    ("AmazonMusic/16.17.0 Dalvik/2.1.0 (Linux; U; Android 6.0.1; vivo 1610 Build/MMB29M)", 0.03),
    ("com.google.android.apps.youtube.music/62354340 (Linux; U; Android 14; en_US; Pixel 7 Pro; "
     "Build/UP1A.231105.002; Cronet/114.0.5735.84)", 0.05),
    ("Castro/1024 CFNetwork/955.1.2 Darwin/18.0.0", 0.02),
    ("PodcastRepublic/18.0 (Linux; U; Android 10;blueline/QP1A.190711.020.C3)", 0.02),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36", 0.05),
)
BOT_AGENTS = (
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; PodcastIndexCrawler/1.0)",
)
COUNTRIES = (("US", 0.52), ("GB", 0.11), ("CA", 0.08), ("AU", 0.06), ("DE", 0.05), ("IN", 0.04),
             ("NL", 0.03), ("IE", 0.03), ("NZ", 0.02), ("SE", 0.02), ("FR", 0.02), ("BR", 0.02))
US_REGIONS = ("CA", "NY", "TX", "FL", "WA", "IL", "MA", "CO", "GA", "OR")
WEB_REFERERS = ("https://podcasts.example.com/", "https://www.google.com/")
# Relative listening by weekday (Mon..Sun) and by UTC hour: commutes and evenings, quieter weekends.
WEEKDAY = np.array([1.12, 1.10, 1.08, 1.05, 0.98, 0.80, 0.84])
HOUR = np.array([.35, .25, .2, .18, .2, .3, .6, 1.0, 1.3, 1.2, 1.0, .95, 1.0, 1.05, 1.1, 1.15, 1.3, 1.35,
                 1.2, 1.0, .9, .8, .65, .5])


HOUSEHOLDS = 15_000  # the demo's homes: listeners of the shows are drawn from them, so shows share households
IPV6_SHARE = 0.15


def household_ip(household: int, member: int = 0) -> str:
    """A household's address: IPv4 in 198.18.0.0/15 (benchmarking space), or an IPv6 /64 of 2001:db8::/32 in
    which each member has an address of its own."""
    if (household * 2654435761) % 1000 < IPV6_SHARE * 1000:
        return f"2001:db8:{household >> 16:x}:{household & 0xffff:x}::{member + 1:x}"
    return f"198.{18 + (household >> 16)}.{(household >> 8) & 255}.{household & 255}"


def _norm(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def listen_events(catalog: pd.DataFrame, audiences: list[int], now: datetime) -> pd.DataFrame:
    """One row per (episode, listener) first listen: a release spike, a long tail, weekday and hour rhythm."""
    rng = np.random.default_rng(SEED + 1)
    frames = []
    for ep in catalog.itertuples():
        audience = audiences[ep.show]
        n = int(ep.expected * 1.5)
        spike = rng.random(n) < 0.72
        age_h = np.where(spike, rng.exponential(60.0, n), rng.exponential(24 * 120.0, n))
        ts = pd.to_datetime(ep.published_at) + pd.to_timedelta(age_h, unit="h")
        ts = ts[ts < now]
        weight = WEEKDAY[ts.day_of_week] * HOUR[ts.hour]
        ts = ts[rng.random(len(ts)) * 1.6 < weight][: int(ep.expected)]
        listener = np.minimum(rng.zipf(1.15, len(ts)) - 1, audience - 1)
        listener = (listener * 7919 + rng.integers(0, audience, len(ts)) * (listener > 50)) % audience
        frames.append(pd.DataFrame({"show": ep.show, "episode": ep.Index, "ts": ts, "listener": listener}))
    events = pd.concat(frames, ignore_index=True).drop_duplicates(["episode", "listener"])
    return events.sort_values("ts", ignore_index=True)


def listener_profiles(show_idx: int, audience: int) -> pd.DataFrame:
    """Each listener's fixed agent, country, region, referer and (already hashed) key."""
    rng = np.random.default_rng(SEED + 100 + show_idx)
    agent = rng.choice(len(AGENTS), audience, p=_norm([w for _, w in AGENTS]))
    country = rng.choice([c for c, _ in COUNTRIES], audience, p=_norm([w for _, w in COUNTRIES]))
    region = np.where(country == "US", rng.choice(US_REGIONS, audience), None)
    agents = np.array([a for a, _ in AGENTS], dtype=object)[agent]
    referer = np.where(np.char.startswith(agents.astype(str), "Mozilla/5.0 (Windows"),
                       rng.choice(WEB_REFERERS, audience), None)
    keys = [hashlib.sha256(f"demo:{show_idx}:{i}".encode()).hexdigest()[:32] for i in range(audience)]
    homes = np.random.default_rng(SEED + 200 + show_idx)  # its own stream: the profiles above stay as they were
    household = homes.integers(0, HOUSEHOLDS, audience)
    ips = [household_ip(int(h), i % 3) for i, h in enumerate(household.tolist())]
    return pd.DataFrame({"listener_key": keys, "user_agent": agents, "referer": referer, "country": country,
                         "region": region, "ip": ips})


def request_rows(tenant_id: int, events: pd.DataFrame, audiences: list[int], podcast_ids: list[int],
                 enclosure_urls: list[str], now: datetime) -> pd.DataFrame:
    """Raw requests for the listen events, with the noise real traffic has, as `download_requests` rows plus the
    client address `ip` (the caller turns it into a household key and drops it, as ingestion does)."""
    rng = np.random.default_rng(SEED + 2)
    parts = []
    for show_idx, group in events.groupby("show"):
        profile = listener_profiles(int(show_idx), audiences[int(show_idx)]).iloc[group["listener"].to_numpy()]
        part = profile.reset_index(drop=True)
        part["ts"] = group["ts"].to_numpy()
        part["podcast_id"] = podcast_ids[int(show_idx)]
        part["url"] = np.asarray(enclosure_urls, dtype=object)[group["episode"].to_numpy()]
        parts.append(part)
    gets = pd.concat(parts, ignore_index=True).assign(method="GET", range="bytes=0-")
    n = len(gets)
    chained = rng.random(n) < 0.2  # some requests come through a measurement prefix chain
    gets.loc[chained, "url"] = "https://dts.podtrac.com/redirect.mp3/" + gets.loc[chained, "url"].str[8:]
    repeats = gets.sample(frac=0.10, random_state=SEED).assign(
        ts=lambda f: f["ts"] + pd.to_timedelta(rng.uniform(0.2, 30, len(f)), unit="h"), range="bytes=1000000-")
    heads = gets.sample(frac=0.03, random_state=SEED + 1).assign(method="HEAD", range=None)
    probes = gets.sample(frac=0.02, random_state=SEED + 2).assign(
        ts=lambda f: f["ts"] - pd.Timedelta(seconds=2), range="bytes=0-1")
    bots = gets.sample(frac=0.05, random_state=SEED + 3).assign(
        user_agent=lambda f: rng.choice(BOT_AGENTS, len(f)), referer=None,
        listener_key=lambda f: f["listener_key"].str[::-1])
    frame = pd.concat([gets, repeats, heads, probes, bots], ignore_index=True)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame = frame[frame["ts"] < pd.Timestamp(now)].reset_index(drop=True)  # a repeat may not come from the future
    frame["request_uid"] = [hashlib.sha1(f"demo:{i}".encode()).hexdigest() for i in range(len(frame))]
    return frame.assign(tenant_id=tenant_id, source="prefix", status=None, bytes=None)[
        ["request_uid", "ts", "tenant_id", "podcast_id", "source", "method", "status", "bytes", "range", "url",
         "user_agent", "referer", "listener_key", "country", "region", "ip"]]
