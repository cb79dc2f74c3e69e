"""Feed items (as feedparser reads them) turned into ParsedEpisodes: enclosure choice, lenient
values, identity and de-duplication, with warnings grouped by kind."""
from __future__ import annotations

from datetime import UTC, datetime

from services.catalog.feed_tree import ItemExtras
from services.catalog.feed_types import EPISODE_TYPES, ParsedEpisode, episode_key
from services.catalog.feed_values import (
    absolute_url,
    is_web_url,
    parse_byte_length,
    parse_duration,
    parse_positive_int,
    parse_pub_date,
)

_MEDIA_PREFIXES = ("audio/", "video/")
_NOT_MEDIA_PREFIXES = ("image/", "text/")


class FeedWarnings:
    """Warnings grouped by kind, so a 5,000-item feed gives one line per problem, not per item."""

    def __init__(self) -> None:
        self._groups: dict[str, list[str]] = {}

    def add(self, message: str, example: str | None = None) -> None:
        examples = self._groups.setdefault(message, [])
        if example is not None:
            examples.append(example)

    def lines(self) -> list[str]:
        out = []
        for message, examples in self._groups.items():
            if not examples:
                out.append(message)
                continue
            shown = ", ".join(repr(e[:80]) for e in examples[:3])
            more = f" and {len(examples) - 3} more" if len(examples) > 3 else ""
            out.append(f"{message} ({len(examples)} item{'s' * (len(examples) > 1)}: {shown}{more})")
        return out


def clean(value: object) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    return text or None


def one_line(value: object) -> str:
    """Titles: runs of whitespace and line breaks from hand-edited feeds become one space."""
    return " ".join(value.split()) if isinstance(value, str) else ""


def _pick_enclosure(entry: dict, source: str) -> tuple[str, str | None, object] | None:
    """(url, type, length) of the item's media file: the first audio/video enclosure, else the first
    of unknown type; media:content only when there is no <enclosure> at all."""
    candidates = [(e.get("href"), e.get("type"), e.get("length")) for e in entry.get("enclosures") or []]
    if not candidates:
        candidates = [
            (m.get("url"), m.get("type"), m.get("filesize"))
            for m in entry.get("media_content") or []
            if (m.get("type") or "").startswith(_MEDIA_PREFIXES) or m.get("medium") in ("audio", "video")
        ]
    usable = [(absolute_url(url, source), clean(kind), length) for url, kind, length in candidates]
    usable = [c for c in usable if c[0]]
    for wanted in (lambda k: k.lower().startswith(_MEDIA_PREFIXES),
                   lambda k: not k.lower().startswith(_NOT_MEDIA_PREFIXES)):
        for url, kind, length in usable:
            if wanted(kind or ""):
                return url, kind, length
    return None


def _published_at(entry: dict, label: str, warnings: FeedWarnings) -> datetime | None:
    # dict.get, not FeedParserDict.get: the latter maps "updated" to "published" with a warning.
    raw = dict.get(entry, "published") or dict.get(entry, "updated")
    when = parse_pub_date(raw)
    if when is None and raw:
        parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        if parsed:
            when = datetime(*parsed[:6], tzinfo=UTC)
        else:
            warnings.add("unreadable publication dates left empty", f"{label}: {raw}")
    return when


def read_episodes(
    entries: list, extras: list[ItemExtras], source: str, warnings: FeedWarnings
) -> tuple[list[ParsedEpisode], int, int]:
    """(episodes, items skipped for want of an enclosure, duplicate items dropped)."""
    episodes: list[ParsedEpisode] = []
    seen_keys: set[str] = set()
    seen_urls: set[str] = set()
    skipped = duplicates = 0
    for entry, extra in zip(entries, extras):
        title = one_line(entry.get("title"))
        guid = clean(entry.get("id")) or ""
        label = title or guid or f"item {len(episodes) + skipped + duplicates + 1}"
        enclosure = _pick_enclosure(entry, source)
        if enclosure is None:
            skipped += 1
            warnings.add("items without an audio or video enclosure skipped", label)
            continue
        url, kind, length = enclosure
        if not entry.get("enclosures"):
            warnings.add("items without <enclosure> read from their media:content", label)
        if not is_web_url(url):
            warnings.add("enclosure URLs that are not absolute http(s) URLs", url)
        episode = ParsedEpisode(
            guid=guid,
            title=title,
            enclosure_url=url,
            enclosure_type=kind,
            enclosure_length=parse_byte_length(length),
            duration_seconds=_number(entry.get("itunes_duration"), parse_duration, "itunes:duration", label, warnings),
            published_at=_published_at(entry, label, warnings),
            season=_number(entry.get("itunes_season") or extra.season, parse_positive_int, "season", label, warnings),
            episode_number=_number(entry.get("itunes_episode") or extra.episode, parse_positive_int,
                                   "episode number", label, warnings),
            episode_type=_episode_type(entry.get("itunes_episodetype"), label, warnings),
            chapters_url=absolute_url(extra.chapters_url, source) or None,
            transcript_urls=[{**t, "url": absolute_url(t["url"], source)} for t in extra.transcripts],
            link=absolute_url(entry.get("link"), source) or None,
            description=clean(entry.get("summary")) or clean(((entry.get("content") or [{}])[0]).get("value")),
        )
        key = episode_key(episode)
        if key in seen_keys:
            duplicates += 1
            warnings.add("duplicate items skipped, the first one kept", key)
            continue
        if url in seen_urls:
            warnings.add("episodes with distinct guids share an enclosure URL with an earlier episode", url)
        seen_keys.add(key)
        seen_urls.add(url)
        episodes.append(episode)
    return episodes, skipped, duplicates


def _number(raw: object, reader, what: str, label: str, warnings: FeedWarnings) -> int | None:
    value = reader(raw)
    text = clean(raw if isinstance(raw, str) else None)
    if value is None and text and text.strip("0:. "):  # all zeros is the usual "unknown", not an error
        warnings.add(f"unreadable {what} values left empty", f"{label}: {raw.strip()}")
    return value


def _episode_type(raw: object, label: str, warnings: FeedWarnings) -> str:
    value = (clean(raw) or "full").lower()
    if value not in EPISODE_TYPES:
        warnings.add("unknown itunes:episodeType values read as 'full'", f"{label}: {value}")
        return "full"
    return value
