"""A real RQ worker for the integration tier: `python -m jobs.worker --burst QUEUES` in a subprocess, as operators
run it, against the same PostgreSQL and Redis as the test; it drains the queues and exits, or fails the test."""
from __future__ import annotations

import os
import subprocess
import sys

from services.settings import PROJECT_ROOT, Settings

WORKER_TIMEOUT = 300  # seconds a burst may take before the test fails


def burst_worker(settings: Settings, *queues: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url,
           "SECRET_KEY": settings.secret_key, "INSTANCE_PATH": str(settings.instance_path),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "jobs.worker", "--burst", *queues], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
