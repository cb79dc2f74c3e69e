"""Where counting's rules run: in this process (the default), or on a Dask cluster (dask.distributed) for networks
that outgrow one machine. Either way the same per-partition function counts (counting_rules.count_partition, which
a Dask worker imports by that path), and the caller (counting.py) reads and writes.

A slab (counting.plan_slabs: consecutive days, with the day before them) is the time partition; on Dask its
requests are split further by a hash of the listener key, so every dedupe group (listener x episode, and the
listener x episode x day of the byte threshold) lies whole in one partition, and the partitions' downloads put
together are exactly the slab's. dask is imported only when an engine at a Dask address is opened."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from services.errors import ServiceError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 30.0  # to reach the scheduler (and for it to have a worker)
GATHER_TIMEOUT_SECONDS = 600.0  # for the workers to count one slab (at most counting.SLAB_ROWS requests) and send it
PARTITIONS_PER_THREAD = 2  # a slab is split into this many partitions per worker thread, to even out the load


class EngineUnavailable(ServiceError):
    """The counting engine did not answer in time (scheduler unreachable, no workers, workers too slow)."""

    status = 503


@dataclass
class SlabCount:
    """What counting a slab (or a partition of one) gives: the downloads, why the other requests were dropped,
    and the requests dropped as bots per UTC day."""

    downloads: pd.DataFrame
    dropped: Counter
    bots_by_day: Counter


CountPartition = Callable[..., SlabCount]  # (raw, episodes, window, since) -> SlabCount


class CountingEngine(Protocol):
    lookahead: int  # slabs handed over before the oldest one's downloads are awaited

    def count(self, count_partition: CountPartition, raw: pd.DataFrame, episodes, window: str,
              since: pd.Timestamp) -> Callable[[], SlabCount]:
        """Start counting a slab; the returned function waits for and returns its SlabCount."""

    def close(self) -> None: ...


class LocalEngine:
    """Counts in this process, the slab as one partition, on one background thread: while a slab is counted there,
    the caller reads the next one and writes the one before, time that is mostly the database's (this process
    waits on its socket, the GIL free). So the rules' work overlaps the database's instead of following it."""

    lookahead = 1

    def __init__(self):
        self._lock = threading.Lock()
        self._pool: tuple[int, ThreadPoolExecutor] | None = None  # (the process it belongs to, the pool)

    def count(self, count_partition: CountPartition, raw: pd.DataFrame, episodes, window: str,
              since: pd.Timestamp) -> Callable[[], SlabCount]:
        # One thread per process, made on first use (counts in several threads share it). A forked child (an RQ
        # work horse) gets a pool of its own: the parent's thread does not exist there.
        with self._lock:
            if self._pool is None or self._pool[0] != os.getpid():
                self._pool = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="counting"))
            pool = self._pool[1]
        return pool.submit(count_partition, raw, episodes, window, since).result

    def close(self) -> None:
        pass  # the thread is the process's (LOCAL is shared); it idles between counts


LOCAL = LocalEngine()


def listener_partitions(listener_keys: pd.Series, partitions: int) -> np.ndarray:
    """Each request's partition, 0..partitions-1, by a stable hash of its listener key (the same key gives the same
    partition in every process and run); requests without a key go to partition 0."""
    if isinstance(listener_keys.dtype, pd.CategoricalDtype):
        codes = listener_keys.cat.codes.to_numpy()
        uniques = listener_keys.cat.categories.to_numpy(dtype=object)
    else:
        codes, uniques = pd.factorize(listener_keys.to_numpy(dtype=object), use_na_sentinel=True)
        uniques = np.asarray(uniques, dtype=object)
    per_key = (pd.util.hash_array(uniques.astype(str).astype(object)) % np.uint64(partitions)).astype(np.int64)
    return np.where(codes < 0, 0, np.append(per_key, 0)[codes])


def split_by_listener(raw: pd.DataFrame, partitions: int) -> list[pd.DataFrame]:
    """The slab's requests as up to `partitions` frames by listener hash, each in the slab's row order with its
    row labels, and with only the categories it uses (so a partition ships only its own distinct values).
    Empty partitions are left out."""
    which = listener_partitions(raw["listener_key"], partitions)
    parts = []
    for number in range(partitions):
        rows = np.flatnonzero(which == number)
        if not len(rows):
            continue
        part = raw.take(rows)
        for name in part.columns:
            if isinstance(part[name].dtype, pd.CategoricalDtype):
                part[name] = part[name].cat.remove_unused_categories()
        parts.append(part)
    return parts


def merge_counts(counts: list[SlabCount], raw: pd.DataFrame) -> SlabCount:
    """The partitions' counts of one slab as the count of the whole slab: the downloads in the order, dtypes and
    row labels counting the slab in one piece gives (its columns' categories restored, then sorted by episode,
    listener and time, which are unique per download), and the drops added up."""
    dropped: Counter = Counter()
    bots_by_day: Counter = Counter()
    for counted in counts:
        dropped.update(counted.dropped)
        bots_by_day.update(counted.bots_by_day)
    frames = [c.downloads for c in counts if len(c.downloads)]
    if not frames:
        return SlabCount(counts[0].downloads if counts else pd.DataFrame(), dropped, bots_by_day)
    downloads = pd.concat(frames) if len(frames) > 1 else frames[0].copy()
    for name in downloads.columns:
        if name in raw and isinstance(raw[name].dtype, pd.CategoricalDtype):
            downloads[name] = downloads[name].astype(raw[name].dtype)
    downloads = downloads.sort_values(["episode_id", "listener_key", "ts"], kind="stable")
    return SlabCount(downloads, dropped, bots_by_day)


class DaskEngine:
    """Counts on the workers of a Dask scheduler (dask.distributed). Connects on the first slab with requests, so a
    count with nothing new never reaches the cluster. The workers need the product installed at the same version."""

    lookahead = 1  # the next slab is read here while the workers count this one

    def __init__(self, address: str, connect_timeout: float | None = None, gather_timeout: float | None = None,
                 partitions_per_thread: int = PARTITIONS_PER_THREAD):
        self.address = address
        self.connect_timeout = connect_timeout or CONNECT_TIMEOUT_SECONDS
        self.gather_timeout = gather_timeout or GATHER_TIMEOUT_SECONDS
        self.partitions_per_thread = partitions_per_thread
        self._client = None
        self._episodes: tuple[object, object] | None = None  # (EpisodeIndex, its future on every worker)

    def _connect(self):
        from distributed import Client

        try:
            client = Client(self.address, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise EngineUnavailable(f"counting engine: no Dask scheduler answered at {self.address} within "
                                    f"{self.connect_timeout:g} s ({exc})") from exc
        try:
            client.wait_for_workers(1, timeout=self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            client.close(timeout=self.connect_timeout)
            raise EngineUnavailable(f"counting engine: the Dask scheduler at {self.address} has no workers "
                                    f"(waited {self.connect_timeout:g} s)") from exc
        self._client = client
        return client

    def count(self, count_partition: CountPartition, raw: pd.DataFrame, episodes, window: str,
              since: pd.Timestamp) -> Callable[[], SlabCount]:
        client = self._client or self._connect()
        threads = sum(client.nthreads().values()) or 1
        parts = split_by_listener(raw, threads * self.partitions_per_thread)
        try:
            if self._episodes is None or self._episodes[0] is not episodes:
                self._episodes = (episodes, client.scatter(episodes, broadcast=True, hash=False,
                                                           timeout=self.gather_timeout))
            scattered = client.scatter(parts, hash=False, timeout=self.gather_timeout)
        except (OSError, TimeoutError) as exc:
            raise EngineUnavailable(f"counting engine: could not hand a slab to the Dask workers at {self.address} "
                                    f"within {self.gather_timeout:g} s ({exc})") from exc
        futures = [client.submit(count_partition, part, self._episodes[1], window, since, pure=False)
                   for part in scattered]
        del parts, scattered
        # What merge_counts needs of the slab: its columns' dtypes, not its rows.
        dtypes = raw.iloc[:0]
        return lambda: self._gather(futures, dtypes)

    def _gather(self, futures: list, dtypes: pd.DataFrame) -> SlabCount:
        deadline = time.monotonic() + self.gather_timeout  # for the whole slab, not per partition
        try:
            counts = [f.result(timeout=max(deadline - time.monotonic(), 0.001)) for f in futures]
        except TimeoutError as exc:
            self._client.cancel(futures)
            raise EngineUnavailable(f"counting engine: the Dask workers at {self.address} did not count a slab "
                                    f"within {self.gather_timeout:g} s") from exc
        return merge_counts(counts, dtypes)

    def close(self) -> None:
        if self._client is not None:
            self._client.close(timeout=self.connect_timeout)
            self._client, self._episodes = None, None


@contextmanager
def open_engine(setting: str) -> Iterator[CountingEngine]:
    """The engine COUNTING_ENGINE names ("local" or a Dask scheduler address, already validated by settings),
    closed on exit."""
    engine: CountingEngine = LOCAL if setting == "local" else DaskEngine(setting)
    try:
        yield engine
    finally:
        engine.close()
