"""Podcast RSS/Atom feeds read into plain data for the catalog (the upsert lives elsewhere).

feedparser does the tolerant parsing (encodings, ill-formed XML, RSS/Atom variants); feed_tree adds
what feedparser drops (podcast: namespace, nested categories); feed_values reads dates, durations
and numbers leniently. The catalog upserts episodes by `episode_key`.
"""
from __future__ import annotations

import io
import logging
import re

import feedparser

from services.catalog.feed_episodes import FeedWarnings, clean, one_line, read_episodes
from services.catalog.feed_fetch import FeedFetchError, FetchResult, fetch_feed
from services.catalog.feed_tree import FeedTree, ItemExtras, read_feed_tree
from services.catalog.feed_types import EPISODE_TYPES, FeedError, ParsedEpisode, ParsedFeed, episode_key
from services.catalog.feed_values import absolute_url

__all__ = [
    "EPISODE_TYPES", "FeedError", "FeedFetchError", "FetchResult", "ParsedEpisode", "ParsedFeed",
    "episode_key", "fetch_feed", "parse_feed",
]

logger = logging.getLogger(__name__)

_FIRST_TAG = re.compile(
    rb"<!--.*?-->|<\?.*?\?>|<!doctype\s+([\w:.-]+)[^>]*>|<([A-Za-z_][\w:.-]*)", re.DOTALL | re.IGNORECASE
)


def _sniff_non_feed(content: bytes) -> str | None:
    """Name the usual wrong answers to a feed URL (a web page, a JSON API) before parsing them."""
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        return "is JSON, not an RSS or Atom feed"
    doctype = b""
    for match in _FIRST_TAG.finditer(head):
        doctype = (match.group(1) or doctype).lower()
        root = (match.group(2) or b"").lower()
        if root:
            # An HTML doctype alone is not decisive: some feeds carry a stray one before <rss>.
            is_html = root == b"html" or (doctype == b"html" and root not in (b"rss", b"feed", b"rdf:rdf"))
            return "is an HTML page, not an RSS or Atom feed" if is_html else None
    return None


def _not_a_feed(parsed: dict, tree: FeedTree | None) -> str:
    if tree is not None:
        return f"is XML but not an RSS or Atom feed (its root element is <{tree.root}>)"
    error = parsed.get("bozo_exception")
    if error is not None:
        return f"is not XML ({error})"
    return "is not an RSS or Atom feed"


def _feedparser_parse(content: bytes, label: str) -> dict:
    # A BytesIO, never bare bytes: feedparser would treat a string that looks like a URL or a path
    # as one and fetch or open it.
    try:
        return feedparser.parse(io.BytesIO(content))
    except Exception as error:  # noqa: BLE001 - feedparser bugs on garbled input (KeyError, UnicodeDecodeError)
        first_error = error
    # One retry on the text re-encoded as clean UTF-8, which avoids its encoding-sniffing paths.
    text = content.decode("utf-8", errors="replace").lstrip("\ufeff")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        return feedparser.parse(io.BytesIO(('<?xml version="1.0" encoding="utf-8"?>' + text).encode("utf-8")))
    except Exception as error:
        logger.warning("feedparser failed on %s: %r, then %r", label, first_error, error)
        raise FeedError(label, f"could not be parsed ({type(error).__name__}: {error})") from error


def parse_feed(content: bytes, source: str = "") -> ParsedFeed:
    """Read a podcast feed. `source` (the feed URL or a file name) names it in errors and warnings
    and is the base for relative URLs. Raises FeedError when the document cannot be a podcast feed."""
    label = source or "feed"
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not content or not content.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise FeedError(label, "the document is empty")
    reason = _sniff_non_feed(content)
    if reason:
        raise FeedError(label, reason)

    parsed = _feedparser_parse(content, label)
    tree = read_feed_tree(content, parsed.get("encoding"))
    warnings = FeedWarnings()
    version = parsed.get("version") or ""
    feed = parsed.get("feed") or {}
    entries = parsed.get("entries") or []

    moved_to = tree.redirect_url if tree is not None else None
    if not version or (version.startswith("rss") and not _has_channel(content, parsed, tree)):
        if moved_to:  # the pre-iTunes way to announce a move: <rss><redirect><newLocation>
            warnings.add(f"feed has moved to {moved_to} and lists no episodes")
            return _empty_feed(moved_to, warnings)
        if version:
            error = parsed.get("bozo_exception")
            problem = f"is not well-formed XML ({error}) and" if error is not None else "is RSS but"
            raise FeedError(label, f"{problem} has no <channel> element")
        raise FeedError(label, _not_a_feed(parsed, tree))

    if parsed.get("bozo"):
        _bozo_warning(parsed, tree, warnings)

    extras = _item_extras(tree, entries, warnings)
    episodes, skipped, duplicates = read_episodes(entries, extras, source, warnings)
    title = one_line(feed.get("title"))
    new_feed_url = absolute_url(
        (tree.new_feed_url if tree is not None else None) or feed.get("itunes_new-feed-url") or moved_to
    ) or None
    if parsed.get("bozo") and tree is None and not (episodes or title or new_feed_url):
        raise FeedError(label, "is not well-formed XML and no episode, title or new feed URL could be "
                               f"recovered from it ({parsed.get('bozo_exception')})")
    if entries and skipped == len(entries):
        warnings.add(f"none of its {len(entries)} items has an audio or video enclosure: "
                     "this does not look like a podcast feed")
    return ParsedFeed(
        title=title,
        author=_feed_author(feed, tree),
        description=_longest(feed.get("subtitle"), feed.get("summary")),
        language=clean(feed.get("language")),
        image_url=absolute_url((feed.get("image") or {}).get("href") or feed.get("icon"), source) or None,
        categories=tree.categories if tree is not None else _flat_categories(feed),
        new_feed_url=new_feed_url,
        link=absolute_url(feed.get("link"), source) or None,
        episodes=episodes,
        warnings=warnings.lines(),
        skipped_items=skipped,
        duplicate_items=duplicates,
    )


def _empty_feed(new_feed_url: str, warnings: FeedWarnings) -> ParsedFeed:
    return ParsedFeed(
        title="", author=None, description=None, language=None, image_url=None, categories=[],
        new_feed_url=new_feed_url, link=None, episodes=[], warnings=warnings.lines(),
    )


def _has_channel(content: bytes, parsed: dict, tree: FeedTree | None) -> bool:
    if tree is not None:
        return tree.has_channel
    # Ill-formed XML: feedparser recovered something; look for the element in the text itself.
    try:
        text = content.decode(parsed.get("encoding") or "utf-8", errors="replace")
    except LookupError:
        text = content.decode("utf-8", errors="replace")
    return "<channel" in text.lower()


def _bozo_warning(parsed: dict, tree: FeedTree | None, warnings: FeedWarnings) -> None:
    error = parsed.get("bozo_exception")
    name = type(error).__name__
    if name == "CharacterEncodingOverride":
        warnings.add(f"feed encoding is wrong: {error}")
        return
    if tree is not None and tree.declared_prefixes:
        prefixes = ", ".join(tree.declared_prefixes)
        warnings.add(f"feed uses namespace prefixes it does not declare ({prefixes}); read them by convention")
        return
    warnings.add(f"feed is not well-formed XML ({error}); imported what could be recovered")


def _item_extras(tree: FeedTree | None, entries: list, warnings: FeedWarnings) -> list[ItemExtras]:
    if tree is not None and len(tree.items) == len(entries):
        return tree.items
    if tree is not None:
        warnings.add("items could not be matched one to one for podcast: elements; "
                     "at most one transcript per item read")
    return [_extras_from_feedparser(entry) for entry in entries]


def _extras_from_feedparser(entry: dict) -> ItemExtras:
    """Ill-formed feeds: feedparser keeps the attributes of the last unknown element of each name."""
    def attrs(key: str) -> dict:
        value = entry.get(key)
        return value if isinstance(value, dict) else {}

    transcript = attrs("podcast_transcript")
    season, episode = entry.get("podcast_season"), entry.get("podcast_episode")
    return ItemExtras(
        chapters_url=clean(attrs("podcast_chapters").get("url")),
        transcripts=[{"url": transcript["url"].strip(), "type": clean(transcript.get("type")),
                      "language": clean(transcript.get("language"))}] if clean(transcript.get("url")) else [],
        season=season if isinstance(season, str) else None,
        episode=episode if isinstance(episode, str) else None,
    )


def _feed_author(feed: dict, tree: FeedTree | None) -> str | None:
    detail = feed.get("author_detail") or {}
    publisher = feed.get("publisher_detail") or {}
    return (
        (tree.itunes_author if tree is not None else None)
        or clean(detail.get("name")) or clean(feed.get("author")) or clean(publisher.get("name"))
    )


def _longest(*values: object) -> str | None:
    texts = [t for t in (clean(v) for v in values) if t]
    return max(texts, key=len) if texts else None


def _flat_categories(feed: dict) -> list[str]:
    terms = [clean(tag.get("term")) for tag in feed.get("tags") or [] if tag.get("scheme") == "http://www.itunes.com/"]
    return list(dict.fromkeys(t for t in terms if t))
