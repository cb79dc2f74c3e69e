"""The live feed: records the ingest path has just shipped (prefix hits, pixel calls) turned into one message per
tenant and published on the live bus. It runs on its own thread, fed by the hit journal's shipper (Redis mode) or
the embedded writer, so neither the redirect nor the shipping waits for it. Events carry hashed keys only: never
an IP or a raw User-Agent."""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from services import lookups
from services.db import Database
from services.live.bus import WINDOW_MINUTES
from services.measurement import hashing
from services.measurement.counting_rules import _match_key
from services.models import Episode, Podcast, Sponsor
from services.sponsorship.attribution.pixel import RECORD_KIND

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60.0  # how long a podcast's episodes and a sponsor's pixel key are remembered
CACHE_ENTRIES = 10_000  # a cache past this is cleared: pixel keys arrive unchecked, so garbage keys must not pile up
KEY_CHARS = 12  # a shown key is the start of the listener key (or the household hash): enough to tell apart
UNKNOWN = "Unknown"


@dataclass
class Show:
    tenant_id: int
    podcast: str
    episodes: dict[str, str] = field(default_factory=dict)  # enclosure match key (and without query) -> title


class LiveResolver:
    """What a record needs to become a live event, cached: podcast key -> tenant, show and episodes; pixel key ->
    tenant and sponsor; the month's listener secret; the app (OPAWG) and country of a hit."""

    def __init__(self, db: Database, locate: Callable[[str], str | None] | None = None,
                 classify: Callable[[str | None], str | None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.db = db
        self._locate, self._classify, self._clock = locate, classify, clock
        self._shows: dict[str, tuple[float, Show | None]] = {}
        self._sponsors: dict[str, tuple[float, tuple[int, str] | None]] = {}
        self._secrets: dict[str, bytes] = {}

    def show(self, prefix_key: str) -> Show | None:
        cached = self._shows.get(prefix_key)
        if cached is None or cached[0] < self._clock():
            if len(self._shows) >= CACHE_ENTRIES:
                self._shows.clear()
            cached = self._shows[prefix_key] = (self._clock() + CACHE_SECONDS, self._load_show(prefix_key))
        return cached[1]

    def _load_show(self, prefix_key: str) -> Show | None:
        with self.db.session() as s:  # hits arrive before any tenant is known: the key names it
            tenant_id = lookups.enter_tenant_of(s, "prefix", prefix_key)
            if tenant_id is None:
                return None
            podcast = s.execute(select(Podcast.id, Podcast.tenant_id, Podcast.title)
                                .where(Podcast.prefix_key == prefix_key, Podcast.tenant_id == tenant_id)).one()
            rows = s.execute(select(Episode.match_key, Episode.enclosure_url, Episode.title)
                             .where(Episode.podcast_id == podcast.id)).all()
        show = Show(podcast.tenant_id, podcast.title)
        for match_key, url, title in rows:
            key = match_key or _match_key(url)
            if key:
                show.episodes.setdefault(key, title)
                show.episodes.setdefault(key.split("?", 1)[0], title)
        return show

    def episode(self, show: Show, url: str | None) -> str:
        key = _match_key(url) if url else None
        if key is None:
            return UNKNOWN
        return show.episodes.get(key) or show.episodes.get(key.split("?", 1)[0]) or UNKNOWN

    def sponsor(self, pixel_key: str) -> tuple[int, str] | None:
        cached = self._sponsors.get(pixel_key)
        if cached is None or cached[0] < self._clock():
            if len(self._sponsors) >= CACHE_ENTRIES:
                self._sponsors.clear()
            with self.db.session() as s:
                tenant_id = lookups.enter_tenant_of(s, "pixel", pixel_key)
                row = None if tenant_id is None else s.execute(select(Sponsor.tenant_id, Sponsor.name).where(
                    Sponsor.pixel_key == pixel_key, Sponsor.tenant_id == tenant_id)).first()
            cached = self._sponsors[pixel_key] = (self._clock() + CACHE_SECONDS, tuple(row) if row else None)
        return cached[1]

    def secret(self, month: str) -> bytes:
        if month not in self._secrets:
            with self.db.session() as s:  # the secrets are no tenant's rows
                self._secrets[month] = hashing.month_secret(s, month)
                s.commit()
        return self._secrets[month]

    def app(self, user_agent: str | None) -> str:
        if self._classify is None:
            from services.measurement.useragents.classifier import classify
            self._classify = lambda ua: classify(ua).name
        return self._classify(user_agent) or UNKNOWN

    def country(self, ip: str | None) -> str:
        if self._locate is None:
            from services.measurement.geo import default_locator
            locator = default_locator()
            self._locate = lambda address: locator.lookup(address).country
        return (self._locate(ip) if ip else None) or UNKNOWN


def build_batches(records: Iterable[dict], resolver: LiveResolver, now: float) -> dict[int, dict]:
    """One message per tenant: per-minute counts and the events, oldest first. Records older than the window, of
    unknown keys, or of other kinds (tracking-link clicks) are left out."""
    batches: dict[int, dict] = {}
    oldest = now - WINDOW_MINUTES * 60
    for record in records:
        try:
            moment = datetime.fromisoformat(record["ts"])
        except (KeyError, TypeError, ValueError):
            continue
        ts = moment.timestamp()
        if ts < oldest:
            continue
        kind = record.get("kind")
        if kind is None:
            show = resolver.show(record.get("key") or "")
            if show is None:
                continue
            ip, ua = record.get("ip") or "", record.get("ua")
            episode, app, country = resolver.episode(show, record.get("url")), resolver.app(ua), resolver.country(ip)
            key = hashing.listener_key(resolver.secret(hashing.month_of(moment)), ip, ua)[:KEY_CHARS]
            fields = {"hits": 1, f"e:{episode}": 1, f"a:{app}": 1, f"c:{country}": 1}
            event = {"t": int(ts), "kind": "hit", "show": show.podcast, "episode": episode, "app": app,
                     "country": country, "key": key}
            tenant_id = show.tenant_id
        elif kind == RECORD_KIND and record.get("src") == "pixel":
            owner = resolver.sponsor(record.get("k") or "")
            if owner is None:
                continue
            tenant_id, sponsor = owner
            ip = record.get("ip") or ""
            key = hashing.listener_key(resolver.secret(hashing.month_of(moment)), ip, None)[:KEY_CHARS]
            fields = {"conversions": 1}
            event = {"t": int(ts), "kind": "conversion", "sponsor": sponsor, "type": record.get("e") or "",
                     "value": record.get("v") or "", "currency": record.get("c") or "", "key": key}
        else:
            continue
        batch = batches.setdefault(tenant_id, {"minutes": {}, "recent": []})
        batch["minutes"].setdefault(int(ts // 60), Counter()).update(fields)
        batch["recent"].append(event)
    for batch in batches.values():
        batch["minutes"] = {m: dict(c) for m, c in batch["minutes"].items()}
        batch["recent"].sort(key=lambda e: e["t"])
    return batches


class LiveFeed:
    """`offer(records)` hands a shipped batch over (dicts, or the journal's JSON lines) without waiting; a daemon
    thread resolves and publishes it. A full queue drops the batch (logged): the live view is a view, the hits
    themselves are already on their durable path."""

    def __init__(self, bus, resolver: LiveResolver, max_batches: int = 1000, clock: Callable[[], float] = time.time):
        self.bus, self.resolver, self._clock = bus, resolver, clock
        self.queue: queue.Queue = queue.Queue(maxsize=max_batches)
        self.dropped = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def offer(self, records: list) -> None:
        if self._thread is None:
            self._start()
        try:
            self.queue.put_nowait(records)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("live feed behind: batches dropped from the live view", extra={"dropped": self.dropped})

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            records = self.queue.get()
            try:
                self.publish(records)
            except Exception:  # noqa: BLE001 - a bus outage costs the live view, never the hits
                logger.warning("live feed could not publish a batch", exc_info=True)
            finally:
                self.queue.task_done()

    def publish(self, records: list) -> None:
        decoded = []
        for record in records:
            if isinstance(record, (bytes, str)):
                if not record:
                    continue
                try:
                    record = json.loads(record)
                except ValueError:
                    continue
            decoded.append(record)
        batches = build_batches(decoded, self.resolver, self._clock())
        if batches:
            self.bus.publish(batches)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every offered batch is published (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True
