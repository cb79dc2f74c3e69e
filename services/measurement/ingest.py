"""Ingestion of tracking-prefix hits: record without waiting (Redis buffer, or a local spool when Redis is down,
or an in-process writer in embedded mode), then store them as raw requests, idempotently by hit id."""
from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from services.bulk import insert_frame
from services.db import Database
from services.measurement import hashing
from services.models import DownloadRequest, Podcast

logger = logging.getLogger(__name__)

BUFFER_KEY = "hits:buffer"
DRAIN_LOCK_KEY = "hits:drain-lock"


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

    def __init__(self, db: Database, store: Callable[[Database, list[dict]], int], spool: Spool):
        self.db, self.store, self.spool = db, store, spool
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
        finally:
            for _ in hits:
                self.queue.task_done()

    def flush(self) -> None:
        self.queue.join()


def store_hits(db: Database, hits: Iterable[dict], locate: Callable[[pd.Series], pd.DataFrame] | None = None) -> int:
    """Store hits as raw requests: resolve the podcast key, hash IP + agent into a listener key, geolocate,
    drop the IP. Returns the number newly stored (a hit already stored is skipped)."""
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
        geo = locate(frame["ip"]) if locate else pd.DataFrame({"country": None, "region": None}, index=frame.index)
        owner = frame["key"].map(podcasts)
        rows = pd.DataFrame({
            "request_uid": frame["uid"], "ts": frame["ts"], "tenant_id": owner.str[0], "podcast_id": owner.str[1],
            "source": "prefix", "method": frame["method"].str.upper(), "status": None, "bytes": None,
            "range": frame["range"], "url": frame["url"], "user_agent": frame["ua"], "referer": frame["ref"],
            "listener_key": frame["listener_key"], "country": geo["country"].to_numpy(),
            "region": geo["region"].to_numpy()})
        stored = insert_frame(s, DownloadRequest.__table__, rows, skip_existing=True)
        s.commit()
    return stored


def drain_buffer(db: Database, redis_client, batch: int = 5000, locate=None, max_batches: int | None = None) -> int:
    """Move hits from the Redis buffer into raw requests. At-least-once: a batch leaves the buffer only after it
    is stored, and storing is idempotent by hit id. One drainer at a time (a Redis lock)."""
    lock = redis_client.lock(DRAIN_LOCK_KEY, timeout=300, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        return 0
    stored = batches = 0
    try:
        while max_batches is None or batches < max_batches:
            lines = redis_client.lrange(BUFFER_KEY, 0, batch - 1)
            if not lines:
                break
            stored += store_hits(db, (json.loads(line) for line in lines), locate)
            redis_client.ltrim(BUFFER_KEY, len(lines), -1)
            batches += 1
    finally:
        lock.release()
    return stored
