"""parse_feed on real captured feeds, the Podcasting 2.0 example, and hand-made good and bad feeds."""
from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from services.catalog.feeds import FeedError, ParsedFeed, episode_key, parse_feed
from services.errors import ValidationError

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
STATS = json.loads((DATA / "feed_stats.json").read_text(encoding="utf-8"))

# Episodes expected from each fixture after the catalog's rules: items without an enclosure are
# skipped, and items repeating an earlier item's episode_key (guid, else enclosure URL) are dropped.
# (items per feed_stats.json, skipped for want of an enclosure, duplicate keys, episodes)
EXPECTED_EPISODES = {
    "real_feeds/PRX_feedzirra-podcast__99percentinvisible.xml": (91, 0, 0, 91),
    "real_feeds/akupila_node-podcast-parser__apple-example.xml": (3, 0, 0, 3),
    "real_feeds/akupila_node-podcast-parser__coding-blocks.xml": (83, 0, 0, 83),
    # No items at all: a channel with only nested itunes:category elements.
    "real_feeds/akupila_node-podcast-parser__complex-genre.xml": (0, 0, 0, 0),
    "real_feeds/akupila_node-podcast-parser__design-details.xml": (102, 0, 0, 102),
    "real_feeds/akupila_node-podcast-parser__javascript-air.xml": (8, 0, 0, 8),
    "real_feeds/akupila_node-podcast-parser__libsyn-example-podcast.xml": (6, 0, 0, 6),
    "real_feeds/akupila_node-podcast-parser__neo4j.xml": (54, 0, 0, 54),
    "real_feeds/akupila_node-podcast-parser__rtve-podcast.xml": (6, 0, 0, 6),
    # guid = enclosure URL on every item; the keys are still unique.
    "real_feeds/akupila_node-podcast-parser__scale-your-code.xml": (23, 0, 0, 23),
    # 166 items have an empty <guid/> (feed_stats counts them as 165 duplicate guids). Their key falls
    # back to the enclosure URL, and all 249 enclosure URLs are distinct: no duplicates, 249 episodes.
    "real_feeds/akupila_node-podcast-parser__se-radio.xml": (249, 0, 0, 249),
    # Episode 587 appears twice with different guids and the same enclosure URL: two keys, so both are
    # kept (the catalog upserts by guid) and a warning names the shared enclosure URL.
    "real_feeds/mdewilde_podcast-parser__uyd.xml": (200, 0, 0, 200),
    "podcast_namespace/example.xml": (3, 0, 0, 3),
}


@cache
def parsed(name: str) -> ParsedFeed:
    return parse_feed((DATA / name).read_bytes(), source=name)


def reference(name: str) -> dict:
    path = DATA / "reference_parses" / f"{Path(name).name}.podcastparser-0.6.11.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED_EPISODES))
def test_fixture_feeds_give_the_expected_episodes(name):
    items, skipped, duplicates, expected = EXPECTED_EPISODES[name]
    stats = STATS[name]
    assert stats["items"] == items and stats["enclosures"] == items - skipped
    feed = parsed(name)

    assert len(feed.episodes) == expected == items - skipped - duplicates
    assert (feed.skipped_items, feed.duplicate_items) == (skipped, duplicates)
    keys = [episode_key(e) for e in feed.episodes]
    assert len(set(keys)) == len(keys) and all(keys)
    assert feed.title == (stats["title"] or "")
    assert feed.new_feed_url == stats["itunes_new_feed_url"]
    assert Counter(e.enclosure_type for e in feed.episodes) == Counter(stats["enclosure_types"])
    assert sum(e.enclosure_length is None for e in feed.episodes) == stats["enclosure_length_missing_or_0"]
    durations = [e.duration_seconds for e in feed.episodes]
    assert sum(d is not None for d in durations) == items - stats["items_missing_itunes_duration"]
    for episode in feed.episodes:
        assert episode.enclosure_url.startswith(("http://", "https://"))
        assert episode.published_at is not None and episode.published_at.utcoffset().total_seconds() == 0
        assert episode.episode_type in ("full", "trailer", "bonus")


COMPLEX_GENRE = "real_feeds/akupila_node-podcast-parser__complex-genre.xml"


@pytest.mark.parametrize("name", sorted(set(EXPECTED_EPISODES) - {COMPLEX_GENRE}))
def test_categories_match_feed_stats(name):
    assert parsed(name).categories == STATS[name]["itunes_categories"]


def test_deep_category_trees_keep_apples_two_levels():
    # feed_stats writes them "A>A1/A2"; Apple's spec has two levels, so A11 and A111 are dropped.
    feed = parsed(COMPLEX_GENRE)
    assert feed.categories == ["A>A1", "A>A2", "B>B1", "B>B2"]


@pytest.mark.parametrize("name", sorted(EXPECTED_EPISODES))
def test_episodes_agree_with_podcastparser_reference(name):
    """Same titles, enclosures, durations and dates as podcastparser 0.6.11 on the same file.

    Known differences: podcastparser keeps an empty guid where our key falls back to the enclosure URL
    (se-radio), collapses runs of spaces in titles as we do, and does not read podcast:season/episode.
    """
    ours = parsed(name).episodes
    theirs = reference(name)["episodes"]
    assert len(ours) == len(theirs)
    for mine, ref in zip(ours, theirs):
        assert mine.title == " ".join(ref["title"].split())
        assert episode_key(mine) == (ref["guid"] or ref["enclosures"][0]["url"])
        assert mine.enclosure_url == ref["enclosures"][0]["url"]
        assert mine.duration_seconds == (ref["total_time"] or None)
        assert int(mine.published_at.timestamp()) == ref["published"]


def test_protocol_relative_enclosure_becomes_https():
    feed = parsed("real_feeds/mdewilde_podcast-parser__uyd.xml")
    urls = [e.enclosure_url for e in feed.episodes]
    assert "https://traffic.libsyn.com/uhhyeahdude/ep403warmandgross.mp3" in urls
    assert not any(u.startswith("//") for u in urls)


def test_shared_enclosure_url_is_kept_and_warned_about():
    feed = parsed("real_feeds/mdewilde_podcast-parser__uyd.xml")
    shared = "http://traffic.libsyn.com/uhhyeahdude/ep587goingbackto2013.mp3"
    assert [e.enclosure_url for e in feed.episodes].count(shared) == 2
    assert any("share an enclosure URL" in w and shared in w for w in feed.warnings)


def test_empty_guids_fall_back_to_the_enclosure_url():
    feed = parsed("real_feeds/akupila_node-podcast-parser__se-radio.xml")
    guidless = [e for e in feed.episodes if not e.guid]
    assert len(guidless) == 166
    assert all(episode_key(e) == e.enclosure_url for e in guidless)


def test_podcasting_2_chapters_transcripts_season_and_episode():
    feed = parsed("podcast_namespace/example.xml")
    assert feed.categories == ["Technology", "News>Tech News"]
    assert feed.language == "en-US" and feed.image_url == "https://example.com/images/pci_avatar-massive.jpg"
    assert [e.guid for e in feed.episodes] == [f"https://example.com/ep000{n}" for n in (3, 2, 1)]
    assert [e.chapters_url for e in feed.episodes] == [f"https://example.com/ep{n}_chapters.json" for n in (3, 2, 1)]
    assert feed.episodes[0].transcript_urls == [
        {"url": "https://example.com/ep3/transcript.txt", "type": "text/plain", "language": None},
        {"url": "https://example.com/episode1/transcript.vtt", "type": "text/vtt", "language": "es"},
    ]
    assert feed.episodes[1].transcript_urls == [
        {"url": "https://example.com/ep2/transcript.txt", "type": "text/plain", "language": None}
    ]
    assert [(e.season, e.episode_number) for e in feed.episodes] == [(1, 3), (1, 2), (1, 1)]
    assert feed.episodes[0].published_at == datetime(2020, 10, 9, 4, 30, 38, tzinfo=UTC)
    assert feed.episodes[0].enclosure_length == 43200000
    assert feed.warnings == []


# --- hand-made feeds -----------------------------------------------------------------------------

def rss(items: str, channel: str = "<title>Show</title>", namespaces: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" {namespaces}>'
        f"<channel>{channel}{items}</channel></rss>"
    ).encode()


def item(guid: str | None = "g1", url: str | None = "https://cdn.example.com/a.mp3", extra: str = "") -> str:
    guid_xml = "" if guid is None else f"<guid>{guid}</guid>"
    enclosure = "" if url is None else f'<enclosure url="{url}" type="audio/mpeg" length="1000"/>'
    return f"<item><title>Ep {guid}</title>{guid_xml}{enclosure}{extra}</item>"


BAD_INPUTS = {
    "empty bytes": (b"", "empty"),
    "whitespace": (b"  \r\n\t ", "empty"),
    "html page": (b"<!DOCTYPE html>\n<html><head><title>Home</title></head><body><p>Hi</p></body></html>", "HTML page"),
    "html without doctype": (b"<html><body><a href='/feed.xml'>feed</a></body></html>", "HTML page"),
    "json object": (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "JSON"),
    "json array": (b'[{"title": "x"}]', "JSON"),
    "plain text": (b"Service Unavailable", "not XML"),
    "a file path": (b"/etc/passwd", "not XML"),
    "a url": (b"http://127.0.0.1:9/feed.xml", "not XML"),
    "other xml": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', "root element is <svg>"),
    "rss without channel": (b'<rss version="2.0"></rss>', "no <channel>"),
    "truncated without anything": (b'<rss version="2.0"><chan', "not well-formed XML"),
    "ill-formed with nothing recoverable": (b'<rss version="2.0"><channel><item></rss>', "no episode, title or new feed URL"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_inputs_that_cannot_be_a_feed_raise_feed_error_naming_the_source(case):
    content, problem = BAD_INPUTS[case]
    source = f"https://shows.example.com/{case.replace(' ', '-')}.xml"
    with pytest.raises(FeedError) as caught:
        parse_feed(content, source=source)
    error = caught.value
    assert isinstance(error, ValidationError) and error.status == 422
    assert error.source == source and str(error).startswith(f"{source}: ")
    assert problem in str(error)


def test_episode_key_is_the_guid_or_else_the_enclosure_url():
    feed = parse_feed(rss(item("abc") + item("", "https://cdn.example.com/b.mp3") + item(None, "https://cdn.example.com/c.mp3")
                          + item("   ", "https://cdn.example.com/d.mp3")))
    assert [episode_key(e) for e in feed.episodes] == [
        "abc", "https://cdn.example.com/b.mp3", "https://cdn.example.com/c.mp3", "https://cdn.example.com/d.mp3"]
    assert [e.guid for e in feed.episodes] == ["abc", "", "", ""]


def test_duplicate_keys_keep_the_first_item_and_are_counted():
    feed = parse_feed(rss(
        item("same", "https://cdn.example.com/1.mp3") + item("same", "https://cdn.example.com/2.mp3")
        + item(None, "https://cdn.example.com/x.mp3") + item(None, "https://cdn.example.com/x.mp3")
    ), source="dupes.xml")
    assert [e.enclosure_url for e in feed.episodes] == ["https://cdn.example.com/1.mp3", "https://cdn.example.com/x.mp3"]
    assert feed.duplicate_items == 2
    assert any(w.startswith("duplicate items skipped, the first one kept (2 items") for w in feed.warnings)


def test_items_without_enclosure_are_skipped_with_a_warning():
    feed = parse_feed(rss(item("a") + item("text-post", url=None) + item("b", "https://cdn.example.com/b.mp3")))
    assert [e.guid for e in feed.episodes] == ["a", "b"]
    assert feed.skipped_items == 1
    assert any("without an audio or video enclosure skipped" in w and "Ep text-post" in w for w in feed.warnings)


def test_a_feed_of_only_blog_posts_parses_with_a_warning():
    feed = parse_feed(rss(item("a", url=None) + item("b", url=None)))
    assert feed.episodes == [] and feed.skipped_items == 2
    assert any("does not look like a podcast feed" in w for w in feed.warnings)


def test_audio_enclosure_is_preferred_over_an_image_and_media_content_is_a_fallback():
    image_first = '<enclosure url="https://cdn.example.com/art.jpg" type="image/jpeg"/>'
    media = '<media:content url="https://cdn.example.com/m.mp3" type="audio/mpeg" fileSize="77"/>'
    feed = parse_feed(rss(
        item("a", None, image_first + '<enclosure url="https://cdn.example.com/a.m4a" type="audio/x-m4a"/>')
        + item("b", None, media),
        namespaces='xmlns:media="http://search.yahoo.com/mrss/"',
    ))
    assert [(e.enclosure_url, e.enclosure_type) for e in feed.episodes] == [
        ("https://cdn.example.com/a.m4a", "audio/x-m4a"), ("https://cdn.example.com/m.mp3", "audio/mpeg")]
    assert feed.episodes[1].enclosure_length == 77


def test_urls_are_trimmed_and_resolved_against_the_feed_url():
    feed = parse_feed(rss(item("a", " //cdn.example.com/a.mp3 ") + item("b", "media/b.mp3")),
                      source="https://shows.example.com/podcast/feed.xml")
    assert [e.enclosure_url for e in feed.episodes] == [
        "https://cdn.example.com/a.mp3", "https://shows.example.com/podcast/media/b.mp3"]


def test_values_are_read_leniently_and_bad_ones_warned_about():
    extra = ("<pubDate>Tue, 09 Nov 2021 17:08:12 PDT</pubDate><itunes:duration>1:02:03</itunes:duration>"
             "<itunes:season>2</itunes:season><itunes:episode>-1</itunes:episode>"
             "<itunes:episodeType>Trailer</itunes:episodeType>")
    junk = ("<pubDate>sometime last week</pubDate><itunes:duration>about an hour</itunes:duration>"
            "<itunes:episodeType>special</itunes:episodeType>")
    feed = parse_feed(rss(item("a", extra=extra) + item("b", "https://cdn.example.com/b.mp3", junk),
                          namespaces='xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'))
    first, second = feed.episodes
    assert first.published_at == datetime(2021, 11, 10, 0, 8, 12, tzinfo=UTC)
    assert (first.duration_seconds, first.season, first.episode_number, first.episode_type) == (3723, 2, None, "trailer")
    assert (second.published_at, second.duration_seconds, second.episode_type) == (None, None, "full")
    text = "\n".join(feed.warnings)
    for fragment in ("unreadable publication dates", "sometime last week", "unreadable itunes:duration",
                     "about an hour", "unreadable episode number", "unknown itunes:episodeType"):
        assert fragment in text


def test_ill_formed_feed_with_recoverable_items_imports_with_a_warning():
    broken = (b'<rss version="2.0"><channel><title>Fish & Chips</title>'
              b'<item><title>One</title><guid>1</guid><enclosure url="https://cdn.example.com/1.mp3" type="audio/mpeg"/></item>'
              b'<item><title>Two</title><guid>2</guid><enclosure url="https://cdn.example.com/2.mp3" type="audio/mpeg"/></item>')
    feed = parse_feed(broken, source="broken.xml")
    assert [e.guid for e in feed.episodes] == ["1", "2"]
    assert any("not well-formed XML" in w for w in feed.warnings)


def test_undeclared_podcast_prefixes_are_read_by_convention():
    content = (b"<rss><channel><title>P</title><item><title>E</title>"
               b'<enclosure url="https://cdn.example.com/e.mp3"/>'
               b'<podcast:transcript url="https://example.com/t.srt" type="application/srt" language="en"/>'
               b'<podcast:chapters url="https://example.com/c.json" type="application/json+chapters"/>'
               b"<itunes:episode>4</itunes:episode></item></channel></rss>")
    feed = parse_feed(content)
    episode = feed.episodes[0]
    assert episode.transcript_urls == [{"url": "https://example.com/t.srt", "type": "application/srt", "language": "en"}]
    assert (episode.chapters_url, episode.episode_number) == ("https://example.com/c.json", 4)
    assert any("do not declare" in w or "does not declare" in w for w in feed.warnings)


def test_new_feed_url_and_redirect_new_location():
    moved = parse_feed(rss("", '<title>Old</title><itunes:new-feed-url> https://new.example.com/feed </itunes:new-feed-url>',
                           'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'))
    assert moved.new_feed_url == "https://new.example.com/feed"
    redirect = parse_feed(b"<rss><redirect><newLocation>https://new.example.com/rss</newLocation></redirect></rss>")
    assert (redirect.new_feed_url, redirect.episodes) == ("https://new.example.com/rss", [])


def test_atom_podcast_feed():
    content = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Show</title><id>urn:show</id>
      <entry><title>First</title><id>urn:ep:1</id><updated>2024-03-01T10:00:00+01:00</updated>
        <link rel="enclosure" href="https://cdn.example.com/1.ogg" type="audio/ogg" length="12"/></entry>
    </feed>"""
    feed = parse_feed(content)
    (episode,) = feed.episodes
    assert (feed.title, episode.guid, episode.enclosure_url, episode.enclosure_length) == (
        "Atom Show", "urn:ep:1", "https://cdn.example.com/1.ogg", 12)
    assert episode.published_at == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def test_other_encodings_are_decoded():
    content = rss(item("ñ", extra="<description>Canción</description>"), "<title>Música</title>")
    for encoding in ("utf-16", "iso-8859-1"):
        data = content.decode().replace('encoding="UTF-8"', f'encoding="{encoding}"').encode(encoding)
        feed = parse_feed(data)
        assert (feed.title, feed.episodes[0].guid, feed.episodes[0].description) == ("Música", "ñ", "Canción")
