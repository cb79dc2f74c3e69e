"""Worker entry point: `python -m jobs.worker [--burst] [queue ...]` (default: every queue, in priority order).

`rq worker -u $REDIS_URL ingest measure imports attribution notify default` works too: job functions are
importable by dotted path (`jobs.demo.seed_demo_data`), provided the project root is on PYTHONPATH.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from rq import SimpleWorker, Worker

from jobs.queues import QUEUES, get_queue, get_redis
from services import tracing
from services.errors import ConfigError
from services.settings import load_settings

logger = logging.getLogger(__name__)

# Imported once in the worker before it forks a work horse per job, so a job does not pay for importing the product
# (pandas, the models, the workflow's handlers: seconds) in every horse.
JOB_MODULES = ("jobs.alerts", "jobs.attribution", "jobs.campaigns", "jobs.catalog", "jobs.demo", "jobs.events",
               "jobs.forecasts", "jobs.imports", "jobs.insights", "jobs.measure", "jobs.notify", "jobs.rollups",
               "jobs.webhooks", "jobs.reports")
# Seconds between a worker's maintenance rounds (RQ's default: 10 minutes). A round requeues the jobs of a dead worker
# (SIGKILLed, OOM-killed) once their heartbeat has lapsed (job_monitoring_interval 30 s + 60 s), so with this an
# abandoned count is redone within about 2.5 minutes instead of 10+; a round is a few Redis calls per queue.
MAINTENANCE_INTERVAL = 60


def preload() -> None:
    """Import every job module and every handler the workflow names, and load the bundled geolocation data (0.16 s and
    ~50 MB, shared by the horses: log imports and the live feed use it). No connection is opened here."""
    from services.events import workflow
    from services.measurement.geo import default_locator

    for name in JOB_MODULES:
        importlib.import_module(name)
    for handler in workflow.HANDLERS:
        workflow.resolve(handler)
    default_locator()


class TracedWorker(Worker):
    """An RQ worker whose jobs run in a span continuing the enqueuing request's trace (when tracing is on)."""

    def perform_job(self, job, queue, *args, **kwargs):
        with tracing.job_span(job.func_name, job.meta, queue.name):
            return super().perform_job(job, queue, *args, **kwargs)


class TracedSimpleWorker(SimpleWorker):
    """The in-process worker (no work horse), with the same job spans."""

    def perform_job(self, job, queue, *args, **kwargs):
        with tracing.job_span(job.func_name, job.meta, queue.name):
            return super().perform_job(job, queue, *args, **kwargs)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description="Run an RQ worker for the jobs queues.")
    parser.add_argument("queues", nargs="*", metavar="queue",
                        help=f"queues to serve, in order (default: {' '.join(QUEUES)})")
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--in-process", action="store_true",
                        help="run each job in this process instead of a forked work horse (keeps the database pool "
                             "between jobs: for the notify queue's many short jobs)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.queues if name not in QUEUES]
    if unknown:
        parser.error(f"unknown queue(s) {', '.join(unknown)}; expected some of {', '.join(QUEUES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"jobs.worker: {exc.message}", file=sys.stderr)
        return 2
    if settings.redis_url is None:
        print("jobs.worker: REDIS_URL is not set. Without Redis the app runs jobs in-process and needs no worker; "
              "set REDIS_URL=redis://host:6379/0 to run one.", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level)
    preload()
    if settings.traces_exporter:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        tracing.configure(settings.traces_exporter)
        SQLAlchemyInstrumentor().instrument(skip_dep_check=True)  # the jobs' engine is made later (services.tracing)
    connection = get_redis(settings)
    queues = [get_queue(name, settings) for name in args.queues or QUEUES]
    worker = (TracedSimpleWorker if args.in_process else TracedWorker)(queues, connection=connection,
                                                                      maintenance_interval=MAINTENANCE_INTERVAL)
    logger.info("worker starting", extra={"queues": [q.name for q in queues], "burst": args.burst,
                                          "in_process": args.in_process})
    worker.work(burst=args.burst, with_scheduler=True, logging_level=settings.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
