"""OpenTelemetry tracing, with the SDK's in-memory exporter: spans for Flask requests, Dash callbacks named after
the callback, SQLAlchemy statements and in-process jobs, all in the request's trace; off unless OTEL_* ask."""
from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jobs import context as job_context
from jobs.queues import enqueue
from services import demo, tracing
from services.errors import ConfigError
from services.settings import load_settings
from tests.conftest import DEMO_PASSWORD
from tests.dash_client import call_overview


def traced_job(value: int) -> int:
    return value * 2


@pytest.fixture
def traced(demo_settings):
    from app import create_app

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server = create_app(demo_settings, tracer_provider=provider)
    server.config["TESTING"] = True
    yield server, exporter, provider
    server.extensions["podcast_platform"].db.dispose()
    job_context.reset()
    tracing.reset()


def test_a_dash_callback_request_is_a_span_named_after_its_callback_with_its_sql(traced):
    server, exporter, _ = traced
    client = server.test_client()
    assert client.post("/login", data={"email": demo.DEMO_EMAIL, "password": DEMO_PASSWORD}).status_code == 302
    exporter.clear()
    status, body = call_overview(client, 30)
    assert status == 200 and body
    spans = exporter.get_finished_spans()
    callbacks = [s for s in spans if s.name.startswith("dash callback ")]
    assert len(callbacks) == 1
    request_span = callbacks[0]
    assert request_span.name.startswith("dash callback callbacks.overview.")
    assert request_span.attributes["dash.callback.output"] == "overview-downloads-chart.figure"
    assert request_span.attributes["http.route"] == "/_dash-update-component" or request_span.attributes.get(
        "http.target") == "/_dash-update-component"
    sql = [s for s in spans if s.attributes.get("db.statement") or s.attributes.get("db.query.text")]
    assert sql, "the callback's queries have no spans"
    assert {s.context.trace_id for s in sql} == {request_span.context.trace_id}
    assert all(s.parent is not None for s in sql)


def test_a_plain_request_gets_a_span_and_an_in_process_job_joins_its_trace(traced):
    server, exporter, provider = traced
    exporter.clear()
    assert server.test_client().get("/healthz").status_code == 200
    assert any(s.name.startswith("GET") and s.kind.name == "SERVER" for s in exporter.get_finished_spans())
    exporter.clear()
    with provider.get_tracer("test").start_as_current_span("request") as parent:
        handle = enqueue(traced_job, 21, queue="default")
    assert handle.status == "finished" and handle.result == 42
    job = next(s for s in exporter.get_finished_spans() if s.name.startswith("job "))
    assert job.name == "job tests.unit.test_tracing.traced_job"
    assert job.parent.span_id == parent.get_span_context().span_id
    assert job.context.trace_id == parent.get_span_context().trace_id


def test_tracing_is_off_without_otel_settings_and_a_bad_exporter_is_named(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 32}
    assert load_settings(base).traces_exporter is None
    assert load_settings({**base, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}).traces_exporter == "otlp"
    assert load_settings({**base, "OTEL_TRACES_EXPORTER": "console"}).traces_exporter == "console"
    assert load_settings({**base, "OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}).traces_exporter is None
    with pytest.raises(ConfigError) as error:
        load_settings({**base, "OTEL_TRACES_EXPORTER": "zipkin"})
    assert "OTEL_TRACES_EXPORTER" in str(error.value.args) + str(getattr(error.value, "message", ""))
    assert tracing.job_meta() == {}  # off: nothing is added to jobs
