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
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from redis.exceptions import LockError
from sqlalchemy import select

from services.bulk import insert_frame
from services.db import Database
from services.measurement import hashing
from services.models import DownloadRequest, Podcast

logger = logging.getLogger(__name__)

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


class JournalSink:
    """Redis mode: each hit is appended to a local journal before the redirect answers (one write() to a file
    opened O_APPEND: no network round trip, no fsync per hit), and a background thread ships the journal to the
    Redis buffer in pipelined batches every few milliseconds.

    No hit is lost: a line that write() accepted is in the kernel's page cache, so it outlives the worker
    (crash, SIGKILL, restart) and Redis (an outage only lets the journal grow; shipping resumes on its own).
    The shipper fdatasyncs the journal about once a second while it holds unshipped lines, so a crash of the
    whole machine loses about what Redis with `appendfsync everysec` would. Shipping is at-least-once (a worker
    killed between RPUSH and its bookkeeping ships that segment again from another process) and storing is
    idempotent by hit id, so a hit is stored exactly once.

    Layout: `<dir>/<owner>.lock`, held with flock by the owning process for its whole life, and its segments
    `<dir>/<owner>.<seq>.jsonl`; a segment is rotated once shipped past `rotate_bytes` and deleted when fully
    shipped. A shipper adopts the segments of owners whose lock is free (the process died) and the legacy spool
    file, ships and deletes them. The journal is opened lazily in the process that records, so a preloaded
    app that forks workers gives each worker its own owner."""

    def __init__(self, redis_client, directory: Path, interval: float = 0.005, batch: int = 2000,
                 rotate_bytes: int = 4 << 20, sync_interval: float = 1.0, legacy_spool: Spool | None = None):
        self.redis = redis_client
        self.directory = Path(directory)
        self.interval, self.batch, self.rotate_bytes, self.sync_interval = interval, batch, rotate_bytes, sync_interval
        self.legacy_spool = legacy_spool
        self._lock = threading.Lock()  # guards the current segment's fd (writes and rotation)
        self._ship_lock = threading.Lock()  # one shipping pass at a time (the shipper thread, or a direct call)
        self._pid = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None

    # --- the request path -------------------------------------------------------------------------------------

    def record(self, hit: dict) -> None:
        data = (json.dumps(hit, separators=(",", ":")) + "\n").encode()
        if self._pid != os.getpid():
            self._open()
        with self._lock:
            os.write(self._fd, data)  # O_APPEND: one whole line at the end; durable against a process crash
            self._written += len(data)
        if not self._wake.is_set():
            self._wake.set()

    # --- setup ------------------------------------------------------------------------------------------------

    def _open(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            self.owner = f"{socket_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self._lock_fd = os.open(self.directory / f"{self.owner}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._seq = 0
            self._sealed: list[tuple[Path, int]] = []  # (segment, bytes shipped) no longer written to
            self._new_segment()
            self._pid = os.getpid()
            self._wake, self._stop = threading.Event(), threading.Event()
            self._thread = threading.Thread(target=self._run, name="hit-shipper", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def _new_segment(self) -> None:
        self._seq += 1
        self._segment = self.directory / f"{self.owner}.{self._seq:06d}.jsonl"
        self._fd = os.open(self._segment, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._written = 0
        self._shipped = 0
        self._synced = 0

    # --- the shipper ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        last_sync = time.monotonic()
        backoff = 0.0
        adopt_at = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=self.sync_interval)
            if self._stop.is_set():
                break
            if backoff:
                self._stop.wait(backoff)
            elif self.interval:
                self._stop.wait(self.interval)  # let a few more hits arrive: one round trip for them all
            self._wake.clear()
            now = time.monotonic()
            try:
                if now >= adopt_at:
                    self.adopt_orphans()
                    adopt_at = now + 30.0
                self.ship()
                backoff = 0.0
                if self._down_since is not None:
                    logger.warning("redis reachable again: journal shipped (down %.1f s)", now - self._down_since)
                    self._down_since = None
            except Exception as exc:  # Redis unreachable (or any failure): the journal keeps every hit
                if self._down_since is None:
                    self._down_since = now
                    logger.warning("redis unavailable: hits wait in the journal %s (%s)", self.directory, exc)
                backoff = min(max(backoff * 2, 0.05), 1.0)
            if now - last_sync >= self.sync_interval:
                self._sync()
                last_sync = now
            with self._idle:
                self._idle.notify_all()

    def _sync(self) -> None:
        """Group fsync: the unshipped tail of the journal reaches the disk about once a second."""
        with self._lock:
            if self._written > self._synced and self._written > self._shipped:
                os.fdatasync(self._fd)
                self._synced = self._written

    def _push(self, data: bytes) -> None:
        lines = data.split(b"\n")
        pipe = self.redis.pipeline(transaction=False)
        for start in range(0, len(lines), 1000):
            pipe.rpush(BUFFER_KEY, *lines[start:start + 1000])
        pipe.execute()

    def _ship_file(self, path: Path, offset: int, limit: int | None = None) -> int:
        """Push the whole lines of `path` from `offset` (up to `limit` bytes into the file); new offset."""
        with open(path, "rb") as f:
            while True:
                f.seek(offset)
                size = (limit - offset) if limit is not None else -1
                if size == 0:
                    return offset
                data = f.read(min(size, self.batch * 512) if size > 0 else self.batch * 512)
                end = data.rfind(b"\n")
                if end < 0:
                    return offset
                self._push(data[:end])
                offset += end + 1

    def ship(self) -> int:
        """Ship everything written so far (sealed segments, then the current one); rotate a large current
        segment. Returns the bytes shipped. Raises when Redis fails (what was shipped stays shipped)."""
        if self._pid != os.getpid():
            return 0
        with self._ship_lock:
            return self._ship()

    def _ship(self) -> int:
        before = self._shipped + sum(done for _, done in self._sealed)
        while self._sealed:
            path, done = self._sealed[0]
            done = self._ship_file(path, done)
            self._sealed[0] = (path, done)
            path.unlink(missing_ok=True)
            self._sealed.pop(0)
        with self._lock:
            segment, written = self._segment, self._written
        self._shipped = self._ship_file(segment, self._shipped, written)
        shipped = self._shipped
        if shipped >= self.rotate_bytes:
            with self._lock:
                os.close(self._fd)
                self._sealed.append((self._segment, self._shipped))
                self._new_segment()
            return shipped - before + self._ship()
        return shipped - before

    def pending(self) -> int:
        """Bytes written but not yet shipped by this process."""
        if self._pid != os.getpid():
            return 0
        with self._lock:
            return self._written - self._shipped + sum(p.stat().st_size - d for p, d in self._sealed if p.exists())

    def adopt_orphans(self) -> int:
        """Ship and delete the journals of owners that are gone (their lock is free), and the legacy spool.
        Returns the hits shipped."""
        shipped = 0
        if self.legacy_spool is not None and self.legacy_spool.has_pending():
            shipped += self.legacy_spool.replay(lambda lines: self.redis.rpush(BUFFER_KEY, *lines))
        for lock_path in sorted(self.directory.glob("*.lock")):
            if lock_path.stem == getattr(self, "owner", None):
                continue
            try:
                fd = os.open(lock_path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its owner is alive and ships it
                for segment in sorted(self.directory.glob(f"{lock_path.stem}.*.jsonl")):
                    with open(segment, "rb") as f:
                        shipped += f.read().count(b"\n")
                    self._ship_file(segment, 0)
                    segment.unlink()
                lock_path.unlink(missing_ok=True)
                logger.info("adopted the journal of %s", lock_path.stem)
            finally:
                os.close(fd)
        return shipped

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until this process's journal is shipped (True), or `timeout` passes (False)."""
        if self._pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        while self.pending() > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._thread.is_alive():
                return False
            with self._idle:
                self._wake.set()
                self._idle.wait(timeout=min(remaining, 0.5))
        return True

    def close(self, timeout: float = 5.0) -> None:
        """On shutdown: ship what is left (while Redis answers), stop the shipper, fsync and release the journal.
        Lines Redis did not take stay on disk and are adopted by the next process that ships."""
        if self._pid != os.getpid():
            return
        if self._down_since is None:  # Redis answers: ship the rest now rather than leave it for adoption
            self.flush(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)
        with self._lock:
            try:
                if self._written > self._shipped:
                    os.fdatasync(self._fd)
                os.close(self._fd)
            except OSError:
                pass
            if self._written == self._shipped and not self._sealed:
                self._segment.unlink(missing_ok=True)
                (self.directory / f"{self.owner}.lock").unlink(missing_ok=True)
            os.close(self._lock_fd)  # releases the flock: whatever is left is adoptable
            self._pid = None


def socket_host() -> str:
    return os.uname().nodename.replace(".", "_").replace("-", "_")[:32]


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


def drain_buffer(db: Database, redis_client, batch: int = 5000, locate=None, max_batches: int | None = None,
                 lock_timeout: int = 60) -> int:
    """Move hits from the Redis buffer into raw requests; returns the number newly stored.

    Reliable queue: a batch moves atomically from the buffer to a processing list, is stored and committed,
    and only then is the processing list deleted. A drainer that dies at any point leaves its batch in the
    processing list, and the next drain stores it first; storing is idempotent by hit id, so a batch stored
    twice counts once and none is lost. One drainer at a time (a Redis lock, renewed per batch, so its timeout
    only has to outlast one batch: a dead drainer holds up draining that long at most); a drainer that finds its
    lock expired and taken over stops without touching the lists."""
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
            stored += store_hits(db, (json.loads(line) for line in lines), locate)
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
