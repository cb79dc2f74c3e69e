"""The OP3 suites of op3_acceptance_cases.json that test_urls.py and test_requests.py leave to other modules:
computeHourlyDownloads' 11-hit fixture through our counting, the hashing rules, and computeBotType's portable rules.
Every other such suite is listed in OP3_NOT_APPLICABLE with the reason it has no counterpart here.

The cases are OP3's (skymethod/op3, MIT), extracted under tests/data/op3-cases with its LICENSE."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from services.measurement import counting_rules, hashing
from services.measurement.urls import try_enclosure_match_key
from services.measurement.useragents import default_classifier

from .test_requests import REQUEST_SUITES
from .test_urls import OTHER_MODULES

CASES_DIR = Path(__file__).resolve().parents[2] / "data" / "op3-cases"
SUITES = json.loads((CASES_DIR / "op3_acceptance_cases.json").read_text(encoding="utf-8"))["suites"]

OP3_RUN = frozenset({"computeHourlyDownloads", "hashing", "computeBotType"})
OP3_NOT_APPLICABLE = {
    "packHashedIpAddress": "OP3 stores '2:<keyId>:<hex>' so a hash names its key; our listener and household keys "
                           "are bare keyed hashes whose secret is found by the request's month (or 90-day epoch)",
    "Banlist.isBanned": "OP3's public prefix refuses to redirect to its banlist of hostnames; our prefix redirects "
                        "only to hosts the podcast key's own feed has used (api.tracking), and "
                        "services.measurement.urls rejects localhost and non-public names, so there is no list",
    "parseApplePodcastsUserAgent": "OP3 parses Apple Podcasts' version numbers for its own Apple reports; we "
                                   "classify agents with OPAWG user-agents-v2 (tests/unit/measurement/test_user_agents)",
    "packAppleVersion": "packs the versions parseApplePodcastsUserAgent reads; not used here for the same reason",
    "isBotIpHash": "OP3-instance heuristics (a listed IP hash, one ASN, region and station path on one date), as "
                   "the suite's own note says: not portable rules",
}


def test_every_suite_left_to_other_modules_is_run_or_explained():
    left = OTHER_MODULES - REQUEST_SUITES
    assert left == OP3_RUN | set(OP3_NOT_APPLICABLE)
    assert not OP3_RUN & set(OP3_NOT_APPLICABLE)
    assert left <= set(SUITES)


# --- computeHourlyDownloads: the 11 hits of downloads_test.ts -----------------------------------------------

HOURLY = SUITES["computeHourlyDownloads"]
SECRET = bytes(range(32))
# Where IAB v2.3 as we apply it (services.measurement.counting_rules) answers otherwise than OP3, by hit number.
HOURLY_DEVIATIONS = {
    6: "a lone bytes=0-1 request is a probe, never a download (IAB v2.3); OP3 counts it provisionally, tagged "
       "first-two",
    8: "IAB names the bytes=0-1 probe only: a 1-byte range elsewhere counts when no byte count is known (the "
       "tracking prefix); with a log's byte count the one-minute threshold drops it (see the test below)",
    9: "as hit 8, for a 2-byte range not starting at 0",
}
# Hit 10's X-Forwarded-For: OP3 blanks the geo columns; we geolocate the client address services.measurement.
# requests.client_ip takes from X-Forwarded-For behind a trusted proxy, so its country stays (not a counting rule).


def _hits(day: str = "2023-01-06", hour: int = 0, with_bytes: bool = False) -> pd.DataFrame:
    rows = []
    for hit in HOURLY["hits"]:
        size = None
        if with_bytes:  # what a server log says it sent for the range (the whole file when none)
            start, _, end = (hit["range"] or "bytes=0-5999999")[6:].partition("-")
            size = int(end) - int(start) + 1
        rows.append({"ts": pd.Timestamp(f"{day}T{hour:02d}:00:00Z") + pd.Timedelta(seconds=hit["n"]),
                     "podcast_id": 7, "method": "GET", "status": 200, "bytes": size, "range": hit["range"],
                     "url": hit["url"], "listener_key": hashing.listener_key(SECRET, hit["ip"], "test-agent"),
                     "country": "US", "region": None, "referer": None, "user_agent": "test-agent", "hit": hit["n"]})
    return pd.DataFrame(rows)


def _episodes(length: float = float("nan"), duration: float = float("nan")) -> counting_rules.EpisodeIndex:
    urls = sorted({hit["url"] for hit in HOURLY["hits"]})
    frame = pd.DataFrame({"podcast_id": 7, "threshold_bytes": counting_rules.byte_threshold(
        pd.Series([length] * len(urls)), pd.Series([duration] * len(urls))).to_numpy()},
        index=pd.Index(range(1, len(urls) + 1), name="episode_id"))
    return counting_rules.EpisodeIndex({try_enclosure_match_key(u): n for n, u in enumerate(urls, start=1)}, frame)


def _counted_hits(raw: pd.DataFrame, episodes: counting_rules.EpisodeIndex) -> list[int]:
    downloads, _ = counting_rules.count_frame(raw.drop(columns="hit"), episodes, "calendar")
    return sorted(raw.loc[downloads.index, "hit"].tolist())


def test_hourly_fixture_counts_as_op3_apart_from_the_listed_deviations():
    op3 = {hit["n"] for hit in HOURLY["hits"] if hit["expect"].startswith(("counted", "replaces"))}
    assert len(op3) == HOURLY["expected"]["downloads"] == 7
    ours = set(_counted_hits(_hits(), _episodes()))
    assert ours ^ op3 == set(HOURLY_DEVIATIONS)
    assert ours == {1, 3, 5, 7, 8, 9, 10, 11}
    # hit 2 repeats hit 1 (the same URL and listener); hit 5 stands for the 2.mp3 download hit 4 only probed
    assert 2 not in ours and 4 not in ours


def test_hourly_fixture_dedupes_across_the_utc_day_and_not_beyond():
    """OP3's phase 2: de-dupe carries on across the whole UTC day; the next day counts afresh."""
    first_hour = _counted_hits(_hits(), _episodes())
    same_day = pd.concat([_hits(), _hits(hour=5)], ignore_index=True)
    assert _counted_hits(same_day, _episodes()) == first_hour
    next_day = pd.concat([_hits(), _hits(day="2023-01-07")], ignore_index=True)
    assert len(_counted_hits(next_day, _episodes())) == 2 * len(first_hour)


def test_with_a_logs_byte_counts_tiny_ranges_fall_under_the_one_minute_threshold():
    ours = _counted_hits(_hits(with_bytes=True), _episodes(length=6_000_000, duration=600))
    assert ours == [1, 3, 7, 10, 11]  # 5 (11 bytes), 8 and 9 deliver less than a minute of audio


# --- hashing ---------------------------------------------------------------------------------------------------

def test_hashing_rules_that_apply():
    """OP3: a keyed hash per month; same input and key, same hash; another address, another hash; the raw address
    is not in it; the download's address is the IPv6 /64. (OP3's AES-GCM copy of the raw IP has no counterpart:
    raw IPs are never stored here; audienceId's Referer is not part of our listener key, which IAB keys on IP+UA.)"""
    rules = " ".join(SUITES["hashing"]["rules"])
    assert "HMAC" in rules and "per calendar month" in rules and "/64" in rules
    march, april = bytes(range(32)), bytes(range(1, 33))
    agent = "Overcast/3.0"
    key = hashing.listener_key(march, "198.51.100.7", agent)
    assert key == hashing.listener_key(march, "198.51.100.7", agent)
    assert key != hashing.listener_key(march, "198.51.100.8", agent)
    assert key != hashing.listener_key(april, "198.51.100.7", agent)  # another month's secret
    assert "198.51.100.7" not in key and "c6336407" not in key  # neither the address nor its hex
    assert len(key) == 32 and int(key, 16) >= 0
    assert hashing.listener_key(march, "2001:db8:1:2::7", agent) == hashing.listener_key(
        march, "2001:db8:1:2:ffff:ffff:ffff:1", agent) != hashing.listener_key(march, "2001:db8:1:3::7", agent)


# --- computeBotType --------------------------------------------------------------------------------------------

# OP3's first four rules are IAB's and ours; the ones after them are OP3's own preload heuristics, not applied here.
BOT_RULES = {
    "agentType=='bot' -> 'bot'": "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "agentType=='bot-library'": "python-requests/2.31.0",
    "agentType=='unknown' and agentName matches /(bot|crawler|spider)/i -> 'unknown-bot'": "SomeCrawler/1.0",
    "agentName=='' (no/blank UA) -> 'no-ua'": "",
}
NOT_APPLIED = ("EXTRA_BOT_USER_AGENTS", "opera-desktop-sans-referrer", "podverse-web-preload", "web-widget-preload",
               "bot-ip", "crosszone")


def test_bot_type_rules_in_order():
    rules = SUITES["computeBotType"]["rules_in_order"]
    assert [r for r in rules if any(r.startswith(k.split(" -> ")[0]) for k in BOT_RULES)] == rules[:4]
    assert all(any(name in rule for rule in rules[4:]) for name in NOT_APPLIED)
    agents = list(BOT_RULES.values()) + ["test-agent", "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"]
    classes = default_classifier().classify_many(pd.Series(agents), pd.Series([None] * len(agents)))
    assert classes["is_bot"].tolist() == [True, True, True, True, False, False]
    assert classes["bot_reason"].tolist()[2:4] == ["unknown_bot_name", "empty_user_agent"]
