"""Problem documents (RFC 9457, application/problem+json) for every answer under /api that is an error: service
errors, unknown paths and methods, rate limits, and any unexpected exception (logged, never shown)."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from services.errors import AuthenticationFailed, ServiceError, ValidationError

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
TITLES = {404: "NotFound", 405: "MethodNotAllowed", 429: "TooManyRequests", 500: "InternalServerError"}


def problem(status: int, title: str, detail: str, **extra):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def service_problem(exc: ServiceError):
    extra = {"errors": exc.fields} if isinstance(exc, ValidationError) else {}
    response = problem(exc.status, type(exc).__name__, exc.message, **extra)
    if isinstance(exc, AuthenticationFailed):
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _is_api() -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def http_problem(exc: HTTPException):
    if not _is_api():
        return exc
    status = exc.code or 500
    title = TITLES.get(status) or type(exc).__name__
    detail = {404: "no such resource", 405: f"{request.method} is not allowed here"}.get(status) or exc.description
    response = problem(status, title, detail or title)
    for name in ("Allow", "Retry-After"):
        value = exc.get_response().headers.get(name)
        if value:
            response.headers[name] = value
    return response


def unexpected_problem(exc: Exception):
    if isinstance(exc, HTTPException):
        return http_problem(exc)
    if isinstance(exc, ServiceError) and _is_api():
        return service_problem(exc)
    if not _is_api():
        raise exc
    logger.exception("unexpected error answering %s %s", request.method, request.path)
    return problem(500, "InternalServerError", "the server failed to answer; the error is logged")


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
bp = Blueprint("api_unknown", __name__)


@bp.route("/api/<path:rest>", methods=list(METHODS))
def unknown_api_path(rest: str):
    """The Dash pages' catch-all would answer an unknown /api path with the app's HTML: answer 404 (or 405 where
    another method exists) instead."""
    adapter = request.url_rule.map.bind_to_environ(request.environ)
    allowed = set()
    for method in METHODS:
        try:
            rule, _ = adapter.match(request.path, method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.endpoint != request.endpoint:
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed | {"HEAD", "OPTIONS"} if "GET" in allowed else allowed))
    raise NotFound()


def init_problems(server: Flask) -> None:
    server.register_blueprint(bp)
    server.register_error_handler(HTTPException, http_problem)
    server.register_error_handler(Exception, unexpected_problem)
