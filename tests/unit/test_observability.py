"""Tests for request ids, JSON request logs, metrics and the health routes."""
from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.observability import bind_identity, init_observability
from services import observability
from services.observability import JsonFormatter, configure_logging, make_metrics

logger = logging.getLogger(__name__)


class FakeChecks:
    """Readiness checks whose failure a test can switch off."""

    def __init__(self) -> None:
        self.redis_down = True

    def database(self) -> None:
        return None

    def redis(self) -> None:
        if self.redis_down:
            raise ConnectionError("redis refused the connection")


@pytest.fixture
def checks() -> FakeChecks:
    return FakeChecks()


def fake_job_counts() -> dict[tuple[str, str], int]:
    return {("measure", "queued"): 3, ("notify", "failed"): 1}


def build_app(checks: FakeChecks, job_counts=fake_job_counts, metrics_token: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config["TESTING"] = True
    init_observability(app, metrics=make_metrics(job_counts),
                       readiness_checks={"database": checks.database, "redis": checks.redis},
                       metrics_token=metrics_token)

    @app.get("/episodes/<int:episode_id>")
    def episode(episode_id: int) -> dict:
        bind_identity(7, 42)
        logger.info("episode viewed", extra={"episode_id": episode_id})
        return {"id": episode_id}

    @app.get("/broken")
    def broken() -> dict:
        raise RuntimeError("boom")

    return app


@pytest.fixture
def client(checks: FakeChecks) -> FlaskClient:
    return build_app(checks).test_client()


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict]]]:
    """Capture what the request logger and this module write, formatted as JSON; call the result to parse it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("api.observability", __name__)]
    saved = [log.level for log in loggers]
    for log in loggers:
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for log, level in zip(loggers, saved):
        log.removeHandler(handler)
        log.setLevel(level)


def test_healthz_is_always_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_names_the_failing_check(client: FlaskClient) -> None:
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["failing"] == ["redis"]
    assert body["checks"] == {"database": "ok", "redis": "error: redis refused the connection"}


def test_readyz_is_ready_when_every_check_passes(client: FlaskClient, checks: FakeChecks) -> None:
    checks.redis_down = False
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def test_metrics_count_requests_by_route_and_report_jobs(client: FlaskClient) -> None:
    client.get("/episodes/5")
    client.get("/episodes/6")
    client.get("/no/such/page")
    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert 'http_requests_total{method="GET",route="/episodes/<int:episode_id>",status="200"} 2.0' in text
    assert 'http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in text
    assert "/no/such/page" not in text  # raw paths never become labels
    assert 'http_request_duration_seconds_count{route="/episodes/<int:episode_id>"} 2.0' in text
    assert 'jobs{queue="measure",state="queued"} 3.0' in text
    assert 'jobs{queue="notify",state="failed"} 1.0' in text


TOKEN = "scrape-token-0123456789"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong-token-0123456789", f"Basic {TOKEN}",
                                    f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"])
def test_metrics_with_a_token_refuse_a_missing_or_wrong_bearer(checks: FakeChecks, header: str | None) -> None:
    client = build_app(checks, metrics_token=TOKEN).test_client()
    response = client.get("/metrics", headers={"Authorization": header} if header is not None else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "http_requests_total" not in response.get_data(as_text=True)


def test_metrics_with_a_token_answer_the_bearer(checks: FakeChecks) -> None:
    client = build_app(checks, metrics_token=TOKEN).test_client()
    for scheme in ("Bearer", "bearer"):
        response = client.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert response.status_code == 200 and "http_requests_total" in response.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200  # the probes stay open


def test_metrics_without_a_token_stay_open(client: FlaskClient) -> None:
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 200


def test_bearer_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import api.observability as module

    compared = []
    monkeypatch.setattr(module.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or a == b)
    assert module.bearer_matches(f"Bearer {TOKEN}", TOKEN)
    assert compared == [(TOKEN.encode(), TOKEN.encode())]


def test_failing_view_is_counted_and_gets_a_request_id(checks: FakeChecks) -> None:
    app = build_app(checks)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: Flask answers 500 instead of raising
    client = app.test_client()
    response = client.get("/broken", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-500"
    text = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{method="GET",route="/broken",status="500"} 1.0' in text


def test_metrics_survive_job_counts_failing(checks: FakeChecks, caplog: pytest.LogCaptureFixture) -> None:
    def redis_down() -> dict[tuple[str, str], int]:
        raise ConnectionError("redis is down")

    client = build_app(checks, job_counts=redis_down).test_client()
    with caplog.at_level(logging.WARNING, logger="services.observability"):
        response = client.get("/metrics")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "http_requests_total" in text
    assert "jobs{" not in text
    assert any("job counts unavailable" in r.getMessage() for r in caplog.records)


def test_each_app_has_its_own_metrics(checks: FakeChecks) -> None:
    first, second = build_app(checks).test_client(), build_app(checks).test_client()
    first.get("/healthz")
    assert 'route="/healthz"' not in second.get("/readyz").get_data(as_text=True)


def test_request_id_is_propagated_when_given(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc_DEF"})
    assert response.headers["X-Request-ID"] == "lb-1234.abc_DEF"


@pytest.mark.parametrize("given", [None, "", "has spaces", "x" * 129, "inject\"quote", "é"])
def test_request_id_is_generated_when_missing_or_unsafe(client: FlaskClient, given: str | None) -> None:
    headers = {} if given is None else {"X-Request-ID": given}
    response = client.get("/healthz", headers=headers)
    request_id = response.headers["X-Request-ID"]
    assert request_id != given
    assert len(request_id) == 32 and int(request_id, 16) >= 0


def test_one_json_line_per_request_with_ids(client: FlaskClient, log_lines: Callable[[], list[dict]]) -> None:
    client.get("/episodes/5", headers={"X-Request-ID": "req-1"})
    viewed, request_line = log_lines()
    assert viewed["message"] == "episode viewed"
    assert viewed["episode_id"] == 5
    assert (viewed["request_id"], viewed["tenant_id"], viewed["user_id"]) == ("req-1", 7, 42)
    assert request_line["message"] == "request"
    assert request_line["level"] == "INFO"
    assert request_line["logger"] == "api.observability"
    assert request_line["ts"].endswith("+00:00")
    assert request_line["request_id"] == "req-1"
    assert (request_line["tenant_id"], request_line["user_id"]) == (7, 42)
    assert request_line["method"] == "GET"
    assert request_line["path"] == "/episodes/5"
    assert request_line["status"] == 200
    assert isinstance(request_line["duration_ms"], float)


def test_context_is_reset_after_each_request(client: FlaskClient, log_lines: Callable[[], list[dict]]) -> None:
    client.get("/episodes/5")
    assert observability.current_context() == {"request_id": None, "tenant_id": None, "user_id": None}
    client.get("/readyz")
    last = log_lines()[-1]
    assert last["tenant_id"] is None and last["user_id"] is None and last["request_id"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/assets/style.css",
                                  "/_dash-component-suites/dash/deps/react.js"])
def test_probes_and_assets_log_at_debug(client: FlaskClient, log_lines: Callable[[], list[dict]], path: str) -> None:
    client.get(path)
    assert [line["level"] for line in log_lines() if line["message"] == "request"] == ["DEBUG"]


def test_json_formatter_nulls_unset_ids_and_formats_exceptions() -> None:
    try:
        raise ValueError("bad feed")
    except ValueError:
        record = logging.LogRecord("feeds", logging.ERROR, __file__, 1, "import %s failed", ("rss",), sys.exc_info())
    record.feed_id = 9
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "import rss failed"
    assert line["level"] == "ERROR"
    assert (line["request_id"], line["tenant_id"], line["user_id"]) == (None, None, None)
    assert line["feed_id"] == 9
    assert "ValueError: bad feed" in line["exc_info"]
    assert "args" not in line and "msg" not in line


def test_configure_logging_installs_one_json_handler() -> None:
    root, werkzeug = logging.getLogger(), logging.getLogger("werkzeug")
    saved_handlers, saved_level, saved_werkzeug = list(root.handlers), root.level, werkzeug.level
    console = logging.StreamHandler(sys.stderr)
    root.addHandler(console)
    try:
        configure_logging("info")
        configure_logging("debug")
        json_handlers = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
        assert len(json_handlers) == 1
        assert console not in root.handlers
        assert root.level == logging.DEBUG
        assert werkzeug.level == logging.WARNING
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        werkzeug.setLevel(saved_werkzeug)
