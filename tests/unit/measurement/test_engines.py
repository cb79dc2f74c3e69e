"""Counting engines: listener-hash partitions counted apart and put together give exactly the count of the whole
slab; a remote engine's pipelined slabs write what the local engine writes; dask is never imported for the local
engine; an unreachable scheduler is a clear error within its timeout, and nothing is written."""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from services import migrate
from services.db import Database
from services.measurement import counting, counting_rules, engines
from services.measurement.engines import EngineUnavailable, SlabCount
from services.measurement.urls import try_enclosure_match_key
from tests import counting_cases as cases
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[3]


def _slab() -> tuple[pd.DataFrame, counting_rules.EpisodeIndex]:
    """The counting cases' requests of both tenants (the same traffic twice, under other listener keys too), as
    count_frame reads them, and an index of their four episodes."""
    one = pd.concat([cases._edge_requests(1, 7), cases._random_requests(1, 7, seed=3, n=4000)], ignore_index=True)
    other = one.assign(listener_key=one["listener_key"].str.slice(0, 30) + "zz")
    raw = pd.concat([one, other], ignore_index=True).drop(columns=["request_uid", "tenant_id", "source"])
    urls = [f"https://media.example.com/show/ep{n}.mp3" for n in range(4)]
    frame = pd.DataFrame({"podcast_id": 7, "threshold_bytes": counting_rules.byte_threshold(
        pd.Series([cases.EPISODE_BYTES] * 3 + [None]), pd.Series([cases.EPISODE_SECONDS] * 4)).tolist()},
        index=pd.Index([1, 2, 3, 4], name="episode_id"))
    return raw, counting_rules.EpisodeIndex({try_enclosure_match_key(u): n + 1 for n, u in enumerate(urls)}, frame)


def _categorical(raw: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categories, as the PostgreSQL read gives them."""
    text = ["method", "range", "url", "user_agent", "referer", "listener_key", "country", "region", "household_key"]
    return raw.assign(**{c: raw[c].astype("category") for c in text})


@pytest.mark.parametrize("window", ["calendar", "first-touch", "last-touch"])
@pytest.mark.parametrize("categorical", [False, True])
def test_partitions_counted_apart_equal_the_whole_slab(window, categorical):
    raw, episodes = _slab()
    raw = _categorical(raw) if categorical else raw
    since = pd.Timestamp(cases.DAY, tz="UTC")
    whole = counting_rules.count_partition(raw, episodes, window, since)
    assert len(whole.downloads) > 100 and whole.dropped["duplicate within the dedupe window"] > 0
    assert sum(whole.bots_by_day.values()) > 0
    for partitions in (1, 2, 3, 8):
        parts = engines.split_by_listener(raw, partitions)
        assert len(parts) == partitions and sum(len(p) for p in parts) == len(raw)
        merged = engines.merge_counts([counting_rules.count_partition(p, episodes, window, since) for p in parts], raw)
        pd.testing.assert_frame_equal(merged.downloads, whole.downloads)  # rows, order, dtypes and row labels
        assert merged.dropped == whole.dropped and merged.bots_by_day == whole.bots_by_day


def test_partitions_split_by_time_and_row_order_would_not_equal_the_slab():
    """The reason for the listener hash: split another way (alternate rows), the same rules count differently."""
    raw, episodes = _slab()
    since = pd.Timestamp(cases.DAY, tz="UTC")
    whole = counting_rules.count_partition(raw, episodes, "calendar", since)
    parts = [raw.iloc[0::2], raw.iloc[1::2]]
    merged = engines.merge_counts([counting_rules.count_partition(p, episodes, "calendar", since) for p in parts], raw)
    assert len(merged.downloads) > len(whole.downloads)  # a listener's repeat, in the other half, counts again


def test_a_listener_key_always_lands_in_the_same_partition():
    raw, _ = _slab()
    which = engines.listener_partitions(raw["listener_key"], 5)
    assert raw.groupby(which)["listener_key"].nunique().sum() == raw["listener_key"].nunique()  # none split
    as_category = engines.listener_partitions(raw["listener_key"].astype("category"), 5)
    alone = engines.listener_partitions(raw["listener_key"].iloc[::-1].reset_index(drop=True), 5)[::-1]
    assert which.tolist() == as_category.tolist() == alone.tolist()  # whatever the dtype or the other keys
    assert set(which) == set(range(5))
    assert engines.listener_partitions(pd.Series(["a", None], dtype=object), 3)[1] == 0


def test_a_partition_whose_requests_are_all_filtered_counts_nothing():
    raw, episodes = _slab()
    bots = raw.assign(user_agent="")
    counted = counting_rules.count_partition(bots, episodes, "first-touch", None)
    assert counted.downloads.empty and sum(counted.dropped.values()) == len(raw)  # every one with its reason
    assert counted.dropped["bot: empty user agent"] > 0
    assert counting_rules.dedupe(raw.iloc[:0].assign(episode_id=[]), "calendar").empty


class _DeferredEngine:
    """A stand-in for a remote engine, in this process: slabs split by listener, counted only when awaited, one
    slab ahead (as DaskEngine)."""

    lookahead = 1

    def __init__(self):
        self.slabs = 0

    def count(self, count_partition, raw, episodes, window, since) -> Callable[[], SlabCount]:
        self.slabs += 1
        parts = engines.split_by_listener(raw, 3)
        return lambda: engines.merge_counts([count_partition(p, episodes, window, since) for p in parts], raw.iloc[:0])

    def close(self):
        pass


def _network(tmp_path) -> tuple[Database, int, int]:
    url = f"sqlite:///{tmp_path / 'engines.db'}"
    migrate.upgrade(url)
    db = Database(url)
    return db, cases.seed_network(db, "alpha", seed=5, n_random=1500), cases.seed_network(db, "beta", seed=6,
                                                                                          n_random=1500)


def test_slabs_counted_one_ahead_write_what_the_local_engine_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(counting, "SLAB_DAYS", cases.SLAB_DAYS)
    db, alpha, beta = _network(tmp_path)
    counting.count_downloads(db, beta, cases.FIRST, cases.LAST)
    beta_digest = cases.counted_digest(db, beta, [*cases.COUNTED_TABLES, "download_requests"])
    local = counting.count_downloads(db, alpha, cases.FIRST, cases.LAST)
    local_digest = cases.counted_digest(db, alpha)
    cases.wipe_counts(db, alpha)
    engine = _DeferredEngine()
    progress = []
    deferred = counting.count_downloads(db, alpha, cases.FIRST, cases.LAST, engine=engine,
                                        progress=lambda f, m: progress.append(m))
    assert engine.slabs == 3 and len(progress) == 3 and progress[-1] == f"counted through {cases.LAST}"
    assert cases.counted_digest(db, alpha) == local_digest and local_digest["downloads"][0] > 0
    assert (deferred.requests, deferred.downloads, deferred.dropped, deferred.bots_by_day) == (
        local.requests, local.downloads, local.dropped, local.bots_by_day)
    assert cases.counted_digest(db, beta, [*cases.COUNTED_TABLES, "download_requests"]) == beta_digest
    db.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_fails_the_count_within_the_timeout_and_writes_nothing(tmp_path):
    db, alpha, beta = _network(tmp_path)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with engines.open_engine(address) as engine:
        assert isinstance(engine, engines.DaskEngine)
        engine.connect_timeout = 2
        started = time.monotonic()
        with pytest.raises(EngineUnavailable, match=f"no Dask scheduler answered at {address} within 2 s"):
            counting.count_downloads(db, alpha, cases.FIRST, cases.LAST, engine=engine)
        assert time.monotonic() - started < 30
    assert cases.counted_digest(db, alpha)["downloads"][0] == 0
    assert cases.counted_digest(db, alpha)["counting_days"][0] == 0  # the transaction rolled back
    db.dispose()


def test_a_count_with_nothing_to_read_never_reaches_the_scheduler(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    migrate.upgrade(url)
    db = Database(url)
    from services import accounts

    tenant = accounts.create_tenant(db, "quiet", "Quiet")
    engine = engines.DaskEngine(f"tcp://127.0.0.1:{_closed_port()}", connect_timeout=1)
    assert counting.count_downloads(db, tenant.id, engine=engine).first_day is None
    assert engine._client is None
    db.dispose()


def test_the_count_job_uses_the_configured_engine(tmp_path, monkeypatch):
    """count_tenant reads COUNTING_ENGINE: with an unreachable scheduler the job fails, naming it."""
    from jobs import context
    from jobs.measure import count_tenant

    db, alpha, _beta = _network(tmp_path)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    monkeypatch.setattr(engines, "CONNECT_TIMEOUT_SECONDS", 2.0)
    context.set_settings(make_settings(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'engines.db'}",
                                       COUNTING_ENGINE=address))
    context.set_db(db)
    try:
        with pytest.raises(EngineUnavailable, match=address):
            count_tenant(alpha, cases.FIRST.isoformat(), cases.LAST.isoformat())
        context.set_settings(make_settings(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'engines.db'}"))
        assert count_tenant(alpha, cases.FIRST.isoformat(), cases.LAST.isoformat())["downloads"] > 0
    finally:
        context.reset()
        db.dispose()


def test_the_app_and_the_local_engine_never_import_dask(tmp_path):
    """The embedded default: the app, its jobs and a local count run without dask imported (a fresh interpreter)."""
    script = textwrap.dedent(f"""
        import sys
        from app import create_app
        from jobs import imports, measure
        from services.measurement import counting, engines
        from services import migrate
        from services.db import Database
        from tests import counting_cases as cases
        from tests.conftest import make_settings

        settings = make_settings(__import__("pathlib").Path({str(tmp_path)!r}))
        create_app(settings)
        db = Database(settings.database_url)
        tenant = cases.seed_network(db, "alpha", seed=1, n_random=300)
        with engines.open_engine(settings.counting_engine) as engine:
            assert engine is engines.LOCAL
            assert counting.count_downloads(db, tenant, cases.FIRST, cases.LAST, engine=engine).downloads > 0
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_local_engine_counts_on_a_thread_and_again_in_a_forked_child():
    """The local engine counts on a thread of its own (the caller reads and writes meanwhile); a child forked after
    the parent counted (an RQ work horse) counts too, instead of waiting forever on the parent's thread."""
    import os
    import threading
    from collections import Counter

    engine = engines.LocalEngine()
    threads = []

    def count_partition(raw, episodes, window, since):
        threads.append(threading.current_thread().name)
        return SlabCount(pd.DataFrame({"n": [len(raw)]}), Counter(), Counter())

    assert engine.count(count_partition, pd.DataFrame({"a": [1, 2]}), None, "calendar", None)().downloads["n"][0] == 2
    assert threads[0].startswith("counting") and threads[0] != threading.current_thread().name
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only when its count finished
        done = threading.Event()
        threading.Thread(target=lambda: (engine.count(count_partition, pd.DataFrame({"a": [1]}), None, "calendar",
                                                      None)(), done.set()), daemon=True).start()
        os._exit(0 if done.wait(20) else 3)
    deadline = time.monotonic() + 30
    while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if waited == (0, 0):
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's count did not finish")
    assert os.waitstatus_to_exitcode(waited[1]) == 0
