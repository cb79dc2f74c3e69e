"""Counting rules on a frame: IAB's worked dedupe example, the filters, the one-minute byte threshold, the
vectorised range rules and the remembered match keys."""
from collections import Counter

import pandas as pd
import pytest

from services.measurement import counting_rules

IAB_REQUESTS = ["2026-03-02 22:00", "2026-03-03 03:00", "2026-03-03 22:15", "2026-03-04 23:15"]  # Mon..Wed


@pytest.mark.parametrize("window,expected", [
    ("calendar", [1, 1, 0, 1]), ("first-touch", [1, 0, 1, 1]), ("last-touch", [1, 0, 0, 1]),
])
def test_iab_worked_example(window, expected):
    frame = pd.DataFrame({"episode_id": 1, "listener_key": "a", "ts": pd.to_datetime(IAB_REQUESTS, utc=True)})
    assert counting_rules.dedupe(frame, window).astype(int).tolist() == expected


def test_dedupe_is_per_episode_and_listener():
    ts = pd.to_datetime(["2026-03-02 10:00", "2026-03-02 11:00", "2026-03-02 12:00", "2026-03-02 13:00"], utc=True)
    frame = pd.DataFrame({"episode_id": [1, 1, 2, 2], "listener_key": ["a", "b", "a", "a"], "ts": ts})
    for window in ("calendar", "first-touch", "last-touch"):
        assert counting_rules.dedupe(frame, window).tolist() == [True, True, True, False]


def _episodes(length=960_000, duration=600):
    frame = pd.DataFrame({"podcast_id": [7], "threshold_bytes": counting_rules.byte_threshold(
        pd.Series([length]), pd.Series([duration])).tolist()}, index=pd.Index([1], name="episode_id"))
    return counting_rules.EpisodeIndex({"media.example.com/ep1.mp3": 1}, frame)


def _raw(**overrides):
    row = {"ts": "2026-03-02 10:00:00+00:00", "podcast_id": 7, "method": "GET", "status": 200, "bytes": None,
           "range": None, "url": "https://media.example.com/ep1.mp3", "listener_key": "a", "country": "US",
           "region": None, "referer": None,
           "user_agent": "Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0"}
    return {**row, **overrides}


def test_filters_drop_what_iab_excludes():
    rows = [_raw(), _raw(method="HEAD", listener_key="b"), _raw(status=304, listener_key="c"),
            _raw(range="bytes=0-1", listener_key="d"), _raw(user_agent="", listener_key="e"),
            _raw(user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)", listener_key="f"),
            _raw(user_agent="SomeNewCrawler/1.0", listener_key="g"),
            _raw(url="https://media.example.com/unknown.mp3", listener_key="h"),
            _raw(url="https://dts.podtrac.com/redirect.mp3/media.example.com/ep1.mp3?utm_source=x", listener_key="i")]
    downloads, dropped = counting_rules.count_frame(pd.DataFrame(rows), _episodes(), "calendar")
    assert downloads["listener_key"].tolist() == ["a", "i"]  # a prefix chain maps to the same episode
    assert downloads["app"].tolist() == ["Apple Podcasts", "Apple Podcasts"]
    assert dropped["not a GET (HEAD and others)"] == 1 and dropped["304 Not Modified"] == 1
    assert dropped["bytes=0-1 probe only"] == 1 and dropped["no matching episode"] == 1
    assert sum(v for k, v in dropped.items() if k.startswith("bot")) == 3


def test_one_minute_threshold_reassembles_ranges():
    # 960,000 bytes over 600 s: one minute is 96,000 bytes.
    rows = [_raw(bytes=50_000, range="bytes=0-49999", listener_key="a"),
            _raw(bytes=50_000, range="bytes=50000-99999", listener_key="a", ts="2026-03-02 10:01:00+00:00"),
            _raw(bytes=60_000, range="bytes=0-59999", listener_key="b"),
            _raw(bytes=60_000, range="bytes=0-59999", listener_key="b", ts="2026-03-02 10:02:00+00:00"),
            _raw(bytes=96_000, listener_key="c")]
    downloads, dropped = counting_rules.count_frame(pd.DataFrame(rows), _episodes(), "calendar")
    assert sorted(downloads["listener_key"]) == ["a", "c"]  # b asked twice for the same 60 kB: overlap counts once
    assert dropped["under one minute of audio delivered"] == 2


def test_byte_threshold_rules():
    got = counting_rules.byte_threshold(pd.Series([960_000, 300_000, 500_000, None]), pd.Series([600, 30, None, 600]))
    assert got.tolist()[:3] == [96_000, 300_000, 500_000] and pd.isna(got.iloc[3])


def test_counting_the_same_requests_twice_gives_the_same_downloads():
    rows = [_raw(listener_key=k, ts=f"2026-03-0{d} 1{h}:00:00+00:00") for k in "abc" for d in (2, 3) for h in (0, 5)]
    first, _ = counting_rules.count_frame(pd.DataFrame(rows), _episodes(), "first-touch")
    second, _ = counting_rules.count_frame(pd.DataFrame(rows), _episodes(), "first-touch")
    pd.testing.assert_frame_equal(first.reset_index(drop=True), second.reset_index(drop=True))
    # Each listener's first request opens a 24-hour window; the next day's 10:00 request opens the second one.
    assert Counter(first["listener_key"]) == {"a": 2, "b": 2, "c": 2}
    assert sorted({str(pd.Timestamp(t)) for t in first["ts"]}) == ["2026-03-02 10:00:00+00:00",
                                                                   "2026-03-03 10:00:00+00:00"]


def test_vectorised_range_rules_agree_with_the_parser():
    from services.measurement.requests import is_probe_range, parse_range

    headers = ["bytes=0-1", "BYTES=0-0", " bytes=1-1 ", "bytes=0-", "bytes=0-2", "bytes=-500", "bytes=500-999",
               "bytes=0-1,1-1", "bytes=0-1,5-9", "items=0-1", "", None, "bytes=12345-", "bytes = 7-8", "bytes=9-3",
               "bytes=4-5,9-10"]
    series = pd.Series(headers, dtype=object)
    assert counting_rules.probe_ranges(series).tolist() == [bool(h) and is_probe_range(h) for h in headers]
    expected = [max(parse_range(h)[0][0], 0) if parse_range(h) else 0 for h in headers]
    assert counting_rules.range_starts(series).tolist() == expected


def test_rules_applied_per_distinct_value_match_row_wise():
    ranges = pd.Series(["bytes=0-1", None, "bytes=0-", "BYTES=0-1 ", "bytes=0-1, 5-9", "bytes=9-3", "", "bytes=0-1"])
    as_category = ranges.astype("category")
    for rule in (counting_rules.probe_ranges, counting_rules.range_starts):
        expected = rule(ranges).tolist()
        assert counting_rules.by_value(ranges, rule).tolist() == expected
        assert counting_rules.by_value(as_category, rule).tolist() == expected


def test_plain_range_fast_path_agrees_with_the_regex_rules():
    values = ["bytes=0-1", "bytes=0-0", "bytes=1-1", "bytes=0-", "bytes=00-1", "bytes=0-01", "bytes=12-5",
              "bytes=5-12", "bytes=123456789012345-", "bytes=1234567890123456-", "bytes=-500", "bytes=5", "bytes=",
              "bytes=٣-", "bytes=²-", "BYTES=0-1", " bytes=0-1", "bytes=0-1 ", "bytes=0-1,2-3", "bytes=7-9, 1-2",
              "bytes=abc-", "", None, float("nan"), "items=0-1", "bytes=0-1-2"]
    ranges = pd.Series(values, dtype=object)
    assert counting_rules.probe_ranges(ranges).tolist() == counting_rules._probe_ranges_regex(ranges).tolist()
    assert counting_rules.range_starts(ranges).tolist() == counting_rules._range_starts_regex(ranges).tolist()


def test_match_keys_remembered_across_indexes_equal_the_rule():
    """URL -> match key is remembered across EpisodeIndexes (counts and imports); a later index with other
    episodes maps the same URLs by its own keys."""
    from services.measurement.urls import try_enclosure_match_key

    urls = ["https://media.example.com/show/ep1.mp3?_from=app", "https://dts.podtrac.com/redirect.mp3/media.example.com"
            "/show/ep1.mp3", "https://media.example.com/show/ep2.mp3", "not a url", "", None]
    for url in urls:
        assert counting_rules._match_key(url) == try_enclosure_match_key(url)
        assert counting_rules._match_key(url) == try_enclosure_match_key(url)  # the remembered answer
    key1 = try_enclosure_match_key(urls[0])
    first = counting_rules.EpisodeIndex({key1: 1}, pd.DataFrame(columns=["podcast_id", "threshold_bytes"]))
    other = counting_rules.EpisodeIndex({key1: 7}, pd.DataFrame(columns=["podcast_id", "threshold_bytes"]))
    assert first.episode_for_urls(urls)[urls[0]] == 1
    assert other.episode_for_urls(urls)[urls[0]] == 7
    assert set(other.episode_for_urls(urls)) == {u for u in urls if u and try_enclosure_match_key(u) is not None
                                                 and (try_enclosure_match_key(u) == key1
                                                      or try_enclosure_match_key(u).split("?")[0] == key1)}
