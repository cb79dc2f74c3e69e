"""Request ids, one JSON log line per request, request metrics, and the /healthz, /readyz and /metrics routes."""
from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, g, has_app_context, jsonify, request

from services import observability
from services.observability import Identity, Metrics

logger = logging.getLogger(__name__)

bp = Blueprint("observability", __name__)
EXTENSION = "observability"
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Probes, scrapes and static files would drown the request log at INFO.
QUIET_PATHS = ("/healthz", "/readyz", "/metrics")
QUIET_PREFIXES = ("/assets/", "/_dash-component-suites/", "/e/")  # /e/: prefix hits, counted not logged
UNMATCHED_ROUTE = "<unmatched>"
_MAX_CHECK_MESSAGE = 200

ReadinessCheck = Callable[[], None]


@dataclass
class Observability:
    metrics: Metrics
    readiness_checks: dict[str, ReadinessCheck]
    metrics_token: str | None = None


def init_observability(server: Flask, *, metrics: Metrics, readiness_checks: dict[str, ReadinessCheck],
                       metrics_token: str | None = None) -> None:
    """Wire request ids, request logs and metrics into `server` and register the health routes. With
    `metrics_token`, /metrics answers only a request bearing it."""
    server.extensions[EXTENSION] = Observability(metrics, dict(readiness_checks), metrics_token)
    # First in, so the id is bound before any other hook (auth) logs; first registered after_request runs
    # last, so it sees the final status.
    server.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    server.after_request_funcs.setdefault(None, []).insert(0, _finish_request)
    server.teardown_request(_end_request)
    server.register_blueprint(bp)


def bind_identity(tenant_id: Identity, user_id: Identity) -> None:
    """Called by the auth layer once it knows who is asking: later log lines carry these ids."""
    observability.bind(tenant_id=tenant_id, user_id=user_id)
    if has_app_context():
        g.tenant_id, g.user_id = tenant_id, user_id


def start_request(given: str | None) -> str:
    """The request's id (the caller's X-Request-ID when sane, else a new one), bound to the log context."""
    request_id = given if given and _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    observability.bind_request(request_id)
    return request_id


def finish_request(state: Observability, method: str, route: str, path: str, status: int, seconds: float) -> None:
    """Count the request in the metrics and write its log line (DEBUG for the quiet paths, else INFO)."""
    state.metrics.observe_request(method, route, status, seconds)
    level = logging.DEBUG if path in QUIET_PATHS or path.startswith(QUIET_PREFIXES) else logging.INFO
    if logger.isEnabledFor(level):  # the line's fields cost more than the check
        logger.log(level, "request", extra={"method": method, "path": path, "route": route, "status": status,
                                            "duration_ms": round(seconds * 1000, 2)})


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = start_request(request.headers.get(REQUEST_ID_HEADER))


def _finish_request(response: Response) -> Response:
    if "request_id" not in g:  # a hook ahead of ours answered early; still give the response an id
        _start_request()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    seconds = time.perf_counter() - g.request_started
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    finish_request(current_app.extensions[EXTENSION], request.method, route, request.path, response.status_code,
                   seconds)
    return response


def _end_request(_exc: BaseException | None) -> None:
    observability.clear_context()


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. No I/O, so a slow database never gets a live process restarted."""
    return _no_store(jsonify(status="ok"))


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: every dependency check passes, or 503 naming the ones that fail."""
    state: Observability = current_app.extensions[EXTENSION]
    checks: dict[str, str] = {}
    for name, check in state.readiness_checks.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", never a 500
            logger.warning("readiness check %s failed", name, exc_info=True)
            checks[name] = f"error: {str(exc) or type(exc).__name__}"[:_MAX_CHECK_MESSAGE]
    failing = [name for name, result in checks.items() if result != "ok"]
    if failing:
        return _no_store(jsonify(status="unavailable", checks=checks, failing=failing)), 503
    return _no_store(jsonify(status="ready", checks=checks)), 200


def bearer_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time (the time taken tells nothing of the token)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@bp.get("/metrics")
def metrics() -> Response:
    state: Observability = current_app.extensions[EXTENSION]
    if state.metrics_token and not bearer_matches(request.headers.get("Authorization"), state.metrics_token):
        response = Response("metrics need Authorization: Bearer <METRICS_TOKEN>\n", status=401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return _no_store(response)
    body, content_type = state.metrics.render()
    return Response(body, content_type=content_type)
