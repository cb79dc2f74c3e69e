"""Optional OpenTelemetry tracing, configured by the standard OTEL_* variables (settings.traces_exporter says
whether it is on). Spans cover Flask requests, Dash callbacks (the request's span is named after the callback),
SQLAlchemy statements, Redis calls and RQ jobs; a job's span continues the trace of the request that enqueued it
(the W3C trace context travels in the job's meta). Off, it costs one None check per enqueue and per job."""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

logger = logging.getLogger(__name__)

TRACER = "podcast_analytics"
META_KEY = "trace"  # the job meta field holding the enqueuing request's trace context
DASH_CALLBACK_PATH = "/_dash-update-component"

_provider: TracerProvider | None = None


def provider_from_env(exporter: str) -> TracerProvider:
    """A provider exporting as OTEL_TRACES_EXPORTER says; the SDK reads OTEL_SERVICE_NAME, the OTLP endpoint and
    headers itself."""
    provider = TracerProvider(resource=Resource.create({"service.name": "podcast-analytics"}))  # OTEL_SERVICE_NAME wins
    if exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def configure(exporter: str | None, provider: TracerProvider | None = None, *, database=None) -> TracerProvider | None:
    """Turn tracing on for this process (given a provider, or one from the environment when `exporter` is set):
    SQLAlchemy statements of `database`'s engine (and of engines made later) and every Redis call get spans.
    Returns the provider, or None when tracing stays off."""
    global _provider
    if provider is None and exporter is None:
        return None
    if provider is None:
        provider = provider_from_env(exporter)
        trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    if not RedisInstrumentor().is_instrumented_by_opentelemetry:
        RedisInstrumentor().instrument(tracer_provider=provider)
    if database is not None:
        sql = SQLAlchemyInstrumentor()
        if sql.is_instrumented_by_opentelemetry:  # one app per process; a test's earlier app is gone
            sql.uninstrument()
        # The package declares SQLAlchemy < 2.1; the engine events it uses are unchanged in 2.1 (tests/unit/test_tracing).
        engines = list(dict.fromkeys(e for db in (database, *database.companions)  # the web's and the jobs' roles
                                     for e in (db.engine, db.worker_engine)))
        sql.instrument(engines=engines, tracer_provider=provider, skip_dep_check=True)
    _provider = provider
    return provider


def instrument_app(server, dash_app, provider: TracerProvider) -> None:
    """Spans for every Flask request; a Dash callback request's span is renamed after its callback."""
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from flask import request

    hooks = server.before_request_funcs.setdefault(None, [])
    before = list(hooks)
    FlaskInstrumentor.instrument_app(server, tracer_provider=provider)
    # Its span must start before any other hook runs, so the auth layer's queries belong to the request's trace.
    added = [hook for hook in hooks if hook not in before]
    hooks[:] = added + before

    @server.before_request
    def _name_dash_callback_span() -> None:
        if request.path != DASH_CALLBACK_PATH or request.method != "POST":
            return
        body = request.get_json(silent=True) or {}
        output = body.get("output") if isinstance(body, dict) else None
        if not isinstance(output, str):
            return
        entry = dash_app.callback_map.get(output) or {}
        func = entry.get("callback")
        func = getattr(func, "__wrapped__", func)
        name = f"{func.__module__}.{func.__qualname__}" if func is not None else output
        span = trace.get_current_span()
        span.update_name(f"dash callback {name}")
        span.set_attribute("dash.callback.name", name)
        span.set_attribute("dash.callback.output", output[:500])


def job_meta() -> dict:
    """The meta to store with a job being enqueued: the current trace context, when tracing is on."""
    if _provider is None:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {META_KEY: carrier} if carrier else {}


@contextmanager
def job_span(name: str, meta: Mapping | None = None, queue: str | None = None) -> Iterator[None]:
    """Run a job inside a span continuing the trace in its meta (or the current one, for jobs run in-process)."""
    if _provider is None:
        yield
        return
    carrier = (meta or {}).get(META_KEY)
    token = otel_context.attach(propagate.extract(carrier)) if carrier else None
    try:
        tracer = _provider.get_tracer(TRACER)
        with tracer.start_as_current_span(f"job {name}", kind=trace.SpanKind.CONSUMER,
                                          attributes={"rq.job.func": name, "rq.queue": queue or ""}):
            yield
    finally:
        if token is not None:
            otel_context.detach(token)
        if carrier:  # a work horse exits when its job ends: export before it does
            _provider.force_flush(5000)


def reset() -> None:
    """Turn tracing off again (tests)."""
    global _provider
    _provider = None
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    for instrumentor in (RedisInstrumentor(), SQLAlchemyInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
