"""Counting on a Dask cluster (two worker processes) writes exactly what counting in one process writes, in every
dedupe window and at every edge of it, on SQLite and on PostgreSQL; and counting one tenant there leaves every other
tenant's rows as they were."""
from __future__ import annotations

import logging

import pytest

from services import accounts, migrate
from services.db import Database
from services.measurement import counting, engines
from tests import counting_cases as cases

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

WINDOWS = ("calendar", "first-touch", "last-touch")


@pytest.fixture(scope="module")
def cluster():
    """A distributed.LocalCluster of two single-threaded worker processes, closed after the module."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "30s", "distributed.comm.timeouts.tcp": "60s"}):
        local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                         host="127.0.0.1", death_timeout=60, silence_logs=logging.ERROR)
        try:
            with distributed.Client(local, timeout=30, set_as_default=False) as client:
                client.wait_for_workers(2, timeout=120)
                assert len(client.nthreads()) == 2 and all(n == 1 for n in client.nthreads().values())
            yield local
        finally:
            local.close(timeout=60)


@pytest.fixture(params=["sqlite", "postgresql"])
def network(request, tmp_path, monkeypatch):
    """Two tenants whose raw requests share listener keys and URLs (a leak between them would show), on SQLite or
    PostgreSQL, counted in slabs of two days."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'counting.db'}"
        migrate.upgrade(url)
        db = Database(url)
    else:
        url = request.getfixturevalue("pg_url")
        migrate.upgrade(url)
        db = Database(url, "podcast_worker")  # counting is the workers' work: the worker role, as in an RQ worker
    monkeypatch.setattr(counting, "SLAB_DAYS", cases.SLAB_DAYS)
    alpha = cases.seed_network(db, "alpha", seed=11)
    beta = cases.seed_network(db, "beta", seed=11)  # the same traffic: a mixed-up tenant would double it
    yield db, alpha, beta
    db.dispose()


def test_dask_counts_equal_local_counts_in_every_window(cluster, network, monkeypatch):
    db, alpha, beta = network
    counting.count_downloads(db, beta, cases.FIRST, cases.LAST)
    beta_before = cases.counted_digest(db, beta, [*cases.COUNTED_TABLES, "download_requests"])
    assert beta_before["downloads"][0] > 0
    split_sizes = []
    real_split = engines.split_by_listener

    def split(raw, partitions):
        parts = real_split(raw, partitions)
        split_sizes.append(len(parts))
        return parts

    monkeypatch.setattr(engines, "split_by_listener", split)
    for window in WINDOWS:
        accounts.configure_tenant(db, "alpha", dedupe_window=window)
        cases.wipe_counts(db, alpha)
        local = counting.count_downloads(db, alpha, cases.FIRST, cases.LAST)
        local_digest = cases.counted_digest(db, alpha)
        assert cases.edge_downloads(db, alpha) == cases.EDGE_DOWNLOADS[window]  # the edges are really exercised
        cases.wipe_counts(db, alpha)
        assert cases.counted_digest(db, alpha)["downloads"][0] == 0
        with engines.open_engine(cluster.scheduler_address) as engine:
            assert isinstance(engine, engines.DaskEngine)
            distributed = counting.count_downloads(db, alpha, cases.FIRST, cases.LAST, engine=engine)
        assert cases.counted_digest(db, alpha) == local_digest, window
        assert (distributed.requests, distributed.downloads, distributed.dropped, distributed.bots_by_day) == (
            local.requests, local.downloads, local.dropped, local.bots_by_day), window
        assert local.downloads > 0 and local.dropped["duplicate within the dedupe window"] > 0
        assert sum(n for reason, n in local.dropped.items() if reason.startswith("bot")) > 0
        assert local.dropped["under one minute of audio delivered"] > 0
    # Every slab went out in several listener partitions (2 workers x 2), and beta was never touched.
    assert len(split_sizes) == 3 * len(WINDOWS) and min(split_sizes) == 4
    assert cases.counted_digest(db, beta, [*cases.COUNTED_TABLES, "download_requests"]) == beta_before


def test_a_dask_recount_is_idempotent_and_counts_only_the_tenant(cluster, network):
    """Counting alpha on the cluster twice changes nothing the second time; beta, counted on the cluster too,
    gets its own downloads (the same traffic: the same digest apart from tenant and episode ids), alpha's stay."""
    db, alpha, beta = network
    with engines.open_engine(cluster.scheduler_address) as engine:
        first = counting.count_downloads(db, alpha, cases.FIRST, cases.LAST, engine=engine)
        after_first = cases.counted_digest(db, alpha)
        again = counting.count_downloads(db, alpha, cases.FIRST, cases.LAST, engine=engine)
        assert cases.counted_digest(db, alpha) == after_first
        assert (again.downloads, again.dropped) == (first.downloads, first.dropped)
        assert cases.counted_digest(db, beta)["downloads"][0] == 0
        other = counting.count_downloads(db, beta, cases.FIRST, cases.LAST, engine=engine)
    assert cases.counted_digest(db, alpha) == after_first
    assert (other.requests, other.downloads, other.dropped) == (first.requests, first.downloads, first.dropped)
    assert cases.edge_downloads(db, beta) == cases.edge_downloads(db, alpha)
