"""Podcasts and episodes from feeds: import (upsert by guid, else enclosure URL), refresh with conditional GET,
and the listings pages and the API read."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services import audit
from services.catalog.feed_fetch import FeedFetchError, fetch_feed
from services.catalog.feeds import FeedError, ParsedFeed, episode_key, parse_feed
from services.db import Database
from services.events import outbox
from services.errors import NotFound, ServiceError, ValidationError
from services.measurement.urls import try_enclosure_match_key
from services.models import Episode, Podcast
from services.models.base import utcnow
from services.tenancy import TenantContext, require_role, require_staff

logger = logging.getLogger(__name__)


@dataclass
class FeedImport:
    podcast_id: int
    title: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    new_podcast: bool = False
    warnings: list[str] = field(default_factory=list)


def read_source(source: str) -> tuple[bytes, str | None, dict]:
    """Content of a feed given as an http(s) URL or a file path; returns (content, feed URL or None, validators)."""
    if urlsplit(source).scheme in ("http", "https"):
        result = fetch_feed(source)
        if result.content is None:
            raise FeedError(source, f"the server answered HTTP {result.status}")
        return result.content, source, {"etag": result.etag, "last_modified": result.last_modified}
    path = Path(source)
    if not path.is_file():
        raise ValidationError(f"{source}: no such file or URL", {"source": "not a file or http(s) URL"})
    return path.read_bytes(), None, {}


def import_feed(db: Database, ctx: TenantContext, source: str, own_hosts: Collection[str] = ()) -> FeedImport:
    """Import a feed (URL or file) into the tenant's catalog in one transaction: nothing is written if it fails."""
    require_role(ctx, "editor")
    content, feed_url, validators = read_source(source)
    parsed = parse_feed(content, source)
    with db.session(ctx.tenant_id) as s:
        result = upsert_feed(s, ctx, parsed, feed_url, own_hosts)
        podcast = s.get(Podcast, result.podcast_id)
        podcast.feed_etag, podcast.feed_last_modified = validators.get("etag"), validators.get("last_modified")
        podcast.feed_checked_at, podcast.feed_error = utcnow(), None
        audit.record(s, ctx, "feed.imported", "podcast", result.podcast_id,
                     {"source": source, "created": result.created, "updated": result.updated})
        outbox.record(s, ctx.tenant_id, "import.completed",
                      {"source": "feed", "podcast_id": result.podcast_id, "feed_url": feed_url,
                       "created": result.created, "updated": result.updated})
        s.commit()
    return result


def upsert_feed(s: Session, ctx: TenantContext, parsed: ParsedFeed, feed_url: str | None,
                own_hosts: Collection[str] = ()) -> FeedImport:
    """Create or update the podcast and its episodes from a parsed feed, inside the caller's transaction."""
    title = parsed.title or feed_url or "Untitled podcast"
    lookup = select(Podcast).where(Podcast.tenant_id == ctx.tenant_id)
    # A feed fetched by URL is the same podcast as its URL; a feed from a file is known by its title.
    podcast = s.scalar(lookup.where(Podcast.feed_url == feed_url)) if feed_url else s.scalar(
        lookup.where(Podcast.feed_url.is_(None), Podcast.title == title))
    new_podcast = podcast is None
    if podcast is None:
        podcast = Podcast(tenant_id=ctx.tenant_id, prefix_key=secrets.token_urlsafe(9), feed_url=feed_url, title=title)
        s.add(podcast)
    podcast.title = title
    podcast.author, podcast.description = parsed.author or "", parsed.description or ""
    podcast.language, podcast.image_url = parsed.language, parsed.image_url
    podcast.category = parsed.categories[0] if parsed.categories else None
    s.flush()
    result = FeedImport(podcast.id, podcast.title, new_podcast=new_podcast, warnings=list(parsed.warnings))
    existing = {e.guid: e for e in s.scalars(select(Episode).where(Episode.podcast_id == podcast.id))}
    for item in parsed.episodes:
        key = episode_key(item)
        values = {
            "title": item.title or key, "enclosure_url": item.enclosure_url, "enclosure_type": item.enclosure_type,
            "enclosure_length": item.enclosure_length, "duration_seconds": item.duration_seconds,
            "published_at": item.published_at, "season": item.season, "episode_number": item.episode_number,
            "episode_type": item.episode_type, "chapters_url": item.chapters_url,
            "transcripts": list(item.transcript_urls),
            "match_key": try_enclosure_match_key(item.enclosure_url, own_hosts=own_hosts),
        }
        episode = existing.get(key)
        if episode is None:
            s.add(Episode(tenant_id=ctx.tenant_id, podcast_id=podcast.id, guid=key, **values))
            result.created += 1
        elif any(not _same(getattr(episode, name), value) for name, value in values.items()):
            for name, value in values.items():
                setattr(episode, name, value)
            result.updated += 1
        else:
            result.unchanged += 1
    s.flush()
    return result


def _same(stored, new) -> bool:
    """Equality that ignores how the database hands back a UTC time (SQLite drops the zone)."""
    if isinstance(stored, datetime) and isinstance(new, datetime):
        return stored.replace(tzinfo=None) == new.astimezone(timezone.utc).replace(tzinfo=None)
    return stored == new


def refresh_feed(db: Database, podcast_id: int, own_hosts: Collection[str] = ()) -> str:
    """Refresh one podcast from its feed URL with a conditional GET; records the outcome on the podcast.

    Returns 'updated', 'not modified' or 'error: ...'. Used by the periodic job, across tenants."""
    with db.session(system=True) as s:
        podcast = s.get(Podcast, podcast_id)
        if podcast is None or not podcast.feed_url:
            return "no feed"
        tenant_id, url, etag, modified = podcast.tenant_id, podcast.feed_url, podcast.feed_etag, podcast.feed_last_modified
    ctx = TenantContext(tenant_id=tenant_id, role="owner")
    try:
        fetched = fetch_feed(url, etag=etag, last_modified=modified)
        if fetched.status == 304:
            outcome, parsed = "not modified", None
        elif fetched.content is None:
            raise FeedError(url, f"the server answered HTTP {fetched.status}")
        else:
            parsed, outcome = parse_feed(fetched.content, url), "updated"
    except (FeedError, FeedFetchError, ServiceError) as exc:
        with db.session(tenant_id) as s:
            podcast = s.get(Podcast, podcast_id)
            podcast.feed_checked_at, podcast.feed_error = utcnow(), exc.message
            outbox.record(s, tenant_id, "feed.failed",
                          {"podcast_id": podcast_id, "feed_url": url, "error": exc.message[:2000]})
            s.commit()
        logger.warning("feed refresh failed", extra={"podcast_id": podcast_id, "error": exc.message})
        return f"error: {exc.message}"
    with db.session(tenant_id) as s:
        if parsed is not None:
            upsert_feed(s, ctx, parsed, url, own_hosts)
        podcast = s.get(Podcast, podcast_id)
        podcast.feed_checked_at, podcast.feed_error = utcnow(), None
        if parsed is not None:
            podcast.feed_etag, podcast.feed_last_modified = fetched.etag, fetched.last_modified
        s.commit()
    return outcome


def podcasts_with_feeds(db: Database) -> list[int]:
    with db.session(system=True) as s:
        return list(s.scalars(select(Podcast.id).where(Podcast.feed_url.is_not(None)).order_by(Podcast.id)))


@dataclass(frozen=True)
class PodcastRow:
    id: int
    title: str
    feed_url: str | None
    prefix_key: str
    episodes: int
    feed_checked_at: object
    feed_error: str | None


def list_podcasts(db: Database, ctx: TenantContext) -> list[PodcastRow]:
    require_staff(ctx)
    with db.read_session(ctx.tenant_id) as s:
        counts = select(Episode.podcast_id, func.count(Episode.id).label("n")).group_by(Episode.podcast_id).subquery()
        rows = s.execute(select(Podcast.id, Podcast.title, Podcast.feed_url, Podcast.prefix_key,
                                func.coalesce(counts.c.n, 0), Podcast.feed_checked_at, Podcast.feed_error)
                         .outerjoin(counts, counts.c.podcast_id == Podcast.id)
                         .where(Podcast.tenant_id == ctx.tenant_id).order_by(Podcast.title)).all()
    return [PodcastRow(*row) for row in rows]


def list_episodes(db: Database, ctx: TenantContext, podcast_id: int | None = None) -> list[dict]:
    require_staff(ctx)
    with db.read_session(ctx.tenant_id) as s:
        stmt = select(Episode.id, Episode.guid, Episode.title, Episode.podcast_id, Episode.published_at,
                      Episode.enclosure_url, Episode.duration_seconds).where(Episode.tenant_id == ctx.tenant_id)
        if podcast_id is not None:
            if s.scalar(select(Podcast.id).where(Podcast.id == podcast_id, Podcast.tenant_id == ctx.tenant_id)) is None:
                raise NotFound(f"no podcast {podcast_id}")
            stmt = stmt.where(Episode.podcast_id == podcast_id)
        rows = s.execute(stmt.order_by(Episode.published_at.desc(), Episode.id)).mappings().all()
    return [dict(row) for row in rows]
