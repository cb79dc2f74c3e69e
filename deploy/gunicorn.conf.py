"""gunicorn settings for the web command (`gunicorn -c deploy/gunicorn.conf.py ...`: deploy/entrypoint.sh, the README's
"Production"): one set of Prometheus metrics across the worker processes.

Each worker counts its own requests; with several workers a scrape of /metrics would show whichever worker answered
it, so request rates jump between workers' totals. With PROMETHEUS_MULTIPROC_DIR set before the workers start, the
client keeps every worker's values in files there and /metrics adds them up (prometheus_client's multiprocess mode,
services/observability.py). This file gives each start an empty directory: a fresh temporary one when the variable
is unset (removed when gunicorn exits), or the one named, emptied (values of an earlier run would be added in)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_made: list[str] = []


def on_starting(server) -> None:
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink()
    else:
        path = tempfile.mkdtemp(prefix="podcast-metrics-")
        _made.append(path)
        os.environ[MULTIPROC_ENV] = path  # before any worker exists: each one inherits it


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # its live gauges stop counting; its counters stay in the totals


def on_exit(server) -> None:
    for path in _made:
        shutil.rmtree(path, ignore_errors=True)
