"""Ingestion of tracking-prefix hits: record without waiting (the Redis buffer, fed through the local journal of
services.measurement.journal; a local spool when Redis is down; an in-process writer in embedded mode), then
store them as raw requests, idempotently by hit id.

Other public endpoints (the conversion pixel, tracking links) send their records down the same durable path: a
record with a `kind` field is handed to the store registered for that kind (`stores`, wired by the caller),
a record without one is a prefix hit, stored here exactly as before."""
from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from redis.exceptions import LockError
from sqlalchemy import select

from services.bulk import insert_frame
from services.db import Database
from services.measurement import hashing
from services.models import DownloadRequest, Podcast
from services.sponsorship.attribution import households

logger = logging.getLogger(__name__)

RecordStore = Callable[[Database, list[dict]], int]  # stores records of one kind; returns how many were new

BUFFER_KEY = "hits:buffer"
PROCESSING_KEY = "hits:processing"  # the batch being stored: moved out of the buffer atomically, deleted after commit
DRAIN_LOCK_KEY = "hits:drain-lock"

# Move up to ARGV[1] hits from the head of the buffer to the processing list, in one atomic step, only while the
# caller still holds the drain lock (ARGV[2] is its token). Returns the hits moved (nil: the lock is not ours).
_MOVE_BATCH = """
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return false end
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for i = 1, #items, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
end
if #items > 0 then redis.call('LTRIM', KEYS[1], #items, -1) end
return items
"""
# Forget the processing list once its hits are committed, only while the lock is still the caller's (-1 if not).
_BATCH_DONE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
return redis.call('DEL', KEYS[1])
"""


def new_hit(podcast_key: str, ip: str, user_agent: str | None, referer: str | None, byte_range: str | None,
            method: str, url: str, now: datetime | None = None) -> dict:
    """A hit as the buffer carries it: plain JSON, with a unique id that makes a replay harmless."""
    return {"uid": uuid.uuid4().hex, "ts": (now or datetime.now(timezone.utc)).isoformat(), "key": podcast_key,
            "ip": ip, "ua": user_agent, "ref": referer, "range": byte_range, "method": method, "url": url}


class Spool:
    """An append-only local file for hits that could not reach Redis; replayed once Redis answers again."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / "hits.jsonl"

    def append(self, hit: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(json.dumps(hit) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def has_pending(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def replay(self, push: Callable[[list[str]], None], batch: int = 1000) -> int:
        """Hand spooled hits to `push` in batches; lines pushed are removed, the rest stay for next time."""
        if not self.has_pending():
            return 0
        with open(self.path, "r+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            lines = [line for line in f.read().splitlines() if line.strip()]
            done = 0
            try:
                for start in range(0, len(lines), batch):
                    push(lines[start:start + batch])
                    done = start + len(lines[start:start + batch])
            finally:
                f.seek(0)
                f.truncate()
                f.write("".join(line + "\n" for line in lines[done:]))
                f.flush()
                os.fsync(f.fileno())
        logger.info("spooled hits replayed", extra={"hits": done})
        return done


class RedisSink:
    """Push each hit onto the Redis buffer; when Redis fails, spool it to disk. The redirect never waits long:
    the client is built with a short socket timeout."""

    def __init__(self, redis_client, spool: Spool):
        self.redis = redis_client
        self.spool = spool
        self._spool_seen = spool.has_pending()

    def record(self, hit: dict) -> None:
        line = json.dumps(hit)
        try:
            self.redis.rpush(BUFFER_KEY, line)
        except Exception as exc:  # any Redis failure: never lose the hit
            if not self._spool_seen:  # once per outage, not once per hit
                logger.warning("redis unavailable: spooling hits to %s (%s)", self.spool.path, exc)
            self.spool.append(hit)
            self._spool_seen = True
            return
        if self._spool_seen:
            self._spool_seen = False
            try:
                self.spool.replay(lambda lines: self.redis.rpush(BUFFER_KEY, *lines))
            except Exception:
                self._spool_seen = True
                logger.warning("spool replay deferred", exc_info=True)


class ThreadedSink:
    """Embedded mode (no Redis): a background thread writes hits to the database in small batches."""

    def __init__(self, db: Database, store: Callable[[Database, list[dict]], int], spool: Spool,
                 observer: Callable[[list[dict]], None] | None = None):
        self.db, self.store, self.spool = db, store, spool
        self.observer = observer  # told each written batch (the live feed); must not block
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="hit-writer", daemon=True)
        self.thread.start()
        atexit.register(self.flush)

    def record(self, hit: dict) -> None:
        self.queue.put(hit)

    def _run(self) -> None:
        while True:
            hits = [self.queue.get()]
            while len(hits) < 500:
                try:
                    hits.append(self.queue.get(timeout=0.05))
                except queue.Empty:
                    break
            self._write(hits)

    def _write(self, hits: list[dict]) -> None:
        try:
            if self.spool.has_pending():
                self.spool.replay(lambda lines: self.store(self.db, [json.loads(line) for line in lines]))
            self.store(self.db, hits)
        except Exception:
            logger.exception("storing hits failed: spooled")
            for hit in hits:
                self.spool.append(hit)
        try:
            if self.observer is not None:
                self.observer(hits)
        except Exception:  # noqa: BLE001 - the live view must never hold up storing
            logger.warning("hit observer failed", exc_info=True)
        finally:
            for _ in hits:
                self.queue.task_done()

    def flush(self) -> None:
        self.queue.join()


def store_hits(db: Database, hits: Iterable[dict], locate: Callable[[pd.Series], pd.DataFrame] | None = None) -> int:
    """Store hits as raw requests: resolve the podcast key, hash IP + agent into a listener key and the IP alone
    into a household key (as conversions are keyed), geolocate, drop the IP. Returns the number newly stored (a hit
    already stored is skipped)."""
    frame = pd.DataFrame(list(hits))
    if frame.empty:
        return 0
    with db.session(system=True) as s:  # hits arrive for many tenants at once
        podcasts = dict(((key, (tenant, pid)) for key, tenant, pid in s.execute(
            select(Podcast.prefix_key, Podcast.tenant_id, Podcast.id).where(Podcast.prefix_key.in_(set(frame["key"]))))))
        known = frame["key"].isin(podcasts.keys())
        if (~known).any():
            logger.warning("hits for unknown podcast keys dropped", extra={"hits": int((~known).sum())})
        frame = frame[known]
        if frame.empty:
            return 0
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
        frame["listener_key"] = ""
        for month, idx in frame.groupby(frame["ts"].dt.strftime("%Y-%m")).groups.items():
            secret = hashing.month_secret(s, month)
            frame.loc[idx, "listener_key"] = hashing.listener_keys(secret, frame.loc[idx, "ip"], frame.loc[idx, "ua"])
        household = households.household_keys(s, frame["ip"], frame["ts"])
        geo = locate(frame["ip"]) if locate else pd.DataFrame({"country": None, "region": None}, index=frame.index)
        owner = frame["key"].map(podcasts)
        rows = pd.DataFrame({
            "request_uid": frame["uid"], "ts": frame["ts"], "tenant_id": owner.str[0], "podcast_id": owner.str[1],
            "source": "prefix", "method": frame["method"].str.upper(), "status": None, "bytes": None,
            "range": frame["range"], "url": frame["url"], "user_agent": frame["ua"], "referer": frame["ref"],
            "listener_key": frame["listener_key"], "household_key": household.array,
            "country": geo["country"].to_numpy(),
            "region": geo["region"].to_numpy()})
        stored = insert_frame(s, DownloadRequest.__table__, rows, skip_existing=True)
        s.commit()
    return stored


def store_records(db: Database, records: Iterable[dict], stores: Mapping[str, RecordStore] | None = None,
                  locate=None) -> int:
    """Store a batch from the buffer: prefix hits (no `kind`) as raw requests, every other record with the store
    of its kind. Returns the number newly stored. A record of a kind nobody stores is logged and dropped (kept,
    it would block the buffer forever)."""
    hits: list[dict] = []
    others: dict[str, list[dict]] = {}
    for record in records:
        kind = record.get("kind")
        if kind is None:
            hits.append(record)
        else:
            others.setdefault(kind, []).append(record)
    stored = store_hits(db, hits, locate) if hits else 0
    for kind, batch in others.items():
        store = (stores or {}).get(kind)
        if store is None:
            logger.error("buffered records of unknown kind dropped", extra={"kind": str(kind), "records": len(batch)})
            continue
        stored += store(db, batch)
    return stored


def drain_buffer(db: Database, redis_client, batch: int = 5000, locate=None, max_batches: int | None = None,
                 lock_timeout: int = 60, stores: Mapping[str, RecordStore] | None = None) -> int:
    """Move hits from the Redis buffer into raw requests; returns the number newly stored.

    Reliable queue: a batch moves atomically from the buffer to a processing list, is stored and committed,
    and only then is the processing list deleted. A drainer that dies at any point leaves its batch in the
    processing list, and the next drain stores it first; storing is idempotent by hit id, so a batch stored
    twice counts once and none is lost. One drainer at a time (a Redis lock, renewed per batch, so its timeout
    only has to outlast one batch: a dead drainer holds up draining that long at most); a drainer that finds its
    lock expired and taken over stops without touching the lists. Records with a `kind` go to `stores[kind]`
    (store_records); every store of a batch commits before the batch is forgotten."""
    lock = redis_client.lock(DRAIN_LOCK_KEY, timeout=lock_timeout, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        return 0
    token = lock.local.token
    move = redis_client.register_script(_MOVE_BATCH)
    done = redis_client.register_script(_BATCH_DONE)
    stored = batches = 0
    try:
        while max_batches is None or batches < max_batches:
            lines = redis_client.lrange(PROCESSING_KEY, 0, -1)  # left by a drainer that died mid-batch
            if not lines:
                lines = move(keys=[BUFFER_KEY, PROCESSING_KEY, DRAIN_LOCK_KEY], args=[batch, token])
                if not lines:  # nothing buffered (or the lock is gone)
                    break
            stored += store_records(db, [json.loads(line) for line in lines], stores, locate)
            if done(keys=[PROCESSING_KEY, DRAIN_LOCK_KEY], args=[token]) == -1:
                logger.warning("drain lock lost mid-drain: stopping (the batch is stored; the next drain re-checks it)")
                break
            batches += 1
            try:
                lock.reacquire()  # a fresh timeout for the next batch
            except LockError:
                break
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - expired or taken over: nothing of ours to release
            pass
    return stored
