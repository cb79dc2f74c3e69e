"""Tracing across the queue, on PostgreSQL and Redis: a job enqueued inside a request's span runs on an RQ worker in
a span of the same trace, with its Redis calls and SQL statements traced (the SDK's in-memory exporter)."""
from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text

from jobs import context
from jobs.queues import enqueue, get_queue, get_redis
from jobs.worker import TracedSimpleWorker
from services import tracing


def count_tenants() -> int:
    with context.get_db().session(system=True) as s:
        return s.execute(text("SELECT count(*) FROM tenants")).scalar_one()


def test_a_job_continues_the_enqueuing_requests_trace_on_a_worker(pg_jobs):
    settings, db = pg_jobs
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(None, provider, database=db)
    try:
        queue = get_queue("default", settings)
        queue.empty()
        with provider.get_tracer("test").start_as_current_span("POST /campaigns") as request_span:
            handle = enqueue(count_tenants, queue="default", settings=settings)
        parent = request_span.get_span_context()
        job_meta = queue.fetch_job(handle.id).meta
        assert job_meta[tracing.META_KEY]["traceparent"].split("-")[1] == format(parent.trace_id, "032x")

        exporter.clear()
        worker = TracedSimpleWorker([queue], connection=get_redis(settings))
        assert worker.work(burst=True, max_jobs=1)
        assert queue.fetch_job(handle.id).get_status() == "finished"

        spans = exporter.get_finished_spans()
        job = next(s for s in spans if s.name == "job tests.integration.test_tracing_rq.count_tenants")
        assert job.context.trace_id == parent.trace_id and job.parent.span_id == parent.span_id
        assert job.attributes["rq.queue"] == "default"
        sql = [s for s in spans if "count(*) FROM tenants" in str(s.attributes.get("db.statement", ""))]
        assert sql and sql[0].context.trace_id == parent.trace_id and sql[0].parent.span_id == job.context.span_id
        assert any(s.attributes.get("db.system") == "redis" for s in spans)  # the worker's Redis calls
    finally:
        tracing.reset()
