"""Observability primitives: per-request log context, JSON log lines and Prometheus metrics (framework-free)."""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

Identity = str | int | None
JobCounts = Mapping[tuple[str, str], int]

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
tenant_id: ContextVar[Identity] = ContextVar("tenant_id", default=None)
user_id: ContextVar[Identity] = ContextVar("user_id", default=None)
# Private aliases: the helpers below take arguments with the same names as the variables.
_REQUEST_ID, _TENANT_ID, _USER_ID = request_id, tenant_id, user_id

_UNSET: Any = object()
CONTEXT_FIELDS = ("request_id", "tenant_id", "user_id")
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


# --- request context --------------------------------------------------------------------------------------------

def bind_request(request_id: str, tenant_id: Identity = None, user_id: Identity = None) -> None:
    """Start a request's log context: every log line until `clear_context` carries these ids."""
    _REQUEST_ID.set(request_id)
    _TENANT_ID.set(tenant_id)
    _USER_ID.set(user_id)


def bind(*, tenant_id: Identity = _UNSET, user_id: Identity = _UNSET) -> None:
    """Add the caller's identity to the current log context once the auth layer has resolved it."""
    if tenant_id is not _UNSET:
        _TENANT_ID.set(tenant_id)
    if user_id is not _UNSET:
        _USER_ID.set(user_id)


def clear_context() -> None:
    """Forget the current ids, so a pooled thread never leaks one request's ids into the next."""
    for var in (_REQUEST_ID, _TENANT_ID, _USER_ID):
        var.set(None)


def current_context() -> dict[str, Identity]:
    """The ids bound to the current request (None where unset)."""
    return {"request_id": _REQUEST_ID.get(), "tenant_id": _TENANT_ID.get(), "user_id": _USER_ID.get()}


# --- JSON logs --------------------------------------------------------------------------------------------------

class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request's ids, `extra=` fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current_context()
        for name in CONTEXT_FIELDS:
            # A value stamped on the record wins: it was captured where the line was logged.
            entry[name] = getattr(record, name, context[name])
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _JsonStreamHandler(logging.StreamHandler):
    """The one console handler `configure_logging` installs; its type marks it as already installed."""


def configure_logging(level: str) -> None:
    """Send every log line to stderr as JSON, once; calling again only changes the level."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our request log replaces its access log
    consoles = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    for handler in list(root.handlers):
        # Replace console handlers (basicConfig, a server's defaults) so no line prints twice; handlers writing
        # elsewhere (files, test capture) are someone else's choice and stay.
        if type(handler) is logging.StreamHandler and handler.stream in consoles:
            root.removeHandler(handler)
    if any(isinstance(h, _JsonStreamHandler) for h in root.handlers):
        return
    handler = _JsonStreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)


# --- metrics ----------------------------------------------------------------------------------------------------

class _JobsCollector(Collector):
    """The `jobs{queue,state}` gauge, read from the queues at scrape time rather than kept in step."""

    def __init__(self, job_counts: Callable[[], JobCounts]):
        self._job_counts = job_counts

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Describing without sampling keeps registration from touching Redis.
        yield GaugeMetricFamily("jobs", "Jobs per queue and state", labels=["queue", "state"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = dict(self._job_counts())
        except Exception:  # noqa: BLE001 - a scrape must succeed while Redis is down
            logger.warning("job counts unavailable; the jobs gauge is left out of this scrape", exc_info=True)
            return
        family = GaugeMetricFamily("jobs", "Jobs per queue and state", labels=["queue", "state"])
        for (queue, state), count in sorted(counts.items()):
            family.add_metric([str(queue), str(state)], float(count))
        yield family


# The operations gauges read at scrape time: name -> (help, label names). Each reading maps label values (a tuple,
# empty when the gauge has no labels) to a value. deploy/grafana's dashboard plots these and the request metrics.
OPS_GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ingest_buffer_hits": ("Prefix and pixel hits waiting in the Redis buffer for the ingest job", ()),
    "counting_lag_seconds": ("Seconds the oldest raw request no count has seen yet has waited (0: all counted)", ()),
    "webhook_deliveries": ("Webhook deliveries by status", ("status",)),
    "emails": ("Outgoing emails by status", ("status",)),
}
OpsReading = Mapping[str, Mapping[tuple[str, ...], float]]


class _OpsCollector(Collector):
    """The operations gauges (OPS_GAUGES), from one callable read at scrape time; a failed reading leaves them out
    of that scrape rather than failing it."""

    def __init__(self, read: Callable[[], OpsReading]):
        self._read = read

    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name, (text, labels) in OPS_GAUGES.items():
            yield GaugeMetricFamily(name, text, labels=list(labels))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            reading = self._read()
        except Exception:  # noqa: BLE001 - a scrape must succeed while the database or Redis is down
            logger.warning("operations gauges unavailable; left out of this scrape", exc_info=True)
            return
        for name, (text, labels) in OPS_GAUGES.items():
            if name not in reading:
                continue
            family = GaugeMetricFamily(name, text, labels=list(labels))
            for values, value in sorted(reading[name].items()):
                family.add_metric(list(values), float(value))
            yield family


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable (deploy/gunicorn.conf.py sets it)
GAUGE_REFRESH_SECONDS = 5.0  # multiprocess mode: how often each process writes its journal backlog gauge


class Metrics:
    """The process's Prometheus metrics on their own registry, so each app (and each test) has a fresh set.

    Under gunicorn with several workers (PROMETHEUS_MULTIPROC_DIR set before they start), each process writes its
    counters and histograms to files there and a scrape adds every process's up (prometheus_client's multiprocess
    mode); the gauges read at scrape time (jobs, operations) are read once, by the process answering."""

    def __init__(self, job_counts: Callable[[], JobCounts], ops: Callable[[], OpsReading] | None = None):
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests served", ["method", "route", "status"],
                                registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "HTTP request duration", ["route"],
                                  registry=self.registry)
        # Hits the prefix's journal could not write (Redis mode): each one answered 500 and never stored.
        self.journal_write_failures = Counter(
            "prefix_journal_write_failures", "Hits (prefix, pixel, tracking link) the local hit journal could not write",
            registry=self.registry)
        self._scrape_collectors: list[Collector] = [_JobsCollector(job_counts)]
        if ops is not None:
            self._scrape_collectors.append(_OpsCollector(ops))
        if not self.multiprocess:
            for collector in self._scrape_collectors:
                self.registry.register(collector)
        # (method, route, status) -> its counter and histogram children: labels() validates and locks on every
        # call, and the set of label values is small and fixed once the routes have been seen.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._journal: tuple[Gauge, Callable[[], float]] | None = None
        self._refresher_pid: int | None = None

    def watch_journal(self, pending: Callable[[], float]) -> None:
        """Export `prefix_journal_pending_bytes`: the hit journal's bytes not yet shipped to Redis (Redis mode only);
        read at scrape time, or in multiprocess mode written by each process every few seconds and summed over the
        live ones."""
        gauge = Gauge("prefix_journal_pending_bytes", "Bytes of the hit journals not yet shipped to Redis",
                      registry=self.registry, multiprocess_mode="livesum")
        if self.multiprocess:
            self._journal = (gauge, pending)
        else:
            gauge.set_function(pending)

    def _refresh_gauges(self, gauge: Gauge, pending: Callable[[], float]) -> None:
        while True:
            try:
                gauge.set(pending())
            except Exception:  # noqa: BLE001 - a metric must never take the process down
                logger.warning("journal backlog gauge not refreshed", exc_info=True)
            time.sleep(GAUGE_REFRESH_SECONDS)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request; `route` must be the matched rule, never the raw path (label cardinality)."""
        if self._journal is not None and self._refresher_pid != os.getpid():  # once per process, after any fork
            self._refresher_pid = os.getpid()
            threading.Thread(target=self._refresh_gauges, args=self._journal, name="metrics-gauges",
                             daemon=True).start()
        children = self._children.get((method, route, status))
        if children is None:
            children = self._children[(method, route, status)] = (
                self.requests.labels(method=method, route=route, status=str(status)), self.duration.labels(route=route))
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()  # every process's counters, histograms and live gauges, added up
        multiprocess.MultiProcessCollector(registry)
        for collector in self._scrape_collectors:
            registry.register(collector)
        return generate_latest(registry), CONTENT_TYPE_LATEST


def make_metrics(job_counts: Callable[[], JobCounts], ops: Callable[[], OpsReading] | None = None) -> Metrics:
    return Metrics(job_counts, ops)
