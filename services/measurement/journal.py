"""The tracking prefix's hit journal in Redis mode: each hit appended to a local file before the redirect answers,
shipped to the Redis buffer (services.measurement.ingest.BUFFER_KEY) by a background thread."""
from __future__ import annotations

import atexit
import errno
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from services.measurement.ingest import BUFFER_KEY, Spool

logger = logging.getLogger(__name__)
ROTATE_AGE = 60.0  # seconds after which a fully shipped segment is rotated (deleted) even if small
# One encoder for every hit: json.dumps with non-default separators builds a new encoder per call.
_encode_line = json.JSONEncoder(separators=(",", ":")).encode


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
    `<dir>/<owner>.<seq>.jsonl`; a segment is rotated once shipped past `rotate_bytes`, or once fully shipped and
    older than `rotate_age` seconds (so a quiet prefix frees its shipped bytes too), and deleted when fully shipped.
    When the disk is full, record() rotates a fully shipped segment at once (deleting it frees its space) and tries
    the hit once more, shipping the segment's last lines itself first if Redis has not taken them yet (and is up);
    a hit that still cannot be written raises JournalWriteError and is counted
    (`on_write_failure`), with one ERROR line per run of failures rather than one per hit. A shipper adopts the segments of owners whose lock is free (the process died) and the legacy spool
    file, ships and deletes them. The journal is opened lazily in the process that records, so a preloaded
    app that forks workers gives each worker its own owner."""

    def __init__(self, redis_client, directory: Path, interval: float = 0.005, batch: int = 2000,
                 rotate_bytes: int = 4 << 20, sync_interval: float = 1.0, legacy_spool: Spool | None = None,
                 observer: Callable[[list[bytes]], None] | None = None, rotate_age: float = ROTATE_AGE,
                 on_write_failure: Callable[[], None] | None = None):
        self.redis = redis_client
        self.observer = observer  # told each shipped batch's lines (the live feed); must not block
        self.on_write_failure = on_write_failure  # told each hit the journal could not write (a metric); must not block
        self.directory = Path(directory)
        self.interval, self.batch, self.rotate_bytes, self.sync_interval = interval, batch, rotate_bytes, sync_interval
        self.rotate_age = rotate_age
        self._failed = 0  # hits failed since the journal last took one: one ERROR line per run of failures
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
        """Append the hit to the journal; raises JournalWriteError (counted and logged) when it cannot."""
        data = (_encode_line(hit) + "\n").encode()
        try:
            if self._pid != os.getpid():
                self._open()
            with self._lock:
                written = self._write_or_free(data)
                if written:
                    self._writable_again()
            if not written:
                # The disk is full and the segment holds lines Redis has not taken yet (the shipper's next pass is
                # milliseconds away): ship them from here, then their space is freed for this hit. Not while Redis
                # is down: the hit fails at once instead of waiting on it.
                if self._down_since is None:
                    try:
                        self.ship()
                    except Exception as exc:  # noqa: BLE001 - Redis failing: the lines stay, the hit fails below
                        logger.warning("hit journal %s: disk full and shipping failed (%s)", self.directory, exc)
                with self._lock:
                    if not self._write_or_free(data):
                        raise OSError(errno.ENOSPC, "hit journal: disk full with lines Redis has not taken")
                    self._writable_again()
        except OSError as exc:
            self._write_failed(exc)
            raise JournalWriteError(exc.errno, f"hit journal: hit not recorded ({exc})") from exc
        if not self._wake.is_set():
            self._wake.set()

    def _writable_again(self) -> None:
        if self._failed:
            logger.warning("hit journal %s writable again: %d hits were lost", self.directory, self._failed)
            self._failed = 0

    def _write_or_free(self, data: bytes) -> bool:
        """Append the line; on a full disk free a fully shipped segment's space and append it there (caller holds
        self._lock). False: the disk is full and nothing could be freed."""
        try:
            self._append(data)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            if not self._free_space():
                return False
            self._append(data)  # once more, into the fresh segment
        return True

    def _append(self, data: bytes) -> None:
        """One write() of one whole line (caller holds self._lock)."""
        written = os.write(self._fd, data)  # O_APPEND: one whole line at the end; durable against a process crash
        if written != len(data):
            # A short write (the disk filled mid-line): take the fragment back, so the hit fails (the prefix answers
            # 500, counted in /metrics) instead of answering 302 for a line that is never shipped and that the next
            # line would run into.
            os.ftruncate(self._fd, self._written)
            raise OSError(errno.ENOSPC, f"hit journal: short write ({written} of {len(data)} bytes)")
        self._written += len(data)

    def _free_space(self) -> bool:
        """The disk is full: if the current segment is entirely shipped, start a new one and delete it (caller holds
        self._lock). True when that freed space."""
        if not (0 < self._written == self._shipped):
            return False  # nothing to free, or lines Redis has not taken yet: those are never given up
        freed = self._written
        self._rotate(keep=False)
        logger.warning("hit journal %s: disk full, deleted a shipped segment (%d bytes) early", self.directory, freed)
        return True

    def _write_failed(self, exc: OSError) -> None:
        if not self._failed:
            logger.error("hit journal %s cannot be written (%s): hits fail until it can (counted in "
                         "prefix_journal_write_failures_total)", self.directory, exc)
        self._failed += 1
        if self.on_write_failure is not None:
            try:
                self.on_write_failure()
            except Exception:  # noqa: BLE001 - counting must not turn one failure into another
                logger.warning("hit journal failure counter failed", exc_info=True)

    # --- setup ------------------------------------------------------------------------------------------------

    def _open(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            self.owner = f"{socket_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self._lock_fd = os.open(self.directory / f"{self.owner}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._seq = 1
            self._sealed: list[tuple[Path, int]] = []  # (segment, bytes shipped) no longer written to
            self._new_segment()
            self._pid = os.getpid()
            self._wake, self._stop = threading.Event(), threading.Event()
            self._thread = threading.Thread(target=self._run, name="hit-shipper", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def _new_segment(self) -> None:
        self._segment = self.directory / f"{self.owner}.{self._seq:06d}.jsonl"
        self._fd = os.open(self._segment, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._written = 0
        self._shipped = 0
        self._synced = 0
        self._opened_at = time.monotonic()

    def _rotate(self, keep: bool = True) -> None:
        """Seal the current segment (or, with keep=False, delete it: it must be fully shipped) and start the next
        (caller holds self._lock). The next segment is opened first: if that fails, the current one stays."""
        segment, fd, shipped = self._segment, self._fd, self._shipped
        self._seq += 1
        try:
            self._new_segment()
        except OSError:
            self._seq -= 1
            self._segment, self._fd = segment, fd
            raise
        os.close(fd)
        if keep:
            self._sealed.append((segment, shipped))
        else:
            segment.unlink(missing_ok=True)

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
        if self.observer is not None:
            try:
                self.observer(lines)
            except Exception:  # noqa: BLE001 - the live view must never hold up shipping
                logger.warning("hit observer failed", exc_info=True)

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
            segment, written, shipped = self._segment, self._written, self._shipped
        try:
            shipped = self._ship_file(segment, shipped, written)
        except FileNotFoundError:
            if segment == self._segment:
                raise
            # record() deleted it meanwhile (disk full): it was fully shipped, so this pass had nothing to push.
        with self._lock:
            if segment != self._segment:
                return shipped - before  # record() rotated it meanwhile: it was fully shipped, nothing more to do
            self._shipped = shipped
            aged = 0 < shipped == self._written and time.monotonic() - self._opened_at >= self.rotate_age
            if shipped >= self.rotate_bytes or aged:
                self._rotate(keep=not aged)  # an aged segment is fully shipped: deleted at once
                rotated = True
            else:
                rotated = False
        if rotated:
            return shipped - before + self._ship()
        return shipped - before

    def pending(self) -> int:
        """Bytes written but not yet shipped by this process."""
        if self._pid != os.getpid():
            return 0
        with self._lock:
            pending = self._written - self._shipped
            for path, done in list(self._sealed):
                try:
                    pending += path.stat().st_size - done
                except FileNotFoundError:  # shipped and deleted meanwhile
                    pass
            return pending

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


class JournalWriteError(OSError):
    """A hit the journal could not write (the disk is full, or failing): not recorded, already counted and logged."""


def socket_host() -> str:
    return os.uname().nodename.replace(".", "_").replace("-", "_")[:32]
