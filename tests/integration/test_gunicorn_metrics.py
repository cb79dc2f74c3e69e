"""/metrics under gunicorn with two workers, started as the image and the README start it
(`-c deploy/gunicorn.conf.py`): every scrape shows the requests of both workers added up, whichever worker answers it,
where per-process registries would show each worker's own share."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from services import migrate
from services.settings import PROJECT_ROOT

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
REQUESTS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def _login_pages(text: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "http_requests_total" and s.labels.get("route") == "/login"
               and s.labels.get("method") == "GET" and s.labels.get("status") == "200")


@pytest.mark.timeout(120)
def test_every_scrape_adds_up_both_workers(tmp_path):
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate.upgrade(url)  # as `flask db upgrade` before the web starts: two workers must not both create the tables
    env = {**os.environ, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path),
           "SECRET_KEY": "test-secret-key-0123456789", "LOG_LEVEL": "WARNING"}
    for name in ("REDIS_URL", "METRICS_TOKEN"):
        env.pop(name, None)
    values = tmp_path / "metrics"
    values.mkdir()
    (values / "counter_1.db").write_bytes(b"not a metrics file")  # a stale file: gunicorn.conf.py must empty the dir
    env["PROMETHEUS_MULTIPROC_DIR"] = str(values)
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen([GUNICORN, "--no-control-socket", "-c", "deploy/gunicorn.conf.py", "-w", "2",
                             "-b", f"127.0.0.1:{port}", "app:create_app()"], cwd=PROJECT_ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start: {(tmp_path / 'gunicorn.log').read_text()[-2000:]}")
            time.sleep(0.3)
        # Both workers: sync workers take one request at a time, so eight at once spread over the two, once both
        # are up. /healthz answering shows only that one is: each worker loads the app after it forks, and on a
        # busy host the second can take seconds more, so rounds go on until both have served some.
        sent, deadline = 0, time.monotonic() + 60
        while True:
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda _: _get(f"{base}/login")[0], range(REQUESTS)))
            assert statuses == [200] * REQUESTS
            sent += REQUESTS
            per_worker = _per_process_login_pages(values, tmp_path / "one")
            if len([n for n in per_worker if n]) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len([n for n in per_worker if n]) == 2 and sum(per_worker) == sent  # both served some
        for _ in range(12):  # whichever worker answers: both workers' requests
            status, text = _get(f"{base}/metrics")
            assert status == 200
            assert _login_pages(text) == sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
        log.close()


def _per_process_login_pages(values: Path, scratch: Path) -> list[float]:
    """Each worker's own count, from its own values file alone."""
    counts = []
    for path in sorted(values.glob("counter_*.db")):
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        shutil.copy(path, scratch / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(scratch))
        counts.append(_login_pages(generate_latest(registry).decode()))
    return counts
