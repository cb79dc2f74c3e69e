"""Integration, on real Redis: a job enqueued with the retry policy whose worker is SIGKILLed mid-run is redone (not
failed) by a worker's maintenance, and the RQ scheduler survives a Redis outage (a throwaway redis-server killed and
restarted on the same port) and enqueues again once Redis is back."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, get_current_job
from rq.job import Job
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE

from jobs.queues import IDEMPOTENT_RETRY, enqueue, get_queue, get_redis
from jobs.scheduler import Periodic, ReconnectingCronScheduler, build_cron_scheduler, run_cron
from jobs.worker import MAINTENANCE_INTERVAL, TracedSimpleWorker
from services.settings import PROJECT_ROOT, Settings
from tests.conftest import make_settings, require_service

logger = logging.getLogger(__name__)

RUNS_KEY = "test_jobs_faults:runs"
HORSE_KEY = "test_jobs_faults:horse"


def count_once_slowly() -> int:
    """A stand-in for count_tenant: its first run hangs (until its worker is killed), a redo returns at once."""
    connection = get_current_job().connection
    connection.set(HORSE_KEY, os.getpid())
    runs = int(connection.incr(RUNS_KEY))
    if runs == 1:
        time.sleep(120)
    return runs


def periodic_tick() -> None:
    """The scheduler test's periodic job (only enqueued: no worker runs it)."""


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.1)


def kill_horse(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_for(lambda: not _alive(pid), 10, f"work horse {pid} to die")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie (reaped later by init) is dead
    except FileNotFoundError:
        return False


# --- a worker SIGKILLed mid-job ---------------------------------------------------------------------------------

@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Iterator[Settings]:
    settings = make_settings(tmp_path, REDIS_URL=redis_url, DATABASE_URL=f"sqlite:///{tmp_path / 'jobs.db'}")
    connection = get_redis(settings)
    get_queue("measure", settings).empty()
    connection.delete(RUNS_KEY, HORSE_KEY)
    yield settings
    get_queue("measure", settings).empty()
    connection.delete(RUNS_KEY, HORSE_KEY)


@pytest.mark.timeout(120)
def test_a_job_whose_worker_was_sigkilled_is_redone_not_failed(settings: Settings):
    connection = get_redis(settings)
    queue = get_queue("measure", settings)
    handle = enqueue(count_once_slowly, queue="measure", settings=settings, retry=IDEMPOTENT_RETRY)  # as count_all
    env = {**os.environ, "REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url,
           "SECRET_KEY": settings.secret_key, "INSTANCE_PATH": str(settings.instance_path), "LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    # The worker as operators run it (a work horse per job, its scheduler process), in a group of its own to kill.
    worker = subprocess.Popen([sys.executable, "-m", "jobs.worker", "measure"], env=env, cwd=PROJECT_ROOT,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: connection.get(RUNS_KEY) == b"1", 60, "the job to start on the worker")
    finally:  # mid-job, as the OOM killer would: the worker and its scheduler, and the horse (a session of its own)
        horse = connection.get(HORSE_KEY)
        os.killpg(worker.pid, signal.SIGKILL)
        if horse is not None:
            kill_horse(int(horse))
        worker.wait(timeout=10)
        worker.stderr.close()

    job = Job.fetch(handle.id, connection=connection)
    assert job.get_status() == "started" and job.retries_left == 3
    registry = queue.started_job_registry
    assert handle.id in registry.get_job_ids(cleanup=False)
    # As time would: the dead horse's heartbeat lapses, and so does the dead worker's scheduler lock.
    entries = connection.zrange(registry.key, 0, -1)
    connection.zadd(registry.key, {entry: time.time() - 1 for entry in entries}, xx=True)
    connection.delete(SCHEDULER_LOCKING_KEY_TEMPLATE % queue.name)

    # A worker's maintenance (its first round runs at start) finds the abandoned job and retries it.
    TracedSimpleWorker([queue], connection=connection, maintenance_interval=MAINTENANCE_INTERVAL).work(
        burst=True, with_scheduler=True)
    job.refresh()
    assert job.get_status() == "scheduled" and job.retries_left == 2
    assert handle.id not in queue.failed_job_registry.get_job_ids()
    assert IDEMPOTENT_RETRY.intervals[0] - 2 <= (
        queue.scheduled_job_registry.get_scheduled_time(job).timestamp() - time.time()) <= IDEMPOTENT_RETRY.intervals[0]

    # The retry's wait passes; the next worker's scheduler enqueues it and the redo runs to the end.
    connection.zadd(queue.scheduled_job_registry.key, {handle.id: time.time() - 1}, xx=True)
    assert TracedSimpleWorker([queue], connection=connection).work(burst=True, with_scheduler=True)
    job.refresh()
    assert job.get_status() == "finished"
    assert job.latest_result().return_value == 2  # the redo, not the killed first run


# --- the scheduler through a Redis outage -----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int) -> subprocess.Popen:
    server = shutil.which("redis-server")
    require_service(server is not None, "redis-server is not installed")
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, socket_timeout=2)

    def answers() -> bool:
        try:
            return bool(probe.ping())
        except RedisError:
            return False

    try:
        wait_for(answers, 10, f"redis-server on port {port}")
    except BaseException:
        proc.kill()
        proc.wait(timeout=5)
        raise
    finally:
        probe.close()
    return proc


def stop_redis(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=5)


@pytest.mark.timeout(30)
def test_the_scheduler_survives_a_redis_outage(tmp_path: Path, caplog):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0?socket_connect_timeout=1&socket_timeout=5"
    settings = make_settings(tmp_path, REDIS_URL=url, DATABASE_URL=f"sqlite:///{tmp_path / 'jobs.db'}")
    stop = threading.Event()

    class StoppableScheduler(ReconnectingCronScheduler):
        def _install_signal_handlers(self) -> None:  # signals belong to the main thread; this one stops on `stop`
            pass

        def enqueue_jobs(self):
            if stop.is_set():
                raise KeyboardInterrupt  # what Ctrl-C does to the real one
            return super().enqueue_jobs()

    def build(s: Settings) -> ReconnectingCronScheduler:
        return build_cron_scheduler(s, (Periodic(periodic_tick, "default", interval=1),), StoppableScheduler)

    def sleep(seconds: float) -> None:  # the backoff's real waits, cut short by a stop
        if stop.wait(seconds):
            raise KeyboardInterrupt

    started: list[int] = []
    servers = [start_redis(port)]
    loop = threading.Thread(target=lambda: started.append(run_cron(settings, build=build, sleep=sleep)), daemon=True)
    probe = Redis.from_url(url)
    periodic = Queue("default", connection=probe)
    try:
        with caplog.at_level(logging.INFO, logger="jobs.scheduler"):
            loop.start()
            wait_for(lambda: periodic.count >= 1, 10, "the first periodic job")

            stop_redis(servers[0])
            wait_for(lambda: "scheduler lost Redis" in caplog.text, 10, "the scheduler to notice Redis is gone")
            assert loop.is_alive()

            servers.append(start_redis(port))  # an empty Redis: nothing saved
            wait_for(lambda: periodic.count >= 1, 15, "a periodic job after the restart")
            assert "Redis is back" in caplog.text
        stop.set()
        loop.join(timeout=10)
        assert not loop.is_alive()
        assert started and started[0] >= 2
    finally:
        stop.set()
        probe.close()
        for proc in servers:
            if proc.poll() is None:
                stop_redis(proc)
        loop.join(timeout=5)
