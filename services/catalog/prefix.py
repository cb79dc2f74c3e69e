"""The tracking prefix: each podcast's prefix URL, and which destination hosts a prefix may redirect to."""
from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from sqlalchemy import select

from services import lookups
from services.db import Database
from services.measurement.urls import strip_tracking_prefixes
from services.models import Episode, Podcast


def own_hosts(settings) -> tuple[str, ...]:
    """Our own host names, so our prefix is recognised (and stripped) inside enclosure URLs."""
    host = urlsplit(settings.public_base_url).hostname
    return (host,) if host else ()


def prefix_url(public_base_url: str, prefix_key: str) -> str:
    """What a podcaster puts before each enclosure URL (without its scheme)."""
    return f"{public_base_url.rstrip('/')}/e/{prefix_key}/"


def destination_hosts(db: Database, prefix_key: str, own_hosts: Collection[str] = ()) -> frozenset[str] | None:
    """Hosts the podcast's feed has used for its enclosures (after our own prefix); None for an unknown key.

    A prefix redirect to any other host is refused, so the prefix is not an open redirect."""
    with db.session() as s:  # the key arrives before any tenant is known: it names its tenant, then only that one
        tenant_id = lookups.enter_tenant_of(s, "prefix", prefix_key)
        if tenant_id is None:
            return None
        podcast_id = s.scalar(select(Podcast.id).where(Podcast.prefix_key == prefix_key, Podcast.tenant_id == tenant_id))
        urls = s.scalars(select(Episode.enclosure_url).where(Episode.podcast_id == podcast_id,
                                                             Episode.enclosure_url.is_not(None))).all()
    hosts = set()
    for url in urls:
        try:
            chain = strip_tracking_prefixes(url, own_hosts=own_hosts)
        except ValueError:
            continue
        # The first URL after our own prefix is where a prefix request redirects; the last is the audio host.
        after_self = [u for hop, u in zip(chain.hops, chain.hop_urls) if hop != "self"] + [chain.destination]
        for candidate in (after_self[0], chain.destination):
            host = urlsplit(candidate).hostname
            if host:
                hosts.add(host.lower())
    return frozenset(hosts)
