"""What feed parsing hands to the catalog: plain dataclasses, the episode identity rule, FeedError."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.errors import ValidationError

EPISODE_TYPES = ("full", "trailer", "bonus")


class FeedError(ValidationError):
    """A document that cannot be a podcast feed; the message names the source and the problem."""

    def __init__(self, source: str, problem: str):
        self.source = source or "feed"
        self.problem = problem
        super().__init__(f"{self.source}: {problem}", fields={"feed": problem})


@dataclass
class ParsedEpisode:
    guid: str  # as in the feed, "" when missing or empty: use episode_key() as the identity
    title: str
    enclosure_url: str
    enclosure_type: str | None
    enclosure_length: int | None
    duration_seconds: int | None
    published_at: datetime | None  # UTC-aware
    season: int | None
    episode_number: int | None
    episode_type: str  # full, trailer or bonus (Apple's default "full" when missing or invalid)
    chapters_url: str | None
    transcript_urls: list[dict]  # {"url", "type", "language"}
    link: str | None
    description: str | None


@dataclass
class ParsedFeed:
    title: str
    author: str | None
    description: str | None
    language: str | None
    image_url: str | None
    categories: list[str]  # "Category" or "Category>Subcategory"
    new_feed_url: str | None
    link: str | None
    episodes: list[ParsedEpisode]
    warnings: list[str]
    skipped_items: int = 0  # items without an audio/video enclosure
    duplicate_items: int = 0  # items whose episode_key repeats an earlier item's


def episode_key(episode: ParsedEpisode) -> str:
    """The identity the catalog upserts by: the guid, or the enclosure URL when the guid is empty."""
    return episode.guid.strip() or episode.enclosure_url
